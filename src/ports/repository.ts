import type { Finding } from "../core/restore-point/check.js";
import type { DrillReport } from "../core/drill/drill.js";
import type { DrillFacts, RestorePointFacts } from "../core/posture/posture.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import type { Progress } from "./engine.js";

/** A restore point being written. Nothing of it is visible until commit. */
export interface StagedRestorePoint {
  readonly id: string;
  /**
   * Empty local directory the engine writes artifacts into. A local repository stages inside
   * itself (commit renames it: no copy); an object store gives a temporary directory whose files
   * commit uploads, checking each against the manifest's sha256 (local space: one restore point).
   */
  readonly directory: string;
  /** Writes the manifest last and makes the restore point appear atomically. */
  commit(manifest: Manifest): Promise<void>;
  /** Removes everything staged. */
  abort(): Promise<void>;
}

/** A restore point's artifacts as local files, checked against the manifest before use. */
export interface LocalArtifacts {
  /** Holds the artifacts at the manifest's paths; use it only when findings is empty. */
  readonly directory: string;
  /** Artifacts missing, of another size or another sha256 (each naming the object or file). */
  readonly findings: Finding[];
  /** Removes what was downloaded (nothing for a local repository). */
  release(): Promise<void>;
}

export interface FetchOptions {
  signal?: AbortSignal;
  progress?: Progress;
}

export interface CheckOptions {
  /**
   * Reads every byte of every artifact and compares its sha256 (a local repository always does;
   * an object store otherwise compares sizes and the checksums recorded in object metadata).
   */
  readData?: boolean;
  /** Rebuilds every asset's index from the manifests and drill reports, whatever it holds. */
  repairIndex?: boolean;
  /**
   * Object storage with object lock: removes the delete markers hiding restore points whose locked
   * versions remain (deleted by someone without lifeline), bringing them back.
   */
  undelete?: boolean;
}

export interface CheckResult {
  findings: Finding[];
  /** Things worth knowing that are not problems (e.g. an interrupted backup's leftovers). */
  notes: string[];
  restorePoints: number;
  drillReports: number;
}

/** A restore point as the repository's index knows it, without reading its manifest. */
export interface RestorePointInfo extends RestorePointFacts {
  /** Null when the restore point reads; what is wrong with it (with the file) when it does not. */
  damaged: string | null;
  /** False for a manifest without a digest (written by lifeline 0.1). */
  protected: boolean;
}

export interface DrillInfo extends DrillFacts {
  id: string;
}

/**
 * A drill report file that does not read (does not parse, or names another restore point): what
 * the drill found is unknown, so retention does not treat its restore point as never drilled.
 */
export interface DamagedDrillReport {
  restorePointId: string;
  /** The file's name without .json: the drill's id (its start time) when named like one. */
  id: string;
  /** The file or object, relative to the repository (as `lifeline check` names it). */
  path: string;
}

/** What posture needs of one asset, from the index: no manifest is read. */
export interface AssetOverview {
  /** Oldest first, damaged ones included. */
  restorePoints: RestorePointInfo[];
  drills: DrillInfo[];
  /** Drill reports that do not read, oldest restore point first. */
  damagedDrillReports: DamagedDrillReport[];
}

export interface Repository {
  /** Where it is, for humans. */
  readonly location: string;
  /**
   * Creates the repository (with an object store's encryption key when a passphrase is set);
   * REPOSITORY_EXISTS when there is one already. A backup creates it too when it does not exist.
   */
  init(): Promise<{ encrypted: boolean }>;
  /**
   * Whether there is a repository here: its marker, or what only a repository holds (restore
   * points, drill reports; an object store's keys). False for a directory that does not exist or
   * holds none of it, and for an empty prefix: a mistyped location, not an empty repository (init
   * and the first backup write the marker). Reading it fails as any read does (no such bucket …).
   */
  exists(): Promise<boolean>;
  stage(asset: string, id: string): Promise<StagedRestorePoint>;
  /** Every readable restore point (reads every manifest; damaged ones are left out: see overview and check). */
  listRestorePoints(asset?: string): Promise<Manifest[]>;
  /**
   * The asset's restore points and drills from the repository's index: the cost does not grow with
   * the number of restore points. The index is rebuilt from the manifests when it is missing, stale
   * or damaged.
   */
  overview(asset: string): Promise<AssetOverview>;
  /**
   * One restore point, its manifest checked against its digest. Undefined when there is no such
   * restore point; a RESTORE_POINT_DAMAGED error when there is one that cannot be trusted.
   */
  getRestorePoint(asset: string, id: string): Promise<Manifest | undefined>;
  /**
   * True when the restore point's manifest holds the very bytes the asset's last overview indexed
   * (read and compared, not parsed): what the index holds of it is then what the manifest says.
   * False when it cannot tell (another overview, bytes changed, unreadable): getRestorePoint then
   * says what the manifest is. Adapters that cannot tell cheaply leave it out.
   */
  manifestUnchanged?(asset: string, id: string): Promise<boolean>;
  /**
   * The restore point's artifacts as local files for the restore tool: a local repository's own
   * directory, checked in place; an object store's downloaded with bounded parallelism into
   * temporary space, each checked (size and sha256) as it arrives. Release it when done.
   */
  localArtifacts(manifest: Manifest, options?: FetchOptions): Promise<LocalArtifacts>;
  /** Re-reads every artifact and compares size and sha256 with the manifest. */
  verifyArtifacts(manifest: Manifest, options?: FetchOptions): Promise<Finding[]>;
  writeDrillReport(report: DrillReport): Promise<void>;
  listDrillReports(asset?: string): Promise<DrillReport[]>;
  check(options?: CheckOptions): Promise<CheckResult>;
  /**
   * Removes a restore point and its drill reports, crash-safely: it stops existing for readers at
   * once, and an interrupted removal is finished later. RESTORE_POINT_IN_USE when something holds it
   * (or takes a hold while the removal starts). False when it was removed already (another prune).
   */
  removeRestorePoint(asset: string, id: string): Promise<boolean>;
  /**
   * Until when the store retains the restore point (object lock), when that is later than now;
   * undefined when nothing retains it. Adapters without object lock leave it out.
   */
  retainedUntil?(asset: string, id: string): Promise<Date | undefined>;
  /**
   * Marks a restore point in use (a drill, restore or standby reads it) until the returned release.
   * RESTORE_POINT_GONE when it was removed (or its removal started) before the hold was taken.
   */
  holdRestorePoint(asset: string, id: string, purpose: string): Promise<() => Promise<void>>;
  /** The restore points held by live processes: id → what holds it. */
  heldRestorePoints(asset: string): Promise<Map<string, string>>;
}
