#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { backup } from "../app/backup.js";
import { drill } from "../app/drill.js";
import { status, type AssetStatusInput } from "../app/status.js";
import { LIFELINE_VERSION } from "../app/version.js";
import { init } from "../app/init.js";
import { EXIT_CODES, LifelineError, isLifelineError } from "../core/errors.js";
import { parseDuration } from "../core/duration.js";
import { policyRules, resolveAsset } from "../config/load.js";
import { plan } from "../app/plan.js";
import { planJson, renderPlan } from "./render/plan.js";
import {
  confirm,
  err,
  flushed,
  interactive,
  json,
  out,
  readSql,
  terminalProgress,
  tolerateClosedOutput,
} from "./io.js";
import path from "node:path";
import { applyProtect, planProtect, scan } from "../app/k8s.js";
import { renderProtectDone, renderProtectPlan, renderScan, scanJson } from "./render/k8s.js";
import { activeGrants, recordShownPlan, registerGateCommands, renderBreakGlass } from "./gate-commands.js";
import {
  backupJson,
  checkJson,
  drillJson,
  renderBackup,
  renderCheck,
  renderDrill,
  renderStatus,
  statusJson,
} from "./render/restore-points.js";
import { planCommand } from "../app/plan-command.js";
import {
  asset as resolve,
  boundAssets,
  contextFor,
  kubernetesSettings,
  load,
  loadOptional,
  secretDigest,
  type GlobalOptions,
} from "./wiring.js";

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
    "Makes destroying production data a deliberate act. Restore points proven to restore (backup, drill, check); " +
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
  Keep restore points proven to restore:
    lifeline init --asset shop --url 'postgres://app:\${SHOP_DB_PASSWORD}@db:5432/shop'
    lifeline backup shop && lifeline drill shop
    lifeline status --json
    lifeline check
  See the blast radius before anything runs:
    lifeline plan shop --sql "DROP TABLE products CASCADE"
    lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop
    lifeline k8s scan
  Run destructive changes through the gate:
    lifeline run shop -f migrations/0042_cleanup.sql     # blocked until the policy is met
    lifeline approve 7f3a9c01d2e4                         # another person approves that plan
    lifeline break-glass --asset shop --for 30m --reason "INC-4411 restore"
    lifeline audit --since 24h && lifeline audit verify

Each command has its own --help with examples.

Exit codes: 0 success, 1 runtime error, 2 usage or config error, 3 verdict require/deny or run
blocked, 4 verification failed, 130 interrupted.`,
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
    // Loaded on use: the demo brings the simulated cluster and the Kubernetes client.
    const [{ demo }, { renderDemo }] = await Promise.all([
      import("../app/demo.js"),
      import("./render/demo.js"),
    ]);
    const result = await demo({ signal: interrupt.signal, progress: terminalProgress("demo") });
    if (options.json) json(result.json);
    else out(renderDemo(result));
    // Every step counts: a drill that fails, a run that fails, a chain that breaks.
    if (!result.ok) exitCode = EXIT_CODES.verification;
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
    const [postures, grants] = await Promise.all([status(ctx, inputs), activeGrants(loaded)]);
    if (options.json) json({ ...statusJson(postures), breakGlass: grants });
    else out([renderStatus(postures), ...renderBreakGlass(grants, new Date())].join("\n"));
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
    "Show the blast radius of SQL, kubectl or helm before it runs: what it destroys, what goes with it, who depends on it, how you would get it back, and the policy verdict. Read-only.",
  )
  .usage("<asset> (--sql <statements> | -f <file>) | -- <kubectl|helm command>")
  .argument("[asset]", "asset name from lifeline.yaml (SQL plans)")
  .argument("[command...]", "after --: the kubectl or helm command to plan")
  .option("--sql <statements>", "the SQL to plan")
  .option("-f, --file <file>", "a file of SQL to plan (- for standard input)")
  .option("--exact", "count rows exactly instead of using the planner's estimates")
  .option("--kubeconfig <file>", "kubeconfig for command plans (default: like kubectl)")
  .option("--context <name>", "kubeconfig context for command plans (default: like kubectl)")
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    `
lifeline's own options go before --, the command after it.

Examples:
  lifeline plan shop --sql "DROP TABLE products CASCADE"
  lifeline plan shop -f migrations/0042_cleanup.sql --json
  git diff --name-only main | grep '\\.sql$' | xargs -n1 lifeline plan shop -f
  lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop
  lifeline plan --json -- kubectl delete pvc,sts -l app.kubernetes.io/instance=postgresql -nshop
  lifeline plan -- helm uninstall postgresql -n shop

