/**
 * The restore point manifest: everything needed to list, check, restore and verify a restore point,
 * stored beside its artifacts. A restore point without a complete manifest does not exist.
 */
export const MANIFEST_FORMAT = 1;

export interface Artifact {
  /** Path relative to the restore point's directory, with forward slashes. */
  path: string;
  bytes: number;
  sha256: string;
}

export interface TableFingerprint {
  /** Schema-qualified, quoted as PostgreSQL would: "Sales"."Order Items". */
  table: string;
  rows: number;
  /** Order-independent digest of the rows; equal rows in any order give the same digest. */
  digest: string;
  /**
   * How the rows were digested. Absent: every column as text (the original recipe). Otherwise the
   * named recipe hashed the listed columns with their type's own hash function and the rest as text;
   * a drill recomputes with the same recipe.
   */
  recipe?: TableRecipe;
}

export interface TableRecipe {
  /** "typed-hash-v1". */
  name: string;
  /** Columns hashed by type, in name order. */
  hashed: string[];
}

export interface SequenceValue {
  sequence: string;
  lastValue: string;
  isCalled: boolean;
}

export interface SchemaObject {
  kind: string;
  name: string;
  digest: string;
}

export interface Fingerprints {
  /** The digest recipe; digests made by different recipes cannot be compared. */
  algorithm: string;
  tables: TableFingerprint[];
  sequences: SequenceValue[];
  schema: { digest: string; objects: SchemaObject[] };
  /** Large objects (OID and content); null when the backup could not read them (no privilege). */
  largeObjects: { count: number; digest: string } | null;
}

export interface TableActivity {
  table: string;
  inserts: number;
  updates: number;
  deletes: number;
  /*
   * What tells rows that went uncounted (TRUNCATE, DROP TABLE: the counters above do not count
   * them). Absent in restore points taken before lifeline recorded them.
   */
  /** The table's oid: another one under the same name is the table dropped and created again. */
  oid?: number;
  /** Its storage file: TRUNCATE, VACUUM FULL, CLUSTER and rewriting ALTER TABLEs give a new one. */
  relfilenode?: number;
  /** Live rows by the statistics (n_live_tup): a TRUNCATE sets them to 0. */
  liveRows?: number;
  /** Inserts since the last vacuum (n_ins_since_vacuum, PostgreSQL 13+): only VACUUM and TRUNCATE reset it. */
  insertsSinceVacuum?: number;
  /** Vacuums, manual and automatic. */
  vacuums?: number;
  /** Exact rows at the snapshot (the restore point's fingerprint; see activityOf). */
  rows?: number;
}

export interface Activity {
  /** When the server's statistics counters were last reset, if known. */
  statsReset: string | null;
  /**
   * The database the counters were read on (system identifier/database oid): oids and relfilenodes
   * compare only within one. Absent when unknown (or in older restore points).
   */
  database?: string;
  tables: TableActivity[];
}

/**
 * A restore point's activity with each table's exact rows at the snapshot (from its fingerprints):
 * what a table that lost its rows uncounted held then.
 */
export function activityOf(m: Pick<Manifest, "activity" | "fingerprints">): Activity {
  const rows = new Map(m.fingerprints.tables.map((t) => [t.table, t.rows]));
  return {
    ...m.activity,
    tables: m.activity.tables.map((t) => {
      const n = rows.get(t.table);
      return n === undefined || t.rows !== undefined ? t : { ...t, rows: n };
    }),
  };
}

export interface DatabaseLocale {
  collate: string;
  ctype: string;
  provider: "libc" | "icu";
  icuLocale: string | null;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  asset: string;
  engine: string;
  createdAt: string;
  snapshotTime: string;
  source: {
    database: string;
    /** Server-side encoding of the database; the scratch copy uses the same, or text digests would differ. */
    encoding: string;
    /** Collation and character classification of the database: generated columns (lower()), text
     * partition bounds and constraints depend on them, so the scratch copy uses the same. */
    locale: DatabaseLocale | null;
    /** Roles the restore needs to exist (named by policies and user mappings). */
    roles: string[];
    /** Connection URL without its password. */
    url: string;
    serverVersion: string;
    serverMajor: number;
    systemIdentifier: string | null;
    databaseBytes: number;
  };
  tools: Record<string, string>;
  dump: { format: string; jobs: number; compression: number };
  artifacts: Artifact[];
  fingerprints: Fingerprints;
  activity: Activity;
  durations: { dumpSeconds: number; fingerprintSeconds: number; totalSeconds: number };
  /**
   * "sha256:<hex>" of the canonical JSON of the whole manifest without this field (whatever other
   * fields it has): a changed byte anywhere in the manifest shows. Absent in manifests written by
   * lifeline 0.1, which are read but reported as not protected.
   */
  digest?: string;
}

/** The top-level fields of a manifest written before manifests carried a digest (lifeline 0.1). */
export const UNDIGESTED_MANIFEST_FIELDS: readonly string[] = [
  "format",
  "id",
  "asset",
  "engine",
  "createdAt",
  "snapshotTime",
  "source",
  "tools",
  "dump",
  "artifacts",
  "fingerprints",
  "activity",
  "durations",
];

/**
 * One text for one JSON value: object keys sorted (by UTF-16 code units), no whitespace, numbers
 * and strings as JSON.stringify writes them. What a manifest's digest is computed over.
 */
export function canonicalJson(value: unknown): string {
  // JSON.stringify with every object's keys sorted: fast, and exact unless a key looks like an
  // array index (JavaScript puts those first whatever the insertion order).
  let exact = true;
  const fast = JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    const record = v as Record<string, unknown>;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(record).sort()) {
      if (INDEX_LIKE.test(key)) exact = false;
      sorted[key] = record[key];
    }
    return sorted;
  }) as string | undefined;
  return exact ? (fast ?? "null") : slowCanonicalJson(value);
}

const INDEX_LIKE = /^(0|[1-9]\d{0,9})$/;

function slowCanonicalJson(value: unknown): string {
  if (Array.isArray(value))
    return `[${value.map((v: unknown) => slowCanonicalJson(v === undefined ? null : v)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${slowCanonicalJson(record[k])}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The time a restore point id was made at (its directory name sorts by it): for a restore point whose manifest cannot be read. */
export function restorePointIdTime(id: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.000Z` : "";
}

export function totalArtifactBytes(manifest: Pick<Manifest, "artifacts">): number {
  return manifest.artifacts.reduce((sum, a) => sum + a.bytes, 0);
}

/**
 * Restore point ids sort by time and are safe as directory names: 20261126T102040Z-3fa9c1.
 */
export function newRestorePointId(now: Date, random: string): string {
  const stamp = now
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
  return `${stamp}-${random}`;
}

export const RESTORE_POINT_ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;
