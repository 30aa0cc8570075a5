/**
 * A local repository whose asset overviews are remembered by a long-running process (`lifeline
 * serve`: the admission webhook reads the overview of an asset on every request about it), and
 * never staler than a fresh read.
 *
 * What a fresh read of an overview depends on (asset-index.ts): the index file's bytes, the entries
 * of restore-points/<asset>, of drills/<asset> and of the index directory (a writer's marker). Each
 * of these is stamped with what a stat gives (inode, size, mtime and ctime in nanoseconds); every
 * change a writer makes through the repository's protocol (a backup's rename, a prune's rename, a
 * drill report's marker and index update) changes at least one stamp. A remembered overview is
 * used only while all four stamps are what they were when it was read, which costs four stats
 * instead of three directory reads, a file read, a digest and a schema check.
 *
 * Nothing is remembered
 * - while any stamp is younger than SETTLE_MS (or in the future): a file system's timestamps have a
 *   granularity (a change in the same tick as the stat would leave the mtime as it was);
 * - while a writer's marker (<asset>.pending-…) or the index lock (<asset>.lock) exists;
 * - when the overview did not come from a stored, fresh index (rebuilt from the manifests, or the
 *   asset has drill reports but no restore points directory);
 * - when a stamp changed while it was read.
 * ctime is in the stamp because a tool can set an mtime back (touch -d, rsync -t), not a ctime.
 */
import { statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Repository, AssetOverview } from "../../ports/repository.js";
import { assetOverview } from "../overview.js";
import { LocalRepository } from "./index.js";
import { DRILLS, INDEX, RESTORE_POINTS, indexPath } from "./layout.js";

/** How old every stamp must be before an overview is remembered. */
export const SETTLE_MS = 2_000;

type Stamp = { ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint } | null;

interface Remembered {
  stamps: Stamp[];
  overview: AssetOverview;
}

export interface OverviewCacheOptions {
  /** How old every stamp must be before an overview is remembered (tests: 0; default SETTLE_MS). */
  settleMs?: number;
}

/**
 * The repository with its overviews remembered when it is a local one; any other repository as it
 * is (an object store's listing is its own matter).
 */
export function withOverviewCache(repository: Repository, options: OverviewCacheOptions = {}): Repository {
  return repository instanceof LocalRepository && !(repository instanceof CachedOverviewRepository)
    ? new CachedOverviewRepository(repository.root, options)
    : repository;
}

export class CachedOverviewRepository extends LocalRepository {
  private readonly remembered = new Map<string, Remembered>();
  private readonly settleNs: bigint;
  /** How often an overview was answered from memory, and read (for tests and benchmarks). */
  readonly counts = { remembered: 0, read: 0 };

  constructor(root: string, options: OverviewCacheOptions = {}) {
    super(root);
    this.settleNs = BigInt(Math.round((options.settleMs ?? SETTLE_MS) * 1e6));
  }

  override async overview(asset: string): Promise<AssetOverview> {
    const before = this.tryStamps(asset);
    // Unreadable (permissions): the plain read reports it.
    if (before === null) return super.overview(asset);
    const known = this.remembered.get(asset);
    if (known && sameStamps(known.stamps, before)) {
      this.counts.remembered++;
      // Fresh objects: the caller may change what it is given.
      return assetOverview(
        known.overview.restorePoints,
        known.overview.drills,
        known.overview.damagedDrillReports,
      );
    }
    this.remembered.delete(asset);
    this.counts.read++;
    const [markers, overview] = await Promise.all([this.writerMarkers(asset), super.overview(asset)]);
    const [restorePoints, drills, , indexFile] = before;
    const fromIndex =
      (indexFile !== null && restorePoints !== null) || (restorePoints === null && drills === null);
    if (
      fromIndex &&
      !markers &&
      before.every((s) => this.settled(s)) &&
      sameStamps(before, this.tryStamps(asset) ?? [])
    ) {
      this.remembered.set(asset, {
        stamps: before,
        overview: assetOverview(overview.restorePoints, overview.drills, overview.damagedDrillReports),
      });
    }
    return overview;
  }

  /**
   * restore-points/<asset>, drills/<asset>, the index directory, index/<asset>.json. Synchronous:
   * four stats of local paths take a few microseconds; through the thread pool they cost ten times
   * that in CPU, on every request. (A repository on a hung network mount blocks the process here
   * instead of one request: the webhook's failurePolicy Fail denies meanwhile, fail closed.)
   */
  private tryStamps(asset: string): Stamp[] | null {
    try {
      return this.stamps(asset);
    } catch {
      return null;
    }
  }

  private stamps(asset: string): Stamp[] {
    return [
      path.join(this.root, RESTORE_POINTS, asset),
      path.join(this.root, DRILLS, asset),
      path.join(this.root, INDEX),
      indexPath(this.root, asset),
    ].map(stampOf);
  }

  private settled(s: Stamp): boolean {
    if (s === null) return true;
    // File times are wall-clock times; one in the future (a skewed clock) is not settled either.
    const now = BigInt(Date.now()) * 1_000_000n;
    return now - s.mtimeNs >= this.settleNs && now - s.ctimeNs >= this.settleNs;
  }

  /** Whether a writer's marker or the index lock of this asset is in the index directory. */
  private async writerMarkers(asset: string): Promise<boolean> {
    try {
      const names = await readdir(path.join(this.root, INDEX));
      return names.some((n) => n === `${asset}.lock` || n.startsWith(`${asset}.pending-`));
    } catch (error) {
      return (error as NodeJS.ErrnoException).code !== "ENOENT";
    }
  }
}

function stampOf(file: string): Stamp {
  const s = statSync(file, { bigint: true, throwIfNoEntry: false });
  return s ? { ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs } : null;
}

function sameStamps(a: readonly Stamp[], b: readonly Stamp[]): boolean {
  return a.every((s, i) => {
    const t = b[i];
    if (s === null || t === null || t === undefined) return s === null && t === null;
    return s.ino === t.ino && s.size === t.size && s.mtimeNs === t.mtimeNs && s.ctimeNs === t.ctimeNs;
  });
}
