import { createHash } from "node:crypto";
import type pg from "pg";
import type {
  Activity,
  Fingerprints,
  SchemaObject,
  SequenceValue,
  TableFingerprint,
  TableRecipe,
} from "../../core/restore-point/restore-point.js";
import { interrupted } from "../../core/errors.js";
import type { Target } from "../../ports/engine.js";
import { PINNED_SETTINGS, connect, qualifiedName, quoteIdent, quoteLiteral, sqlIdent } from "./connection.js";

/** Namespaces that belong to the server, not to the user's data. */
const USER_NAMESPACES = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'lifeline_guard') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Objects created by CREATE EXTENSION come back with the extension, not from the dump. */
const NOT_EXTENSION_MEMBER = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

/** Marks the types hashed together as one record by hash_record_extended. */
const RECORD_HASH = "hash_record_extended";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export async function pinSettings(client: pg.Client): Promise<void> {
  // set_config(..., true) is transaction-local like SET LOCAL; callers are inside a transaction.
  for (const [name, value] of PINNED_SETTINGS) {
    await client.query("SELECT set_config($1, $2, true)", [name, value]);
  }
}

export interface ColumnToFingerprint {
  name: string;
  /**
   * The column's type as the typed recipe sees it: a pg_catalog type name, with "(n)" when it has a
   * type modifier; null for any other type (domains, enums, arrays, composites, extension types…) or
   * a column with a nondeterministic collation. Only the names in TYPED_HASHES are ever hashed by type.
   */
  type: string | null;
}

export interface TableToFingerprint {
  schema: string;
  name: string;
  /** In name order (C collation). */
  columns: ColumnToFingerprint[];
  bytes: number;
}

/**
 * Tables that hold rows of their own. Partitioned parents hold none (their partitions are listed),
 * materialized views are derived (pg_dump refreshes them on restore, so a stale one would differ by
 * design); they are covered by the schema digest instead.
 */
export async function listTables(client: pg.Client): Promise<TableToFingerprint[]> {
  // The typed recipe needs hash_record_extended (PostgreSQL 14); older servers keep the text recipe.
  const version = await client.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
  const typed = (version.rows[0]?.v ?? 0) >= TYPED_RECIPE_MIN_VERSION;
  const type = typed
    ? `CASE WHEN t.typnamespace = 'pg_catalog'::regnamespace
                 AND (a.attcollation = 0 OR (SELECT co.collisdeterministic FROM pg_collation co WHERE co.oid = a.attcollation))
            THEN t.typname::text || CASE WHEN a.atttypmod <> -1 THEN '(n)' ELSE '' END END`
    : "NULL::text";
  const result = await client.query<{
    schema: string;
    name: string;
    columns: string[] | null;
    types: (string | null)[] | null;
    bytes: string;
  }>(`
    SELECT n.nspname AS schema, c.relname AS name, cols.names AS columns, cols.types,
           pg_relation_size(c.oid)::text AS bytes
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      CROSS JOIN LATERAL (
        SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C") AS names,
               array_agg(${type} ORDER BY a.attname::text COLLATE "C") AS types
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS cols
     WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND ${USER_NAMESPACES}
       AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
     ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`);
  return result.rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    columns: (r.columns ?? []).map((name, i) => ({ name, type: r.types?.[i] ?? null })),
    bytes: Number(r.bytes),
  }));
}

/** Names the digest recipe in manifests, so a future change of recipe is never mistaken for data loss. */
export const FINGERPRINT_ALGORITHM = "pg-rowtext-hashtextextended-sum-v1";

/** The per-table recipe that hashes some columns by type (recorded in the manifest as TableRecipe). */
export const TYPED_RECIPE = "typed-hash-v1";
const TYPED_RECIPE_MIN_VERSION = 140000;

/**
 * Types whose own extended hash function (hash support function 2, the one hash partitioning uses,
 * so PostgreSQL keeps it stable across major versions: pg_upgrade keeps hash-partitioned rows where
 * they are) tells every stored value apart, called directly on the column. Left out on purpose, so
 * they stay on the text recipe: float4/float8 (-0 and 0 hash alike), numeric without a typmod (1.0
 * and 1.00 hash alike), interval ('1 day' and '24 hours'), unbounded bpchar (trailing spaces),
 * arrays (dimensions are not hashed), enums (they hash the value's OID, which a restore changes),
 * jsonb (numbers inside hash like numeric), ranges, composites, domains, timetz, types without an
 * extended hash (json, xml, point…), extension types, and any column with a nondeterministic
 * collation (hashed by ICU sort key, which may change with the ICU version).
 */
