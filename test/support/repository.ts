import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import type { DrillReport } from "../../src/core/drill/drill.js";

/** The manifest digest as specified (sha256 of the canonical JSON without the digest), written independently of src/. */
export function expectedDigest(raw: Record<string, unknown>): string {
  const canonical = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(canonical).join(",")}]`
      : v !== null && typeof v === "object"
        ? `{${Object.keys(v)
            .sort()
            .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
            .join(",")}}`
        : JSON.stringify(v);
  const body = { ...raw };
  delete body.digest;
  return "sha256:" + createHash("sha256").update(canonical(body)).digest("hex");
}

/** A local index's digest (formats 2 and 3) as specified: sha256 of its JSON as written, without the digest. */
export function indexDigest(raw: Record<string, unknown>): string {
  const body = { ...raw };
  delete body.digest;
  return "sha256:" + createHash("sha256").update(JSON.stringify(body)).digest("hex");
}

export function manifestPath(repo: string, asset: string, id: string): string {
  return path.join(repo, "restore-points", asset, id, "manifest.json");
}

/** Edits a manifest's JSON (keeping its digest valid when `reseal`), as a tampering or an old version would. */
export function editManifest(
  repo: string,
  asset: string,
  id: string,
  edit: (raw: Record<string, unknown>) => void,
  options: { reseal: boolean } = { reseal: true },
): void {
  const file = manifestPath(repo, asset, id);
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  edit(raw);
  if (options.reseal && "digest" in raw) raw.digest = expectedDigest(raw);
  writeFileSync(file, JSON.stringify(raw, null, 2) + "\n");
}

/**
 * A copy of a restore point under another id and snapshot time (same artifacts), as a backup would
 * have written it: for tests and benchmarks that need many restore points fast.
 */
export function cloneRestorePoint(
  repo: string,
  asset: string,
  from: string,
  id: string,
  snapshotTime: string,
): void {
  cpSync(path.join(repo, "restore-points", asset, from), path.join(repo, "restore-points", asset, id), {
    recursive: true,
  });
  editManifest(repo, asset, id, (raw) => {
    raw.id = id;
    raw.snapshotTime = snapshotTime;
    raw.createdAt = snapshotTime;
  });
}

/** A drill report recorded as if a drill had passed (drills are slow; the repository is what is tested). */
export function passedDrill(asset: string, restorePointId: string, finishedAt: string): DrillReport {
  return {
    format: 1,
    id: finishedAt.replace(/[-:]/g, "").replace(/\.(\d{3})Z$/, "$1Z"),
    asset,
    restorePointId,
    startedAt: finishedAt,
    finishedAt,
    result: "passed",
    failure: null,
    scratch: { kind: "embedded", serverVersion: "15" },
    tools: {},
    restoreSeconds: 1,
    verifySeconds: 1,
    mismatches: [],
  };
}

/** Where a local repository keeps a restore point's artifacts (what localArtifacts returns for it). */
export function artifactsOf(repo: string, manifest: { asset: string; id: string }): string {
  return path.join(repo, "restore-points", manifest.asset, manifest.id);
}
