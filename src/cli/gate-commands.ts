import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import {
  approve,
  breakGlass,
  countingGrants,
  endBreakGlass,
  findRecordedPlan,
  recordPlan,
  revoke,
  run,
  vouchedApprovalsFor,
  type GateDeps,
  type RunOutcome,
} from "../app/gate.js";
import { plan as planSql } from "../app/plan.js";
import type { Plan } from "../core/plan/plan.js";
import { prepareSteps, runPrepare } from "../app/prepare.js";
import { AUDIT_KINDS, verifyChain, type AuditEntry, type AuditKind } from "../core/audit/chain.js";
import { formatDuration, parseDuration } from "../core/duration.js";
import { EXIT_CODES, LifelineError } from "../core/errors.js";
import { usesOf, type BreakGlass, type PlanRecord, type StatementResult } from "../core/approval/approval.js";
import { redactUrl, secrets } from "../core/redact.js";
import { interpolate, policyRules, type LoadedConfig } from "../config/load.js";
import { currentIdentity } from "../gate/identity.js";
import { notify } from "../gate/notify.js";
import { runChild } from "../gate/exec.js";
import type { Catalog } from "../ports/catalog.js";
import { systemClock } from "../ports/clock.js";
import { err, json, out, readSql, terminalProgress } from "./io.js";
import { planJson, renderPlan } from "./render-plan.js";
import { renderStoredPlan } from "./render-stored-plan.js";
import {
  asset as resolveAsset,
  boundAssets,
  contextFor,
  kubernetesSettings,
  load,
  type GlobalOptions,
  installationKey,
  keyedDigest,
} from "./wiring.js";

export interface CliEnv {
  globals(command: Command): GlobalOptions & { json?: boolean };
  signal: AbortSignal;
  setExit(code: number): void;
  planKubernetes(
    argv: string[],
    options: GlobalOptions,
    opts: { kubeconfig?: string; context?: string },
  ): Promise<Plan>;
}

/**
 * A keyed digest of exactly what runs, kept with the run: it binds the record to the very argv or
 * SQL without storing secrets that the display masks. The key is private to this installation.
 */
export function digestOf(loaded: LoadedConfig, text: string): string {
  return `hmac-sha256:${keyedDigest(installationKey(loaded), text)}`;
}

/** The catalog location from lifeline.yaml: a postgres:// URL (interpolated) or a path beside the file. */
export function catalogLocation(loaded: LoadedConfig): string {
  const raw = loaded.config.catalog;
  if (/^postgres(ql)?:\/\//.test(raw) || raw.startsWith("${")) {
    return interpolate(raw, "catalog", process.env);
  }
  return path.resolve(loaded.dir, raw);
}

export async function openCatalogFor(loaded: LoadedConfig): Promise<Catalog> {
  const { openCatalog } = await import("../catalog/index.js");
  return openCatalog(catalogLocation(loaded));
}

async function gateDeps(loaded: LoadedConfig, catalog: Catalog): Promise<GateDeps> {
  const webhooks = loaded.config.notifications.webhooks.map((w, i) =>
    interpolate(w, `notifications.webhooks[${i}]`, process.env),
  );
  for (const w of webhooks) secrets.add(w);
  return {
    catalog,
    identity: await currentIdentity(),
    clock: systemClock,
    notify: (message) => notify(webhooks, message),
    warn: (message) => err(`lifeline: warning: ${message}`),
  };
}

async function withCatalog<T>(loaded: LoadedConfig, fn: (catalog: Catalog) => Promise<T>): Promise<T> {
  const catalog = await openCatalogFor(loaded);
  try {
    return await fn(catalog);
  } finally {
    await catalog.close();
  }
}

function commandAfterDashes(): string[] | null {
  const i = process.argv.indexOf("--");
  return i === -1 ? null : process.argv.slice(i + 1);
}

