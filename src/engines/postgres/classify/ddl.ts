import type { DataLoss, Operation } from "../../../core/plan/operation.js";
import {
  child,
  constValue,
  isNode,
  list,
  names,
  refFromNames,
  refFromRangeVar,
  str,
  typeNameText,
} from "./ast.js";
import { nested } from "./calls.js";
import { op, type Handler } from "./context.js";

/**
 * Statements that drop or change objects (DROP …, ALTER TABLE, ALTER SEQUENCE, CREATE OR REPLACE
 * VIEW) or change what later statements do (functions, triggers, rules): their handlers.
 */

/** Objects whose loss destroys data; the others can be recreated from the schema. */
const DROP_TYPES: Record<string, { type: string; loss: DataLoss }> = {
  OBJECT_TABLE: { type: "table", loss: "destructive" },
  OBJECT_FOREIGN_TABLE: { type: "foreign table", loss: "recoverable" },
  OBJECT_MATVIEW: { type: "materialized view", loss: "destructive" },
  OBJECT_SEQUENCE: { type: "sequence", loss: "destructive" },
  OBJECT_TYPE: { type: "type", loss: "destructive" },
  OBJECT_DOMAIN: { type: "domain", loss: "destructive" },
  OBJECT_SCHEMA: { type: "schema", loss: "destructive" },
  OBJECT_EXTENSION: { type: "extension", loss: "destructive" },
  OBJECT_INDEX: { type: "index", loss: "recoverable" },
  OBJECT_VIEW: { type: "view", loss: "recoverable" },
  OBJECT_FUNCTION: { type: "function", loss: "recoverable" },
  OBJECT_PROCEDURE: { type: "procedure", loss: "recoverable" },
  OBJECT_ROUTINE: { type: "routine", loss: "recoverable" },
  OBJECT_AGGREGATE: { type: "aggregate", loss: "recoverable" },
  OBJECT_TRIGGER: { type: "trigger", loss: "recoverable" },
  OBJECT_RULE: { type: "rule", loss: "recoverable" },
  OBJECT_POLICY: { type: "policy", loss: "recoverable" },
  OBJECT_COLLATION: { type: "collation", loss: "recoverable" },
  OBJECT_CONVERSION: { type: "conversion", loss: "recoverable" },
  OBJECT_STATISTIC_EXT: { type: "statistics", loss: "recoverable" },
  OBJECT_PUBLICATION: { type: "publication", loss: "recoverable" },
  OBJECT_OPERATOR: { type: "operator", loss: "recoverable" },
  OBJECT_CAST: { type: "cast", loss: "recoverable" },
};

/**
 * Objects that hold no data themselves: without CASCADE, dropping one either drops only its
 * definition or fails (PostgreSQL refuses while a column, default, view … uses it). With CASCADE
 * the columns using it go too, with their data: destructive until the impact phase resolves the
 * dependents through pg_depend. (Extensions and schemas are not here: their members go without
 * CASCADE too.)
 */
const DEFINITION_ONLY = new Set([
  "OBJECT_TYPE",
  "OBJECT_DOMAIN",
  "OBJECT_COLLATION",
  "OBJECT_FUNCTION",
  "OBJECT_PROCEDURE",
  "OBJECT_ROUTINE",
  "OBJECT_AGGREGATE",
  "OBJECT_OPERATOR",
  "OBJECT_CAST",
  "OBJECT_CONVERSION",
]);

