/**
 * `k8s protect --undo`: puts back the reclaim policies protect changed, through the gate. Setting a
 * volume's reclaim policy back to Delete removes a protection (on production, the admission webhook
 * denies the same patch from kubectl), so each volume is planned as the very kubectl command that
 * would do it (`lifeline plan -- kubectl patch pv …`, planCommand) and goes through run(): recorded,
 * judged by the policy with the catalog's approvals and break-glass grants, re-planned just before
 * the change, recorded again. All or nothing: unless every volume's plan is allowed, nothing changes.
 */
import type { ResolvedAsset } from "../config/load.js";
import type { Plan } from "../core/plan/plan.js";
import type { PolicyRule } from "../core/plan/policy.js";
import type { ClusterSelection } from "../ports/cluster.js";
import type { GateDeps } from "./gate.js";
import {
  planProtect,
  recordProtectChange,
  type K8sDeps,
  type K8sSettings,
  type ProtectChange,
  type ProtectPlan,
} from "./k8s.js";
import { planCommand, type CommandPlanDeps, type CommandPlanOptions } from "./plan-command.js";
import { run, type RunOutcome } from "./run.js";
import { unfinishedExecutions } from "../core/audit/runs.js";

/**
 * How long a run whose volume's plan another run is executing right now (it took the approval's
 * last use) waits for that run to patch the volume, before it reports the volume as blocked.
 */
const OTHER_RUN_WAIT_MS = 10_000;

export interface UnprotectDeps {
  k8s: K8sDeps;
  /** What planning a kubectl command reads (as `lifeline plan -- kubectl …` wires it). */
  plan: CommandPlanDeps;
  gate: GateDeps;
  /**
   * Who the patches act as at the Kubernetes API (a SelfSubjectReview with the same kubeconfig and
   * context), recorded with the execution: the admission webhook lets the run through for that user.
   */
  whoami?: (selection: ClusterSelection) => Promise<{ username: string; groups: string[] }>;
}

export interface UnprotectRequest {
  assets: readonly ResolvedAsset[];
  kubernetes: K8sSettings;
  asset: string;
  policy: readonly PolicyRule[];
  /** A keyed digest for values a command line masks (see CommandPlanOptions.digest). */
  digest?: (secret: string) => string;
  /** Stop once every plan is judged: show them, change nothing. */
  dryRun: boolean;
  /** The plan's JSON document, as stored with the recorded plan. */
  document: (plan: Plan) => unknown;
  /**
   * Asked once every volume's plan is allowed (given the plans, as a dry run would end), before the
   * first change; false changes nothing. Absent: no question (--yes).
   */
  confirm?: (checked: UnprotectResult) => Promise<boolean>;
}

export interface UnprotectVolume {
  change: ProtectChange;
  /** The kubectl command planned for this volume: what it amounts to, as the webhook sees it. */
  argv: string[];
  /** What the gate said and did (the last run of this volume's plan); null when not reached. */
  outcome: RunOutcome | null;
  /**
   * Put back by another run meanwhile (another `--undo` at the same time): nothing left to do for
   * it, whatever the gate said of this run's plan (planned on a volume already back, or its
   * approval used by that run).
   */
  byAnother: boolean;
}

export type UnprotectStatus =
  | "nothing"
  /** Every volume was put back by another run meanwhile: nothing changed, nothing needed. */
  | "done-by-another"
  | "executed"
  | "blocked"
  | "dry-run"
  | "not-confirmed"
  | "failed"
  | "interrupted";

export interface UnprotectResult {
  protect: ProtectPlan;
  status: UnprotectStatus;
  volumes: UnprotectVolume[];
  /** The volumes whose reclaim policy was put back. */
  done: ProtectChange[];
  /** The volumes another run put back meanwhile. */
  byAnother: ProtectChange[];
}

/** The kubectl command that puts one volume back, on the context protect ran on. */
export function unprotectArgv(change: ProtectChange, context: string): string[] {
  return [
    "kubectl",
    "patch",
    "pv",
    change.volume,
    "--context",
    context,
    "-p",
    JSON.stringify({ spec: { persistentVolumeReclaimPolicy: change.to } }),
  ];
}

/**
 * Plans every volume protect changed and is still as protect left it, checks each plan with the
 * gate (recorded, a run with --dry-run), and, when every one is allowed, runs them one by one
 * through the gate again (re-planned just before the change), recording each volume put back.
 */
