import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Plan } from "../../src/core/plan/plan.js";
import type { PlanRecord } from "../../src/core/approval/approval.js";
import { planJson, renderPlan } from "../../src/cli/render/plan.js";
import { renderStoredPlan } from "../../src/cli/render/stored-plan.js";

const recoverability = (summary: string) => ({
  restorePoint: {
    id: "rp-1",
    snapshotTime: "2026-11-26T10:00:00Z",
    ageSeconds: 60,
    drilledAt: "2026-11-26T10:05:00Z",
  },
  notContained: [],
  changesNotCovered: { rows: 3, countersReset: false },
  summary,
});

const sqlPlan: Plan = {
  planId: "7f3a9c01d2e4" + "0".repeat(52),
  asset: "shop",
  assets: [
    { name: "shop", tier: "production", recoverability: recoverability("from rp-1; 3 row changes lost") },
  ],
  command: { kind: "sql", text: "DELETE FROM orders" },
  cluster: null,
  verdict: "require",
  operations: [
    {
      kind: "delete",
      statementIndex: 0,
      statement: "DELETE FROM orders",
      normalized: "n",
      target: { type: "table", schema: "public", name: "orders" },
      dataLoss: "destructive",
      reason: "removes every row",
      cascadeRequested: false,
      missingOk: false,
      filter: "all-rows",
      resolved: {
        type: "table",
        name: "public.orders",
        identity: "16384/16390",
        rows: 5000,
        rowsExact: false,
        bytes: 8192,
        dataLoss: "destructive",
        how: "",
      },
      rows: 5000,
      bytes: 8192,
      cascade: [
        {
          type: "table",
          name: "public.order_items",
          identity: "16400/16401",
          rows: 15000,
          rowsExact: true,
          bytes: 65536,
          dataLoss: "destructive",
          how: "rows deleted by ON DELETE CASCADE",
        },
      ],
      notes: ["rows estimated by EXPLAIN"],
    },
  ],
  dependents: [{ kind: "view", name: "public.feed", on: "public.orders", how: "pg_depend" }],
  consumers: [
    { application: "shop-api", user: "app", address: "10.0.0.7", connections: 3 },
    { application: "psql", user: "alice", address: null, connections: 1 },
  ],
  recoverability: recoverability("from rp-1; 3 row changes lost"),
  requirements: [
    { kind: "verified-restore-point", met: true, detail: "verified restore point rp-1", fix: null },
    {
      kind: "approvals",
      needed: 1,
      met: false,
      detail: "1 approval of plan 7f3a9c01d2e4 by another person (0 so far)",
      fix: "another person approves this exact plan: lifeline approve 7f3a9c01d2e4",
    },
  ],
  planningMs: 12,
};

const k8sPlan: Plan = {
  ...sqlPlan,
  planId: "b" + "1".repeat(63),
  asset: "shop",
  assets: [
    { name: "shop", tier: "production", recoverability: recoverability("shop: from rp-1") },
    { name: "feed", tier: "staging", recoverability: recoverability("feed: no restore point") },
  ],
  command: { kind: "kubectl", text: "kubectl delete pvc data-0 -n shop" },
  cluster: { context: "prod", server: "https://k8s.example:6443" },
  operations: [
    {
      ...sqlPlan.operations[0]!,
      kind: "delete-pvc",
      statement: "kubectl delete pvc data-0 -n shop",
      target: { type: "pvc", schema: "shop", name: "data-0" },
      resolved: { ...sqlPlan.operations[0]!.resolved!, type: "pvc", name: "shop/data-0", rows: null },
      rows: null,
      bytes: 10737418240,
      cascade: [
        {
          type: "pv",
          name: "pv-123",
          identity: null,
          rows: null,
          rowsExact: false,
          bytes: 10737418240,
          dataLoss: "destructive",
          how: "reclaim policy Delete",
        },
      ],
    },
  ],
  consumers: [],
};

function record(plan: Plan): PlanRecord {
  // Stored as the catalog keeps it: the JSON text of `plan --json`, read back.
  return {
    planId: plan.planId,
    assets: plan.assets.map((a) => a.name),
    command: plan.command,
    verdict: plan.verdict,
    requestedBy: { id: "alice", source: "env", host: "h", authenticated: false },
    createdAt: "2026-11-26T10:10:00Z",
    document: JSON.parse(JSON.stringify(planJson(plan))) as unknown,
  };
}

