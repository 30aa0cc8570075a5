import type { DrillReport } from "../drill/drill.js";
import {
  activityOf,
  totalArtifactBytes,
  type Activity,
  type Manifest,
  type TableActivity,
} from "../restore-point/restore-point.js";

/**
 * What posture needs to know of a restore point: small facts an index can hold, so that status and
 * plan need not read every manifest.
 */
export interface RestorePointFacts {
  id: string;
  snapshotTime: string;
  bytes: number;
  /** What is wrong with it, when it exists but cannot be used (its manifest is unreadable, invalid or fails its digest). */
  damaged?: string | null;
  /** The activity counters at the snapshot: needed for the restore point changes are counted from. */
  activity?: Activity;
}

/** The drill facts posture needs (a whole DrillReport has them). */
export type DrillFacts = Pick<
  DrillReport,
  "restorePointId" | "result" | "finishedAt" | "restoreSeconds" | "verifySeconds"
>;

/** What a repository's index keeps of a drill report (DrillInfo): its id and DrillFacts. */
export function drillFactsOf(r: DrillReport): DrillFacts & { id: string } {
  return {
    id: r.id,
    restorePointId: r.restorePointId,
    result: r.result,
    finishedAt: r.finishedAt,
    restoreSeconds: r.restoreSeconds,
    verifySeconds: r.verifySeconds,
  };
}

export function factsOf(m: Manifest): RestorePointFacts {
  return {
    id: m.id,
    snapshotTime: m.snapshotTime,
    bytes: totalArtifactBytes(m),
    damaged: null,
    activity: activityOf(m),
  };
}

export interface DamagedRestorePoint {
  id: string;
  problem: string;
  /** Its latest drill passed: it was the proof this data can be restored. */
  verified: boolean;
}

export interface RestorePointSummary {
  id: string;
  snapshotTime: string;
  ageSeconds: number;
  bytes: number;
}

export interface VerifiedRestorePointSummary extends RestorePointSummary {
  drilledAt: string;
}

export interface ChangesNotCovered {
  /**
   * Row inserts + updates + deletes since the newest verified restore point (approximate), and the
   * rows of tables that lost them uncounted (see `uncounted`).
   */
  rows: number;
  /** The counters were reset since the restore point: the figure is a lower bound. */
  countersReset: boolean;
  /** Tables created since the restore point, whose every change is uncovered. */
  newTables: number;
  /**
   * Tables whose rows went without the counters counting them (TRUNCATE, DROP TABLE), with the rows
   * the restore point held that the live database no longer has; included in `rows`.
   */
  uncounted: UncountedLoss[];
}

export interface UncountedLoss {
  table: string;
  /**
   * "dropped": no table of that name now; "recreated": dropped and created again; "truncated": a
   * TRUNCATE (its storage is new and the inserts-since-vacuum counter restarted with no vacuum);
   * "rewritten": its storage is new (TRUNCATE, or VACUUM FULL, CLUSTER, a rewriting ALTER TABLE)
   * and it holds fewer rows than the counters account for, but a vacuum since hides which it was.
   */
  how: "dropped" | "recreated" | "truncated" | "rewritten";
  /** Rows it lost uncounted: exact for "dropped" and "recreated", else from the statistics (about). */
  rows: number;
}

/** The tables that lost rows uncounted, in a clause of a plan's summary ("since then"). */
export function uncountedClause(losses: readonly UncountedLoss[]): string {
  const how: Record<UncountedLoss["how"], string> = {
    dropped: "was dropped",
    recreated: "was dropped and created again",
    truncated: "was truncated",
    rewritten: "was truncated or rewritten",
  };
  return losses
    .map(
      (l) =>
        `${l.table} ${how[l.how]} since then: ${l.how === "truncated" || l.how === "rewritten" ? "about " : ""}${l.rows} row${l.rows === 1 ? "" : "s"} it held are not in the live database (the statistics do not count ${l.how === "dropped" || l.how === "recreated" ? "DROP TABLE" : "TRUNCATE"}; included above)`,
    )
    .join("; ");
}

