/**
 * The watch's sample of one database: the catalog and the statistics only (pg_class and the
 * pg_stat counters, never the data), in one query on one short connection. The dependents (views,
 * foreign keys: the same catalog `plan` reads) are read again only when relations or foreign keys
 * were created or dropped since the previous sample.
 */
import { isLifelineError } from "../../core/errors.js";
import type { Dependent } from "../../core/plan/policy.js";
import type { DatabaseSample, TableSample } from "../../core/watch/sample.js";
import type { Target } from "../../ports/engine.js";
import { connect, databaseName, qualifiedName } from "./connection.js";
import { Catalog, RELKIND_TYPE } from "./impact/catalog.js";

/** The watch's connections: their own activity is not a change. */
const WATCH_APPLICATION = "lifeline watch";

/** pg_constraint's OID (fixed in every PostgreSQL). */
const PG_CONSTRAINT = 2606;

/**
 * Tables with their storage, estimates and counters (the functions behind pg_stat_user_tables,
 * called for user tables only); and the schema stamp: every user relation that can have or be a
 * dependent (a view's row version too: CREATE OR REPLACE VIEW may read other tables), and the
 * writes to pg_constraint (its own row's counters: foreign keys added, altered or dropped; a
 * session's counts reach the server when it commits, or up to 10 s later while it stays connected,
 * so a key added by ALTER TABLE may be named one sample later; keys created with their table move
 * the relations at once).
 *
 * Each sample runs on a new backend, whose catalog caches are cold: every catalog, function,
 * operator and cast the statement names is looked up once more on the server (bench/watch.ts). So
 * pg_class alone, no join, no ORDER BY, no LIKE, no casts: the user relations are those outside the
 * system's schemas (pg_catalog, information_schema and pg_toast have OIDs below
 * FirstNormalObjectId, 16384; public is 2200) that are not temporary (another session's pg_temp_N).
 */
const SAMPLE = `SELECT c.oid, c.relkind, c.xmin AS version, c.relnamespace::regnamespace::text AS schema, c.relname AS name,
         c.relfilenode AS storage, c.reltuples,
         pg_stat_get_live_tuples(c.oid) AS live, pg_stat_get_tuples_inserted(c.oid) AS ins,
         pg_stat_get_tuples_updated(c.oid) AS upd, pg_stat_get_tuples_deleted(c.oid) AS del,
         CASE WHEN c.relkind = 'r' AND c.reltuples < 0 THEN pg_relation_size(c.oid) = 0 END AS empty,
         current_setting('track_counts') AS counting
    FROM pg_class c
   WHERE c.relkind IN ('r', 'p', 'v', 'm') AND c.relpersistence <> 't' AND (c.relnamespace = 2200 OR c.relnamespace >= 16384)
      OR c.oid = ${PG_CONSTRAINT}`;

/** The foreign keys, when the statistics do not count pg_constraint's writes (track_counts off). */
const KEYS = `SELECT count(*) || '/' || coalesce(max(k.oid::int8), 0) AS keys FROM pg_constraint k WHERE k.contype = 'f'`;

interface Row {
  /** Unsigned (node-postgres parses oid as a number); compared signed as the catalog reads it (oid::int). */
  oid: number;
  relkind: string;
  version: string;
  /** As regnamespace prints it: quoted when it must be. */
  schema: string;
  name: string;
  storage: number;
  reltuples: number;
  /** int8, as text. */
  live: string | null;
  ins: string | null;
  upd: string | null;
  del: string | null;
  empty: boolean | null;
  counting: string;
}

/** A schema name as regnamespace quotes it ("Sales", "a""b"), unquoted. */
function unquoted(identifier: string): string {
  return identifier.length > 1 && identifier.startsWith('"') && identifier.endsWith('"')
    ? identifier.slice(1, -1).replaceAll('""', '"')
    : identifier;
}