describe("a recorded plan shown again (show, approve)", () => {
  it("reads exactly as `plan` printed it: SQL with cascade, notes, dependents and connected clients", () => {
    assert.equal(renderStoredPlan(record(sqlPlan)), renderPlan(sqlPlan));
  });

  it("reads exactly as `plan` printed it: a kubectl command over two assets", () => {
    assert.equal(renderStoredPlan(record(k8sPlan)), renderPlan(k8sPlan));
  });

  it("a document that is not a plan document still shows what the record knows, without failing", () => {
    const text = renderStoredPlan({ ...record(sqlPlan), document: { planId: sqlPlan.planId } });
    assert.match(text, /^Plan 7f3a9c01d2e4 for shop/);
    assert.equal(typeof renderStoredPlan({ ...record(sqlPlan), document: null }), "string");
  });
});

describe("sizes in a plan's text", () => {
  it("a lifeline recovery plan (a database and its tables) gives every size in the same decimal units", () => {
    // Before: the database's total was binary (216 KiB) while its tables were decimal (180 kB …).
    const op = sqlPlan.operations[0]!;
    const discard: Plan = {
      ...sqlPlan,
      command: { kind: "lifeline", text: "lifeline restore shop --discard-previous" },
      operations: [
        {
          ...op,
          kind: "discard-previous-database",
          target: { type: "database", schema: null, name: "shop_before_x" },
          resolved: { ...op.resolved!, type: "database", name: "shop_before_x", rows: 2010, bytes: 221184 },
          rows: 2010,
          bytes: 221184,
          cascade: [{ ...op.cascade[0]!, name: "public.products", rows: 2000, bytes: 180224 }],
        },
      ],
    };
    const text = renderPlan(discard);
    assert.match(text, /DESTRUCTIVE database shop_before_x \(~2,010 rows, 221 kB\)/);
    assert.match(text, /public\.products — .*: 2,000 rows, 180 kB/);
    assert.doesNotMatch(text, /KiB/);
    assert.doesNotMatch(renderStoredPlan(record(discard)), /KiB/);
  });

  it("a recorded recovery plan names its asset's tier in its header, as `restore` printed it", () => {
    const restorePlan: Plan = {
      ...sqlPlan,
      command: { kind: "lifeline", text: "lifeline restore shop --in-place" },
    };
    assert.match(renderPlan(restorePlan), /^ {2}asset shop \(production\): REQUIRE/m);
    const tiers: Record<string, string> = { shop: "production" };
    assert.equal(renderStoredPlan(record(restorePlan), { tierOf: (a) => tiers[a] }), renderPlan(restorePlan));
  });

  it("shown with its requirements judged now (approvals given since), the header and the requirements agree", () => {
    const met = sqlPlan.requirements.map((r) =>
      r.kind === "approvals" ? { ...r, met: true, detail: "1 approval … by bob (1 so far)", fix: null } : r,
    );
    const text = renderStoredPlan(record(sqlPlan), { requirements: met, verdict: "allow" });
    assert.match(text, /^Plan 7f3a9c01d2e4 for shop: ALLOW$/m);
    assert.match(text, /✓ 1 approval … by bob \(1 so far\)/);
    assert.doesNotMatch(text, /0 so far|✗/);
  });

  it("a kubectl plan keeps Kubernetes' binary quantities", () => {
    assert.match(renderPlan(k8sPlan), /pvc shop\/data-0 \(10 GiB\)/);
  });
});

describe("row counts in a plan's text", () => {
  it("one row is a row (UPDATE … WHERE id = 1, estimated by EXPLAIN)", () => {
    const op = sqlPlan.operations[0]!;
    const one: Plan = {
      ...sqlPlan,
      operations: [{ ...op, rows: 1, resolved: { ...op.resolved!, rows: 1 }, cascade: [] }],
    };
    const text = renderPlan(one);
    assert.match(text, /DESTRUCTIVE public\.orders \(~1 row, 8\.2 kB\)/);
    assert.doesNotMatch(text, /1 rows/);
  });
});
