import type pg from "pg";
import type { PlannedOperation } from "../../../core/plan/policy.js";
import { qualifiedName } from "../connection.js";
import type { Catalog } from "./catalog.js";
import { dmlTargetName } from "./resolve.js";

// pg_trigger.tgtype bits.
const TRIGGER_INSERT = 4;
const TRIGGER_DELETE = 8;
const TRIGGER_UPDATE = 16;
const TRIGGER_TRUNCATE = 32;
const TRIGGER_ROW_EVENTS = TRIGGER_INSERT | TRIGGER_DELETE | TRIGGER_UPDATE;

interface Hook {
  oid: number;
  rel: number;
  kind: "trigger" | "rule";
  name: string;
  type: number;
  fn: string;
}

/**
 * Triggers and rules run code the plan cannot see: an INSERT into a table with a trigger may delete
 * elsewhere. Every DML target (with the partitions and inheritance children it reaches, the tables
 * under an updatable view, and the tables its foreign keys cascade into) is checked; where enabled
 * user triggers or non-SELECT rules fire for the operation, it becomes `unknown`, and each trigger or
 * rule joins the plan (and its id) with its identity, so changing one voids approvals.
 */
export async function checkTriggers(
  client: pg.Client,
  catalog: Catalog,
  resolved: Map<string, number | null>,
  planned: PlannedOperation[],
): Promise<void> {
  const reached = new Map<PlannedOperation, Set<number>>();
  const basesOf = new Map<number, number[]>();
  for (const [base, views] of catalog.viewsByBase)
    for (const view of views) basesOf.set(view, [...(basesOf.get(view) ?? []), base]);
  for (const p of planned) {
    const text = dmlTargetName(p);
    const oid = text ? (resolved.get(text) ?? null) : null;
    if (oid === null) continue;
    const oids = new Set<number>();
    const queue = [oid];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      if (oids.has(current)) continue;
      oids.add(current);
      queue.push(...(catalog.partitions.get(current) ?? []));
      if (catalog.relations.get(current)?.relkind === "v") queue.push(...(basesOf.get(current) ?? []));
      if (p.kind !== "insert" && p.kind !== "copy-from" && (p.kind !== "truncate" || p.cascadeRequested))
        queue.push(...catalog.referencingTables(current, false).map((r) => r.rel.oid));
    }
    reached.set(p, oids);
  }
  const all = [...new Set([...reached.values()].flatMap((s) => [...s]))];
  if (all.length === 0) return;
  const hooks = await client.query<Hook>(
    `SELECT t.oid::int AS oid, t.tgrelid::int AS rel, 'trigger' AS kind, t.tgname AS name, t.tgtype::int AS type,
            t.tgfoid::regprocedure::text || ' ' || md5(coalesce(p.prosrc, '') || coalesce(p.probin, '')) AS fn
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgrelid = ANY($1::oid[])
     UNION ALL
     SELECT r.oid::int, r.ev_class::int, 'rule', r.rulename, r.ev_type::text::int, md5(pg_get_ruledef(r.oid))
       FROM pg_rewrite r
      WHERE r.ev_type <> '1' AND r.ev_enabled <> 'D' AND r.ev_class = ANY($1::oid[])
      ORDER BY 2, 4`,
    [all],
  );
  for (const [p, oids] of reached) {
    const firing = hooks.rows.filter((h) => {
      if (!oids.has(h.rel)) return false;
      if (h.kind === "rule") return p.kind !== "truncate";
      return (h.type & (p.kind === "truncate" ? TRIGGER_TRUNCATE : TRIGGER_ROW_EVENTS)) !== 0;
    });
    if (firing.length === 0) continue;
    const byTable = new Map<number, Hook[]>();
    for (const h of firing) byTable.set(h.rel, [...(byTable.get(h.rel) ?? []), h]);
    const said = [...byTable].map(([rel, list]) => {
      const r = catalog.relations.get(rel);
      const table = r ? qualifiedName(r.schema, r.name) : `oid ${rel}`;
      const triggers = list.filter((h) => h.kind === "trigger").map((h) => h.name);
      const rules = list.filter((h) => h.kind === "rule").map((h) => h.name);
      return [
        triggers.length > 0
          ? `${r?.relkind === "v" ? "view" : "table"} ${table} has triggers ${triggers.join(", ")}`
          : "",
        rules.length > 0
          ? `${r?.relkind === "v" ? "view" : "table"} ${table} has rules ${rules.join(", ")}`
          : "",
      ]
        .filter(Boolean)
        .join("; ");
    });
    p.dataLoss = "unknown";
    p.reason = `${said.join("; ")}: what they do is not known (otherwise: ${p.reason})`;
    for (const h of firing) {
      const r = catalog.relations.get(h.rel);
      p.cascade.push({
        type: h.kind,
        name: `${r ? qualifiedName(r.schema, r.name) : `oid ${h.rel}`}.${h.name}`,
        identity: `oid=${h.oid},type=${h.type},${h.fn}`,
        rows: null,
        rowsExact: false,
        bytes: null,
        dataLoss: "unknown",
        how: `${h.kind} that fires with it; what it does is not known`,
      });
    }
  }
}
