import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DRILL_FORMAT,
  DRILL_ID,
  latestDrillByRestorePoint,
  newDrillId,
  type DrillReport,
} from "../../src/core/drill/drill.js";
import {
  RESTORE_POINT_ID,
  newRestorePointId,
  totalArtifactBytes,
} from "../../src/core/restore-point/restore-point.js";

describe("newRestorePointId", () => {
  it("builds a sortable, directory-safe id that matches RESTORE_POINT_ID", () => {
    const id = newRestorePointId(new Date("2026-11-26T10:20:40.123Z"), "3fa9c1");
    assert.equal(id, "20261126T102040Z-3fa9c1");
    assert.match(id, RESTORE_POINT_ID);
  });

  it("sorts by time", () => {
    const a = newRestorePointId(new Date("2026-11-26T09:59:59.999Z"), "ffffff");
    const b = newRestorePointId(new Date("2026-11-26T10:00:00.000Z"), "000000");
    assert.ok(a < b);
  });

  it("RESTORE_POINT_ID rejects other shapes", () => {
    for (const bad of [
      "20261126T102040Z",
      "20261126T102040Z-3FA9C1",
      "20261126T102040Z-3fa9c",
      "../etc/passwd",
    ]) {
      assert.doesNotMatch(bad, RESTORE_POINT_ID);
    }
  });
});

describe("totalArtifactBytes", () => {
  it("sums artifact sizes", () => {
    const sha256 = "0".repeat(64);
    assert.equal(
      totalArtifactBytes({
        artifacts: [
          { path: "a", bytes: 10, sha256 },
          { path: "b", bytes: 32, sha256 },
        ],
      }),
      42,
    );
    assert.equal(totalArtifactBytes({ artifacts: [] }), 0);
  });
});

describe("newDrillId", () => {
  it("builds an id with milliseconds that matches DRILL_ID", () => {
    const id = newDrillId(new Date("2026-11-26T10:45:12.345Z"));
    assert.equal(id, "20261126T104512345Z");
    assert.match(id, DRILL_ID);
  });

  it("keeps two drills in the same second apart and in order", () => {
    const a = newDrillId(new Date("2026-11-26T10:45:12.001Z"));
    const b = newDrillId(new Date("2026-11-26T10:45:12.002Z"));
    assert.notEqual(a, b);
    assert.ok(a < b);
  });

  it("DRILL_ID rejects other shapes", () => {
    for (const bad of ["20261126T104512Z", "20261126T104512345", "x0261126T104512345Z"]) {
      assert.doesNotMatch(bad, DRILL_ID);
    }
  });
});

function drill(restorePointId: string, finishedAt: string, result: "passed" | "failed"): DrillReport {
  return {
    format: DRILL_FORMAT,
    id: finishedAt,
    asset: "shop",
    restorePointId,
    startedAt: finishedAt,
    finishedAt,
    result,
    failure: null,
    scratch: { kind: "embedded", serverVersion: null },
    tools: {},
    restoreSeconds: 1,
    verifySeconds: 1,
    mismatches: [],
  };
}

describe("latestDrillByRestorePoint", () => {
  it("is empty without drills", () => {
    assert.equal(latestDrillByRestorePoint([]).size, 0);
  });

  it("keeps the most recently finished drill per restore point, whatever the input order", () => {
    const drills = [
      drill("rp-a", "2026-11-26T10:00:00.000Z", "passed"),
      drill("rp-b", "2026-11-26T09:00:00.000Z", "passed"),
      drill("rp-a", "2026-11-26T12:00:00.000Z", "failed"),
      drill("rp-a", "2026-11-26T11:00:00.000Z", "passed"),
    ];
    for (const order of [drills, [...drills].reverse()]) {
      const latest = latestDrillByRestorePoint(order);
      assert.equal(latest.size, 2);
      assert.equal(latest.get("rp-a")?.finishedAt, "2026-11-26T12:00:00.000Z");
      assert.equal(latest.get("rp-a")?.result, "failed");
      assert.equal(latest.get("rp-b")?.finishedAt, "2026-11-26T09:00:00.000Z");
    }
  });
});
