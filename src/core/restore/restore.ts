/**
 * Recovery: bringing a restore point back into a database (`restore`), or keeping a read-only copy
 * of the newest verified one beside it (`standby`). Pure: names, selection, results, and the state
 * that the audit log's `restore` / `standby` / `discard` entries describe.
 */
import { LifelineError } from "../errors.js";
import type { Mismatch } from "../drill/compare.js";
import type { Activity } from "../restore-point/restore-point.js";

/** PostgreSQL truncates identifiers to 63 bytes; lifeline never relies on truncation. */
export const MAX_IDENTIFIER_BYTES = 63;

/** What a restore does to its target. */
export type RestoreMode =
  /** A database that does not exist or holds no user object (`--to URL`). */
  | "into"
  /** A target that holds data (`--to URL --replace`): a destructive plan through the gate. */
  | "replace"
  /** The asset's own database (`--in-place`): restored beside, swapped by rename, previous kept. */
  | "in-place"
  /** Only some tables (`--tables`, `--schema`), into a target or back into the asset's database. */
  | "tables";

/** UTF-8 bytes of a name, as PostgreSQL counts an identifier's length. */
function utf8Bytes(name: string): number {
  return new TextEncoder().encode(name).length;
}

/** The longest prefix of `name` within `room` bytes, cut between characters (never inside one). */
function clip(name: string, room: number): string {
  const chars = Array.from(name);
  while (utf8Bytes(chars.join("")) > room) chars.pop();
  return chars.join("");
}

/** `<db>_before_<restore point id>`, lower-case with underscores (no quoting needed in psql). */
export function previousDatabaseName(database: string, restorePointId: string): string {
  const suffix = `_before_${restorePointId.toLowerCase().replace(/[^a-z0-9]/g, "_")}`;
  return clip(database, MAX_IDENTIFIER_BYTES - suffix.length) + suffix;
}

/**
 * Refuses a target database name PostgreSQL would not keep as given (USAGE, before anything is
 * touched): none at all (the URL ends at the port: the swap would fail after the whole restore), or
 * longer than 63 bytes (the server silently cuts it, so the restore would land in another name).
 * `database` is the name as decoded from the URL; `example` a URL to suggest.
 */
export function refuseDatabaseName(database: string, display: string, example: string): void {
  if (database === "") {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `${display} names no database: lifeline restores into the database named at the end of the URL`,
      fix: `add the database's name (it is created when it does not exist), e.g. ${example}`,
    });
  }
  const bytes = utf8Bytes(database);
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `the database name ${JSON.stringify(database)} in ${display} is ${bytes} bytes long: PostgreSQL keeps at most ${MAX_IDENTIFIER_BYTES} bytes and would silently cut it to ${JSON.stringify(clip(database, MAX_IDENTIFIER_BYTES))}`,
      fix: `choose a name of at most ${MAX_IDENTIFIER_BYTES} bytes (UTF-8), e.g. ${example}`,
    });
  }
}

/** The server's maintenance and template databases: empty of user objects, yet never a restore target. */
export const SYSTEM_DATABASES: ReadonlySet<string> = new Set(["postgres", "template0", "template1"]);

/** Refuses a server's own database as the target of a restore or standby (USAGE, before anything is touched). */
export function refuseSystemDatabase(database: string, display: string): void {
  if (!SYSTEM_DATABASES.has(database)) return;
  throw new LifelineError({
    code: "USAGE",
    kind: "usage",
    message: `${display} is the server's own ${database} database: lifeline never restores into it`,
    fix: "name a database of its own in the URL, e.g. …:5432/shop_restored (it is created when it does not exist)",
  });
}

/** Marks every database lifeline creates to restore into, so a killed restore's copy is recognised. */
export const STAGING_MARK = "_lifeline_staging_";

