import { MASK, Masker, maskUrls, secrets } from "../../../core/redact.js";
import { child, isNode, str } from "./ast.js";
import { literalSpan } from "./bytes.js";

/**
 * Passwords written in SQL or in psql meta-commands never reach a plan: their literals are masked
 * with the redaction engine's marker, and their values are registered with the process-wide
 * redactor (src/core/redact.ts), which masks them wherever else they appear (output, logs, errors).
 */

/**
 * Passwords written in the SQL (ALTER ROLE … PASSWORD '…', USER MAPPING OPTIONS (password '…'),
 * connection strings with password=…): their values, and the byte spans of their literals.
 */
function findSecrets(
  tree: unknown,
  bytes: Buffer,
  limit: number,
): { values: string[]; spans: [number, number][] } {
  const values: string[] = [];
  const spans: [number, number][] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (!isNode(node)) return;
    const def = node.DefElem;
    if (isNode(def) && /password/i.test(str(def.defname) ?? "")) {
      const value =
        str(child(child(def.arg, "String"), "sval")) ??
        str(child(child(child(def.arg, "A_Const"), "sval"), "sval"));
      if (value !== undefined) {
        values.push(value);
        const location = typeof def.location === "number" ? def.location : -1;
        const span = location >= 0 ? literalSpan(bytes, location, limit) : null;
        if (span) spans.push(span);
      }
    }
    const constant = node.A_Const;
    if (isNode(constant)) {
      const value = str(child(constant.sval, "sval"));
      if (value !== undefined && /password\s*=/i.test(value)) {
        values.push(value);
        const match = /password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(value);
        if (match?.[1]) values.push(match[1].replace(/^'|'$/g, ""));
        const location = typeof constant.location === "number" ? constant.location : -1;
        const span = location >= 0 ? literalSpan(bytes, location, limit) : null;
        if (span) spans.push(span);
      }
    }
    for (const value of Object.values(node)) walk(value);
  };
  walk(tree);
  return { values, spans };
}

/** The statement's text with password literals masked; their values are registered as secrets. */
export function statementText(bytes: Buffer, start: number, end: number, tree: unknown): string {
  const { values, spans } = findSecrets(tree, bytes, end);
  for (const value of values) secrets.add(value);
  const parts: Buffer[] = [];
  let at = start;
  for (const [from, to] of spans.filter(([from]) => from >= start).sort((a, b) => a[0] - b[0])) {
    if (from < at) continue;
    parts.push(bytes.subarray(at, from), Buffer.from(`'${MASK}'`));
    at = to;
  }
  parts.push(bytes.subarray(at, end));
  let text = Buffer.concat(parts).toString("utf8").trim();
  for (const value of values.filter((v) => v.length > 0).sort((a, b) => b.length - a.length))
    text = text.split(value).join(MASK);
  return text;
}

/** PASSWORD '…' in text that could not be parsed. */
// Unparsed text may end inside the literal (`PASSWORD 'hunter2`): it is then masked to the end.
const PASSWORD_LITERAL = /(\bpassword\w*\s*(?:=\s*)?)('(?:[^']|'')*(?:'|$)|\$\$[\s\S]*?(?:\$\$|$))/gi;

/** Text the parser rejected, as shown in the plan: its start, password literals and known secrets masked. */
export function unparsedText(input: string): string {
  // The parser's own error message may quote the literal (`at or near "'hunter2"`): its value is
  // registered, so that every text showing it masks it.
  for (const match of input.matchAll(PASSWORD_LITERAL)) {
    secrets.add((match[2] ?? "").replace(/^'|'$/g, "").replace(/^\$\$|\$\$$/g, ""));
  }
  return secrets.redact(
    input
      .trim()
      .slice(0, 500)
      .replace(PASSWORD_LITERAL, (_m, head: string) => `${head}'${MASK}'`),
  );
}

/** Masks passwords in a psql meta-command: \c with a URI or password=…, \set of a password-like variable. */
export function maskMeta(name: string, text: string): { text: string; secrets: string[] } {
  const found: string[] = [];
  // A connection URL is one argument of the meta-command: the redaction engine reads it whole, so a
  // password with "@" in it is masked up to the last "@" before the host, as libpq reads it.
  const urls = new Masker();
  let out = text
    .split(/(\s+)/)
    .map((word) => (word.includes("://") ? maskUrls(word, urls) : word))
    .join("");
  found.push(...urls.hidden);
  out = out.replace(/(password\s*=\s*)('(?:[^']|'')*'|[^\s'"]+)/gi, (_m, head: string, secret: string) => {
    found.push(secret.replace(/^'|'$/g, ""));
    return `${head}${MASK}`;
  });
  if (name === "set") {
    out = out.replace(
      /^((?:\\set\s+)?\S*(?:pass|pwd|secret|token|key)\S*\s+)(.+)$/i,
      (_m, head: string, secret: string) => {
        found.push(secret.trim().replace(/^'|'$/g, ""));
        return `${head}${MASK}`;
      },
    );
  }
  return { text: out, secrets: found };
}

/** The parser's message about text it rejected, with what unparsedText found masked. */
export function unparsedReason(message: string): string {
  return secrets.redact(message);
}
