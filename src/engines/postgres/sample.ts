/**
 * The watch's sample of one database: the catalog and the statistics only (pg_class,
 * pg_stat_user_tables, pg_depend, pg_constraint), never the data. A few small queries on one
 * short connection.
 */
import { isLifelineError } from "../../core/errors.js";
import type { Dependent } from "../../core/plan/policy.js";
import type { DatabaseSample, TableSample } from "../../core/watch/sample.js";
import type { Target } from "../../ports/engine.js";
import { connect, databaseName, qualifiedName } from "./connection.js";
import { Catalog, RELKIND_TYPE } from "./impact/catalog.js";

const STATS = `SELECT s.relid::int AS oid, s.n_live_tup::float8 AS live, s.n_tup_ins::float8 AS ins,
                      s.n_tup_upd::float8 AS upd, s.n_tup_del::float8 AS del
                 FROM pg_stat_user_tables s`;

export async function sampleDatabase(target: Target, signal: AbortSignal): Promise<DatabaseSample> {
  const database = databaseName(target.url);
  const at = () => new Date().toISOString();
  let client;
  try {
    signal.throwIfAborted();
    client = await connect(target, "lifeline watch");
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
    // The same catalog `plan` reads: the dependents an alert names are those a plan would.
    const catalog = await Catalog.load(client);
    const stats = await client.query<{ oid: number; live: number; ins: number; upd: number; del: number }>(
      STATS,
    );
    const taken = at();
    const byOid = new Map(stats.rows.map((r) => [r.oid, r]));
    const tables: TableSample[] = [];
    for (const rel of catalog.relations.values()) {
      if (rel.relkind !== "r") continue;
      const s = byOid.get(rel.oid);
      const name = qualifiedName(rel.schema, rel.name);
      // n_live_tup follows every committed change; reltuples (-1: never analyzed) only VACUUM and ANALYZE.
      const counted = s !== undefined && s.live + s.ins + s.upd + s.del > 0;
      const rows = counted ? s.live : Math.max(0, rel.reltuples);
      const dependents: Dependent[] = [];
      for (const v of catalog.dependentViews(rel.oid)) {
        dependents.push({
          kind: RELKIND_TYPE[v.relkind] ?? "view",
          name: qualifiedName(v.schema, v.name),
          on: name,
          how: "pg_depend (its definition reads it)",
        });
      }
      for (const fk of catalog.referencingKeys(rel.oid)) {
        const t = catalog.relations.get(fk.table);
        if (t)
          dependents.push({
            kind: "foreign key",
            name: `${qualifiedName(t.schema, t.name)} (${fk.name})`,
            on: name,
            how: `foreign key ${fk.name}`,
          });
      }
      tables.push({
        identity: String(rel.oid),
        name,
        rows,
        storage: String(rel.relfilenode),
        changes: s ? { inserts: s.ins, updates: s.upd, deletes: s.del } : null,
        dependents,
      });
    }
    return { state: "present", at: taken, database, tables };
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
