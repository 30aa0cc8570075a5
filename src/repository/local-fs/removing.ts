/**
 * Removing a restore point, crash-safely: its directory is first renamed out of the restore point
 * namespace (`.removing-<id>-<pid>`: from that instant it no longer exists for any reader), then its
 * drill reports and its files are deleted and the index updated. A removal interrupted half-way is
 * finished by the next removal or backup of the asset.
 *
 * Holds: a drill, restore or standby marks the restore point it reads (index/<asset>.hold-<id>-<pid>-<hex>,
 * holding the purpose) so that retention leaves it alone; a hold whose process is gone counts for nothing.
 */
import { access, readFile, rename, rm, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { inUse, isLifelineError, restorePointGone } from "../../core/errors.js";
import { fileSystemError, fsyncPath, isPidAlive } from "../../support/files.js";
import { beginIndexUpdate, finishIndexUpdate } from "./asset-index.js";
import {
  DRILLS,
  HOLD,
  INDEX,
  MANIFEST,
  REMOVING,
  RESTORE_POINTS,
  entries,
  failure,
  indexPath,
} from "./layout.js";

/**
 * Removes a restore point; false when it was removed already (by another prune). A hold taken while
 * the removal starts wins: the directory is renamed first, the holds read again, and the rename
 * undone when one appeared (the holder, for its part, checks the restore point after its hold).
 */
export async function removeRestorePoint(root: string, asset: string, id: string): Promise<boolean> {
  const assetDir = path.join(root, RESTORE_POINTS, asset);
  const held = (await heldRestorePoints(root, asset)).get(id);
  if (held !== undefined) throw inUse(asset, id, held);
  const removing = path.join(assetDir, `.removing-${id}-${process.pid}`);
  const pending = await beginIndexUpdate(root, asset);
  try {
    try {
      await rename(path.join(assetDir, id), removing);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        await rm(pending, { force: true });
        return false; // removed already (by another prune)
      }
      throw error;
    }
    await fsyncPath(assetDir);
    const heldSince = (await heldRestorePoints(root, asset)).get(id);
    if (heldSince !== undefined) {
      await rename(removing, path.join(assetDir, id));
      await fsyncPath(assetDir);
      await rm(pending, { force: true });
      throw inUse(asset, id, heldSince);
    }
    await finishRemoval(root, asset, id, removing);
  } catch (error) {
    await rm(pending, { force: true }).catch(() => undefined);
    if (isLifelineError(error)) throw error;
    throw failure(root, error, `cannot remove restore point ${id} of ${asset}`);
  }
  await finishIndexUpdate(root, asset, pending, (index) => {
    index.restorePoints = index.restorePoints.filter((p) => p.id !== id);
    index.drills = index.drills.filter((d) => d.restorePointId !== id);
    index.damagedDrills = index.damagedDrills.filter((d) => d.restorePointId !== id);
  });
  return true;
}

/** Deletes the drill reports, then the files: drill reports never outlive their restore point unnoticed. */
async function finishRemoval(root: string, asset: string, id: string, removing: string): Promise<void> {
  await rm(path.join(root, DRILLS, asset, id), { recursive: true, force: true });
  await rm(removing, { recursive: true, force: true });
}

/** Finishes removals whose process died half-way (called before a backup stages and before a removal). */
export async function finishAbandonedRemovals(root: string, asset: string): Promise<void> {
  const assetDir = path.join(root, RESTORE_POINTS, asset);
  for (const entry of await entries(assetDir)) {
    const match = REMOVING.exec(entry.name);
    const id = match?.[1];
    if (!id || isPidAlive(Number(match[2]))) continue;
    const pending = await beginIndexUpdate(root, asset);
    try {
      await finishRemoval(root, asset, id, path.join(assetDir, entry.name));
    } catch (error) {
      await rm(pending, { force: true }).catch(() => undefined);
      throw error;
    }
    await finishIndexUpdate(root, asset, pending, (index) => {
      index.restorePoints = index.restorePoints.filter((p) => p.id !== id);
      index.drills = index.drills.filter((d) => d.restorePointId !== id);
      index.damagedDrills = index.damagedDrills.filter((d) => d.restorePointId !== id);
    });
  }
}

export async function holdRestorePoint(
  root: string,
  asset: string,
  id: string,
  purpose: string,
): Promise<() => Promise<void>> {
  const file = indexPath(root, asset, `.hold-${id}-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(path.join(root, INDEX), { recursive: true });
    await writeFile(file, purpose);
  } catch (error) {
    // A full disk (or a read-only repository) is the user's to fix, with the fix named.
    await rm(file, { force: true }).catch(() => undefined);
    throw (
      fileSystemError(error, `cannot mark restore point ${id} as in use`, path.join(root, INDEX)) ?? error
    );
  }
  // The hold first, then the restore point: a removal that started before sees the hold and backs
  // off (its directory comes back), or has taken it out of the namespace and this is refused.
  const manifest = path.join(root, RESTORE_POINTS, asset, id, MANIFEST);
  for (let attempt = 0; !(await exists(manifest)); attempt++) {
    const removal = (await entries(path.join(root, RESTORE_POINTS, asset))).some(
      (e) => REMOVING.exec(e.name)?.[1] === id,
    );
    if (!removal || attempt >= 20) {
      await rm(file, { force: true });
      throw restorePointGone(asset, id);
    }
    await new Promise((resolve) => setTimeout(resolve, 50)); // a removal that may back off
  }
  return () => rm(file, { force: true });
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Restore point id → what holds it, for the holds whose process is alive. */
export async function heldRestorePoints(root: string, asset: string): Promise<Map<string, string>> {
  const held = new Map<string, string>();
  for (const entry of await entries(path.join(root, INDEX))) {
    const match = HOLD.exec(entry.name);
    if (!match || match[1] !== asset || !match[2] || !isPidAlive(Number(match[3]))) continue;
    const purpose = await readFile(path.join(root, INDEX, entry.name), "utf8").catch(() => null);
    if (purpose !== null) held.set(match[2], `${purpose} (pid ${match[3]})`);
  }
  return held;
}
