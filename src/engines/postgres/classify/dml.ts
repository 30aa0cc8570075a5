import type { Operation } from "../../../core/plan/operation.js";
import { child, constValue, isNode, list, names, refFromRangeVar, str, withoutLocations } from "./ast.js";
import { nested } from "./calls.js";
import { op, type Handler } from "./context.js";

/**
 * Statements that change rows (TRUNCATE, DELETE, UPDATE, INSERT, MERGE, COPY) or may run one
 * (EXPLAIN ANALYZE): their handlers, and how much of a table a WHERE clause keeps.
 */

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
    if (
      operator === "=" &&
      withoutLocations(a.lexpr) === withoutLocations(a.rexpr) &&
      isNode(child(a.lexpr, "ColumnRef"))
    )
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

const truncate: Handler = (ctx, body) => {
  const out: Operation[] = [];
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
};

const deleteOrUpdate: Handler = (ctx, body, type) => {
  const out: Operation[] = [];
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
};

const insert: Handler = (ctx, body) => {
  const out: Operation[] = [];
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
  nested(ctx, { withClause: child(body, "withClause"), selectStmt: child(body, "selectStmt") }, out, true);
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
};

const merge: Handler = (ctx, body) => {
  const out: Operation[] = [];
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
};

const explain: Handler = (ctx, body) => {
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
  const inner = ctx.classify(child(body, "query"));
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
};

const copy: Handler = (ctx, body) => {
  const out: Operation[] = [];
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
};

export const DML_HANDLERS: Record<string, Handler> = {
  TruncateStmt: truncate,
  DeleteStmt: deleteOrUpdate,
  UpdateStmt: deleteOrUpdate,
  InsertStmt: insert,
  MergeStmt: merge,
  ExplainStmt: explain,
  CopyStmt: copy,
};