/** What a table that lost its rows uncounted means, for a person (status risks). */
export function describeUncounted(loss: UncountedLoss, restorePointId: string): string {
  const rows = `${loss.rows} row${loss.rows === 1 ? "" : "s"}`;
  switch (loss.how) {
    case "dropped":
      return `table ${loss.table} was dropped since restore point ${restorePointId}: its ${rows} are in the restore point, not in the live database`;
    case "recreated":
      return `table ${loss.table} was dropped and created again since restore point ${restorePointId}: the ${rows} it held then are in the restore point, not in the live table`;
    case "truncated":
      return `table ${loss.table} was truncated since restore point ${restorePointId}: about ${rows} it held are gone from the live table (TRUNCATE is not counted as row changes); they are in the restore point`;
    case "rewritten":
      return `table ${loss.table} was truncated or rewritten since restore point ${restorePointId} (a TRUNCATE, or VACUUM FULL, CLUSTER or ALTER TABLE; a vacuum since hides which): it holds about ${rows} fewer than the restore point plus the counted changes`;
  }
}

export interface LiveState {
  databaseBytes: number;
  activity: Activity;
}

export interface Posture {
  name: string;
  tier: string;
  newestRestorePoint: RestorePointSummary | null;
  newestVerifiedRestorePoint: VerifiedRestorePointSummary | null;
  /** Age of the newest verified restore point: the data you would lose now. Null without one. */
  rpoSeconds: number | null;
  rpoTargetSeconds: number;
  rpoMet: boolean;
  /** Restore + verify time of the newest verified restore point's passing drill. */
  rtoSeconds: number | null;
  lastDrill: { restorePointId: string; result: "passed" | "failed"; finishedAt: string } | null;
  /** Restore points that exist but cannot be used, newest first; never silently skipped. */
  damagedRestorePoints: DamagedRestorePoint[];
  databaseBytes: number | null;
  changesNotCovered: ChangesNotCovered | null;
  /** Why the live database could not be read, if it could not. */
  liveError: string | null;
  risks: string[];
  /** What needs no urgency but a fix (e.g. a staging database a killed restore left); absent when none. */
  notes?: string[];
}

/**
 * Tables `restore --tables` put back into the asset's own database (the audit log's `restore`
 * entries): their counters right after the restore, with the rows they then held (the restore
 * point's). Changes not covered count only what was written to them since.
 */
export interface RestoredTables {
  restorePointId: string;
  /** When the restore finished. */
  at: string;
  activity: Activity;
}

export interface PostureInput {
  asset: { name: string; tier: string; rpoTargetSeconds: number };
  restorePoints: readonly RestorePointFacts[];
  drills: readonly DrillFacts[];
  live: LiveState | { error: string };
  now: Date;
  /** Tables restored into the live database (oldest first); absent or empty when none. */
  restored?: readonly RestoredTables[];
}

function ageSeconds(now: Date, iso: string): number {
  return Math.max(0, (now.getTime() - new Date(iso).getTime()) / 1000);
}

function summarize(now: Date, m: RestorePointFacts): RestorePointSummary {
  return {
    id: m.id,
    snapshotTime: m.snapshotTime,
    ageSeconds: ageSeconds(now, m.snapshotTime),
    bytes: m.bytes,
  };
}

/**
 * Rows a table rewritten since the restore point (new relfilenode) lost uncounted, when it did.
 * With no vacuum since, the inserts-since-vacuum counter tells: only TRUNCATE (and VACUUM) restart
 * it, VACUUM FULL, CLUSTER and rewriting ALTER TABLEs leave it be. The rows a TRUNCATE took are
 * what the restore point held plus the counted inserts, less the counted deletes and the live rows
 * now (rolled-back inserts count too: "about"). After a vacuum (or before PostgreSQL 13) only a
 * clear shortfall of live rows is reported, as "truncated or rewritten": the live rows are then an
 * estimate, and rolled-back inserts look the same.
 */
function lostInRewrite(then: TableActivity, now: TableActivity): UncountedLoss | null {
  if (then.rows === undefined || now.liveRows === undefined) return null;
  const inserted = now.inserts - then.inserts;
  const missing = Math.max(0, then.rows + inserted - (now.deletes - then.deletes) - now.liveRows);
  if (
    then.vacuums !== undefined &&
    now.vacuums === then.vacuums &&
    then.insertsSinceVacuum !== undefined &&
    now.insertsSinceVacuum !== undefined
  ) {
    const truncated = now.insertsSinceVacuum < then.insertsSinceVacuum + inserted;
    return truncated && missing > 0 ? { table: now.table, how: "truncated", rows: missing } : null;
  }
  const tolerance = Math.max(1, Math.ceil(0.05 * (then.rows + Math.max(0, inserted))));
  return missing >= tolerance ? { table: now.table, how: "rewritten", rows: missing } : null;
}

