import { latestDrillByRestorePoint, type DrillReport } from "./drill.js";
import { totalArtifactBytes, type Activity, type Manifest } from "./restore-point.js";

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
  databaseBytes: number | null;
  changesNotCovered: ChangesNotCovered | null;
  /** Why the live database could not be read, if it could not. */
  liveError: string | null;
  risks: string[];
}

export interface PostureInput {
  asset: { name: string; tier: string; rpoTargetSeconds: number };
  restorePoints: readonly Manifest[];
  drills: readonly DrillReport[];
  live: LiveState | { error: string };
  now: Date;
}

function ageSeconds(now: Date, iso: string): number {
  return Math.max(0, (now.getTime() - new Date(iso).getTime()) / 1000);
}

function summarize(now: Date, m: Manifest): RestorePointSummary {
  return {
    id: m.id,
    snapshotTime: m.snapshotTime,
    ageSeconds: ageSeconds(now, m.snapshotTime),
    bytes: totalArtifactBytes(m),
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

export function computePosture(input: PostureInput): Posture {
  const { asset, now } = input;
  const points = [...input.restorePoints].sort((a, b) => b.snapshotTime.localeCompare(a.snapshotTime));
  const latestDrills = latestDrillByRestorePoint(input.drills);
  const newest = points[0] ?? null;
  const verified = points.find((p) => latestDrills.get(p.id)?.result === "passed") ?? null;
  const verifiedDrill = verified ? latestDrills.get(verified.id) : undefined;
  const lastDrill = [...input.drills].sort((a, b) => b.finishedAt.localeCompare(a.finishedAt))[0] ?? null;

  const rpoSeconds = verified ? ageSeconds(now, verified.snapshotTime) : null;
  const live = "error" in input.live ? null : input.live;
  const changes = verified && live ? changesSince(verified.activity, live.activity) : null;

  const risks: string[] = [];
  if (!newest) risks.push("no restore point: take one with `lifeline backup " + asset.name + "`");
  else if (!verified)
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