/** The database a restore fills before it takes the target's name: `<db>_lifeline_staging_<nonce>`. */
export function stagingDatabaseName(database: string, nonce: string): string {
  const suffix = `${STAGING_MARK}${nonce.toLowerCase().replace(/[^a-z0-9]/g, "")}`;
  return clip(database, MAX_IDENTIFIER_BYTES - suffix.length) + suffix;
}

export function isStagingDatabase(name: string): boolean {
  return name.includes(STAGING_MARK);
}

/**
 * The tables a selective restore brings back: every `--tables` name and every table of each
 * `--schema`, as the restore point holds them (qualified and quoted as in its fingerprints). A name
 * the restore point does not hold is an error that lists what it does hold.
 */
export function selectTables(
  available: readonly string[],
  request: { tables: readonly string[]; schemas: readonly string[] },
  /** Every table of the restore point's schema, those without rows of their own (partitioned) too. */
  allTables: readonly string[] = available,
): string[] {
  // As PostgreSQL reads them: a quoted identifier as written, an unquoted one folded to lower case
  // (`PUBLIC.PRODUCTS` is public.products). `fold` false: as typed (a name that only matches that way
  // is still found: `--schema Sales` for "Sales").
  const unquote = (s: string, fold = true) =>
    s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : fold ? s.toLowerCase() : s;
  const split = (qualified: string, fold = true): [string, string] => {
    const m = /^((?:"(?:[^"]|"")*"|[^."]+))\.((?:"(?:[^"]|"")*"|[^."]+))$/.exec(qualified);
    return m && m[1] !== undefined && m[2] !== undefined
      ? [unquote(m[1], fold), unquote(m[2], fold)]
      : ["", unquote(qualified, fold)];
  };
  // The manifest's names are as pg_dump printed them: quoted when they must be, never folded.
  const known = available.map((table) => ({ table, parts: split(table, false) }));
  const chosen = new Set<string>();
  const unknown: string[] = [];
  for (const raw of request.tables) {
    const asked = raw.trim();
    if (asked === "") continue;
    const find = (fold: boolean) => {
      const [schema, name] = asked.includes(".") ? split(asked, fold) : ["", unquote(asked, fold)];
      return {
        schema,
        hits: known.filter((k) => k.parts[1] === name && (schema === "" ? true : k.parts[0] === schema)),
      };
    };
    let { schema, hits } = find(true);
    if (hits.length === 0) ({ schema, hits } = find(false));
    // An unqualified name means public.name when that exists, else the only table of that name.
    const pick = schema === "" && hits.length > 1 ? hits.filter((k) => k.parts[0] === "public") : hits;
    if (pick.length === 1 && pick[0]) chosen.add(pick[0].table);
    else if (pick.length > 1) {
      throw new LifelineError({
        code: "USAGE",
        kind: "usage",
        message: `table ${asked} is ambiguous in the restore point: ${pick.map((k) => k.table).join(", ")}`,
        fix: "qualify it with its schema, e.g. --tables public.orders",
      });
    } else unknown.push(asked);
  }
  for (const raw of request.schemas) {
    const schema = unquote(raw.trim());
    if (schema === "") continue;
    let hits = known.filter((k) => k.parts[0] === schema);
    if (hits.length === 0) {
      const asTyped = unquote(raw.trim(), false);
      hits = known.filter((k) => k.parts[0] === asTyped);
    }
    if (hits.length === 0) unknown.push(`schema ${schema}`);
    for (const k of hits) chosen.add(k.table);
  }
  const holding = new Set(available);
  const partitioned = unknown.filter((u) =>
    [u, `public.${u}`].some((name) => allTables.includes(name) && !holding.has(name)),
  );
  if (partitioned.length > 0) {
    throw new LifelineError({
      code: "RESTORE_SELECTION_UNKNOWN",
      kind: "usage",
      message: `${partitioned.join(", ")} holds no rows of its own (a partitioned table): its partitions hold them`,
      fix: `name its partitions with --tables (restoring a partition brings its partitioned table back too); the restore point's tables: ${available.slice(0, 20).join(", ")}${available.length > 20 ? ", …" : ""}`,
    });
  }
  if (unknown.length > 0) {
    const sample = available.slice(0, 20).join(", ");
    throw new LifelineError({
      code: "RESTORE_SELECTION_UNKNOWN",
      kind: "usage",
      message: `the restore point holds no ${unknown.join(", ")}`,
      fix: `name tables as the restore point holds them (schema.table): ${sample}${available.length > 20 ? ", …" : ""}`,
    });
  }
  if (chosen.size === 0) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: "--tables and --schema name nothing to restore",
      fix: "give tables as --tables public.products,public.prices or a schema as --schema sales",
    });
  }
  return available.filter((t) => chosen.has(t));
}

