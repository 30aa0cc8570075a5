import { LifelineError } from "../../core/errors.js";
import type { Target } from "../../ports/engine.js";
import { connect } from "./connection.js";

interface PgError {
  code?: string;
  message?: string;
  position?: string;
  detail?: string;
}

/**
 * Runs the SQL of an approved plan on the asset's connection, in one transaction: if any statement
 * fails, everything is rolled back and the database is as it was. Statements PostgreSQL refuses to
 * run in a transaction (CREATE INDEX CONCURRENTLY, VACUUM, DROP DATABASE, …) fail the same way, and
 * the error says so.
 */
export async function executeSql(target: Target, sql: string, signal: AbortSignal): Promise<{ ms: number }> {
  const started = performance.now();
  const client = await connect(target, "lifeline run");
  const cancel = () => {
    // Closing the connection aborts the transaction: the server rolls it back.
    void client.end().catch(() => undefined);
  };
  signal.addEventListener("abort", cancel, { once: true });
  try {
    await client.query("BEGIN");
    try {
      await client.query(sql);
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      const e = error as PgError;
      const inTransaction = e.code === "25001";
      throw new LifelineError({
        code: "EXECUTION_FAILED",
        kind: "runtime",
        message: `the SQL failed and was rolled back, nothing changed: ${e.message ?? String(error)}${e.position ? ` (at character ${e.position})` : ""}${e.detail ? ` — ${e.detail}` : ""}`,
        fix: inTransaction
          ? "lifeline runs SQL in one transaction; run that statement on its own outside lifeline, or split it from the rest"
          : "fix the statement; the plan and its approvals stay valid only for the exact same SQL",
      });
    }
    if (signal.aborted) throw signal.reason;
    await client.query("COMMIT");
    return { ms: Math.round(performance.now() - started) };
  } finally {
    signal.removeEventListener("abort", cancel);
    await client.end().catch(() => undefined);
  }
}