const TYPED_HASHES: Readonly<Record<string, string>> = {
  int2: "hashint2extended",
  int4: "hashint4extended",
  int8: "hashint8extended",
  text: "hashtextextended",
  varchar: "hashtextextended",
  "varchar(n)": "hashtextextended",
  "bpchar(n)": "hashbpcharextended",
  "numeric(n)": "hash_numeric_extended",
  uuid: "uuid_hash_extended",
  timestamp: "timestamp_hash_extended",
  "timestamp(n)": "timestamp_hash_extended",
  time: "time_hash_extended",
  "time(n)": "time_hash_extended",
  inet: "hashinetextended",
  cidr: "hashinetextended",
  macaddr: "hashmacaddrextended",
  // No extended hash function of their own type to call: hashed together as one record.
  bool: RECORD_HASH,
  date: RECORD_HASH,
  timestamptz: RECORD_HASH,
  "timestamptz(n)": RECORD_HASH,
  bytea: RECORD_HASH,
};

/** How one column is digested under the typed recipe: a hash function, or text. */
export function typedHashOf(type: string | null): string | null {
  return type !== null && Object.hasOwn(TYPED_HASHES, type) ? (TYPED_HASHES[type] ?? null) : null;
}

/**
 * Which columns of a table are hashed by type. At backup (`recorded` undefined): every column whose
 * type allows it; none allowed means the text recipe. At a drill: the recipe the manifest records
 * (null: text; a recipe this lifeline does not know is not applied, and the comparison says so).
 */
export function chooseRecipe(table: TableToFingerprint, recorded?: TableRecipe | null): TableRecipe | null {
  if (recorded !== undefined) return recorded?.name === TYPED_RECIPE ? recorded : null;
  const hashed = table.columns.filter((c) => typedHashOf(c.type) !== null).map((c) => c.name);
  return hashed.length > 0 ? { name: TYPED_RECIPE, hashed } : null;
}

/**
 * The SQL expression hashing one row to 64 bits, and the description of it that goes into the
 * digest. Text recipe (no recipe): the row's columns in name order printed as text, hashed with
 * hashtextextended. Typed recipe: each hashed column with its type's extended hash seeded by its
 * position (so equal values in two columns do not cancel; NULL hashes to the seed), the columns
 * without a callable hash of their own as one record (hash_record_extended), the remaining columns
 * as one row of text; the parts are XORed and the result hashed again (hashint8extended). About
 * half the CPU of printing the row, on pgbench_accounts.
 */
export function rowHash(
  table: TableToFingerprint,
  recipe: TableRecipe | null,
): { sql: string; description: string } {
  const all = table.columns.map((c) => c.name);
  if (!recipe)
    return {
      sql: `hashtextextended(ROW(${all.map(sqlIdent).join(", ")})::text, 0)`,
      description: all.join(","),
    };
  const direct: string[] = [];
  const described: string[] = [];
  const record: string[] = [];
  const text: string[] = [];
  for (const column of table.columns) {
    const fn = recipe.hashed.includes(column.name) ? typedHashOf(column.type) : null;
    if (fn === null) text.push(column.name);
    else if (fn === RECORD_HASH) record.push(column.name);
    else {
      const seed = direct.length + 1;
      direct.push(`coalesce(pg_catalog.${fn}(${sqlIdent(column.name)}, ${seed}), ${seed})`);
      described.push(`${column.name}:${fn}`);
    }
  }
  // A recorded column that no longer exists is named in the description, so the digest differs.
  const missing = recipe.hashed.filter((name) => !all.includes(name));
  const parts = [...direct];
  if (record.length > 0)
    parts.push(
      `pg_catalog.hash_record_extended(ROW(${record.map(sqlIdent).join(", ")}), ${direct.length + 1})`,
    );
  if (text.length > 0)
    parts.push(`pg_catalog.hashtextextended(ROW(${text.map(sqlIdent).join(", ")})::text, 0)`);
  return {
    // The XOR is hashed once more: summed as they are, XORs of two rows that swapped one column's
    // values would cancel out whenever the swapped hashes differ in no bit where the others differ.
    sql: parts.length > 0 ? `pg_catalog.hashint8extended(${parts.join(" # ")}, 0)` : "0::bigint",
    description: [
      TYPED_RECIPE,
      described.join(","),
      `record:${record.join(",")}`,
      `text:${text.join(",")}`,
      `missing:${missing.join(",")}`,
    ].join("|"),
  };
}

