import type { AuditEntry } from "../core/audit/chain.js";
import { LifelineError } from "../core/errors.js";
import { planRetention, type RetentionDecision, type RetentionPolicy } from "../core/retention/retention.js";
import { recoveryState } from "../core/restore/state.js";
import type { Catalog } from "../ports/catalog.js";
import type { AppContext } from "./context.js";

export interface PruneOptions {
  dryRun: boolean;
  /** Who prunes, for the audit log (a person, or "lifeline serve"). */
  identity: string;
  host: string;
}

export interface PruneResult {
  asset: string;
  policy: RetentionPolicy;
  dryRun: boolean;
  /** Newest first: every restore point, kept or removed, with the reasons. */
  decisions: RetentionDecision[];
  removed: string[];
  /** Restore points that were to go but another prune removed first (not counted as removed here). */
  removedAlready: string[];
  /** Restore points that were to go but could not be removed (in use since, disk error): they stay. */
  failures: { id: string; error: string }[];
  /** Restore points that were to go but the store retains (object lock) until the date given: kept whole. */
  locked: { id: string; until: string }[];
  /**
   * The audit entry recording what was removed (null on a dry run or when nothing was to go); an
   * entry with the intended removals (data.intended) is appended before anything is removed.
   */
  audit: AuditEntry | null;
}

/**
 * Applies an asset's retention policy: never the newest verified restore point, one being drilled
 * or restored, or one a standby serves (the audit log says which); removals are recorded in the
 * audit log with their reasons. A dry run only says what would go.
 */
export async function prune(
  ctx: AppContext,
  catalog: Catalog,
  asset: string,
  policy: RetentionPolicy,
  options: PruneOptions,
): Promise<PruneResult> {
  const [overview, held, standbyEntries] = await Promise.all([
    ctx.repository.overview(asset),
    ctx.repository.heldRestorePoints(asset),
    catalog.audit({ asset, kind: "standby" }),
  ]);
  const inUse = new Map(held);
  for (const s of recoveryState(standbyEntries).standbys)
    if (s.asset === asset) inUse.set(s.restorePointId, `the standby ${s.target} serves it`);
  const latest = new Map<string, { result: "passed" | "failed"; finishedAt: string }>();
  for (const d of overview.drills) {
    const current = latest.get(d.restorePointId);
    if (!current || d.finishedAt > current.finishedAt) latest.set(d.restorePointId, d);
  }
  const decisions = planRetention({
    policy,
    restorePoints: overview.restorePoints.map((p) => ({
      id: p.id,
      snapshotTime: p.snapshotTime,
      drill: latest.get(p.id)?.result ?? null,
      damaged: p.damaged !== null,
    })),
    inUse,
    now: ctx.clock.now(),
  });
  const result: PruneResult = {
    asset,
    policy,
    dryRun: options.dryRun,
    decisions,
    removed: [],
    removedAlready: [],
    failures: [],
    locked: [],
    audit: null,
  };
  if (options.dryRun) {
    // Say now what the real run would find: a restore point the store still retains stays.
    const retainedUntil = ctx.repository.retainedUntil?.bind(ctx.repository);
    if (retainedUntil)
      for (const d of decisions.filter((x) => x.remove)) {
        const until = await retainedUntil(asset, d.id);
        if (until) result.locked.push({ id: d.id, until: until.toISOString() });
      }
    return result;
  }
  const removing = decisions.filter((d) => d.remove);
  if (removing.length === 0) return result;
  const described = (list: RetentionDecision[]) =>
    list.map((d) => ({ restorePointId: d.id, snapshotTime: d.snapshotTime, reason: d.reasons.join("; ") }));
  // The intent first: a prune killed half-way leaves in the audit log what it was removing.
  const intent = await catalog.appendAudit({
    at: ctx.clock.now().toISOString(),
    kind: "prune",
    identity: options.identity,
    host: options.host,
    asset,
    planId: null,
    data: { policy: { ...policy }, intended: described(removing), kept: decisions.length - removing.length },
  });
  for (const d of removing) {
    if (ctx.signal.aborted) break;
    try {
      if (await ctx.repository.removeRestorePoint(asset, d.id)) result.removed.push(d.id);
      else result.removedAlready.push(d.id);
    } catch (error) {
      if (error instanceof LifelineError && error.code === "RESTORE_POINT_LOCKED") {
        result.locked.push({ id: d.id, until: error.details[0] ?? "" });
        continue;
      }
      result.failures.push({ id: d.id, error: error instanceof Error ? error.message : String(error) });
    }
  }
  const removed = new Set(result.removed);
  result.audit = await catalog.appendAudit({
    at: ctx.clock.now().toISOString(),
    kind: "prune",
    identity: options.identity,
    host: options.host,
    asset,
    planId: null,
    data: {
      policy: { ...policy },
      intentSeq: intent.seq,
      removed: described(decisions.filter((d) => removed.has(d.id))),
      removedAlready: result.removedAlready,
      kept: decisions.filter((d) => !d.remove).length,
      failures: result.failures,
      ...(result.locked.length > 0 ? { locked: result.locked } : {}),
      ...(ctx.signal.aborted ? { interrupted: true } : {}),
    },
  });
  return result;
}
