/**
 * `lifeline demo`: the main job on an embedded PostgreSQL holding the shop database (shop.ts), then
 * the incident on a simulated Kubernetes cluster (cluster/), planned, gated and audited, then a loss
 * and its recovery (recovery.ts: a standby, the lost table restored through the gate). Loaded on
 * use by the CLI (a dynamic import), so other commands never load the simulated cluster.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { DrillReport } from "../core/drill/drill.js";
import type { Posture } from "../core/posture/posture.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import { engineFor } from "../engines/index.js";
import { systemClock } from "../ports/clock.js";
import type { Progress } from "../ports/engine.js";
import type { CheckResult } from "../ports/repository.js";
import type { ScratchInstance } from "../ports/scratch.js";
import { LocalRepository } from "../repository/local-fs/index.js";
import { embeddedScratch } from "../scratch/embedded-postgres/index.js";
import { backup } from "../app/backup.js";
import type { AppContext } from "../app/context.js";
import { drill } from "../app/drill.js";
import { status } from "../app/status.js";
import type { Plan } from "../core/plan/plan.js";
import { plan } from "../app/plan.js";
import { DEFAULT_POLICY, type PolicyRule } from "../core/plan/policy.js";
import { KubernetesCluster } from "../kubernetes/cluster.js";
import { readManifests } from "../kubernetes/manifests.js";
import { SIMULATED, startSimulatedCluster, type SimulatedCluster } from "./cluster/index.js";
import { planCommand } from "../app/plan-command.js";
import { approve } from "../app/approve.js";
import type { GateDeps } from "../app/gate.js";
import { run as guardedRun, type RunOutcome } from "../app/run.js";
import type { Approval } from "../core/approval/approval.js";
import { verifyChain, type ChainVerdict } from "../core/audit/chain.js";
import { applyProtect, planProtect, type ProtectPlan } from "../app/k8s.js";
import { SHOP_NEW_ORDERS, SHOP_SCHEMA, SHOP_STOCK_UPDATES } from "./shop.js";
import { DEMO_LOSS_SQL, DEMO_RESTORE_TABLES, recoverySteps, type DemoRecovery } from "./recovery.js";
import { watcher } from "../app/watch.js";
import { DEFAULT_THRESHOLDS } from "../core/watch/detect.js";
import { startWatch } from "../serve/watch.js";
import type { Catalog } from "../ports/catalog.js";

export const DEMO_PLAN_SQL = "DROP TABLE products CASCADE";

/** What the demo runs through the gate, and who asks and who approves (simulated identities). */
export const DEMO_GATE_SQL = "DELETE FROM orders WHERE status = 'cancelled'";
export const DEMO_REQUESTER = "alice@shop.example";
export const DEMO_APPROVER = "bob@shop.example";

/** The command of the incident lifeline comes from, against the simulated cluster. */
export const DEMO_K8S_COMMAND = ["kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", SIMULATED.namespace];

/**
 * The default policy, plus: on production, deleting a volume that can be recovered still needs a
 * verified restore point (the volume comes back, but lifeline has proven only the restore point).
 */
export const DEMO_POLICY: PolicyRule[] = [
  ...DEFAULT_POLICY,
  {
    name: "production-volumes",
    match: {
      tier: ["production"],
      dataLoss: ["recoverable"],
      kind: ["delete-pvc", "delete-pv", "delete-namespace", "helm-uninstall"],
    },
    require: { verifiedRestorePointMaxAgeSeconds: "rpo" },
  },
];

/** The demo's watch interval: short, so that the demo stays fast (lifeline serve: 30s by default). */
export const DEMO_WATCH_INTERVAL_MS = 250;

/** What lifeline serve's watch did about the loss in the demo. */
export interface DemoWatch {
  intervalMs: number;
  /** Time from the loss to the alert (null: no alert came). */
  noticedAfterMs: number | null;
  /**
   * Watch rounds that started after the loss and ended before the alert came: 0 when the round in
   * progress at the loss, or the first one after it, noticed (null: no alert came).
   */
  roundsMissed: number | null;
  /** What the watch logged as a warning or an error while the demo waited (why it did not notice). */
  problems: string[];
  /** The alert as it reached the (simulated) Slack channel. */
  alert: string | null;
  /** The "resolved" message after the restore (null: none came). */
  resolved: string | null;
}