/** A foreign key a selective restore did not restore because its other table was not restored. */
export interface ReportedForeignKey {
  /** Constraint name. */
  name: string;
  /** The table that holds the constraint. */
  table: string;
  /** The table it references. */
  references: string;
  /** `ALTER TABLE … ADD CONSTRAINT …` as the restore point defines it, to add it by hand. */
  definition: string;
  why: string;
}

/** What `restore` reports (`--json`: {"restore": RestoreResult}). */
export interface RestoreResult {
  asset: string;
  restorePointId: string;
  /** The restore point was never proven by a drill (`--unverified`). */
  unverifiedSource: boolean;
  mode: RestoreMode;
  /** Where it went: URL without password. */
  target: string;
  /** Tables restored (qualified). */
  tables: string[];
  /** Rows restored, from the fingerprints of the restored tables. */
  rows: number;
  restoreSeconds: number;
  verifySeconds: number;
  /** True only when the restored tables' fingerprints match the manifest. */
  verified: boolean;
  mismatches: Mismatch[];
  /** In place: where the database as it was before the restore is kept. */
  previous: { database: string; target: string } | null;
  /** Selective: foreign keys reported, not restored. */
  foreignKeys: ReportedForeignKey[];
  /** In place: the time the asset's database was unavailable (the swap), and the clients cut. */
  swap: { unavailableMs: number; terminated: number } | null;
  /** Staging copies of killed restores that this one removed. */
  removedLeftovers: string[];
}

/** A standby: a read-only copy of a verified restore point that dependents can read from. */
export interface StandbyResult {
  asset: string;
  restorePointId: string;
  /** URL without password. */
  target: string;
  database: string;
  /** The restore point it served before (a refresh), or null. */
  replaced: string | null;
  tables: number;
  rows: number;
  restoreSeconds: number;
  verifySeconds: number;
  verified: boolean;
  /** `--refresh` found no newer verified restore point: nothing changed. */
  unchanged: boolean;
  swap: { unavailableMs: number; terminated: number } | null;
}

/** The audit entry (kind "restore") of a finished restore: what status and retention read back. */
export interface RestoreAudit {
  result: "succeeded" | "failed";
  mode: RestoreMode;
  restorePointId: string;
  unverifiedSource: boolean;
  target: string;
  tables: number;
  rows: number;
  restoreSeconds: number;
  verifySeconds: number;
  verified: boolean;
  previous: { database: string; target: string } | null;
  error: string | null;
  /**
   * --tables back into the asset's own database: the restored tables' counters right after the
   * restore, with the rows they held (the restore point's). status counts only the writes made to
   * them since (core/posture changesSince). Absent when they could not be read, and in older entries.
   */
  activity?: Activity;
}

/** The audit entry (kind "standby") of a standby created or refreshed. */
export interface StandbyAudit {
  result: "succeeded" | "failed";
  restorePointId: string;
  target: string;
  database: string;
  replaced: string | null;
  restoreSeconds: number;
  verifySeconds: number;
  verified: boolean;
  error: string | null;
  /** Right after it was created: its user tables' write counters (DatabaseState.tableWrites) and user objects. */
  tableWrites?: string | null;
  userObjects?: number;
}

/** The audit entry (kind "discard") of a previous database removed by `restore --discard-previous`. */
export interface DiscardAudit {
  database: string;
  target: string;
}
