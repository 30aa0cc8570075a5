import type { Finding } from "../core/check.js";
import type { DrillReport } from "../core/drill.js";
import type { Manifest } from "../core/restore-point.js";

/** A restore point being written. Nothing of it is visible until commit. */
export interface StagedRestorePoint {
  readonly id: string;
  /** Empty directory the engine writes artifacts into. */
  readonly directory: string;
  /** Writes the manifest last and makes the restore point appear atomically. */
  commit(manifest: Manifest): Promise<void>;
  /** Removes everything staged. */
  abort(): Promise<void>;
}

export interface CheckResult {
  findings: Finding[];
  /** Things worth knowing that are not problems (e.g. an interrupted backup's leftovers). */
  notes: string[];
  restorePoints: number;
  drillReports: number;
}

export interface Repository {
  /** Where it is, for humans. */
  readonly location: string;
  stage(asset: string, id: string): Promise<StagedRestorePoint>;
  listRestorePoints(asset?: string): Promise<Manifest[]>;
  getRestorePoint(asset: string, id: string): Promise<Manifest | undefined>;
  /** Local directory holding the restore point's artifacts, for the restore tool. */
  artifactDirectory(manifest: Manifest): string;
  /** Re-reads every artifact and compares size and sha256 with the manifest. */
  verifyArtifacts(manifest: Manifest): Promise<Finding[]>;
  writeDrillReport(report: DrillReport): Promise<void>;
  listDrillReports(asset?: string): Promise<DrillReport[]>;
  check(): Promise<CheckResult>;
}