export async function unprotect(deps: UnprotectDeps, request: UnprotectRequest): Promise<UnprotectResult> {
  const { plan: protect, cluster } = await planProtect(deps.k8s, {
    assets: request.assets,
    kubernetes: request.kubernetes,
    asset: request.asset,
    undo: true,
  });
  // What is already back needs no plan; the record forgets it, so that it is not kept there forever.
  if (!request.dryRun)
    for (const change of protect.alreadyBack)
      await recordProtectChange(deps.k8s.stateDir, protect, change, "put back");
  const volumes: UnprotectVolume[] = protect.changes.map((change) => ({
    change,
    argv: unprotectArgv(change, protect.context),
    outcome: null,
    byAnother: false,
  }));
  const result = (status: UnprotectStatus, done: ProtectChange[] = []): UnprotectResult => ({
    protect,
    status,
    volumes,
    done,
    byAnother: volumes.filter((v) => v.byAnother).map((v) => v.change),
  });
  if (volumes.length === 0) return result("nothing");

  const planOptions: CommandPlanOptions = {
    assets: request.assets,
    policy: request.policy,
    // The context protect ran on, which the command names: the plan is of that cluster.
    kubernetes: { ...request.kubernetes, context: protect.context },
    env: {},
    ...(request.digest ? { digest: request.digest } : {}),
  };
  const selection: ClusterSelection = { kubeconfig: request.kubernetes.kubeconfig, context: protect.context };
  const signal = deps.k8s.signal;
  const whoami = deps.whoami;
  const gated = (v: UnprotectVolume, dryRun: boolean) =>
    run(deps.gate, {
      planner: () => planCommand(deps.plan, v.argv, planOptions),
      document: request.document,
      executor: async () => {
        await cluster.setReclaimPolicy(v.change.volume, v.change.from, v.change.to, signal);
        await recordProtectChange(deps.k8s.stateDir, protect, v.change, "put back");
        return { exitCode: 0 };
      },
      ...(whoami ? { actor: () => whoami(selection) } : {}),
      dryRun,
      signal,
    });

  // A minute before this run: another run started just before it may be executing a plan now.
  const started = new Date(deps.gate.clock.now().getTime() - 60_000).toISOString();
  /**
   * Whether the volume is back to the policy it had before protect (another `--undo` at the same
   * time put it back). When another run is executing this volume's plan right now (it took the
   * approval's use), its patch is waited for a while.
   */
  const putBackByAnother = async (v: UnprotectVolume): Promise<boolean> => {
    const deadline = Date.now() + OTHER_RUN_WAIT_MS;
    for (;;) {
      const pv = (await cluster.inventory(signal)).volumes.find((x) => x.name === v.change.volume);
      if (pv && pv.uid === v.change.uid && pv.reclaimPolicy === v.change.to) return true;
      if (!v.outcome || signal.aborted || Date.now() >= deadline) return false;
      const runs = await deps.gate.catalog.audit({
        kind: "run",
        planId: v.outcome.plan.planId,
        since: started,
      });
      if (unfinishedExecutions(runs).length === 0) return false;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  // Every plan is judged (and recorded, so that each can be approved) before anything changes.
  for (const v of volumes) {
    if (signal.aborted) return result("interrupted");
    v.outcome = await gated(v, true);
    if (v.outcome.status !== "dry-run") v.byAnother = await putBackByAnother(v);
  }
  const left = () => volumes.filter((v) => !v.byAnother);
  if (left().length === 0) return result("done-by-another");
  if (left().some((v) => v.outcome?.status !== "dry-run")) return result("blocked");
  if (request.dryRun) return result("dry-run");
  if (request.confirm && !(await request.confirm(result("dry-run")))) return result("not-confirmed");

  const done: ProtectChange[] = [];
  for (const v of left()) {
    if (signal.aborted) return result("interrupted", done);
    const outcome = await gated(v, false);
    v.outcome = outcome;
    if (outcome.status === "executed") {
      done.push(v.change);
      continue;
    }
    // Another run at the same time put it back first (this run's plan drifted, or that run used
    // the approval): nothing left to do for it.
    if ((outcome.status === "blocked" || outcome.status === "drift") && (await putBackByAnother(v))) {
      v.byAnother = true;
      continue;
    }
    // Drift or a used-up approval since the check, a failed patch, Ctrl-C: the rest is not tried.
    const status: UnprotectStatus =
      outcome.status === "failed" ? "failed" : outcome.status === "interrupted" ? "interrupted" : "blocked";
    return result(status, done);
  }
  return result(done.length === 0 ? "done-by-another" : "executed", done);
}
