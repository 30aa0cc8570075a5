import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatDuration } from "../../src/core/duration.js";
import { assemblePlan, type PlanParts } from "../../src/core/plan/plan.js";
import {
  DEFAULT_POLICY,
  destroyedTables,
  evaluatePolicy,
  planIdentity,
  type PlannedOperation,
  type PolicyInput,
  type PolicyRule,
  type Recoverability,
} from "../../src/core/plan/policy.js";

const noRestorePoint: Recoverability = {
  restorePoint: null,
  notContained: [],
  changesNotCovered: null,
  summary: "",
};
const freshRestorePoint: Recoverability = {
  restorePoint: {
    id: "rp1",
    snapshotTime: "2026-11-26T10:00:00Z",
    ageSeconds: 600,
    drilledAt: "2026-11-26T10:05:00Z",
  },
  notContained: [],
  changesNotCovered: { rows: 3, countersReset: false },
  summary: "",
};

function input(overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    asset: { name: "shop", tier: "production", rpoSeconds: 3600 },
    operations: [{ kind: "drop-table", dataLoss: "destructive" }],
    recoverability: freshRestorePoint,
    approvals: 0,
    planId: "abcdef0123456789",
    ...overrides,
  };
}

describe("evaluatePolicy with the built-in policy", () => {
  it("production + destructive without a verified restore point: require both, each with its fix", () => {
    const result = evaluatePolicy(DEFAULT_POLICY, input({ recoverability: noRestorePoint }), formatDuration);
    assert.equal(result.verdict, "require");
    const rp = result.requirements.find((r) => r.kind === "verified-restore-point");
    assert.equal(rp?.met, false);
    assert.match(rp?.detail ?? "", /there is none/);
    assert.equal(rp?.fix, "lifeline backup shop && lifeline drill shop");
    const approvals = result.requirements.find((r) => r.kind === "approvals");
    assert.equal(approvals?.met, false);
    assert.match(approvals?.detail ?? "", /1 approval of plan abcdef012345/);
  });

  it("a fresh verified restore point meets that requirement; approval is still needed", () => {
    const result = evaluatePolicy(DEFAULT_POLICY, input(), formatDuration);
    assert.equal(result.verdict, "require");
    assert.equal(result.requirements.find((r) => r.kind === "verified-restore-point")?.met, true);
    assert.equal(evaluatePolicy(DEFAULT_POLICY, input({ approvals: 1 }), formatDuration).verdict, "allow");
  });

  it("a restore point older than the rpo, or not containing the destroyed table, does not count", () => {
    const old = {
      ...freshRestorePoint,
      restorePoint: { ...freshRestorePoint.restorePoint!, ageSeconds: 7200 },
    };
    const r1 = evaluatePolicy(DEFAULT_POLICY, input({ recoverability: old, approvals: 1 }), formatDuration);
    assert.equal(r1.verdict, "require");
    assert.match(r1.requirements[0]?.detail ?? "", /newest is 2h old/);
    const missing = { ...freshRestorePoint, notContained: ["public.products"] };
    const r2 = evaluatePolicy(
      DEFAULT_POLICY,
      input({ recoverability: missing, approvals: 1 }),
      formatDuration,
    );
    assert.equal(r2.verdict, "require");
    assert.match(r2.requirements[0]?.detail ?? "", /contains public\.products/);
  });

  it("unknown counts as destructive (fail closed); reads and recoverable drops are allowed", () => {
    assert.equal(
      evaluatePolicy(
        DEFAULT_POLICY,
        input({ operations: [{ kind: "unknown", dataLoss: "unknown" }] }),
        formatDuration,
      ).verdict,
      "require",
    );
    const harmless = input({
      operations: [
        { kind: "read", dataLoss: "none" },
        { kind: "drop-index", dataLoss: "recoverable" },
      ],
      recoverability: noRestorePoint,
    });
    const result = evaluatePolicy(DEFAULT_POLICY, harmless, formatDuration);
    assert.equal(result.verdict, "allow");
    assert.deepEqual(result.requirements, []);
  });

  it("staging and development are not covered by the default", () => {
    const staging = input({
      asset: { name: "shop", tier: "staging", rpoSeconds: 3600 },
      recoverability: noRestorePoint,
    });
    assert.equal(evaluatePolicy(DEFAULT_POLICY, staging, formatDuration).verdict, "allow");
  });
});

describe("evaluatePolicy with configured rules", () => {
  const rules: PolicyRule[] = [
    {
      name: "no-drop-database",
      match: { tier: ["production"], kind: ["drop-database"] },
      deny: "never drop a production database",
    },
    {
      name: "staging",
      match: { tier: ["staging"], dataLoss: ["destructive"] },
      require: { verifiedRestorePointMaxAgeSeconds: 86400 },
    },
    {
      name: "strict-shop",
      match: { asset: ["shop"], dataLoss: ["destructive"] },
      require: { verifiedRestorePointMaxAgeSeconds: 300, approvals: 2 },
    },
  ];

  it("deny wins and names the rule", () => {
    const result = evaluatePolicy(
      rules,
      input({ operations: [{ kind: "drop-database", dataLoss: "destructive" }], approvals: 5 }),
      formatDuration,
    );
    assert.equal(result.verdict, "deny");
    assert.match(
      result.requirements[0]?.detail ?? "",
      /"no-drop-database": never drop a production database/,
    );
  });

  it("several matching rules: the strictest age and the most approvals", () => {
    const result = evaluatePolicy(rules, input({ approvals: 1 }), formatDuration);
    assert.equal(result.verdict, "require");
    assert.match(
      result.requirements.find((r) => r.kind === "verified-restore-point")?.detail ?? "",
      /no older than 5m/,
    );
    assert.match(
      result.requirements.find((r) => r.kind === "approvals")?.detail ?? "",
      /2 approvals .* \(1 so far\)/,
    );
  });
});

