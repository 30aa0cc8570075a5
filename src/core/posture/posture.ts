import type { DrillReport } from "../drill/drill.js";
import { totalArtifactBytes, type Activity, type Manifest } from "../restore-point/restore-point.js";

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
    activity: m.activity,
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
  /** Row inserts + updates + deletes since the newest verified restore point (approximate). */
  rows: number;
  /** The counters were reset since the restore point: the figure is a lower bound. */
  countersReset: boolean;
  /** Tables created since the restore point, whose every change is uncovered. */
  newTables: number;
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

export interface PostureInput {
  asset: { name: string; tier: string; rpoTargetSeconds: number };
  restorePoints: readonly RestorePointFacts[];
  drills: readonly DrillFacts[];
  live: LiveState | { error: string };
  now: Date;
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
 * Changes made since a restore point, from the statistics counters. Counters are not transactional
 * and can be reset; a reset is detected (reset time moved, or a counter went backwards) and reported,
 * and the figure then counts only what happened since the reset.
 */
export function changesSince(base: Activity, current: Activity): ChangesNotCovered {
  const before = new Map(base.tables.map((t) => [t.table, t]));
  let rows = 0;
  let newTables = 0;
  // A moved reset time means every counter restarted; a counter going backwards only proves that
  // table's did (and must not depend on the order tables are listed in).
  const allReset = base.statsReset !== current.statsReset && current.statsReset !== null;
  let countersReset = allReset;
  for (const table of current.tables) {
    const now = table.inserts + table.updates + table.deletes;
    const then = before.get(table.table);
    if (!then) {
      newTables++;
      rows += now;
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
    } else {
      rows += allReset ? now : now - previous;
    }
  }
  return { rows, countersReset, newTables };
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
  const changes = verified?.activity && live ? changesSince(verified.activity, live.activity) : null;

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
