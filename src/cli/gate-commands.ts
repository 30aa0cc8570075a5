import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import {
  approve,
  breakGlass,
  endBreakGlass,
  revoke,
  run,
  type GateDeps,
  type RunOutcome,
} from "../app/gate.js";
import { plan as planSql, type Plan } from "../app/plan.js";
import { prepareSteps, runPrepare } from "../app/prepare.js";
import { AUDIT_KINDS, verifyChain, type AuditEntry, type AuditKind } from "../core/audit.js";
import { formatDuration, parseDuration } from "../core/duration.js";
import { EXIT_CODES, LifelineError } from "../core/errors.js";
import type { BreakGlass } from "../core/gate.js";
import { redactUrl, secrets } from "../core/redact.js";
import { interpolate, policyRules, type LoadedConfig } from "../config/load.js";
import { currentIdentity } from "../gate/identity.js";
import { notify } from "../gate/notify.js";
import { runChild } from "../gate/exec.js";
import type { Catalog } from "../ports/catalog.js";
import { systemClock } from "../ports/clock.js";
import { err, json, out, readSql, terminalProgress } from "./io.js";
import { planJson, renderPlan } from "./render-plan.js";
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
  } else {
    lines.push(
      `FAILED plan ${id} (${how})${outcome.exitCode !== null ? `: exit code ${outcome.exitCode}` : ""}; recorded as ${outcome.execution.id}`,
    );
    if (outcome.detail) lines.push(`  ${outcome.detail}`);
  }
  return lines.join("\n");
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

function auditLine(e: AuditEntry): string {
  const data = e.data as Record<string, unknown>;
  const what =
    typeof data.command === "string"
      ? data.command
      : typeof data.reason === "string"
        ? data.reason
        : typeof data.approval === "string"
          ? data.approval
          : "";
  const result = typeof data.result === "string" ? ` ${data.result}` : "";
  return `${String(e.seq).padStart(5)}  ${e.at.slice(0, 19).replace("T", " ")}  ${e.kind.padEnd(11)} ${e.identity}${e.asset ? ` ${e.asset}` : ""}${e.planId ? ` ${e.planId.slice(0, 12)}` : ""}${result}  ${what.slice(0, 80)}`;
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
    return await withCatalog(loaded, (c) => c.breakGlass({ activeAt: new Date().toISOString() }));
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
            await engine.sql.execute(engine.target(asset.url), sql, env.signal);
            return { exitCode: 0 };
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
      "Approve one exact plan (by its id) as a person other than the one who asked; valid for a bounded time.",
    )
    .argument(
      "<planId>",
      "the plan id (or a unique prefix of at least 8 characters) printed by `lifeline run`",
    )
    .option("-m, --comment <text>", "why it is fine (recorded and announced)")
    .option("--for <duration>", "how long the approval is valid (default: approvals.ttl, 1h)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Example:
  lifeline approve 7f3a9c01d2e4 --comment "checked with feed team"

Exit codes: 0 approved; 3 refused (you asked for this plan yourself); 2 usage error (no such plan).
`,
    )
    .action(async (planId: string, opts: { comment?: string; for?: string }, command: Command) => {
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
      const result = await withCatalog(loaded, async (catalog) =>
        approve(await gateDeps(loaded, catalog), { planId, comment: opts.comment ?? null, ttlSeconds: ttl }),
      );
      if (options.json)
        json({
          approval: result.approval,
          plan: {
            planId: result.plan.planId,
            command: result.plan.command,
            requestedBy: result.plan.requestedBy.id,
          },
        });
      else {
        const doc = result.plan.document as {
          operations?: { dataLoss?: string; target?: string | null; kind?: string }[];
        };
        out(
          [
            `Approved plan ${result.plan.planId.slice(0, 12)} for ${result.plan.requestedBy.id}: ${result.plan.command.text}`,
            ...(doc.operations ?? [])
              .slice(0, 10)
              .map((o) => `  ${String(o.dataLoss ?? "").toUpperCase()} ${o.kind ?? ""} ${o.target ?? ""}`),
            `Valid until ${result.approval.expiresAt} (${formatDuration(ttl)}), only for this exact plan; approval ${result.approval.id} (revoke: lifeline revoke ${result.approval.id})`,
          ].join("\n"),
        );
      }
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
    .option("--kind <kind>", "plan, approve, revoke, run, break-glass, prepare, notify-failed")
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
        else out(limited.length === 0 ? "No audit entries." : limited.map(auditLine).join("\n"));
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
