import type pg from "pg";
import type { Operation } from "../../../core/plan/operation.js";
import type { Dependent, PlannedOperation } from "../../../core/plan/policy.js";
import { DML_KINDS } from "../classify/index.js";
import { qualifiedName } from "../connection.js";
import { type Catalog, RELKIND_TYPE } from "./catalog.js";
import type { Collector } from "./collector.js";
import { doesNotExist, relationName } from "./resolve.js";

export interface Context {
  client: pg.Client;
  catalog: Catalog;
  collect: Collector;
  resolved: Map<string, number | null>;
  dependents: Dependent[];
  /** Relations whose readers and function dependents are reported. */
  watched: Map<number, string>;
  /** Operations whose row count is the EXPLAIN estimate of their statement. */
  explain: { planned: PlannedOperation; statement: string }[];
}

export function planOperation(ctx: Context, op: Operation): PlannedOperation {
  const planned: PlannedOperation = {
    ...op,
    resolved: null,
    rows: null,
    bytes: null,
    cascade: [],
    notes: [],
  };
  const { catalog, collect } = ctx;

  if (op.kind === "drop-database" && op.target) return planned; // sized in planImpact (needs its own query)

  if (op.kind === "drop-schema" && op.target) {
    const name = op.target.name;
    const inSchema = [...catalog.relations.values()].filter((r) => r.schema === name);
    const schemaKnown = inSchema.length > 0 || ctx.resolved.get(`schema:${name}`) !== null;
    if (!schemaKnown) {
      planned.notes.push(doesNotExist(`schema ${name}`, op));
      return planned;
    }
    const tables = inSchema.filter((r) => ["r", "p", "m"].includes(r.relkind));
    if (inSchema.length > 0 && !op.cascadeRequested) {
      planned.notes.push(`schema ${name} is not empty: without CASCADE the statement fails`);
      return planned;
    }
    for (const rel of tables)
      planned.cascade.push(collect.affected(rel, "destructive", "dropped with the schema (CASCADE)"));
    return planned;
  }

  const text = relationName(op);
  if (!text) return planned;
  const oid = ctx.resolved.get(text) ?? null;
  const rel = oid === null ? undefined : catalog.relations.get(oid);
  if (!rel) {
    planned.notes.push(doesNotExist(text, op));
    return planned;
  }
  const name = qualifiedName(rel.schema, rel.name);
  planned.resolved = collect.affected(
    rel,
    // A statement that loses nothing (an insert-only MERGE) does not put its target at risk.
    op.dataLoss === "recoverable" || (op.dataLoss === "none" && !op.createdEarlier)
      ? op.dataLoss
      : "destructive",
    "target",
    DML_KINDS.has(op.kind) ? (op.only ? "only" : "children") : "table",
  );
  ctx.watched.set(rel.oid, name);

  if (["delete", "update", "upsert", "merge"].includes(op.kind) && op.filter === "filtered") {
    ctx.explain.push({ planned, statement: op.statement });
    planned.notes.push("rows estimated by EXPLAIN (the statement was not run)");
  }

  const views = catalog.dependentViews(rel.oid);
  const keys = catalog.referencingKeys(rel.oid);
  for (const v of views) {
    ctx.dependents.push({
      kind: RELKIND_TYPE[v.relkind] ?? "view",
      name: qualifiedName(v.schema, v.name),
      on: name,
      how: "pg_depend (its definition reads it)",
    });
  }
  for (const fk of keys) {
    const t = catalog.relations.get(fk.table);
    if (t)
      ctx.dependents.push({
        kind: "foreign key",
        name: `${qualifiedName(t.schema, t.name)} (${fk.name})`,
        on: name,
        how: `foreign key ${fk.name}`,
      });
  }

  if (op.kind === "drop-table" || op.kind === "drop-materialized-view" || op.kind === "drop-view") {
    if (!op.cascadeRequested && (views.length > 0 || keys.length > 0)) {
      planned.notes.push(
        `${views.length + keys.length} object(s) depend on ${name}: without CASCADE the statement fails`,
      );
    } else if (op.cascadeRequested) {
      for (const v of views) {
        planned.cascade.push(
          collect.affected(
            v,
            v.relkind === "m" ? "destructive" : "recoverable",
            "dropped with CASCADE (depends on it)",
          ),
        );
      }
      for (const fk of keys) {
        const t = catalog.relations.get(fk.table);
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
    const refs = catalog.referencingTables(rel.oid, false);
    if (refs.length > 0 && !op.cascadeRequested) {
      planned.notes.push(
        `${refs.length} table(s) reference ${name} by foreign key: without CASCADE the statement fails`,
      );
    } else {
      for (const { rel: t, key } of refs)
        planned.cascade.push(collect.affected(t, "destructive", `truncated by CASCADE (foreign key ${key})`));
    }
  }
  if (op.kind === "delete") {
    const deleted = catalog.referencingTables(rel.oid, true);
    for (const { rel: t, key } of deleted) {
      // Counted (by the foreign-key join) or estimated after the catalog is read; until then, and
      // whenever that is not possible, every row of the table: a bound, said as one.
      const object = collect.affected(
        t,
        "destructive",
        `rows deleted by ON DELETE CASCADE (foreign key ${key})`,
      );
      object.rowsBound = true;
      planned.cascade.push(object);
    }
    // A self-referencing ON DELETE CASCADE (a tree) deletes more rows of the same table.
    for (const t of [rel, ...deleted.map((d) => d.rel)]) {
      const self = (catalog.keysByReferenced.get(t.oid) ?? []).find(
        (k) => k.table === t.oid && k.onDelete === "c",
      );
      if (!self) continue;
      const object = collect.affected(
        t,
        "destructive",
        `more rows of ${qualifiedName(t.schema, t.name)} deleted by its self-referencing ON DELETE CASCADE (foreign key ${self.name})`,
      );
      object.rowsBound = true;
      planned.cascade.push(object);
    }
    // ON DELETE SET NULL / SET DEFAULT: the referencing rows stay, their reference is overwritten.
    for (const parent of [rel.oid, ...deleted.map((d) => d.rel.oid)]) {
      for (const fk of catalog.referencingKeys(parent)) {
        if (fk.onDelete !== "n" && fk.onDelete !== "d") continue;
        const t = catalog.relations.get(fk.table);
        if (!t) continue;
        const object = collect.affected(
          t,
          "destructive",
          `${fk.setColumns.join(", ")} set to ${fk.onDelete === "n" ? "NULL" : "its default"} by ON DELETE ${fk.onDelete === "n" ? "SET NULL" : "SET DEFAULT"} (foreign key ${fk.name}): the rows stay, their reference is lost`,
        );
        object.type = "column";
        object.table = qualifiedName(t.schema, t.name);
        object.name = `${qualifiedName(t.schema, t.name)}.${fk.setColumns.join(",")}`;
        object.rowsBound = true;
        planned.cascade.push(object);
      }
    }
  }
  return planned;
}
