/**
 * Secrets (passwords in connection URLs, tokens) must never reach output, logs, files or errors.
 * Two layers: URLs are stripped of their password before they are shown or stored, and every
 * string leaving the process passes through a Redactor that knows every secret value seen.
 */
// The userinfo ends at the last "@" before the host (as WHATWG URL and node-postgres parse it), so a
// raw "@" in the user name (Azure's user@server) or the password stays inside the masked part.
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s]*:)([^\s/]*)@/gi;
// A string that is one URL may have a password free text cannot delimit. If it parses, its userinfo
// is what the parser (and node-postgres) takes: up to the last "@" before "/", "?" or "#", a space
// included. If it does not (a raw "#", "?" or "/" in the password; the URL is then shown in an error),
// the password runs to the last "@" at all.
const PARSED_URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/?#\s]*:)([^/?#]*)@/i;
const UNPARSED_URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/?#\s]*:)(.*)@/i;
const KEYWORD_PASSWORD = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)/gi;

export const MASK = "*****";

/** Removes the password from a connection URL, keeping everything else readable. */
export function redactUrl(url: string): string {
  const whole = URL.canParse(url) ? PARSED_URL_PASSWORD : UNPARSED_URL_PASSWORD;
  const masked = whole.test(url) ? url.replace(whole, maskPassword) : url.replace(URL_PASSWORD, maskPassword);
  return masked.replace(PASSWORD_PARAM, (_m, head: string) => `${head}${MASK}`);
}

/** ?password=… and ?sslpassword=… query parameters, which libpq and node-postgres accept too. */
const PASSWORD_PARAM = /([?&](?:ssl)?password=)[^&#\s]*/gi;

/** An ${ENV_VAR} reference is not a secret: it tells the reader where the password comes from. */
function maskPassword(_match: string, head: string, pw: string): string {
  if (pw === "" || /^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/.test(pw)) return `${head}${pw}@`;
  return `${head}${MASK}@`;
}

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined | null): void {
    // Very short values would mangle ordinary words; they are still masked inside URLs below.
    if (secret && secret.length >= 3) this.secrets.add(secret);
  }

  redact(text: string): string {
    let out = text
      .replace(URL_PASSWORD, maskPassword)
      .replace(PASSWORD_PARAM, (_m, head: string) => `${head}${MASK}`);
    out = out.replace(KEYWORD_PASSWORD, (_m, head: string) => `${head}${MASK}`);
    // Longest first so a secret that contains another is masked whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join(MASK);
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) out = out.split(encoded).join(MASK);
    }
    return out;
  }
}

/** The process-wide redactor: adapters register secrets as they learn them, the CLI redacts all output. */
export const secrets = new Redactor();
