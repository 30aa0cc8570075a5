import type pg from "pg";
import { formatCount } from "../../../core/duration.js";
import type { Operation } from "../../../core/plan/operation.js";
import type { AffectedObject, Dependent, PlannedOperation } from "../../../core/plan/policy.js";
import type { Consumer } from "../../../core/plan/plan.js";
import type { Target } from "../../../ports/engine.js";
import { createClassifier, DML_KINDS, losslessTypeChange } from "../classify/index.js";
import { pinSqlSession, qualifiedName, sqlIdent, withClient } from "../connection.js";

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

interface Relation {
  oid: number;
  relfilenode: number;
  schema: string;
  name: string;
  relkind: string;
  reltuples: number;
}

interface ForeignKey {
  name: string;
  table: number;
  references: number;
  onDelete: string;
  /** The referencing columns, the referenced ones, and those ON DELETE SET NULL/DEFAULT sets. */
  columns: string[];
  referenced: string[];
  setColumns: string[];
}

const USER_NAMESPACES = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

const RELKIND_TYPE: Record<string, string> = {
  r: "table",
  p: "table",
  v: "view",
  m: "materialized view",
  S: "sequence",
  f: "foreign table",
};

class Catalog {
  readonly relations = new Map<number, Relation>();
  readonly keysByReferenced = new Map<number, ForeignKey[]>();
  readonly viewsByBase = new Map<number, number[]>();
  readonly partitions = new Map<number, number[]>();
  readonly sizes = new Map<number, number>();
  readonly exactRows = new Map<number, number>();

  static async load(client: pg.Client): Promise<Catalog> {
    const catalog = new Catalog();
    // One client runs one query at a time; these are sequential round trips.
    const relations = await client.query<Relation>(
      `SELECT c.oid::int AS oid, c.relfilenode::int AS relfilenode, n.nspname AS schema, c.relname AS name,
                c.relkind::text AS relkind, c.reltuples::float8 AS reltuples
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r','p','v','m','S','f') AND ${USER_NAMESPACES}`,
    );
    const keys = await client.query<{
      name: string;
      tbl: number;
      ref: number;
      deltype: string;
      cols: string[];
      refcols: string[];
      setcols: string[];
    }>(
      `SELECT k.conname AS name, k.conrelid::int AS tbl, k.confrelid::int AS ref, k.confdeltype::text AS deltype,
              ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i) AS cols,
              ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                      JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i) AS refcols,
              ARRAY(SELECT a.attname::text FROM unnest(coalesce(k.confdelsetcols, k.conkey)) WITH ORDINALITY u(n, i)
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i) AS setcols
           FROM pg_constraint k WHERE k.contype = 'f' AND k.conparentid = 0`,
    );
    const views = await client.query<{ view: number; base: number }>(
      `SELECT DISTINCT rw.ev_class::int AS view, d.refobjid::int AS base
           FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid
          WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND rw.ev_class <> d.refobjid`,
    );
    const inherits = await client.query<{ parent: number; child: number }>(
      "SELECT inhparent::int AS parent, inhrelid::int AS child FROM pg_inherits",
    );
    for (const r of relations.rows) catalog.relations.set(r.oid, r);
    for (const k of keys.rows) {
      const list = catalog.keysByReferenced.get(k.ref) ?? [];
      list.push({
        name: k.name,
        table: k.tbl,
        references: k.ref,
        onDelete: k.deltype,
        columns: k.cols,
        referenced: k.refcols,
        setColumns: k.setcols.length > 0 ? k.setcols : k.cols,
      });
      catalog.keysByReferenced.set(k.ref, list);
    }
    for (const v of views.rows)
      catalog.viewsByBase.set(v.base, [...(catalog.viewsByBase.get(v.base) ?? []), v.view]);
    for (const i of inherits.rows)
      catalog.partitions.set(i.parent, [...(catalog.partitions.get(i.parent) ?? []), i.child]);
    return catalog;
  }

