import { secrets } from "../core/redact.js";
import type { Progress } from "../ports/engine.js";

/** Every byte lifeline prints passes the redactor: secrets never reach a terminal or a log. */
export function out(text: string): void {
  process.stdout.write(secrets.redact(text.endsWith("\n") ? text : text + "\n"));
}

export function err(text: string): void {
  process.stderr.write(secrets.redact(text.endsWith("\n") ? text : text + "\n"));
}

export function json(value: unknown): void {
  out(JSON.stringify(value, null, 2));
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
