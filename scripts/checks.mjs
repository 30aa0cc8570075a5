// The static checks of `npm test`, two at a time (the machines have 2 cores): type check, lint
// (with the import-cycle check) and format check. Each one's output is printed when it ends, under
// its name; the exit code is 1 when any of them failed.
import { spawn } from "node:child_process";
import process from "node:process";

const CHECKS = [
  ["typecheck", "npx", ["tsc", "-p", "tsconfig.json", "--noEmit"]],
  ["lint", "npx", ["eslint", "."]],
  ["import cycles", "node", ["scripts/check-cycles.mjs"]],
  ["format check", "npx", ["prettier", "--check", "."]],
];

function runCheck([name, command, args]) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (error) => resolve({ name, ok: false, output: `${output}${error.message}\n`, ms: 0 }));
    child.on("close", (code) => resolve({ name, ok: code === 0, output, ms: Date.now() - started }));
  });
}

const queue = [...CHECKS];
const results = [];
await Promise.all(
  [0, 1].map(async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const result = await runCheck(next);
      results.push(result);
      process.stdout.write(
        `== ${result.name}: ${result.ok ? "ok" : "FAILED"} (${(result.ms / 1000).toFixed(1)}s)\n${result.ok ? "" : result.output}`,
      );
    }
  }),
);
process.exitCode = results.every((r) => r.ok) ? 0 : 1;