/**
 * Row count plus an order-independent digest: each row is hashed to 64 bits by rowHash (columns in
 * name order, so physical column order does not matter; the server's own hash functions, much
 * cheaper than md5 and parallel-safe so big tables are scanned by parallel workers); the hashes are
 * summed over all rows. Sums commute, so row order does not matter, and unlike XOR duplicate rows do
 * not cancel out. `recorded`: the recipe the manifest names (at a drill); undefined at backup.
 */
export async function fingerprintTable(
  client: pg.Client,
  table: TableToFingerprint,
  recorded?: TableRecipe | null,
): Promise<TableFingerprint> {
  const recipe = chooseRecipe(table, recorded);
  const row = rowHash(table, recipe);
  const sql = `
    SELECT count(*)::text AS rows, coalesce(sum(${row.sql}), 0)::text AS sum
      FROM ONLY ${sqlIdent(table.schema)}.${sqlIdent(table.name)}`;
  const result = await client.query<{ rows: string; sum: string }>(sql);
  const r = result.rows[0] ?? { rows: "0", sum: "0" };
  return {
    table: qualifiedName(table.schema, table.name),
    rows: Number(r.rows),
    digest: sha256(`${FINGERPRINT_ALGORITHM}|${row.description}|${r.rows}|${r.sum}`),
    ...(recipe ? { recipe } : {}),
  };
}

/**
 * Fingerprints tables on several connections at once, biggest first. Each client must already be in
 * a transaction with the settings pinned (and, at backup, the dump's snapshot imported).
 */