Exit codes: 0 verdict allow; 3 verdict require or deny; 1 runtime error; 2 usage error.
`,
  )
  .action(
    async (
      name: string | undefined,
      _rest: string[],
      opts: { sql?: string; file?: string; exact?: boolean; kubeconfig?: string; context?: string },
      command: Command,
    ) => {
      const options = globals(command);
      const dashes = process.argv.indexOf("--");
      if (dashes !== -1) {
        const argv = process.argv.slice(dashes + 1);
        const before = process.argv.slice(2, dashes);
        if (opts.sql !== undefined || opts.file !== undefined || before.some((a) => a === name)) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: "plan takes either SQL for an asset or a command after --, not both",
            fix: "lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop (assets are found from their kubernetes: bindings)",
          });
        }
        const result = await recordShownPlan(
          loadOptional(options),
          await planKubernetes(argv, options, opts),
        );
        if (options.json) json(planJson(result));
        else out(renderPlan(result));
        exitCode = result.verdict === "allow" ? EXIT_CODES.ok : EXIT_CODES.verdict;
        return;
      }
      if (!name) {
        throw new LifelineError({
          code: "USAGE",
          kind: "usage",
          message: "plan needs an asset and SQL, or a command after --",
          fix: 'lifeline plan shop --sql "DROP TABLE products", or lifeline plan -- kubectl delete pvc data-0 -n shop',
        });
      }
      if ((opts.sql === undefined) === (opts.file === undefined)) {
        throw new LifelineError({
          code: "USAGE",
          kind: "usage",
          message: "plan needs the SQL: give exactly one of --sql or -f/--file",
          fix: 'lifeline plan shop --sql "DROP TABLE products" or lifeline plan shop -f migration.sql',
        });
      }
      const sql = await readSql(opts, interrupt.signal);
      const loaded = load(options);
      const ctx = contextFor(loaded, interrupt.signal, terminalProgress(`plan ${name}`));
      const result = await recordShownPlan(
        loaded,
        await plan(ctx, resolve(loaded, name), sql, {
          exact: opts.exact === true,
          policy: policyRules(loaded),
        }),
      );
      if (options.json) json(planJson(result));
      else out(renderPlan(result));
      exitCode = result.verdict === "allow" ? EXIT_CODES.ok : EXIT_CODES.verdict;
    },
  );

async function planKubernetes(
  argv: string[],
  options: GlobalOptions,
  opts: { kubeconfig?: string; context?: string },
) {
  const loaded = loadOptional(options);
  const progress = terminalProgress("plan");
  progress.phase("reading the cluster");
  return planCommand(
    {
      ctx: loaded ? contextFor(loaded, interrupt.signal, progress) : null,
      cluster: await kubernetesClient(),
      readManifests: async (files, recursive) =>
        (await import("../kubernetes/manifests.js")).readManifests(files, recursive),
      signal: interrupt.signal,
    },
    argv,
    {
      assets: loaded ? boundAssets(loaded) : [],
      policy: policyRules(loaded),
      kubernetes: kubernetesSettings(loaded, opts),
      env: process.env,
      ...(loaded ? { digest: secretDigest(loaded) } : {}),
    },
  );
}

const k8s = program
  .command("k8s")
  .description(
    "Kubernetes posture: find volumes whose data goes with a single delete, and protect an asset's volumes.",
  )
  .addHelpText(
    "after",
    `
Examples:
  lifeline k8s scan                 # the whole cluster
  lifeline k8s scan -n shop --json
  lifeline k8s protect shop         # its volumes reclaim with Retain: deleting a claim keeps the data
  lifeline k8s protect shop --undo  # put back what protect changed
`,
  );

k8s
  .command("scan")
  .description(
    "Posture findings per namespace: volumes that reclaim with Delete, claims left by uninstalled releases, assets without a verified restore point. Read-only.",
  )
  .option("-n, --namespace <namespace>", "only this namespace")
  .option("--kubeconfig <file>", "kubeconfig (default: like kubectl)")
  .option("--context <name>", "kubeconfig context (default: like kubectl)")
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    `
Examples:
  lifeline k8s scan
  lifeline k8s scan -n shop --json | jq '.findings[] | select(.severity == "high")'

