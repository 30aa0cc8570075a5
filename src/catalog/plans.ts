/** Recorded plans: saved once per plan id, found by id or prefix, and the plans of the same command. */
import type { AuditEntry, AuditInput } from "../core/audit/chain.js";
import type { PlanRecord } from "../core/approval/approval.js";
import { appended } from "./audit-log.js";
import { commandTextOf, planFrom, planRow } from "./rows.js";
import { sha256hex, type CatalogStore } from "./store.js";

export async function savePlan(
  store: CatalogStore,
  plan: PlanRecord,
  audit: AuditInput,
): Promise<AuditEntry> {
  return appended(store, "recording a plan", audit, async (trx) => {
    // The first record of a plan id stays: the id is the hash of what was planned.
    await trx
      .insertInto("lifeline_plans")
      .values(planRow(plan))
      .onConflict((oc) => oc.column("plan_id").doNothing())
      .execute();
    return true;
  });
}

export async function findPlan(store: CatalogStore, idOrPrefix: string): Promise<PlanRecord | null> {
  const row = await store.guard("looking up a plan", () =>
    store.byIdOrPrefix("plan", idOrPrefix, (ids) =>
      store.db.selectFrom("lifeline_plans").selectAll().where("plan_id", "in", ids).execute(),
    ),
  );
  return row ? planFrom(row, store.location) : null;
}

export async function plansOfCommand(
  store: CatalogStore,
  text: string,
  options: { except: string; limit: number },
): Promise<string[]> {
  const rows = await store.guard("looking up plans of the same command", () =>
    store.db
      .selectFrom("lifeline_plans")
      .select(["plan_id", "command"])
      .where("command_digest", "=", sha256hex(text))
      .where("plan_id", "!=", options.except)
      .orderBy("created_at", "desc")
      .orderBy("plan_id")
      .limit(options.limit)
      .execute(),
  );
  // The digest finds them; the text decides (a damaged row is not the same command).
  return rows.filter((r) => commandTextOf(r.command) === text).map((r) => r.plan_id);
}
