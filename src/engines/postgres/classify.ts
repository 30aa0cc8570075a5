import { createHash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import type { DataLoss, ObjectRef, Operation } from "../../core/plan/operation.js";
import { MASK, secrets } from "../../core/redact.js";
import { classifyMeta, splitPsql, type MetaCommand } from "./psql-meta.js";

/**
 * Static classification of SQL with the real PostgreSQL parser (libpg-query): every statement
 * becomes zero or more operations with a data-loss class. Whatever cannot be known statically
 * (DO blocks, CALL, EXECUTE, volatile functions, unparseable input) is `unknown`, which callers
 * treat as destructive: lifeline fails closed.
 */

type Node = Record<string, unknown>;

function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function child(node: unknown, key: string): unknown {
  return isNode(node) ? node[key] : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** ["Sales", "orders"] from a List of String nodes. */
function names(value: unknown): string[] {
  const items = isNode(value) && "List" in value ? list(child(value.List, "items")) : list(value);
  return items.map((item) => str(child(child(item, "String"), "sval")) ?? "").filter((s) => s !== "");
}

function refFromNames(type: string, parts: string[]): ObjectRef {
  const name = parts[parts.length - 1] ?? "";
  const schema = parts.length >= 2 ? (parts[parts.length - 2] ?? null) : null;
  return { type, schema, name };
}

function refFromRangeVar(type: string, rangeVar: unknown): ObjectRef {
  const rv = isNode(rangeVar) && "RangeVar" in rangeVar ? rangeVar.RangeVar : rangeVar;
  return { type, schema: str(child(rv, "schemaname")) ?? null, name: str(child(rv, "relname")) ?? "" };
}

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

/** Built-in functions that only read: calling them changes nothing. Anything else is checked. */
const READ_ONLY_FUNCTIONS = new Set(
  (
    "count sum min max avg now current_date current_timestamp clock_timestamp coalesce nullif greatest least lower upper " +
    "length char_length substr substring trim btrim ltrim rtrim replace concat concat_ws format to_char to_date " +
    "to_timestamp to_number date_trunc date_part extract age abs round ceil floor trunc random md5 sha256 encode decode " +
    "array_agg string_agg json_agg jsonb_agg json_build_object jsonb_build_object row_number rank dense_rank lag lead " +
    "generate_series unnest array_length cardinality position strpos split_part regexp_replace regexp_match " +
    "pg_size_pretty pg_relation_size pg_total_relation_size pg_database_size version current_setting exists bool_and " +
    "bool_or every string_to_array array_to_string jsonb_array_elements json_array_elements jsonb_each json_each " +
    "to_json to_jsonb make_interval make_date make_timestamp make_timestamptz gen_random_uuid uuid_generate_v4 " +
    "pg_sleep txid_current pg_backend_pid current_user session_user current_database current_schema lpad rpad " +
    "left right reverse initcap quote_ident quote_literal quote_nullable"
  ).split(/\s+/),
);

/** Functions that destroy data themselves. */
const DESTRUCTIVE_FUNCTIONS: Record<string, string> = {
  lo_unlink: "removes a large object and its data",
  pg_drop_replication_slot: "drops a replication slot (consumers lose their position)",
  dblink_exec: "runs arbitrary SQL on another database",
  pg_truncate_visibility_map: "discards visibility information",
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

/** A TypeName node as SQL text PostgreSQL can read back (for regprocedure look-ups): "pg_catalog.int4[]". */
function typeNameText(node: unknown): string {
  const t = isNode(node) && "TypeName" in node ? node.TypeName : node;
  const base = names(child(t, "names"))
    .map((part) => `"${part.replace(/"/g, '""')}"`)
    .join(".");
  const setof = child(t, "setof") === true ? "SETOF " : "";
  return `${setof}${base}${"[]".repeat(list(child(t, "arrayBounds")).length)}`;
}

const SAVEPOINT_KINDS = new Set(["TRANS_STMT_SAVEPOINT", "TRANS_STMT_RELEASE", "TRANS_STMT_ROLLBACK_TO"]);

interface Context {
  statementIndex: number;
  statement: string;
  normalized: string;
}

function op(
  ctx: Context,
  fields: Partial<Operation> & Pick<Operation, "kind" | "dataLoss" | "reason">,
): Operation {
  return {
    statementIndex: ctx.statementIndex,
    statement: ctx.statement,
    normalized: ctx.normalized,
    target: null,
    cascadeRequested: false,
    missingOk: false,
    filter: null,
    ...fields,
  };
}

function constValue(node: unknown): string | boolean | number | null | undefined {
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

function sameExpression(a: unknown, b: unknown): boolean {
  const strip = (n: unknown): string =>
    JSON.stringify(n, (key, value: unknown) => (key === "location" ? undefined : value));
  return strip(a) === strip(b);
}

/**
 * Whether a WHERE clause keeps every row: TRUE, 1 = 1, 'a' = 'a', x = x (not NULL-safe, but the
 * intent is "all"), NOT FALSE, and OR/AND combinations of those.
 */
export function alwaysTrue(expr: unknown): boolean {
  const value = constValue(expr);
  if (value === true || value === "t" || value === "true") return true;
  const bool = child(expr, "BoolExpr");
  if (isNode(bool)) {
    const args = list(bool.args);
    if (bool.boolop === "OR_EXPR") return args.some(alwaysTrue);
    if (bool.boolop === "AND_EXPR") return args.length > 0 && args.every(alwaysTrue);
    if (bool.boolop === "NOT_EXPR") return args.length === 1 && constValue(args[0]) === false;
  }
  const a = child(expr, "A_Expr");
  if (isNode(a) && a.kind === "AEXPR_OP") {
    const operator = names(a.name).join(".");
    const l = constValue(a.lexpr);
    const r = constValue(a.rexpr);
    if (operator === "=" && l !== undefined && l !== null && l === r) return true;
    if (operator === "=" && sameExpression(a.lexpr, a.rexpr) && isNode(child(a.lexpr, "ColumnRef")))
      return true;
    if (
      (operator === "<>" || operator === "!=") &&
      l !== undefined &&
      r !== undefined &&
      l !== null &&
      r !== null &&
      l !== r
    )
      return true;
  }
  const nullTest = child(expr, "NullTest");
  if (isNode(nullTest) && nullTest.nulltesttype === "IS_NOT_NULL" && constValue(nullTest.arg) !== undefined) {
    return constValue(nullTest.arg) !== null;
  }
  return false;
}

function filterOf(where: unknown): Operation["filter"] {
  if (where === undefined) return "all-rows";
  return alwaysTrue(where) ? "always-true" : "filtered";
}

/** Walks any subtree for function calls and data-modifying statements nested in it. */
function nested(ctx: Context, node: unknown, out: Operation[], top: boolean): void {
  if (Array.isArray(node)) {
    for (const item of node) nested(ctx, item, out, false);
    return;
  }
  if (!isNode(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (
      !top &&
      (key === "DeleteStmt" || key === "UpdateStmt" || key === "InsertStmt" || key === "MergeStmt")
    ) {
      out.push(...classifyStatement(ctx, { [key]: value }));
      continue;
    }
    if (key === "FuncCall" && isNode(value)) {
      const fname = names(value.funcname);
      const name = (fname[fname.length - 1] ?? "").toLowerCase();
      const schema = fname.length > 1 ? fname[0] : undefined;
      if (DESTRUCTIVE_FUNCTIONS[name] && (!schema || schema === "pg_catalog")) {
        out.push(
          op(ctx, {
            kind: "function-call",
            dataLoss: "destructive",
            reason: `${name}() ${DESTRUCTIVE_FUNCTIONS[name]}`,
            target: { type: "function", schema: schema ?? null, name },
          }),
        );
      } else if (!READ_ONLY_FUNCTIONS.has(name) || (schema && schema !== "pg_catalog")) {
        out.push(
          op(ctx, {
            kind: "function-call",
            dataLoss: "unknown",
            reason: `calls ${fname.join(".")}(), which may modify data; lifeline cannot tell statically`,
            target: { type: "function", schema: schema ?? null, name: fname[fname.length - 1] ?? "" },
          }),
        );
      }
    }
    nested(ctx, value, out, false);
  }
}

function classifyStatement(ctx: Context, stmt: unknown): Operation[] {
  if (!isNode(stmt)) return [];
  const [type, body] = Object.entries(stmt)[0] ?? ["", undefined];
  const out: Operation[] = [];
  switch (type) {
    case "DropStmt": {
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
    }
    case "DropRoleStmt":
    case "DropTableSpaceStmt":
      // PostgreSQL refuses while the role owns objects or the tablespace holds any: no data goes.
      return [
        op(ctx, {
          kind: type === "DropRoleStmt" ? "drop-role" : "drop-tablespace",
          dataLoss: "recoverable",
          reason:
            type === "DropRoleStmt"
              ? "drops roles (their privileges go); PostgreSQL refuses while they own objects"
              : "drops an empty tablespace; PostgreSQL refuses while it holds any object",
        }),
      ];
    case "DropdbStmt":
      return [
        op(ctx, {
          kind: "drop-database",
          target: { type: "database", schema: null, name: str(child(body, "dbname")) ?? "" },
          missingOk: child(body, "missing_ok") === true,
          dataLoss: "destructive",
          reason: "drops the whole database",
        }),
      ];
    case "DropOwnedStmt":
      return [
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
    case "TruncateStmt":
      for (const relation of list(child(body, "relations"))) {
        const rv = child(relation, "RangeVar");
        out.push(
          op(ctx, {
            kind: "truncate",
            target: refFromRangeVar("table", rv),
            cascadeRequested: child(body, "behavior") === "DROP_CASCADE",
            filter: "all-rows",
            dataLoss: "destructive",
            ...(child(rv, "inh") !== true ? { only: true } : {}),
            reason: `removes every row${child(rv, "inh") !== true ? " (ONLY this table)" : ""}${child(body, "behavior") === "DROP_CASCADE" ? ", and every row of tables referencing it (CASCADE)" : ""}${child(body, "restart_seqs") === true ? "; restarts owned sequences" : ""}`,
          }),
        );
      }
      return out;
    case "DeleteStmt":
    case "UpdateStmt": {
      const filter = filterOf(child(body, "whereClause"));
      const verb = type === "DeleteStmt" ? "delete" : "update";
      out.push(
        op(ctx, {
          kind: verb,
          target: refFromRangeVar("table", child(body, "relation")),
          ...(child(child(body, "relation"), "inh") !== true ? { only: true } : {}),
          filter,
          dataLoss: "destructive",
          reason:
            filter === "filtered"
              ? `${verb === "delete" ? "deletes" : "overwrites"} the rows matching its WHERE clause`
              : `${verb === "delete" ? "deletes" : "overwrites"} every row${filter === "always-true" ? " (its WHERE clause is always true)" : " (no WHERE clause)"}`,
        }),
      );
      nested(
        ctx,
        {
          withClause: child(body, "withClause"),
          whereClause: child(body, "whereClause"),
          targetList: child(body, "targetList"),
          fromClause: child(body, "fromClause"),
          usingClause: child(body, "usingClause"),
        },
        out,
        true,
      );
      return out;
    }
    case "InsertStmt": {
      const action = str(child(child(body, "onConflictClause"), "action"));
      if (action === "ONCONFLICT_UPDATE") {
        out.push(
          op(ctx, {
            kind: "upsert",
            target: refFromRangeVar("table", child(body, "relation")),
            filter: "filtered",
            dataLoss: "destructive",
            reason: "ON CONFLICT DO UPDATE overwrites existing rows",
          }),
        );
      }
      nested(
        ctx,
        { withClause: child(body, "withClause"), selectStmt: child(body, "selectStmt") },
        out,
        true,
      );
      // The insert itself stays an operation: its target's triggers and rules are checked on impact.
      if (action !== "ONCONFLICT_UPDATE") {
        out.push(
          op(ctx, {
            kind: "insert",
            target: refFromRangeVar("table", child(body, "relation")),
            dataLoss: "none",
            reason: "adds rows; changes no existing data",
          }),
        );
      }
      return out;
    }
    case "MergeStmt": {
      const clauses = list(child(body, "mergeWhenClauses")).map((c) => child(c, "MergeWhenClause"));
      const insertsOnly = clauses.every((c) => {
        const command = str(child(c, "commandType"));
        return command === "CMD_INSERT" || command === "CMD_NOTHING";
      });
      out.push(
        op(ctx, {
          kind: "merge",
          target: refFromRangeVar("table", child(body, "relation")),
          filter: "filtered",
          dataLoss: insertsOnly ? "none" : "destructive",
          reason: insertsOnly
            ? "MERGE that only inserts (WHEN … THEN INSERT / DO NOTHING): adds rows; changes no existing data"
            : "MERGE may update or delete matching rows",
        }),
      );
      nested(
        ctx,
        {
          withClause: child(body, "withClause"),
          sourceRelation: child(body, "sourceRelation"),
          joinCondition: child(body, "joinCondition"),
          mergeWhenClauses: child(body, "mergeWhenClauses"),
        },
        out,
        true,
      );
      return out;
    }
    case "ExplainStmt": {
      const analyze = list(child(body, "options")).some((o) => {
        const def = child(o, "DefElem");
        if (str(child(def, "defname"))?.toLowerCase() !== "analyze") return false;
        const arg = child(def, "arg");
        const flag = child(arg, "Boolean");
        if (isNode(flag)) return flag.boolval === true;
        const value = (
          str(child(child(arg, "String"), "sval")) ?? String(child(child(arg, "Integer"), "ival") ?? "")
        ).toLowerCase();
        return !["false", "off", "0", "no"].includes(value);
      });
      const inner = classifyStatement(ctx, child(body, "query"));
      if (analyze)
        return inner.length > 0 ? inner : [op(ctx, { kind: "read", dataLoss: "none", reason: "reads only" })];
      // Without ANALYZE the statement is planned, not run: only functions the planner may evaluate matter.
      const calls = inner.filter((o) => o.kind === "function-call");
      return calls.length > 0
        ? calls
        : [
            op(ctx, {
              kind: "read",
              dataLoss: "none",
              reason: "EXPLAIN without ANALYZE plans the statement and does not run it",
            }),
          ];
    }
    case "AlterTableStmt": {
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
                kind:
                  subtype === "AT_SetNotNull" ? "alter-column-set-not-null" : "alter-table-add-constraint",
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
    }
    case "AlterSeqStmt":
      return [
        op(ctx, {
          kind: "alter-sequence",
          target: refFromRangeVar("sequence", child(body, "sequence")),
          dataLoss: "recoverable",
          reason: "changes the sequence; a RESTART loses its position (restorable with setval)",
        }),
      ];
    case "ViewStmt":
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
    case "DoStmt":
      return [
        op(ctx, {
          kind: "unknown",
          dataLoss: "unknown",
          reason: "a DO block runs procedural code lifeline cannot analyse",
        }),
      ];
    case "CallStmt": {
      const fname = names(
        child(child(child(body, "funccall"), "FuncCall") ?? child(body, "funccall"), "funcname"),
      );
      return [
        op(ctx, {
          kind: "unknown",
          target: refFromNames("procedure", fname),
          dataLoss: "unknown",
          reason: `CALL ${fname.join(".")}: a procedure may do anything`,
        }),
      ];
    }
    case "ExecuteStmt":
      return [
        op(ctx, {
          kind: "unknown",
          dataLoss: "unknown",
          reason: "EXECUTE of a prepared statement lifeline has not seen",
        }),
      ];
    case "CreateFunctionStmt":
      // Defining code changes no data now; a replaced function may be what an existing trigger,
      // rule, default or constraint runs, so later DML in the script is not planned as known.
      return [
        op(ctx, {
          kind: "create-function",
          dataLoss: "none",
          reason:
            child(body, "replace") === true
              ? "defines code; changes no data by itself, but replacing a function changes what the triggers, rules, defaults and constraints that call it do: later INSERT/UPDATE/DELETE in this script are not known"
              : "defines code; changes no data by itself",
        }),
      ];
    case "CreateTrigStmt":
    case "RuleStmt":
    case "CreateEventTrigStmt":
      return [
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
    case "TransactionStmt": {
      const kind = str(child(body, "kind")) ?? "";
      if (SAVEPOINT_KINDS.has(kind)) {
        return [
          op(ctx, {
            kind: "savepoint",
            dataLoss: "none",
            reason: "a savepoint inside lifeline's transaction",
          }),
        ];
      }
      return [
        op(ctx, {
          kind: "transaction-control",
          dataLoss: "unknown",
          reason: `${kind.replace(/^TRANS_STMT_/, "").replace(/_/g, " ")} controls transactions itself: lifeline runs the SQL as one transaction, and refuses to run this`,
        }),
      ];
    }
    case "CopyStmt": {
      const filename = str(child(body, "filename"));
      const isFrom = child(body, "is_from") === true;
      if (child(body, "is_program") === true) {
        return [
          op(ctx, {
            kind: "copy-program",
            target: child(body, "relation") ? refFromRangeVar("table", child(body, "relation")) : null,
            dataLoss: "unknown",
            reason: `COPY … ${isFrom ? "FROM" : "TO"} PROGRAM runs a shell command on the database server`,
          }),
        ];
      }
      if (filename !== undefined) {
        return [
          op(ctx, {
            kind: "copy-file",
            target: child(body, "relation") ? refFromRangeVar("table", child(body, "relation")) : null,
            dataLoss: "unknown",
            reason: `COPY … ${isFrom ? "FROM" : "TO"} a file ${isFrom ? "reads" : "writes (or overwrites)"} a file on the database server`,
          }),
        ];
      }
      nested(ctx, { query: child(body, "query"), whereClause: child(body, "whereClause") }, out, false);
      if (isFrom) {
        out.push(
          op(ctx, {
            kind: "copy-from",
            target: refFromRangeVar("table", child(body, "relation")),
            dataLoss: "none",
            reason: "adds rows sent by the client (COPY FROM STDIN); changes no existing data",
          }),
        );
      } else if (out.length === 0) {
        out.push(op(ctx, { kind: "read", dataLoss: "none", reason: "reads only (COPY TO STDOUT)" }));
      }
      return out;
    }
    case "SelectStmt":
    case "CreateStmt":
    case "CreateTableAsStmt":
    case "IndexStmt":
    case "CreateSeqStmt":
    case "CreateSchemaStmt":
    case "CompositeTypeStmt":
    case "CreateEnumStmt":
    case "CreateDomainStmt":
    case "CreateRangeStmt":
    case "CreateExtensionStmt":
    case "CommentStmt":
    case "GrantStmt":
    case "GrantRoleStmt":
    case "VariableSetStmt":
    case "VariableShowStmt":
    case "VacuumStmt":
    case "ClusterStmt":
    case "ReindexStmt":
    case "RenameStmt":
    case "AlterEnumStmt":
    case "AlterOwnerStmt":
    case "AlterObjectSchemaStmt":
    case "LockStmt":
    case "RefreshMatViewStmt":
    case "CreatePolicyStmt":
    case "AlterDefaultPrivilegesStmt":
    case "CreateStatsStmt":
    case "PrepareStmt":
    case "DeallocateStmt":
    case "NotifyStmt":
    case "ListenStmt":
    case "CheckPointStmt":
    case "AnalyzeStmt":
    case "CreateRoleStmt":
    case "AlterRoleStmt":
    case "DefineStmt":
    case "AlterDomainStmt":
    case "DiscardStmt":
    case "CreateCastStmt":
    case "CreateConversionStmt":
    case "CreateForeignTableStmt":
    case "CreateFdwStmt":
    case "CreateForeignServerStmt":
    case "CreateUserMappingStmt":
    case "CreatePublicationStmt":
    case "AlterPublicationStmt":
    case "CreateTableSpaceStmt":
    case "CreatedbStmt":
    case "CreateOpClassStmt":
    case "CreateOpFamilyStmt":
    case "CreateTransformStmt":
    case "CreatePLangStmt":
    case "AlterTableSpaceOptionsStmt":
    case "AlterStatsStmt":
    case "AlterOperatorStmt":
    case "AlterTypeStmt":
    case "AlterCollationStmt":
    case "AlterPolicyStmt":
    case "ReassignOwnedStmt":
    case "AlterDatabaseSetStmt":
    case "AlterDatabaseStmt":
    case "AlterRoleSetStmt":
    case "ImportForeignSchemaStmt":
    case "SecLabelStmt":
    case "AlterForeignServerStmt":
    case "AlterFdwStmt":
    case "AlterUserMappingStmt":
    case "AlterTSDictionaryStmt":
    case "AlterTSConfigurationStmt":
    case "CreateAmStmt":
    case "AlterOpFamilyStmt":
      nested(ctx, body, out, false);
      if (out.length === 0) {
        const readOnly = type === "SelectStmt" || type === "VariableShowStmt";
        out.push(
          op(ctx, {
            kind: readOnly ? "read" : kebab(type),
            dataLoss: "none",
            reason: readOnly ? "reads only" : "changes no existing data",
          }),
        );
      }
      return out;
    default:
      return [
        op(ctx, {
          kind: "unknown",
          dataLoss: "unknown",
          reason: `${type || "this statement"} is not one lifeline knows; treated as destructive`,
        }),
      ];
  }
}

function kebab(type: string): string {
  return type
    .replace(/Stmt$/, "")
    .replace(/([a-z])([A-Z])/g, "$1-$2")
    .toLowerCase();
}

type Parse = (sql: string) => unknown;
let loaded: Promise<void> | undefined;
let parseSync: Parse = () => {
  throw new Error("the SQL parser is not loaded: call loadParser() first");
};

/**
 * Loads the parser (WebAssembly) once, and only for commands that parse SQL.
 *
 * V8 compiles WebAssembly twice by default: a quick baseline (Liftoff), then the optimizing
 * compiler (TurboFan) on background threads. For the parser's 1.1 MB module the second pass
 * costs about 250 ms of CPU in every CLI process, competing with the database connection and
 * the catalog reads on a small machine (plan end to end: 0.45 s → 0.34 s without it). The
 * baseline code parses a migration in a few milliseconds, so only it is kept. The flag is read
 * when a module is compiled, and this is the only WebAssembly lifeline loads.
 */
export function loadParser(): Promise<void> {
  loaded ??= import("libpg-query").then(async (parser) => {
    setFlagsFromString("--liftoff-only");
    await parser.loadModule();
    parseSync = parser.parseSync as Parse;
  });
  return loaded;
}

interface ParsedStatement {
  stmt: unknown;
  stmt_location?: number;
  stmt_len?: number;
}

/** Operations that change rows of a table: triggers and rules on it run with them. */
export const DML_KINDS = new Set(["insert", "upsert", "update", "delete", "merge", "copy-from", "truncate"]);

/** Session settings that change which objects later statements reach, or which triggers fire. */
const SESSION_SETTINGS = new Set([
  "search_path",
  "role",
  "session_authorization",
  "session_replication_role",
]);

const TRIGGER_ENABLING = new Set([
  "AT_EnableTrig",
  "AT_EnableAlwaysTrig",
  "AT_EnableReplicaTrig",
  "AT_EnableTrigAll",
  "AT_EnableTrigUser",
  "AT_EnableRule",
  "AT_EnableAlwaysRule",
  "AT_EnableReplicaRule",
]);

/** What earlier statements of a script changed that makes later ones unplannable. */
interface ScriptState {
  /** Why the session changed (search_path, role, …), once it did. */
  session: string | null;
  /** Why DML no longer does only what it says (a trigger or rule was created), once it did. */
  triggers: string | null;
  /** Relation (and other object) names created, renamed or dropped earlier. */
  names: Set<string>;
  /** Schemas created, renamed or dropped earlier. */
  schemas: Set<string>;
  /**
   * Tables created earlier in this script (plain CREATE, no IF NOT EXISTS): if that CREATE
   * succeeded, the table is new, so nothing that existed before the script is lost with it.
   */
  fresh: Set<string>;
}

function escalate(operation: Operation, why: string): Operation {
  if (operation.dataLoss === "unknown" && operation.reason.startsWith(why)) return operation;
  return { ...operation, dataLoss: "unknown", reason: `${why} (otherwise: ${operation.reason})` };
}

function targetChanged(state: ScriptState, target: ObjectRef | null): boolean {
  if (!target || target.type === "function" || target.type === "procedure") return false;
  if (target.schema === null ? state.schemas.size > 0 : state.schemas.has(target.schema)) return true;
  for (const name of state.names) {
    if (target.name === name || (target.type === "column" && target.name.startsWith(`${name}.`))) return true;
  }
  return false;
}

/** Applies what earlier statements did to this statement's operations. */
function applyState(state: ScriptState, operations: Operation[]): Operation[] {
  return operations.map((operation) => {
    let o = operation;
    const name = o.target?.type === "column" ? o.target.name.split(".")[0] : o.target?.name;
    // Same schema as written: an unqualified name resolves where an unqualified CREATE put it.
    const fresh =
      name !== undefined &&
      state.fresh.has(`${o.target?.schema ?? ""}.${name}`) &&
      (o.target?.schema === null || !state.schemas.has(o.target?.schema ?? ""));
    if (fresh) o = { ...o, createdEarlier: true };
    if (fresh && (o.dataLoss === "destructive" || o.dataLoss === "recoverable")) {
      // A table this script creates holds only what the script put there: nothing earlier is lost.
      o = {
        ...o,
        dataLoss: "none",
        reason: `${name} is created earlier in this script: nothing that existed before is lost (otherwise: ${o.reason})`,
      };
    }
    if (state.session) {
      o = escalate(
        o,
        `runs after ${state.session} earlier in this script: the plan cannot tell which objects it reaches`,
      );
    }
    if (state.triggers && DML_KINDS.has(o.kind)) {
      o = escalate(o, `runs after ${state.triggers} earlier in this script: what it does now is not known`);
    }
    if (!fresh && targetChanged(state, o.target)) {
      o = escalate(o, "its target is changed earlier in this script: the plan cannot resolve it");
    }
    return o;
  });
}

function rangeVarName(node: unknown): string | undefined {
  const rv = isNode(node) && "RangeVar" in node ? node.RangeVar : node;
  return str(child(rv, "relname"));
}

/** Records what one statement changes for the statements after it. */
function updateState(state: ScriptState, stmt: unknown): void {
  if (!isNode(stmt)) return;
  const [type, body] = Object.entries(stmt)[0] ?? ["", undefined];
  const addName = (name: string | undefined) => {
    if (!name) return;
    state.names.add(name);
    // Renamed, dropped or moved: no longer the table this script created.
    for (const key of [...state.fresh]) if (key.endsWith(`.${name}`)) state.fresh.delete(key);
  };
  switch (type) {
    case "VariableSetStmt": {
      const name = str(child(body, "name"));
      if (child(body, "kind") === "VAR_RESET_ALL") state.session ??= "RESET ALL";
      else if (name && SESSION_SETTINGS.has(name.toLowerCase()))
        state.session ??= `a SET/RESET of ${name.toLowerCase()}`;
      break;
    }
    case "DiscardStmt":
      state.session ??= "DISCARD";
      break;
    case "CreateTrigStmt":
      state.triggers ??= "CREATE TRIGGER";
      break;
    case "RuleStmt":
      state.triggers ??= "CREATE RULE";
      break;
    case "CreateEventTrigStmt":
    case "AlterEventTrigStmt":
      state.triggers ??= "an event trigger";
      break;
    case "CreateFunctionStmt":
      if (child(body, "replace") === true) state.triggers ??= "CREATE OR REPLACE FUNCTION";
      break;
    case "AlterFunctionStmt":
      state.triggers ??= "ALTER FUNCTION";
      break;
    case "AlterTableStmt":
      for (const cmd of list(child(body, "cmds"))) {
        if (TRIGGER_ENABLING.has(str(child(child(cmd, "AlterTableCmd"), "subtype")) ?? ""))
          state.triggers ??= "ALTER TABLE … ENABLE TRIGGER/RULE";
      }
      break;
    case "CreateStmt": {
      const created = rangeVarName(child(body, "relation"));
      const schema = str(
        child(child(child(body, "relation"), "RangeVar") ?? child(body, "relation"), "schemaname"),
      );
      // CREATE TABLE IF NOT EXISTS may keep an existing table with its rows: that one is "changed".
      addName(created);
      if (created && child(body, "if_not_exists") !== true) state.fresh.add(`${schema ?? ""}.${created}`);
      break;
    }
    case "CreateForeignTableStmt":
      addName(rangeVarName(child(child(body, "base"), "relation")));
      break;
    case "CreateTableAsStmt":
      addName(
        rangeVarName(
          child(child(child(body, "into"), "IntoClause"), "rel") ?? child(child(body, "into"), "rel"),
        ),
      );
      break;
    case "ViewStmt":
      addName(rangeVarName(child(body, "view")));
      break;
    case "CreateSeqStmt":
      addName(rangeVarName(child(body, "sequence")));
      break;
    case "CompositeTypeStmt":
      addName(rangeVarName(child(body, "typevar")));
      break;
    case "IndexStmt":
      addName(str(child(body, "idxname")));
      break;
    case "CreateSchemaStmt": {
      const schema = str(child(body, "schemaname"));
      if (schema) state.schemas.add(schema);
      break;
    }
    case "DropStmt":
      for (const object of list(child(body, "objects"))) {
        const parts =
          isNode(object) && "TypeName" in object ? names(child(object.TypeName, "names")) : names(object);
        const name = parts[parts.length - 1] ?? str(child(child(object, "String"), "sval"));
        if (child(body, "removeType") === "OBJECT_SCHEMA") {
          if (name) state.schemas.add(name);
        } else addName(name);
      }
      break;
    case "RenameStmt": {
      const newname = str(child(body, "newname"));
      if (child(body, "renameType") === "OBJECT_SCHEMA") {
        for (const schema of [str(child(body, "subname")), newname]) if (schema) state.schemas.add(schema);
        break;
      }
      addName(rangeVarName(child(body, "relation")));
      const objectNames = names(child(body, "object"));
      addName(objectNames[objectNames.length - 1]);
      addName(newname);
      break;
    }
    case "AlterObjectSchemaStmt": {
      addName(rangeVarName(child(body, "relation")));
      const objectNames = names(child(body, "object"));
      addName(objectNames[objectNames.length - 1]);
      break;
    }
    default:
      break;
  }
  // set_config('search_path', …) anywhere changes the session too.
  if (JSON.stringify(stmt).includes('"sval":"set_config"')) state.session ??= "set_config()";
}

/** The byte span of the first string literal at or after `from` ('…', E'…', U&'…', $tag$…$tag$). */
function literalSpan(bytes: Buffer, from: number, limit: number): [number, number] | null {
  for (let i = Math.max(0, from); i < limit; i++) {
    const c = bytes[i];
    if (c === 0x27) {
      const escapes = i > 0 && (bytes[i - 1] === 0x45 || bytes[i - 1] === 0x65);
      for (let j = i + 1; j < limit; j++) {
        if (escapes && bytes[j] === 0x5c) j++;
        else if (bytes[j] === 0x27) {
          if (bytes[j + 1] === 0x27) j++;
          else return [i, j + 1];
        }
      }
      return [i, limit];
    }
    if (c === 0x24) {
      const tag = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(
        bytes.subarray(i, Math.min(limit, i + 64)).toString("latin1"),
      );
      if (!tag) continue;
      const close = bytes.indexOf(tag[0], i + tag[0].length, "latin1");
      return [i, close < 0 || close >= limit ? limit : close + tag[0].length];
    }
  }
  return null;
}

/**
 * Passwords written in the SQL (ALTER ROLE … PASSWORD '…', USER MAPPING OPTIONS (password '…'),
 * connection strings with password=…): their values, and the byte spans of their literals.
 */
function findSecrets(
  tree: unknown,
  bytes: Buffer,
  limit: number,
): { values: string[]; spans: [number, number][] } {
  const values: string[] = [];
  const spans: [number, number][] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (!isNode(node)) return;
    const def = node.DefElem;
    if (isNode(def) && /password/i.test(str(def.defname) ?? "")) {
      const value =
        str(child(child(def.arg, "String"), "sval")) ??
        str(child(child(child(def.arg, "A_Const"), "sval"), "sval"));
      if (value !== undefined) {
        values.push(value);
        const location = typeof def.location === "number" ? def.location : -1;
        const span = location >= 0 ? literalSpan(bytes, location, limit) : null;
        if (span) spans.push(span);
      }
    }
    const constant = node.A_Const;
    if (isNode(constant)) {
      const value = str(child(constant.sval, "sval"));
      if (value !== undefined && /password\s*=/i.test(value)) {
        values.push(value);
        const match = /password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(value);
        if (match?.[1]) values.push(match[1].replace(/^'|'$/g, ""));
        const location = typeof constant.location === "number" ? constant.location : -1;
        const span = location >= 0 ? literalSpan(bytes, location, limit) : null;
        if (span) spans.push(span);
      }
    }
    for (const value of Object.values(node)) walk(value);
  };
  walk(tree);
  return { values, spans };
}

/** The statement's text with password literals masked; their values are registered as secrets. */
function statementText(bytes: Buffer, start: number, end: number, tree: unknown): string {
  const { values, spans } = findSecrets(tree, bytes, end);
  for (const value of values) secrets.add(value);
  const parts: Buffer[] = [];
  let at = start;
  for (const [from, to] of spans.filter(([from]) => from >= start).sort((a, b) => a[0] - b[0])) {
    if (from < at) continue;
    parts.push(bytes.subarray(at, from), Buffer.from(`'${MASK}'`));
    at = to;
  }
  parts.push(bytes.subarray(at, end));
  let text = Buffer.concat(parts).toString("utf8").trim();
  for (const value of values.filter((v) => v.length > 0).sort((a, b) => b.length - a.length))
    text = text.split(value).join(MASK);
  return text;
}

/** PASSWORD '…' in text that could not be parsed. */
const PASSWORD_LITERAL = /(\bpassword\w*\s*(?:=\s*)?)('(?:[^']|'')*'|\$\$[\s\S]*?\$\$)/gi;

/**
 * Classifies a SQL text into operations. Never throws on bad input: a parse error is one `unknown`
 * operation carrying the parser's message. Call loadParser() first.
 *
 * Statements are planned in order: once a statement changes the session (search_path, role),
 * creates a trigger or rule, or creates, renames or drops an object, the later statements that
 * depend on it are `unknown`, since the plan (made against the database as it is) cannot resolve them.
 * Password literals are masked in the statement text and registered as secrets.
 */
export function classifySql(input: string): Operation[] {
  if (input.trim() === "") return [];
  // psql meta-commands are blanked out (byte for byte) and planned on their own.
  const script = splitPsql(input);
  const sql = script.sql;
  let parsed: { stmts?: ParsedStatement[] };
  try {
    // Only meta-commands: nothing for the parser (which rejects an empty text).
    parsed =
      script.parseable.replace(/[\s;]+/g, "") === ""
        ? { stmts: [] }
        : (parseSync(script.parseable) as { stmts?: ParsedStatement[] });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return [
      {
        kind: "unknown",
        statementIndex: 0,
        statement: secrets.redact(
          input
            .trim()
            .slice(0, 500)
            .replace(PASSWORD_LITERAL, (_m, head: string) => `${head}'${MASK}'`),
        ),
        normalized: createHash("sha256").update(input.trim()).digest("hex"),
        target: null,
        dataLoss: "unknown",
        reason: `cannot be parsed as PostgreSQL SQL (${message}); treated as destructive`,
        cascadeRequested: false,
        missingOk: false,
        filter: null,
      },
    ];
  }
  // Locations are byte offsets into the UTF-8 text.
  const bytes = Buffer.from(sql, "utf8");
  const operations: Operation[] = [];
  const state: ScriptState = {
    session: null,
    triggers: null,
    names: new Set(),
    schemas: new Set(),
    fresh: new Set(),
  };
  type Entry = { offset: number; statement: ParsedStatement } | { offset: number; meta: MetaCommand };
  const entries: Entry[] = [
    ...(parsed.stmts ?? []).map((statement) => ({
      offset: sqlStart(bytes, statement.stmt_location ?? 0),
      statement,
    })),
    ...script.metas.map((meta) => ({ offset: meta.offset, meta })),
  ].sort((a, b) => a.offset - b.offset);
  // \gexec runs what the statement before it returns: that statement is not known.
  const gexecAfter = new Map<ParsedStatement, MetaCommand>();
  for (const meta of script.metas.filter((m) => m.name === "gexec")) {
    const before = (parsed.stmts ?? []).filter((st) => (st.stmt_location ?? 0) < meta.offset).pop();
    if (before) gexecAfter.set(before, meta);
  }
  entries.forEach((item, statementIndex) => {
    if ("meta" in item) {
      operations.push(...applyState(state, classifyMetaCommand(item.meta, statementIndex)));
      const effect = classifyMeta(item.meta);
      if (effect.kind === "unknown" && effect.laterStatements) state.session ??= effect.laterStatements;
      return;
    }
    const entry = item.statement;
    const start = entry.stmt_location ?? 0;
    const end = entry.stmt_len ? start + entry.stmt_len : bytes.length;
    const statement = statementText(bytes, start, end, entry.stmt);
    const tree = JSON.stringify(entry.stmt, (key, value: unknown) =>
      key === "location" ? undefined : value,
    );
    const normalized = createHash("sha256").update(tree).digest("hex");
    const ctx = { statementIndex, statement, normalized };
    let classified = classifyStatement(ctx, entry.stmt);
    // Every statement is in the plan, also those that change nothing (CREATE VIEW, …).
    if (classified.length === 0) {
      const type = isNode(entry.stmt) ? (Object.keys(entry.stmt)[0] ?? "") : "";
      classified.push(
        op(ctx, {
          kind: type === "ViewStmt" ? "create-view" : kebab(type),
          dataLoss: "none",
          reason: "changes no existing data",
        }),
      );
    }
    const substituted = script.interpolations.filter((v) => v.offset >= start && v.offset < end);
    if (substituted.length > 0) {
      const where = substituted.map((v) => `${v.text} (line ${v.line})`).join(", ");
      classified = classified.map((o) =>
        escalate(
          o,
          `psql substitutes ${where} before the statement runs: lifeline cannot tell what it becomes`,
        ),
      );
    }
    const gexec = gexecAfter.get(entry);
    if (gexec) {
      classified = classified.map((o) =>
        escalate(o, `line ${gexec.line}: \\gexec runs every value this statement returns as SQL`),
      );
    }
    operations.push(...applyState(state, classified));
    updateState(state, entry.stmt);
  });
  return operations;
}

/** Where a statement's text begins: after the blanks and comments its location includes. */
function sqlStart(bytes: Buffer, from: number): number {
  let i = from;
  while (i < bytes.length) {
    const c = bytes[i];
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c) i++;
    else if (c === 0x2d && bytes[i + 1] === 0x2d) {
      while (i < bytes.length && bytes[i] !== 0x0a) i++;
    } else if (c === 0x2f && bytes[i + 1] === 0x2a) {
      let depth = 0;
      while (i < bytes.length) {
        if (bytes[i] === 0x2f && bytes[i + 1] === 0x2a) {
          depth++;
          i += 2;
        } else if (bytes[i] === 0x2a && bytes[i + 1] === 0x2f) {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else i++;
      }
    } else break;
  }
  return i;
}

/** The operation of one psql meta-command (\copy is planned as the COPY it runs). */
function classifyMetaCommand(meta: MetaCommand, statementIndex: number): Operation[] {
  const ctx: Context = {
    statementIndex,
    statement: secrets.redact(meta.text),
    normalized: createHash("sha256").update(`psql:${meta.text}`).digest("hex"),
  };
  for (const secret of meta.secrets) secrets.add(secret);
  const effect = classifyMeta(meta);
  if (effect.kind === "copy") {
    try {
      const parsed = parseSync(effect.sql) as { stmts?: ParsedStatement[] };
      const [first] = parsed.stmts ?? [];
      if (first && (parsed.stmts ?? []).length === 1 && isNode(first.stmt) && "CopyStmt" in first.stmt)
        return classifyStatement(ctx, first.stmt).map((o) => ({
          ...o,
          reason: `line ${meta.line}: \\copy (a file on the client): ${o.reason}`,
        }));
    } catch {
      // planned as unknown below
    }
    return [
      op(ctx, {
        kind: "psql-copy",
        dataLoss: "unknown",
        reason: `line ${meta.line}: \\copy that lifeline cannot read`,
      }),
    ];
  }
  return [
    op(ctx, {
      kind: `psql-${meta.name === "!" ? "shell" : meta.name || "meta"}`,
      dataLoss: effect.kind,
      reason: effect.reason,
    }),
  ];
}

/**
 * Statements that end, start or prepare a transaction (COMMIT, ROLLBACK, BEGIN, END, PREPARE
 * TRANSACTION, COMMIT PREPARED …), found in the parse tree; savepoints are not among them. Empty
 * when there are none or the text cannot be parsed. Call loadParser() first.
 */
export function transactionControl(sql: string): string[] {
  let parsed: { stmts?: ParsedStatement[] };
  try {
    parsed = parseSync(sql) as { stmts?: ParsedStatement[] };
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of parsed.stmts ?? []) {
    const kind = str(child(child(entry.stmt, "TransactionStmt"), "kind"));
    if (kind && !SAVEPOINT_KINDS.has(kind)) found.push(kind.replace(/^TRANS_STMT_/, "").replace(/_/g, " "));
  }
  return found;
}

/** Words outside strings, quoted identifiers, comments and parentheses, with their byte offsets. */
function topLevelWords(bytes: Buffer): { word: string; at: number }[] {
  const words: { word: string; at: number }[] = [];
  let depth = 0;
  for (let i = 0; i < bytes.length;) {
    const c = bytes[i] ?? 0;
    if (c === 0x27 || c === 0x22) {
      for (i++; i < bytes.length; i++) {
        if (bytes[i] === c) {
          if (bytes[i + 1] === c) i++;
          else break;
        } else if (c === 0x27 && bytes[i] === 0x5c) i++;
      }
      i++;
    } else if (c === 0x2d && bytes[i + 1] === 0x2d) {
      while (i < bytes.length && bytes[i] !== 0x0a) i++;
    } else if (c === 0x2f && bytes[i + 1] === 0x2a) {
      const close = bytes.indexOf("*/", i + 2, "latin1");
      i = close < 0 ? bytes.length : close + 2;
    } else if (c === 0x24) {
      const span = literalSpan(bytes, i, bytes.length);
      i = span && span[0] === i ? span[1] : i + 1;
    } else if (c === 0x28) {
      depth++;
      i++;
    } else if (c === 0x29) {
      depth--;
      i++;
    } else if (/[A-Za-z_]/.test(String.fromCharCode(c))) {
      const start = i;
      while (i < bytes.length && /[A-Za-z0-9_$]/.test(String.fromCharCode(bytes[i] ?? 0))) i++;
      if (depth === 0)
        words.push({ word: bytes.subarray(start, i).toString("latin1").toLowerCase(), at: start });
    } else i++;
  }
  return words;
}

function withoutLocations(node: unknown): string {
  return JSON.stringify(node, (key, value: unknown) => (key === "location" ? undefined : value));
}

/**
 * The rows a DELETE would delete, as a SELECT of the given columns of its target (the same FROM,
 * USING and WHERE), so they can be counted in a read-only transaction instead of deleting them.
 * The SELECT is parsed back and checked to read exactly what the DELETE names; null when it cannot
 * be built (WHERE CURRENT OF, an unusual spelling): then the caller gives a bound, not a count.
 * Call loadParser() first.
 */
export function deleteAsSelect(statement: string): ((columns: string[]) => string) | null {
  let body: unknown;
  try {
    const parsed = parseSync(statement) as { stmts?: ParsedStatement[] };
    if ((parsed.stmts ?? []).length !== 1) return null;
    body = child(parsed.stmts?.[0]?.stmt, "DeleteStmt");
  } catch {
    return null;
  }
  if (!isNode(body) || isNode(child(body.whereClause, "CurrentOfExpr"))) return null;
  const relation = body.relation;
  const relLocation = child(relation, "location");
  if (typeof relLocation !== "number") return null;
  const bytes = Buffer.from(statement, "utf8");
  const words = topLevelWords(bytes);
  const deleteWord = words.filter((w) => w.word === "delete" && w.at < relLocation).pop();
  if (!deleteWord) return null;
  const using = list(body.usingClause);
  const firstUsing = child(child(using[0], "RangeVar") ?? using[0], "location");
  let usingWord: { at: number } | undefined;
  if (using.length > 0) {
    usingWord = words.find(
      (w) =>
        w.word === "using" && w.at > relLocation && (typeof firstUsing !== "number" || w.at < firstUsing),
    );
    if (!usingWord) return null;
  }
  const returning = words.find((w) => w.word === "returning" && w.at > relLocation);
  const end = returning ? returning.at : bytes.length;
  const only = child(relation, "inh") !== true;
  const alias = str(child(child(relation, "alias"), "aliasname")) ?? str(child(relation, "relname")) ?? "";
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const text = (from: number, to: number) => bytes.subarray(from, to).toString("utf8");
  const tail = usingWord
    ? `${text(relLocation, usingWord.at).trimEnd()}, ${text(usingWord.at + 5, end).trimStart()}`
    : text(relLocation, end);
  const build = (columns: string[]) =>
    `${text(0, deleteWord.at)}SELECT ${columns.map((c) => `${quote(alias)}.${quote(c)}`).join(", ") || "1"} FROM ${only ? "ONLY " : ""}${tail.replace(/;\s*$/, "")}`;
  // Parsed back, the SELECT must read what the DELETE names.
  try {
    const select = child(
      (parseSync(build(["x"])) as { stmts?: ParsedStatement[] }).stmts?.[0]?.stmt,
      "SelectStmt",
    );
    const from = list(child(select, "fromClause"));
    const same =
      from.length === using.length + 1 &&
      withoutLocations(child(from[0], "RangeVar")) === withoutLocations(relation) &&
      withoutLocations(from.slice(1)) === withoutLocations(using) &&
      withoutLocations(child(select, "whereClause")) === withoutLocations(body.whereClause) &&
      withoutLocations(child(select, "withClause")) === withoutLocations(body.withClause);
    return same ? build : null;
  } catch {
    return null;
  }
}
