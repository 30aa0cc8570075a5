import { mkdir, readFile, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { checkArtifacts, type Finding } from "../../core/check.js";
import { DRILL_ID, type DrillReport } from "../../core/drill.js";
import { RESTORE_POINT_ID, type Manifest } from "../../core/restore-point.js";
import { describeZodError, drillReportSchema, manifestSchema } from "../../core/schemas.js";
import type { CheckResult, Repository, StagedRestorePoint } from "../../ports/repository.js";
import {
  fileSize,
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
const STAGING = /^\.staging-(.+)-(\d+)$/;

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

async function readJson<T>(
  file: string,
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false; error: import("zod").ZodError };
  },
): Promise<Parsed<T>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    return {
      ok: false,
      problem: (error as NodeJS.ErrnoException).code === "ENOENT" ? "missing" : String(error),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, problem: "not valid JSON (truncated or corrupt)" };
  }
  const parsed = schema.safeParse(value);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, problem: describeZodError(parsed.error) };
}

async function entries(dir: string): Promise<import("node:fs").Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
}

/**
 * A repository in a local directory. Self-describing: restore points and drill reports are plain
 * files, listable with nothing but this directory.
 *
 *   lifeline-repository.json
 *   restore-points/<asset>/<restore point id>/manifest.json, dump/…
 *   restore-points/<asset>/.staging-<id>-<pid>/    a backup in progress (or interrupted)
 *   drills/<asset>/<restore point id>/<drill id>.json
 */
export class LocalRepository implements Repository {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  private async ensure(): Promise<void> {
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
  }

  async stage(asset: string, id: string): Promise<StagedRestorePoint> {
    await this.ensure();
    const assetDir = path.join(this.root, RESTORE_POINTS, asset);
    await mkdir(assetDir, { recursive: true });
    await this.removeAbandonedStaging(assetDir);
    const staging = path.join(assetDir, `.staging-${id}-${process.pid}`);
    await mkdir(staging);
    const final = path.join(assetDir, id);
    let done = false;
    return {
      id,
      directory: staging,
      commit: async (manifest: Manifest) => {
        if (done) throw new Error("restore point already committed or aborted");
        // Manifest last: until the rename below, nothing here is a restore point.
        await writeFileAtomic(path.join(staging, MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
        await fsyncPath(staging);
        await rename(staging, final);
        await fsyncPath(assetDir);
        done = true;
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
        const parsed = await readJson(path.join(assetDir, entry.name, MANIFEST), manifestSchema);
        if (parsed.ok && parsed.value.id === entry.name && parsed.value.asset === name)
          manifests.push(parsed.value);
      }
    }
    return manifests.sort((a, b) => a.snapshotTime.localeCompare(b.snapshotTime));
  }

  async getRestorePoint(asset: string, id: string): Promise<Manifest | undefined> {
    if (!RESTORE_POINT_ID.test(id)) return undefined;
    const parsed = await readJson(path.join(this.root, RESTORE_POINTS, asset, id, MANIFEST), manifestSchema);
    return parsed.ok ? parsed.value : undefined;
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
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(path.join(dir, `${report.id}.json`), JSON.stringify(report, null, 2) + "\n");
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
      if (![MARKER, RESTORE_POINTS, DRILLS].includes(entry.name))
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
        const parsed = await readJson(path.join(this.root, rel, MANIFEST), manifestSchema);
        if (!parsed.ok) {
          findings.push({
            kind: "manifest-invalid",
            path: `${rel}/${MANIFEST}`,
            message: `${rel}/${MANIFEST}: ${parsed.problem}`,
          });
          continue;
        }
        if (parsed.value.id !== entry.name || parsed.value.asset !== asset.name) {
          findings.push({
            kind: "manifest-invalid",
            path: `${rel}/${MANIFEST}`,
            message: `${rel}/${MANIFEST}: describes ${parsed.value.asset}/${parsed.value.id}, not the directory it is in`,
          });
          continue;
        }
        restorePoints++;
        known.add(`${asset.name}/${entry.name}`);
        findings.push(...(await this.verifyArtifacts(parsed.value)));
      }
    }

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
          if (/\.tmp-\d+$/.test(file.name)) {
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
          if (!known.has(`${asset.name}/${rp.name}`)) {
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