export async function fingerprintTables(
  clients: readonly pg.Client[],
  tables: readonly TableToFingerprint[],
  signal: AbortSignal,
  expected?: Fingerprints,
): Promise<TableFingerprint[]> {
  // At a drill every table is read with the recipe its manifest entry names (none: text).
  const recorded = expected ? new Map(expected.tables.map((t) => [t.table, t.recipe ?? null])) : undefined;
  const queue = [...tables].sort((a, b) => b.bytes - a.bytes);
  const results: TableFingerprint[] = [];
  await Promise.all(
    clients.map(async (client) => {
      for (let table = queue.shift(); table; table = queue.shift()) {
        if (signal.aborted) throw interrupted();
        const recipe = recorded ? (recorded.get(qualifiedName(table.schema, table.name)) ?? null) : undefined;
        results.push(await fingerprintTable(client, table, recipe));
      }
    }),
  );
  return results.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/**
 * Current sequence values, read on the restored copy. `tables`: only the sequences those tables own
 * (serial, identity) or use in a column default.
 */
export async function readSequences(client: pg.Client, tables?: readonly string[]): Promise<SequenceValue[]> {
  const only = tables
    ? `AND EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                    JOIN pg_namespace tn ON tn.oid = t.relnamespace
                   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                     AND d.deptype IN ('a', 'i') AND (tn.nspname, t.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))
                  UNION ALL
                  SELECT 1 FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid JOIN pg_class t ON t.oid = ad.adrelid
                    JOIN pg_namespace tn ON tn.oid = t.relnamespace
                   WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
                     AND (tn.nspname, t.relname) IN (SELECT * FROM unnest($1::text[], $2::text[])))`
    : "";
  const parts = (tables ?? []).map(splitQualified);
  const list = await client.query<{ schema: string; name: string }>(
    `
    SELECT n.nspname AS schema, c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'S' AND ${USER_NAMESPACES} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")} ${only}
     ORDER BY 1, 2`,
    tables ? [parts.map((p) => p[0]), parts.map((p) => p[1])] : [],
  );
  const values: SequenceValue[] = [];
  for (const { schema, name } of list.rows) {
    const r = await client.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text AS last_value, is_called FROM ${sqlIdent(schema)}.${sqlIdent(name)}`,
    );
    const v = r.rows[0];
    if (v)
      values.push({ sequence: qualifiedName(schema, name), lastValue: v.last_value, isCalled: v.is_called });
  }
  return values.sort((a, b) => (a.sequence < b.sequence ? -1 : 1));
}

/**
 * A description of every user object, one digest each, so a schema difference names the object.
 * Ownership and privileges are left out: drills restore without them (scratch has none of the roles).
 * Columns are described in name order: pg_dump may legitimately reorder inherited columns.
 */
const SCHEMA_QUERY = `
WITH rels AS (
  SELECT c.oid, c.relkind, n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r','p','v','m','S','f','c') AND c.relpersistence <> 't' AND ${USER_NAMESPACES}
     AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
     AND NOT (c.relkind = 'c' AND EXISTS (SELECT 1 FROM pg_type t WHERE t.typrelid = c.oid AND t.typtype <> 'c'))
)
SELECT 'schema' AS kind, n.nspname AS schema, n.nspname AS name, '' AS definition
  -- public comes with every new database, whether or not the source still had it.
  FROM pg_namespace n WHERE ${USER_NAMESPACES} AND n.nspname <> 'public' AND ${NOT_EXTENSION_MEMBER("pg_namespace", "n.oid")}
UNION ALL
SELECT CASE r.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'type' END,
       r.nspname, r.relname,
       concat_ws(E'\\n',
         (SELECT string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
                   CASE WHEN a.attnotnull THEN 'not null' END,
                   CASE WHEN a.attidentity <> '' THEN 'identity ' || a.attidentity::text END,
                   CASE WHEN a.attgenerated <> '' THEN 'generated ' || a.attgenerated::text END,
                   (SELECT 'default ' || pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum),
                   CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT typcollation FROM pg_type WHERE oid = a.atttypid)
                        THEN 'collate ' || (SELECT collname FROM pg_collation WHERE oid = a.attcollation) END),
                   E'\\n' ORDER BY a.attname COLLATE "C")
            FROM pg_attribute a WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped),
         CASE WHEN r.relkind = 'p' THEN 'partition by ' || pg_get_partkeydef(r.oid) END,
         (SELECT 'partition of ' || quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) || ' ' || pg_get_expr(c2.relpartbound, c2.oid)
            FROM pg_class c2 JOIN pg_inherits i ON i.inhrelid = c2.oid JOIN pg_class pc ON pc.oid = i.inhparent
            JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE c2.oid = r.oid AND c2.relispartition),
         (SELECT 'inherits ' || string_agg(quote_ident(pn.nspname) || '.' || quote_ident(pc.relname), ', ' ORDER BY i.inhseqno)
            FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
           WHERE i.inhrelid = r.oid AND NOT (SELECT relispartition FROM pg_class WHERE oid = r.oid)),
         CASE WHEN r.relkind IN ('v','m') THEN pg_get_viewdef(r.oid) END,
         (SELECT concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle)
            FROM pg_sequence s WHERE s.seqrelid = r.oid))
  FROM rels r
UNION ALL
SELECT 'constraint', c.nspname, c.relname || '.' || con.conname, pg_get_constraintdef(con.oid)
  FROM pg_constraint con JOIN rels c ON c.oid = con.conrelid
 WHERE con.conparentid = 0 -- a partition's copy of its parent's constraint is recreated (and named) by the server
UNION ALL
SELECT 'index', n.nspname, i.relname, pg_get_indexdef(i.oid)
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN rels c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = i.relnamespace
UNION ALL
SELECT 'trigger', c.nspname, c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN rels c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND t.tgparentid = 0
   -- The database guard's triggers are lifeline's, not the asset's (restores leave them out): they
   -- run a function of the guard's schema (a trigger merely named like one is the asset's).
   AND NOT EXISTS (SELECT 1 FROM pg_proc gp JOIN pg_namespace gn ON gn.oid = gp.pronamespace
                    WHERE gp.oid = t.tgfoid AND gn.nspname = 'lifeline_guard')
UNION ALL
SELECT 'function', n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       concat_ws(E'\\n', p.prokind::text, pg_get_function_result(p.oid), l.lanname, p.provolatile, p.prosrc)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
 WHERE ${USER_NAMESPACES} AND ${NOT_EXTENSION_MEMBER("pg_proc", "p.oid")}
