import { LifelineError } from "../../core/errors.js";
import type { QueryResult } from "pg";
import type { StatementResult } from "../../core/approval/approval.js";
import type { GuardApproval, Target } from "../../ports/engine.js";
import { createClassifier } from "./classify/index.js";
import { connect, pinSqlSession } from "./connection.js";
import { GUARD_SQLSTATE, setApproval } from "./guard/index.js";

interface PgError {
  code?: string;
  message?: string;
  position?: string;
  detail?: string;
}

/**
 * The one-transaction guarantee holds only if the SQL does not end or start transactions itself:
 * such SQL is refused before anything runs (and, through the port, before an approval is used).
 */
export async function sqlRefusal(sql: string): Promise<LifelineError | null> {
  const control = (await createClassifier()).transactionControl(sql);
  if (control.length === 0) return null;
  return new LifelineError({
    code: "SQL_TRANSACTION_CONTROL",
    kind: "refused",
    message: `the SQL controls transactions itself (${[...new Set(control)].join(", ")}): lifeline runs it as one transaction, so that a failure rolls everything back; nothing was run`,
    fix: "remove BEGIN/COMMIT/ROLLBACK/END from the SQL (SAVEPOINT, RELEASE and ROLLBACK TO SAVEPOINT are fine), plan it again and have that plan approved",
  });
}

/**
 * Runs the SQL of an approved plan on the asset's connection, in one transaction: if any statement
 * fails, everything is rolled back and the database is as it was. Statements PostgreSQL refuses to
 * run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM, DROP DATABASE, …) fail the same way, and
 * the error says so.
 */
export async function executeSql(
  target: Target,
  sql: string,
  signal: AbortSignal,
  approval?: GuardApproval,
): Promise<{ ms: number; statements: StatementResult[] }> {
  const started = performance.now();
  const refused = await sqlRefusal(sql);
  if (refused) throw refused;
  const client = await connect(target, "lifeline run");
  const cancel = () => {
    // Closing the connection aborts the transaction: the server rolls it back.
    void client.end().catch(() => undefined);
  };
  signal.addEventListener("abort", cancel, { once: true });
  try {
    // Read the SQL the way the plan read it, with the same search_path the plan resolved names in.
    const searchPath = await pinSqlSession(client);
    await client.query("BEGIN");
    await client.query("SELECT set_config('search_path', $1, true)", [searchPath]);
    let statements: StatementResult[];
    try {
      // A guarded database lets exactly the plan's objects go in this transaction (and no other).
      if (approval) await setApproval(client, approval);
      statements = statementResults(await client.query(sql));
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      if (error instanceof LifelineError) throw error;
      const e = error as PgError;
      const inTransaction = e.code === "25001";
      throw new LifelineError({
        code: "EXECUTION_FAILED",
        kind: "runtime",
        message: `the SQL failed and was rolled back, nothing changed: ${e.message ?? String(error)}${e.position ? ` (at character ${e.position})` : ""}${e.detail ? ` — ${e.detail}` : ""}`,
        fix: inTransaction
          ? "lifeline runs SQL in one transaction; run that statement on its own outside lifeline, or split it from the rest"
          : e.code === GUARD_SQLSTATE
            ? "the database's guard did not accept this run's approval: lifeline guard status <asset> says why (a key that does not match lifeline's: reinstall with lifeline guard install <asset>)"
            : "fix the statement; the plan and its approvals stay valid only for the exact same SQL",
      });
    }
    if (signal.aborted) throw signal.reason;
    await client.query("COMMIT");
    return { ms: Math.round(performance.now() - started), statements };
  } finally {
    signal.removeEventListener("abort", cancel);
    await client.end().catch(() => undefined);
  }
}

/** Commands whose row count is the rows they changed or returned (the others report none). */
const COUNTED = new Set(["INSERT", "UPDATE", "DELETE", "MERGE", "SELECT", "COPY", "MOVE", "FETCH"]);

/**
 * What each statement did, from the server's command-complete tags: several statements sent at
 * once come back as one result each, in order (a single statement as one result).
 */
export function statementResults(result: QueryResult | QueryResult[]): StatementResult[] {
  return (Array.isArray(result) ? result : [result]).map((r) => {
    const command = typeof r.command === "string" && r.command !== "" ? r.command : "(empty)";
    return {
      command,
      rows: COUNTED.has(command) && typeof r.rowCount === "number" ? r.rowCount : null,
    };
  });
}
