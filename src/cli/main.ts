#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { backup } from "../app/backup.js";
import { drill } from "../app/drill.js";
import { status, type AssetStatusInput } from "../app/status.js";
import { LIFELINE_VERSION } from "../app/version.js";
import { init } from "../app/init.js";
import { demo } from "../app/demo.js";
import { EXIT_CODES, LifelineError, isLifelineError } from "../core/errors.js";
import { parseDuration } from "../core/duration.js";
import { policyRules, resolveAsset } from "../config/load.js";
import { plan } from "../app/plan.js";
import { planJson, renderPlan } from "./render-plan.js";
import { readFileSync } from "node:fs";
import { err, json, out, terminalProgress } from "./io.js";
import {
  backupJson,
  checkJson,
  drillJson,
  renderBackup,
  renderCheck,
  renderDrill,
  renderStatus,
  statusJson,
} from "./render.js";
import { renderDemo } from "./render-demo.js";
import { asset as resolve, contextFor, load, type GlobalOptions } from "./wiring.js";

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
    "Makes destroying production data a deliberate act: restore points proven to restore (backup → drill), the posture of every asset, and the blast radius of SQL before it runs (plan).",
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
  lifeline demo                       prove the whole loop on an embedded PostgreSQL, no config needed
  lifeline init --asset shop --url 'postgres://app:\${SHOP_DB_PASSWORD}@db:5432/shop'
  lifeline backup shop && lifeline drill shop
  lifeline status --json
  lifeline plan shop --sql "DROP TABLE products CASCADE"

Exit codes: 0 success, 1 runtime error, 2 usage or config error, 3 plan verdict require/deny,
4 verification failed, 130 interrupted.`,
  );

program
  .command("demo")
  .description(
    "Run the main job on an embedded PostgreSQL: a small shop database, a restore point, a drill, the status. Cleans up after itself.",
  )
  .option("--json", "print one JSON document on stdout")
  .addHelpText("after", "\nExample:\n  lifeline demo\n")
  .action(async (_opts, command: Command) => {
    const options = globals(command);
    const result = await demo({ signal: interrupt.signal, progress: terminalProgress("demo") });
    if (options.json) json(result.json);
    else out(renderDemo(result));
    if (result.drill.result !== "passed") exitCode = EXIT_CODES.verification;
  });

program
  .command("init")
  .description(
    "Write a commented lifeline.yaml for one asset, after checking that lifeline can connect to it.",
  )
  .requiredOption("--asset <name>", "name of the asset, e.g. shop")
  .requiredOption(
    "--url <url>",
    "connection URL; a password in it is NOT written to the file (an ${ENV_VAR} reference is)",
  )
  .addOption(
    new Option("--tier <tier>", "how protected the asset is")
      .choices(["production", "staging", "development"])
      .default("production"),
  )
  .option("--rpo <duration>", "how old the newest verified restore point may be, e.g. 24h, 1h, 7d", "24h")
  .option(
    "--repository <path>",
    "where restore points live, relative to the config file",
    ".lifeline/repository",
  )
  .option("--file <path>", "file to write", "lifeline.yaml")
  .option("--force", "overwrite an existing file")
  .option("--no-connect", "write the file without checking the connection")
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    "\nExample:\n  lifeline init --asset shop --url 'postgres://app:${SHOP_DB_PASSWORD}@db.internal:5432/shop' --rpo 6h\n",
  )
  .action(
    async (
      opts: {
        asset: string;
        url: string;
        tier: string;
        rpo: string;
        repository: string;
        file: string;
        force?: boolean;
        connect: boolean;
      },
      command: Command,
    ) => {
      const options = globals(command);
      if (parseDuration(opts.rpo) === undefined) {
        throw new LifelineError({
          code: "USAGE",
          kind: "usage",
          message: `--rpo: "${opts.rpo}" is not a duration`,
          fix: "write it like 15m, 6h, 24h or 7d",
        });
      }
      const result = await init({
        ...opts,
        force: opts.force === true,
        cwd: process.cwd(),
        env: process.env,
      });
      if (options.json) json({ init: result });
      else {
        out(
          `✓ wrote ${result.file}${result.connected ? ` (connected to ${result.display}: PostgreSQL ${result.serverVersion})` : " (connection not checked)"}`,
        );
        for (const note of result.notes) out(`  ${note}`);
        out(`  next: lifeline backup ${opts.asset} && lifeline drill ${opts.asset}`);
      }
    },
  );

program
  .command("backup")
  .description(
    "Take a restore point: pg_dump on an exported snapshot, with per-table fingerprints of that same snapshot.",
  )
  .argument("<asset>", "asset name from lifeline.yaml")
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    "\nExample:\n  lifeline backup shop\n  lifeline backup shop --json | jq -r .restorePoint.id\n",
  )
  .action(async (name: string, _opts, command: Command) => {
    const options = globals(command);
    const loaded = load(options);
    const ctx = contextFor(loaded, interrupt.signal, terminalProgress(`backup ${name}`));
    const manifest = await backup(ctx, resolve(loaded, name));
    if (options.json) json(backupJson(manifest));
    else out(renderBackup(manifest));
  });

program
  .command("drill")
  .description(
    "Restore a restore point into a scratch instance, recompute fingerprints, compare; it becomes verified only if all match.",
  )
  .argument("<asset>", "asset name from lifeline.yaml")
  .option("--restore-point <id>", "restore point to drill (default: the newest)")
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    "\nExample:\n  lifeline drill shop\n  lifeline drill shop --restore-point 20261126T102040Z-3fa9c1 --json\n\nExit code 4 when the drill fails (mismatch, corrupt artifact, restore error).\n",
  )
  .action(async (name: string, opts: { restorePoint?: string }, command: Command) => {
    const options = globals(command);
    const loaded = load(options);
    const ctx = contextFor(loaded, interrupt.signal, terminalProgress(`drill ${name}`));
    const report = await drill(ctx, resolve(loaded, name), opts.restorePoint);
    if (options.json) json(drillJson(report));
    else out(renderDrill(report, await ctx.repository.getRestorePoint(name, report.restorePointId)));
    if (report.result !== "passed") exitCode = EXIT_CODES.verification;
  });

program
  .command("status")
  .description(
    "Posture of every asset: newest and newest verified restore point, RPO against target, RTO from the last drill, changes not covered.",
  )
  .argument("[assets...]", "assets to show (default: all)")
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    "\nExample:\n  lifeline status\n  lifeline status shop --json | jq '.assets[0].rpoSeconds'\n",
  )
  .action(async (names: string[], _opts, command: Command) => {
    const options = globals(command);
    const loaded = load(options);
    const ctx = contextFor(loaded, interrupt.signal, terminalProgress("status"));
    const wanted = names.length > 0 ? names : Object.keys(loaded.config.assets);
    const inputs: AssetStatusInput[] = wanted.map((name) => {
      const raw = loaded.config.assets[name];
      if (!raw) resolve(loaded, name); // throws ASSET_UNKNOWN with the known names
      try {
        const resolved = resolveAsset(loaded, name, process.env);
        return {
          name,
          asset: resolved,
          tier: resolved.tier,
          rpoSeconds: resolved.rpoSeconds,
          resolveError: null,
        };
      } catch (error) {
        return {
          name,
          asset: null,
          tier: raw?.tier ?? "production",
          rpoSeconds: parseDuration(raw?.rpo ?? "24h") ?? 86400,
          resolveError: error instanceof Error ? error.message : String(error),
        };
      }
    });
    const postures = await status(ctx, inputs);
    if (options.json) json(statusJson(postures));
    else out(renderStatus(postures));
  });

program
  .command("check")
  .description(
    "Integrity of the repository: every manifest parses, every artifact exists with its size and sha256, nothing unexplained.",
  )
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    "\nExample:\n  lifeline check\n  lifeline check --json | jq '.findings[].message'\n\nExit code 4 when there are findings.\n",
  )
  .action(async (_opts, command: Command) => {
    const options = globals(command);
    const loaded = load(options);
    const ctx = contextFor(loaded, interrupt.signal, terminalProgress("check"));
    const result = await ctx.repository.check();
    if (options.json) json(checkJson(ctx.repository.location, result));
    else out(renderCheck(ctx.repository.location, result));
    if (result.findings.length > 0) exitCode = EXIT_CODES.verification;
  });

program
  .command("plan")
  .description(
    "Show the blast radius of SQL before it runs: what each statement destroys, what goes with it, who depends on it, how you would get it back, and the policy verdict. Read-only.",
  )
  .argument("<asset>", "asset name from lifeline.yaml")
  .option("--sql <statements>", "the SQL to plan")
  .option("-f, --file <file>", "a file of SQL to plan (- for standard input)")
  .option("--exact", "count rows exactly instead of using the planner's estimates")
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    `
Examples:
  lifeline plan shop --sql "DROP TABLE products CASCADE"
  lifeline plan shop -f migrations/0042_cleanup.sql --json
  git diff --name-only main | grep '\\.sql$' | xargs -n1 lifeline plan shop -f

