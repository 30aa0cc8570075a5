import { open } from "node:fs/promises";
import { LifelineError, interrupted } from "../core/errors.js";
import { redactValue, secrets } from "../core/redact.js";
import type { Progress } from "../ports/engine.js";

// C0 controls but newline and tab, DEL, C1 controls (U+009B is a CSI), and the bidi marks,
// embeddings, overrides and isolates.
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Text as it may reach a terminal: a control character (ESC starting a sequence that moves the
 * cursor or erases lines, a carriage return, a bidi override) is shown escaped (`\x1b`, `\r`,
 * `\u202e`) instead of acting. What lifeline prints quotes what others wrote (a plan's SQL, a
 * command, a comment, an id typed in): on the approver's terminal it must not hide or reorder what
 * is approved. Lifeline itself prints no control sequence.
 */
export function printable(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const code = c.charCodeAt(0);
    if (c === "\r") return "\\r";
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}

/** Every byte lifeline prints passes the redactor: secrets never reach a terminal or a log. */
export function out(text: string): void {
  process.stdout.write(printable(secrets.redact(text.endsWith("\n") ? text : text + "\n")));
}

export function err(text: string): void {
  process.stderr.write(printable(secrets.redact(text.endsWith("\n") ? text : text + "\n")));
}

/**
 * A JSON document is redacted value by value, then serialized: masking the serialized text as free
 * text could eat a closing quote (`'password=x')"`) and print a document no JSON reader accepts.
 */
export function json(value: unknown): void {
  process.stdout.write(JSON.stringify(redactValue(secrets, value), null, 2) + "\n");
}

/** Progress lines on stderr, only when a person is watching (stderr is a terminal). */
export function terminalProgress(label: string): Progress {
  const warn = (message: string) => err(`lifeline: warning: ${message}`);
  if (!process.stderr.isTTY) return { phase: () => undefined, warn };
  const started = performance.now();
  return {
    warn,
    phase(message: string) {
      const elapsed = ((performance.now() - started) / 1000).toFixed(1);
      err(`  [${elapsed.padStart(5)}s] ${label}: ${message}`);
    },
  };
}

/** "1 restore point", "2 restore points", "1,024 rows": a count and the word that goes with it. */
export function count(value: number, singular: string, plural = `${singular}s`): string {
  return `${value.toLocaleString("en-US")} ${value === 1 ? singular : plural}`;
}

export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - [...cell].length),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Whether a person can answer a question: standard input and standard error are terminals. */
export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/** Asks a yes/no question on the terminal; anything but y/yes is no. */
export async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** The largest SQL input lifeline reads (plan, run): 64 MiB unless LIFELINE_MAX_SQL_BYTES says otherwise. */
export const DEFAULT_MAX_SQL_BYTES = 64 * 1024 * 1024;

function maxSqlBytes(env: NodeJS.ProcessEnv): number {
  const raw = env.LIFELINE_MAX_SQL_BYTES;
  if (raw === undefined || raw === "") return DEFAULT_MAX_SQL_BYTES;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `LIFELINE_MAX_SQL_BYTES: "${raw}" is not a positive number of bytes`,
      fix: `unset it for the default (${DEFAULT_MAX_SQL_BYTES} bytes, 64 MiB) or set a whole number, e.g. LIFELINE_MAX_SQL_BYTES=${2 * DEFAULT_MAX_SQL_BYTES}`,
    });
  }
  return value;
}

function tooLarge(what: string, limit: number): LifelineError {
  return new LifelineError({
    code: "SQL_TOO_LARGE",
    kind: "usage",
    message: `${what} is larger than ${formatBytes(limit)} (${limit} bytes), the most lifeline reads`,
    fix: `split the SQL into smaller files, or raise the limit for this run: LIFELINE_MAX_SQL_BYTES=${limit * 2} lifeline …`,
  });
}

function formatBytes(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/**
 * The SQL to plan or run: --sql as given, or the file (- for standard input) read in chunks up to
 * a limit, so that /dev/zero or an endless pipe ends in a clear error and Ctrl-C/SIGTERM stop it.
 */
export async function readSql(
  input: { sql?: string | undefined; file?: string | undefined },
  signal: AbortSignal,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const limit = maxSqlBytes(env);
  if (input.sql !== undefined) {
    if (Buffer.byteLength(input.sql, "utf8") > limit) throw tooLarge("--sql", limit);
    return input.sql;
  }
  const file = input.file ?? "-";
  const what = file === "-" ? "standard input" : file;
  const cannotRead = (error: unknown) =>
    new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `cannot read ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      fix: "check the path of the SQL file",
    });
  const chunks: Buffer[] = [];
  let total = 0;
  if (file === "-") {
    process.stdin.on("error", () => undefined); // reported by the iterator below
    // A pipe that says nothing more still gives way to Ctrl-C/SIGTERM.
    const stop = () => process.stdin.destroy();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const chunk of process.stdin.iterator({ destroyOnReturn: true })) {
        if (signal.aborted) throw interrupted();
        const buffer = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : (chunk as Buffer);
        total += buffer.length;
        if (total > limit) throw tooLarge(what, limit);
        chunks.push(buffer);
      }
    } catch (error) {
      if (error instanceof LifelineError) throw error;
      if (signal.aborted) throw interrupted();
      throw cannotRead(error);
    } finally {
      signal.removeEventListener("abort", stop);
    }
    if (signal.aborted) throw interrupted();
    return Buffer.concat(chunks).toString("utf8");
  }
  let handle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    throw cannotRead(error);
  }
  try {
    const size = 1024 * 1024;
    for (;;) {
      if (signal.aborted) throw interrupted();
      const buffer = Buffer.allocUnsafe(Math.min(size, limit + 1 - total));
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, null));
      } catch (error) {
        throw cannotRead(error);
      }
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > limit) throw tooLarge(what, limit);
      chunks.push(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * A reader that goes away (`lifeline audit | head -3`) closes the pipe: what is left to print is
 * dropped and the command finishes as it would have, instead of failing on EPIPE with a stack trace.
 */
export function tolerateClosedOutput(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
}

/** Resolves once everything written to the stream so far has been handed to the operating system. */
export function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write("", () => resolve());
  });
}
