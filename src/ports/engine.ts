import type { LifelineError } from "../core/errors.js";
import type { Operation } from "../core/plan/operation.js";
import type { Consumer } from "../core/plan/plan.js";
import type { Dependent, PlannedOperation } from "../core/plan/policy.js";
import type {
  DatabaseLocale,
  Activity,
  Artifact,
  Fingerprints,
  Manifest,
} from "../core/restore-point/restore-point.js";

/** A database lifeline connects to. The url may hold a password; `display` never does. */
export interface Target {
  url: string;
  display: string;
}

export interface Progress {
  /** A new phase of long work ("dumping", "restoring"): shown on stderr when it is a terminal. */
  phase(message: string): void;
  /** Something the user should know even when not watching (always shown on stderr). */
  warn(message: string): void;
}

export const silentProgress: Progress = { phase: () => undefined, warn: () => undefined };

export interface SourceInfo {
  database: string;
  encoding: string;
  locale: DatabaseLocale | null;
  /** Roles a restore needs to exist; empty when probing only. */
  roles: string[];
  serverVersion: string;
  serverMajor: number;
  systemIdentifier: string | null;
  databaseBytes: number;
}

export interface BackupOptions {
  /** Directory the artifacts are written into; it exists and is empty. */
  directory: string;
  jobs: number;
  compression: number;
  signal: AbortSignal;
  progress: Progress;
}

export interface BackupResult {
  snapshotTime: string;
  source: SourceInfo;
  tools: Record<string, string>;
  dump: Manifest["dump"];
  /** Artifacts with sizes and checksums, fsynced. */
  artifacts: Artifact[];
  fingerprints: Fingerprints;
  activity: Activity;
  durations: Manifest["durations"];
}

export interface RestoreOptions {
  /** Local directory holding the restore point's artifacts. */
  directory: string;
  manifest: Manifest;
  jobs: number;
  signal: AbortSignal;
  progress: Progress;
}

/** One database engine: what differs between engines stays behind this interface, not in the core. */
export interface Engine {
  readonly name: string;
  /** Parses a connection URL into a Target, registering its password as a secret. */
  target(url: string): Target;
  /** Connects and identifies the server; throws a LifelineError that names the fix when it cannot. */
  probe(target: Target): Promise<SourceInfo>;
  backup(target: Target, options: BackupOptions): Promise<BackupResult>;
  /** The oldest scratch server major version that can take this restore point. */
  scratchMajorFor(manifest: Manifest): number;
  restore(into: Target, options: RestoreOptions): Promise<{ tools: Record<string, string> }>;
  /** `expected`: the restore point's fingerprints, whose recipes the copy is fingerprinted with. */
  fingerprint(target: Target, signal: AbortSignal, expected?: Fingerprints): Promise<Fingerprints>;
  live(target: Target): Promise<{ databaseBytes: number; activity: Activity }>;
  /** Engines that can plan SQL: classification (static) and impact (read-only, against the live database). */
  readonly sql?: SqlPlanner;
}

export interface SqlPlanner {
  classify(sql: string): Promise<Operation[]>;
  impact(
    target: Target,
    operations: readonly Operation[],
    options: { exact: boolean },
  ): Promise<{ operations: PlannedOperation[]; dependents: Dependent[]; consumers: Consumer[] }>;
  /**
   * Why this SQL can never run as lifeline runs it (e.g. it ends the transaction itself), or null.
   * Checked before anything is recorded or an approval is used.
   */
  refusal(sql: string): Promise<LifelineError | null>;
  /**
   * Runs the SQL in one transaction: all of it, or (on any error) none of it; says what each
   * statement did (its command and the rows it affected).
   */
  execute(
    target: Target,
    sql: string,
    signal: AbortSignal,
  ): Promise<{ ms: number; statements: { command: string; rows: number | null }[] }>;
}
