import { createHash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import type { DataLoss, ObjectRef, Operation } from "../../core/operation.js";

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
        const parts =
          isNode(object) && "TypeName" in object ? names(child(object.TypeName, "names")) : names(object);
        const target = refFromNames(
          known?.type ?? removeType.replace(/^OBJECT_/, "").toLowerCase(),
          parts.length > 0 ? parts : [str(child(child(object, "String"), "sval")) ?? "?"],
        );
        out.push(
          op(ctx, {
            kind: `drop-${target.type.replace(/ /g, "-")}`,
            target,
            cascadeRequested: cascade,
            missingOk,
            dataLoss: known?.loss ?? "unknown",
            reason: known
              ? known.loss === "destructive"
                ? `drops ${target.type} ${target.name} and the data in it${cascade ? ", and every object that depends on it (CASCADE)" : ""}`
                : `drops ${target.type} ${target.name}; its definition can be recreated from the schema${cascade ? " (CASCADE may take more)" : ""}`
              : `drops an object of a kind lifeline does not know (${removeType})`,
          }),
        );
      }
      return out;
    }
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
            reason: `removes every row${child(rv, "inh") === false ? " (ONLY this table)" : ""}${child(body, "behavior") === "DROP_CASCADE" ? ", and every row of tables referencing it (CASCADE)" : ""}${child(body, "restart_seqs") === true ? "; restarts owned sequences" : ""}`,
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
      if (out.length === 0) {
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
    case "MergeStmt":
      return [
        op(ctx, {
          kind: "merge",
          target: refFromRangeVar("table", child(body, "relation")),
          filter: "filtered",
          dataLoss: "destructive",
          reason: "MERGE may update or delete matching rows",
        }),
      ];
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
          case "AT_AlterColumnType":
            out.push(
              op(ctx, {
                kind: "alter-column-type",
                target: { type: "column", schema: target.schema, name: where },
                missingOk,
                dataLoss: "destructive",
                reason: `changes the type of ${where}: values may be truncated, rounded or rewritten (possible loss)`,
              }),
            );
            break;
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
    case "CreateTrigStmt":
    case "RuleStmt":
      // Defining code changes no data now; running it later is planned when it runs.
      return [
        op(ctx, {
          kind:
            type === "CreateFunctionStmt"
              ? "create-function"
              : type === "CreateTrigStmt"
                ? "create-trigger"
                : "create-rule",
          dataLoss: "none",
          reason: "defines code; changes no data by itself",
        }),
      ];
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
    case "TransactionStmt":
    case "VariableSetStmt":
    case "VariableShowStmt":
    case "ExplainStmt":
    case "VacuumStmt":
    case "ClusterStmt":
    case "ReindexStmt":
    case "CopyStmt":
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
      nested(ctx, body, out, false);
      if (out.length === 0) {
        const readOnly = type === "SelectStmt" || type === "ExplainStmt" || type === "VariableShowStmt";
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

/**
 * Classifies a SQL text into operations. Never throws on bad input: a parse error is one `unknown`
 * operation carrying the parser's message. Call loadParser() first.
 */
export function classifySql(sql: string): Operation[] {
  if (sql.trim() === "") return [];
  let parsed: { stmts?: ParsedStatement[] };
  try {
    parsed = parseSync(sql) as { stmts?: ParsedStatement[] };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return [
      {
        kind: "unknown",
        statementIndex: 0,
        statement: sql.trim().slice(0, 500),
        normalized: createHash("sha256").update(sql.trim()).digest("hex"),
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
  (parsed.stmts ?? []).forEach((entry, statementIndex) => {
    const start = entry.stmt_location ?? 0;
    const end = entry.stmt_len ? start + entry.stmt_len : bytes.length;
    const statement = bytes.subarray(start, end).toString("utf8").trim();
    const tree = JSON.stringify(entry.stmt, (key, value: unknown) =>
      key === "location" ? undefined : value,
    );
    const normalized = createHash("sha256").update(tree).digest("hex");
    operations.push(...classifyStatement({ statementIndex, statement, normalized }, entry.stmt));
  });
  return operations;
}
