/** Reading drill reports: drills/<asset>/<restore point id>/<drill id>.json. */
import path from "node:path";
import type { DrillReport } from "../../core/drill/drill.js";
import { drillReportSchema } from "../../core/restore-point/schemas.js";
import type { DrillInfo } from "../../ports/repository.js";
import { DRILLS, assets, entries } from "./layout.js";
import { readJson } from "./manifest.js";

export function drillInfo(report: DrillReport): DrillInfo {
  return {
    id: report.id,
    restorePointId: report.restorePointId,
    result: report.result,
    finishedAt: report.finishedAt,
    restoreSeconds: report.restoreSeconds,
    verifySeconds: report.verifySeconds,
  };
}

export async function listDrillReports(root: string, asset?: string): Promise<DrillReport[]> {
  const reports: DrillReport[] = [];
  for (const name of await assets(root, DRILLS, asset)) {
    const assetDir = path.join(root, DRILLS, name);
    for (const rp of await entries(assetDir)) {
      if (!rp.isDirectory()) continue;
      for (const file of await entries(path.join(assetDir, rp.name))) {
        if (!file.name.endsWith(".json")) continue;
        const parsed = await readJson(path.join(assetDir, rp.name, file.name), drillReportSchema);
        if (parsed.ok && parsed.value.restorePointId === rp.name) reports.push(parsed.value);
      }
    }
  }
  return reports.sort((a, b) => a.finishedAt.localeCompare(b.finishedAt));
}