/** One thing the demo expects of a step, and whether it happened. */
export interface DemoExpectation {
  step: string;
  expected: string;
  ok: boolean;
  /** What happened instead (null when ok). */
  actual: string | null;
}

export interface DemoResult {
  /** Every step did what the demo expects (the exit code says so). */
  ok: boolean;
  expectations: DemoExpectation[];
  serverVersion: string;
  /** What the shop did after the backup, as the database counted it. */
  activity: { newOrders: number; stockUpdates: number };
  manifest: Manifest;
  drill: DrillReport;
  posture: Posture;
  check: CheckResult;
  plan: Plan;
  k8s: { before: Plan; protect: ProtectPlan; after: Plan };
  gate: {
    blocked: RunOutcome;
    approval: Approval;
    executed: RunOutcome;
    chain: ChainVerdict;
    entries: number;
    /** The audit entries as recorded, in order: their kind, and the run's status for runs. */
    recorded: string[];
  };
  /** The volumes k8s protect changed (of protect.changes). */
  protected: number;
  /** After the gate: the loss, the standby, the restore of the lost table. */
  recovery: DemoRecovery;
  /** The watch: the loss noticed by lifeline within one interval, resolved after the restore. */
  watch: DemoWatch;
  /** The audit chain at the end (the gate's entries, then the recovery's). */
  audit: { chain: ChainVerdict; entries: number; recorded: string[] };
  json: unknown;
}

