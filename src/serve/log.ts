/** Structured logs of `lifeline serve`: one JSON object a line on stderr (no secrets: names, users, verdicts). */
import { redactValue, secrets } from "../core/redact.js";

export type LogLevel = "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  return {
    log(level, event, fields = {}) {
      const entry = {
        time: new Date().toISOString(),
        level,
        event,
        ...(redactValue(secrets, fields) as object),
      };
      write(`${JSON.stringify(entry)}\n`);
    },
  };
}
