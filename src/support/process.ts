import { spawn, type SpawnOptions } from "node:child_process";
import os from "node:os";
import { LifelineError, interrupted, type ErrorCode } from "../core/errors.js";
import { secrets } from "../core/redact.js";

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** Collect stdout (default: discard). */
  captureStdout?: boolean;
  /** Error code for the LifelineError thrown on failure. */
  errorCode?: ErrorCode;
  /** What the command was for, e.g. "pg_dump of shop". */
  purpose?: string;
  /**
   * Sees each line of stderr as it comes (progress); returns true for a line that is only
   * progress, which is then left out of the error's tail.
   */
  onStderrLine?: (line: string) => boolean;
  /**
   * A long-running tool (pg_restore, pg_dump) must not outlive lifeline: a watchdog process holds a
   * pipe from lifeline and, when lifeline dies (even SIGKILL: the pipe closes), ends the tool
   * (SIGTERM, then SIGKILL after 5 s).
   */
  dieWithParent?: boolean;
}

/**
 * The watchdog of RunOptions.dieWithParent: reads its stdin (a pipe only lifeline holds) until it
 * closes, then ends the process given as argument. Killed by lifeline once the tool has ended.
 */
const WATCHDOG = `
const pid = Number(process.argv[1]);
const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
const end = () => {
  try { process.kill(pid, "SIGTERM"); } catch { process.exit(0); }
  const until = Date.now() + 5000;
  const timer = setInterval(() => {
    if (!alive()) process.exit(0);
    if (Date.now() > until) { try { process.kill(pid, "SIGKILL"); } catch {} process.exit(0); }
  }, 50);
};
process.stdin.on("data", () => undefined);
process.stdin.on("end", end);
process.stdin.on("error", end);
`;

/** Starts the watchdog of `pid` (see RunOptions.dieWithParent); null when it cannot start. */
export function watchOver(pid: number | undefined): { stop(): void } | null {
  if (pid === undefined) return null;
  try {
    const dog = spawn(process.execPath, ["-e", WATCHDOG, String(pid)], {
      stdio: ["pipe", "ignore", "ignore"],
      // Its own process group: a terminal's Ctrl-C reaches the tool itself; lifeline ends the dog.
      detached: true,
    });
    dog.on("error", () => undefined);
    dog.stdin?.on("error", () => undefined);
    // It must not keep lifeline running: only its pipe matters, and lifeline kills it when done.
    dog.unref();
    (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return { stop: () => void dog.kill("SIGKILL") };
  } catch {
    return null;
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const STDERR_TAIL_LINES = 12;

/** How a child ended, decoded as shells do: its exit code, or 128 + the number of the signal that killed it. */
export interface ChildExit {
  exitCode: number;
  /** The signal that killed it (e.g. "SIGHUP"), for messages; null when it exited. */
  signal: NodeJS.Signals | null;
}

export function decodeExit(code: number | null, signal: NodeJS.Signals | null): ChildExit {
  if (code !== null) return { exitCode: code, signal: null };
  if (signal === null) return { exitCode: 1, signal: null };
  const number = (os.constants.signals as Record<string, number | undefined>)[signal];
  return { exitCode: number === undefined ? 1 : 128 + number, signal };
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Runs a tool to completion. On failure the error shows the command (secrets redacted), the tail
 * of its stderr and the decoded exit code or signal. Aborting kills the child and throws
 * INTERRUPTED.
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(interrupted());
      return;
    }
    const spawnOptions: SpawnOptions = {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: ["ignore", options.captureStdout ? "pipe" : "ignore", "pipe"],
    };
    if (options.uid !== undefined) spawnOptions.uid = options.uid;
    if (options.gid !== undefined) spawnOptions.gid = options.gid;
    const child = spawn(command, [...args], spawnOptions);
    const dog = options.dieWithParent ? watchOver(child.pid) : null;
    child.on("close", () => dog?.stop());
    const stdout: Buffer[] = [];
    let stderr = "";
    let partial = "";
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => {
      let text = chunk.toString("utf8");
      if (options.onStderrLine) {
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        text = lines
          .filter((line) => !options.onStderrLine?.(line))
          .map((line) => line + "\n")
          .join("");
      }
      stderr += text;
      if (stderr.length > 64_000) stderr = stderr.slice(-32_000);
    });
    const onAbort = () => child.kill("SIGTERM");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (error: NodeJS.ErrnoException) => {
      options.signal?.removeEventListener("abort", onAbort);
      reject(
        new LifelineError({
          code: error.code === "ENOENT" ? "TOOL_NOT_FOUND" : (options.errorCode ?? "TOOL_FAILED"),
          kind: "runtime",
          message:
            error.code === "ENOENT"
              ? `${command} was not found`
              : `${command} could not be started: ${secrets.redact(error.message)}`,
          fix:
            error.code === "ENOENT"
              ? "install the PostgreSQL client tools (e.g. apt-get install postgresql-client) or set `tools.pgBin` in lifeline.yaml / LIFELINE_PG_BIN to the directory that holds them"
              : undefined,
        }),
      );
    });
    child.on("close", (code, signal) => {
      options.signal?.removeEventListener("abort", onAbort);
      if (partial !== "") stderr += partial;
      if (options.signal?.aborted) {
        reject(interrupted());
        return;
      }
      if (code === 0) {
        resolve({ stdout: Buffer.concat(stdout).toString("utf8"), stderr });
        return;
      }
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const shown = [command, ...args].map((a) => secrets.redact(a)).join(" ");
      reject(
        new LifelineError({
          code: options.errorCode ?? "TOOL_FAILED",
          kind: "runtime",
          message: `${options.purpose ? options.purpose + ": " : ""}${shortName(command)} ${how}`,
          details: [
            `command: ${shown}`,
            ...tail(secrets.redact(stderr), STDERR_TAIL_LINES).split("\n").filter(Boolean),
          ],
        }),
      );
    });
  });
}

