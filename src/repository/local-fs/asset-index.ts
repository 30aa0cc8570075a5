/**
 * The per-asset index (index/<asset>.json): a cache of what posture needs, rebuilt from the
 * manifests and drill reports when it is missing, stale or damaged; the markers a writer leaves
 * while it updates it, and the lock held while it is rewritten.
 */
import { drillFactsOf } from "../../core/posture/posture.js";
import { assetOverview } from "../overview.js";
import { createHash } from "node:crypto";
import type { Dirent } from "node:fs";
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as z from "zod";
import {
  RESTORE_POINT_ID,
  restorePointIdTime,
  totalArtifactBytes,
} from "../../core/restore-point/restore-point.js";
import type { AssetOverview } from "../../ports/repository.js";
import { isPidAlive, withFileLock, writeFileAtomic } from "../../support/files.js";
import { drillReportSchema } from "../../core/restore-point/schemas.js";
import { readDrillReports } from "./drill-reports.js";
import {
  DRILLS,
  INDEX,
  MANIFEST,
  PENDING,
  RESTORE_POINTS,
  entries,
  entriesNow,
  indexPath,
  sameSet,
} from "./layout.js";
import { readJson, readManifest, sha256 } from "./manifest.js";

/**
 * 2: entries carry the sha256 of their manifest's text, and the index's digest is the sha256 of
 * its JSON as written (without the digest). A format-1 index is rebuilt when read.
 * 3: damagedDrills lists the drill report files that do not read (retention keeps their restore
 * points). A format-2 index (which left them out) is rebuilt when read.
 */
const INDEX_FORMAT = 3;

/** The per-asset index: what posture needs, so that status and plan read no manifest they do not use. */
export const indexSchema = z.object({
  kind: z.literal("lifeline-index"),
  format: z.literal(INDEX_FORMAT),
  asset: z.string(),
  /** Every restore point directory, damaged ones included: the index is stale when these differ. */
  restorePoints: z.array(
    z.object({
      id: z.string(),
      snapshotTime: z.string(),
      bytes: z.number(),
      manifestDigest: z.string().nullable(),
      /** sha256 of the manifest file's text when it was indexed (its bytes need no second check). */
      textDigest: z.string().nullable(),
      protected: z.boolean(),
      damaged: z.string().nullable(),
    }),
  ),
  /** The restore point directories under drills/<asset> when the index was written. */
  drillDirectories: z.array(z.string()),
  drills: z.array(
    z.object({
      id: z.string(),
      restorePointId: z.string(),
      result: z.enum(["passed", "failed"]),
      finishedAt: z.string(),
      restoreSeconds: z.number(),
      verifySeconds: z.number(),
    }),
  ),
  /** Drill report files that do not read: what their drills found is unknown. */
  damagedDrills: z.array(z.object({ restorePointId: z.string(), id: z.string(), path: z.string() })),
  digest: z.string(),
});
export type IndexFile = z.infer<typeof indexSchema>;
type IndexEntry = IndexFile["restorePoints"][number];

/**
 * The index with its digest: the sha256 of its JSON as written, without the digest (the digest
 * is written last). Cheaper to check than a canonical form: JSON.parse keeps the order of keys.
 */
export function sealIndex(index: Omit<IndexFile, "digest">): IndexFile {
  const body: Record<string, unknown> = { ...index };
  delete body.digest;
  return { ...(body as Omit<IndexFile, "digest">), digest: `sha256:${sha256(JSON.stringify(body))}` };
}

export async function overview(root: string, asset: string): Promise<AssetOverview> {
  return (await indexedOverview(root, asset)).overview;
}

/**
 * The overview, and the sha256 of each restore point's manifest text as indexed (see
 * getRestorePoint's `known`).
 */
export async function indexedOverview(
  root: string,
  asset: string,
): Promise<{ overview: AssetOverview; known: Map<string, string> }> {
  const index = await currentIndex(root, asset);
  const known = new Map<string, string>();
  for (const p of index.restorePoints) if (p.textDigest !== null) known.set(p.id, p.textDigest);
  return {
    known,
    overview: assetOverview(index.restorePoints, index.drills, index.damagedDrills),
  };
}

