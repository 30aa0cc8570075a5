import type { Operation } from "../../../core/plan/operation.js";
import type { Dependent, PlannedOperation } from "../../../core/plan/policy.js";
import type { Consumer } from "../../../core/plan/plan.js";
import type { Target } from "../../../ports/engine.js";
import { pinSqlSession, qualifiedName, withClient } from "../connection.js";
import { Catalog } from "./catalog.js";
import { Collector } from "./collector.js";
import { readersAndConsumers } from "./consumers.js";
import { resolveDependencies, resolveRelationDependencies } from "./drops.js";
import { type Context, planOperation } from "./plan-operation.js";
import { doesNotExist, dmlTargetName, relationName } from "./resolve.js";
import { countDeletes, explainRows } from "./rows.js";
import { checkTriggers } from "./triggers.js";
import { decideTypeChanges } from "./type-changes.js";

/**
 * Impact of classified operations against the live database, read-only: every query runs in a READ
 * ONLY transaction that is rolled back, filtered DELETE/UPDATE are only EXPLAINed (never executed),
 * and nothing is locked beyond what catalog reads take.
 *
 * The catalog is read in a handful of bulk queries (relations, foreign keys, view dependencies),
 * then walked in memory; sizes, scan counters and function dependencies are fetched in one batch for
 * just the objects the plan touches. A 20-statement migration costs about ten round trips plus one
 * EXPLAIN per filtered DELETE/UPDATE, whatever the number of tables.
 */

export async function planImpact(
  target: Target,
  operations: readonly Operation[],
  options: { exact: boolean },
): Promise<{ operations: PlannedOperation[]; dependents: Dependent[]; consumers: Consumer[] }> {
  return withClient(target, async (client) => {
    // EXPLAIN reads statement text: the same way the parser did and the execution will.
    await pinSqlSession(client);
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      const names = [
        ...new Set(
          [...operations.map(relationName), ...operations.map(dmlTargetName)].filter(
            (n): n is string => n !== null,
          ),
        ),
      ];
      const schemas = [
        ...new Set(
          operations.filter((o) => o.kind === "drop-schema" && o.target).map((o) => o.target?.name ?? ""),
        ),
      ];
      const catalog = await Catalog.load(client);
      const resolvedRows = await client.query<{ name: string; oid: number | null }>(
        "SELECT t AS name, to_regclass(t)::oid::int AS oid FROM unnest($1::text[]) AS t",
        [names],
      );
      const schemaRows = await client.query<{ name: string; oid: number }>(
        "SELECT nspname AS name, oid::int AS oid FROM pg_namespace WHERE nspname = ANY($1)",
        [schemas],
      );
      const resolved = new Map<string, number | null>(resolvedRows.rows.map((r) => [r.name, r.oid]));
      for (const s of schemas)
        resolved.set(`schema:${s}`, schemaRows.rows.find((r) => r.name === s)?.oid ?? null);
      const ctx: Context = {
        client,
        catalog,
        collect: new Collector(catalog, options.exact),
        resolved,
        dependents: [],
        watched: new Map(),
        explain: [],
      };
      const planned = operations.map((op) => planOperation(ctx, op));
      await checkTriggers(client, catalog, resolved, planned);
      await decideTypeChanges(client, resolved, planned);
      await resolveDependencies(ctx, operations, planned);
      await resolveRelationDependencies(ctx, operations, planned);
      await ctx.collect.fill(client);

      for (const p of planned) {
        if (p.kind === "drop-database" && p.target) {
          const r = await client.query<{ bytes: number; oid: number }>(
            "SELECT pg_database_size(oid)::float8 AS bytes, oid::int AS oid FROM pg_database WHERE datname = $1",
            [p.target.name],
          );
          const row = r.rows[0];
          if (!row) p.notes.push(doesNotExist(`database ${p.target.name}`, p));
          else {
            p.bytes = row.bytes;
            p.resolved = {
              type: "database",
              name: p.target.name,
              identity: `oid=${row.oid}`,
              rows: null,
              rowsExact: false,
              bytes: row.bytes,
              dataLoss: "destructive",
              how: "dropped",
            };
          }
          continue;
        }
        if (p.kind === "drop-schema") {
          p.rows = sumOrNull(p.cascade.map((c) => c.rows));
          p.bytes = sumOrNull(p.cascade.map((c) => c.bytes));
          continue;
        }
        if (!p.resolved) continue;
        p.rows = p.resolved.rows;
        p.bytes = p.kind.startsWith("drop-") || p.kind === "truncate" ? p.resolved.bytes : null;
      }
      for (const { planned: p, statement } of ctx.explain) {
        p.rows = await explainRows(client, statement);
        if (p.resolved) p.resolved.rowsExact = false;
      }
      await countDeletes(client, catalog, planned, options.exact);
      if (!options.exact) for (const p of planned) noteUnestimated(catalog, p);

      const consumers = await readersAndConsumers(ctx);
      const unique = new Map(ctx.dependents.map((d) => [`${d.kind}|${d.name}|${d.on}`, d]));
      return { operations: planned, dependents: [...unique.values()], consumers };
    } finally {
      await client.query("ROLLBACK");
    }
  });
}

/**
 * Says why a table's rows are missing from the plan (or from a partitioned table's sum) when it has
 * no statistics yet, and how to get the figure: a plan without it reads as if nothing were lost.
 */
function noteUnestimated(catalog: Catalog, p: PlannedOperation): void {
  const names = new Set<string>();
  let figureShown = false;
  for (const o of [p.resolved, ...p.cascade]) {
    if (!o || o.dataLoss !== "destructive" || o.rowsExact || o.rowsBound) continue;
    const oid = /^oid=(\d+),relfilenode=/.exec(o.identity ?? "")?.[1];
    const rel = oid === undefined ? undefined : catalog.relations.get(Number(oid));
    if (!rel) continue;
    const missing = catalog.unestimated(rel);
    if (missing.length === 0) continue;
    if (o.rows !== null) figureShown = true;
    for (const m of missing) names.add(qualifiedName(m.schema, m.name));
  }
  if (names.size === 0) return;
  const list = [...names];
  const one = list.length === 1;
  const shown =
    list.length > 3 ? `${list.slice(0, 3).join(", ")} and ${list.length - 3} more` : list.join(", ");
  p.notes.push(
    `${figureShown ? "the row count leaves out" : "row count unknown for"} ${shown}: ${one ? "it has" : "they have"} no statistics yet (never analysed, or truncated since); \`--exact\` counts ${one ? "its" : "their"} rows (or run ANALYZE ${one ? list[0] : "on them"} first)`,
  );
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  return values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0);
}
