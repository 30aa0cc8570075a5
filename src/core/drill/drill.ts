import type { Mismatch } from "./compare.js";

export const DRILL_FORMAT = 1;

export interface DrillReport {
  format: typeof DRILL_FORMAT;
  id: string;
  asset: string;
  restorePointId: string;
  startedAt: string;
  finishedAt: string;
  result: "passed" | "failed";
  /** Why a drill failed before or besides comparing, e.g. a corrupt artifact or a restore error. */
  failure: { code: string; message: string } | null;
  scratch: { kind: string; serverVersion: string | null };
  tools: Record<string, string>;
  restoreSeconds: number;
  verifySeconds: number;
  mismatches: Mismatch[];
}

/** Drill ids sort by time within a restore point: 20261126T104512Z. */
export function newDrillId(now: Date): string {
  return now
    .toISOString()
    .replace(/\.(\d{3})Z$/, "$1Z")
    .replace(/[-:]/g, "");
}

export const DRILL_ID = /^\d{8}T\d{9}Z$/;

/**
 * A restore point is verified when its most recent drill passed: a later failing drill (bit rot,
 * a changed toolchain) takes the proof back.
 */
export function latestDrillByRestorePoint(drills: readonly DrillReport[]): Map<string, DrillReport> {
  const latest = new Map<string, DrillReport>();
  for (const drill of drills) {
    const current = latest.get(drill.restorePointId);
    if (!current || drill.finishedAt > current.finishedAt) latest.set(drill.restorePointId, drill);
  }
  return latest;
}