const drop: Handler = (ctx, body) => {
  const out: Operation[] = [];
  const removeType = str(child(body, "removeType")) ?? "";
  const known = DROP_TYPES[removeType];
  const cascade = child(body, "behavior") === "DROP_CASCADE";
  const missingOk = child(body, "missing_ok") === true;
  for (const object of list(child(body, "objects"))) {
    const withArgs = child(object, "ObjectWithArgs");
    const parts =
      isNode(object) && "TypeName" in object
        ? names(child(object.TypeName, "names"))
        : isNode(withArgs)
          ? names(withArgs.objname)
          : names(object);
    const target = refFromNames(
      known?.type ?? removeType.replace(/^OBJECT_/, "").toLowerCase(),
      parts.length > 0 ? parts : [str(child(child(object, "String"), "sval")) ?? "?"],
    );
    const args =
      isNode(withArgs) && withArgs.args_unspecified !== true && "objargs" in withArgs
        ? list(withArgs.objargs).map(typeNameText)
        : undefined;
    const definitionOnly = known !== undefined && DEFINITION_ONLY.has(removeType);
    const dataLoss: DataLoss = !known
      ? "unknown"
      : definitionOnly
        ? cascade
          ? "destructive"
          : "recoverable"
        : known.loss;
    out.push(
      op(ctx, {
        kind: `drop-${target.type.replace(/ /g, "-")}`,
        target,
        cascadeRequested: cascade,
        missingOk,
        dataLoss,
        ...(args ? { objectArgs: args } : {}),
        reason: !known
          ? `drops an object of a kind lifeline does not know (${removeType})`
          : definitionOnly
            ? cascade
              ? `drops ${target.type} ${target.name} and, with CASCADE, every object that depends on it: columns using it go with their data (resolved against the database)`
              : `drops ${target.type} ${target.name}, a definition that can be recreated from the schema; PostgreSQL refuses (the statement fails) if anything uses it`
            : known.loss === "destructive"
              ? `drops ${target.type} ${target.name} and the data in it${cascade ? ", and every object that depends on it (CASCADE)" : ""}`
              : `drops ${target.type} ${target.name}; its definition can be recreated from the schema${cascade ? " (CASCADE may take more)" : ""}`,
      }),
    );
  }
  return out;
};

// PostgreSQL refuses while the role owns objects or the tablespace holds any: no data goes.
const dropRoleOrTablespace: Handler = (ctx, _body, type) => [
  op(ctx, {
    kind: type === "DropRoleStmt" ? "drop-role" : "drop-tablespace",
    dataLoss: "recoverable",
    reason:
      type === "DropRoleStmt"
        ? "drops roles (their privileges go); PostgreSQL refuses while they own objects"
        : "drops an empty tablespace; PostgreSQL refuses while it holds any object",
  }),
];

const dropDatabase: Handler = (ctx, body) => [
  op(ctx, {
    kind: "drop-database",
    target: { type: "database", schema: null, name: str(child(body, "dbname")) ?? "" },
    missingOk: child(body, "missing_ok") === true,
    dataLoss: "destructive",
    reason: "drops the whole database",
  }),
];

const dropOwned: Handler = (ctx, body) => [
  op(ctx, {
    kind: "drop-owned",
    target: {
      type: "role",
      schema: null,
      name: list(child(body, "roles"))
        .map((r) => str(child(child(r, "RoleSpec"), "rolename")) ?? "")
        .join(", "),
    },
    cascadeRequested: child(body, "behavior") === "DROP_CASCADE",
    dataLoss: "destructive",
    reason: "drops every object owned by the role(s), with their data",
  }),
];

