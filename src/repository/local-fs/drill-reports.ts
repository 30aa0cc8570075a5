/** Reading drill reports: drills/<asset>/<restore point id>/<drill id>.json. */
import path from "node:path";
import type { DrillReport } from "../../core/drill/drill.js";
import { drillReportSchema } from "../../core/restore-point/schemas.js";
import type { DamagedDrillReport } from "../../ports/repository.js";
import { DRILLS, assets, entries } from "./layout.js";
import { readJson } from "./manifest.js";

export async function listDrillReports(root: string, asset?: string): Promise<DrillReport[]> {
  return (await readDrillReports(root, asset)).reports;
}

/**
 * Every drill report, and the report files that do not read (do not parse, or name another
 * restore point than their directory): retention must not take their restore points for never
 * drilled.
 */
export async function readDrillReports(
  root: string,
  asset?: string,
): Promise<{ reports: DrillReport[]; damaged: DamagedDrillReport[] }> {
  const reports: DrillReport[] = [];
  const damaged: DamagedDrillReport[] = [];
  for (const name of await assets(root, DRILLS, asset)) {
    const assetDir = path.join(root, DRILLS, name);
    for (const rp of await entries(assetDir)) {
      if (!rp.isDirectory()) continue;
      for (const file of await entries(path.join(assetDir, rp.name))) {
        if (!file.name.endsWith(".json")) continue;
        const parsed = await readJson(path.join(assetDir, rp.name, file.name), drillReportSchema);
        if (parsed.ok && parsed.value.restorePointId === rp.name) reports.push(parsed.value);
        else
          damaged.push({
            restorePointId: rp.name,
            id: file.name.slice(0, -".json".length),
            path: path.posix.join(DRILLS, name, rp.name, file.name),
          });
      }
    }
  }
  reports.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
  return { reports, damaged };
}
