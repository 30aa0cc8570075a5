import type { Artifact } from "./restore-point.js";

export type FindingKind =
  | "manifest-invalid"
  | "artifact-missing"
  | "artifact-size"
  | "artifact-checksum"
  | "unexplained"
  | "drill-report-invalid"
  | "drill-report-orphan"
  | "index-invalid"
  /** Object storage with object lock: deleted (delete markers) while its locked versions remain. */
  | "hidden-by-delete-marker";

export interface Finding {
  kind: FindingKind;
  /** Path relative to the repository root. */
  path: string;
  message: string;
}

export interface ObservedFile {
  path: string;
  bytes: number;
  /** Computed lazily by the caller; undefined when the file was not hashed. */
  sha256?: string;
}

/**
 * Compares the artifacts a manifest lists with the files found beside it. Pure: the repository
 * adapter gathers the files (and hashes the ones whose size matches), this decides.
 */
export function checkArtifacts(
  restorePointPath: string,
  listed: readonly Artifact[],
  found: readonly ObservedFile[],
): Finding[] {
  const findings: Finding[] = [];
  const foundByPath = new Map(found.map((f) => [f.path, f]));
  for (const artifact of listed) {
    const path = `${restorePointPath}/${artifact.path}`;
    const file = foundByPath.get(artifact.path);
    if (!file) {
      findings.push({
        kind: "artifact-missing",
        path,
        message: `${path}: artifact listed in the manifest is missing`,
      });
    } else if (file.bytes !== artifact.bytes) {
      findings.push({
        kind: "artifact-size",
        path,
        message: `${path}: size is ${file.bytes} bytes, the manifest says ${artifact.bytes}`,
      });
    } else if (file.sha256 !== undefined && file.sha256 !== artifact.sha256) {
      findings.push({
        kind: "artifact-checksum",
        path,
        message: `${path}: sha256 ${file.sha256.slice(0, 16)}… does not match the manifest's ${artifact.sha256.slice(0, 16)}… (the file changed or is corrupt)`,
      });
    }
  }
  const listedPaths = new Set(listed.map((a) => a.path));
  for (const file of found) {
    if (!listedPaths.has(file.path) && file.path !== "manifest.json") {
      const path = `${restorePointPath}/${file.path}`;
      findings.push({ kind: "unexplained", path, message: `${path}: file is not listed in the manifest` });
    }
  }
  return findings;
}
