import { createHash } from "node:crypto";
import type pg from "pg";
import type { Activity, SchemaObject, SequenceValue, TableFingerprint } from "../../core/restore-point.js";
import { interrupted } from "../../core/errors.js";
import type { Target } from "../../ports/engine.js";
import { PINNED_SETTINGS, connect, qualifiedName, quoteIdent, quoteLiteral, sqlIdent } from "./connection.js";

/** Namespaces that belong to the server, not to the user's data. */
const USER_NAMESPACES = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Objects created by CREATE EXTENSION come back with the extension, not from the dump. */
const NOT_EXTENSION_MEMBER = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export async function pinSettings(client: pg.Client): Promise<void> {
  // set_config(..., true) is transaction-local like SET LOCAL; callers are inside a transaction.
  for (const [name, value] of PINNED_SETTINGS) {
    await client.query("SELECT set_config($1, $2, true)", [name, value]);
  }
}

export interface TableToFingerprint {
  schema: string;
  name: string;
  columns: string[];
  bytes: number;
}

/**
 * Tables that hold rows of their own. Partitioned parents hold none (their partitions are listed),
 * materialized views are derived (pg_dump refreshes them on restore, so a stale one would differ by
 * design); they are covered by the schema digest instead.
 */
export async function listTables(client: pg.Client): Promise<TableToFingerprint[]> {
  const result = await client.query<{
    schema: string;
    name: string;
    columns: string[] | null;
    bytes: string;
  }>(`
    SELECT n.nspname AS schema, c.relname AS name,
           (SELECT array_agg(a.attname::text ORDER BY a.attname::text COLLATE "C")
              FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
           pg_relation_size(c.oid)::text AS bytes
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND ${USER_NAMESPACES}
       AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
     ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`);
  return result.rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    columns: r.columns ?? [],
    bytes: Number(r.bytes),
  }));
}

/** Names the digest recipe in manifests, so a future change of recipe is never mistaken for data loss. */
export const FINGERPRINT_ALGORITHM = "pg-rowtext-hashtextextended-sum-v1";

/**
 * Row count plus an order-independent digest: each row (columns in name order, so physical column
 * order does not matter) is printed as text with the pinned settings and hashed to 64 bits with
 * hashtextextended (the server's own hash, about 5x cheaper than md5 here, and parallel-safe so
 * big tables are scanned by parallel workers); the hashes are summed over all rows. Sums commute,
 * so row order does not matter, and unlike XOR duplicate rows do not cancel out.
 */
export async function fingerprintTable(
  client: pg.Client,
  table: TableToFingerprint,
): Promise<TableFingerprint> {
  const row = `ROW(${table.columns.map(sqlIdent).join(", ")})::text`;
  const sql = `
    SELECT count(*)::text AS rows, coalesce(sum(hashtextextended(${row}, 0)), 0)::text AS sum
      FROM ONLY ${sqlIdent(table.schema)}.${sqlIdent(table.name)}`;
  const result = await client.query<{ rows: string; sum: string }>(sql);
  const r = result.rows[0] ?? { rows: "0", sum: "0" };
  return {
    table: qualifiedName(table.schema, table.name),
    rows: Number(r.rows),
    digest: sha256(`${FINGERPRINT_ALGORITHM}|${table.columns.join(",")}|${r.rows}|${r.sum}`),
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
): Promise<TableFingerprint[]> {
  const queue = [...tables].sort((a, b) => b.bytes - a.bytes);
  const results: TableFingerprint[] = [];
  await Promise.all(
    clients.map(async (client) => {
      for (let table = queue.shift(); table; table = queue.shift()) {
        if (signal.aborted) throw interrupted();
        results.push(await fingerprintTable(client, table));
      }
    }),
  );
  return results.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
}

/** Current sequence values, read on the restored copy. */
export async function readSequences(client: pg.Client): Promise<SequenceValue[]> {
  const list = await client.query<{ schema: string; name: string }>(`
    SELECT n.nspname AS schema, c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'S' AND ${USER_NAMESPACES} AND ${NOT_EXTENSION_MEMBER("pg_class", "c.oid")}
     ORDER BY 1, 2`);
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

export async function readActivity(client: pg.Client): Promise<Activity> {
  const tables = await client.query<{ schema: string; name: string; ins: string; upd: string; del: string }>(`
    SELECT schemaname AS schema, relname AS name, n_tup_ins::text AS ins, n_tup_upd::text AS upd, n_tup_del::text AS del
      FROM pg_stat_user_tables ORDER BY 1, 2`);
  const reset = await client.query<{ stats_reset: Date | null }>(
    "SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()",
  );
  const statsReset = reset.rows[0]?.stats_reset ?? null;
  return {
    statsReset: statsReset ? statsReset.toISOString() : null,
    tables: tables.rows.map((r) => ({
      table: qualifiedName(r.schema, r.name),
      inserts: Number(r.ins),
      updates: Number(r.upd),
      deletes: Number(r.del),
    })),
  };
}

export interface ContentOptions {
  jobs: number;
  signal: AbortSignal;
  applicationName: string;
  /** At backup: the exported snapshot the dump reads, so both describe the same data. */
  snapshot?: string;
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
    const tables = await fingerprintTables(sessions, await listTables(first), options.signal);
    return { tables, schema: await schemaObjects(first), more: await more(first) };
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
