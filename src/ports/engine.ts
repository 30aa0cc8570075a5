import type { LifelineError } from "../core/errors.js";
import type { Operation } from "../core/plan/operation.js";
import type { Consumer } from "../core/plan/plan.js";
import type { DatabaseSample } from "../core/watch/sample.js";
import type { ReportedForeignKey } from "../core/restore/restore.js";
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
  /**
   * "none" (drills, the default): objects belong to the connecting role, no privileges. "keep": the
   * owners and privileges the restore point records, when the target has those roles and the
   * connecting role may assign them; otherwise as "none", with a warning naming what is missing.
   */
  ownership?: "none" | "keep";
}

/** What lifeline reads of a database before it restores into it or replaces it. */
export interface DatabaseState {
  /** False: the server answers (through its maintenance database) but this database does not exist. */
  exists: boolean;
  serverVersion: string;
  serverMajor: number;
  /** User tables with estimated rows and bytes, and their identity (OID): what replacing it destroys. */
  tables: { name: string; identity: string; rows: number; bytes: number }[];
  /** Every user object (relations, functions, types, schemas but public, extensions but plpgsql): > 0 is not empty. */
  userObjects: number;
  /** Up to ten of them, qualified, for messages. */
  sample: string[];
  /** The connecting role may create databases (superuser or CREATEDB). */
  canCreateDatabase: boolean;
  /** The connecting role is a superuser (may assign owners, terminate anyone's connection). */
  superuser: boolean;
  /** default_transaction_read_only is on for this database. */
  readOnly: boolean;
  /** Clients connected to it now. */
  consumers: Consumer[];
  /** Encoding and locale, for a database created beside it. */
  encoding: string;
  locale: DatabaseLocale | null;
  /**
   * Which database this is, whatever URL reached it (`localhost` or `127.0.0.1`, another port
   * forwarded to it, `?sslmode=…`): for PostgreSQL the cluster's system identifier
   * (pg_control_system()) and the database's OID, `7712805725469255789/16384`. Two states with the
   * same identity are the same database. Null when the database does not exist or the server does
   * not let the role read its system identifier: then only the URLs can be compared. Physical
   * replicas share their primary's identity (they are the same data).
   */
  identity: string | null;
  /**
   * Rows inserted, updated and deleted in its user tables since the statistics were last reset
   * (pg_stat_user_tables), as text; null when it does not exist or they cannot be read. A standby
   * whose reading moved since lifeline created it was written into.
   */
  tableWrites?: string | null;
}

/** Held until released; another process (on any host) asking for the same database is refused. */
export interface RecoveryLock {
  release(): Promise<void>;
}

/** A database that a lifeline killed in the middle of a swap left carrying the swap's mark. */
export interface InterruptedSwap {
  database: string;
  /**
   * "target": the renames never committed, it is the target with the data it had; "previous": the
   * renames committed, it is the target as it was, renamed to <db>_before_<id> (the target holds the
   * restored copy; the restore was not recorded); "replaced": the same, renamed to a staging name to
   * be dropped.
   */
  role: "target" | "previous" | "replaced";
  /** It refuses connections because of the swap (it allowed them before). */
  refusing: boolean;
}

/** What killed restores left beside a database. */
export interface RecoveryRemains {
  interrupted: InterruptedSwap[];
  /** Staging databases on the server no running lifeline holds (see Recovery.leftovers). */
  leftovers: string[];
}

/** A selective restore's outcome. */
export interface TableRestore {
  /** Tables restored, qualified as in the manifest. */
  tables: string[];
  /** Sequences restored with their values (owned by, or used as defaults of, restored tables). */
  sequences: string[];
  /** Views and materialized views on the restored tables that the target lacked (e.g. dropped by CASCADE), restored with them. */
  views: string[];
  /** Foreign keys whose other table is not restored: reported, not applied. */
  foreignKeys: ReportedForeignKey[];
  tools: Record<string, string>;
}

/**
 * What restoring into a live server takes beyond a drill: inspecting and creating databases beside
 * the target, swapping them by rename, restoring only some tables. PostgreSQL's implementation is in
 * engines/postgres/recovery.
 */
