import type pg from "pg";
import type { Operation } from "../../../core/plan/operation.js";

/** Statements that cannot change which objects depend on which (reads, DML, session, psql output). */
const SCHEMA_NEUTRAL = new Set([
  "read",
  "insert",
  "update",
  "delete",
  "merge",
  "upsert",
  "copy-from",
  "truncate",
  "savepoint",
  "vacuum",
  "analyze",
  "lock",
  "variable-set",
  "variable-show",
  "comment",
  "grant",
  "notify",
  "listen",
  "check-point",
]);

/**
 * Whether an earlier statement of the script may change dependencies (create a column using a
 * type, drop a view …): then the live catalog does not say what this statement takes, and the plan
 * only ever makes it worse, never better, from what it reads there.
 */
export function earlierDdl(operations: readonly Operation[], op: Operation): boolean {
  return operations.some(
    (o) =>
      o.statementIndex < op.statementIndex &&
      !SCHEMA_NEUTRAL.has(o.kind) &&
      !(o.kind.startsWith("psql-") && o.dataLoss === "none"),
  );
}

export interface Gone {
  classid: string;
  objid: number;
  objsubid: number;
  /** The relation, for pg_class objects (columns, tables, views …). */
  relkind: string | null;
  attname: string | null;
  describe: string;
  /** For a column default (pg_attrdef): its table and column. */
  adrel: number | null;
  adnum: number | null;
}

/**
 * What dropping objects takes, as PostgreSQL's findDependentObjects would: everything that depends
 * on them (normal dependencies only with CASCADE; automatic, internal and extension-member ones
 * always), recursively, and the owner of every internal part reached (the view of a rule, the
 * generated column of a default expression). Also says whether, without CASCADE, anything depends
 * on them normally: then PostgreSQL refuses.
 */
export async function dependentsOf(
  client: pg.Client,
  start: { classid: string; objid: number; objsubid?: number }[],
  cascade: boolean,
): Promise<{ gone: Gone[]; blockers: string[] }> {
  const deptypes = cascade ? ["n", "a", "i", "e", "x"] : ["a", "i", "e", "x"];
  const r = await client.query<Gone & { blocker: boolean }>(
    `WITH RECURSIVE gone(classid, objid, objsubid) AS (
       SELECT s.c::regclass::oid, s.o, s.sub FROM unnest($1::text[], $2::oid[], $5::int[]) AS s(c, o, sub)
       UNION
       SELECT e.classid, e.objid, e.objsubid
         FROM gone g, LATERAL (
           SELECT d.classid, d.objid, d.objsubid FROM pg_depend d
            WHERE d.refclassid = g.classid AND d.refobjid = g.objid
              AND (g.objsubid = 0 OR d.refobjsubid = g.objsubid) AND d.deptype = ANY($3::"char"[])
           UNION ALL
           SELECT d.refclassid, d.refobjid, d.refobjsubid FROM pg_depend d
            WHERE d.classid = g.classid AND d.objid = g.objid
              AND (g.objsubid = 0 OR d.objsubid = g.objsubid) AND d.deptype = 'i'
         ) e
     ),
     blockers AS (
       SELECT DISTINCT d.classid, d.objid, d.objsubid FROM gone g JOIN pg_depend d
           ON d.refclassid = g.classid AND d.refobjid = g.objid AND (g.objsubid = 0 OR d.refobjsubid = g.objsubid)
        WHERE NOT $4::bool AND d.deptype = 'n'
          AND NOT EXISTS (SELECT 1 FROM gone x WHERE x.classid = d.classid AND x.objid = d.objid
                            AND (x.objsubid = 0 OR x.objsubid = d.objsubid))
     )
     SELECT g.classid::regclass::text AS classid, g.objid::int AS objid, g.objsubid, c.relkind::text AS relkind,
            a.attname::text AS attname, coalesce(pg_describe_object(g.classid, g.objid, g.objsubid), '?') AS describe,
            ad.adrelid::int AS adrel, ad.adnum::int AS adnum, false AS blocker
       FROM gone g
       LEFT JOIN pg_attrdef ad ON g.classid = 'pg_attrdef'::regclass AND ad.oid = g.objid
       LEFT JOIN pg_class c ON g.classid = 'pg_class'::regclass AND c.oid = g.objid
       LEFT JOIN pg_attribute a ON g.classid = 'pg_class'::regclass AND a.attrelid = g.objid AND a.attnum = g.objsubid AND g.objsubid > 0
     UNION ALL
     SELECT b.classid::regclass::text, b.objid::int, b.objsubid, NULL, NULL,
            coalesce(pg_describe_object(b.classid, b.objid, b.objsubid), '?'), NULL, NULL, true
       FROM blockers b`,
    [
      start.map((s) => s.classid),
      start.map((s) => s.objid),
      deptypes,
      cascade,
      start.map((s) => s.objsubid ?? 0),
    ],
  );
  return {
    gone: r.rows.filter((g) => !g.blocker),
    blockers: [...new Set(r.rows.filter((g) => g.blocker).map((g) => g.describe))],
  };
}

/** The objects a DROP names: one, or every overload of a function named without arguments. */
export async function findObjects(
  client: pg.Client,
  classid: string,
  op: Operation,
  qualified: string,
): Promise<{ rows: { oid: number; name: string }[] }> {
  if (classid === "pg_type")
    return client.query(
      "SELECT t::oid::int AS oid, t::text AS name FROM to_regtype($1) t WHERE t IS NOT NULL",
      [qualified],
    );
  if (classid === "pg_collation")
    return client.query(
      "SELECT c::oid::int AS oid, c::text AS name FROM to_regcollation($1) c WHERE c IS NOT NULL",
      [qualified],
    );
  if (classid === "pg_extension")
    return client.query(
      "SELECT oid::int AS oid, extname::text AS name FROM pg_extension WHERE extname = $1",
      [op.target?.name ?? ""],
    );
  if (op.objectArgs)
    return client.query(
      "SELECT p::oid::int AS oid, p::text AS name FROM to_regprocedure($1) p WHERE p IS NOT NULL",
      [`${qualified}(${op.objectArgs.join(", ")})`],
    );
  // Without arguments the name must be unique; every function of that name is taken (conservative).
  return client.query(
    `SELECT p.oid::int AS oid, p.oid::regprocedure::text AS name
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE p.proname = $1 AND CASE WHEN $2::text IS NULL THEN n.nspname = ANY (current_schemas(true)) ELSE n.nspname = $2 END`,
    [op.target?.name ?? "", op.target?.schema ?? null],
  );
}
