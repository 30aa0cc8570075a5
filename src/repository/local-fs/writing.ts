/**
 * Writing, crash-safely: a restore point is staged in a directory of its own and becomes one only
 * when its manifest is written and the directory renamed; a drill report is written atomically.
 * Both leave a marker while the asset's index is updated, so that an interrupted write is noticed.
 */
import { drillFactsOf } from "../../core/posture/posture.js";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { DrillReport } from "../../core/drill/drill.js";
import { totalArtifactBytes, type Manifest } from "../../core/restore-point/restore-point.js";
import type { StagedRestorePoint } from "../../ports/repository.js";
import { fsyncPath, isPidAlive, writeFileAtomic } from "../../support/files.js";
import { beginIndexUpdate, finishIndexUpdate } from "./asset-index.js";
import { DRILLS, MANIFEST, RESTORE_POINTS, STAGING, ensure, entries, failure } from "./layout.js";
import { manifestDigest, sha256 } from "./manifest.js";
import { finishAbandonedRemovals } from "./removing.js";

export async function stage(root: string, asset: string, id: string): Promise<StagedRestorePoint> {
  await ensure(root);
  const assetDir = path.join(root, RESTORE_POINTS, asset);
  let staging: string;
  try {
    await mkdir(assetDir, { recursive: true });
    await removeAbandonedStaging(assetDir);
    await finishAbandonedRemovals(root, asset);
    staging = path.join(assetDir, `.staging-${id}-${process.pid}`);
    await mkdir(staging);
  } catch (error) {
    throw failure(root, error, `cannot stage a restore point of ${asset}`);
  }
  const final = path.join(assetDir, id);
  let done = false;
  return {
    id,
    directory: staging,
    commit: async (manifest: Manifest) => {
      if (done) throw new Error("restore point already committed or aborted");
      const body = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
      delete body.digest;
      const digest = manifestDigest(body);
      const text = JSON.stringify({ ...body, digest }, null, 2) + "\n";
      const pending = await beginIndexUpdate(root, asset);
      try {
        // Manifest last: until the rename below, nothing here is a restore point.
        await writeFileAtomic(path.join(staging, MANIFEST), text);
        await fsyncPath(staging);
        await rename(staging, final);
        await fsyncPath(assetDir);
      } catch (error) {
        await rm(pending, { force: true });
        throw failure(root, error, `cannot commit restore point ${id} of ${asset}`);
      }
      done = true;
      await finishIndexUpdate(root, asset, pending, (index) => {
        index.restorePoints = index.restorePoints.filter((p) => p.id !== id);
        index.restorePoints.push({
          id,
          snapshotTime: manifest.snapshotTime,
          bytes: totalArtifactBytes(manifest),
          manifestDigest: digest,
          textDigest: `sha256:${sha256(text)}`,
          protected: true,
          damaged: null,
        });
      });
    },
    abort: async () => {
      if (done) return;
      done = true;
      await rm(staging, { recursive: true, force: true });
    },
  };
}

/** Leftovers of backups whose process is gone (killed, machine crash). */
async function removeAbandonedStaging(assetDir: string): Promise<void> {
  for (const entry of await entries(assetDir)) {
    const match = STAGING.exec(entry.name);
    if (match && !isPidAlive(Number(match[2]))) {
      await rm(path.join(assetDir, entry.name), { recursive: true, force: true });
    }
  }
}

export async function writeDrillReport(root: string, report: DrillReport): Promise<void> {
  await ensure(root);
  const dir = path.join(root, DRILLS, report.asset, report.restorePointId);
  let pending: string;
  try {
    pending = await beginIndexUpdate(root, report.asset);
    try {
      await mkdir(dir, { recursive: true });
      await writeFileAtomic(path.join(dir, `${report.id}.json`), JSON.stringify(report, null, 2) + "\n");
    } catch (error) {
      await rm(pending, { force: true });
      throw error;
    }
  } catch (error) {
    throw failure(root, error, `cannot record drill ${report.id} of ${report.asset}`);
  }
  await finishIndexUpdate(root, report.asset, pending, (index) => {
    index.drills = index.drills.filter(
      (d) => !(d.id === report.id && d.restorePointId === report.restorePointId),
    );
    index.drills.push(drillFactsOf(report));
  });
}
