/**
 * psql scripts: meta-commands (`\set`, `\connect`, `\i`, `\gexec` …) and variable interpolation
 * (`:var`, `:'var'`, `:"var"`) are psql's, not PostgreSQL's, so the SQL parser rejects a file that
 * holds them. They are split out here before parsing: every meta-command is blanked out of the text
 * byte for byte (so statement offsets and line numbers stay those of the file), and reported with
 * its line, so the classifier can plan the statements around them and say which lines it did not.
 */
import { blockCommentEnd } from "./bytes.js";
import { maskMeta } from "./secrets.js";

export interface MetaCommand {
  /** The command name without the backslash: "set", "connect", "i", "gexec", "!". */
  name: string;
  /** Its arguments as written (to the end of the line). */
  args: string;
  /** The whole meta-command as written. */
  text: string;
  /** Byte offset in the file, and its 1-based line. */
  offset: number;
  line: number;
  /** It sends the query buffer (\g, \gexec, \gset, \watch …): it ends a statement like `;`. */
  sends: boolean;
  /** Passwords written in it (a connection string, a \set of a password variable): masked in `text`. */
  secrets: string[];
}

export interface Interpolation {
  /** As written: `:var`, `:'var'`, `:"var"`. */
  text: string;
  offset: number;
  line: number;
}

export interface PsqlScript {
  /** The text with meta-commands blanked out (same length in bytes, same lines). */
  sql: string;
  /** The text with interpolations also replaced by placeholders of the same length, for parsing. */
  parseable: string;
  metas: MetaCommand[];
  interpolations: Interpolation[];
}

/** Meta-commands that send the query buffer, ending the statement before them. */
const SENDING = new Set(["g", "gx", "gexec", "gset", "gdesc", "watch", "crosstabview"]);

const QUOTE = 0x27;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const NEWLINE = 0x0a;

function isIdentStart(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80);
}

function isIdent(c: number | undefined): boolean {
  return isIdentStart(c) || (c !== undefined && c >= 0x30 && c <= 0x39);
}

/**
 * Finds the meta-commands and interpolations outside string literals, quoted identifiers, dollar
 * quotes and comments. Text without any is returned unchanged.
 */
export function splitPsql(text: string): PsqlScript {
  const bytes = Buffer.from(text, "utf8");
  const blanked = Buffer.from(bytes);
  const metas: MetaCommand[] = [];
  const interpolations: Interpolation[] = [];
  const placeholders: [number, Buffer][] = [];
  let line = 1;
  let brackets = 0;
  let i = 0;
  const lineOf = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (bytes[k] === NEWLINE) line++;
  };
  while (i < bytes.length) {
    const c = bytes[i];
    if (c === NEWLINE) {
      line++;
      i++;
      continue;
    }
    // -- comment to the end of the line
    if (c === 0x2d && bytes[i + 1] === 0x2d) {
      while (i < bytes.length && bytes[i] !== NEWLINE) i++;
      continue;
    }
    // /* nested comments */
    if (c === 0x2f && bytes[i + 1] === 0x2a) {
      const start = i;
      i = blockCommentEnd(bytes, i);
      lineOf(start, i);
      continue;
    }
    if (c === QUOTE) {
      const start = i;
      const escapes = i > 0 && (bytes[i - 1] === 0x45 || bytes[i - 1] === 0x65) && !isIdent(bytes[i - 2]);
      i++;
      while (i < bytes.length) {
        if (escapes && bytes[i] === BACKSLASH) i += 2;
        else if (bytes[i] === QUOTE) {
          if (bytes[i + 1] === QUOTE) i += 2;
          else break;
        } else i++;
      }
      i++;
      lineOf(start, Math.min(i, bytes.length));
      continue;
    }
    if (c === DQUOTE) {
      const start = i;
      i++;
      while (i < bytes.length) {
        if (bytes[i] === DQUOTE) {
          if (bytes[i + 1] === DQUOTE) i += 2;
          else break;
        } else i++;
      }
      i++;
      lineOf(start, Math.min(i, bytes.length));
      continue;
    }
    if (c === 0x24 && !isIdent(bytes[i - 1])) {
      const tag = /^\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$/.exec(
        bytes.subarray(i, Math.min(bytes.length, i + 64)).toString("latin1"),
      );
      if (tag) {
        const start = i;
        const close = bytes.indexOf(tag[0], i + tag[0].length, "latin1");
        i = close < 0 ? bytes.length : close + tag[0].length;
        lineOf(start, i);
        continue;
      }
    }
    if (c === 0x5b) brackets++;
    if (c === 0x5d && brackets > 0) brackets--;
    if (c === BACKSLASH) {
      // A meta-command: the backslash, its name and its arguments, to the end of the line.
      let end = i + 1;
      while (end < bytes.length && bytes[end] !== NEWLINE) end++;
      const whole = bytes.subarray(i, end).toString("utf8");
      const match = /^\\([A-Za-z][A-Za-z0-9_+]*|!|\?|;)?\s*([\s\S]*)$/.exec(whole);
      const name = match?.[1] ?? "";
      const sends = SENDING.has(name.toLowerCase());
      const masked = maskMeta(name, whole.trimEnd());
      metas.push({
        name,
        args: maskMeta(name, (match?.[2] ?? "").trim()).text,
        text: masked.text,
        offset: i,
        line,
        sends,
        secrets: masked.secrets,
      });
      blanked.fill(0x20, i, end);
      // Sending the buffer ends the statement, as `;` does.
      if (sends) blanked[i] = 0x3b;
      i = end;
      continue;
    }
    if (c === COLON && bytes[i - 1] !== COLON && bytes[i + 1] !== COLON) {
      const next = bytes[i + 1];
      let end = -1;
      let quote: number | null = null;
      if ((next === QUOTE || next === DQUOTE) && isIdentStart(bytes[i + 2])) {
        let k = i + 2;
        while (isIdent(bytes[k])) k++;
        if (bytes[k] === next) {
          end = k + 1;
          quote = next;
        }
      } else if (isIdentStart(next) && brackets === 0) {
        let k = i + 1;
        while (isIdent(bytes[k])) k++;
        end = k;
      }
      if (end > 0) {
        interpolations.push({ text: bytes.subarray(i, end).toString("utf8"), offset: i, line });
        const length = end - i;
        const placeholder =
          quote === null
            ? Buffer.from("x".repeat(length))
            : Buffer.from(
                `${String.fromCharCode(quote)}${"x".repeat(length - 2)}${String.fromCharCode(quote)}`,
              );
        placeholders.push([i, placeholder]);
        i = end;
        continue;
      }
    }
    i++;
  }
  if (metas.length === 0 && interpolations.length === 0)
    return { sql: text, parseable: text, metas, interpolations };
  const parseable = Buffer.from(blanked);
  for (const [at, placeholder] of placeholders) placeholder.copy(parseable, at);
  return { sql: blanked.toString("utf8"), parseable: parseable.toString("utf8"), metas, interpolations };
}

