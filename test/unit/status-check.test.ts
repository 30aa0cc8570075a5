import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { AuditEntry } from "../../src/core/audit/chain.js";
import { openAlerts, postureBreaches } from "../../src/core/posture/check.js";
import type { Posture } from "../../src/core/posture/posture.js";

function posture(overrides: Partial<Posture>): Posture {
  return {
    name: "shop",
    tier: "production",
    newestRestorePoint: null,
    newestVerifiedRestorePoint: null,
    rpoSeconds: 60,
    rpoTargetSeconds: 3600,
    rpoMet: true,
    rtoSeconds: 2,
    lastDrill: { restorePointId: "p1", result: "passed", finishedAt: "2026-11-27T10:00:00Z" },
    damagedRestorePoints: [],
    databaseBytes: null,
    changesNotCovered: null,
    liveError: null,
    risks: [],
    ...overrides,
  };
}

let seq = 0;
function alert(asset: string, data: Record<string, unknown>): AuditEntry {
  seq++;
  return {
    seq,
    at: `2026-11-27T10:00:${String(seq).padStart(2, "0")}Z`,
    kind: "alert",
    identity: "lifeline serve",
    host: "h",
    asset,
    planId: null,
    data,
    prevHash: "",
    hash: "",
  };
}

describe("status --check", () => {
  it("is clean when the RPO is met, the last drill passed and no alert is open", () => {
    assert.deepEqual(postureBreaches([posture({})], []), []);
  });

  it("breaches on the RPO (or no verified restore point), a failed last drill, an open alert", () => {
    const breaches = postureBreaches(
      [
        posture({ name: "late", rpoSeconds: 7200, rpoMet: false }),
        posture({ name: "never", rpoSeconds: null, rpoMet: false, lastDrill: null }),
        posture({
          name: "failed",
          lastDrill: { restorePointId: "p9", result: "failed", finishedAt: "2026-11-27T11:00:00Z" },
        }),
        posture({ name: "dropped" }),
      ],
      openAlerts([
        alert("dropped", {
          alert: "table-dropped",
          key: "dropped:public.products",
          state: "open",
          message: "public.products was dropped",
        }),
      ]),
    );
    assert.deepEqual(
      breaches.map((b) => [b.asset, b.kind]),
      [
        ["late", "rpo"],
        ["never", "rpo"],
        ["failed", "drill-failed"],
        ["dropped", "alert"],
      ],
    );
    assert.match(breaches[0]?.message ?? "", /2h old, over its RPO of 1h/);
    assert.match(breaches[1]?.message ?? "", /no verified restore point/);
    assert.match(breaches[3]?.message ?? "", /table-dropped open since .*public.products was dropped/);
  });

  it("an alert counts while its latest entry is open, per key", () => {
    const entries = [
      alert("shop", { alert: "backup-failed", key: "shop:backup-failed", state: "open", message: "x" }),
      alert("shop", { alert: "drill-failed", key: "shop:drill-failed", state: "open", message: "y" }),
      alert("shop", { alert: "backup-failed", key: "shop:backup-failed", state: "resolved", message: "ok" }),
    ];
    assert.deepEqual(
      openAlerts(entries).map((a) => a.key),
      ["shop:drill-failed"],
    );
    assert.deepEqual(
      openAlerts(entries.slice(0, 1)).map((a) => a.key),
      ["shop:backup-failed"],
    );
  });
});
