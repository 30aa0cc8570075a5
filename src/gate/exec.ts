import { spawn } from "node:child_process";
import { LifelineError } from "../core/errors.js";

/**
 * Runs an approved kubectl/helm command as a child process with the user's environment, its output
 * streamed (to stderr when lifeline's own stdout carries JSON), and resolves to its exit code.
 * Ctrl-C reaches the child through the terminal; an abort also signals it.
 */
export function runChild(
  argv: readonly string[],
  options: { output: "stdout" | "stderr"; signal: AbortSignal; env?: NodeJS.ProcessEnv },
): Promise<{ exitCode: number }> {
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
      resolve({
        exitCode: code ?? (signal ? 128 + (signal === "SIGINT" ? 2 : signal === "SIGKILL" ? 9 : 15) : 1),
      });
    });
  });
}
