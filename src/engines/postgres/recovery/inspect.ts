import type pg from "pg";
import { isLifelineError } from "../../../core/errors.js";
import type { Consumer } from "../../../core/plan/plan.js";
import type { DatabaseState, Target } from "../../../ports/engine.js";
import { connect, qualifiedName, sqlIdent } from "../connection.js";
import { describeSource } from "../inspect.js";
import { RECOVERY_APPLICATION, connectMaintenance, databaseOf } from "./server.js";

/** Schemas that hold no user object. */
const SYSTEM_SCHEMAS = `nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
   AND nspname NOT LIKE 'pg_temp\\_%' AND nspname NOT LIKE 'pg_toast_temp\\_%'`;

/** Objects that belong to an extension are counted as the extension. */
const NOT_IN_EXTENSION = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${catalog}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

const USER_OBJECTS = `
  WITH ns AS (SELECT oid, nspname FROM pg_namespace WHERE ${SYSTEM_SCHEMAS}),
  objects AS (
    SELECT format('%I.%I', ns.nspname, c.relname) AS name FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}
    UNION ALL
    SELECT format('%I.%I()', ns.nspname, p.proname) FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
     WHERE ${NOT_IN_EXTENSION("pg_proc", "p.oid")}
    UNION ALL
    SELECT format('type %I.%I', ns.nspname, t.typname) FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
     WHERE t.typtype IN ('b', 'd', 'e', 'r') AND ${NOT_IN_EXTENSION("pg_type", "t.oid")}
       AND NOT EXISTS (SELECT 1 FROM pg_type a WHERE a.typarray = t.oid)
    UNION ALL
    SELECT format('schema %I', nspname) FROM ns WHERE nspname <> 'public' AND ${NOT_IN_EXTENSION("pg_namespace", "ns.oid")}
    UNION ALL
    SELECT format('extension %I', extname) FROM pg_extension WHERE extname <> 'plpgsql'
  )
  SELECT (SELECT count(*)::int FROM objects) AS count,
         coalesce((SELECT array_agg(name) FROM (SELECT name FROM objects ORDER BY name LIMIT 10) s), '{}') AS sample`;

/** Tables that hold rows, as restore points list them: a partitioned parent holds none (its partitions are listed). */
const TABLES = `
  SELECT n.nspname AS schema, c.relname AS name, c.oid::text AS identity,
         c.reltuples::bigint::text AS rows, pg_total_relation_size(c.oid)::text AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'r' AND ${SYSTEM_SCHEMAS.replace(/nspname/g, "n.nspname")}
     AND ${NOT_IN_EXTENSION("pg_class", "c.oid")}
   ORDER BY 1, 2`;

/** Clients connected to the database, grouped as a plan's consumers are; lifeline's own sessions excluded. */
const CONSUMERS = `
  SELECT coalesce(nullif(application_name, ''), '(no application name)') AS application, coalesce(usename, '') AS user,
         host(client_addr) AS address, count(*)::int AS connections
    FROM pg_stat_activity
   WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'
     AND application_name NOT LIKE 'lifeline%'
   GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1`;

const ROLE = `SELECT rolsuper AS superuser, (rolsuper OR rolcreatedb) AS createdb FROM pg_roles WHERE rolname = current_user`;

const READ_ONLY = `
  SELECT EXISTS (
    SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
      CROSS JOIN LATERAL unnest(s.setconfig) AS c(setting)
     WHERE d.datname = $1 AND s.setrole = 0
       AND lower(split_part(c.setting, '=', 1)) = 'default_transaction_read_only'
       AND lower(substr(c.setting, strpos(c.setting, '=') + 1)) IN ('on', 'true', 'yes', '1', 't', 'y')
  ) AS read_only`;

/** See Recovery.inspect. */
export async function inspect(target: Target): Promise<DatabaseState> {
  const database = databaseOf(target);
  let client: pg.Client;
  let exists = true;
  try {
    client = await connect(target, RECOVERY_APPLICATION);
  } catch (error) {
    if (!isLifelineError(error) || error.code !== "DB_NOT_FOUND") throw error;
    exists = false;
    client = await connectMaintenance(target, [database]);
  }
  try {
    const source = await describeSource(client);
    const role = (await client.query<{ superuser: boolean; createdb: boolean }>(ROLE)).rows[0];
    const readOnly = (await client.query<{ read_only: boolean }>(READ_ONLY, [database])).rows[0]?.read_only;
    const state: DatabaseState = {
      exists,
      serverVersion: source.serverVersion,
      serverMajor: source.serverMajor,
      tables: [],
      userObjects: 0,
      sample: [],
      canCreateDatabase: role?.createdb === true,
      superuser: role?.superuser === true,
      readOnly: readOnly === true,
      consumers: [],
      encoding: source.encoding,
      locale: source.locale,
      identity: null,
    };
    if (!exists) return state;
    if (source.systemIdentifier !== null) {
      const oid = await client.query<{ oid: string }>(
        "SELECT oid::text AS oid FROM pg_database WHERE datname = current_database()",
      );
      const databaseOid = oid.rows[0]?.oid;
      if (databaseOid) state.identity = `${source.systemIdentifier}/${databaseOid}`;
    }
    const tables = await client.query<{
      schema: string;
      name: string;
      identity: string;
      rows: string;
      bytes: string;
    }>(TABLES);
    state.tables = [];
    for (const t of tables.rows) {
      let rows = Number(t.rows);
      // Never analysed (a database pg_restore just filled): the estimate says nothing. A plan must
      // not call a table with data empty, so such tables are counted (briefly; else left at 0).
      if (rows < 0) rows = await countRows(client, t.schema, t.name);
      state.tables.push({
        name: qualifiedName(t.schema, t.name),
        identity: t.identity,
        rows: Math.max(0, rows),
        bytes: Number(t.bytes),
      });
    }
    const objects = (await client.query<{ count: number; sample: string[] }>(USER_OBJECTS)).rows[0];
    state.userObjects = objects?.count ?? 0;
    state.tableWrites = await client
      .query<{ writes: string | null }>(
        "SELECT pg_stat_clear_snapshot(), coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::text AS writes FROM pg_stat_user_tables",
      )
      .then((r) => r.rows[0]?.writes ?? null)
      .catch(() => null);
    state.sample = objects?.sample ?? [];
    state.consumers = (await client.query<Consumer>(CONSUMERS, [database])).rows;
    return state;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** count(*) of a table, given at most two seconds (0 when it takes longer or cannot be read). */
async function countRows(client: pg.Client, schema: string, name: string): Promise<number> {
  try {
    await client.query("SET statement_timeout = '2s'");
    const r = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${sqlIdent(schema)}.${sqlIdent(name)}`,
    );
    return Number(r.rows[0]?.n ?? 0);
  } catch {
    return 0;
  } finally {
    await client.query("RESET statement_timeout").catch(() => undefined);
  }
}
