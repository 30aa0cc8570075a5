import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { AuditEntry } from "../../src/core/audit/chain.js";
import { alertOpening, openAlerts, postureBreaches } from "../../src/core/posture/check.js";
import { openWatchAlerts } from "../../src/core/watch/alert.js";
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

  it("an alert that repeats is open since it first opened, not since its last repeat", () => {
    const first = alert("shop", {
      alert: "backup-failed",
      key: "shop:backup-failed",
      state: "open",
      message: "failed",
      openedAt: "2026-11-26T03:00:00.000Z",
    });
    const repeat = alert("shop", {
      alert: "backup-failed",
      key: "shop:backup-failed",
      state: "open",
      message: "failed again",
      openedAt: "2026-11-26T03:00:00.000Z",
      repeated: true,
    });
    const [open] = openAlerts([first, repeat]);
    assert.equal(open?.since, "2026-11-26T03:00:00.000Z");
    assert.equal(open?.message, "failed again");
    const [breach] = postureBreaches([posture({})], openAlerts([repeat]));
    assert.match(breach?.message ?? "", /backup-failed open since 2026-11-26T03:00:00.000Z: failed again/);
    // Entries written before openedAt existed (or with a value that is not a time): their own time.
    const old = alert("shop", {
      alert: "drill-failed",
      key: "shop:drill-failed",
      state: "open",
      message: "x",
    });
    const bad = alert("shop", {
      alert: "copy-failed",
      key: "shop:copy-failed",
      state: "open",
      message: "y",
      openedAt: "yesterday",
    });
    assert.deepEqual(
      openAlerts([old, bad]).map((a) => a.since),
      [old.at, bad.at],
    );
  });

  it("a new open entry keeps the opening time of the alert open already, and says it repeats", () => {
    assert.deepEqual(alertOpening(undefined, "2026-11-27T10:00:00.000Z"), {
      repeated: false,
      openedAt: "2026-11-27T10:00:00.000Z",
    });
    assert.deepEqual(alertOpening({ since: "2026-11-26T03:00:00.000Z" }, "2026-11-27T10:00:00.000Z"), {
      repeated: true,
      openedAt: "2026-11-26T03:00:00.000Z",
    });
  });

  it("status --check and a restarted watch agree on when a watch alert opened", () => {
    const entry = alert("shop", {
      alert: "table-dropped",
      key: "shop:table:public.orders",
      state: "open",
      message: "public.orders was dropped",
      object: "public.orders",
      openedAt: "2026-11-26T03:00:00.000Z",
    });
    assert.equal(openAlerts([entry])[0]?.since, "2026-11-26T03:00:00.000Z");
    assert.equal(openWatchAlerts([entry])[0]?.openedAt, "2026-11-26T03:00:00.000Z");
    const undated = alert("shop", { ...entry.data, openedAt: 42 });
    assert.equal(openAlerts([undated])[0]?.since, undated.at);
    assert.equal(openWatchAlerts([undated])[0]?.openedAt, undated.at);
  });
});