Exit codes: 0 verdict allow; 3 verdict require or deny; 1 runtime error; 2 usage error.
`,
  )
  .action(async (name: string, opts: { sql?: string; file?: string; exact?: boolean }, command: Command) => {
    const options = globals(command);
    if ((opts.sql === undefined) === (opts.file === undefined)) {
      throw new LifelineError({
        code: "USAGE",
        kind: "usage",
        message: "plan needs the SQL: give exactly one of --sql or -f/--file",
        fix: 'lifeline plan shop --sql "DROP TABLE products" or lifeline plan shop -f migration.sql',
      });
    }
    const sql = opts.sql ?? readSql(opts.file ?? "-");
    const loaded = load(options);
    const ctx = contextFor(loaded, interrupt.signal, terminalProgress(`plan ${name}`));
    const result = await plan(ctx, resolve(loaded, name), sql, {
      exact: opts.exact === true,
      policy: policyRules(loaded),
    });
    if (options.json) json(planJson(result));
    else out(renderPlan(result));
    exitCode = result.verdict === "allow" ? EXIT_CODES.ok : EXIT_CODES.verdict;
  });

function readSql(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      fix: "check the path of the SQL file",
    });
  }
}

function report(error: unknown): number {
  if (error instanceof CommanderError) {
    if (
      error.code === "commander.helpDisplayed" ||
      error.code === "commander.version" ||
      error.exitCode === 0
    )
      return 0;
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
// Open handles (a pg pool, a child) must not keep a finished command alive.
setImmediate(() => process.exit(process.exitCode ?? 0)).unref();