UNION ALL
SELECT 'type', n.nspname, t.typname,
       concat_ws(E'\\n', t.typtype::text,
         (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
         CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END,
         (SELECT string_agg(pg_get_constraintdef(con.oid), ',' ORDER BY con.conname) FROM pg_constraint con WHERE con.contypid = t.oid),
         (SELECT format_type(rg.rngsubtype, NULL) FROM pg_range rg WHERE rg.rngtypid = t.oid))
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typtype IN ('e','d','r') AND ${USER_NAMESPACES} AND ${NOT_EXTENSION_MEMBER("pg_type", "t.oid")}
UNION ALL
SELECT 'extension', '', e.extname, '' FROM pg_extension e WHERE e.extname <> 'plpgsql'
`;

export async function schemaObjects(client: pg.Client): Promise<{ digest: string; objects: SchemaObject[] }> {
  const result = await client.query<{
    kind: string;
    schema: string;
    name: string;
    definition: string | null;
  }>(SCHEMA_QUERY);
  const objects = result.rows
    .map((r) => ({
      kind: r.kind,
      name:
        r.kind === "schema" || r.kind === "extension" ? quoteIdent(r.name) : qualifiedName(r.schema, r.name),
      digest: sha256(r.definition ?? ""),
    }))
    .sort((a, b) => (`${a.kind} ${a.name}` < `${b.kind} ${b.name}` ? -1 : 1));
  const digest = sha256(objects.map((o) => `${o.kind} ${o.name} ${o.digest}`).join("\n"));
  return { digest, objects };
}

/**
 * The statistics counters of every user table, with what tells a table whose rows went without
 * being counted (TRUNCATE, DROP): its identity and storage (oid, relfilenode), its live rows and
 * the vacuum counters (n_ins_since_vacuum is reset by TRUNCATE and VACUUM only). Read at the
 * backup's snapshot and again on the live database; see changesSince. The system identifier is
 * the caller's (describeSource): reading it may fail, which would abort the backup's transaction.
 */
export async function readActivity(client: pg.Client, systemIdentifier: string | null): Promise<Activity> {
  const version = await client.query<{ v: number }>("SELECT current_setting('server_version_num')::int AS v");
  // n_ins_since_vacuum came with PostgreSQL 13.
  const sinceVacuum = (version.rows[0]?.v ?? 0) >= 130000 ? "s.n_ins_since_vacuum::text" : "NULL::text";
  const tables = await client.query<{
    schema: string;
    name: string;
    ins: string;
    upd: string;
    del: string;
    oid: string;
    relfilenode: string;
    live: string;
    since_vacuum: string | null;
    vacuums: string;
  }>(`
    SELECT s.schemaname AS schema, s.relname AS name, s.n_tup_ins::text AS ins, s.n_tup_upd::text AS upd,
           s.n_tup_del::text AS del, s.relid::bigint::text AS oid, c.relfilenode::bigint::text AS relfilenode,
           s.n_live_tup::text AS live, ${sinceVacuum} AS since_vacuum,
           (s.vacuum_count + s.autovacuum_count)::text AS vacuums
      FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid ORDER BY 1, 2`);
  const database = await client.query<{ stats_reset: Date | null; oid: string }>(
    "SELECT stats_reset, datid::bigint::text AS oid FROM pg_stat_database WHERE datname = current_database()",
  );
  const statsReset = database.rows[0]?.stats_reset ?? null;
  const datid = database.rows[0]?.oid;
  return {
    statsReset: statsReset ? statsReset.toISOString() : null,
    // Oids and relfilenodes compare only within one database of one cluster.
    ...(systemIdentifier && datid ? { database: `${systemIdentifier}/${datid}` } : {}),
    tables: tables.rows.map((r) => ({
      table: qualifiedName(r.schema, r.name),
      inserts: Number(r.ins),
      updates: Number(r.upd),
      deletes: Number(r.del),
      oid: Number(r.oid),
      relfilenode: Number(r.relfilenode),
      liveRows: Number(r.live),
      ...(r.since_vacuum === null ? {} : { insertsSinceVacuum: Number(r.since_vacuum) }),
      vacuums: Number(r.vacuums),
    })),
  };
}

/** Schema and name of a qualified name as manifests write it (public.products, "Sales"."Order Items"). */
export function splitQualified(qualified: string): [string, string] {
  const m = /^((?:"(?:[^"]|"")*"|[^."]+))\.((?:"(?:[^"]|"")*"|[^."]+))$/.exec(qualified);
  const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s);
  return m?.[1] && m[2] ? [unquote(m[1]), unquote(m[2])] : ["public", unquote(qualified)];
}

export interface ContentOptions {
  jobs: number;
  signal: AbortSignal;
  applicationName: string;
  /** At backup: the exported snapshot the dump reads, so both describe the same data. */
  snapshot?: string;
  /** At a drill: the manifest's fingerprints, whose per-table recipes are used again. */
  expected?: Fingerprints;
  /**
   * Only these tables (a selective restore into a database that holds others): the schema is not
   * described then (its digest and objects are empty), since it holds more than was restored.
   */
  tables?: readonly string[];
}

/**
 * Tables and schema of a database, read on `jobs` read-only sessions that share one view of the
 * data (the dump's snapshot at backup; one transaction each on a restored copy, which nobody
 * else writes), with the text-affecting settings pinned. The first session is returned still open
 * so a caller can read more from the same view before it ends.
 */
export async function fingerprintContents<T>(
  target: Target,
  options: ContentOptions,
  more: (first: pg.Client) => Promise<T>,
): Promise<{ tables: TableFingerprint[]; schema: { digest: string; objects: SchemaObject[] }; more: T }> {
  const sessions: pg.Client[] = [];
  try {
    for (let i = 0; i < Math.max(1, options.jobs); i++) {
      if (options.signal.aborted) throw interrupted();
      const client = await connect(target, options.applicationName);
      sessions.push(client);
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      if (options.snapshot) await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(options.snapshot)}`);
      await pinSettings(client);
    }
    const [first] = sessions;
    if (!first) throw new Error("no fingerprint session");
    const only = options.tables ? new Set(options.tables) : null;
    const listed = await listTables(first);
    const tables = await fingerprintTables(
      sessions,
      only ? listed.filter((t) => only.has(qualifiedName(t.schema, t.name))) : listed,
      options.signal,
      options.expected,
    );
    const schema = only ? { digest: "", objects: [] } : await schemaObjects(first);
    return { tables, schema, more: await more(first) };
  } finally {
    await Promise.all(sessions.map((c) => c.end().catch(() => undefined)));
  }
}

