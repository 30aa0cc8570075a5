/**
 * `lifeline check` of a local repository: every file explained, every manifest and drill report
 * valid, every artifact as its manifest lists it, the index matching what it caches.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { DRILL_ID } from "../../core/drill/drill.js";
import { checkArtifacts, type Finding } from "../../core/restore-point/check.js";
import { RESTORE_POINT_ID, type Manifest } from "../../core/restore-point/restore-point.js";
import { drillReportSchema } from "../../core/restore-point/schemas.js";
import type { CheckResult, DrillInfo } from "../../ports/repository.js";
import { fileSize, isPidAlive, listFiles, sha256File } from "../../support/files.js";
import { buildIndex, listing, loadIndex } from "./asset-index.js";
import {
  DRILLS,
  INDEX,
  MANIFEST,
  MARKER,
  HOLD,
  PENDING,
  REMOVING,
  RESTORE_POINTS,
  STAGING,
  TEMP,
  artifactDirectory,
  entries,
  indexPath,
  sameSet,
} from "./layout.js";
import { readJson, readManifest } from "./manifest.js";

export async function verifyArtifacts(root: string, manifest: Manifest): Promise<Finding[]> {
  const dir = artifactDirectory(root, manifest);
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

/** Differences between the stored index and one built from the manifests and drill reports. */
async function checkIndex(root: string, asset: string, findings: Finding[], notes: string[]): Promise<void> {
  const rel = path.posix.join(INDEX, `${asset}.json`);
  const file = indexPath(root, asset);
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
  const index = await loadIndex(root, asset);
  if (!index) {
    findings.push({
      kind: "index-invalid",
      path: rel,
      message: `${rel}: damaged (does not parse or does not match its digest); lifeline rebuilds it from the manifests on the next read, or delete it`,
    });
    return;
  }
  const now = await listing(root, asset);
  const truth = await buildIndex(root, asset, now.drillDirectories);
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

export async function check(root: string): Promise<CheckResult> {
  const findings: Finding[] = [];
  const notes: string[] = [];
  let restorePoints = 0;
  let drillReports = 0;
  const top = await entries(root);
  if (top.length === 0) {
    notes.push(`repository ${root} is empty or does not exist yet: the first backup creates it`);
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
  /** Restore points being removed: their drill reports go with them, not orphans. */
  const removed = new Set<string>();
  let unprotected = 0;
  for (const asset of await entries(path.join(root, RESTORE_POINTS))) {
    const assetRel = path.posix.join(RESTORE_POINTS, asset.name);
    if (!asset.isDirectory()) {
      unexplained(assetRel, "file");
      continue;
    }
    for (const entry of await entries(path.join(root, assetRel))) {
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
      const removing = REMOVING.exec(entry.name);
      if (removing && entry.isDirectory()) {
        removed.add(`${asset.name}/${removing[1]}`);
        notes.push(
          isPidAlive(Number(removing[2]))
            ? `${rel}: restore point ${removing[1]} of ${asset.name} is being removed (pid ${removing[2]})`
            : `${rel}: an interrupted removal of restore point ${removing[1]}; finished by the next prune or backup of ${asset.name}`,
        );
        continue;
      }
      if (!entry.isDirectory() || !RESTORE_POINT_ID.test(entry.name)) {
        unexplained(rel, entry.isDirectory() ? "directory" : "file");
        continue;
      }
      const read = await readManifest(path.join(root, rel, MANIFEST), asset.name, entry.name);
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
      findings.push(...(await verifyArtifacts(root, read.value.manifest)));
    }
    await checkIndex(root, asset.name, findings, notes);
  }
  const indexed = new Set(
    (await entries(path.join(root, RESTORE_POINTS)))
      .filter((e) => e.isDirectory())
      .map((e) => `${e.name}.json`),
  );
  for (const entry of await entries(path.join(root, INDEX))) {
    const rel = path.posix.join(INDEX, entry.name);
    if (entry.isFile() && TEMP.test(entry.name))
      notes.push(`${rel}: leftovers of an interrupted write; safe to delete`);
    else if (
      entry.isFile() &&
      (indexed.has(entry.name) ||
        entry.name.endsWith(".lock") ||
        PENDING.test(entry.name) ||
        HOLD.test(entry.name))
    )
      continue;
    else unexplained(rel, entry.isDirectory() ? "directory" : "file");
  }
  if (unprotected > 0)
    notes.push(
      `${unprotected} restore point${unprotected === 1 ? " is" : "s are"} not protected by a digest (manifests written by lifeline 0.1): a change to their manifest would go unnoticed; newer backups are protected`,
    );

  for (const asset of await entries(path.join(root, DRILLS))) {
    const assetRel = path.posix.join(DRILLS, asset.name);
    if (!asset.isDirectory()) {
      unexplained(assetRel, "file");
      continue;
    }
    for (const rp of await entries(path.join(root, assetRel))) {
      const rpRel = path.posix.join(assetRel, rp.name);
      if (!rp.isDirectory()) {
        unexplained(rpRel, "file");
        continue;
      }
      for (const file of await entries(path.join(root, rpRel))) {
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
        const parsed = await readJson(path.join(root, rel), drillReportSchema);
        if (!parsed.ok) {
          findings.push({ kind: "drill-report-invalid", path: rel, message: `${rel}: ${parsed.problem}` });
          continue;
        }
        drillReports++;
        // A damaged restore point's drill reports are not orphans: the restore point is reported already.
        const key = `${asset.name}/${rp.name}`;
        if (!known.has(key) && !damaged.has(key) && !removed.has(key)) {
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
