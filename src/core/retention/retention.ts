/**
 * Retention: which restore points of one asset to remove, and why each one stays or goes. Pure:
 * the caller passes what the repository, the drills and the audit log say.
 *
 * Kept whatever the policy says: the newest verified restore point; a restore point in use (being
 * drilled or restored, or served by a standby); one newer than the newest verified (its drill may
 * not have run yet); a damaged one (left for `lifeline check` to report, never removed blind); one
 * with a drill report that does not read and no readable drill after it (what it found is unknown).
 * Verified ones beyond the policy's last N, days and weeks are removed; so are unverified ones
 * (never drilled, or their latest drill failed) older than the newest verified.
 */
import { DRILL_ID } from "../drill/drill.js";

export interface RetentionPolicy {
  /** The newest N verified restore points. */
  keepLast: number;
  /** The newest verified restore point of each of the last D days (UTC), today included. */
  daily: number;
  /** The newest verified restore point of each of the last W weeks (ISO weeks, Monday first, UTC). */
  weekly: number;
}

export interface RetentionCandidate {
  id: string;
  snapshotTime: string;
  /** Its latest drill's result; null when it was never drilled. */
  drill: "passed" | "failed" | null;
  damaged: boolean;
  /**
   * A drill report of it does not read (lifeline check names it) and no readable drill ran after
   * it: what that drill found is unknown, so it is not taken for never drilled (or failed).
   */
  drillReportDamaged?: boolean;
}

export interface RetentionInput {
  policy: RetentionPolicy;
  restorePoints: readonly RetentionCandidate[];
  /** Restore points that must stay, with the reason (a standby serves it, a drill or restore uses it). */
  inUse: ReadonlyMap<string, string>;
  now: Date;
}

export interface RetentionDecision {
  id: string;
  snapshotTime: string;
  remove: boolean;
  /** Why it stays or goes, in words for the person reading `lifeline prune`. */
  reasons: string[];
}

/**
 * The restore points with a drill report that does not read and no readable drill started after it
 * (drill ids are their start times; a file not named like a drill id always counts): what their
 * latest drill found is unknown (RetentionCandidate.drillReportDamaged).
 */
export function unknownLatestDrill(
  drills: readonly { id: string; restorePointId: string }[],
  damaged: readonly { id: string; restorePointId: string }[],
): Set<string> {
  const latest = new Map<string, string>();
  for (const d of drills) if (d.id > (latest.get(d.restorePointId) ?? "")) latest.set(d.restorePointId, d.id);
  return new Set(
    damaged
      .filter((d) => !DRILL_ID.test(d.id) || d.id > (latest.get(d.restorePointId) ?? ""))
      .map((d) => d.restorePointId),
  );
}

const DAY_MS = 86_400_000;

function utcDay(time: number): number {
  return Math.floor(time / DAY_MS);
}

/** Days since 1970-01-05 (a Monday) divided by 7: the ISO week's index, UTC. */
function utcWeek(time: number): number {
  return Math.floor((utcDay(time) - 4) / 7);
}

function describePolicy(p: RetentionPolicy): string {
  return `keepLast ${p.keepLast}, daily ${p.daily}, weekly ${p.weekly}`;
}

/** Newest first: one decision per restore point. */
export function planRetention(input: RetentionInput): RetentionDecision[] {
  const { policy, now } = input;
  const points = [...input.restorePoints].sort(
    (a, b) => b.snapshotTime.localeCompare(a.snapshotTime) || b.id.localeCompare(a.id),
  );
  const reasons = new Map<string, string[]>(points.map((p) => [p.id, []]));
  const keep = (id: string, why: string) => reasons.get(id)?.push(why);
  const verified = points.filter((p) => p.drill === "passed" && !p.damaged);
  const newestVerified = verified[0];
  const today = utcDay(now.getTime());
  const thisWeek = utcWeek(now.getTime());

  if (newestVerified) keep(newestVerified.id, "the newest verified restore point (always kept)");
  verified
    .slice(0, policy.keepLast)
    .forEach((p, i) => keep(p.id, `one of the last ${policy.keepLast} verified (#${i + 1})`));
  const daysSeen = new Set<number>();
  const weeksSeen = new Set<number>();
  for (const p of verified) {
    const t = Date.parse(p.snapshotTime);
    const day = utcDay(t);
    if (today - day < policy.daily && !daysSeen.has(day)) {
      daysSeen.add(day);
      keep(
        p.id,
        `the newest verified of ${new Date(day * DAY_MS).toISOString().slice(0, 10)} (daily ${policy.daily})`,
      );
    }
    const week = utcWeek(t);
    if (thisWeek - week < policy.weekly && !weeksSeen.has(week)) {
      weeksSeen.add(week);
      const monday = new Date((week * 7 + 4) * DAY_MS).toISOString().slice(0, 10);
      keep(p.id, `the newest verified of the week of ${monday} (weekly ${policy.weekly})`);
    }
  }
  for (const p of points) {
    const use = input.inUse.get(p.id);
    if (use) keep(p.id, `in use: ${use}`);
    if (p.damaged) keep(p.id, "damaged: left for `lifeline check` to report, never removed unread");
    if (p.drillReportDamaged)
      keep(
        p.id,
        "a drill report of it is damaged (`lifeline check` names it): kept until it is drilled again or the report is removed",
      );
    else if (p.drill !== "passed" && !newestVerified) keep(p.id, "no verified restore point exists yet");
    else if (p.drill !== "passed" && newestVerified && p.snapshotTime > newestVerified.snapshotTime)
      keep(
        p.id,
        p.drill === "failed"
          ? "its drill failed, but it is newer than the newest verified restore point"
          : "not drilled yet (newer than the newest verified restore point)",
      );
  }

  return points.map((p) => {
    const kept = reasons.get(p.id) ?? [];
    if (kept.length > 0) return { id: p.id, snapshotTime: p.snapshotTime, remove: false, reasons: kept };
    const why =
      p.drill === "passed"
        ? `verified, but outside the retention policy (${describePolicy(policy)})`
        : p.drill === "failed"
          ? `its latest drill failed and the newer ${newestVerified?.id ?? "verified restore point"} is verified`
          : `never drilled and older than the newest verified ${newestVerified?.id ?? "restore point"}`;
    return { id: p.id, snapshotTime: p.snapshotTime, remove: true, reasons: [why] };
  });
}