export async function sampleDatabase(
  target: Target,
  signal: AbortSignal,
  previous?: DatabaseSample | null,
): Promise<DatabaseSample> {
  const database = databaseName(target.url);
  const at = () => new Date().toISOString();
  let client;
  try {
    signal.throwIfAborted();
    client = await connect(target, WATCH_APPLICATION, { short: { timeoutMs: 10_000 } });
  } catch (error) {
    if (isLifelineError(error) && error.code === "DB_NOT_FOUND")
      return { state: "missing", at: at(), database, error: error.message };
    return {
      state: "unreachable",
      at: at(),
      database,
      error: error instanceof Error ? error.message : String(error),
    };
  }
  try {
    const all = (await client.query<Row>(SAMPLE)).rows;
    const taken = at();
    const constraints = all.find((r) => r.oid === PG_CONSTRAINT);
    const rows = all.filter((r) => r.oid !== PG_CONSTRAINT).sort((a, b) => a.oid - b.oid);
    const keys =
      constraints?.counting === "on"
        ? `${constraints.ins ?? 0}/${constraints.upd ?? 0}/${constraints.del ?? 0}`
        : ((await client.query<{ keys: string }>(KEYS)).rows[0]?.keys ?? "0/0");
    const schema = `${rows.map((r) => (r.relkind === "v" || r.relkind === "m" ? `${r.oid | 0}${r.relkind}${r.version}` : `${r.oid | 0}${r.relkind}`)).join(",")};${keys}`;
    let dependentsOf: (oid: number, name: string) => Dependent[];
    if (previous?.state === "present" && previous.schema === schema) {
      const known = new Map(previous.tables.map((t) => [t.identity, t.dependents]));
      dependentsOf = (oid) => known.get(String(oid)) ?? [];
    } else {
      // The same catalog `plan` reads: the dependents an alert names are those a plan would.
      const catalog = await Catalog.load(client);
      dependentsOf = (oid, name) => dependents(catalog, oid, name);
    }
    const tables: TableSample[] = [];
    for (const r of rows) {
      if (r.relkind !== "r") continue;
      const oid = r.oid | 0;
      const name = qualifiedName(unquoted(r.schema), r.name);
      const [live, ins, upd, del] = [r.live, r.ins, r.upd, r.del].map((n) => Number(n ?? 0)) as [
        number,
        number,
        number,
        number,
      ];
      // n_live_tup follows every committed change (a session flushes its counts up to seconds after
      // it commits); reltuples (-1: never analyzed, or truncated) only VACUUM and ANALYZE. A table
      // whose storage is empty (TRUNCATE gives it new, empty storage: a file of 0 bytes) has no rows,
      // whatever the counters say yet.
      const counted = live + ins + upd + del > 0;
      tables.push({
        identity: String(oid),
        name,
        rows: r.empty === true ? 0 : counted ? live : Math.max(0, r.reltuples),
        storage: String(r.storage),
        changes: { inserts: ins, updates: upd, deletes: del },
        dependents: dependentsOf(oid, name),
      });
    }
    return { state: "present", at: taken, database, tables, schema };
  } catch (error) {
    return {
      state: "unreachable",
      at: at(),
      database,
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

function dependents(catalog: Catalog, oid: number, name: string): Dependent[] {
  const found: Dependent[] = [];
  for (const v of catalog.dependentViews(oid)) {
    found.push({
      kind: RELKIND_TYPE[v.relkind] ?? "view",
      name: qualifiedName(v.schema, v.name),
      on: name,
      how: "pg_depend (its definition reads it)",
    });
  }
  for (const fk of catalog.referencingKeys(oid)) {
    const t = catalog.relations.get(fk.table);
    if (t)
      found.push({
        kind: "foreign key",
        name: `${qualifiedName(t.schema, t.name)} (${fk.name})`,
        on: name,
        how: `foreign key ${fk.name}`,
      });
  }
  return found;
}

/**
 * Per database of the server: a stamp of everything written to it (rows inserted, updated and
 * deleted in any table, the catalogs included: CREATE, DROP, TRUNCATE and ALTER write the
 * catalogs), from pg_stat_database, and of its sessions' activity (pg_stat_activity: a session
 * flushes its counters up to seconds after its statement, but its state changes at once); on one
 * connection. A database whose stamp did not move was not written to, and its previous sample still
 * holds. A session running a statement, or one whose activity lifeline may not see, always moves
 * it. Null when it cannot tell (no connection, or the statistics are not collected).
 */
export async function databaseChanges(target: Target): Promise<Map<string, string> | null> {
  let client;
  try {
    client = await connect(target, WATCH_APPLICATION, { short: { timeoutMs: 10_000 } });
  } catch {
    return null;
  }
  try {
    const rows = (
      await client.query<{ datname: string; stamp: string; counting: boolean }>(
        `WITH sessions AS (
           SELECT a.datname, max(a.state_change) AS last,
                  bool_or(a.state_change IS NULL OR a.state IS NULL OR a.state NOT IN ('idle', 'idle in transaction')) AS busy
             FROM pg_stat_activity a
            WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
              AND coalesce(a.application_name, '') <> $1
            GROUP BY a.datname)
         SELECT d.datname,
                d.datid || '/' || d.tup_inserted || '/' || d.tup_updated || '/' || d.tup_deleted || '/' ||
                coalesce(d.stats_reset::text, '') || '/' ||
                CASE WHEN s.busy THEN clock_timestamp()::text ELSE coalesce(s.last::text, '') END AS stamp,
                current_setting('track_counts')::bool AS counting
           FROM pg_stat_database d LEFT JOIN sessions s ON s.datname = d.datname
          WHERE d.datname IS NOT NULL`,
        [WATCH_APPLICATION],
      )
    ).rows;
    if (rows.some((r) => !r.counting)) return null;
    return new Map(rows.map((r) => [r.datname, r.stamp]));
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}
