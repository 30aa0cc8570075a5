import type { Command } from "commander";
import type { GlobalOptions } from "./wiring.js";

/** What every command gets from main.ts: its options, Ctrl-C, and the exit code it chooses. */
export interface CliEnv {
  /** The command's options with the global ones (--config); notes --json for error reporting. */
  globals(command: Command): GlobalOptions & { json?: boolean };
  /** Aborted on Ctrl-C (SIGINT, SIGTERM, SIGHUP): the work stops, cleanup runs. */
  signal: AbortSignal;
  /** The exit code the command chose (0 unless it sets one). */
  setExit(code: number): void;
}