function runJson(outcome: RunOutcome) {
  return {
    status: outcome.status,
    planId: outcome.plan.planId,
    asset: outcome.plan.asset,
    command: outcome.plan.command,
    verdict: outcome.decision.verdict,
    requirements: outcome.decision.requirements,
    approvals: outcome.decision.approvals.map((a) => ({
      id: a.id,
      by: a.approver.id,
      comment: a.comment,
      expiresAt: a.expiresAt,
    })),
    ignoredApprovals: outcome.decision.ignored.map((x) => ({
      id: x.approval.id,
      by: x.approval.approver.id,
      why: x.why,
    })),
    breakGlass: outcome.decision.breakGlass,
    execution: outcome.execution,
    exitCode: outcome.exitCode,
    detail: outcome.detail,
    statements: outcome.execution.statements ?? null,
    plan: planJson(outcome.plan),
  };
}

function renderRun(outcome: RunOutcome): string {
  const id = outcome.plan.planId.slice(0, 12);
  const lines: string[] = [];
  if (outcome.status === "blocked" || outcome.status === "drift") {
    lines.push(
      renderPlan({
        ...outcome.plan,
        verdict: outcome.decision.verdict,
        requirements: outcome.decision.requirements,
      }),
      "",
    );
    lines.push(`BLOCKED: nothing was run. ${outcome.detail ?? ""}`.trim());
    for (const x of outcome.decision.ignored)
      lines.push(`  approval ${x.approval.id} by ${x.approval.approver.id} does not count: ${x.why}`);
    const approval = outcome.decision.requirements.find((r) => r.kind === "approvals" && !r.met);
    if (approval && outcome.decision.verdict === "require") {
      lines.push(`  Ask another person to review and approve it: lifeline approve ${id}`);
      lines.push(`  (lifeline show ${id} prints the plan, its approvals and their uses)`);
      lines.push(`  Then run the same command again.`);
    }
    return lines.join("\n");
  }
  const how = outcome.decision.breakGlass
    ? `under break-glass ${outcome.decision.breakGlass.id} (${outcome.decision.breakGlass.reason})`
    : outcome.decision.approvals.length > 0
      ? `approved by ${outcome.decision.approvals.map((a) => a.approver.id).join(", ")}`
      : "allowed by the policy";
  if (outcome.status === "dry-run") {
    lines.push(`DRY RUN: plan ${id} is ${how}; lifeline would now run: ${outcome.plan.command.text}`);
  } else if (outcome.status === "executed") {
    lines.push(
      `EXECUTED plan ${id} (${how}) in ${(outcome.execution.durationMs / 1000).toFixed(1)}s; recorded as ${outcome.execution.id}`,
    );
    lines.push(...renderStatements(outcome.execution.statements));
  } else {
    lines.push(
      `FAILED plan ${id} (${how})${outcome.exitCode !== null ? `: exit code ${outcome.exitCode}` : ""}; recorded as ${outcome.execution.id}`,
    );
    if (outcome.detail) lines.push(`  ${outcome.detail}`);
  }
  return lines.join("\n");
}

/** What each SQL statement did, one line each. */
export function renderStatements(statements: readonly StatementResult[] | undefined): string[] {
  if (!statements || statements.length === 0) return [];
  const total = statements.reduce((sum, x) => sum + (x.rows ?? 0), 0);
  const counted = statements.some((x) => x.rows !== null);
  return [
    ...statements.map(
      (x, i) =>
        `  ${i + 1}. ${x.command}${x.rows === null ? "" : `: ${x.rows.toLocaleString("en-US")} row${x.rows === 1 ? "" : "s"} affected`}`,
    ),
    ...(counted && statements.length > 1
      ? [`  ${total.toLocaleString("en-US")} row${total === 1 ? "" : "s"} affected in all`]
      : []),
  ];
}

function exitFor(outcome: RunOutcome): number {
  switch (outcome.status) {
    case "executed":
    case "dry-run":
      return EXIT_CODES.ok;
    case "blocked":
    case "drift":
      return EXIT_CODES.verdict;
    case "failed":
      return EXIT_CODES.runtime;
    case "interrupted":
      return EXIT_CODES.interrupted;
  }
}

