import type pg from "pg";
import type { Operation } from "../../core/operation.js";
import type { AffectedObject, Dependent, PlannedOperation } from "../../core/plan.js";
import type { Consumer, Target } from "../../ports/engine.js";
import { qualifiedName, sqlIdent, withClient } from "./connection.js";

/**
 * Impact of classified operations against the live database, read-only: every query runs in a READ
 * ONLY transaction that is rolled back, filtered DELETE/UPDATE are only EXPLAINed (never executed),
 * and nothing is locked beyond what catalog reads take.
 */

interface Relation {
  oid: number;
  relfilenode: number;
  schema: string;
  name: string;
  relkind: string;
  reltuples: number;
  bytes: number;
}

const RELATION_SQL = `
  SELECT c.oid::int AS oid, c.relfilenode::int AS relfilenode, n.nspname AS schema, c.relname AS name,
         c.relkind::text AS relkind, c.reltuples::float8 AS reltuples, pg_total_relation_size(c.oid)::float8 AS bytes
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace`;

async function relationByOid(client: pg.Client, oid: number): Promise<Relation | undefined> {
  return (await client.query<Relation>(`${RELATION_SQL} WHERE c.oid = $1`, [oid])).rows[0];
}

async function resolve(
  client: pg.Client,
  schema: string | null,
  name: string,
): Promise<Relation | undefined> {
  const text = schema ? `${sqlIdent(schema)}.${sqlIdent(name)}` : sqlIdent(name);
  const r = await client.query<{ oid: number | null }>("SELECT to_regclass($1)::oid::int AS oid", [text]);
  const oid = r.rows[0]?.oid;
  return oid ? relationByOid(client, oid) : undefined;
}

const RELKIND_TYPE: Record<string, string> = {
  r: "table",
  p: "table",
  v: "view",
  m: "materialized view",
  S: "sequence",
  f: "foreign table",
  i: "index",
};

