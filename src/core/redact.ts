/**
 * The one redaction engine. Secrets (passwords in connection URLs, tokens, secret-named values)
 * must never reach output, logs, files, webhooks or errors. Everything shown or stored is masked
 * with the same marker, MASK, by the same rules:
 * - passwords in URLs (`scheme://user:PASSWORD@host`, `?password=`), see maskUrls;
 * - values of secret-named keys: `PGPASSWORD=x`, `--password=x`, `auth.token=x` (maskKeyValue),
 *   `"password": "x"` and `password: x` in JSON/YAML documents (maskDocument);
 * - every secret value the process has learnt (the Redactor below, for free text).
 * A Masker decides what a hidden value becomes (MASK, or a keyed digest for a canonical form that
 * must tell two secrets apart without showing either) and remembers what it hid.
 */

export const MASK = "*****";

/** A digest of a secret: the caller's keyed hash, so that a canonical form binds the value. */
export type SecretDigest = (secret: string) => string;

/**
 * Replaces secrets by MASK, or by their digest when one is given, and records what it replaced in
 * `hidden` (with `alsoHidden`, other spellings of the same value), so that a message quoting them
 * can be masked exactly as the text is.
 */
export class Masker {
  readonly hidden: string[] = [];
  /** What hide returned: a value two rules both match is hidden once, not as a digest of its digest. */
  private readonly outputs = new Set<string>();
  constructor(private readonly digest: SecretDigest | null = null) {}
  hide(secret: string, ...alsoHidden: string[]): string {
    if (this.outputs.has(secret)) return secret;
    this.hidden.push(secret, ...alsoHidden);
    const out = this.digest ? this.digest(secret) : MASK;
    this.outputs.add(out);
    return out;
  }
}

/**
 * A key that may name a secret: a deliberately broad match anywhere in the key (`rootPwd`,
 * `adminPass`, `auth.username`, `tls.key`, `jwtSalt`). Masking a value that was not secret only
 * costs some precision; missing a secret leaks it.
 */
export const SECRET_KEY =
  /pass|pwd|secret|token|key|cred|auth|cert|crt|private|salt|jwt|hmac|signing|dsn|conn(?:ection)?[-_.]?str|cookie|session/i;

/** A narrower match, for flag names: `--password`, `--kube-token`, `--api-key`. */
export const SECRET_NAME = /pass|pwd|token|secret|credential|api-?key/i;

/**
 * Keys of free text (messages, logs, SQL) whose value is masked: names that END in a secret word
 * (`PGPASSWORD`, `--password`, `DB_TOKEN`, `api_key`), not merely contain one (`password_hash`).
 */
const SECRET_ASSIGNMENT = /(?:pass(?:word)?|passwd|pwd|token|secret|credentials?|api[-_]?key)$/i;

// ───────────────────────────── URLs ─────────────────────────────

// The userinfo ends at the last "@" before the host (as WHATWG URL and node-postgres parse it), so a
// raw "@" in the user name (Azure's user@server) or the password stays inside the masked part.
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s]*:)([^\s/]*)@/gi;
// A string that is one URL may have a password free text cannot delimit. If it parses, its userinfo
// is what the parser (and node-postgres) takes: up to the last "@" before "/", "?" or "#", a space
// included. If it does not (a raw "#", "?" or "/" in the password; the URL is then shown in an error),
// the password runs to the last "@" at all.
const PARSED_URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/?#\s]*:)([^/?#]*)@/i;
const UNPARSED_URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^:/?#\s]*:)(.*)@/i;
/** ?password=… and ?sslpassword=… query parameters, which libpq and node-postgres accept too. */
const PASSWORD_PARAM = /([?&](?:ssl)?password=)([^&#\s]*)/gi;
/** An ${ENV_VAR} reference is not a secret: it tells the reader where the password comes from. */
const ENV_REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$/;

function urlPassword(m: Masker, references: boolean): (match: string, head: string, pw: string) => string {
  return (_match, head, pw) =>
    pw === "" || (references && ENV_REFERENCE.test(pw)) ? `${head}${pw}@` : `${head}${m.hide(pw)}@`;
}

function maskPasswordParams(text: string, m: Masker): string {
  return text.replace(PASSWORD_PARAM, (_m, head: string, pw: string) => `${head}${m.hide(pw)}`);
}

/**
 * Passwords in URLs: in `text` as one value (a command-line argument, a --set value, a configured
 * URL) when it starts with one, else anywhere in it as free text; and ?password= parameters.
 * `references`: whether a `${VAR}` password is shown, as lifeline.yaml's own interpolation syntax
 * (it names where the password comes from); in a command line it is the tool's literal text, masked.
 */
export function maskUrls(text: string, m: Masker = new Masker(), references = false): string {
  const whole = URL.canParse(text) ? PARSED_URL_PASSWORD : UNPARSED_URL_PASSWORD;
  const masked = whole.test(text)
    ? text.replace(whole, urlPassword(m, references))
    : text.replace(URL_PASSWORD, urlPassword(m, references));
  return maskPasswordParams(masked, m);
}

/** Removes the password from a connection URL, keeping everything else readable. */
export function redactUrl(url: string): string {
  return maskUrls(url, new Masker(), true);
}

/**
 * The connection URL without any password (user info and ?password= / ?sslpassword= parameters),
 * masked or not: what names the same database whatever password, if any, it was given with. For
 * comparing and keying; what is shown is redactUrl's.
 */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = "";
    parsed.searchParams.delete("password");
    parsed.searchParams.delete("sslpassword");
    return parsed.toString();
  } catch {
    return url;
  }
}

