import { createHash } from "node:crypto";
import type { Dirent } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import * as z from "zod";
import { checkArtifacts, type Finding } from "../../core/restore-point/check.js";
import { DRILL_ID, type DrillReport } from "../../core/drill/drill.js";
import { LifelineError, restorePointDamaged } from "../../core/errors.js";
import {
  RESTORE_POINT_ID,
  UNDIGESTED_MANIFEST_FIELDS,
  canonicalJson,
  restorePointIdTime,
  totalArtifactBytes,
  type Manifest,
} from "../../core/restore-point/restore-point.js";
import { describeZodError, drillReportSchema, manifestSchema } from "../../core/restore-point/schemas.js";
import type {
  AssetOverview,
  CheckResult,
  DrillInfo,
  Repository,
  RestorePointInfo,
  StagedRestorePoint,
} from "../../ports/repository.js";
import {
  fileSize,
  fileSystemError,
  fsyncPath,
  isPidAlive,
  listFiles,
  sha256File,
  writeFileAtomic,
} from "../../support/files.js";

const MARKER = "lifeline-repository.json";
const RESTORE_POINTS = "restore-points";
const DRILLS = "drills";
const MANIFEST = "manifest.json";
/** index/<asset>.json, with <asset>.lock and <asset>.pending-<pid>-<hex> beside it. */
const INDEX = "index";
const INDEX_FORMAT = 1;
const STAGING = /^\.staging-(.+)-(\d+)$/;
/** Left by a writer between writing a manifest or drill report and updating the index (asset names have no "."). */
const PENDING = /^([^.]+)\.pending-(\d+)-([0-9a-f]+)$/;
const TEMP = /\.tmp-\d+$/;

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** "sha256:<hex>" of the canonical JSON of a manifest (as parsed from its file) without its digest field. */
export function manifestDigest(raw: Record<string, unknown>): string {
  const body: Record<string, unknown> = { ...raw };
  delete body.digest;
  return `sha256:${sha256(canonicalJson(body))}`;
}

async function readText(file: string): Promise<Parsed<string>> {
  try {
    return { ok: true, value: await readFile(file, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === "ENOENT" ? "missing" : `unreadable (${code ?? String(error)})` };
  }
}

async function readJson<T>(
  file: string,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: z.ZodError } },
): Promise<Parsed<T>> {
  const text = await readText(file);
  if (!text.ok) return text;
  let value: unknown;
  try {
    value = JSON.parse(text.value);
  } catch {
    return { ok: false, problem: "not valid JSON (truncated or corrupt)" };
  }
  const parsed = schema.safeParse(value);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, problem: describeZodError(parsed.error) };
}

interface ManifestRead {
  manifest: Manifest;
  /** The manifest's digest; for an unprotected (0.1) manifest, the sha256 of its file. */
  digest: string;
  protected: boolean;
}

/**
 * Reads a manifest and checks it against its digest: a manifest that does not parse, does not
 * match its digest, or describes another restore point is damaged ("problem").
 */