/**
 * Large objects live outside tables: count plus an order-independent digest of (OID, content).
 * pg_dump restores them with their OIDs. Reading them needs privileges the backup role may lack; then
 * the result is null (noted in the manifest as "not fingerprinted") rather than a failed backup.
 */
export async function readLargeObjects(client: pg.Client): Promise<{ count: number; digest: string } | null> {
  await client.query("SAVEPOINT lifeline_large_objects");
  try {
    const r = await client.query<{ count: string; sum: string }>(
      `SELECT count(*)::text AS count,
              coalesce(sum(hashtextextended(m.oid::text || ':' || md5(lo_get(m.oid)), 0)), 0)::text AS sum
         FROM pg_largeobject_metadata m`,
    );
    await client.query("RELEASE SAVEPOINT lifeline_large_objects");
    const row = r.rows[0] ?? { count: "0", sum: "0" };
    return {
      count: Number(row.count),
      digest: sha256(`${FINGERPRINT_ALGORITHM}|lo|${row.count}|${row.sum}`),
    };
  } catch {
    await client.query("ROLLBACK TO SAVEPOINT lifeline_large_objects");
    return null;
  }
}

/**
 * Roles that a restore needs even without owners and privileges: those named by row-level-security
 * policies and user mappings. The drill creates them (NOLOGIN) in scratch before restoring.
 */
export async function referencedRoles(client: pg.Client): Promise<string[]> {
  const r = await client.query<{ rolname: string }>(
    `SELECT DISTINCT r.rolname FROM pg_policy p CROSS JOIN LATERAL unnest(p.polroles) AS rid
       JOIN pg_roles r ON r.oid = rid
     UNION
     SELECT DISTINCT usename FROM pg_user_mappings WHERE umuser <> 0
     ORDER BY 1`,
  );
  return r.rows.map((row) => row.rolname);
}
