import type { Operation } from "../../../core/plan/operation.js";
import { DML_KINDS } from "../classify/index.js";
import { sqlIdent } from "../connection.js";

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

export function relationName(op: Operation): string | null {
  if (!TABLE_KINDS.has(op.kind) || !op.target) return null;
  const name =
    op.target.type === "column" ? (op.target.name.split(".")[0] ?? op.target.name) : op.target.name;
  return op.target.schema ? `${sqlIdent(op.target.schema)}.${sqlIdent(name)}` : sqlIdent(name);
}

export function dmlTargetName(op: Operation): string | null {
  if (!DML_KINDS.has(op.kind) || !op.target) return null;
  return op.target.schema
    ? `${sqlIdent(op.target.schema)}.${sqlIdent(op.target.name)}`
    : sqlIdent(op.target.name);
}

export function doesNotExist(what: string, op: Operation): string {
  if (op.createdEarlier) return `${what} is created by an earlier statement of this script`;
  return `${what} does not exist${op.missingOk ? " (IF EXISTS: nothing happens)" : ": the statement fails"}`;
}
