/** Sample values for the Catalog contract (catalog.contract.ts): plans, approvals, grants, executions. */
import type { AuditInput, Identity } from "../../src/core/audit/chain.js";
import type { Approval, BreakGlass, Execution, PlanRecord } from "../../src/core/approval/approval.js";

const T0 = Date.parse("2026-11-26T10:00:00.000Z");
export const at = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString();

export function identity(id: string, extra: Partial<Identity> = {}): Identity {
  return { id, source: "env", host: "build-01", authenticated: false, ...extra };
}

export function input(kind: AuditInput["kind"], fields: Partial<AuditInput> = {}): AuditInput {
  return {
    at: at(0),
    kind,
    identity: "alice@example.com",
    host: "build-01",
    asset: "shop",
    planId: null,
    data: {},
    ...fields,
  };
}

export function planRecord(planId: string, fields: Partial<PlanRecord> = {}): PlanRecord {
  return {
    planId,
    assets: ["shop", "feed"],
    command: { kind: "sql", text: "TRUNCATE carts" },
    verdict: "require",
    requestedBy: identity("alice@example.com"),
    createdAt: at(0),
    document: {
      operations: [{ kind: "truncate", object: "public.carts", destroys: true }],
      restorePoint: null,
      note: "zoë's «plan» ✓",
      nested: { deep: [1, 2.5, -3, true, null, { x: "y" }] },
    },
    ...fields,
  };
}

export function approval(id: string, planId: string, fields: Partial<Approval> = {}): Approval {
  return {
    id,
    planId,
    approver: identity("bob@example.com", { source: "git" }),
    comment: "checked with the feed team",
    createdAt: at(1),
    expiresAt: at(61),
    revokedAt: null,
    revokedBy: null,
    ...fields,
  };
}

export function grant(id: string, fields: Partial<BreakGlass> = {}): BreakGlass {
  return {
    id,
    asset: "shop",
    identity: "alice@example.com",
    reason: "INC-4411 restore",
    grantedAt: at(0),
    expiresAt: at(30),
    grantedBy: identity("alice@example.com", { source: "os", host: "laptop" }),
    revokedAt: null,
    ...fields,
  };
}

export function execution(id: string, planId: string, fields: Partial<Execution> = {}): Execution {
  return {
    id,
    planId,
    identity: identity("alice@example.com"),
    startedAt: at(2),
    finishedAt: at(3),
    result: "succeeded",
    exitCode: 0,
    durationMs: 61_234,
    command: { kind: "kubectl", text: "kubectl delete pvc data-postgresql-0 -n shop" },
    requirements: [
      { kind: "approvals", met: true, needed: 1, detail: "1 approval by bob", fix: null },
      { kind: "restore-point", met: true, detail: "verified 10 min ago", fix: null },
    ] as Execution["requirements"],
    approvals: ["apr-000000000001"],
    breakGlass: null,
    detail: null,
    ...fields,
  };
}

export const PLAN_A = "7f3a9c01" + "a".repeat(56);
export const PLAN_B = "7f3a9c01" + "b".repeat(56);
export const PLAN_C = "0123456789abcdef" + "c".repeat(48);
