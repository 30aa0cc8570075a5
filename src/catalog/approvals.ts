/** Approvals: added, revoked, read, and used (at most as many times as they allow). */
import type { Transaction } from "kysely";
import type { AuditEntry, AuditInput, AuditKind } from "../core/audit/chain.js";
import type { Approval } from "../core/approval/approval.js";
import type { ApprovalUse, UseResult } from "../ports/catalog.js";
import { runCompiled } from "./compiled.js";
import { appended, mutate, normalizedInput, transact } from "./audit-log.js";
import { approvalFrom, approvalRow } from "./rows.js";
import type { CatalogDatabase } from "./schema.js";
import type { CatalogStore } from "./store.js";

export async function addApproval(
  store: CatalogStore,
  approval: Approval,
  audit: AuditInput,
): Promise<AuditEntry> {
  return appended(store, "recording an approval", audit, async (trx) => {
    await trx.insertInto("lifeline_approvals").values(approvalRow(approval)).execute();
    return true;
  });
}

export async function revokeApproval(
  store: CatalogStore,
  id: string,
  by: string,
  at: string,
  audit: AuditInput,
): Promise<boolean> {
  const entry = await mutate(store, "revoking an approval", audit, async (trx) => {
    const done = await trx
      .updateTable("lifeline_approvals")
      .set({ revoked_at: at, revoked_by: by })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(done.numUpdatedRows) > 0;
  });
  return entry !== null;
}

export async function useApprovals(
  store: CatalogStore,
  uses: readonly ApprovalUse[],
  then: AuditInput,
): Promise<UseResult> {
  const inputs = uses.map((u) => normalizedInput(u.audit));
  const last = normalizedInput(then);
  return store.guard("recording the use of approvals", () =>
    transact(store, async (trx, append) => {
      // Under the audit head's lock every writer waits for this transaction: the count read here
      // cannot change before the uses are appended, so at most `allowed` executions get one.
      const exhausted: { approvalId: string; used: number }[] = [];
      // Revoked or expired since the gate decided (while the plan was planned again): a revoke
      // holds the same lock, so what is read here stays true until the uses are appended.
      const refused: { approvalId: string; why: "revoked" | "expired" }[] = [];
      for (const u of uses) {
        const row = await trx
          .selectFrom("lifeline_approvals")
          .select(["revoked_at"])
          .where("id", "=", u.approvalId)
          .executeTakeFirst();
        if ((await auditCount(trx, "revoke", u.approvalId)) > 0 || (row?.revoked_at ?? null) !== null)
          refused.push({ approvalId: u.approvalId, why: "revoked" });
        else if (u.expiresAt !== undefined && Date.parse(u.expiresAt) <= Date.parse(last.at))
          refused.push({ approvalId: u.approvalId, why: "expired" });
      }
      for (const u of uses) {
        const used = await auditCount(trx, "use", u.approvalId);
        if (used >= u.allowed) exhausted.push({ approvalId: u.approvalId, used });
      }
      if (refused.length > 0) return { ok: false as const, exhausted, refused };
      if (exhausted.length > 0) return { ok: false as const, exhausted };
      const entries: AuditEntry[] = [];
      for (const input of inputs) entries.push(await append(input));
      entries.push(await append(last));
      return { ok: true as const, entries };
    }),
  );
}

/** How many audit entries of `kind` are about `ref` (an approval's uses, its revokes). */
async function auditCount(trx: Transaction<CatalogDatabase>, kind: AuditKind, ref: string): Promise<number> {
  const row = await trx
    .selectFrom("lifeline_audit")
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .where("kind", "=", kind)
    .where("ref", "=", ref)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function approvalsFor(store: CatalogStore, planId: string): Promise<Approval[]> {
  const { rows } = await store.guard("reading approvals", () =>
    runCompiled(store.db, `${store.backend.name}:approvalsFor`, [planId], (id) =>
      store.db
        .selectFrom("lifeline_approvals")
        .selectAll()
        .where("plan_id", "=", id as string)
        .orderBy("created_at")
        .orderBy("id"),
    ),
  );
  return rows.map(approvalFrom);
}

export async function findApproval(store: CatalogStore, idOrPrefix: string): Promise<Approval | null> {
  const row = await store.guard("looking up an approval", () =>
    store.byIdOrPrefix("approval", idOrPrefix, (ids) =>
      store.db.selectFrom("lifeline_approvals").selectAll().where("id", "in", ids).execute(),
    ),
  );
  return row ? approvalFrom(row) : null;
}