export async function demo(options: {
  signal: AbortSignal;
  progress: Progress;
  pgBin?: string;
}): Promise<DemoResult> {
  const { signal, progress } = options;
  const workdir = await mkdtemp(path.join(os.tmpdir(), "lifeline-demo-"));
  const pgBin = options.pgBin ?? process.env.LIFELINE_PG_BIN;
  let source: ScratchInstance | undefined;
  let cluster: SimulatedCluster | undefined;
  let catalog: Catalog | undefined;
  try {
    progress.phase("starting an embedded PostgreSQL with a small shop database");
    source = await embeddedScratch().provision({ minMajor: 0, encoding: "UTF8", signal, database: "shop" });
    const sourceTarget = source.target;
    const run = async (sql: string): Promise<number> => {
      const client = new pg.Client({ connectionString: sourceTarget.url });
      await client.connect();
      try {
        const result = await client.query(sql);
        return Array.isArray(result) ? 0 : (result.rowCount ?? 0);
      } finally {
        await client.end();
      }
    };
    await run(SHOP_SCHEMA);
    // A restore into a live server works from its maintenance database (postgres), which a real server
    // has and the throwaway one (only template0 and shop) does not.
    await run("CREATE DATABASE postgres TEMPLATE template0");

    const repository = new LocalRepository(path.join(workdir, "repository"));
    const ctx: AppContext = {
      engine: (name) => engineFor(name, { postgres: pgBin ? { pgBin } : {} }),
      repository,
      scratch: () => embeddedScratch(),
      clock: systemClock,
      progress,
      signal,
      backup: { jobs: 2, compression: 1 },
    };
    const asset: ResolvedAsset = {
      name: "shop",
      engine: "postgres",
      url: sourceTarget.url,
      tier: "production",
      rpoSeconds: 86400,
      kubernetes: null,
      scratch: "embedded",
      drillJobs: 2,
    };
    progress.phase("taking a restore point");
    const manifest = await backup(ctx, asset);
    const activity = {
      newOrders: await run(SHOP_NEW_ORDERS),
      stockUpdates: await run(SHOP_STOCK_UPDATES),
    };
    progress.phase("drilling the restore point");
    const report = await drill(ctx, asset);
    const [posture] = await status(ctx, [
      { name: "shop", asset, tier: "production", rpoSeconds: 86400, resolveError: null },
    ]);
    const check = await repository.check();
    if (!posture) throw new Error("no posture");

    // The merchant platform's feed job is connected while someone considers dropping products.
    progress.phase("planning DROP TABLE products CASCADE");
    const feed = new pg.Client({
      connectionString: sourceTarget.url,
      application_name: "merchant-feed-generator",
    });
    await feed.connect();
    let dropPlan: Plan;
    try {
      await feed.query("SELECT count(*) FROM merchant_feed");
      dropPlan = await plan(ctx, asset, DEMO_PLAN_SQL, { exact: false, policy: DEFAULT_POLICY });
    } finally {
      await feed.end();
    }

    // The incident itself, on a simulated Kubernetes cluster (an in-process fake of the API): the
    // shop's database runs as a Bitnami PostgreSQL release whose volumes reclaim with Delete.
    progress.phase("planning kubectl delete pvc on a simulated Kubernetes cluster");
    cluster = await startSimulatedCluster();
    const kubeconfig = path.join(workdir, "kubeconfig");
    await cluster.writeKubeconfig(kubeconfig);
    const bound: ResolvedAsset = {
      ...asset,
      kubernetes: {
        namespace: SIMULATED.namespace,
        release: SIMULATED.postgresRelease,
        pvcSelector: null,
        context: null,
      },
    };
    const k8sDeps = {
      ctx,
      cluster: (selection: { kubeconfig: string | null; context: string | null }) =>
        new KubernetesCluster(selection, {}),
      readManifests: (files: readonly string[], recursive: boolean) =>
        readManifests(files, recursive, workdir),
      signal,
      stateDir: path.join(workdir, "state"),
    };
    const k8sOptions = {
      assets: [bound],
      policy: DEMO_POLICY,
      kubernetes: { kubeconfig, context: null, clusterDomain: "cluster.local" },
    };
    const before = await planCommand(k8sDeps, DEMO_K8S_COMMAND, k8sOptions);
    progress.phase("lifeline k8s protect shop (simulated cluster)");
    const protection = await planProtect(k8sDeps, { ...k8sOptions, asset: "shop", undo: false });
    const protectedVolumes = await applyProtect(k8sDeps, protection.plan, protection.cluster);
    const after = await planCommand(k8sDeps, DEMO_K8S_COMMAND, k8sOptions);

    // The gate: alice asks, the policy wants another person; bob approves this exact plan; alice runs it.
    progress.phase(`the gate: ${DEMO_GATE_SQL}`);
    const { openCatalog } = await import("../catalog/index.js");
    const gateCatalog = await openCatalog(path.join(workdir, "catalog.sqlite"));
    catalog = gateCatalog;
    const deps = (who: string): GateDeps => ({
      catalog: gateCatalog,
      identity: { id: who, source: "env", host: "demo", authenticated: false },
      clock: systemClock,
      notify: async () => [],
      warn: () => undefined,
    });
    const runInput = {
      planner: () => plan(ctx, asset, DEMO_GATE_SQL, { exact: true, policy: DEFAULT_POLICY }),
      document: (p: Plan) => ({ planId: p.planId, verdict: p.verdict, command: p.command }),
      executor: async () => {
        const engine = ctx.engine(asset.engine);
        await engine.sql?.execute(engine.target(asset.url), DEMO_GATE_SQL, signal);
        return { exitCode: 0 };
      },
      dryRun: false,
    };
    const blocked = await guardedRun(deps(DEMO_REQUESTER), runInput);
    const approval = await approve(deps(DEMO_APPROVER), {
      planId: blocked.plan.planId,
      comment: "cancelled orders are archived in the warehouse",
      ttlSeconds: 3600,
    });
    const executed = await guardedRun(deps(DEMO_REQUESTER), runInput);
    const { sha256hex } = await import("../catalog/index.js");
    const auditTrail = async () => {
      const [entries, head] = await Promise.all([gateCatalog.audit(), gateCatalog.auditHead()]);
      return {
        chain: verifyChain(sha256hex, entries, head),
        entries: entries.length,
        recorded: entries.map((e) =>
          typeof e.data.status === "string" ? `${e.kind} (${e.data.status})` : e.kind,
        ),
      };
    };
    const trail = await auditTrail();
    const gate: DemoResult["gate"] = {
      blocked,
      approval: approval.approval,
      executed,
      ...trail,
    };

    // lifeline serve's watch over the shop, as it runs in the server (a short interval, so that the
    // demo stays fast); its messages go to a simulated Slack channel.
    const channel: { text: string; at: number }[] = [];
    const problems: string[] = [];
    const logProblem = (level: string, event: string, fields: Record<string, unknown>) => {
      if (level !== "info" && event !== "alert" && problems.length < 20)
        problems.push(`${event} ${JSON.stringify(fields)}`);
    };
    const shopWatch = watcher(
      {
        ctx,
        catalog: async () => gateCatalog,
        cluster: null,
        notify: async (message) => {
          channel.push({ text: message.text, at: performance.now() });
          return [];
        },
        host: "demo",
        log: (level, event, fields) => logProblem(level, event, fields ?? {}),
      },
      [asset],
      { thresholds: DEFAULT_THRESHOLDS },
    );
    await shopWatch.round(signal);
    // The rounds as they end (when each started, when it ended): a loss is noticed by the first round
    // that samples after it, however long rounds take on a loaded machine.
    const rounds: { start: number; end: number }[] = [];
    const watching = startWatch({
      watcher: shopWatch,
      intervalMs: DEMO_WATCH_INTERVAL_MS,
      log: { log: (level, event, fields) => logProblem(level, event, fields ?? {}) },
      onRound: (round) => {
        const end = performance.now();
        rounds.push({ start: end - round.ms, end });
      },
    });
    const watch: DemoWatch = {
      intervalMs: DEMO_WATCH_INTERVAL_MS,
      noticedAfterMs: null,
      roundsMissed: null,
      alert: null,
      resolved: null,
      problems,
    };
    /**
     * The first message that passes test, waiting while fewer than three rounds that started after
     * `since` have ended (a round in progress at `since` may have sampled before it), at most a minute.
     */
    const waitFor = async (test: (text: string) => boolean, since: number) => {
      const end = performance.now() + 60_000;
      for (;;) {
        const found = channel.find((m) => test(m.text));
        const after = rounds.filter((r) => r.start >= since);
        if (found) return { ...found, roundsMissed: after.filter((r) => r.end <= found.at).length };
        if (after.length >= 3 || performance.now() > end || signal.aborted) return null;
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    let recovery: DemoRecovery;
    let lossAt = performance.now();
    try {
      recovery = await recoverySteps({
        ctx,
        asset,
        manifest,
        deps,
        requester: DEMO_REQUESTER,
        approver: DEMO_APPROVER,
        source: sourceTarget,
        afterLoss: async () => {
          lossAt = performance.now();
          progress.phase("lifeline serve's watch");
          const alert = await waitFor((t) => t.startsWith(":rotating_light:"), lossAt);
          if (alert) {
            watch.alert = alert.text;
            watch.noticedAfterMs = Math.max(0, Math.round(alert.at - lossAt));
            watch.roundsMissed = alert.roundsMissed;
          }
        },
      });
      // The restore is done: the rounds that start from now on sample the table back.
      const resolved = await waitFor(
        (t) => t.startsWith(":white_check_mark:"),
        Math.max(lossAt, performance.now()),
      );
      watch.resolved = resolved?.text ?? null;
    } finally {
      await watching.stop();
    }
    // The whole chain again: the loss, the standby and the restore are recorded like the gate's runs.
    const finalAudit = await auditTrail();
    const expectations = demoExpectations({
      activity,
      drill: report.result,
      changesNotCovered: posture.changesNotCovered?.rows ?? null,
      checkProblems: check.findings.length,
      dropVerdict: dropPlan.verdict,
      k8sBefore: before.verdict,
      protectChanges: protection.plan.changes.length,
      protectedVolumes: protectedVolumes.length,
      k8sAfter: { verdict: after.verdict, dataLoss: after.operations[0]?.dataLoss ?? null },
      blocked: gate.blocked.status,
      executed: gate.executed.status,
      chainOk: gate.chain.ok,
      watch: {
        intervalMs: watch.intervalMs,
        noticedAfterMs: watch.noticedAfterMs,
        roundsMissed: watch.roundsMissed,
        alert: watch.alert,
        resolved: watch.resolved,
        problems: watch.problems,
      },
      recovery: {
        loss: recovery.loss.executed.status,
        feedBefore: recovery.feedBefore.rows,
        feedBroken: recovery.feedBroken.ok,
        standbyVerified: recovery.standby.result.verified,
        standbyFeed: recovery.standby.feed.rows,
        standbyWriteFailed: recovery.standby.write.failed,
        restoreVerified: recovery.restore.result.verified,
        restored: recovery.restore.result.tables,
        feedAfter: recovery.feedAfter.rows,
        orders: recovery.orders,
        audit: { chainOk: finalAudit.chain.ok, recorded: finalAudit.recorded },
      },
    });
    const ok = expectations.every((e) => e.ok);
    return {
      ok,
      expectations,
      serverVersion: source.serverVersion,
      activity,
      protected: protectedVolumes.length,
      manifest,
      drill: report,
      posture,
      check,
      plan: dropPlan,
      k8s: { before, protect: protection.plan, after },
      gate,
      recovery,
      watch,
      audit: finalAudit,
      json: {
        demo: {
          ok,
          unexpected: expectations.filter((e) => !e.ok),
          serverVersion: source.serverVersion,
          activity,
          restorePoint: {
            id: manifest.id,
            snapshotTime: manifest.snapshotTime,
            tables: manifest.fingerprints.tables.length,
          },
          drill: {
            result: report.result,
            restoreSeconds: report.restoreSeconds,
            verifySeconds: report.verifySeconds,
            mismatches: report.mismatches,
          },
          status: posture,
          check: { ok: check.findings.length === 0, findings: check.findings },
          plan: {
            sql: DEMO_PLAN_SQL,
            planId: dropPlan.planId,
            verdict: dropPlan.verdict,
            requirements: dropPlan.requirements,
          },
          gate: {
            sql: DEMO_GATE_SQL,
            blocked: { status: gate.blocked.status, planId: gate.blocked.plan.planId },
            approval: { id: gate.approval.id, by: gate.approval.approver.id },
            executed: { status: gate.executed.status, execution: gate.executed.execution.id },
            auditChain: gate.chain,
            recorded: gate.recorded,
          },
          kubernetes: {
            simulated: true,
            command: before.command.text,
            before: {
              planId: before.planId,
              verdict: before.verdict,
              dataLoss: before.operations[0]?.dataLoss ?? null,
              requirements: before.requirements,
            },
            protect: protection.plan.changes,
            protected: protectedVolumes.length,
            after: {
              planId: after.planId,
              verdict: after.verdict,
              dataLoss: after.operations[0]?.dataLoss ?? null,
              requirements: after.requirements,
            },
          },
          loss: {
            sql: DEMO_LOSS_SQL,
            planId: recovery.loss.executed.plan.planId,
            approval: { id: recovery.loss.approval.id, by: recovery.loss.approval.approver.id },
            status: recovery.loss.executed.status,
            seconds: recovery.loss.seconds,
            feedBefore: recovery.feedBefore,
            feedAfterLoss: recovery.feedBroken,
          },
          watch,
          standby: {
            url: recovery.standby.url,
            database: recovery.standby.result.database,
            restorePointId: recovery.standby.result.restorePointId,
            seconds: recovery.standby.seconds,
            restoreSeconds: recovery.standby.result.restoreSeconds,
            verifySeconds: recovery.standby.result.verifySeconds,
            verified: recovery.standby.result.verified,
            tables: recovery.standby.result.tables,
            rows: recovery.standby.result.rows,
            feed: recovery.standby.feed,
            write: recovery.standby.write,
          },
          restore: {
            tables: recovery.restore.result.tables,
            requested: DEMO_RESTORE_TABLES,
            gate: recovery.restore.gate
              ? {
                  planId: recovery.restore.gate.plan.planId,
                  verdict: recovery.restore.gate.plan.verdict,
                  status: recovery.restore.gate.status,
                }
              : null,
            rows: recovery.restore.result.rows,
            seconds: recovery.restore.seconds,
            restoreSeconds: recovery.restore.result.restoreSeconds,
            verifySeconds: recovery.restore.result.verifySeconds,
            verified: recovery.restore.result.verified,
            mismatches: recovery.restore.result.mismatches,
            foreignKeys: recovery.restore.result.foreignKeys,
            viewBack: recovery.restore.viewBack,
            feed: recovery.feedAfter,
            orders: recovery.orders,
          },
          audit: { chain: finalAudit.chain, entries: finalAudit.entries, recorded: finalAudit.recorded },
        },
      },
    };
  } finally {
    progress.phase("cleaning up");
    await catalog?.close();
    await cluster?.close();
    await source?.teardown();
    await rm(workdir, { recursive: true, force: true });
  }
}

/** What the demo's steps did, in the few facts its expectations look at. */
export interface DemoFacts {
  activity: { newOrders: number; stockUpdates: number };
  drill: string;
  changesNotCovered: number | null;
  checkProblems: number;
  dropVerdict: string;
  k8sBefore: string;
  protectChanges: number;
  protectedVolumes: number;
  k8sAfter: { verdict: string; dataLoss: string | null };
  blocked: string;
  executed: string;
  chainOk: boolean;
  /** The demo's watch (absent: facts from before the watch was part of the demo). */
  watch?: Pick<DemoWatch, "intervalMs" | "noticedAfterMs" | "alert" | "resolved"> &
    Partial<Pick<DemoWatch, "roundsMissed" | "problems">>;
  recovery: {
    loss: string;
    feedBefore: number | null;
    feedBroken: boolean;
    standbyVerified: boolean;
    standbyFeed: number | null;
    standbyWriteFailed: boolean;
    restoreVerified: boolean;
    restored: readonly string[];
    feedAfter: number | null;
    orders: { before: number; after: number };
    audit: { chainOk: boolean; recorded: readonly string[] };
  };
}

/** What each step of the demo must do; any that did not makes the demo fail (non-zero exit). */
export function demoExpectations(f: DemoFacts): DemoExpectation[] {
  const changes = f.activity.newOrders + f.activity.stockUpdates;
  const expect = (step: string, expected: string, ok: boolean, actual: string): DemoExpectation => ({
    step,
    expected,
    ok,
    actual: ok ? null : actual,
  });
  return [
    expect(
      "activity",
      "the shop changes rows after the backup",
      f.activity.newOrders > 0 && f.activity.stockUpdates > 0,
      `${f.activity.newOrders} new orders, ${f.activity.stockUpdates} stock updates`,
    ),
    expect("drill", "the drill passes", f.drill === "passed", `the drill ${f.drill}`),
    expect(
      "status",
      `status counts the ${changes} row changes made after the restore point`,
      f.changesNotCovered === changes,
      f.changesNotCovered === null ? "changes not counted" : `${f.changesNotCovered} row changes`,
    ),
    expect("check", "the repository check is clean", f.checkProblems === 0, `${f.checkProblems} problems`),
    expect(
      "plan",
      "DROP TABLE on production needs approval (verdict require)",
      f.dropVerdict === "require",
      `verdict ${f.dropVerdict}`,
    ),
    expect(
      "kubernetes",
      "deleting an unprotected volume needs approval (verdict require)",
      f.k8sBefore === "require",
      `verdict ${f.k8sBefore}`,
    ),
    expect(
      "k8s protect",
      "protect changes every volume it plans to",
      f.protectChanges > 0 && f.protectedVolumes === f.protectChanges,
      `${f.protectedVolumes} of ${f.protectChanges} volumes changed`,
    ),
    expect(
      "kubernetes",
      "after protect, deleting the claim is recoverable and allowed",
      f.k8sAfter.verdict === "allow" && f.k8sAfter.dataLoss === "recoverable",
      `verdict ${f.k8sAfter.verdict}, data loss ${f.k8sAfter.dataLoss ?? "unknown"}`,
    ),
    expect(
      "gate",
      "the run without approval is blocked",
      f.blocked === "blocked",
      `the run was ${f.blocked}`,
    ),
    expect("gate", "the approved run executes", f.executed === "executed", `the run was ${f.executed}`),
    expect("audit", "the audit chain holds", f.chainOk, "the audit chain is broken"),
    expect(
      "loss",
      "the approved DROP TABLE executes",
      f.recovery.loss === "executed",
      `the run was ${f.recovery.loss}`,
    ),
    expect(
      "loss",
      "the merchant feed fails after the drop",
      f.recovery.feedBroken === false,
      "the merchant feed still answers",
    ),
    ...(f.watch
      ? [
          expect(
            "watch",
            "lifeline notices the loss in the first watch round after it, naming the dependents and the restore command",
            f.watch.noticedAfterMs !== null &&
              // The round in progress at the loss, or the first that started after it.
              (f.watch.roundsMissed ?? 0) === 0 &&
              /merchant_feed/.test(f.watch.alert ?? "") &&
              /lifeline restore shop --tables public\.products/.test(f.watch.alert ?? ""),
            (f.watch.noticedAfterMs === null
              ? "no alert came within three rounds after the loss"
              : `the alert came after ${f.watch.noticedAfterMs} ms, ${f.watch.roundsMissed ?? 0} round(s) after the loss missed it: ${f.watch.alert ?? ""}`) +
              watchProblems(f.watch.problems),
          ),
          expect(
            "watch",
            "the alert is resolved after the restore",
            f.watch.resolved !== null,
            "no resolved message came within three rounds after the restore" +
              watchProblems(f.watch.problems),
          ),
        ]
      : []),
    expect(
      "standby",
      "the standby is verified and serves the merchant feed",
      f.recovery.standbyVerified && f.recovery.standbyFeed === f.recovery.feedBefore,
      `verified ${f.recovery.standbyVerified}, feed ${f.recovery.standbyFeed ?? "failed"}`,
    ),
    expect("standby", "a write into the standby fails", f.recovery.standbyWriteFailed, "the write succeeded"),
    expect(
      "restore",
      `${DEMO_RESTORE_TABLES.join(", ")} is restored and verified`,
      f.recovery.restoreVerified && DEMO_RESTORE_TABLES.every((t) => f.recovery.restored.includes(t)),
      `verified ${f.recovery.restoreVerified}, restored ${f.recovery.restored.join(", ") || "nothing"}`,
    ),
    expect(
      "restore",
      "the merchant feed answers again with every product",
      f.recovery.feedAfter !== null && f.recovery.feedAfter === f.recovery.feedBefore,
      `feed ${f.recovery.feedAfter ?? "failed"}, ${f.recovery.feedBefore ?? "failed"} before the loss`,
    ),
    expect(
      "restore",
      "the tables not restored are untouched",
      f.recovery.orders.before === f.recovery.orders.after,
      `orders ${f.recovery.orders.before} before, ${f.recovery.orders.after} after`,
    ),
    expect(
      "audit",
      "the chain holds with the standby and the restore recorded",
      f.recovery.audit.chainOk &&
        f.recovery.audit.recorded.includes("standby") &&
        f.recovery.audit.recorded.includes("restore"),
      f.recovery.audit.chainOk
        ? `recorded: ${f.recovery.audit.recorded.join(", ")}`
        : "the audit chain is broken",
    ),
  ];
}

/** The watch's warnings and errors, for an expectation that failed: why it did not notice. */
function watchProblems(problems: readonly string[] | undefined): string {
  return problems && problems.length > 0 ? `; the watch logged: ${problems.join("; ")}` : "";
}
