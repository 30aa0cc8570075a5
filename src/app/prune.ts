import { drillFactsOf } from "../core/posture/posture.js";
import type { AuditEntry } from "../core/audit/chain.js";
import { LifelineError } from "../core/errors.js";
import {
  planRetention,
  unknownLatestDrill,
  type RetentionDecision,
  type RetentionPolicy,
} from "../core/retention/retention.js";
import { recoveryState } from "../core/restore/state.js";
import type { Catalog } from "../ports/catalog.js";
import type { DrillReport } from "../core/drill/drill.js";
import type { AssetOverview, DamagedDrillReport, DrillInfo, Repository } from "../ports/repository.js";
import { appliesToCopies, describeError } from "./copy.js";
import type { AppContext, CopyTarget } from "./context.js";

export interface PruneOptions {
  dryRun: boolean;
  /** Who prunes, for the audit log (a person, or "lifeline serve"). */
  identity: string;
  host: string;
}

/** What retention did in one repository. */
export interface PruneOutcome {
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

/** Retention in one copies: repository, judged on what that copy holds. */
export interface CopyPruneResult extends PruneOutcome {
  /** The copy's location. */
  to: string;
  /** Drill reports of the source brought to the copy first (restore points both hold). */
  drillReports: number;
  /** Why this copy was not pruned (unreachable, refused …): nothing was removed from it. */
  error?: string;
}

export interface PruneResult extends PruneOutcome {
  asset: string;
  policy: RetentionPolicy;
  dryRun: boolean;
  /** One per copies: entry, in order. */
  copies: CopyPruneResult[];
}

/**
 * Applies an asset's retention policy: never the newest verified restore point, one being drilled
 * or restored, or one a standby serves (the audit log says which); removals are recorded in the
 * audit log with their reasons. A dry run only says what would go.
 *
 * Then each copy (copies: in lifeline.yaml) with the same rules, judged on what that copy holds:
 * its own restore points, drills and holds, plus the source's drills of restore points both hold
 * (written to the copy first, so a copy stays self-describing once the source has pruned them). A
 * copy that lags behind keeps its own newest verified ones; one the source no longer has is kept as
 * long as the rules keep it in the copy. A copy that cannot be reached is reported and the others
 * are still pruned.
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
  const standbys = new Map<string, string>();
  for (const s of recoveryState(standbyEntries).standbys)
    if (s.asset === asset) standbys.set(s.restorePointId, `the standby ${s.target} serves it`);
  const targets = ctx.copies?.() ?? [];
  // The source's drill reports, read before the source is pruned: its removals delete their
  // restore points' reports, which a copy that keeps those restore points must still be given.
  const reports = targets.length > 0 ? await ctx.repository.listDrillReports(asset) : [];
  const source = await pruneIn(ctx, catalog, ctx.repository, asset, policy, options, {
    overview,
    held,
    standbys,
    copy: false,
  });
  const copies: CopyPruneResult[] = [];
  for (const target of targets) {
    const to = target.repository;
    if (ctx.signal.aborted) {
      copies.push({ to: to.location, drillReports: 0, error: "interrupted: not pruned", ...emptyOutcome() });
      continue;
    }
    try {
      copies.push(
        await pruneCopy(ctx, catalog, target, asset, policy, options, {
          reports,
          damaged: overview.damagedDrillReports,
          standbys,
        }),
      );
    } catch (error) {
      const message = describeError(error);
      ctx.progress.warn(`could not prune the copy ${to.location}: ${message}`);
      copies.push({ to: to.location, drillReports: 0, error: message, ...emptyOutcome() });
    }
  }
  return { asset, policy, dryRun: options.dryRun, ...source, copies };
}

function emptyOutcome(): PruneOutcome {
  return { decisions: [], removed: [], removedAlready: [], failures: [], locked: [], audit: null };
}

/** Drills of one repository, keyed so two repositories' lists merge without doubles. */
const drillKey = (d: Pick<DrillInfo, "restorePointId" | "id">) => `${d.restorePointId}/${d.id}`;

async function pruneCopy(
  ctx: AppContext,
  catalog: Catalog,
  target: CopyTarget,
  asset: string,
  policy: RetentionPolicy,
  options: PruneOptions,
  from: {
    reports: readonly DrillReport[];
    /** The source's drill reports that do not read: what they found is unknown in the copy too. */
    damaged: readonly DamagedDrillReport[];
    standbys: ReadonlyMap<string, string>;
  },
): Promise<CopyPruneResult> {
  const to = target.repository;
  const [overview, held] = await Promise.all([to.overview(asset), to.heldRestorePoints(asset)]);
  // A restore point verified in the source is verified in the copy: the source's drills of restore
  // points the copy holds count (read before the source was pruned), and are written to the copy.
  // A drill that failed on the source's own bytes (ARTIFACT_CORRUPT) says nothing about the copy's.
  const inCopy = new Set(overview.restorePoints.map((p) => p.id));
  const known = new Set(overview.drills.map(drillKey));
  const brought = from.reports.filter(
    (r) => inCopy.has(r.restorePointId) && !known.has(drillKey(r)) && appliesToCopies(r),
  );
  const missing: DrillInfo[] = brought.map(drillFactsOf);
  let drillReports = 0;
  // Writing them is refused where copying is (an encrypted source, a plaintext copy): nothing is
  // removed from that copy then, rather than judging it on drills it would forget.
  if (missing.length > 0) await target.refuse(ctx.repository);
  if (!options.dryRun)
    for (const report of brought) {
      await to.writeDrillReport(report);
      drillReports++;
    }
  const merged: AssetOverview = {
    restorePoints: overview.restorePoints,
    drills: [...overview.drills, ...missing],
    damagedDrillReports: [
      ...overview.damagedDrillReports,
      ...from.damaged.filter((d) => inCopy.has(d.restorePointId)),
    ],
  };
  const outcome = await pruneIn(ctx, catalog, to, asset, policy, options, {
    overview: merged,
    held,
    standbys: from.standbys,
    copy: true,
  });
  return { to: to.location, drillReports, ...outcome };
}

async function pruneIn(
  ctx: AppContext,
  catalog: Catalog,
  repository: Repository,
  asset: string,
  policy: RetentionPolicy,
  options: PruneOptions,
  facts: {
    overview: AssetOverview;
    held: ReadonlyMap<string, string>;
    standbys: ReadonlyMap<string, string>;
    /** A copies: repository: its audit entries name it. */
    copy: boolean;
  },
): Promise<PruneOutcome> {
  const inUse = new Map(facts.held);
  for (const [id, why] of facts.standbys) inUse.set(id, why);
  const latest = new Map<string, { result: "passed" | "failed"; finishedAt: string }>();
  for (const d of facts.overview.drills) {
    const current = latest.get(d.restorePointId);
    if (!current || d.finishedAt > current.finishedAt) latest.set(d.restorePointId, d);
  }
  const drillReportDamaged = unknownLatestDrill(facts.overview.drills, facts.overview.damagedDrillReports);
  const decisions = planRetention({
    policy,
    restorePoints: facts.overview.restorePoints.map((p) => ({
      id: p.id,
      snapshotTime: p.snapshotTime,
      drill: latest.get(p.id)?.result ?? null,
      damaged: p.damaged !== null,
      drillReportDamaged: drillReportDamaged.has(p.id),
    })),
    inUse,
    now: ctx.clock.now(),
  });
  const result: PruneOutcome = { ...emptyOutcome(), decisions };
  if (options.dryRun) {
    // Say now what the real run would find: a restore point the store still retains stays.
    const retainedUntil = repository.retainedUntil?.bind(repository);
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
  const where = facts.copy ? { copy: repository.location } : {};
  // The intent first: a prune killed half-way leaves in the audit log what it was removing.
  const intent = await catalog.appendAudit({
    at: ctx.clock.now().toISOString(),
    kind: "prune",
    identity: options.identity,
    host: options.host,
    asset,
    planId: null,
    data: {
      ...where,
      policy: { ...policy },
      intended: described(removing),
      kept: decisions.length - removing.length,
    },
  });
  for (const d of removing) {
    if (ctx.signal.aborted) break;
    try {
      if (await repository.removeRestorePoint(asset, d.id)) result.removed.push(d.id);
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
      ...where,
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
