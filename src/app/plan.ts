import { createHash } from "node:crypto";
import { formatDuration } from "../core/duration.js";
import { LifelineError } from "../core/errors.js";
import {
  destroyedTables,
  evaluatePolicy,
  planIdentity,
  type Dependent,
  type PlannedOperation,
  type PolicyRule,
  type Recoverability,
  type Requirement,
  type Verdict,
} from "../core/plan.js";
import { computePosture } from "../core/posture.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Consumer } from "../ports/engine.js";
import type { AppContext } from "./context.js";

export interface Plan {
  planId: string;
  asset: string;
  verdict: Verdict;
  operations: PlannedOperation[];
  dependents: Dependent[];
  consumers: Consumer[];
  recoverability: Recoverability;
  requirements: Requirement[];
  /** Milliseconds spent planning (classification, impact, policy), without process start-up. */
  planningMs: number;
}

/**
 * The blast radius of SQL against one asset: what each statement destroys, what goes with it, who
 * depends on it, how it could be recovered, and what the policy requires. Read-only throughout.
 */
export async function plan(
  ctx: AppContext,
  asset: ResolvedAsset,
  sql: string,
  options: { exact: boolean; policy: readonly PolicyRule[] },
): Promise<Plan> {
  const started = performance.now();
  const engine = ctx.engine(asset.engine);
  if (!engine.sql) {
    throw new LifelineError({
      code: "PLAN_UNSUPPORTED",
      kind: "usage",
      message: `engine ${engine.name} cannot plan SQL`,
      fix: "plan SQL against a postgres asset",
    });
  }
  const target = engine.target(asset.url);
  const classified = await engine.sql.classify(sql);
  if (classified.length === 0) {
    throw new LifelineError({
      code: "PLAN_EMPTY",
      kind: "usage",
      message: "the SQL contains no statement",
      fix: "pass the statements with --sql or a file with -f",
    });
  }
  const [restorePoints, drills] = await Promise.all([
    ctx.repository.listRestorePoints(asset.name),
    ctx.repository.listDrillReports(asset.name),
  ]);
  const anyVerified = drills.some((d) => d.result === "passed");
  const [impact, live] = await Promise.all([
    engine.sql.impact(target, classified, { exact: options.exact }),
    // Changes since the restore point matter only when there is one to recover from.
    anyVerified
      ? engine
          .live(target)
          .catch((error: unknown) => ({ error: error instanceof Error ? error.message : String(error) }))
      : Promise.resolve({ error: "not read: no verified restore point" }),
  ]);
  const posture = computePosture({
    asset: { name: asset.name, tier: asset.tier, rpoTargetSeconds: asset.rpoSeconds },
    restorePoints,
    drills,
    live,
    now: ctx.clock.now(),
  });
  const verified = posture.newestVerifiedRestorePoint;
  const manifest = verified ? restorePoints.find((m) => m.id === verified.id) : undefined;
  const contained = new Set(manifest?.fingerprints.tables.map((t) => t.table) ?? []);
  const destroyed = destroyedTables(impact.operations);
  const notContained = verified ? destroyed.filter((t) => !contained.has(t)) : destroyed;
  const recoverability: Recoverability = {
    restorePoint: verified
      ? {
          id: verified.id,
          snapshotTime: verified.snapshotTime,
          ageSeconds: verified.ageSeconds,
          drilledAt: verified.drilledAt,
        }
      : null,
    notContained,
    changesNotCovered: posture.changesNotCovered
      ? { rows: posture.changesNotCovered.rows, countersReset: posture.changesNotCovered.countersReset }
      : null,
    summary: !verified
      ? "no verified restore point: what this destroys cannot be brought back by lifeline"
      : `from verified restore point ${verified.id} (${formatDuration(verified.ageSeconds)} old)` +
        (posture.changesNotCovered
          ? `; ${posture.changesNotCovered.rows} row changes since then would be lost${posture.changesNotCovered.countersReset ? " (at least; counters were reset)" : ""}`
          : "") +
        (notContained.length > 0 ? `; it does not contain ${notContained.join(", ")}` : ""),
  };
  const planId = createHash("sha256")
    .update(
      planIdentity({
        asset: asset.name,
        operations: impact.operations,
        normalizedStatements: [...new Set(classified.map((o) => o.normalized))],
        restorePointId: verified?.id ?? null,
      }),
    )
    .digest("hex");
  const { verdict, requirements } = evaluatePolicy(
    options.policy,
    {
      asset: { name: asset.name, tier: asset.tier, rpoSeconds: asset.rpoSeconds },
      operations: impact.operations,
      recoverability,
      approvals: 0,
      planId,
    },
    formatDuration,
  );
  return {
    planId,
    asset: asset.name,
    verdict,
    operations: impact.operations,
    dependents: impact.dependents,
    consumers: impact.consumers,
    recoverability,
    requirements,
    planningMs: Math.round(performance.now() - started),
  };
}
