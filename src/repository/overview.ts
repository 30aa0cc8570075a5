import type { AssetOverview, DamagedDrillReport, DrillInfo, RestorePointInfo } from "../ports/repository.js";

/**
 * What `Repository.overview` returns, from an index's entries (both adapters keep more per entry:
 * digests, object keys): restore points oldest first, fresh objects the caller may change.
 */
export function assetOverview(
  restorePoints: readonly RestorePointInfo[],
  drills: readonly DrillInfo[],
  damagedDrillReports: readonly DamagedDrillReport[],
): AssetOverview {
  return {
    restorePoints: restorePoints
      .map((p): RestorePointInfo => ({
        id: p.id,
        snapshotTime: p.snapshotTime,
        bytes: p.bytes,
        damaged: p.damaged,
        protected: p.protected,
      }))
      .sort((a, b) => a.snapshotTime.localeCompare(b.snapshotTime)),
    drills: drills.map((d): DrillInfo => ({
      id: d.id,
      restorePointId: d.restorePointId,
      result: d.result,
      finishedAt: d.finishedAt,
      restoreSeconds: d.restoreSeconds,
      verifySeconds: d.verifySeconds,
    })),
    damagedDrillReports: damagedDrillReports
      .map((d): DamagedDrillReport => ({ restorePointId: d.restorePointId, id: d.id, path: d.path }))
      .sort((a, b) => a.path.localeCompare(b.path)),
  };
}
