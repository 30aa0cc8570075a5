import type { Operation } from "../../../core/plan/operation.js";
import { child, isNode, kebab, names, refFromNames, statementNode, str } from "./ast.js";
import { nested } from "./calls.js";
import { op, type Context, type Handler } from "./context.js";
import { DDL_HANDLERS } from "./ddl.js";
import { DML_HANDLERS } from "./dml.js";

/**
 * The table of statement handlers: statement node type → the operations it yields. A type that is
 * not in the table is `unknown` (treated as destructive): lifeline fails closed.
 */

export const SAVEPOINT_KINDS = new Set([
  "TRANS_STMT_SAVEPOINT",
  "TRANS_STMT_RELEASE",
  "TRANS_STMT_ROLLBACK_TO",
]);

const unknownCode =
  (reason: string): Handler =>
  (ctx) => [op(ctx, { kind: "unknown", dataLoss: "unknown", reason })];

const call: Handler = (ctx, body) => {
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
};

const transaction: Handler = (ctx, body) => {
  const kind = str(child(body, "kind")) ?? "";
  if (SAVEPOINT_KINDS.has(kind)) {
    return [
      op(ctx, { kind: "savepoint", dataLoss: "none", reason: "a savepoint inside lifeline's transaction" }),
    ];
  }
  return [
    op(ctx, {
      kind: "transaction-control",
      dataLoss: "unknown",
      reason: `${kind.replace(/^TRANS_STMT_/, "").replace(/_/g, " ")} controls transactions itself: lifeline runs the SQL as one transaction, and refuses to run this`,
    }),
  ];
};

/** Statements that change no existing data themselves; the functions they call are still checked. */
const changesNoData: Handler = (ctx, body, type) => {
  const out: Operation[] = [];
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
};

const NO_DATA_CHANGE = [
  "SelectStmt",
  "CreateStmt",
  "CreateTableAsStmt",
  "IndexStmt",
  "CreateSeqStmt",
  "CreateSchemaStmt",
  "CompositeTypeStmt",
  "CreateEnumStmt",
  "CreateDomainStmt",
  "CreateRangeStmt",
  "CreateExtensionStmt",
  "CommentStmt",
  "GrantStmt",
  "GrantRoleStmt",
  "VariableSetStmt",
  "VariableShowStmt",
  "VacuumStmt",
  "ClusterStmt",
  "ReindexStmt",
  "RenameStmt",
  "AlterEnumStmt",
  "AlterOwnerStmt",
  "AlterObjectSchemaStmt",
  "LockStmt",
  "RefreshMatViewStmt",
  "CreatePolicyStmt",
  "AlterDefaultPrivilegesStmt",
  "CreateStatsStmt",
  "PrepareStmt",
  "DeallocateStmt",
  "NotifyStmt",
  "ListenStmt",
  "CheckPointStmt",
  "AnalyzeStmt",
  "CreateRoleStmt",
  "AlterRoleStmt",
  "DefineStmt",
  "AlterDomainStmt",
  "DiscardStmt",
  "CreateCastStmt",
  "CreateConversionStmt",
  "CreateForeignTableStmt",
  "CreateFdwStmt",
  "CreateForeignServerStmt",
  "CreateUserMappingStmt",
  "CreatePublicationStmt",
  "AlterPublicationStmt",
  "CreateTableSpaceStmt",
  "CreatedbStmt",
  "CreateOpClassStmt",
  "CreateOpFamilyStmt",
  "CreateTransformStmt",
  "CreatePLangStmt",
  "AlterTableSpaceOptionsStmt",
  "AlterStatsStmt",
  "AlterOperatorStmt",
  "AlterTypeStmt",
  "AlterCollationStmt",
  "AlterPolicyStmt",
  "ReassignOwnedStmt",
  "AlterDatabaseSetStmt",
  "AlterDatabaseStmt",
  "AlterRoleSetStmt",
  "ImportForeignSchemaStmt",
  "SecLabelStmt",
  "AlterForeignServerStmt",
  "AlterFdwStmt",
  "AlterUserMappingStmt",
  "AlterTSDictionaryStmt",
  "AlterTSConfigurationStmt",
  "CreateAmStmt",
  "AlterOpFamilyStmt",
];

const HANDLERS: Record<string, Handler> = {
  ...DDL_HANDLERS,
  ...DML_HANDLERS,
  DoStmt: unknownCode("a DO block runs procedural code lifeline cannot analyse"),
  CallStmt: call,
  ExecuteStmt: unknownCode("EXECUTE of a prepared statement lifeline has not seen"),
  TransactionStmt: transaction,
  ...Object.fromEntries(NO_DATA_CHANGE.map((type) => [type, changesNoData])),
};

/** The operations of one statement node (`{ "DropStmt": { … } }`). */
export function classifyStatement(ctx: Context, stmt: unknown): Operation[] {
  if (!isNode(stmt)) return [];
  const [type, body] = statementNode(stmt);
  const handler = Object.hasOwn(HANDLERS, type) ? HANDLERS[type] : undefined;
  if (handler) return handler(ctx, body, type);
  return [
    op(ctx, {
      kind: "unknown",
      dataLoss: "unknown",
      reason: `${type || "this statement"} is not one lifeline knows; treated as destructive`,
    }),
  ];
}

/** The context of a statement, whose nested statements are classified with the same context. */
export function statementContext(fields: Omit<Context, "classify">): Context {
  const ctx: Context = { ...fields, classify: (stmt) => classifyStatement(ctx, stmt) };
  return ctx;
}