/** URL passwords in free text (a message, a shell command): the URL does not span the whole text. */
function maskUrlsInText(text: string, m: Masker): string {
  return maskPasswordParams(text.replace(URL_PASSWORD, urlPassword(m, true)), m);
}

// ───────────────────────────── keys and documents ─────────────────────────────

/**
 * `KEY=VALUE` anywhere in a text (at its start or after a blank, quote or shell operator): the value
 * ends at the next blank or quote, or is one quoted string, so that the rest of a shell command
 * (`sh -c "PGPASSWORD=x rm -rf /data"`) stays readable and keeps its identity.
 */
const KEY_VALUE = /(^|[\s'"`;&|()])([^=\s'"`;&|()]+)=("[^"]*"?|'[^']*'?|[^\s'"]*)/g;

/** `PGPASSWORD=x`, `auth.password=x`: the value of a key `names` calls secret, wherever it is. */
export function maskKeyValue(text: string, m: Masker = new Masker(), names: RegExp = SECRET_KEY): string {
  return text.replace(KEY_VALUE, (whole, lead: string, key: string, value: string) => {
    if (value === "" || value === '"' || value === "'" || !names.test(key)) return whole;
    const unquoted = value.replace(/^(["'])(.*?)\1?$/s, "$2");
    return `${lead}${key}=${m.hide(value, unquoted)}`;
  });
}

/** JSON / YAML-ish documents (a patch body): the values of secret-named keys. */
export function maskDocument(body: string, m: Masker = new Masker()): string {
  return body
    .replace(
      /("((?:[^"\\]|\\.)*)"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,{}[\]\s"]+)/g,
      (whole, head: string, key: string, value: string) => {
        if (!SECRET_KEY.test(key)) return whole;
        return `${head}${JSON.stringify(m.hide(value, value.replace(/^"|"$/g, "")))}`;
      },
    )
    .replace(
      /(^|[\n{,]\s*)([A-Za-z0-9_.-]+)(\s*:\s+)([^\n,}]+)/g,
      (whole, lead: string, key: string, sep: string, value: string) => {
        if (!SECRET_KEY.test(key)) return whole;
        return `${lead}${key}${sep}${m.hide(value)}`;
      },
    );
}

/** Every string in a JSON value, for masking messages that quote them. */
function jsonStrings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(jsonStrings);
  if (v !== null && typeof v === "object")
    return Object.values(v as Record<string, unknown>).flatMap(jsonStrings);
  return [];
}

/** A parsed JSON value with the values of secret-named keys (at any depth) masked. */
export function maskJsonValue(v: unknown, m: Masker): unknown {
  if (Array.isArray(v)) return v.map((x) => maskJsonValue(x, m));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) =>
        SECRET_KEY.test(k) ? [k, m.hide(JSON.stringify(x), ...jsonStrings(x))] : [k, maskJsonValue(x, m)],
      ),
    );
  return v;
}

// ───────────────────────────── free text ─────────────────────────────

/** libpq keyword strings and SQL: `password=x`, `password = 'a b'`. */
// An unquoted value ends at a blank or a quote (a conninfo inside a SQL literal: 'password=x'); a
// quoted one that is never closed runs to the end of the text rather than showing its tail.
const KEYWORD_PASSWORD = /(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*(?:'|$)|[^\s'"\\]+)/gi;
/** SQL password literals (`ALTER ROLE x PASSWORD 'y'`, `ENCRYPTED PASSWORD $$y$$`), parsed or not. */
// An unterminated literal (SQL the parser rejects) is masked to the end of the text.
const SQL_PASSWORD = /(\bpassword\s+)('(?:[^']|'')*(?:'|$)|\$\$[\s\S]*?(?:\$\$|$))/gi;

export class Redactor {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined | null): void {
    // Very short values would mangle ordinary words; they are still masked inside URLs below.
    if (secret && secret.length >= 3) this.secrets.add(secret);
  }

  /**
   * Free text with URL passwords, `password=`/`PGPASSWORD=`-like values, SQL password literals and
   * every known secret masked.
   */
  redact(text: string): string {
    let out = text;
    // Each pattern below needs an "@" (URL passwords), an "=" (key=value) or the word password
    // (keyword and SQL passwords, ?password=): a text with none of them is left as it is (most of a
    // JSON document's values: names, ids, times), only the known secrets are looked for.
    if (out.includes("@") || out.includes("=") || /password/i.test(out)) {
      const m = new Masker();
      out = maskUrlsInText(out, m);
      out = out.replace(KEYWORD_PASSWORD, (_m, head: string) => `${head}${MASK}`);
      out = out.replace(SQL_PASSWORD, (_m, head: string) => `${head}'${MASK}'`);
      out = maskKeyValue(out, m, SECRET_ASSIGNMENT);
    }
    // Longest first so a secret that contains another is masked whole.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      out = out.split(secret).join(MASK);
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) out = out.split(encoded).join(MASK);
    }
    return out;
  }
}

/** A JSON-like value (a plan document, a webhook event) with every string in it redacted. */
export function redactValue(r: Redactor, value: unknown): unknown {
  if (typeof value === "string") return r.redact(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(r, v));
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(r, v)]));
  return value;
}

/** The process-wide redactor: adapters register secrets as they learn them, the CLI redacts all output. */
export const secrets = new Redactor();
