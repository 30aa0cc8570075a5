import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEntry } from "../../src/core/audit/chain.js";
import { renderAuditTable } from "../../src/cli/render/audit.js";

const admission = (seq: number, dryRun: boolean): AuditEntry => ({
  seq,
  at: "2026-11-28T04:43:54.000Z",
  kind: "admission",
  identity: "simulated-admin",
  host: "h",
  asset: "shop",
  planId: "8e77ea77b320" + "0".repeat(52),
  data: {
    result: "denied",
    dryRun,
    command: "kubectl delete pvc data-postgresql-primary-0 -n shop",
    reason: "verdict require",
  },
  prevHash: "0",
  hash: String(seq),
});

describe("lifeline audit (the table)", () => {
  it("tells a webhook decision on a dry run from one on a real request", () => {
    const [, real, dry] = renderAuditTable([admission(51, false), admission(52, true)]).split("\n");
    assert.match(real ?? "", /\bdenied\s+kubectl delete pvc/);
    assert.doesNotMatch(real ?? "", /dry run/);
    assert.match(dry ?? "", /\bdenied \(dry run\)\s+kubectl delete pvc/);
  });
});
