import { createHash } from "node:crypto";
import type { Operation } from "../../../core/plan/operation.js";
import { secrets } from "../../../core/redact.js";
import { child, isNode, kebab, str, withoutLocations, type ParsedStatement } from "./ast.js";
import { sqlStart } from "./bytes.js";
import { op } from "./context.js";
import type { Parser } from "./parser.js";
import { classifyMeta, splitPsql, type MetaCommand } from "./psql-meta.js";
import { applyState, escalate, newScriptState, updateState } from "./script-state.js";
import { statementText, unparsedReason, unparsedText } from "./secrets.js";
import { classifyStatement, SAVEPOINT_KINDS, statementContext } from "./statements.js";

/**
 * Classifies a SQL text into operations. Never throws on bad input: a parse error is one `unknown`
 * operation carrying the parser's message.
 *
 * Statements are planned in order: once a statement changes the session (search_path, role),
 * creates a trigger or rule, or creates, renames or drops an object, the later statements that
 * depend on it are `unknown`, since the plan (made against the database as it is) cannot resolve them.
 * Password literals are masked in the statement text and registered as secrets.
 */
export function classifySql(parser: Parser, input: string): Operation[] {
  if (input.trim() === "") return [];
  // psql meta-commands are blanked out (byte for byte) and planned on their own.
  const script = splitPsql(input);
  const sql = script.sql;
  let stmts: ParsedStatement[];
  try {
    // Only meta-commands: nothing for the parser (which rejects an empty text).
    stmts = script.parseable.replace(/[\s;]+/g, "") === "" ? [] : parser.parse(script.parseable);
  } catch (error) {
    const statement = unparsedText(input);
    const message = unparsedReason(error instanceof Error ? error.message : String(error));
    return [
      {
        kind: "unknown",
        statementIndex: 0,
        statement,
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
  const state = newScriptState();
  type Entry = { offset: number; statement: ParsedStatement } | { offset: number; meta: MetaCommand };
  const entries: Entry[] = [
    ...stmts.map((statement) => ({ offset: sqlStart(bytes, statement.stmt_location ?? 0), statement })),
    ...script.metas.map((meta) => ({ offset: meta.offset, meta })),
  ].sort((a, b) => a.offset - b.offset);
  // \gexec runs what the statement before it returns: that statement is not known.
  const gexecAfter = new Map<ParsedStatement, MetaCommand>();
  for (const meta of script.metas.filter((m) => m.name === "gexec")) {
    const before = stmts.filter((st) => (st.stmt_location ?? 0) < meta.offset).pop();
    if (before) gexecAfter.set(before, meta);
  }
  entries.forEach((item, statementIndex) => {
    if ("meta" in item) {
      operations.push(...applyState(state, classifyMetaCommand(parser, item.meta, statementIndex)));
      const effect = classifyMeta(item.meta);
      if (effect.kind === "unknown" && effect.laterStatements) state.session ??= effect.laterStatements;
      return;
    }
    const entry = item.statement;
    const start = entry.stmt_location ?? 0;
    const end = entry.stmt_len ? start + entry.stmt_len : bytes.length;
    const statement = statementText(bytes, start, end, entry.stmt);
    const normalized = createHash("sha256").update(withoutLocations(entry.stmt)).digest("hex");
    const ctx = statementContext({ statementIndex, statement, normalized });
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

/** The operation of one psql meta-command (\copy is planned as the COPY it runs). */
function classifyMetaCommand(parser: Parser, meta: MetaCommand, statementIndex: number): Operation[] {
  const ctx = statementContext({
    statementIndex,
    statement: secrets.redact(meta.text),
    normalized: createHash("sha256").update(`psql:${meta.text}`).digest("hex"),
  });
  for (const secret of meta.secrets) secrets.add(secret);
  const effect = classifyMeta(meta);
  if (effect.kind === "copy") {
    try {
      const stmts = parser.parse(effect.sql);
      const [first] = stmts;
      if (first && stmts.length === 1 && isNode(first.stmt) && "CopyStmt" in first.stmt)
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
 * when there are none or the text cannot be parsed.
 */
export function transactionControl(parser: Parser, sql: string): string[] {
  let stmts: ParsedStatement[];
  try {
    stmts = parser.parse(sql);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of stmts) {
    const kind = str(child(child(entry.stmt, "TransactionStmt"), "kind"));
    if (kind && !SAVEPOINT_KINDS.has(kind)) found.push(kind.replace(/^TRANS_STMT_/, "").replace(/_/g, " "));
  }
  return found;
}
