/**
 * The layout of a local repository (see index.ts): the names of its files and directories, and
 * the small helpers every part of the adapter uses to read them.
 */
import { readdirSync, type Dirent } from "node:fs";
import { mkdir, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { LifelineError } from "../../core/errors.js";
import type { Manifest } from "../../core/restore-point/restore-point.js";
import { fileSystemError, writeFileAtomic } from "../../support/files.js";

export const MARKER = "lifeline-repository.json";
export const RESTORE_POINTS = "restore-points";
export const DRILLS = "drills";
export const MANIFEST = "manifest.json";
/** index/<asset>.json, with <asset>.lock and <asset>.pending-<pid>-<hex> beside it. */
export const INDEX = "index";
export const STAGING = /^\.staging-(.+)-(\d+)$/;
/** Left by a writer between writing a manifest or drill report and updating the index (asset names have no "."). */
export const PENDING = /^([^.]+)\.pending-(\d+)-([0-9a-f]+)$/;
export const TEMP = /\.tmp-\d+$/;
/** A restore point directory being removed (renamed out of the way first; see removing.ts). */
export const REMOVING = /^\.removing-(\d{8}T\d{6}Z-[0-9a-f]{6})-(\d+)$/;
/** index/<asset>.hold-<restore point id>-<pid>-<hex>: a drill, restore or standby reads that restore point. */
export const HOLD = /^([^.]+)\.hold-(\d{8}T\d{6}Z-[0-9a-f]{6})-(\d+)-([0-9a-f]+)$/;

export async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw fileSystemError(error, "cannot read the repository", dir) ?? error;
  }
}

/**
 * entries, read at once: for the small directories status lists for every asset (a read handed to
 * the thread pool costs the process more than the read itself).
 */
export function entriesNow(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw fileSystemError(error, "cannot read the repository", dir) ?? error;
  }
}

export function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

export function failure(root: string, error: unknown, doing: string): unknown {
  if (error instanceof LifelineError) return error;
  return fileSystemError(error, doing, root) ?? error;
}

export async function ensure(root: string): Promise<void> {
  try {
    await mkdir(root, { recursive: true });
    const marker = path.join(root, MARKER);
    try {
      await stat(marker);
    } catch {
      await writeFileAtomic(
        marker,
        JSON.stringify({ kind: "lifeline-repository", format: 1 }, null, 2) + "\n",
      );
    }
  } catch (error) {
    throw failure(root, error, `cannot use the repository ${root}`);
  }
}

export async function assets(root: string, kind: string, asset?: string): Promise<string[]> {
  if (asset) return [asset];
  return (await entries(path.join(root, kind))).filter((e) => e.isDirectory()).map((e) => e.name);
}

export function indexPath(root: string, asset: string, suffix = ".json"): string {
  return path.join(root, INDEX, `${asset}${suffix}`);
}

export function artifactDirectory(root: string, manifest: Manifest): string {
  return path.join(root, RESTORE_POINTS, manifest.asset, manifest.id);
}
