import type { ObjectRef } from "../../../core/plan/operation.js";

/**
 * Reading libpg-query's parse tree (JSON, one key per node type: `{ "DropStmt": { … } }`) without
 * trusting its shape: every accessor tolerates a missing or unexpected node.
 */

export type Node = Record<string, unknown>;

/** One statement of a parsed text, with its byte offset and length in the UTF-8 text. */
export interface ParsedStatement {
  stmt: unknown;
  stmt_location?: number;
  stmt_len?: number;
}

export function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function child(node: unknown, key: string): unknown {
  return isNode(node) ? node[key] : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** ["Sales", "orders"] from a List of String nodes. */
export function names(value: unknown): string[] {
  const items = isNode(value) && "List" in value ? list(child(value.List, "items")) : list(value);
  return items.map((item) => str(child(child(item, "String"), "sval")) ?? "").filter((s) => s !== "");
}

export function refFromNames(type: string, parts: string[]): ObjectRef {
  const name = parts[parts.length - 1] ?? "";
  const schema = parts.length >= 2 ? (parts[parts.length - 2] ?? null) : null;
  return { type, schema, name };
}

export function refFromRangeVar(type: string, rangeVar: unknown): ObjectRef {
  const rv = isNode(rangeVar) && "RangeVar" in rangeVar ? rangeVar.RangeVar : rangeVar;
  return { type, schema: str(child(rv, "schemaname")) ?? null, name: str(child(rv, "relname")) ?? "" };
}

export function rangeVarName(node: unknown): string | undefined {
  const rv = isNode(node) && "RangeVar" in node ? node.RangeVar : node;
  return str(child(rv, "relname"));
}

/** A TypeName node as SQL text PostgreSQL can read back (for regprocedure look-ups): "pg_catalog.int4[]". */
export function typeNameText(node: unknown): string {
  const t = isNode(node) && "TypeName" in node ? node.TypeName : node;
  const base = names(child(t, "names"))
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join(".");
  const setof = child(t, "setof") === true ? "SETOF " : "";
  return `${setof}${base}${"[]".repeat(list(child(t, "arrayBounds")).length)}`;
}

/** The value of a constant (also under a cast); undefined when the node is not a constant. */
export function constValue(node: unknown): string | boolean | number | null | undefined {
  const c = child(node, "A_Const");
  if (!isNode(c)) {
    const cast = child(node, "TypeCast");
    return isNode(cast) ? constValue(cast.arg) : undefined;
  }
  if (c.isnull) return null;
  if (isNode(c.boolval)) return c.boolval.boolval === true;
  if (isNode(c.ival)) return Number(c.ival.ival ?? 0);
  if (isNode(c.fval)) return Number(c.fval.fval);
  if (isNode(c.sval)) return str(c.sval.sval) ?? "";
  return undefined;
}

/** A subtree as JSON without its locations: equal for the same SQL written at other offsets. */
export function withoutLocations(node: unknown): string {
  return JSON.stringify(node, (key, value: unknown) => (key === "location" ? undefined : value));
}

/** The node type of a statement and its body: ["DropStmt", { … }]. */
export function statementNode(stmt: unknown): [type: string, body: unknown] {
  return isNode(stmt) ? (Object.entries(stmt)[0] ?? ["", undefined]) : ["", undefined];
}

/** "AlterTableStmt" → "alter-table". */
export function kebab(type: string): string {
  return type
    .replace(/Stmt$/, "")
    .replace(/([a-z])([A-Z])/g, "$1-$2")
    .toLowerCase();
}
