import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { inRepo } from "./repo.js";

export const CLI = inRepo("dist/cli/main.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** "pipe": the caller writes standard input through child.stdin (default: /dev/null). */
  stdin?: "pipe" | "ignore";
}

let privateTmp: string | null = null;

/**
 * The TMPDIR of every CLI process this test file starts (node --test runs each file in its own
 * process): drills' scratch instances and the demo's folder land here, not in the shared /tmp, so a
 * test that looks for leftovers sees only its own and never another process's drill. Removed when
 * the test file's process exits.
 */
export function cliTmpDir(): string {
  if (privateTmp === null) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-e2e-tmp-"));
    // Like /tmp: the scratch PostgreSQL may run as another user (when the tests run as root).
    chmodSync(dir, 0o1777);
    privateTmp = dir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return privateTmp;
}

/** Runs the built CLI as a separate process, the way a user or a CI job does. */
export function startCli(
  args: readonly string[],
  options: CliOptions,
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: { ...process.env, LIFELINE_CONFIG: "", TMPDIR: cliTmpDir(), ...options.env },
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const done = new Promise<CliResult>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function cli(args: readonly string[], options: CliOptions): Promise<CliResult> {
  return startCli(args, options).done;
}