  /** Views and materialized views built on a relation, recursively (views on views). */
  dependentViews(oid: number): Relation[] {
    const found = new Map<number, Relation>();
    const queue = [oid];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      for (const view of this.viewsByBase.get(current) ?? []) {
        const rel = this.relations.get(view);
        if (rel && !found.has(view) && view !== oid) {
          found.set(view, rel);
          queue.push(view);
        }
      }
    }
    return [...found.values()];
  }

  referencingKeys(oid: number): ForeignKey[] {
    return (this.keysByReferenced.get(oid) ?? []).filter((k) => k.table !== oid);
  }

  /** Tables reached through foreign keys, recursively, optionally only through ON DELETE CASCADE keys. */
  referencingTables(oid: number, onlyCascade: boolean): { rel: Relation; key: string; fk: ForeignKey }[] {
    const found = new Map<number, { rel: Relation; key: string; fk: ForeignKey }>();
    const queue = [oid];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      for (const fk of this.referencingKeys(current)) {
        if ((onlyCascade && fk.onDelete !== "c") || found.has(fk.table) || fk.table === oid) continue;
        const rel = this.relations.get(fk.table);
        if (rel) {
          found.set(fk.table, { rel, key: fk.name, fk });
          queue.push(fk.table);
        }
      }
    }
    return [...found.values()];
  }

  /**
   * Estimated rows; with children, those of inheritance children and partitions too (what a
   * DELETE, UPDATE or TRUNCATE without ONLY reaches). A partitioned table always sums its partitions.
   */
  estimatedRows(rel: Relation, withChildren = false): number | null {
    const children = (this.partitions.get(rel.oid) ?? [])
      .map((c) => this.relations.get(c))
      .filter((c): c is Relation => c !== undefined);
    if (rel.relkind === "p") return children.reduce((sum, c) => sum + (this.estimatedRows(c, true) ?? 0), 0);
    if (rel.relkind !== "r" && rel.relkind !== "m") return null;
    const own = rel.reltuples < 0 ? null : Math.round(rel.reltuples);
    if (!withChildren || children.length === 0) return own;
    return children.reduce<number | null>((sum, c) => {
      const rows = this.estimatedRows(c, true);
      return sum === null || rows === null ? null : sum + rows;
    }, own);
  }
}

/** Builds affected objects now and fills sizes (and exact counts) in one batch later. */
class Collector {
  private readonly pending: { object: AffectedObject; oid: number; only: boolean }[] = [];

  constructor(
    private readonly catalog: Catalog,
    private readonly exact: boolean,
  ) {}

  /**
   * `reach`: "children" counts inheritance children and partitions too (DML without ONLY);
   * "only" just the table itself.
   */
  affected(
    rel: Relation,
    dataLoss: AffectedObject["dataLoss"],
    how: string,
    reach: "table" | "children" | "only" = "table",
  ): AffectedObject {
    const object: AffectedObject = {
      type: RELKIND_TYPE[rel.relkind] ?? "relation",
      name: qualifiedName(rel.schema, rel.name),
      identity: `oid=${rel.oid},relfilenode=${rel.relfilenode}`,
      rows: dataLoss === "destructive" ? this.catalog.estimatedRows(rel, reach === "children") : null,
      rowsExact: false,
      bytes: null,
      dataLoss,
      how,
    };
    this.pending.push({ object, oid: rel.oid, only: reach === "only" });
    return object;
  }

  /** A column dropped with its values: every row of its table loses one. */
  affectedColumn(rel: Relation, column: string, attnum: number, how: string): AffectedObject {
    const object: AffectedObject = {
      type: "column",
      name: `${qualifiedName(rel.schema, rel.name)}.${column}`,
      table: qualifiedName(rel.schema, rel.name),
      identity: `oid=${rel.oid},relfilenode=${rel.relfilenode},attnum=${attnum}`,
      rows: this.catalog.estimatedRows(rel),
      rowsExact: false,
      bytes: null,
      dataLoss: "destructive",
      how,
    };
    this.pending.push({ object, oid: rel.oid, only: false });
    return object;
  }