export interface Recovery {
  /** Connects (to the maintenance database when this one does not exist) and describes the target. */
  inspect(target: Target): Promise<DatabaseState>;
  /** Serialises recoveries into one database across processes and hosts; null when another holds it. */
  lock(target: Target): Promise<RecoveryLock | null>;
  /**
   * Puts right what a lifeline killed in the middle of a swap left on `target`, or on what it was
   * renamed to when the renames had committed (<db>_before_<id>, or a staging name): gives it back its
   * connections and removes the swap's mark; says what it did and where the database as it was
   * before is. The caller holds the lock.
   */
  repair(target: Target): Promise<string[]>;
  /**
   * Staging copies of `target`'s database that killed restores left beside it: named and commented
   * as lifeline's (a database that only has such a name is never one), and no lifeline holds their
   * lock. The next restore into the same target removes them; those beside other databases are
   * reported (remains, status) but left to their own target's next restore or to the user.
   */
  leftovers(target: Target): Promise<string[]>;
  /** What killed restores left beside `target` (interrupted swaps, leftovers); changes nothing. */
  remains(target: Target): Promise<RecoveryRemains>;
  /**
   * Creates an empty database on target's server to restore into (named stagingDatabaseName, marked
   * as lifeline's), with the encoding and locale given; when `like` exists, with its owner, settings
   * (ALTER DATABASE … SET) and privileges, so that the swap changes nothing but the data.
   */
  stage(
    target: Target,
    options: { nonce: string; encoding: string; locale: DatabaseLocale | null; like: Target | null },
  ): Promise<Target>;
  /** Drops a database (terminating its connections). */
  drop(target: Target): Promise<void>;
  /**
   * In one short step: refuses new connections to `target`, terminates its clients, renames it to
   * `previousName` (or drops it when null), and gives `replacement` its name. When `target` does not
   * exist, only renames. A failure before the renames commit leaves both as they were.
   * `unchangedSince`: a writes() reading of `target`; once its sessions are ended (they report their
   * statistics as they end), the swap refuses (RESTORE_TARGET_CHANGED, both left as they were) when
   * anything was written into it since. `absent`: the target did not exist (under the recovery
   * lock) when the restore began: one that exists now was created by someone else meanwhile and is
   * never replaced (RESTORE_TARGET_NOT_EMPTY, nothing renamed).
   */
  swap(
    target: Target,
    replacement: Target,
    previousName: string | null,
    options?: { unchangedSince?: string | null; absent?: boolean },
  ): Promise<{ terminated: number; unavailableMs: number }>;
  /**
   * A reading of everything written into `target` (rows inserted, updated, deleted, in any table,
   * the system catalogs included: DDL counts), read without connecting to it; null when unknown.
   * Two equal readings: nothing committed in between was reported.
   */
  writes(target: Target): Promise<string | null>;
  /**
   * Empties a database a restore went straight into (it held no user object before): drops
   * everything the connecting role owns in it (all the restore created: it restored as that role).
   */
  empty(target: Target): Promise<void>;
  /** Sets default_transaction_read_only for the database (a standby: writes fail). */
  setReadOnly(target: Target, readOnly: boolean): Promise<void>;
  /**
   * Restores only `tables` (with their indexes, constraints, defaults, triggers, owned sequences and
   * their values) into an existing database in one transaction: all of them or, on any error,
   * interruption or kill, none. Tables that exist in the target are never overwritten (an error).
   */
  restoreTables(into: Target, options: RestoreOptions & { tables: readonly string[] }): Promise<TableRestore>;
  /**
   * Before any target is touched: the restore tool is there and can read this restore point (a
   * pg_restore older than the pg_dump that wrote it is refused, TOOL_TOO_OLD, with the fix). Resolves
   * to the tools' versions.
   */
  preflight(manifest: Manifest): Promise<Record<string, string>>;
}