/**
 * Changes made since a restore point, from the statistics counters. Counters are not transactional
 * and can be reset; a reset is detected (reset time moved, or a counter went backwards) and reported,
 * and the figure then counts only what happened since the reset.
 *
 * The counters do not count TRUNCATE nor DROP TABLE: a table of the restore point gone from the live
 * database, dropped and created again (another oid), or truncated (another relfilenode, see
 * lostInRewrite) adds the rows it held then, and is named in `uncounted`. Oids and relfilenodes are
 * compared only when both were read on the same database of the same cluster.
 *
 * A table `restore --tables` put back from this very restore point (`restored`: its counters right
 * after the restore, read on the same database, and it is still that table: same oid) holds the
 * restore point's rows: only what was written to it since the restore counts, as for a table the
 * restore point itself counted. The caller passes only restores of this restore point.
 */
export function changesSince(
  base: Activity,
  current: Activity,
  restored: readonly Activity[] = [],
): ChangesNotCovered {
  const before = new Map(base.tables.map((t) => [t.table, t]));
  const sameDatabase = base.database !== undefined && base.database === current.database;
  // The latest restore of each table on this database (restored is oldest first).
  const afterRestore = new Map<string, { table: TableActivity; reset: boolean }>();
  for (const r of restored) {
    if (r.database === undefined || r.database !== current.database) continue;
    // Its counters restarted since the restore: all they count came after it.
    const reset = r.statsReset !== current.statsReset && current.statsReset !== null;
    for (const t of r.tables) afterRestore.set(t.table, { table: t, reset });
  }
  let rows = 0;
  let newTables = 0;
  const uncounted: UncountedLoss[] = [];
  // A moved reset time means every counter restarted; a counter going backwards only proves that
  // table's did (and must not depend on the order tables are listed in).
  const allReset = base.statsReset !== current.statsReset && current.statsReset !== null;
  let countersReset = allReset;
  for (const table of current.tables) {
    const now = table.inserts + table.updates + table.deletes;
    const sinceRestore = afterRestore.get(table.table);
    const fromRestore =
      sameDatabase && sinceRestore?.table.oid !== undefined && sinceRestore.table.oid === table.oid
        ? sinceRestore
        : undefined;
    const then = fromRestore?.table ?? before.get(table.table);
    const reset = fromRestore ? fromRestore.reset : allReset;
    if (!then) {
      newTables++;
      rows += now;
      continue;
    }
    if (sameDatabase && then.oid !== undefined && table.oid !== undefined && then.oid !== table.oid) {
      // Another table under the same name: its counters are all its own.
      rows += now;
      if (then.rows !== undefined && then.rows > 0) {
        rows += then.rows;
        uncounted.push({ table: table.table, how: "recreated", rows: then.rows });
      }
      continue;
    }
    const previous = then.inserts + then.updates + then.deletes;
    if (
      now < previous ||
      table.inserts < then.inserts ||
      table.updates < then.updates ||
      table.deletes < then.deletes
    ) {
      countersReset = true;
      rows += now;
      continue;
    }
    rows += reset ? now : now - previous;
    if (
      !reset &&
      sameDatabase &&
      then.relfilenode !== undefined &&
      table.relfilenode !== undefined &&
      then.relfilenode !== table.relfilenode
    ) {
      const lost = lostInRewrite(then, table);
      if (lost) {
        rows += lost.rows;
        uncounted.push(lost);
      }
    }
  }
  const live = new Set(current.tables.map((t) => t.table));
  for (const then of base.tables) {
    // Only tables the restore point counted rows of (not partitioned parents, temporary tables).
    if (live.has(then.table) || then.rows === undefined || then.rows === 0) continue;
    rows += then.rows;
    uncounted.push({ table: then.table, how: "dropped", rows: then.rows });
  }
  return { rows, countersReset, newTables, uncounted };
}

/** A restore point is verified when its most recent drill passed (see latestDrillByRestorePoint). */
function latestDrillByRestorePoint<T extends DrillFacts>(drills: readonly T[]): Map<string, T> {
  const latest = new Map<string, T>();
  for (const drill of drills) {
    const current = latest.get(drill.restorePointId);
    if (!current || drill.finishedAt > current.finishedAt) latest.set(drill.restorePointId, drill);
  }
  return latest;
}

