import { formatCount } from "../../../core/duration.js";
import type { Consumer } from "../../../core/plan/plan.js";
import type { Context } from "./plan-operation.js";

/**
 * Who else is affected: functions whose body depends on a watched relation, how often each watched
 * table was read, and the client connections to the database (the consumers).
 */
export async function readersAndConsumers(ctx: Context): Promise<Consumer[]> {
  const { client } = ctx;
  const watched = [...ctx.watched.keys()];
  const functions = await client.query<{ name: string; ref: number }>(
    `SELECT DISTINCT p.oid::regprocedure::text AS name, d.refobjid::int AS ref FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
            WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY($1::oid[])`,
    [watched],
  );
  const scans = await client.query<{ relid: number; reads: string }>(
    "SELECT relid::int AS relid, (coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::text AS reads FROM pg_stat_user_tables WHERE relid = ANY($1::oid[])",
    [watched],
  );
  const consumers = await client.query<Consumer>(
    `SELECT coalesce(nullif(application_name, ''), '(no application name)') AS application, coalesce(usename, '') AS user,
                  host(client_addr) AS address, count(*)::int AS connections
             FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
              AND application_name NOT LIKE 'lifeline%'
            GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1`,
  );
  for (const f of functions.rows) {
    ctx.dependents.push({
      kind: "function",
      name: f.name,
      on: ctx.watched.get(f.ref) ?? "",
      how: "pg_depend (SQL-standard function body)",
    });
  }
  for (const s of scans.rows) {
    const reads = Number(s.reads);
    if (reads > 0) {
      ctx.dependents.push({
        kind: "readers",
        name: `read ${formatCount(reads)} times (table scans) since statistics were reset`,
        on: ctx.watched.get(s.relid) ?? "",
        how: "pg_stat_user_tables (seq_scan + idx_scan)",
      });
    }
  }
  return consumers.rows;
}
