/** Executions: recorded with their audit entry, and read per plan. */
import type { AuditEntry, AuditInput } from "../core/audit/chain.js";
import type { Execution } from "../core/approval/approval.js";
import { appended } from "./audit-log.js";
import { executionFrom, executionRow } from "./rows.js";
import type { CatalogStore } from "./store.js";

export async function recordExecution(
  store: CatalogStore,
  execution: Execution,
  audit: AuditInput,
): Promise<AuditEntry> {
  return appended(store, "recording an execution", audit, async (trx) => {
    await trx.insertInto("lifeline_executions").values(executionRow(execution)).execute();
    return true;
  });
}

export async function executionsFor(store: CatalogStore, planId: string): Promise<Execution[]> {
  const rows = await store.guard("reading executions", () =>
    store.db
      .selectFrom("lifeline_executions")
      .selectAll()
      .where("plan_id", "=", planId)
      .orderBy("started_at")
      .orderBy("id")
      .execute(),
  );
  return rows.map((row) => executionFrom(row, store.location));
}