function restorePointNewer(sorted: readonly RestorePointFacts[], a: string, b: string): boolean {
  return sorted.findIndex((p) => p.id === a) < sorted.findIndex((p) => p.id === b);
}

export function computePosture(input: PostureInput): Posture {
  const { asset, now } = input;
  const all = [...input.restorePoints].sort((a, b) => b.snapshotTime.localeCompare(a.snapshotTime));
  const latestDrills = latestDrillByRestorePoint(input.drills);
  const passed = (id: string) => latestDrills.get(id)?.result === "passed";
  const damaged: DamagedRestorePoint[] = all
    .filter((p) => p.damaged)
    .map((p) => ({ id: p.id, problem: p.damaged ?? "", verified: passed(p.id) }));
  const points = all.filter((p) => !p.damaged);
  const newest = points[0] ?? null;
  const verified = points.find((p) => passed(p.id)) ?? null;
  const verifiedDrill = verified ? latestDrills.get(verified.id) : undefined;
  const lastDrill = [...input.drills].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0] ?? null;

  const rpoSeconds = verified ? ageSeconds(now, verified.snapshotTime) : null;
  const live = "error" in input.live ? null : input.live;
  const restored = (input.restored ?? [])
    .filter((r) => verified && r.restorePointId === verified.id)
    .map((r) => r.activity);
  const changes =
    verified?.activity && live ? changesSince(verified.activity, live.activity, restored) : null;

  const risks: string[] = [];
  for (const d of damaged) {
    risks.push(
      `restore point ${d.id} is DAMAGED${d.verified ? " (it was verified)" : ""}: ${d.problem}; it cannot be restored — run \`lifeline check\``,
    );
  }
  const lostProof = damaged.find(
    (d) => d.verified && (!verified || restorePointNewer(all, d.id, verified.id)),
  );
  if (lostProof)
    risks.push(
      verified
        ? `the newest verified restore point (${lostProof.id}) is damaged: the posture falls back to the older verified ${verified.id}`
        : `every verified restore point is damaged: nothing usable proves this data can be restored; run \`lifeline ${newest ? "drill" : "backup"} ${asset.name}\``,
    );
  if (!newest)
    risks.push(
      damaged.length > 0
        ? `no usable restore point: take a new one with \`lifeline backup ${asset.name}\``
        : "no restore point: take one with `lifeline backup " + asset.name + "`",
    );
  else if (!verified && !lostProof)
    risks.push(
      "no verified restore point: nothing proves this data can be restored; run `lifeline drill " +
        asset.name +
        "`",
    );
  if (rpoSeconds !== null && rpoSeconds > asset.rpoTargetSeconds)
    risks.push("newest verified restore point is older than the rpo target");
  if (lastDrill && lastDrill.result === "failed")
    risks.push(`last drill failed (restore point ${lastDrill.restorePointId})`);
  if (changes?.countersReset)
    risks.push(
      "statistics counters were reset since the verified restore point: changes not covered is a lower bound",
    );
  for (const loss of changes?.uncounted ?? []) if (verified) risks.push(describeUncounted(loss, verified.id));
  if ("error" in input.live) risks.push(`database unreachable: ${input.live.error}`);

  return {
    name: asset.name,
    tier: asset.tier,
    newestRestorePoint: newest ? summarize(now, newest) : null,
    newestVerifiedRestorePoint:
      verified && verifiedDrill ? { ...summarize(now, verified), drilledAt: verifiedDrill.finishedAt } : null,
    rpoSeconds,
    rpoTargetSeconds: asset.rpoTargetSeconds,
    rpoMet: rpoSeconds !== null && rpoSeconds <= asset.rpoTargetSeconds,
    rtoSeconds: verifiedDrill ? verifiedDrill.restoreSeconds + verifiedDrill.verifySeconds : null,
    damagedRestorePoints: damaged,
    lastDrill: lastDrill
      ? {
          restorePointId: lastDrill.restorePointId,
          result: lastDrill.result,
          finishedAt: lastDrill.finishedAt,
        }
      : null,
    databaseBytes: live ? live.databaseBytes : null,
    changesNotCovered: changes,
    liveError: "error" in input.live ? input.live.error : null,
    risks,
  };
}
