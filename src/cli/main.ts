#!/usr/bin/env node
import { Command, CommanderError } from "commander";
import { LIFELINE_VERSION } from "../app/version.js";
import { EXIT_CODES, isLifelineError } from "../core/errors.js";
import { register as approve } from "./commands/approve.js";
import { register as audit } from "./commands/audit.js";
import { register as backup } from "./commands/backup.js";
import { register as breakGlass } from "./commands/break-glass.js";
import { register as check } from "./commands/check.js";
import { register as demo } from "./commands/demo.js";
import { register as drill } from "./commands/drill.js";
import { register as guard } from "./commands/guard.js";
import { register as init } from "./commands/init.js";
import { register as k8s } from "./commands/k8s.js";
import { register as plan } from "./commands/plan.js";
import { register as prune } from "./commands/prune.js";
import { register as repository } from "./commands/repository.js";
import { register as restore } from "./commands/restore.js";
import { register as restorePoints } from "./commands/restore-points.js";
import { register as revoke } from "./commands/revoke.js";
import { register as run } from "./commands/run.js";
import { register as serve } from "./commands/serve.js";
import { register as show } from "./commands/show.js";
import { register as standby } from "./commands/standby.js";
import { register as status } from "./commands/status.js";
import type { CliEnv } from "./env.js";
import { err, flushed, json, out, tolerateClosedOutput } from "./io.js";
import type { GlobalOptions } from "./wiring.js";

tolerateClosedOutput();

/** Ctrl-C stops the work, cleanup runs (scratch torn down, staged files removed); a second Ctrl-C exits at once. */
const interrupt = new AbortController();
let interrupts = 0;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT_CODES.interrupted);
    err(`lifeline: ${signal} received, stopping and cleaning up (again to quit at once)`);
    interrupt.abort();
  });
}

let jsonMode = false;

function globals(command: Command): GlobalOptions & { json?: boolean } {
  const options = command.optsWithGlobals<GlobalOptions & { json?: boolean }>();
  jsonMode = options.json === true;
  return options;
}

/** Exit code the command chose (0 unless it set one). */
let exitCode: number = EXIT_CODES.ok;

const program = new Command();
program
  .name("lifeline")
  .description(
    "Makes destroying production data a deliberate act. Restore points proven to restore (backup, drill, check), " +
      "brought back verified without destroying what is there (restore); " +
      "the posture of every asset (status, k8s scan); the blast radius of SQL, kubectl and helm before they run (plan); " +
      "a gate that runs them only when the policy is met (run, approve, revoke, break-glass); " +
      "and a hash-chained record of all of it (audit).",
  )
  .version(LIFELINE_VERSION, "-V, --version")
  .option(
    "-c, --config <file>",
    "lifeline.yaml to use (default: LIFELINE_CONFIG, or lifeline.yaml in this directory or a parent)",
  )
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .configureOutput({ writeErr: (text) => err(text.trimEnd()), writeOut: (text) => out(text.trimEnd()) })
  .addHelpText(
    "after",
    `
Examples:
  Try it on an embedded PostgreSQL, no config needed:
    lifeline demo
  Try the Kubernetes side (kubectl, k8s, serve) without a cluster, on a simulated API server:
    lifeline demo cluster
  Keep restore points proven to restore:
    lifeline init --asset shop --url 'postgres://app:\${SHOP_DB_PASSWORD}@db:5432/shop'
    lifeline backup shop && lifeline drill shop
    lifeline status --json
  Bring it back (verified like a drill; replacing data goes through the gate):
    lifeline restore-points shop
    lifeline restore shop --tables public.products
    lifeline restore shop --to 'postgres://admin:\${PW}@db2:5432/shop_copy'
    lifeline restore shop --in-place
    lifeline check
  Keep only what the retention policy keeps (the server does it after each verified backup):
    lifeline prune shop --dry-run
  Keep a read-only fallback for dependents while you recover:
    lifeline standby shop --to 'postgres://admin:\${STANDBY_PW}@db2:5432/shop_standby'
    lifeline standby shop --refresh
  See the blast radius before anything runs:
    lifeline plan shop --sql "DROP TABLE products CASCADE"
    lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop
    lifeline k8s scan
  Run destructive changes through the gate:
    lifeline run shop -f migrations/0042_cleanup.sql     # blocked until the policy is met
    lifeline approve 7f3a9c01d2e4                         # another person approves that plan
    lifeline break-glass --asset shop --for 30m --reason "INC-4411 restore"
    lifeline audit --since 24h && lifeline audit verify
  Enforce it inside PostgreSQL (psql, migrations and jobs need an approved plan too):
    lifeline guard install shop --admin-url 'postgres://postgres@db:5432/shop'
    lifeline guard status shop
  Enforce it at the Kubernetes API (admission webhook), and from kubectl:
    lifeline serve --tls-cert tls.crt --tls-key tls.key
    kubectl lifeline plan delete pvc data-postgresql-0 -n shop

Each command has its own --help with examples.

Exit codes: 0 success, 1 runtime error, 2 usage or config error, 3 verdict require/deny or run
blocked, 4 verification failed, 5 status --check found a breach, 130 interrupted.`,
  );

const env: CliEnv = {
  globals,
  signal: interrupt.signal,
  setExit: (code) => (exitCode = code),
};
// In the order `lifeline --help` lists them.
for (const register of [
  demo,
  init,
  backup,
  drill,
  restore,
  standby,
  status,
  restorePoints,
  check,
  prune,
  repository,
  plan,
  k8s,
  run,
  approve,
  show,
  revoke,
  breakGlass,
  guard,
  audit,
  serve,
]) {
  register(program, env);
}

/**
 * --json was asked for, read from the command line itself: a command line commander refuses (an
 * unknown option, a missing argument) never reaches the action that would have set jsonMode.
 * Arguments after `--` belong to the command lifeline plans, not to lifeline.
 */
function jsonAsked(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).includes("--json");
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    if (
      error.code === "commander.helpDisplayed" ||
      error.code === "commander.version" ||
      error.exitCode === 0
    )
      return 0;
    // Commander printed its message on stderr; a --json reader gets the same as for any error.
    if (jsonMode || jsonAsked(process.argv.slice(2)))
      json({
        error: {
          code: "USAGE",
          message: error.message.replace(/^error: /, ""),
          fix: "run the command with --help for its options and arguments",
          details: [],
        },
      });
    return EXIT_CODES.usage;
  }
  if (isLifelineError(error)) {
    if (jsonMode)
      json({
        error: { code: error.code, message: error.message, fix: error.fix ?? null, details: error.details },
      });
    err(`error: ${error.message}`);
    for (const detail of error.details) err(`  ${detail}`);
    if (error.fix) err(`  fix: ${error.fix}`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (jsonMode) json({ error: { code: "INTERNAL", message, fix: null, details: [] } });
  err(`error: unexpected failure: ${message}`);
  if (process.env.LIFELINE_DEBUG && error instanceof Error && error.stack) err(error.stack);
  else err("  set LIFELINE_DEBUG=1 for details, and please report it");
  return EXIT_CODES.runtime;
}

try {
  await program.parseAsync(process.argv);
  process.exitCode = exitCode;
} catch (error) {
  process.exitCode = report(error);
}
// Everything printed reaches the reader (a pipe takes 64 KiB at a time: exiting before it drains
// would cut the output), then open handles (a pg pool, a child) must not keep a finished command alive.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(process.exitCode ?? 0);