async function rowsOf(
  client: pg.Client,
  rel: Relation,
  exact: boolean,
): Promise<{ rows: number | null; exact: boolean }> {
  if (rel.relkind !== "r" && rel.relkind !== "p" && rel.relkind !== "m") return { rows: null, exact: false };
  if (exact || rel.reltuples < 0 || rel.relkind === "p") {
    // Partitioned parents keep no estimate of their own; unanalyzed tables have none (-1).
    if (!exact && rel.relkind === "p") {
      const est = await client.query<{ rows: number }>(
        `SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::float8 AS rows FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1`,
        [rel.oid],
      );
      return { rows: Math.round(est.rows[0]?.rows ?? 0), exact: false };
    }
    const r = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${sqlIdent(rel.schema)}.${sqlIdent(rel.name)}`,
    );
    return { rows: Number(r.rows[0]?.n ?? 0), exact: true };
  }
  return { rows: Math.round(rel.reltuples), exact: false };
}

async function affected(
  client: pg.Client,
  rel: Relation,
  exact: boolean,
  dataLoss: AffectedObject["dataLoss"],
  how: string,
): Promise<AffectedObject> {
  const rows = dataLoss === "destructive" ? await rowsOf(client, rel, exact) : { rows: null, exact: false };
  return {
    type: RELKIND_TYPE[rel.relkind] ?? "relation",
    name: qualifiedName(rel.schema, rel.name),
    identity: `oid=${rel.oid},relfilenode=${rel.relfilenode}`,
    rows: rows.rows,
    rowsExact: rows.exact,
    bytes: rel.bytes,
    dataLoss,
    how,
  };
}

/** Views and materialized views built on a relation, recursively (views on views). */
async function dependentViews(client: pg.Client, oid: number): Promise<Relation[]> {
  const found = new Map<number, Relation>();
  const queue = [oid];
  while (queue.length > 0) {
    const current = queue.shift() ?? 0;
    const r = await client.query<{ oid: number }>(
      `SELECT DISTINCT rw.ev_class::int AS oid FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid
        WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.refobjid = $1 AND rw.ev_class <> $1`,
      [current],
    );
    for (const { oid: viewOid } of r.rows) {
      if (found.has(viewOid)) continue;
      const rel = await relationByOid(client, viewOid);
      if (rel) {
        found.set(viewOid, rel);
        queue.push(viewOid);
      }
    }
  }
  return [...found.values()];
}

interface ForeignKey {
  name: string;
  table: number;
  onDelete: string;
}

async function referencingKeys(client: pg.Client, oid: number): Promise<ForeignKey[]> {
  const r = await client.query<{ name: string; tbl: number; deltype: string }>(
    `SELECT conname AS name, conrelid::int AS tbl, confdeltype::text AS deltype FROM pg_constraint
      WHERE contype = 'f' AND confrelid = $1 AND conrelid <> $1 AND conparentid = 0`,
    [oid],
  );
  return r.rows.map((row) => ({ name: row.name, table: row.tbl, onDelete: row.deltype }));
}

/** Tables reached through foreign keys, recursively, optionally only through ON DELETE CASCADE keys. */
async function referencingTables(
  client: pg.Client,
  oid: number,
  onlyCascade: boolean,
): Promise<{ rel: Relation; key: string }[]> {
  const found = new Map<number, { rel: Relation; key: string }>();
  const queue = [oid];
  while (queue.length > 0) {
    const current = queue.shift() ?? 0;
    for (const fk of await referencingKeys(client, current)) {
      if (onlyCascade && fk.onDelete !== "c") continue;
      if (found.has(fk.table) || fk.table === oid) continue;
      const rel = await relationByOid(client, fk.table);
      if (rel) {
        found.set(fk.table, { rel, key: fk.name });
        queue.push(fk.table);
      }
    }
  }
  return [...found.values()];
}

async function explainRows(client: pg.Client, statement: string): Promise<number | null> {
  // EXPLAIN without ANALYZE plans the statement and never runs it (allowed in a read-only transaction).
  await client.query("SAVEPOINT lifeline_explain");
  try {
    const r = await client.query<{
      "QUERY PLAN": { Plan: { "Plan Rows"?: number; Plans?: { "Plan Rows"?: number }[] } }[];
    }>(`EXPLAIN (FORMAT JSON) ${statement}`);
    await client.query("RELEASE SAVEPOINT lifeline_explain");
    const plan = r.rows[0]?.["QUERY PLAN"][0]?.Plan;
    return plan?.Plans?.[0]?.["Plan Rows"] ?? plan?.["Plan Rows"] ?? null;
  } catch {
    await client.query("ROLLBACK TO SAVEPOINT lifeline_explain");
    return null;
  }
}

const TABLE_KINDS = new Set([
  "drop-table",
  "truncate",
  "delete",
  "update",
  "upsert",
  "merge",
  "alter-table-drop-column",
  "alter-column-type",
  "drop-materialized-view",
  "drop-sequence",
  "drop-view",
  "drop-foreign-table",
]);

function relationOf(op: Operation): { schema: string | null; name: string } | null {
  if (!op.target) return null;
  if (op.target.type === "column") {
    const [table] = op.target.name.split(".");
    return { schema: op.target.schema, name: table ?? op.target.name };
  }
  return { schema: op.target.schema, name: op.target.name };
}

async function planOperation(
  client: pg.Client,
  op: Operation,
  exact: boolean,
  dependents: Dependent[],
): Promise<PlannedOperation> {
  const planned: PlannedOperation = {
    ...op,
    resolved: null,
    rows: null,
    bytes: null,
    cascade: [],
    notes: [],
  };
  const ref = TABLE_KINDS.has(op.kind) ? relationOf(op) : null;

  if (op.kind === "drop-database" && op.target) {
    const r = await client.query<{ bytes: number | null; oid: number | null }>(
      "SELECT pg_database_size(oid)::float8 AS bytes, oid::int AS oid FROM pg_database WHERE datname = $1",
      [op.target.name],
    );
    const row = r.rows[0];
    if (!row)
      planned.notes.push(
        `database ${op.target.name} does not exist${op.missingOk ? " (IF EXISTS: nothing happens)" : ": the statement fails"}`,
      );
    else {
      planned.bytes = row.bytes;
      planned.resolved = {
        type: "database",
        name: op.target.name,
        identity: `oid=${row.oid}`,
        rows: null,
        rowsExact: false,
        bytes: row.bytes,
        dataLoss: "destructive",
        how: "dropped",
      };
    }
    return planned;
  }

  if (op.kind === "drop-schema" && op.target) {
    const tables = await client.query<{ oid: number }>(
      `SELECT c.oid::int AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r','p','m') ORDER BY c.relname`,
      [op.target.name],
    );
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [op.target.name]);
    if (exists.rowCount === 0) {
      planned.notes.push(
        `schema ${op.target.name} does not exist${op.missingOk ? " (IF EXISTS: nothing happens)" : ": the statement fails"}`,
      );
      return planned;
    }
    if (tables.rows.length > 0 && !op.cascadeRequested) {
      planned.notes.push(`schema ${op.target.name} is not empty: without CASCADE the statement fails`);
      return planned;
    }
    for (const { oid } of tables.rows) {
      const rel = await relationByOid(client, oid);
      if (rel)
        planned.cascade.push(
          await affected(client, rel, exact, "destructive", "dropped with the schema (CASCADE)"),
        );
    }
    planned.rows = sum(planned.cascade.map((c) => c.rows));
    planned.bytes = sum(planned.cascade.map((c) => c.bytes));
    return planned;
  }

  if (!ref) return planned;
  const rel = await resolve(client, ref.schema, ref.name);
  if (!rel) {
    planned.notes.push(
      `${ref.schema ? `${ref.schema}.` : ""}${ref.name} does not exist${op.missingOk ? " (IF EXISTS: nothing happens)" : ": the statement fails"}`,
    );
    return planned;
  }
  const loss = op.dataLoss === "unknown" ? "destructive" : op.dataLoss;
  planned.resolved = await affected(
    client,
    rel,
    exact,
    loss === "destructive" ? "destructive" : loss,
    "target",
  );
  planned.bytes = op.kind.startsWith("drop-") || op.kind === "truncate" ? rel.bytes : null;

  if (op.kind === "delete" || op.kind === "update" || op.kind === "upsert" || op.kind === "merge") {
    planned.rows = op.filter === "filtered" ? await explainRows(client, op.statement) : planned.resolved.rows;
    if (op.filter === "filtered") planned.notes.push(`rows estimated by EXPLAIN (the statement was not run)`);
  } else if (op.kind === "alter-table-drop-column" || op.kind === "alter-column-type") {
    planned.rows = planned.resolved.rows;
  } else {
    planned.rows = planned.resolved.rows;
  }

  const views = await dependentViews(client, rel.oid);
  const keys = await referencingKeys(client, rel.oid);
  const name = qualifiedName(rel.schema, rel.name);
  for (const v of views) {
    dependents.push({
      kind: RELKIND_TYPE[v.relkind] ?? "view",
      name: qualifiedName(v.schema, v.name),
      on: name,
      how: "pg_depend (its definition reads it)",
    });
  }
  for (const fk of keys) {
    const t = await relationByOid(client, fk.table);
    if (t)
      dependents.push({
        kind: "foreign key",
        name: `${qualifiedName(t.schema, t.name)} (${fk.name})`,
        on: name,
        how: `foreign key ${fk.name}`,
      });
  }
  const functions = await client.query<{ name: string }>(
    `SELECT DISTINCT p.oid::regprocedure::text AS name FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid
      WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1`,
    [rel.oid],
  );
  for (const f of functions.rows)
    dependents.push({
      kind: "function",
      name: f.name,
      on: name,
      how: "pg_depend (SQL-standard function body)",
    });
  const scans = await client.query<{ seq: string; idx: string }>(
    "SELECT coalesce(seq_scan, 0)::text AS seq, coalesce(idx_scan, 0)::text AS idx FROM pg_stat_user_tables WHERE relid = $1",
    [rel.oid],
  );
  const reads = Number(scans.rows[0]?.seq ?? 0) + Number(scans.rows[0]?.idx ?? 0);
  if (reads > 0)
    dependents.push({
      kind: "readers",
      name: `read ${reads.toLocaleString("en-US")} times (table scans) since statistics were reset`,
      on: name,
      how: "pg_stat_user_tables (seq_scan + idx_scan)",
    });

  if (op.kind === "drop-table" || op.kind === "drop-materialized-view" || op.kind === "drop-view") {
    if (!op.cascadeRequested && (views.length > 0 || keys.length > 0)) {
      planned.notes.push(
        `${views.length + keys.length} object(s) depend on ${name}: without CASCADE the statement fails`,
      );
    } else if (op.cascadeRequested) {
      for (const v of views) {
        planned.cascade.push(
          await affected(
            client,
            v,
            exact,
            v.relkind === "m" ? "destructive" : "recoverable",
            "dropped with CASCADE (depends on it)",
          ),
        );
      }
      for (const fk of keys) {
        const t = await relationByOid(client, fk.table);
        if (t) {
          planned.cascade.push({
            type: "constraint",
            name: `${qualifiedName(t.schema, t.name)}.${fk.name}`,
            identity: `table oid=${t.oid}`,
            rows: null,
            rowsExact: false,
            bytes: null,
            dataLoss: "recoverable",
            how: "foreign key dropped with CASCADE (its rows stay)",
          });
        }
      }
    }
  }
  if (op.kind === "truncate") {
    const refs = await referencingTables(client, rel.oid, false);
    if (refs.length > 0 && !op.cascadeRequested) {
      planned.notes.push(
        `${refs.length} table(s) reference ${name} by foreign key: without CASCADE the statement fails`,
      );
    } else {
      for (const { rel: t, key } of refs)
        planned.cascade.push(
          await affected(client, t, exact, "destructive", `truncated by CASCADE (foreign key ${key})`),
        );
    }
  }
  if (op.kind === "delete") {
    for (const { rel: t, key } of await referencingTables(client, rel.oid, true)) {
      planned.cascade.push(
        await affected(
          client,
          t,
          exact,
          "destructive",
          `rows deleted by ON DELETE CASCADE (foreign key ${key}); up to all rows`,
        ),
      );
    }
  }
  return planned;
}

function sum(values: readonly (number | null)[]): number | null {
  return values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0);
}

export async function planImpact(
  target: Target,
  operations: readonly Operation[],
  options: { exact: boolean },
): Promise<{ operations: PlannedOperation[]; dependents: Dependent[]; consumers: Consumer[] }> {
  return withClient(target, async (client) => {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      const dependents: Dependent[] = [];
      const planned: PlannedOperation[] = [];
      for (const op of operations) planned.push(await planOperation(client, op, options.exact, dependents));
      const consumers = await client.query<{
        application: string;
        user: string;
        address: string | null;
        connections: number;
      }>(
        `SELECT coalesce(nullif(application_name, ''), '(no application name)') AS application, coalesce(usename, '') AS user,
                host(client_addr) AS address, count(*)::int AS connections
           FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            AND application_name NOT LIKE 'lifeline%'
          GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1`,
      );
      const unique = new Map(dependents.map((d) => [`${d.kind}|${d.name}|${d.on}`, d]));
      return { operations: planned, dependents: [...unique.values()], consumers: consumers.rows };
    } finally {
      await client.query("ROLLBACK");
    }
  });
}
