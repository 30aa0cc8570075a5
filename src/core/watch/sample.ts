/**
 * What `lifeline serve` reads of an asset every watch interval: cheap facts only (the catalog and
 * the statistics, never a scan of the data), compared with the previous sample by ./detect.ts.
 */
import type { Dependent } from "../plan/policy.js";

/** A user table as the catalog and the statistics describe it. */
export interface TableSample {
  /** Which table this is, whatever it is called now (PostgreSQL: its OID). A table dropped and created again is another one. */
  identity: string;
  /** Qualified as manifests name tables: public.orders. */
  name: string;
  /** Estimated live rows (statistics: n_live_tup, else reltuples). */
  rows: number;
  /** Where the rows are stored (PostgreSQL: relfilenode); TRUNCATE gives the table new storage (so do VACUUM FULL and CLUSTER, which keep the rows). */
  storage: string;
  /** Cumulative change counters; null when the statistics have none for it. They go backwards only when reset. */
  changes: { inserts: number; updates: number; deletes: number } | null;
  /** Views and foreign keys that read it, as `plan` finds them: who breaks when it goes. */
  dependents: Dependent[];
}

export type DatabaseSample =
  | {
      state: "present";
      at: string;
      database: string;
      tables: TableSample[];
      /**
       * Changes when relations or foreign keys are created or dropped: while it holds, the
       * dependents of the previous sample still hold (and are not read again).
       */
      schema: string;
    }
  /** The server answers, the database does not exist. */
  | { state: "missing"; at: string; database: string; error: string }
  /** The server does not answer (or refuses lifeline): nothing is known of the data. */
  | { state: "unreachable"; at: string; database: string; error: string };

/** A claim bound to an asset, and the volume that holds its data. */
export interface ClaimSample {
  /** namespace/name */
  name: string;
  uid: string;
  /** The bound volume, null while unbound. */
  volume: string | null;
  /** The bound volume exists. */
  volumeExists: boolean;
  /** Its reclaim policy (Retain, Delete), null when the volume is not there. */
  reclaimPolicy: string | null;
  /** Workloads that mount the claim or reach the service of the pods that do. */
  dependents: Dependent[];
}

export type ClusterSample =
  { state: "read"; at: string; claims: ClaimSample[] } | { state: "unreadable"; at: string; error: string };

/** What the watch knows of an asset's posture in one round. */
export interface PostureSample {
  rpoMet: boolean;
  rpoSeconds: number | null;
  rpoTargetSeconds: number;
  /** The newest verified restore point, and the tables it holds (null when they could not be read). */
  verified: { id: string; snapshotTime: string; drilledAt: string; tables: string[] | null } | null;
}

/** A standby lifeline made (from the audit log) and the restore point it serves. */
export interface StandbySample {
  /** URL without password. */
  target: string;
  restorePointId: string;
}

/** Everything one round read of one asset. */
export interface AssetSample {
  asset: string;
  database: DatabaseSample;
  /** Null when the asset is not bound to Kubernetes. */
  cluster: ClusterSample | null;
  /** Null when the repository could not be read this round. */
  posture: PostureSample | null;
  standbys: StandbySample[];
}