  async fill(client: pg.Client): Promise<void> {
    const oids = [...new Set(this.pending.map((p) => p.oid))];
    if (oids.length === 0) return;
    const sizes = await client.query<{ oid: number; bytes: number }>(
      "SELECT o::int AS oid, pg_total_relation_size(o)::float8 AS bytes FROM unnest($1::oid[]) AS o",
      [oids],
    );
    for (const s of sizes.rows) this.catalog.sizes.set(s.oid, s.bytes);
    const onlyRows = new Map<number, number>();
    if (this.exact) {
      const wanted = this.pending.filter(
        (p) => p.object.rows !== null || p.object.dataLoss === "destructive",
      );
      for (const [only, oids] of [
        [false, new Set(wanted.filter((p) => !p.only).map((p) => p.oid))],
        [true, new Set(wanted.filter((p) => p.only).map((p) => p.oid))],
      ] as const) {
        for (const oid of oids) {
          const rel = this.catalog.relations.get(oid);
          if (!rel || !["r", "p", "m"].includes(rel.relkind)) continue;
          // Without ONLY, count(*) reads inheritance children and partitions too.
          const r = await client.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM ${only ? "ONLY " : ""}${sqlIdent(rel.schema)}.${sqlIdent(rel.name)}`,
          );
          (only ? onlyRows : this.catalog.exactRows).set(oid, Number(r.rows[0]?.n ?? 0));
        }
      }
    }
    for (const { object, oid, only } of this.pending) {
      if (object.type !== "column") object.bytes = this.catalog.sizes.get(oid) ?? null;
      const exactRows = (only ? onlyRows : this.catalog.exactRows).get(oid);
      if (object.dataLoss === "destructive" && exactRows !== undefined) {
        object.rows = exactRows;
        // A bound stays a bound, however exactly it is counted.
        object.rowsExact = object.rowsBound !== true;
      }
    }
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

function relationName(op: Operation): string | null {
  if (!TABLE_KINDS.has(op.kind) || !op.target) return null;
  const name =
    op.target.type === "column" ? (op.target.name.split(".")[0] ?? op.target.name) : op.target.name;
  return op.target.schema ? `${sqlIdent(op.target.schema)}.${sqlIdent(name)}` : sqlIdent(name);
}

function dmlTargetName(op: Operation): string | null {
  if (!DML_KINDS.has(op.kind) || !op.target) return null;
  return op.target.schema
    ? `${sqlIdent(op.target.schema)}.${sqlIdent(op.target.name)}`
    : sqlIdent(op.target.name);
}

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
async function checkTriggers(
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

/** Operations before `index` that change the column (or add one): its live type is not what runs. */
function columnChangedEarlier(planned: readonly PlannedOperation[], index: number): boolean {
  const op = planned[index];
  if (!op?.target) return true;
  const table = op.target.name.split(".")[0];
  return planned
    .slice(0, index)
    .some(
      (o) =>
        o.target &&
        o.target.schema === op.target?.schema &&
        ((o.kind === "alter-table" && o.target.name === table) ||
          ((o.kind === "alter-column-type" || o.kind === "alter-table-drop-column") &&
            o.target.name === op.target.name)),
    );
}

/**
 * ALTER COLUMN … TYPE against the live column: a change that cannot lose a value (a widening) is
 * not destructive, and the plan says whether PostgreSQL rewrites the table for it. Anything not
 * proven lossless stays destructive.
 */
async function decideTypeChanges(
  client: pg.Client,
  resolved: Map<string, number | null>,
  planned: PlannedOperation[],
): Promise<void> {
  for (const [index, p] of planned.entries()) {
    if (p.kind !== "alter-column-type" || p.dataLoss !== "destructive" || !p.newType || !p.target) continue;
    if (p.newType.using || p.newType.collate || columnChangedEarlier(planned, index)) continue;
    const text = relationName(p);
    const oid = text ? (resolved.get(text) ?? null) : null;
    if (oid === null || !p.resolved) continue;
    const column = p.target.name.slice(p.target.name.indexOf(".") + 1);
    const typeText = p.newType.names.map((part) => sqlIdent(part)).join(".");
    const r = await client.query<{
      from_name: string | null;
      from_mod: number;
      shown: string;
      to_name: string | null;
      to_shown: string | null;
    }>(
      `SELECT CASE WHEN tn.nspname = 'pg_catalog' AND t.typtype = 'b' THEN t.typname::text END AS from_name,
              a.atttypmod AS from_mod, format_type(a.atttypid, a.atttypmod) AS shown,
              (SELECT CASE WHEN nn.nspname = 'pg_catalog' AND nt.typtype = 'b' THEN nt.typname::text END
                 FROM pg_type nt JOIN pg_namespace nn ON nn.oid = nt.typnamespace
                WHERE nt.oid = to_regtype($3)) AS to_name,
              format_type(to_regtype($3), NULL) AS to_shown
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
        WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [oid, column, typeText],
    );
    const row = r.rows[0];
    if (!row) continue;
    const lossless = losslessTypeChange(
      { name: row.from_name, typmod: row.from_mod },
      { name: row.to_name, typmods: p.newType.typmods, array: p.newType.array },
    );
    if (!lossless) {
      p.reason = `${p.reason}; from ${row.shown}: not proven lossless`;
      continue;
    }
    const written = `${row.to_shown ?? p.newType.names.join(".")}${p.newType.typmods.length > 0 ? `(${p.newType.typmods.join(",")})` : ""}`;
    p.dataLoss = "none";
    p.reason = `changes the type of ${p.target.name} from ${row.shown} to ${written}: ${lossless.why}; no value can change (lossless)`;
    p.resolved.dataLoss = "none";
    p.resolved.rows = null;
    p.rewrite = lossless.rewrite;
    p.notes.push(
      lossless.rewrite
        ? "PostgreSQL rewrites the table and its indexes for it (no value changes, but an ACCESS EXCLUSIVE lock blocks readers and writers meanwhile)"
        : "no table rewrite: PostgreSQL only changes the catalog (binary-coercible)",
    );
  }
}

/** Kinds whose drop is resolved through pg_depend (objects that are definitions, and extensions). */
const DEPEND_KINDS: Record<string, string> = {
  "drop-type": "pg_type",
  "drop-domain": "pg_type",
  "drop-collation": "pg_collation",
  "drop-extension": "pg_extension",
  "drop-function": "pg_proc",
  "drop-procedure": "pg_proc",
  "drop-routine": "pg_proc",
  "drop-aggregate": "pg_proc",
};

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
function earlierDdl(operations: readonly Operation[], op: Operation): boolean {
  return operations.some(
    (o) =>
      o.statementIndex < op.statementIndex &&
      !SCHEMA_NEUTRAL.has(o.kind) &&
      !(o.kind.startsWith("psql-") && o.dataLoss === "none"),
  );
}

interface Gone {
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
async function dependentsOf(
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
async function findObjects(
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

/**
 * DROP of a type, domain, collation, function or extension, resolved through pg_depend to the
 * columns and tables it takes: classified by what actually goes.
 */
async function resolveDependencies(
  ctx: Context,
  operations: readonly Operation[],
  planned: PlannedOperation[],
): Promise<void> {
  const { client, catalog, collect } = ctx;
  for (const p of planned) {
    const classid = DEPEND_KINDS[p.kind];
    if (!classid || !p.target || p.createdEarlier) continue;
    // What an earlier statement made unknown stays unknown; the objects are still listed.
    const known = p.dataLoss !== "unknown";
    const qualified = [p.target.schema, p.target.name]
      .filter((part): part is string => part !== null)
      .map((part) => sqlIdent(part))
      .join(".");
    const found = await findObjects(client, classid, p, qualified);
    if (found.rows.length === 0) {
      p.notes.push(doesNotExist(`${p.target.type} ${p.target.name}`, p));
      continue;
    }
    const { gone, blockers } = await dependentsOf(
      client,
      found.rows.map((f) => ({ classid, objid: f.oid })),
      p.cascadeRequested,
    );
    p.resolved = {
      type: p.target.type,
      name: found.rows.map((f) => f.name).join(", "),
      identity: found.rows.map((f) => `oid=${f.oid}`).join(","),
      rows: null,
      rowsExact: false,
      bytes: null,
      dataLoss: "recoverable",
      how: "target",
    };
    const stable = !earlierDdl(operations, p);
    if (blockers.length > 0) {
      const said = `${blockers.length} object(s) depend on it (${blockers.slice(0, 5).join(", ")}${blockers.length > 5 ? ", …" : ""})`;
      p.notes.push(`${said}: without CASCADE PostgreSQL refuses, the statement fails and nothing is dropped`);
      if (stable && known) {
        p.dataLoss = "none";
        p.reason = `PostgreSQL refuses this DROP: ${said} and CASCADE is not given; the statement fails (otherwise: ${p.reason})`;
      }
      continue;
    }
    const tablesGone = new Set(
      gone.filter((g) => g.classid === "pg_class" && g.objsubid === 0).map((g) => g.objid),
    );
    const destroyed: AffectedObject[] = [];
    let definitions = 0;
    for (const g of gone) {
      const rel = g.classid === "pg_class" ? catalog.relations.get(g.objid) : undefined;
      if (g.classid === "pg_class" && g.objsubid > 0) {
        if (!rel || tablesGone.has(g.objid) || !["r", "p", "m"].includes(rel.relkind)) continue;
        destroyed.push(
          collect.affectedColumn(
            rel,
            g.attname ?? `#${g.objsubid}`,
            g.objsubid,
            `column dropped with its values (${p.cascadeRequested ? "CASCADE" : "it depends on it"})`,
          ),
        );
      } else if (rel && ["r", "p", "m", "S"].includes(rel.relkind)) {
        destroyed.push(
          collect.affected(
            rel,
            "destructive",
            `dropped with ${p.target.type} ${p.target.name}${p.cascadeRequested ? " (CASCADE)" : ""}`,
          ),
        );
      } else if (rel && ["v", "f"].includes(rel.relkind)) {
        p.cascade.push(
          collect.affected(
            rel,
            "recoverable",
            "dropped with CASCADE (depends on it); its definition can be recreated",
          ),
        );
      } else if (g.classid === "pg_attrdef") {
        // The default of a column that goes itself (a generated column) is part of it.
        const columnGone = gone.some(
          (o) =>
            o.classid === "pg_class" && o.objid === g.adrel && (o.objsubid === 0 || o.objsubid === g.adnum),
        );
        if (columnGone) continue;
        // A column default that goes: the column keeps its values; new rows no longer get it.
        p.cascade.push({
          type: "default",
          name: g.describe.replace(/^default value for /, ""),
          identity: `attrdef oid=${g.objid}`,
          rows: null,
          rowsExact: false,
          bytes: null,
          dataLoss: "recoverable",
          how: "column default dropped with CASCADE: the values stay, new rows no longer get it",
        });
      } else if (!(found.rows.some((f) => f.oid === g.objid) && g.classid === classid)) definitions++;
    }
    p.cascade.push(...destroyed);
    if (definitions > 0)
      p.notes.push(
        `also drops ${definitions} dependent definition(s) (defaults, constraints, indexes, array types, functions …): recreatable from the schema`,
      );
    if (destroyed.length > 0 && known) {
      p.dataLoss = "destructive";
      p.reason = `drops ${p.target.type} ${p.target.name}${p.cascadeRequested ? " with CASCADE" : ""}, and with it ${destroyed
        .map((d) => `${d.type} ${d.name}`)
        .slice(0, 5)
        .join(", ")}${destroyed.length > 5 ? ", …" : ""} and their data`;
      p.resolved.dataLoss = "destructive";
    } else if (p.dataLoss === "destructive" && stable) {
      p.dataLoss = "recoverable";
      p.reason = `drops ${p.target.type} ${p.target.name}${p.cascadeRequested ? " with CASCADE" : ""}: no column, table or sequence depends on it, so only definitions go (recreatable from the schema)`;
    }
  }
}

/** Relation drops whose CASCADE (or automatic dependents) reach further than views and foreign keys. */
const RELATION_DEPEND_KINDS = new Set([
  "drop-table",
  "drop-materialized-view",
  "drop-view",
  "drop-schema",
  "alter-table-drop-column",
]);

/**
 * DROP TABLE / SCHEMA / COLUMN, resolved through pg_depend as well: what goes beyond the views and
 * foreign keys already listed (columns of other tables typed with a dropped row type or a type in a
 * dropped schema, generated columns built on a dropped column …) joins the cascade; a DROP that
 * PostgreSQL refuses for its dependents is not destructive when nothing earlier in the script could
 * have removed them and it names one object.
 */
async function resolveRelationDependencies(
  ctx: Context,
  operations: readonly Operation[],
  planned: PlannedOperation[],
): Promise<void> {
  const { client, catalog, collect } = ctx;
  for (const p of planned) {
    if (!RELATION_DEPEND_KINDS.has(p.kind) || !p.target || p.createdEarlier) continue;
    let start: { classid: string; objid: number; objsubid?: number } | null = null;
    let self: string | null = null;
    if (p.kind === "drop-schema") {
      const oid = ctx.resolved.get(`schema:${p.target.name}`) ?? null;
      if (oid !== null) start = { classid: "pg_namespace", objid: oid };
    } else {
      const text = relationName(p);
      const oid = text ? (ctx.resolved.get(text) ?? null) : null;
      if (oid === null) continue;
      if (p.kind === "alter-table-drop-column") {
        const column = p.target.name.slice(p.target.name.indexOf(".") + 1);
        const r = await client.query<{ attnum: number }>(
          "SELECT attnum::int AS attnum FROM pg_attribute WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped",
          [oid, column],
        );
        const attnum = r.rows[0]?.attnum;
        if (attnum === undefined) {
          const rel = catalog.relations.get(oid);
          if (rel)
            p.notes.push(doesNotExist(`column ${column} of ${qualifiedName(rel.schema, rel.name)}`, p));
          continue;
        }
        start = { classid: "pg_class", objid: oid, objsubid: attnum };
        self = `${oid}:${attnum}`;
      } else {
        start = { classid: "pg_class", objid: oid };
        self = `${oid}:0`;
      }
    }
    if (!start) continue;
    const { gone, blockers } = await dependentsOf(client, [start], p.cascadeRequested);
    const sole = planned.filter((o) => o.statementIndex === p.statementIndex).length === 1;
    if (blockers.length > 0 && !p.cascadeRequested) {
      const said = `${blockers.length} object(s) depend on it (${blockers.slice(0, 5).join(", ")}${blockers.length > 5 ? ", …" : ""})`;
      if (!p.notes.some((n) => n.includes("without CASCADE")))
        p.notes.push(
          `${said}: without CASCADE PostgreSQL refuses, the statement fails and nothing is dropped`,
        );
      if (sole && !earlierDdl(operations, p) && !p.createdEarlier && p.dataLoss !== "unknown") {
        p.dataLoss = "none";
        p.reason = `PostgreSQL refuses this: ${said} and CASCADE is not given; the statement fails (otherwise: ${p.reason})`;
        if (p.resolved) p.resolved.dataLoss = "none";
      }
      continue;
    }
    const listed = new Set([p.resolved?.name, ...p.cascade.map((c) => c.name)]);
    const tablesGone = new Set(
      gone.filter((g) => g.classid === "pg_class" && g.objsubid === 0).map((g) => g.objid),
    );
    for (const g of gone) {
      if (g.classid !== "pg_class" || `${g.objid}:${g.objsubid}` === self) continue;
      const rel = catalog.relations.get(g.objid);
      if (!rel) continue;
      const tableName = qualifiedName(rel.schema, rel.name);
      if (g.objsubid > 0) {
        if (tablesGone.has(g.objid) || !["r", "p", "m"].includes(rel.relkind)) continue;
        const name = `${tableName}.${g.attname ?? `#${g.objsubid}`}`;
        if (listed.has(name)) continue;
        listed.add(name);
        p.cascade.push(
          collect.affectedColumn(
            rel,
            g.attname ?? `#${g.objsubid}`,
            g.objsubid,
            "column dropped with its values (it depends on what is dropped)",
          ),
        );
      } else if (["r", "p", "m"].includes(rel.relkind) && !listed.has(tableName)) {
        // (Sequences reached here are owned by what is dropped: serial and identity columns.)
        listed.add(tableName);
        p.cascade.push(
          collect.affected(rel, "destructive", "dropped with CASCADE (depends on what is dropped)"),
        );
      }
    }
    if (p.cascade.some((c) => c.dataLoss === "destructive") && p.dataLoss !== "unknown")
      p.dataLoss = "destructive";
  }
}

/** One query inside a savepoint: a failure (a statement lifeline could not rebuild) costs nothing. */
async function guarded<T>(client: pg.Client, run: () => Promise<T>): Promise<T | null> {
  await client.query("SAVEPOINT lifeline_count");
  try {
    const result = await run();
    await client.query("RELEASE SAVEPOINT lifeline_count");
    return result;
  } catch {
    await client.query("ROLLBACK TO SAVEPOINT lifeline_count");
    return null;
  }
}

/**
 * The rows a DELETE takes through its foreign keys, without deleting: the rows of every ON DELETE
 * CASCADE table (and those ON DELETE SET NULL/DEFAULT overwrite) that reference the deleted rows,
 * by the foreign-key join from the DELETE's own FROM/USING/WHERE — counted under --exact, estimated
 * by EXPLAIN otherwise. Where that join cannot be built (WHERE CURRENT OF, a self-referencing
 * cascade, a cycle), the figure stays what it was: every row of the table, labelled as a bound.
 * Under --exact a filtered DELETE's own rows are counted the same way.
 */
async function countDeletes(
  client: pg.Client,
  catalog: Catalog,
  planned: PlannedOperation[],
  exact: boolean,
): Promise<void> {
  const classifier = await createClassifier();
  for (const p of planned) {
    if (p.kind !== "delete" || !p.resolved) continue;
    const bounded = p.cascade.filter((c) => c.rowsBound);
    const build = classifier.deleteAsSelect(p.statement);
    const root = [...catalog.relations.values()].find(
      (r) => `oid=${r.oid},relfilenode=${r.relfilenode}` === p.resolved?.identity,
    );
    if (build && root && exact && p.filter === "filtered") {
      const n = await guarded(client, async () => {
        const r = await client.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM (${build([])}) AS deleted`,
        );
        return Number(r.rows[0]?.n ?? 0);
      });
      if (n !== null) {
        p.rows = n;
        p.resolved.rows = n;
        p.resolved.rowsExact = true;
        p.notes = p.notes.filter((note) => !note.startsWith("rows estimated by EXPLAIN"));
        p.notes.push(
          "rows counted with the DELETE's own FROM/USING/WHERE in a read-only transaction (nothing was deleted)",
        );
      }
    }
    if (bounded.length === 0) continue;
    const deletedSet = new Set([
      root?.oid,
      ...catalog.referencingTables(root?.oid ?? -1, true).map((d) => d.rel.oid),
    ]);
    const selfCascade = [...deletedSet].some((oid) =>
      (catalog.keysByReferenced.get(oid ?? -1) ?? []).some((k) => k.table === oid && k.onDelete === "c"),
    );
    let alias = 0;
    /** SQL selecting `columns` of the rows of `oid` the DELETE takes; null on a cycle. */
    const rowsOf = (oid: number, columns: string[], visiting: Set<number>): string | null => {
      if (!build || !root) return null;
      if (oid === root.oid) return build(columns);
      const rel = catalog.relations.get(oid);
      if (!rel || visiting.has(oid)) return null;
      const keys = [...deletedSet].flatMap((parent) =>
        catalog.referencingKeys(parent ?? -1).filter((k) => k.table === oid && k.onDelete === "c"),
      );
      const x = `x${++alias}`;
      const conditions: string[] = [];
      for (const k of keys) {
        const parentRows = rowsOf(k.references, k.referenced, new Set([...visiting, oid]));
        if (parentRows === null) return null;
        conditions.push(`(${k.columns.map((c) => `${x}.${sqlIdent(c)}`).join(", ")}) IN (${parentRows})`);
      }
      if (conditions.length === 0) return null;
      const selected = columns.length > 0 ? columns.map((c) => `${x}.${sqlIdent(c)}`).join(", ") : "1";
      return `SELECT ${selected} FROM ${sqlIdent(rel.schema)}.${sqlIdent(rel.name)} ${x} WHERE ${conditions.join(" OR ")}`;
    };
    for (const c of bounded) {
      const rel = [...catalog.relations.values()].find(
        (r) => c.identity === `oid=${r.oid},relfilenode=${r.relfilenode}`,
      );
      let sql: string | null = null;
      if (rel && !selfCascade && c.type === "column") {
        // SET NULL / SET DEFAULT: the referencing rows of every table whose rows are deleted.
        const keys = [...deletedSet].flatMap((parent) =>
          catalog
            .referencingKeys(parent ?? -1)
            .filter(
              (k) =>
                k.table === rel.oid &&
                (k.onDelete === "n" || k.onDelete === "d") &&
                c.name === `${qualifiedName(rel.schema, rel.name)}.${k.setColumns.join(",")}`,
            ),
        );
        const x = `x${++alias}`;
        const conditions = keys.map((k) => {
          const parentRows = rowsOf(k.references, k.referenced, new Set());
          return parentRows === null
            ? null
            : `(${k.columns.map((col) => `${x}.${sqlIdent(col)}`).join(", ")}) IN (${parentRows})`;
        });
        if (conditions.length > 0 && conditions.every((cond) => cond !== null))
          sql = `SELECT 1 FROM ${sqlIdent(rel.schema)}.${sqlIdent(rel.name)} ${x} WHERE ${conditions.join(" OR ")}`;
      } else if (rel && !selfCascade) sql = rowsOf(rel.oid, [], new Set());
      const counted =
        sql === null
          ? null
          : await guarded(client, async () => {
              if (exact) {
                const r = await client.query<{ n: string }>(
                  `SELECT count(*)::text AS n FROM (${sql}) AS taken`,
                );
                return Number(r.rows[0]?.n ?? 0);
              }
              const r = await client.query<{ "QUERY PLAN": { Plan: { "Plan Rows"?: number } }[] }>(
                `EXPLAIN (FORMAT JSON) ${sql}`,
              );
              return r.rows[0]?.["QUERY PLAN"][0]?.Plan["Plan Rows"] ?? null;
            });
      if (counted === null) {
        c.rowsExact = false;
        c.how = `${c.how}; up to every row of the table (a bound, not a count${selfCascade ? ": a self-referencing cascade" : ""})`;
        continue;
      }
      c.rows = counted;
      c.rowsExact = exact;
      delete c.rowsBound;
      c.how = `${c.how}; ${exact ? "counted" : "estimated"} by the foreign-key join (nothing was deleted)`;
    }
  }
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

function doesNotExist(what: string, op: Operation): string {
  if (op.createdEarlier) return `${what} is created by an earlier statement of this script`;
  return `${what} does not exist${op.missingOk ? " (IF EXISTS: nothing happens)" : ": the statement fails"}`;
}

interface Context {
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

function planOperation(ctx: Context, op: Operation): PlannedOperation {
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
      const unique = new Map(ctx.dependents.map((d) => [`${d.kind}|${d.name}|${d.on}`, d]));
      return { operations: planned, dependents: [...unique.values()], consumers: consumers.rows };
    } finally {
      await client.query("ROLLBACK");
    }
  });
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  return values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0);
}
