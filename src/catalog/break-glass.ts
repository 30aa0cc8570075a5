/** Break-glass grants: granted, revoked, and read (those active at a time, compared as instants). */
import type { AuditEntry, AuditInput } from "../core/audit/chain.js";
import type { BreakGlass } from "../core/approval/approval.js";
import { appended, mutate } from "./audit-log.js";
import { runCompiled } from "./compiled.js";
import { breakGlassFrom, breakGlassRow } from "./rows.js";
import { timeOf, type CatalogStore } from "./store.js";

export async function grantBreakGlass(
  store: CatalogStore,
  grant: BreakGlass,
  audit: AuditInput,
): Promise<AuditEntry> {
  return appended(store, "recording a break-glass grant", audit, async (trx) => {
    await trx.insertInto("lifeline_break_glass").values(breakGlassRow(grant)).execute();
    return true;
  });
}

export async function revokeBreakGlass(
  store: CatalogStore,
  id: string,
  at: string,
  audit: AuditInput,
): Promise<boolean> {
  const entry = await mutate(store, "revoking a break-glass grant", audit, async (trx) => {
    const done = await trx
      .updateTable("lifeline_break_glass")
      .set({ revoked_at: at })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(done.numUpdatedRows) > 0;
  });
  return entry !== null;
}

export async function breakGlass(
  store: CatalogStore,
  filter: { asset?: string; activeAt?: string },
): Promise<BreakGlass[]> {
  const at = filter.activeAt === undefined ? null : timeOf(filter.activeAt, "activeAt");
  const byAsset = filter.asset !== undefined;
  const { rows } = await store.guard("reading break-glass grants", () =>
    runCompiled(
      store.db,
      `${store.backend.name}:breakGlass:${byAsset}:${at !== null}`,
      byAsset ? [filter.asset] : [],
      (asset) =>
        store.db
          .selectFrom("lifeline_break_glass")
          .selectAll()
          .$if(byAsset, (qb) => qb.where("asset", "=", asset as string))
          .$if(at !== null, (qb) => qb.where("revoked_at", "is", null))
          .orderBy("granted_at")
          .orderBy("id"),
    ),
  );
  const grants = rows.map(breakGlassFrom);
  // The window is compared as instants, not as text: the times are whatever ISO form was given.
  return at === null
    ? grants
    : grants.filter((g) => Date.parse(g.grantedAt) <= at && at < Date.parse(g.expiresAt));
}