async function readManifest(file: string, asset: string, id: string): Promise<Parsed<ManifestRead>> {
  const text = await readText(file);
  if (!text.ok) return text;
  let raw: unknown;
  try {
    raw = JSON.parse(text.value);
  } catch {
    return { ok: false, problem: "not valid JSON (truncated or corrupt)" };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    return { ok: false, problem: "not a JSON object" };
  const record = raw as Record<string, unknown>;
  let digest: string;
  let isProtected: boolean;
  if ("digest" in record) {
    let actual: string;
    try {
      actual = manifestDigest(record);
    } catch {
      return { ok: false, problem: "nested too deeply to be a manifest" };
    }
    if (record.digest !== actual)
      return {
        ok: false,
        problem: "its content does not match its digest (the manifest was changed or is corrupt)",
      };
    digest = actual;
    isProtected = true;
  } else {
    // Without a digest only a manifest of lifeline 0.1 is acceptable: it has exactly its fields. A
    // corrupted "digest" key would otherwise pass for an old manifest.
    const unknown = Object.keys(record).filter((k) => !UNDIGESTED_MANIFEST_FIELDS.includes(k));
    if (unknown.length > 0)
      return {
        ok: false,
        problem: `it has no digest and unknown fields (${unknown.slice(0, 3).join(", ")}): a corrupted manifest`,
      };
    digest = `sha256:${sha256(text.value)}`;
    isProtected = false;
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: describeZodError(parsed.error) };
  if (parsed.data.id !== id || parsed.data.asset !== asset)
    return {
      ok: false,
      problem: `describes ${parsed.data.asset}/${parsed.data.id}, not the directory it is in`,
    };
  return { ok: true, value: { manifest: parsed.data, digest, protected: isProtected } };
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw fileSystemError(error, "cannot read the repository", dir) ?? error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The per-asset index: what posture needs, so that status and plan read no manifest they do not use. */
const indexSchema = z.object({
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
  digest: z.string(),
});
type IndexFile = z.infer<typeof indexSchema>;
type IndexEntry = IndexFile["restorePoints"][number];

function sealIndex(index: Omit<IndexFile, "digest">): IndexFile {
  const body: Record<string, unknown> = { ...index };
  delete body.digest;
  return { ...index, digest: `sha256:${sha256(canonicalJson(body))}` };
}

function drillInfo(report: DrillReport): DrillInfo {
  return {
    id: report.id,
    restorePointId: report.restorePointId,
    result: report.result,
    finishedAt: report.finishedAt,
    restoreSeconds: report.restoreSeconds,
    verifySeconds: report.verifySeconds,
  };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

/**
 * A repository in a local directory. Self-describing: restore points and drill reports are plain
 * files, listable with nothing but this directory.
 *
 *   lifeline-repository.json
 *   restore-points/<asset>/<restore point id>/manifest.json, dump/…
 *   restore-points/<asset>/.staging-<id>-<pid>/  a backup in progress (or interrupted)
 *   drills/<asset>/<restore point id>/<drill id>.json
 *   index/<asset>.json                           the asset's index (a cache: the manifests and drill
 *                                                 reports are the truth; rebuilt when missing, stale
 *                                                 or damaged)
 *   index/<asset>.lock                           held while the index is rewritten
 *   index/<asset>.pending-<pid>-<hex>            a write whose index update is in progress (or
 *                                                 interrupted: the next reader rebuilds the index)
 */
export class LocalRepository implements Repository {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private failure(error: unknown, doing: string): unknown {
    if (error instanceof LifelineError) return error;
    return fileSystemError(error, doing, this.root) ?? error;
  }

  private async ensure(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true });
      const marker = path.join(this.root, MARKER);
      try {
        await stat(marker);
      } catch {
        await writeFileAtomic(
          marker,
          JSON.stringify({ kind: "lifeline-repository", format: 1 }, null, 2) + "\n",
        );
      }
    } catch (error) {
      throw this.failure(error, `cannot use the repository ${this.root}`);
    }
  }

  async stage(asset: string, id: string): Promise<StagedRestorePoint> {
    await this.ensure();
    const assetDir = path.join(this.root, RESTORE_POINTS, asset);
    let staging: string;
    try {
      await mkdir(assetDir, { recursive: true });
      await this.removeAbandonedStaging(assetDir);
      staging = path.join(assetDir, `.staging-${id}-${process.pid}`);
      await mkdir(staging);
    } catch (error) {
      throw this.failure(error, `cannot stage a restore point of ${asset}`);
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
        const pending = await this.beginIndexUpdate(asset);
        try {
          // Manifest last: until the rename below, nothing here is a restore point.
          await writeFileAtomic(
            path.join(staging, MANIFEST),
            JSON.stringify({ ...body, digest }, null, 2) + "\n",
          );
          await fsyncPath(staging);
          await rename(staging, final);
          await fsyncPath(assetDir);
        } catch (error) {
          await rm(pending, { force: true });
          throw this.failure(error, `cannot commit restore point ${id} of ${asset}`);
        }
        done = true;
        await this.finishIndexUpdate(asset, pending, (index) => {
          index.restorePoints = index.restorePoints.filter((p) => p.id !== id);
          index.restorePoints.push({
            id,
            snapshotTime: manifest.snapshotTime,
            bytes: totalArtifactBytes(manifest),
            manifestDigest: digest,
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
  private async removeAbandonedStaging(assetDir: string): Promise<void> {
    for (const entry of await entries(assetDir)) {
      const match = STAGING.exec(entry.name);
      if (match && !isPidAlive(Number(match[2]))) {
        await rm(path.join(assetDir, entry.name), { recursive: true, force: true });
      }
    }
  }

  private async assets(kind: string, asset?: string): Promise<string[]> {
    if (asset) return [asset];
    return (await entries(path.join(this.root, kind))).filter((e) => e.isDirectory()).map((e) => e.name);
  }

  async listRestorePoints(asset?: string): Promise<Manifest[]> {
    const manifests: Manifest[] = [];
    for (const name of await this.assets(RESTORE_POINTS, asset)) {
      const assetDir = path.join(this.root, RESTORE_POINTS, name);
      for (const entry of await entries(assetDir)) {
        if (!entry.isDirectory() || !RESTORE_POINT_ID.test(entry.name)) continue;
        const read = await readManifest(path.join(assetDir, entry.name, MANIFEST), name, entry.name);
        if (read.ok) manifests.push(read.value.manifest);
      }
    }
    return manifests.sort((a, b) => a.snapshotTime.localeCompare(b.snapshotTime));
  }

  async getRestorePoint(asset: string, id: string): Promise<Manifest | undefined> {
    if (!RESTORE_POINT_ID.test(id)) return undefined;
    const dir = path.join(this.root, RESTORE_POINTS, asset, id);
    try {
      if (!(await stat(dir)).isDirectory()) return undefined;
    } catch {
      return undefined;
    }
    const read = await readManifest(path.join(dir, MANIFEST), asset, id);
    if (!read.ok)
      throw restorePointDamaged(
        asset,
        id,
        `${path.posix.join(RESTORE_POINTS, asset, id, MANIFEST)}: ${read.problem}`,
      );
    return read.value.manifest;
  }

  // ---- the index -------------------------------------------------------------------------------

  async overview(asset: string): Promise<AssetOverview> {
    const index = await this.currentIndex(asset);
    return {
      restorePoints: index.restorePoints
        .map((p): RestorePointInfo => ({
          id: p.id,
          snapshotTime: p.snapshotTime,
          bytes: p.bytes,
          damaged: p.damaged,
          protected: p.protected,
        }))
        .sort((a, b) => a.snapshotTime.localeCompare(b.snapshotTime)),
      drills: index.drills.map((d) => ({ ...d })),
    };
  }

  private indexPath(asset: string, suffix = ".json"): string {
    return path.join(this.root, INDEX, `${asset}${suffix}`);
  }

  private async loadIndex(asset: string): Promise<IndexFile | undefined> {
    const read = await readJson(this.indexPath(asset), indexSchema);
    if (!read.ok) return undefined;
    const { digest, ...body } = read.value;
    return sealIndex(body).digest === digest && read.value.asset === asset ? read.value : undefined;
  }

  /** What the directories hold now: the index is fresh when it lists the same. */
  private async listing(asset: string) {
    const [assetEntries, indexEntries, drillEntries] = await Promise.all([
      entries(path.join(this.root, RESTORE_POINTS, asset)),
      entries(path.join(this.root, INDEX)),
      entries(path.join(this.root, DRILLS, asset)),
    ]);
    const restorePoints = assetEntries
      .filter((e) => e.isDirectory() && RESTORE_POINT_ID.test(e.name))
      .map((e) => e.name);
    const abandoned = indexEntries
      .map((e) => PENDING.exec(e.name))
      .filter((m): m is RegExpExecArray => m !== null && m[1] === asset && !isPidAlive(Number(m[2])))
      .map((m) => m[0]);
    const drillDirectories = drillEntries.filter((e) => e.isDirectory()).map((e) => e.name);
    return { restorePoints, abandoned, drillDirectories, assetExists: assetEntries.length > 0 };
  }

  private fresh(index: IndexFile, now: Awaited<ReturnType<LocalRepository["listing"]>>): boolean {
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
  private async currentIndex(asset: string): Promise<IndexFile> {
    const [index, now] = await Promise.all([this.loadIndex(asset), this.listing(asset)]);
    if (index && this.fresh(index, now)) return index;
    if (!now.assetExists) return this.buildIndex(asset, now.drillDirectories);
    const rebuilt = await this.withIndexLock(asset, async () => {
      const again = await this.listing(asset);
      const built = await this.buildIndex(asset, again.drillDirectories);
      await this.writeIndex(asset, built);
      for (const name of again.abandoned) await rm(path.join(this.root, INDEX, name), { force: true });
      return built;
    }).catch(() => undefined);
    // Locked by a writer, or the disk refused: answer from the manifests without storing.
    return rebuilt ?? this.buildIndex(asset, now.drillDirectories);
  }

  /** Reads every manifest and drill report of the asset: the slow path, when the index cannot be trusted. */
  private async buildIndex(asset: string, drillDirectories: string[]): Promise<IndexFile> {
    const assetDir = path.join(this.root, RESTORE_POINTS, asset);
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
              protected: read.value.protected,
              damaged: null,
            }
          : {
              id: entry.name,
              snapshotTime: restorePointIdTime(entry.name),
              bytes: 0,
              manifestDigest: null,
              protected: false,
              damaged: `${path.posix.join(RESTORE_POINTS, asset, entry.name, MANIFEST)}: ${read.problem}`,
            },
      );
    }
    const drills = (await this.listDrillReports(asset)).map(drillInfo);
    return sealIndex({
      kind: "lifeline-index",
      format: INDEX_FORMAT,
      asset,
      restorePoints,
      drillDirectories,
      drills,
    });
  }

  private async writeIndex(asset: string, index: IndexFile): Promise<void> {
    await mkdir(path.join(this.root, INDEX), { recursive: true });
    await writeFileAtomic(this.indexPath(asset), JSON.stringify(sealIndex(index)) + "\n");
  }

  /**
   * Runs fn holding the asset's index lock (an exclusively created file naming its process; a lock
   * whose process is gone is taken over). Undefined when another live process holds it for 10 s.
   */
  private async withIndexLock<T>(asset: string, fn: () => Promise<T>): Promise<T | undefined> {
    const lock = this.indexPath(asset, ".lock");
    await mkdir(path.dirname(lock), { recursive: true });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const handle = await open(lock, "wx");
        try {
          await handle.writeFile(String(process.pid));
        } finally {
          await handle.close();
        }
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
        const age = await stat(lock).then(
          (s) => Date.now() - s.mtimeMs,
          () => 0,
        );
        if ((holder > 0 && !isPidAlive(holder)) || (holder === 0 && age > 10_000)) {
          await rm(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) return undefined;
        await sleep(10 + Math.random() * 20);
      }
    }
    try {
      return await fn();
    } finally {
      await rm(lock, { force: true });
    }
  }

  /** Marks a write whose index update follows: if the process dies before, readers rebuild the index. */
  private async beginIndexUpdate(asset: string): Promise<string> {
    await mkdir(path.join(this.root, INDEX), { recursive: true });
    const marker = this.indexPath(
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
  private async finishIndexUpdate(asset: string, marker: string, change: (index: IndexFile) => void) {
    const updated = await this.withIndexLock(asset, async () => {
      const index = await this.loadIndex(asset);
      const now = await this.listing(asset);
      let next: IndexFile;
      if (index) {
        change(index);
        index.drillDirectories = now.drillDirectories;
        next = this.fresh(index, { ...now, abandoned: [] })
          ? index
          : await this.buildIndex(asset, now.drillDirectories);
      } else {
        next = await this.buildIndex(asset, now.drillDirectories);
      }
      await this.writeIndex(asset, next);
      return true;
    }).catch(() => undefined);
    if (updated) await rm(marker, { force: true }).catch(() => undefined);
  }

  artifactDirectory(manifest: Manifest): string {
    return path.join(this.root, RESTORE_POINTS, manifest.asset, manifest.id);
  }

  async verifyArtifacts(manifest: Manifest): Promise<Finding[]> {
    const dir = this.artifactDirectory(manifest);
    const relative = path.posix.join(RESTORE_POINTS, manifest.asset, manifest.id);
    const listedSize = new Map(manifest.artifacts.map((a) => [a.path, a.bytes]));
    const found = [];
    for (const file of await listFiles(dir)) {
      const full = path.join(dir, file);
      const bytes = await fileSize(full);
      // Hash only what could match; a wrong size is already a finding.
      const sha256 = listedSize.get(file) === bytes ? await sha256File(full) : undefined;
      found.push(sha256 === undefined ? { path: file, bytes } : { path: file, bytes, sha256 });
    }
    return checkArtifacts(relative, manifest.artifacts, found);
  }

  async writeDrillReport(report: DrillReport): Promise<void> {
    await this.ensure();
    const dir = path.join(this.root, DRILLS, report.asset, report.restorePointId);
    let pending: string;
    try {
      pending = await this.beginIndexUpdate(report.asset);
      try {
        await mkdir(dir, { recursive: true });
        await writeFileAtomic(path.join(dir, `${report.id}.json`), JSON.stringify(report, null, 2) + "\n");
      } catch (error) {
        await rm(pending, { force: true });
        throw error;
      }
    } catch (error) {
      throw this.failure(error, `cannot record drill ${report.id} of ${report.asset}`);
    }
    await this.finishIndexUpdate(report.asset, pending, (index) => {
      index.drills = index.drills.filter(
        (d) => !(d.id === report.id && d.restorePointId === report.restorePointId),
      );
      index.drills.push(drillInfo(report));
    });
  }

  async listDrillReports(asset?: string): Promise<DrillReport[]> {
    const reports: DrillReport[] = [];
    for (const name of await this.assets(DRILLS, asset)) {
      const assetDir = path.join(this.root, DRILLS, name);
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

  /** Differences between the stored index and one built from the manifests and drill reports. */
  private async checkIndex(asset: string, findings: Finding[], notes: string[]): Promise<void> {
    const rel = path.posix.join(INDEX, `${asset}.json`);
    const file = this.indexPath(asset);
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (!exists) {
      notes.push(
        `${rel}: no index yet (a repository of lifeline 0.1); the next status, plan or backup builds it`,
      );
      return;
    }
    const index = await this.loadIndex(asset);
    if (!index) {
      findings.push({
        kind: "index-invalid",
        path: rel,
        message: `${rel}: damaged (does not parse or does not match its digest); lifeline rebuilds it from the manifests on the next read, or delete it`,
      });
      return;
    }
    const now = await this.listing(asset);
    const truth = await this.buildIndex(asset, now.drillDirectories);
    const differences: string[] = [];
    const stored = new Map(index.restorePoints.map((p) => [p.id, p]));
    for (const p of truth.restorePoints) {
      const s = stored.get(p.id);
      if (!s) differences.push(`restore point ${p.id} is missing from it`);
      // A manifest damaged since it was indexed is a finding of its own (manifest-invalid).
      else if (p.damaged !== null) stored.delete(p.id);
      else if (
        s.manifestDigest !== p.manifestDigest ||
        s.snapshotTime !== p.snapshotTime ||
        s.bytes !== p.bytes ||
        (s.damaged === null) !== (p.damaged === null)
      )
        differences.push(`its entry for restore point ${p.id} does not match the manifest`);
      stored.delete(p.id);
    }
    for (const id of stored.keys())
      differences.push(`it lists restore point ${id}, which is not in the repository`);
    const key = (d: DrillInfo) => `${d.restorePointId}/${d.id}/${d.result}/${d.finishedAt}`;
    if (
      !sameSet(index.drills.map(key), truth.drills.map(key)) ||
      !sameSet(index.drillDirectories, now.drillDirectories)
    )
      differences.push("its drills do not match the drill reports");
    if (differences.length === 0) return;
    if (now.abandoned.length > 0) {
      notes.push(
        `${rel}: behind the repository after an interrupted write (${now.abandoned.join(", ")}); the next status, plan or backup rebuilds it`,
      );
      return;
    }
    findings.push({
      kind: "index-invalid",
      path: rel,
      message: `${rel}: ${differences.slice(0, 3).join("; ")}${differences.length > 3 ? ` (and ${differences.length - 3} more)` : ""}; delete it and lifeline rebuilds it from the manifests`,
    });
  }

  async check(): Promise<CheckResult> {
    const findings: Finding[] = [];
    const notes: string[] = [];
    let restorePoints = 0;
    let drillReports = 0;
    const top = await entries(this.root);
    if (top.length === 0) {
      notes.push(`repository ${this.root} is empty or does not exist yet: the first backup creates it`);
      return { findings, notes, restorePoints, drillReports };
    }
    const unexplained = (rel: string, what: string) =>
      findings.push({
        kind: "unexplained",
        path: rel,
        message: `${rel}: ${what} is not part of a lifeline repository`,
      });

    for (const entry of top) {
      if (TEMP.test(entry.name)) {
        notes.push(`${entry.name}: leftovers of an interrupted write; safe to delete`);
        continue;
      }
      if (![MARKER, RESTORE_POINTS, DRILLS, INDEX].includes(entry.name))
        unexplained(entry.name, entry.isDirectory() ? "directory" : "file");
    }
    if (!top.some((e) => e.name === MARKER)) {
      findings.push({
        kind: "unexplained",
        path: MARKER,
        message: `${MARKER}: missing; this directory does not look like a lifeline repository`,
      });
    }

    const known = new Set<string>();
    const damaged = new Set<string>();
    let unprotected = 0;
    for (const asset of await entries(path.join(this.root, RESTORE_POINTS))) {
      const assetRel = path.posix.join(RESTORE_POINTS, asset.name);
      if (!asset.isDirectory()) {
        unexplained(assetRel, "file");
        continue;
      }
      for (const entry of await entries(path.join(this.root, assetRel))) {
        const rel = path.posix.join(assetRel, entry.name);
        const staging = STAGING.exec(entry.name);
        if (staging && entry.isDirectory()) {
          notes.push(
            isPidAlive(Number(staging[2]))
              ? `${rel}: a backup of ${asset.name} is in progress (pid ${staging[2]})`
              : `${rel}: leftovers of an interrupted backup; not a restore point, removed by the next backup of ${asset.name}`,
          );
          continue;
        }
        if (!entry.isDirectory() || !RESTORE_POINT_ID.test(entry.name)) {
          unexplained(rel, entry.isDirectory() ? "directory" : "file");
          continue;
        }
        const read = await readManifest(path.join(this.root, rel, MANIFEST), asset.name, entry.name);
        if (!read.ok) {
          damaged.add(`${asset.name}/${entry.name}`);
          findings.push({
            kind: "manifest-invalid",
            path: `${rel}/${MANIFEST}`,
            message: `${rel}/${MANIFEST}: ${read.problem}; restore point ${entry.name} of ${asset.name} is damaged`,
          });
          continue;
        }
        if (!read.value.protected) unprotected++;
        restorePoints++;
        known.add(`${asset.name}/${entry.name}`);
        findings.push(...(await this.verifyArtifacts(read.value.manifest)));
      }
      await this.checkIndex(asset.name, findings, notes);
    }
    const indexed = new Set(
      (await entries(path.join(this.root, RESTORE_POINTS)))
        .filter((e) => e.isDirectory())
        .map((e) => `${e.name}.json`),
    );
    for (const entry of await entries(path.join(this.root, INDEX))) {
      const rel = path.posix.join(INDEX, entry.name);
      if (entry.isFile() && TEMP.test(entry.name))
        notes.push(`${rel}: leftovers of an interrupted write; safe to delete`);
      else if (
        entry.isFile() &&
        (indexed.has(entry.name) || entry.name.endsWith(".lock") || PENDING.test(entry.name))
      )
        continue;
      else unexplained(rel, entry.isDirectory() ? "directory" : "file");
    }
    if (unprotected > 0)
      notes.push(
        `${unprotected} restore point${unprotected === 1 ? " is" : "s are"} not protected by a digest (manifests written by lifeline 0.1): a change to their manifest would go unnoticed; newer backups are protected`,
      );

    for (const asset of await entries(path.join(this.root, DRILLS))) {
      const assetRel = path.posix.join(DRILLS, asset.name);
      if (!asset.isDirectory()) {
        unexplained(assetRel, "file");
        continue;
      }
      for (const rp of await entries(path.join(this.root, assetRel))) {
        const rpRel = path.posix.join(assetRel, rp.name);
        if (!rp.isDirectory()) {
          unexplained(rpRel, "file");
          continue;
        }
        for (const file of await entries(path.join(this.root, rpRel))) {
          const rel = path.posix.join(rpRel, file.name);
          if (TEMP.test(file.name)) {
            notes.push(`${rel}: leftovers of an interrupted write; safe to delete`);
            continue;
          }
          if (
            !file.isFile() ||
            !DRILL_ID.test(file.name.replace(/\.json$/, "")) ||
            !file.name.endsWith(".json")
          ) {
            unexplained(rel, file.isDirectory() ? "directory" : "file");
            continue;
          }
          const parsed = await readJson(path.join(this.root, rel), drillReportSchema);
          if (!parsed.ok) {
            findings.push({ kind: "drill-report-invalid", path: rel, message: `${rel}: ${parsed.problem}` });
            continue;
          }
          drillReports++;
          // A damaged restore point's drill reports are not orphans: the restore point is reported already.
          if (!known.has(`${asset.name}/${rp.name}`) && !damaged.has(`${asset.name}/${rp.name}`)) {
            findings.push({
              kind: "drill-report-orphan",
              path: rel,
              message: `${rel}: drill report of restore point ${asset.name}/${rp.name}, which is not in the repository`,
            });
          }
        }
      }
    }
    return { findings, notes, restorePoints, drillReports };
  }
}