/** One database engine: what differs between engines stays behind this interface, not in the core. */
export interface Engine {
  readonly name: string;
  /** Parses a connection URL into a Target, registering its password as a secret. */
  target(url: string): Target;
  /** The database a target names, as the server knows it ("" when the URL names none). */
  database(target: Target): string;
  /** The same server and credentials, another database. */
  withDatabase(target: Target, database: string): Target;
  /** Connects and identifies the server; throws a LifelineError that names the fix when it cannot. */
  probe(target: Target): Promise<SourceInfo>;
  backup(target: Target, options: BackupOptions): Promise<BackupResult>;
  /** The oldest scratch server major version that can take this restore point. */
  scratchMajorFor(manifest: Manifest): number;
  restore(into: Target, options: RestoreOptions): Promise<{ tools: Record<string, string> }>;
  /**
   * `expected`: the restore point's fingerprints, whose recipes the copy is fingerprinted with.
   * `tables`: only these tables (a selective restore into a database that holds others).
   */
  fingerprint(
    target: Target,
    signal: AbortSignal,
    expected?: Fingerprints,
    tables?: readonly string[],
  ): Promise<Fingerprints>;
  live(target: Target): Promise<{ databaseBytes: number; activity: Activity }>;
  /**
   * What status reads live, for many databases at once (live, guard.status and recovery.remains
   * each open a session of their own): one session per database for its size, activity and
   * guard; one maintenance session per server and credentials for what killed restores left; a
   * few databases at a time; a server (host and port) that cannot be reached is tried once.
   * Never throws; one reading per request, in order.
   */
  statusReadings?(requests: readonly StatusRequest[]): Promise<StatusReading[]>;
  /**
   * The watch's cheap sample (catalog and statistics, never the data): tables by identity, their
   * estimated rows, storage and change counters, and their dependents. Never throws: a database
   * that does not exist or cannot be reached is a sample too. Engines without it are not watched.
   * `previous`: the last sample of this database, whose dependents are reused while its schema holds.
   */
  sample?(target: Target, signal: AbortSignal, previous?: DatabaseSample | null): Promise<DatabaseSample>;
  /**
   * For every database on target's server, one connection: a stamp of what was written to it
   * (equal stamps: nothing was, and the previous sample still holds). Null when it cannot tell.
   */
  changes?(target: Target): Promise<Map<string, string> | null>;
  /** Engines that can plan SQL: classification (static) and impact (read-only, against the live database). */
  readonly sql?: SqlPlanner;
  /** Engines that can restore into live servers (restore, standby). */
  readonly recovery?: Recovery;
  /** Engines that can enforce lifeline's decision inside the database (lifeline guard). */
  readonly guard?: DatabaseGuard;
}

export interface StatusRequest {
  target: Target;
  /** lifeline's key of the database's guard (to tell whether the database's matches). */
  guardKey: Buffer | null;
}

/** See Engine.statusReadings. */
export interface StatusReading {
  /** The live database's size and activity, or why it could not be read. */
  live: { databaseBytes: number; activity: Activity } | { error: string };
  /** Null when the engine has no guard or its state could not be read. */
  guard: GuardState | null;
  /** Null when the engine cannot restore into live servers or the server could not be read. */
  remains: RecoveryRemains | null;
}

/** What `lifeline guard install` stores in the database. */
export interface GuardSettings {
  asset: string;
  tier: string;
  /** null: the mass DELETE/UPDATE check is off. */
  massChange: { rows: number; percent: number | null; minRows: number } | null;
}

/** The guard in one database, as `lifeline guard status` reports it. */
export interface GuardState {
  installed: boolean;
  version: number | null;
  asset: string | null;
  tier: string | null;
  massChange: GuardSettings["massChange"];
  eventTriggers: { name: string; enabled: boolean }[];
  /** null: not known (no guard, or no key on lifeline's side). */
  keyMatches: boolean | null;
  /** "trigger on table" for each of the guard's table triggers that does not fire. */
  disabledTriggers: string[];
  tablesWithoutTruncateTrigger: string[];
  tablesWithoutMassTriggers: string[];
  /** Who can DROP DATABASE it (the guard cannot intercept that), and why. */
  canDropDatabase: { role: string; why: string }[];
  /** Everything above that weakens the guard, in words. */
  problems: string[];
  /** What the guard does not stop, whatever its state (design limits), in words. */
  notCovered: string[];
}

/** The approval lifeline run carries into its transaction for the guard (see DatabaseGuard). */
export interface GuardApproval {
  /** The plan id (or break-glass grant) it is issued for. */
  grant: string;
  key: Buffer;
  ttlSeconds: number;
  objects: { type: string; relation: string; column?: string; oid?: number }[];
}

/** lifeline's decision inside the database: event and statement triggers (PostgreSQL: engines/postgres/guard). */
export interface DatabaseGuard {
  /** The install script as it runs (the key is passed apart, never shown). */
  installSql(): string;
  uninstallSql(): string;
  /** Installs or reinstalls it in one transaction; `admin` must be a superuser's connection. */
  install(admin: Target, settings: GuardSettings, key: Buffer): Promise<void>;
  uninstall(admin: Target): Promise<void>;
  /** Read-only; `key`: lifeline's key, to tell whether the database's matches. */
  status(target: Target, key: Buffer | null): Promise<GuardState>;
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
    /** When the database is guarded: the approval to carry into the transaction. */
    approval?: GuardApproval,
  ): Promise<{ ms: number; statements: { command: string; rows: number | null }[] }>;
}