const WRITTEN_DIGEST = /^,"digest":"(sha256:[0-9a-f]{64})"}\n?$/;

/**
 * The index's text as writeIndex wrote it (the JSON of its body with the digest added last): the
 * digest is checked against the text itself, without serializing the parsed index again. Any other
 * text (another key order or spacing) is checked against the JSON of what it parses to.
 */
function sealedAsWritten(bytes: Buffer, raw: Record<string, unknown>): boolean {
  // On the bytes as read: hashing the text would encode its 30 kB again.
  const at = bytes.lastIndexOf(DIGEST_KEY);
  const tail = at > 0 ? WRITTEN_DIGEST.exec(bytes.toString("latin1", at)) : null;
  return (
    tail !== null &&
    raw.digest === tail[1] &&
    tail[1] === `sha256:${createHash("sha256").update(bytes.subarray(0, at)).update("}").digest("hex")}`
  );
}
const DIGEST_KEY = Buffer.from(',"digest":"');

export async function loadIndex(root: string, asset: string): Promise<IndexFile | undefined> {
  // One small file read at once: an open, a stat, a read and a close each handed to the thread
  // pool cost more of the process's time than the read itself (status reads 1,000 of them).
  let bytes: Buffer;
  try {
    bytes = readFileSync(indexPath(root, asset));
  } catch {
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return undefined;
  if (!sealedAsWritten(bytes, raw as Record<string, unknown>)) {
    const { digest, ...body } = raw as Record<string, unknown>;
    if (digest !== `sha256:${sha256(JSON.stringify(body))}`) return undefined;
  }
  return isIndexFile(raw) && raw.asset === asset ? raw : undefined;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStringOrNull = (v: unknown) => v === null || typeof v === "string";
const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v);
const DRILL_RESULTS: readonly unknown[] = ["passed", "failed"];

/**
 * Whether raw is an IndexFile: what indexSchema accepts, checked by hand (the schema library took
 * a third of the time of reading an index; test/unit/asset-index.test.ts holds the two together).
 * Unlike the schema, keys it does not know are kept, not removed.
 */
export function isIndexFile(raw: unknown): raw is IndexFile {
  if (!isObject(raw)) return false;
  if (raw.kind !== "lifeline-index" || raw.format !== INDEX_FORMAT || !isString(raw.asset)) return false;
  if (!isString(raw.digest) || !Array.isArray(raw.restorePoints)) return false;
  if (!Array.isArray(raw.drillDirectories) || !raw.drillDirectories.every(isString)) return false;
  if (!Array.isArray(raw.drills) || !Array.isArray(raw.damagedDrills)) return false;
  for (const d of raw.damagedDrills as unknown[])
    if (!isObject(d) || !isString(d.restorePointId) || !isString(d.id) || !isString(d.path)) return false;
  for (const p of raw.restorePoints as unknown[]) {
    if (
      !isObject(p) ||
      !isString(p.id) ||
      !isString(p.snapshotTime) ||
      !isNumber(p.bytes) ||
      !isStringOrNull(p.manifestDigest) ||
      !isStringOrNull(p.textDigest) ||
      typeof p.protected !== "boolean" ||
      !isStringOrNull(p.damaged)
    )
      return false;
  }
  for (const d of raw.drills as unknown[]) {
    if (
      !isObject(d) ||
      !isString(d.id) ||
      !isString(d.restorePointId) ||
      !DRILL_RESULTS.includes(d.result) ||
      !isString(d.finishedAt) ||
      !isNumber(d.restoreSeconds) ||
      !isNumber(d.verifySeconds)
    )
      return false;
  }
  return true;
}

/**
 * The writers' markers in the index directory, one read shared by the readers that ask while it is under way or
 * within SHARED_FOR_MS after it finished (status reads every asset's index, 16 at a time: the
 * directory holds every asset's index, so reading it once per asset would cost assets² entries).
 * The read is looked at for markers whose writer died (the pids are checked when used): a read a
 * quarter second old is as good as the caller having asked then; a writer's marker is looked for
 * again under the lock.
 */
const SHARED_FOR_MS = 250;
const indexReads = new Map<string, Promise<Map<string, string[]>>>();
function markersShared(root: string): Promise<Map<string, string[]>> {
  const dir = path.join(root, INDEX);
  const running = indexReads.get(dir);
  if (running) return running;
  const read = entries(dir).then(markersByAsset);
  indexReads.set(dir, read);
  const forget = () => {
    if (indexReads.get(dir) === read) indexReads.delete(dir);
  };
  // A failed read is not reused: the next reader tries again.
  read.then(() => setTimeout(forget, SHARED_FOR_MS).unref(), forget);
  return read;
}

/** The writers' markers in the index directory, by asset (the directory is read once, not once per asset). */
function markersByAsset(indexEntries: readonly Dirent[]): Map<string, string[]> {
  const byAsset = new Map<string, string[]>();
  for (const e of indexEntries) {
    // Most entries are <asset>.json: the pattern is tried only on names that can be markers.
    if (!e.name.includes(".pending-")) continue;
    const m = PENDING.exec(e.name);
    if (!m) continue;
    const asset = m[1] as string;
    const names = byAsset.get(asset);
    if (names) names.push(m[0]);
    else byAsset.set(asset, [m[0]]);
  }
  return byAsset;
}

/** What the directories hold now: the index is fresh when it lists the same. */
export async function listing(root: string, asset: string, shared = false) {
  const markers = await (shared ? markersShared(root) : entries(path.join(root, INDEX)).then(markersByAsset));
  const assetEntries = entriesNow(path.join(root, RESTORE_POINTS, asset));
  const drillEntries = entriesNow(path.join(root, DRILLS, asset));
  const restorePoints = assetEntries
    .filter((e) => e.isDirectory() && RESTORE_POINT_ID.test(e.name))
    .map((e) => e.name);
  const abandoned = (markers.get(asset) ?? []).filter(
    (name) => !isPidAlive(Number((PENDING.exec(name) as RegExpExecArray)[2])),
  );
  const drillDirectories = drillEntries.filter((e) => e.isDirectory()).map((e) => e.name);
  return { restorePoints, abandoned, drillDirectories, assetExists: assetEntries.length > 0 };
}

type Listing = Awaited<ReturnType<typeof listing>>;

export function fresh(index: IndexFile, now: Listing): boolean {
  return (
    now.abandoned.length === 0 &&
    sameSet(
      index.restorePoints.map((p) => p.id),
      now.restorePoints,
    ) &&
    sameSet(index.drillDirectories, now.drillDirectories)
  );
}

/** The index, rebuilt from the manifests and drill reports when it is missing, stale or damaged. */
async function currentIndex(root: string, asset: string): Promise<IndexFile> {
  const [index, now] = await Promise.all([loadIndex(root, asset), listing(root, asset, true)]);
  if (index && fresh(index, now) && (await stillDamaged(root, index))) return index;
  if (!now.assetExists) return buildIndex(root, asset, now.drillDirectories);
  const rebuilt = await withIndexLock(root, asset, async () => {
    const again = await listing(root, asset);
    const built = await buildIndex(root, asset, again.drillDirectories);
    await writeIndex(root, asset, built);
    for (const name of again.abandoned) await rm(path.join(root, INDEX, name), { force: true });
    return built;
  }).catch(() => undefined);
  // Locked by a writer, or the disk refused: answer from the manifests without storing.
  return rebuilt ?? buildIndex(root, asset, now.drillDirectories);
}

/**
 * Whether the drill report files the index holds for damaged still do not read: one put right (or
 * removed) since makes the index stale. Few or none: read each time.
 */
async function stillDamaged(root: string, index: IndexFile): Promise<boolean> {
  for (const d of index.damagedDrills) {
    const read = await readJson(path.join(root, d.path), drillReportSchema);
    if (read.ok && read.value.restorePointId === d.restorePointId) return false;
    if (!read.ok && read.problem === "missing") return false;
  }
  return true;
}

/** `check --repair-index`: every asset's index rebuilt from its manifests and drill reports. */
export async function repairIndexes(root: string): Promise<string[]> {
  const names = new Set([
    ...(await entries(path.join(root, RESTORE_POINTS))).filter((e) => e.isDirectory()).map((e) => e.name),
    ...(await entries(path.join(root, DRILLS))).filter((e) => e.isDirectory()).map((e) => e.name),
  ]);
  const repaired: string[] = [];
  for (const asset of [...names].sort()) {
    const done = await withIndexLock(root, asset, async () => {
      const now = await listing(root, asset);
      await writeIndex(root, asset, await buildIndex(root, asset, now.drillDirectories));
      for (const name of now.abandoned) await rm(path.join(root, INDEX, name), { force: true });
      return true;
    });
    if (done) repaired.push(asset);
  }
  return repaired;
}

/** Reads every manifest and drill report of the asset: the slow path, when the index cannot be trusted. */
export async function buildIndex(
  root: string,
  asset: string,
  drillDirectories: string[],
): Promise<IndexFile> {
  const assetDir = path.join(root, RESTORE_POINTS, asset);
  const restorePoints: IndexEntry[] = [];
  for (const entry of await entries(assetDir)) {
    if (!entry.isDirectory() || !RESTORE_POINT_ID.test(entry.name)) continue;
    const read = await readManifest(path.join(assetDir, entry.name, MANIFEST), asset, entry.name);
    restorePoints.push(
      read.ok
        ? {
            id: entry.name,
            snapshotTime: read.value.manifest.snapshotTime,
            bytes: totalArtifactBytes(read.value.manifest),
            manifestDigest: read.value.digest,
            textDigest: read.value.textDigest,
            protected: read.value.protected,
            damaged: null,
          }
        : {
            id: entry.name,
            snapshotTime: restorePointIdTime(entry.name),
            bytes: 0,
            manifestDigest: null,
            textDigest: null,
            protected: false,
            damaged: `${path.posix.join(RESTORE_POINTS, asset, entry.name, MANIFEST)}: ${read.problem}`,
          },
    );
  }
  const read = await readDrillReports(root, asset);
  return sealIndex({
    kind: "lifeline-index",
    format: INDEX_FORMAT,
    asset,
    restorePoints,
    drillDirectories,
    drills: read.reports.map(drillFactsOf),
    damagedDrills: read.damaged,
  });
}

async function writeIndex(root: string, asset: string, index: IndexFile): Promise<void> {
  await mkdir(path.join(root, INDEX), { recursive: true });
  await writeFileAtomic(indexPath(root, asset), JSON.stringify(sealIndex(index)) + "\n");
}

/**
 * Runs fn holding the asset's index lock (an exclusively created file naming its process; a lock
 * whose process is gone is taken over). Undefined when another live process holds it for 10 s.
 */
async function withIndexLock<T>(root: string, asset: string, fn: () => Promise<T>): Promise<T | undefined> {
  return withFileLock(indexPath(root, asset, ".lock"), fn);
}

/** Marks a write whose index update follows: if the process dies before, readers rebuild the index. */
export async function beginIndexUpdate(root: string, asset: string): Promise<string> {
  await mkdir(path.join(root, INDEX), { recursive: true });
  const marker = indexPath(
    root,
    asset,
    `.pending-${process.pid}-${Math.floor(Math.random() * 0xffffffff).toString(16)}`,
  );
  await writeFile(marker, "");
  return marker;
}

/**
 * Adds what was just written to the index (under the lock, re-reading it first so that a
 * concurrent writer's entry is kept), then removes the marker. The written files are already
 * the truth: a failure here only leaves the marker, and the next reader rebuilds the index.
 */
export async function finishIndexUpdate(
  root: string,
  asset: string,
  marker: string,
  change: (index: IndexFile) => void,
): Promise<void> {
  const updated = await withIndexLock(root, asset, async () => {
    const index = await loadIndex(root, asset);
    const now = await listing(root, asset);
    let next: IndexFile;
    if (index) {
      change(index);
      index.drillDirectories = now.drillDirectories;
      next = fresh(index, { ...now, abandoned: [] })
        ? index
        : await buildIndex(root, asset, now.drillDirectories);
    } else {
      next = await buildIndex(root, asset, now.drillDirectories);
    }
    await writeIndex(root, asset, next);
    return true;
  }).catch(() => undefined);
  if (updated) await rm(marker, { force: true }).catch(() => undefined);
}
