import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Plan } from "../../src/core/plan/plan.js";
import { planWarnings } from "../../src/core/admission/message.js";

const plan: Plan = {
  planId: "4a40e2c82cae" + "0".repeat(52),
  asset: "shop",
  assets: [],
  command: { kind: "kubectl", text: "kubectl delete ns shop" },
  cluster: { context: "prod", server: "https://k8s.example:6443" },
  verdict: "require",
  operations: [],
  dependents: [
    // `kubectl delete ns shop`: the reports Deployment names both MongoDB pods.
    { kind: "deployment", name: "analytics/reports", on: "pod shop/mongodb-0", how: "args" },
    { kind: "deployment", name: "analytics/reports", on: "pod shop/mongodb-1", how: "args" },
    { kind: "deployment", name: "feeds/feed-generator", on: "service shop/postgresql-primary", how: "env" },
  ],
  consumers: [],
  recoverability: { restorePoint: null, notContained: [], changesNotCovered: null, summary: "" },
  requirements: [],
  planningMs: 1,
};

describe("the warnings of a dry run (kubectl --dry-run=server)", () => {
  it("name each dependent once, even when it depends on several of the objects", () => {
    const line = planWarnings(plan, "require").find((l) => l.startsWith("lifeline: depends on it:"));
    assert.equal(
      line,
      "lifeline: depends on it: deployment analytics/reports, deployment feeds/feed-generator",
    );
  });
});