Exit codes: 0 no high finding; 4 high findings; 1 runtime error (cluster unreachable); 2 usage error.
`,
  )
  .action(async (opts: { namespace?: string; kubeconfig?: string; context?: string }, command: Command) => {
    const options = globals(command);
    const loaded = loadOptional(options);
    const result = await scan(await k8sDeps(loaded), {
      assets: loaded ? boundAssets(loaded) : [],
      kubernetes: kubernetesSettings(loaded, opts),
      namespace: opts.namespace ?? null,
    });
    if (options.json) json(scanJson(result));
    else out(renderScan(result));
    if (result.findings.some((f) => f.severity === "high")) exitCode = EXIT_CODES.verification;
  });

k8s
  .command("protect")
  .description(
    "Make an asset's volumes survive the deletion of their claims (persistentVolumeReclaimPolicy Retain), recording what changed so --undo can put it back.",
  )
  .argument(
    "<asset>",
    "asset name from lifeline.yaml, bound with kubernetes: {namespace, release, pvcSelector}",
  )
  .option("--undo", "put back the reclaim policies protect changed")
  .option("-y, --yes", "do not ask (needed without a terminal)")
  .option("--dry-run", "show what would change and stop")
  .option("--kubeconfig <file>", "kubeconfig (default: like kubectl)")
  .option("--context <name>", "kubeconfig context (default: like kubectl)")
  .option("--json", "print one JSON document on stdout")
  .addHelpText(
    "after",
    `
Examples:
  lifeline k8s protect shop
  lifeline k8s protect shop --yes --json     # in a script
  lifeline k8s protect shop --undo

Exit codes: 0 done (or nothing to do); 1 runtime error; 2 usage error or not confirmed.
`,
  )
  .action(
    async (
      name: string,
      opts: { undo?: boolean; yes?: boolean; dryRun?: boolean; kubeconfig?: string; context?: string },
      command: Command,
    ) => {
      const options = globals(command);
      const loaded = load(options);
      const deps = await k8sDeps(loaded);
      const { plan: protectPlan, cluster } = await planProtect(deps, {
        assets: boundAssets(loaded),
        kubernetes: kubernetesSettings(loaded, opts),
        asset: name,
        undo: opts.undo === true,
      });
      const show = (done: unknown[] | null) => {
        if (options.json) json({ ...protectPlan, applied: done !== null, done: done ?? [] });
      };
      if (!options.json) out(renderProtectPlan(protectPlan));
      if (protectPlan.changes.length === 0 || opts.dryRun) return show(null);
      if (!opts.yes) {
        if (!interactive()) {
          throw new LifelineError({
            code: "NOT_CONFIRMED",
            kind: "usage",
            message: "protect changes the cluster and there is no terminal to ask on",
            fix: `review the plan above, then run again with --yes: lifeline k8s protect ${name}${opts.undo ? " --undo" : ""} --yes`,
          });
        }
        if (
          !(await confirm(
            `Change ${protectPlan.changes.length} volume${protectPlan.changes.length === 1 ? "" : "s"}?`,
          ))
        ) {
          err("nothing changed");
          exitCode = EXIT_CODES.usage;
          return show(null);
        }
      }
      const done = await applyProtect(deps, protectPlan, cluster);
      if (options.json) show(done);
      else out(renderProtectDone(protectPlan, done));
      if (done.length < protectPlan.changes.length) exitCode = EXIT_CODES.interrupted;
    },
  );

/** The Kubernetes client is loaded only by commands that reach a cluster (it costs ~0.5 s to load). */
async function kubernetesClient() {
  return (await import("../kubernetes/cluster.js")).kubernetesCluster;
}

async function k8sDeps(loaded: ReturnType<typeof loadOptional>) {
  return {
    ctx: loaded ? contextFor(loaded, interrupt.signal, terminalProgress("k8s")) : null,
    cluster: await kubernetesClient(),
    signal: interrupt.signal,
    stateDir: loaded ? path.join(path.dirname(loaded.repositoryPath), "state") : null,
  };
}

registerGateCommands(program, {
  globals,
  signal: interrupt.signal,
  setExit: (code) => (exitCode = code),
  planKubernetes,
});

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
// Everything printed reaches the reader (a pipe takes 64 KiB at a time: exiting before it drains
// would cut the output), then open handles (a pg pool, a child) must not keep a finished command alive.
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
process.exit(process.exitCode ?? 0);
