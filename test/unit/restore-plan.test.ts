import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { formatDuration } from "../../src/core/duration.js";
import { isOperationKind } from "../../src/core/plan/kinds.js";
import { assemblePlan, type PlanAssembly } from "../../src/core/plan/plan.js";
import { DEFAULT_POLICY, type Recoverability } from "../../src/core/plan/policy.js";
import { recoveryPlanParts, type RecoveryPlanInput } from "../../src/core/restore/plan.js";

const ASSEMBLY: PlanAssembly = {
  hash: (s) => createHash("sha256").update(s).digest("hex"),
  describeAge: formatDuration,
};

/** The newest verified restore point is older than the RPO: exactly when people restore. */
const stale: Recoverability = {
  restorePoint: {
    id: "20261120T100000Z-aaaaaa",
    snapshotTime: "2026-11-20T10:00:00Z",
    ageSeconds: 7 * 86400,
    drilledAt: "2026-11-20T11:00:00Z",
  },
  notContained: [],
  changesNotCovered: { rows: 1234, countersReset: false },
  summary: "",
};
const fresh: Recoverability = {
  ...stale,
  restorePoint: { ...stale.restorePoint!, ageSeconds: 600 },
};

function input(overrides: Partial<RecoveryPlanInput> = {}): RecoveryPlanInput {
  return {
    kind: "restore-in-place",
    asset: { name: "shop", tier: "production", rpoSeconds: 86400 },
    restorePointId: "20261120T100000Z-aaaaaa",
    commandText: "lifeline restore shop --in-place",
    database: { name: "shop", display: "postgres://app@db:5432/shop" },
    tables: [{ name: "public.audit_trail", identity: "16400", rows: 10, bytes: 8192 }],
    consumers: [{ application: "shop-api", user: "app", address: "10.0.0.5", connections: 3 }],
    dependents: [],
    recoverability: stale,
    policy: DEFAULT_POLICY,
    planningMs: 5,
    ...overrides,
  };
}

const plan = (overrides: Partial<RecoveryPlanInput> = {}) =>
  assemblePlan(recoveryPlanParts(input(overrides)), ASSEMBLY);

describe("recovery plans", () => {
  it("every recovery kind is a registered operation kind (policy rules may name them)", () => {
    for (const kind of [
      "restore-in-place",
      "restore-replace-database",
      "restore-tables",
      "discard-previous-database",
    ])
      assert.ok(isOperationKind(kind), kind);
  });

  it("in place on production: one approval required, even when the restore point is older than the RPO", () => {
    const p = plan();
    assert.equal(p.verdict, "require");
    assert.deepEqual(
      p.requirements.map((r) => r.kind),
      ["approvals"],
    );
    assert.match(p.requirements[0]?.fix ?? "", new RegExp(`lifeline approve ${p.planId.slice(0, 12)}`));
    assert.equal(p.operations[0]?.dataLoss, "recoverable");
    assert.match(p.operations[0]?.reason ?? "", /1234 row changes written since then are set aside/);
    assert.equal(p.command.kind, "lifeline");
    assert.equal(p.consumers.length, 1);
    assert.match(p.operations[0]?.notes.join(" ") ?? "", /3 client connections are open now/);
    assert.equal(p.operations[0]?.cascade[0]?.name, "public.audit_trail");
  });

  it("in place on staging is allowed; restore-tables is allowed on production (it creates)", () => {
    assert.equal(plan({ asset: { name: "shop", tier: "staging", rpoSeconds: 86400 } }).verdict, "allow");
    const tables = plan({
      kind: "restore-tables",
      tables: [{ name: "public.products", identity: "", rows: 500, bytes: 0 }],
      commandText: "lifeline restore shop --tables public.products",
    });
    assert.equal(tables.verdict, "allow");
    assert.equal(tables.operations[0]?.dataLoss, "none");
  });

  it("replace and discard on production: destructive, approval and a fresh verified restore point", () => {
    for (const kind of ["restore-replace-database", "discard-previous-database"] as const) {
      const blocked = plan({ kind, recoverability: stale });
      assert.equal(blocked.verdict, "require");
      assert.deepEqual(blocked.requirements.map((r) => r.kind).sort(), [
        "approvals",
        "verified-restore-point",
      ]);
      assert.equal(blocked.operations[0]?.dataLoss, "destructive");
      const ok = plan({ kind, recoverability: fresh });
      assert.deepEqual(
        ok.requirements.filter((r) => !r.met).map((r) => r.kind),
        ["approvals"],
      );
    }
  });

  it("the plan id is stable across attempts (rows, consumers, ages change) and binds the objects, the restore point and the mode", () => {
    const a = plan();
    const again = plan({
      consumers: [],
      recoverability: { ...fresh, changesNotCovered: { rows: 99999, countersReset: true } },
      tables: [{ name: "public.audit_trail", identity: "16400", rows: 5000, bytes: 1 << 20 }],
      planningMs: 50,
    });
    assert.equal(again.planId, a.planId);
    assert.notEqual(plan({ restorePointId: "20261121T100000Z-bbbbbb" }).planId, a.planId);
    assert.notEqual(
      plan({ tables: [{ name: "public.audit_trail", identity: "16999", rows: 10, bytes: 8192 }] }).planId,
      a.planId,
      "the table recreated since",
    );
    assert.notEqual(plan({ kind: "restore-replace-database" }).planId, a.planId);
    assert.notEqual(
      plan({ asset: { name: "shop2", tier: "production", rpoSeconds: 86400 } }).planId,
      a.planId,
    );
    assert.notEqual(
      plan({ database: { name: "shop", display: "postgres://app@db2:5432/shop" } }).planId,
      a.planId,
    );
  });
});