const alterTable: Handler = (ctx, body) => {
  const out: Operation[] = [];
  const target = refFromRangeVar(
    child(body, "objtype") === "OBJECT_TABLE" ? "table" : "relation",
    child(body, "relation"),
  );
  const missingOk = child(body, "missing_ok") === true;
  for (const cmdNode of list(child(body, "cmds"))) {
    const cmd = child(cmdNode, "AlterTableCmd");
    const subtype = str(child(cmd, "subtype")) ?? "";
    const column = str(child(cmd, "name"));
    const cascade = child(cmd, "behavior") === "DROP_CASCADE";
    const where = column ? `${target.name}.${column}` : target.name;
    switch (subtype) {
      case "AT_DropColumn":
        out.push(
          op(ctx, {
            kind: "alter-table-drop-column",
            target: { type: "column", schema: target.schema, name: where },
            cascadeRequested: cascade,
            missingOk,
            dataLoss: "destructive",
            reason: `drops column ${where} and its values`,
          }),
        );
        break;
      case "AT_AlterColumnType": {
        const def = child(child(cmd, "def"), "ColumnDef");
        const typeName = child(def, "typeName");
        out.push(
          op(ctx, {
            kind: "alter-column-type",
            target: { type: "column", schema: target.schema, name: where },
            missingOk,
            newType: {
              names: names(child(typeName, "names")),
              typmods: list(child(typeName, "typmods")).map((m) => {
                const value = constValue(m);
                return typeof value === "number" ? value : Number.NaN;
              }),
              array: list(child(typeName, "arrayBounds")).length > 0 || child(typeName, "setof") === true,
              using: child(def, "raw_default") !== undefined,
              collate: child(def, "collClause") !== undefined,
            },
            dataLoss: "destructive",
            reason: `changes the type of ${where}: values may be truncated, rounded or rewritten (possible loss)`,
          }),
        );
        break;
      }
      case "AT_DropConstraint":
        out.push(
          op(ctx, {
            kind: "alter-table-drop-constraint",
            target,
            cascadeRequested: cascade,
            missingOk,
            dataLoss: "recoverable",
            reason: `drops constraint ${column ?? ""}; it can be recreated (data no longer checked meanwhile)`,
          }),
        );
        break;
      case "AT_DropExpression":
        out.push(
          op(ctx, {
            kind: "alter-column-drop-expression",
            target: { type: "column", schema: target.schema, name: where },
            missingOk,
            dataLoss: "recoverable",
            reason: `${where} stops being generated; values stay`,
          }),
        );
        break;
      case "AT_SetNotNull":
      case "AT_AddConstraint":
      case "AT_ValidateConstraint":
        out.push(
          op(ctx, {
            kind: subtype === "AT_SetNotNull" ? "alter-column-set-not-null" : "alter-table-add-constraint",
            target,
            missingOk,
            dataLoss: "none",
            reason:
              "loses no data, but fails if existing rows violate it, and locks the table while it checks",
          }),
        );
        break;
      default:
        out.push(
          op(ctx, {
            kind: `alter-table`,
            target,
            missingOk,
            dataLoss: "none",
            reason: `${subtype.replace(/^AT_/, "")} changes no data`,
          }),
        );
    }
    nested(ctx, child(cmd, "def"), out, false);
  }
  return out;
};

const alterSequence: Handler = (ctx, body) => [
  op(ctx, {
    kind: "alter-sequence",
    target: refFromRangeVar("sequence", child(body, "sequence")),
    dataLoss: "recoverable",
    reason: "changes the sequence; a RESTART loses its position (restorable with setval)",
  }),
];

const view: Handler = (ctx, body) => {
  const out: Operation[] = [];
  nested(ctx, child(body, "query"), out, false);
  if (child(body, "replace") === true) {
    out.unshift(
      op(ctx, {
        kind: "replace-view",
        target: refFromRangeVar("view", child(body, "view")),
        dataLoss: "recoverable",
        reason: "replaces the view's definition",
      }),
    );
  }
  return out;
};

// Defining code changes no data now; a replaced function may be what an existing trigger,
// rule, default or constraint runs, so later DML in the script is not planned as known.
const createFunction: Handler = (ctx, body) => [
  op(ctx, {
    kind: "create-function",
    dataLoss: "none",
    reason:
      child(body, "replace") === true
        ? "defines code; changes no data by itself, but replacing a function changes what the triggers, rules, defaults and constraints that call it do: later INSERT/UPDATE/DELETE in this script are not known"
        : "defines code; changes no data by itself",
  }),
];

const createTrigger: Handler = (ctx, _body, type) => [
  op(ctx, {
    kind:
      type === "CreateTrigStmt"
        ? "create-trigger"
        : type === "RuleStmt"
          ? "create-rule"
          : "create-event-trigger",
    dataLoss: "none",
    reason: `changes no data by itself, but changes what later statements do: every later INSERT/UPDATE/DELETE/MERGE/COPY/TRUNCATE in this script is treated as unknown`,
  }),
];

export const DDL_HANDLERS: Record<string, Handler> = {
  DropStmt: drop,
  DropRoleStmt: dropRoleOrTablespace,
  DropTableSpaceStmt: dropRoleOrTablespace,
  DropdbStmt: dropDatabase,
  DropOwnedStmt: dropOwned,
  AlterTableStmt: alterTable,
  AlterSeqStmt: alterSequence,
  ViewStmt: view,
  CreateFunctionStmt: createFunction,
  CreateTrigStmt: createTrigger,
  RuleStmt: createTrigger,
  CreateEventTrigStmt: createTrigger,
};