function shortName(command: string): string {
  return command.split("/").pop() ?? command;
}

/**
 * Runs an approved kubectl/helm command as a child process with the user's environment, its output
 * streamed (to stderr when lifeline's own stdout carries JSON), and resolves to its exit code.
 * Ctrl-C reaches the child through the terminal; an abort also signals it.
 */
export function runChild(
  argv: readonly string[],
  options: { output: "stdout" | "stderr"; signal: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<ChildExit> {
  const [program, ...args] = argv;
  if (!program) {
    return Promise.reject(
      new LifelineError({
        code: "USAGE",
        kind: "usage",
        message: "no command to run",
        fix: "lifeline run -- kubectl …",
      }),
    );
  }
  if (options.signal.aborted) {
    return Promise.reject(
      new LifelineError({
        code: "INTERRUPTED",
        kind: "interrupted",
        message: "interrupted before the command started: nothing was run",
      }),
    );
  }
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      stdio: ["inherit", options.output === "stdout" ? "inherit" : process.stderr, "inherit"],
      env: options.env ?? process.env,
    });
    const onAbort = () => child.kill("SIGTERM");
    options.signal.addEventListener("abort", onAbort, { once: true });
    child.on("error", (error: NodeJS.ErrnoException) => {
      options.signal.removeEventListener("abort", onAbort);
      reject(
        new LifelineError({
          code: "COMMAND_NOT_FOUND",
          kind: "runtime",
          message:
            error.code === "ENOENT"
              ? `${program} was not found on PATH: nothing was run`
              : `${program} could not be started: ${error.message}`,
          fix: `install ${program} or put it on PATH, then run again (the plan and its approvals stay valid while nothing changes)`,
        }),
      );
    });
    child.on("close", (code, signal) => {
      options.signal.removeEventListener("abort", onAbort);
      resolve(decodeExit(code, signal));
    });
  });
}
