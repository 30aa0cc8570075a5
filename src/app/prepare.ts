import type { ResolvedAsset } from "../config/load.js";
import type { AppContext } from "./context.js";
import { backup } from "./backup.js";
import { drill } from "./drill.js";
import { applyProtect, planProtect, type K8sDeps, type K8sSettings } from "./k8s.js";
import type { Plan } from "../core/plan/plan.js";
import { LifelineError } from "../core/errors.js";

export interface PrepareStep {
  kind: "backup-and-drill" | "k8s-protect";
  asset: string;
  why: string;
  command: string;
}

/**
 * What lifeline can meet by itself before anyone is asked to approve: a fresh verified restore
 * point (backup + passing drill) for each asset whose requirement is unmet, and `k8s protect` for
 * bound volumes the plan would destroy.
 */
export function prepareSteps(plan: Plan, assets: readonly ResolvedAsset[]): PrepareStep[] {
  const steps: PrepareStep[] = [];
  const known = new Set(assets.map((a) => a.name));
  for (const r of plan.requirements) {
    if (r.kind !== "verified-restore-point" || r.met || !r.fix) continue;
    const asset = /lifeline backup (\S+) && lifeline drill/.exec(r.fix)?.[1];
    if (asset && known.has(asset) && !steps.some((s) => s.asset === asset && s.kind === "backup-and-drill")) {
      steps.push({ kind: "backup-and-drill", asset, why: r.detail, command: r.fix });
    }
  }
  if (plan.command.kind === "kubectl" || plan.command.kind === "helm") {
    const destroysVolumes = plan.operations.some((op) =>
      [op.resolved, ...op.cascade].some((o) => o !== null && o.type === "pv" && o.dataLoss === "destructive"),
    );
    if (destroysVolumes) {
      for (const a of plan.assets) {
        const asset = assets.find((x) => x.name === a.name);
        if (asset?.kubernetes) {
          steps.push({
            kind: "k8s-protect",
            asset: a.name,
            why: "the plan deletes volumes that reclaim with Delete",
            command: `lifeline k8s protect ${a.name} --yes`,
          });
        }
      }
    }
  }
  return steps;
}

/** Runs the steps in order; stops at the first that fails (a failed drill fails the preparation). */
export async function runPrepare(
  steps: readonly PrepareStep[],
  deps: { ctx: AppContext; k8s: K8sDeps; kubernetes: K8sSettings; assets: readonly ResolvedAsset[] },
  report: (line: string) => void,
  record: (step: PrepareStep) => Promise<void> = async () => undefined,
): Promise<void> {
  for (const step of steps) {
    const asset = deps.assets.find((a) => a.name === step.asset);
    if (!asset) continue;
    await record(step);
    if (step.kind === "backup-and-drill") {
      report(`prepare: lifeline backup ${asset.name}`);
      const manifest = await backup(deps.ctx, asset);
      report(`prepare: lifeline drill ${asset.name} (restore point ${manifest.id})`);
      const result = await drill(deps.ctx, asset, manifest.id);
      if (result.result !== "passed") {
        throw new LifelineError({
          code: "PREPARE_DRILL_FAILED",
          kind: "verification",
          message: `the drill of restore point ${manifest.id} of ${asset.name} failed: it cannot be relied on`,
          fix: `look at the drill report (lifeline drill ${asset.name} --json) before anything destructive`,
        });
      }
    } else {
      report(`prepare: lifeline k8s protect ${asset.name}`);
      const { plan, cluster } = await planProtect(deps.k8s, {
        assets: deps.assets,
        kubernetes: deps.kubernetes,
        asset: asset.name,
        undo: false,
      });
      await applyProtect(deps.k8s, plan, cluster);
    }
  }
}