function op(overrides: Partial<PlannedOperation>): PlannedOperation {
  return {
    kind: "drop-table",
    statementIndex: 0,
    statement: "DROP TABLE products",
    normalized: "n1",
    target: { type: "table", schema: null, name: "products" },
    dataLoss: "destructive",
    reason: "",
    cascadeRequested: false,
    missingOk: false,
    filter: null,
    resolved: {
      type: "table",
      name: "public.products",
      identity: "oid=1,relfilenode=1",
      rows: 10,
      rowsExact: false,
      bytes: 8192,
      dataLoss: "destructive",
      how: "target",
    },
    rows: 10,
    bytes: 8192,
    cascade: [],
    notes: [],
    ...overrides,
  };
}

describe("plan identity", () => {
  const base = { asset: "shop", operations: [op({})], normalizedStatements: ["n1"], restorePointId: "rp1" };

  it("is stable for the same inputs, whatever the order of objects", () => {
    assert.equal(planIdentity(base), planIdentity({ ...base }));
  });

  it("changes when the object's identity, the statement, the asset or the restore point changes", () => {
    const id = planIdentity(base);
    const recreated = op({ resolved: { ...op({}).resolved!, identity: "oid=2,relfilenode=2" } });
    assert.notEqual(planIdentity({ ...base, operations: [recreated] }), id);
    assert.notEqual(planIdentity({ ...base, normalizedStatements: ["n2"] }), id);
    assert.notEqual(planIdentity({ ...base, asset: "billing" }), id);
    assert.notEqual(planIdentity({ ...base, restorePointId: "rp2" }), id);
  });

  it("destroyedTables lists targets and destroyed cascades, not recoverable ones", () => {
    const cascade = [
      { ...op({}).resolved!, name: "public.order_items", how: "truncated by CASCADE" },
      { ...op({}).resolved!, type: "view", name: "public.feed", dataLoss: "recoverable" as const },
    ];
    assert.deepEqual(destroyedTables([op({ cascade })]), ["public.order_items", "public.products"]);
  });
});

describe("assemblePlan", () => {
  const op = (kind: string, dataLoss: PlannedOperation["dataLoss"]): PlannedOperation =>
    ({
      kind,
      dataLoss,
      statementIndex: 0,
      statement: kind,
      normalized: kind,
      target: null,
      reason: "",
      cascadeRequested: false,
      missingOk: false,
      filter: null,
      resolved: {
        type: "table",
        name: "public.t",
        identity: "oid=1",
        rows: 1,
        rowsExact: true,
        bytes: 1,
        dataLoss,
        how: "",
      },
      rows: 1,
      bytes: 1,
      cascade: [],
      notes: [],
    }) as PlannedOperation;
  const parts = (over: Partial<PlanParts> = {}): PlanParts => ({
    command: { kind: "sql", text: "TRUNCATE t" },
    cluster: null,
    assets: [{ name: "shop", tier: "production", recoverability: noRestorePoint }],
    operations: [op("truncate", "destructive")],
    dependents: [],
    consumers: [],
    identity: { asset: "shop", normalizedStatements: ["n1"], restorePointId: null },
    subjects: [
      {
        asset: { name: "shop", tier: "production", rpoSeconds: 86400 },
        operations: [op("truncate", "destructive")],
        recoverability: noRestorePoint,
      },
    ],
    recoverability: noRestorePoint,
    policy: DEFAULT_POLICY,
    planningMs: 5,
    ...over,
  });
  const assembly = { hash: (text: string) => `hash(${text.length})`, describeAge: formatDuration };

  it("the plan id is the injected hash of planIdentity; the policy judges with that id", () => {
    const p = parts();
    const plan = assemblePlan(p, assembly);
    const identity = planIdentity({ ...p.identity, operations: p.operations });
    assert.equal(plan.planId, `hash(${identity.length})`);
    assert.equal(plan.verdict, "require");
    assert.match(plan.requirements.find((r) => r.kind === "approvals")?.fix ?? "", /lifeline approve hash\(/);
    assert.equal(plan.asset, "shop");
    assert.equal("unbound" in plan, false, "SQL plans carry no unbound flag");
  });

  it("several subjects and unmet requirements merge: any deny denies, one approvals requirement", () => {
    const deny: PolicyRule = { name: "no-truncate", match: { tier: ["staging"] }, deny: "not here" };
    const plan = assemblePlan(
      parts({
        unbound: false,
        policy: [...DEFAULT_POLICY, deny],
        subjects: [
          ...parts().subjects,
          {
            asset: { name: "stage", tier: "staging", rpoSeconds: 86400 },
            operations: [op("truncate", "destructive")],
            recoverability: noRestorePoint,
          },
        ],
        unmet: [{ kind: "complete-view", met: false, detail: "x", fix: "y" }],
      }),
      assembly,
    );
    assert.equal(plan.verdict, "deny");
    assert.equal(plan.unbound, false);
    assert.deepEqual(
      plan.requirements.map((r) => r.kind),
      ["verified-restore-point", "deny", "complete-view", "approvals"],
    );
  });
});