/** Meta-commands that change nothing in the database: formatting, output, variables, conditionals. */
const HARMLESS = new Set([
  "echo",
  "qecho",
  "warn",
  "timing",
  "set",
  "unset",
  "pset",
  "x",
  "a",
  "t",
  "h",
  "?",
  "conninfo",
  "encoding",
  "errverbose",
  "f",
  "C",
  "H",
  "T",
  "o",
  "out",
  "p",
  "print",
  "r",
  "reset",
  "w",
  "write",
  "prompt",
  "setenv",
  "getenv",
  "q",
  "quit",
  "if",
  "elif",
  "else",
  "endif",
  "g",
  "gx",
  "gset",
  "gdesc",
  "watch",
  "crosstabview",
  "bind",
  "d",
  "dt",
  "di",
  "dv",
  "df",
  "dn",
  "l",
  "list",
  "z",
  "dp",
  "lo_export",
  "lo_list",
  "sv",
  "sf",
  "ef",
  "ev",
  "copyright",
  "startpipeline",
  "endpipeline",
]);

export type MetaClass =
  | { kind: "none"; reason: string }
  | { kind: "copy"; sql: string }
  | { kind: "unknown"; reason: string; laterStatements: string | null };

/** What one meta-command does to the database, as far as a plan is concerned. */
export function classifyMeta(meta: MetaCommand): MetaClass {
  const name = meta.name;
  const at = `line ${meta.line}`;
  if (name === "copy") {
    // \copy runs COPY with a file on the client: FROM adds rows, TO reads; PROGRAM runs a command.
    if (/\bprogram\b/i.test(meta.args))
      return {
        kind: "unknown",
        reason: `${at}: \\copy … PROGRAM runs a shell command on the client`,
        laterStatements: null,
      };
    const sql = meta.args.replace(
      /\b(from|to)\s+('(?:[^']|'')*'|"(?:[^"]|"")*"|\S+)/i,
      (_m, direction: string) => `${direction} ${direction.toLowerCase() === "from" ? "STDIN" : "STDOUT"}`,
    );
    return { kind: "copy", sql: `COPY ${sql}` };
  }
  if (name === "c" || name === "connect")
    return {
      kind: "unknown",
      reason: `${at}: \\${name} ${meta.args} connects elsewhere (another database or user, or a fresh session): what follows is not planned against this database`,
      laterStatements: `\\${name} on ${at}`,
    };
  if (name === "i" || name === "ir" || name === "include" || name === "include_relative")
    return {
      kind: "unknown",
      reason: `${at}: \\${name} ${meta.args} runs a file lifeline has not seen`,
      laterStatements: `\\${name} on ${at} (a file lifeline has not seen)`,
    };
  if (name === "gexec")
    return {
      kind: "unknown",
      reason: `${at}: \\gexec runs every value the query returns as SQL; lifeline cannot tell which`,
      laterStatements: `\\gexec on ${at}`,
    };
  if (name === "!")
    return {
      kind: "unknown",
      reason: `${at}: \\! runs a shell command on the client`,
      laterStatements: null,
    };
  if (name === "lo_unlink")
    return {
      kind: "unknown",
      reason: `${at}: \\lo_unlink removes a large object and its data`,
      laterStatements: null,
    };
  if (name === "lo_import")
    return { kind: "none", reason: `${at}: \\lo_import adds a large object; changes no existing data` };
  if (HARMLESS.has(name) || /^d[A-Za-z+]*$/.test(name))
    return { kind: "none", reason: `${at}: psql \\${name} changes no data` };
  return {
    kind: "unknown",
    reason: `${at}: psql meta-command \\${name} is not one lifeline knows`,
    laterStatements: null,
  };
}
