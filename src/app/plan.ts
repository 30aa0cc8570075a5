import { createHash } from "node:crypto";
import { formatDuration } from "../core/duration.js";
import { LifelineError } from "../core/errors.js";
import { secrets } from "../core/redact.js";
import { assemblePlan, type Plan, type PlanAssembly } from "../core/plan/plan.js";
import { destroyedTables, type PolicyRule, type Recoverability } from "../core/plan/policy.js";
import { uncountedClause, type LiveState } from "../core/posture/posture.js";
import type { ResolvedAsset } from "../config/load.js";
import type { AppContext } from "./context.js";
import { assetPosture, damagedInUse } from "./status.js";

/** How plans are assembled here: SHA-256 plan ids, ages worded like everywhere else. */
export const PLAN_ASSEMBLY: PlanAssembly = {
  hash: (identity) => createHash("sha256").update(identity).digest("hex"),
  describeAge: formatDuration,
};

/**
 * How what a plan destroys in one asset could be brought back: the newest verified restore point,
 * whether it contains the destroyed tables ("all" when the whole database goes, e.g. its volume),
 * and the changes since it that would be lost.
 */
export async function assessRecoverability(
  ctx: AppContext,
  asset: ResolvedAsset,
  destroyed: readonly string[] | "all" | Promise<readonly string[] | "all">,
  liveTarget: Promise<LiveState | { error: string }> | null,
): Promise<Recoverability> {
  // The caller reports a failure of these promises (plan awaits the impact itself); until they are
  // awaited below, a rejection must not count as unhandled (it would print a stack trace and exit).
  if (destroyed instanceof Promise) destroyed.catch(() => undefined);
  liveTarget?.catch(() => undefined);
  const engine = ctx.engine(asset.engine);
  // From the repository's index; only the manifests posture relies on are read. A damaged newest
  // verified restore point stops the plan (exit 4) instead of quietly counting on an older one.
  const { posture, verified: manifest } = await assetPosture(
    ctx,
    asset,
    async (anyVerified) =>
      // Changes since the restore point matter only when there is one to recover from.
      anyVerified
        ? await (liveTarget ??
            (async () => engine.live(engine.target(asset.url)))().catch((error: unknown) => ({
              error: error instanceof Error ? error.message : String(error),
            })))
        : { error: "not read: no verified restore point" },
    ctx.restored ? { restored: ctx.restored(asset.name) } : {},
  );
  const damaged = damagedInUse(asset.name, posture);
  if (damaged) throw damaged;
  const verified = posture.newestVerifiedRestorePoint;
  const newest = posture.newestRestorePoint;
  const contained = new Set(manifest?.fingerprints.tables.map((t) => t.table) ?? []);
  const gone = await destroyed;
  const list = gone === "all" ? [] : gone;
  const notContained = verified ? list.filter((t) => !contained.has(t)) : [...list];
  return {
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
      ? {
          rows: posture.changesNotCovered.rows,
          countersReset: posture.changesNotCovered.countersReset,
          uncounted: posture.changesNotCovered.uncounted,
        }
      : null,
    summary: !verified
      ? `no verified restore point of ${asset.name}: what this destroys cannot be brought back by lifeline` +
        (newest
          ? ` (restore point ${newest.id}, ${formatDuration(newest.ageSeconds)} old, was never drilled)`
          : "")
      : `from verified restore point ${verified.id} of ${asset.name} (${formatDuration(verified.ageSeconds)} old)` +
        (posture.changesNotCovered
          ? `; ${posture.changesNotCovered.rows} row changes since then would be lost${posture.changesNotCovered.countersReset ? " (at least; counters were reset)" : ""}` +
            (posture.changesNotCovered.uncounted.length > 0
              ? `; ${uncountedClause(posture.changesNotCovered.uncounted)}`
              : "")
          : "") +
        (notContained.length > 0 ? `; it does not contain ${notContained.join(", ")}` : ""),
  };
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
  // The parser (C) stops at a NUL byte: what follows would be in no plan and no plan id, although
  // it was in the text approved. PostgreSQL refuses NUL in a query anyway.
  const nul = sql.indexOf("\u0000");
  if (nul !== -1) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `the SQL contains a NUL byte (at character ${nul + 1}): PostgreSQL does not accept it in a query, and nothing after it could be planned`,
      fix: "remove the NUL bytes from the SQL (e.g. tr -d '\\000' < file.sql > clean.sql) and plan it again",
    });
  }
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
  const impacting = engine.sql.impact(target, classified, { exact: options.exact });
  // The restore point side is read while the impact is computed; it waits for the destroyed tables.
  const [impact, recoverability] = await Promise.all([
    impacting,
    assessRecoverability(
      ctx,
      asset,
      impacting.then((i) => destroyedTables(i.operations)),
      null,
    ),
  ]);
  const verified = recoverability.restorePoint;
  return assemblePlan(
    {
      // Password literals the classifier found are registered as secrets: the stored text is masked.
      command: { kind: "sql", text: secrets.redact(sql) },
      cluster: null,
      assets: [{ name: asset.name, tier: asset.tier, recoverability }],
      operations: impact.operations,
      dependents: impact.dependents,
      consumers: impact.consumers,
      identity: {
        asset: asset.name,
        // Every statement, in order: an approval of one statement must not cover it repeated.
        normalizedStatements: classified
          .filter((o, i) => i === 0 || classified[i - 1]?.statementIndex !== o.statementIndex)
          .map((o) => o.normalized),
        restorePointId: verified?.id ?? null,
      },
      subjects: [
        {
          asset: { name: asset.name, tier: asset.tier, rpoSeconds: asset.rpoSeconds },
          operations: impact.operations,
          recoverability,
        },
      ],
      recoverability,
      policy: options.policy,
      planningMs: Math.round(performance.now() - started),
    },
    PLAN_ASSEMBLY,
  );
}