function auditWhat(e: AuditEntry): string {
  if (e.damaged !== undefined) return `DAMAGED: ${e.damaged}`;
  const data = e.data;
  const what =
    typeof data.command === "string"
      ? data.command
      : typeof data.reason === "string"
        ? data.reason
        : typeof data.approval === "string"
          ? data.approval
          : "";
  return what.replace(/\s+/g, " ").slice(0, 80);
}

/** The audit log as a table: a header, and columns as wide as their widest value. */
export function renderAuditTable(entries: readonly AuditEntry[]): string {
  const rows = entries.map((e) => [
    String(e.seq),
    e.at.slice(0, 19).replace("T", " "),
    e.kind,
    e.identity,
    e.asset ?? "-",
    e.planId ? e.planId.slice(0, 12) : "-",
    e.damaged !== undefined
      ? "?"
      : typeof e.data.result === "string"
        ? e.data.result
        : typeof e.data.status === "string"
          ? e.data.status
          : "-",
    auditWhat(e),
  ]);
  const header = ["SEQ", "AT (UTC)", "KIND", "IDENTITY", "ASSET", "PLAN", "RESULT", "WHAT"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === 0 ? c.padStart(widths[0] ?? 0) : i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function renderBreakGlass(grants: readonly BreakGlass[], now: Date): string[] {
  return grants.map(
    (g) =>
      `BREAK-GLASS active on ${g.asset}: ${g.identity} may run without approvals for ${formatDuration((new Date(g.expiresAt).getTime() - now.getTime()) / 1000)} more (${g.reason}; ${g.id})`,
  );
}

/** Active break-glass grants for `status`; silent when there is no catalog yet. */
export async function activeGrants(loaded: LoadedConfig): Promise<BreakGlass[]> {
  const location = catalogLocation(loaded);
  if (!/^postgres/.test(location) && !existsSync(location)) return [];
  try {
    // Only what `run` honours: a grant the audit log does not vouch for is not shown as active.
    return await withCatalog(loaded, (c) => countingGrants(c, new Date()));
  } catch (error) {
    err(
      `lifeline: warning: the catalog ${redactUrl(location)} could not be read: ${error instanceof Error ? error.message : String(error)}`,
    );
    return [];
  }
}

export function registerGateCommands(program: Command, env: CliEnv): void {
  program
    .command("run")
    .description(
      "Plan, check every requirement (restore point, approvals, policy), re-plan to catch drift, then execute — SQL in one transaction, or the kubectl/helm command — and record everything.",
    )
    .argument("[asset]", "asset name (SQL)")
    .argument("[command...]", "after --: the kubectl or helm command")
    .option("--sql <statements>", "the SQL to run")
    .option("-f, --file <file>", "a file of SQL to run")
    .option(
      "--prepare",
      "first meet what lifeline can meet itself: a fresh restore point and a passing drill, k8s protect",
    )
    .option("--dry-run", "stop just before executing and say what would run")
    .option("--exact", "count rows exactly in the plan")
    .option("--kubeconfig <file>", "kubeconfig for commands (default: like kubectl)")
    .option("--context <name>", "kubeconfig context for commands (default: like kubectl)")
    .option("--json", "print one JSON document on stdout (the command's own output goes to stderr)")
    .addHelpText(
      "after",
      `
Examples:
  lifeline run shop --sql "TRUNCATE carts"
  lifeline run shop -f migrations/0042_cleanup.sql --dry-run
  lifeline run -- kubectl delete pvc data-postgresql-0 -n shop
  lifeline run --prepare -- kubectl delete pvc data-postgresql-0 -n shop

Exit codes: 0 executed (or allowed, with --dry-run); 3 blocked (requirements unmet, denied, drift);
1 the SQL or command failed (its exit code is in the output); 2 usage error.
`,
    )
    .action(
      async (
        name: string | undefined,
        _rest: string[],
        opts: {
          sql?: string;
          file?: string;
          prepare?: boolean;
          dryRun?: boolean;
          exact?: boolean;
          kubeconfig?: string;
          context?: string;
        },
        command: Command,
      ) => {
        const options = env.globals(command);
        const loaded = load(options);
        const argv = commandAfterDashes();
        const progress = terminalProgress("run");
        const ctx = contextFor(loaded, env.signal, progress);
        let planner: () => Promise<Plan>;
        let whatRuns: string;
        let executor: () => Promise<{ exitCode: number }>;
        if (argv) {
          if (
            opts.sql !== undefined ||
            opts.file !== undefined ||
            process.argv.slice(2, process.argv.indexOf("--")).includes(name ?? "\0")
          ) {
            throw new LifelineError({
              code: "USAGE",
              kind: "usage",
              message: "run takes either SQL for an asset or a command after --, not both",
              fix: "lifeline run -- kubectl delete pvc data-postgresql-0 -n shop",
            });
          }
          planner = () => env.planKubernetes(argv, options, opts);
          whatRuns = argv.join("\u0000");
          // The command runs against the kubeconfig lifeline planned with (lifeline.yaml or --kubeconfig).
          const kubeconfig = kubernetesSettings(loaded, opts).kubeconfig;
          executor = () =>
            runChild(argv, {
              output: options.json ? "stderr" : "stdout",
              signal: env.signal,
              env: kubeconfig ? { ...process.env, KUBECONFIG: kubeconfig } : process.env,
            });
        } else {
          if (!name || (opts.sql === undefined) === (opts.file === undefined)) {
            throw new LifelineError({
              code: "USAGE",
              kind: "usage",
              message: "run needs an asset and exactly one of --sql or -f, or a command after --",
              fix: 'lifeline run shop --sql "TRUNCATE carts", or lifeline run -- kubectl delete pvc data-0 -n shop',
            });
          }
          const sql = await readSql(opts, env.signal);
          whatRuns = sql;
          const asset = resolveAsset(loaded, name);
          planner = () =>
            planSql(ctx, asset, sql, { exact: opts.exact === true, policy: policyRules(loaded) });
          executor = async () => {
            const engine = ctx.engine(asset.engine);
            if (!engine.sql)
              throw new LifelineError({
                code: "UNSUPPORTED",
                kind: "usage",
                message: `engine ${engine.name} cannot run SQL`,
              });
            const done = await engine.sql.execute(engine.target(asset.url), sql, env.signal);
            return { exitCode: 0, statements: done.statements };
          };
        }
        // The catalog first: if it cannot be reached, nothing (not even --prepare) happens.
        const outcome = await withCatalog(loaded, async (catalog) => {
          const deps = await gateDeps(loaded, catalog);
          if (opts.prepare) {
            const first = await planner();
            const assets = argv ? boundAssets(loaded) : [resolveAsset(loaded, name ?? "")];
            const steps = prepareSteps(first, assets);
            if (steps.length === 0) err("prepare: nothing lifeline can meet by itself is missing");
            else {
              err(`prepare: before asking for approval, lifeline will:`);
              for (const s of steps) err(`  - ${s.command}   (${s.why})`);
              const { kubernetesCluster } = await import("../kubernetes/cluster.js");
              await runPrepare(
                steps,
                {
                  ctx,
                  k8s: {
                    ctx,
                    cluster: kubernetesCluster,
                    signal: env.signal,
                    stateDir: path.join(path.dirname(loaded.repositoryPath), "state"),
                  },
                  kubernetes: kubernetesSettings(loaded, opts),
                  assets,
                },
                (line) => err(line),
                async (step) => {
                  await catalog.appendAudit({
                    at: new Date().toISOString(),
                    kind: "prepare",
                    identity: deps.identity.id,
                    host: deps.identity.host,
                    asset: step.asset,
                    planId: first.planId,
                    data: { step: step.kind, command: step.command, why: step.why },
                  });
                },
              );
            }
          }
          return run(deps, {
            planner,
            document: planJson,
            executor,
            dryRun: opts.dryRun === true,
            signal: env.signal,
            digest: digestOf(loaded, whatRuns),
          });
        });
        if (options.json) json(runJson(outcome));
        else out(renderRun(outcome));
        env.setExit(exitFor(outcome));
      },
    );

  program
    .command("approve")
    .description(
      "Approve one exact plan (by its id) as a person other than the one who asked: for one execution (or --uses N), for a bounded time. Prints the plan first.",
    )
    .argument(
      "<planId>",
      "the plan id (or a unique prefix of at least 8 characters) printed by `lifeline plan` or `lifeline run`",
    )
    .option("-m, --comment <text>", "why it is fine (recorded and announced)")
    .option("--for <duration>", "how long the approval is valid (default: approvals.ttl, 1h)")
    .option("--uses <n>", "how many executions it authorises (default 1: the first execution uses it)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Example:
  lifeline show 7f3a9c01d2e4
  lifeline approve 7f3a9c01d2e4 --comment "checked with feed team"
  lifeline approve 7f3a9c01d2e4 --uses 3 --for 2h     # e.g. the same migration on three runs

An approval is used by the execution it authorises (an execution that ran, failed or not); a blocked
or --dry-run run does not use it. When its uses are spent, the plan needs a new approval.

Exit codes: 0 approved; 3 refused (you asked for this plan yourself); 2 usage error (no such plan).
`,
    )
    .action(
      async (planId: string, opts: { comment?: string; for?: string; uses?: string }, command: Command) => {
        const options = env.globals(command);
        const loaded = load(options);
        const ttl = parseDuration(opts.for ?? loaded.config.approvals.ttl);
        const maxTtl = parseDuration(loaded.config.approvals.maxTtl) ?? 86400;
        if (ttl !== undefined && ttl > maxTtl) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `an approval lasts at most ${formatDuration(maxTtl)} (asked: ${formatDuration(ttl)})`,
            fix: `approve for ${formatDuration(maxTtl)} or less (approvals.maxTtl in lifeline.yaml sets the limit)`,
          });
        }
        if (ttl === undefined || ttl <= 0) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--for ${opts.for}: not a duration`,
            fix: "write it like 30m or 2h",
          });
        }
        const uses = opts.uses === undefined ? 1 : Number(opts.uses);
        if (!/^\s*\d+\s*$/.test(opts.uses ?? "1") || !Number.isSafeInteger(uses) || uses < 1) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--uses ${opts.uses}: not a whole number ≥ 1`,
            fix: "leave it out (one execution), or e.g. --uses 2",
          });
        }
        const result = await withCatalog(loaded, async (catalog) =>
          approve(await gateDeps(loaded, catalog), {
            planId,
            comment: opts.comment ?? null,
            ttlSeconds: ttl,
            uses,
            // The approver sees the plan as the requester saw it, before anything is recorded.
            review: (plan) => {
              if (!options.json)
                out(
                  `${renderStoredPlan(plan)}\n\nRequested by ${plan.requestedBy.id} at ${plan.createdAt}\n`,
                );
            },
          }),
        );
        if (options.json)
          json({
            approval: result.approval,
            plan: {
              planId: result.plan.planId,
              command: result.plan.command,
              requestedBy: result.plan.requestedBy.id,
              document: result.plan.document,
            },
          });
        else {
          out(
            [
              `Approved plan ${result.plan.planId.slice(0, 12)} for ${result.plan.requestedBy.id}: ${result.plan.command.text}`,
              `Valid until ${result.approval.expiresAt} (${formatDuration(ttl)}) for ${uses === 1 ? "one execution" : `${uses} executions`}, only for this exact plan; approval ${result.approval.id} (revoke: lifeline revoke ${result.approval.id})`,
            ].join("\n"),
          );
        }
      },
    );

  program
    .command("show")
    .description(
      "Show a recorded plan as `plan` printed it (what it destroys, the cascade, rows, recoverability, requirements), with its approvals, their uses, and its executions.",
    )
    .argument("<planId>", "the plan id, or a unique prefix of at least 8 characters")
    .option(
      "--json",
      "print one JSON document on stdout: the stored plan document, approvals, uses, executions",
    )
    .addHelpText(
      "after",
      `
Examples:
  lifeline show 7f3a9c01d2e4
  lifeline show 7f3a9c01 --json | jq .approvals

Exit codes: 0 shown; 2 no such plan (or the prefix is ambiguous).
`,
    )
    .action(async (planId: string, _opts, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const shown = await withCatalog(loaded, async (catalog) => {
        const plan = await findRecordedPlan(catalog, planId);
        const [vouched, executions, uses] = await Promise.all([
          vouchedApprovalsFor(catalog, plan.planId),
          catalog.executionsFor(plan.planId),
          catalog.audit({ kind: "use", planId: plan.planId }),
        ]);
        return { plan, vouched, executions, uses };
      });
      const { plan, vouched, executions, uses } = shown;
      const now = Date.now();
      const approvals = [
        ...vouched.approvals.map((a) => ({ approval: a, counts: true, why: null as string | null })),
        ...vouched.forged.map((f) => ({ approval: f.approval, counts: false, why: f.why })),
      ].map(({ approval: a, counts, why }) => {
        const used = vouched.used.get(a.id) ?? 0;
        const state = !counts
          ? (why ?? "does not count")
          : a.revokedAt !== null
            ? `revoked${a.revokedBy ? ` by ${a.revokedBy}` : ""}`
            : Date.parse(a.expiresAt) <= now
              ? "expired"
              : used >= usesOf(a.uses)
                ? "used"
                : "valid";
        return {
          id: a.id,
          by: a.approver.id,
          comment: a.comment,
          createdAt: a.createdAt,
          expiresAt: a.expiresAt,
          uses: usesOf(a.uses),
          used,
          revokedAt: a.revokedAt,
          state,
        };
      });
      if (options.json) {
        json({
          planId: plan.planId,
          requestedBy: plan.requestedBy,
          createdAt: plan.createdAt,
          command: plan.command,
          plan: plan.document,
          approvals,
          uses: uses.map((u) => ({
            seq: u.seq,
            at: u.at,
            approval: u.data.approval ?? null,
            by: u.identity,
          })),
          executions,
        });
        return;
      }
      out(renderShown(plan, approvals, executions));
    });

  program
    .command("revoke")
    .description("Withdraw an approval before it is used.")
    .argument("<approvalId>", "the approval id printed by `lifeline approve`")
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", "\nExample:\n  lifeline revoke apr-3f9a0c1b2d4e\n")
    .action(async (id: string, _opts, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const approval = await withCatalog(loaded, async (catalog) =>
        revoke(await gateDeps(loaded, catalog), id),
      );
      if (options.json) json({ approval });
      else
        out(
          `Revoked approval ${approval.id} of plan ${approval.planId.slice(0, 12)} (given by ${approval.approver.id})`,
        );
    });

  program
    .command("break-glass")
    .description(
      "For an incident: let yourself run on one asset without approvals, for a bounded time, with a reason. Loudly recorded and announced; it never skips the plan or the record.",
    )
    .option("--asset <asset>", "the asset")
    .option("--for <duration>", "how long (at most breakGlass.max, default 1h)")
    .option("--reason <text>", "the incident and what you will do")
    .option("--end <grantId>", "end a grant before its time (its id is in `lifeline status`)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      '\nExample:\n  lifeline break-glass --asset shop --for 30m --reason "INC-4411 restore"\n',
    )
    .action(
      async (opts: { asset?: string; for?: string; reason?: string; end?: string }, command: Command) => {
        const options = env.globals(command);
        const loaded = load(options);
        if (opts.end) {
          const ended = await withCatalog(loaded, async (catalog) =>
            endBreakGlass(await gateDeps(loaded, catalog), opts.end ?? ""),
          );
          if (options.json) json({ breakGlass: ended });
          else out(`Ended break-glass ${ended.id} on ${ended.asset} for ${ended.identity}.`);
          return;
        }
        if (!opts.asset || !opts.for || !opts.reason) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: "break-glass needs --asset, --for and --reason (or --end ID)",
            fix: 'lifeline break-glass --asset shop --for 30m --reason "INC-4411 restore"',
          });
        }
        resolveAsset(loaded, opts.asset);
        const seconds = parseDuration(opts.for);
        const max = parseDuration(loaded.config.breakGlass.max) ?? 3600;
        if (seconds === undefined) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--for ${opts.for}: not a duration`,
            fix: "write it like 30m",
          });
        }
        const asset = opts.asset;
        const reason = opts.reason;
        const grant = await withCatalog(loaded, async (catalog) =>
          breakGlass(await gateDeps(loaded, catalog), { asset, seconds, maxSeconds: max, reason }),
        );
        if (options.json) json({ breakGlass: grant });
        else
          out(
            `BREAK-GLASS ${grant.id}: ${grant.identity} may run on ${grant.asset} without approvals until ${grant.expiresAt}. Everything is still planned and recorded. End it early: lifeline break-glass --end ${grant.id}`,
          );
      },
    );

  const audit = program
    .command("audit")
    .description("The audit log: every plan, approval, execution and break-glass, hash-chained.")
    .option("--asset <asset>", "only this asset")
    .option("--identity <id>", "only this person")
    .option(
      "--kind <kind>",
      "plan, approve, use, revoke, run, break-glass, break-glass-revoke, prepare, notify-failed",
    )
    .option("--since <when>", "ISO time, or a duration ago (24h)")
    .option("--limit <n>", "at most n entries (the newest)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", "\nExamples:\n  lifeline audit --asset shop --since 24h\n  lifeline audit verify\n")
    .action(
      async (
        opts: { asset?: string; identity?: string; kind?: string; since?: string; limit?: string },
        command: Command,
      ) => {
        const options = env.globals(command);
        const loaded = load(options);
        const ago = opts.since ? parseDuration(opts.since) : undefined;
        const sinceDate = opts.since
          ? ago !== undefined
            ? new Date(Date.now() - ago * 1000)
            : new Date(opts.since)
          : null;
        if (sinceDate && Number.isNaN(sinceDate.getTime())) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--since ${opts.since}: neither a duration nor a time`,
            fix: "write a duration ago (24h, 7d) or an ISO time (2026-11-26T09:00:00Z)",
          });
        }
        const since = sinceDate?.toISOString();
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--limit ${opts.limit}: not a positive whole number`,
            fix: "e.g. --limit 50",
          });
        }
        if (opts.kind !== undefined && !AUDIT_KINDS.includes(opts.kind as AuditKind)) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--kind ${opts.kind}: not a kind of audit entry`,
            fix: `one of: ${AUDIT_KINDS.join(", ")}`,
          });
        }
        const entries = await withCatalog(loaded, (c) =>
          c.audit({
            ...(opts.asset ? { asset: opts.asset } : {}),
            ...(opts.identity ? { identity: opts.identity } : {}),
            ...(opts.kind ? { kind: opts.kind as AuditKind } : {}),
            ...(since ? { since } : {}),
          }),
        );
        const limited = limit ? entries.slice(-limit) : entries;
        if (options.json) json({ entries: limited });
        else out(limited.length === 0 ? "No audit entries." : renderAuditTable(limited));
        const damaged = limited.filter((e) => e.damaged !== undefined);
        if (damaged.length > 0)
          err(
            `lifeline: warning: ${damaged.length} audit entr${damaged.length === 1 ? "y is" : "ies are"} damaged (${damaged.map((e) => e.seq).join(", ")}): run lifeline audit verify`,
          );
      },
    );

  audit
    .command("verify")
    .description("Recompute the hash chain and report the first broken link.")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  lifeline audit verify\n\nExit codes: 0 the chain holds; 4 it is broken.\n",
    )
    .action(async (_opts, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const [entries, head] = await withCatalog(loaded, async (c) => Promise.all([c.audit(), c.auditHead()]));
      // The same hash the catalog chains its entries with.
      const { sha256hex } = await import("../catalog/index.js");
      const verdict = verifyChain(sha256hex, entries, head);
      if (head === null && entries.length > 0) {
        // Every append records the head: entries without one means it was removed or zeroed.
        verdict.ok = false;
        verdict.breaks.push({
          seq: entries[entries.length - 1]?.seq ?? 0,
          problem: "the head record of the log is missing: the newest entries may have been removed",
        });
      }
      if (options.json) json(verdict);
      else if (verdict.ok) out(`The audit chain holds: ${verdict.entries} entries.`);
      else
        out(
          [
            `The audit chain is BROKEN (${verdict.entries} entries):`,
            ...verdict.breaks.map((b) => `  entry ${b.seq}: ${b.problem}`),
          ].join("\n"),
        );
      if (!verdict.ok) env.setExit(EXIT_CODES.verification);
    });
}

function renderShown(
  plan: PlanRecord,
  approvals: {
    id: string;
    by: string;
    comment: string | null;
    expiresAt: string;
    uses: number;
    used: number;
    state: string;
  }[],
  executions: {
    id: string;
    identity: { id: string };
    startedAt: string;
    result: string;
    statements?: StatementResult[];
    detail: string | null;
  }[],
): string {
  const lines = [renderStoredPlan(plan), "", `Requested by ${plan.requestedBy.id} at ${plan.createdAt}`];
  lines.push("", "Approvals");
  if (approvals.length === 0)
    lines.push(`  none yet: another person runs lifeline approve ${plan.planId.slice(0, 12)}`);
  for (const a of approvals)
    lines.push(
      `  ${a.id} by ${a.by}: ${a.state} (${a.used} of ${a.uses} use${a.uses === 1 ? "" : "s"} taken), until ${a.expiresAt}${a.comment ? ` ("${a.comment}")` : ""}`,
    );
  lines.push("", "Executions");
  if (executions.length === 0) lines.push("  none");
  for (const e of executions) {
    lines.push(
      `  ${e.id} ${e.startedAt} by ${e.identity.id}: ${e.result}${e.detail ? ` — ${e.detail}` : ""}`,
    );
    lines.push(...renderStatements(e.statements).map((l) => `  ${l}`));
  }
  return lines.join("\n");
}

/**
 * `plan` records the plan it shows when it asks for an approval, so that the approver's path from
 * its output works (plan → approve → run); read-only for the database, one catalog row and its
 * audit entry. Without a lifeline.yaml there is no catalog: the plan then says how to get one
 * instead of naming an approve command that cannot work. Returns the plan to print.
 */
export async function recordShownPlan(loaded: LoadedConfig | null, plan: Plan): Promise<Plan> {
  const approvals = plan.requirements.find((r) => r.kind === "approvals" && !r.met);
  if (!approvals) return plan;
  const instead = (why: string, fix: string): Plan => ({
    ...plan,
    requirements: plan.requirements.map((r) =>
      r === approvals ? { ...r, detail: `${r.detail}; ${why}`, fix } : r,
    ),
  });
  if (!loaded) {
    return instead(
      "there is no lifeline.yaml, so no catalog to record the plan and its approvals in",
      "write a lifeline.yaml (lifeline init, or a catalog: and the assets' kubernetes: bindings), then plan again: the plan is recorded and another person runs lifeline approve <plan id>",
    );
  }
  try {
    const identity = await currentIdentity();
    await withCatalog(loaded, (catalog) =>
      recordPlan(
        { catalog, identity, clock: systemClock, notify: async () => [], warn: () => undefined },
        plan,
        planJson(plan),
      ),
    );
    return plan;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    err(`lifeline: warning: the plan could not be recorded for approval: ${message}`);
    return instead(
      "the plan could not be recorded in the catalog",
      "make the catalog reachable and plan again, or use lifeline run (it records the plan too); then another person runs lifeline approve <plan id>",
    );
  }
}
