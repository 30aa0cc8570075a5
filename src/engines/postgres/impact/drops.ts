import type { Operation } from "../../../core/plan/operation.js";
import type { AffectedObject, PlannedOperation } from "../../../core/plan/policy.js";
import { qualifiedName, sqlIdent } from "../connection.js";
import { dependentsOf, earlierDdl, findObjects } from "./pg-depend.js";
import type { Context } from "./plan-operation.js";
import { doesNotExist, relationName } from "./resolve.js";

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

/**
 * DROP of a type, domain, collation, function or extension, resolved through pg_depend to the
 * columns and tables it takes: classified by what actually goes.
 */
export async function resolveDependencies(
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
export async function resolveRelationDependencies(
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
