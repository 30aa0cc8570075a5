import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  planRetention,
  unknownLatestDrill,
  type RetentionCandidate,
} from "../../src/core/retention/retention.js";

const NOW = new Date("2026-11-27T12:00:00Z"); // a Friday

function point(
  id: string,
  snapshotTime: string,
  drill: RetentionCandidate["drill"] = "passed",
  damaged = false,
) {
  return { id, snapshotTime, drill, damaged };
}

function removed(decisions: ReturnType<typeof planRetention>): string[] {
  return decisions.filter((d) => d.remove).map((d) => d.id);
}

describe("planRetention", () => {
  it("keeps the last N verified and removes the older verified ones, saying why", () => {
    const points = [1, 2, 3, 4, 5].map((h) => point(`p${h}`, `2026-11-27T0${h}:00:00Z`));
    const d = planRetention({
      policy: { keepLast: 2, daily: 0, weekly: 0 },
      restorePoints: points,
      inUse: new Map(),
      now: NOW,
    });
    assert.deepEqual(removed(d), ["p3", "p2", "p1"]);
    assert.match(
      d.find((x) => x.id === "p1")?.reasons[0] ?? "",
      /outside the retention policy \(keepLast 2, daily 0, weekly 0\)/,
    );
    assert.match(
      d.find((x) => x.id === "p5")?.reasons.join() ?? "",
      /newest verified restore point \(always kept\)/,
    );
  });

  it("keeps the newest verified of each of the last D days and W weeks", () => {
    const points = [
      point("mon-a", "2026-11-23T01:00:00Z"),
      point("mon-b", "2026-11-23T05:00:00Z"),
      point("thu", "2026-11-26T05:00:00Z"),
      point("fri", "2026-11-27T05:00:00Z"),
      point("prev-week-sun", "2026-11-22T05:00:00Z"),
      point("prev-week-sat", "2026-11-21T05:00:00Z"),
      point("three-weeks-ago", "2026-11-04T05:00:00Z"),
    ];
    const d = planRetention({
      policy: { keepLast: 1, daily: 2, weekly: 2 },
      restorePoints: points,
      inUse: new Map(),
      now: NOW,
    });
    // daily 2: today (fri) and yesterday (thu); weekly 2: this week's newest (fri) and last week's (sun 22nd).
    assert.deepEqual(removed(d).sort(), ["mon-a", "mon-b", "prev-week-sat", "three-weeks-ago"]);
    assert.match(
      d.find((x) => x.id === "prev-week-sun")?.reasons.join() ?? "",
      /week of 2026-11-16 \(weekly 2\)/,
    );
    assert.match(d.find((x) => x.id === "thu")?.reasons.join() ?? "", /2026-11-26 \(daily 2\)/);
  });

  it("never removes the newest verified, one in use, a damaged one, or one not drilled yet", () => {
    const points = [
      point("old-verified", "2026-11-01T00:00:00Z"),
      point("standby", "2026-11-02T00:00:00Z"),
      point("damaged", "2026-11-03T00:00:00Z", "passed", true),
      point("failed", "2026-11-04T00:00:00Z", "failed"),
      point("never", "2026-11-05T00:00:00Z", null),
      point("verified", "2026-11-06T00:00:00Z"),
      point("pending", "2026-11-07T00:00:00Z", null),
      point("failed-newer", "2026-11-08T00:00:00Z", "failed"),
    ];
    const d = planRetention({
      policy: { keepLast: 1, daily: 0, weekly: 0 },
      restorePoints: points,
      inUse: new Map([["standby", "the standby shop_standby serves it"]]),
      now: NOW,
    });
    assert.deepEqual(removed(d).sort(), ["failed", "never", "old-verified"]);
    const why = (id: string) => d.find((x) => x.id === id)?.reasons.join("; ") ?? "";
    assert.match(why("standby"), /in use: the standby shop_standby serves it/);
    assert.match(why("damaged"), /damaged/);
    assert.match(why("pending"), /not drilled yet/);
    assert.match(why("failed-newer"), /drill failed, but it is newer/);
    assert.match(why("failed"), /latest drill failed and the newer verified is verified|latest drill failed/);
    assert.match(why("never"), /never drilled and older than the newest verified verified/);
  });

  it("removes nothing while no restore point is verified", () => {
    const points = [point("a", "2026-11-01T00:00:00Z", "failed"), point("b", "2026-11-02T00:00:00Z", null)];
    const d = planRetention({
      policy: { keepLast: 1, daily: 0, weekly: 0 },
      restorePoints: points,
      inUse: new Map(),
      now: NOW,
    });
    assert.deepEqual(removed(d), []);
  });

  it("always keeps the newest verified even when the policy keeps nothing by date", () => {
    const points = [point("ancient", "2020-01-01T00:00:00Z"), point("older", "2019-01-01T00:00:00Z")];
    const d = planRetention({
      policy: { keepLast: 1, daily: 1, weekly: 1 },
      restorePoints: points,
      inUse: new Map(),
      now: NOW,
    });
    assert.deepEqual(removed(d), ["older"]);
  });

  it("keeps a restore point with a damaged drill report: not taken for never drilled, even outside keepLast", () => {
    const points = [
      { ...point("a", "2026-11-27T01:00:00Z", null), drillReportDamaged: true },
      { ...point("b", "2026-11-27T02:00:00Z", "failed"), drillReportDamaged: true },
      { ...point("c", "2026-11-27T03:00:00Z"), drillReportDamaged: true },
      point("d", "2026-11-27T04:00:00Z", null),
      point("e", "2026-11-27T05:00:00Z"),
      point("f", "2026-11-27T06:00:00Z"),
    ];
    const d = planRetention({
      policy: { keepLast: 1, daily: 0, weekly: 0 },
      restorePoints: points,
      inUse: new Map(),
      now: NOW,
    });
    assert.deepEqual(removed(d), ["e", "d"]);
    for (const id of ["a", "b", "c"])
      assert.match(
        d.find((x) => x.id === id)?.reasons.join("; ") ?? "",
        /a drill report of it is damaged \(`lifeline check` names it\): kept until it is drilled again or the report is removed/,
        id,
      );
    // It does not count as verified: f stays the newest verified.
    assert.match(d.find((x) => x.id === "f")?.reasons.join() ?? "", /newest verified/);
  });

  it("a damaged drill report counts until a readable drill started after it", () => {
    const drill = (restorePointId: string, id: string) => ({ restorePointId, id });
    const unknown = unknownLatestDrill(
      [
        drill("a", "20261127T010000000Z"),
        drill("b", "20261127T030000000Z"),
        drill("c", "20261127T010000000Z"),
      ],
      [
        drill("a", "20261127T020000000Z"), // after a's readable drill: unknown
        drill("b", "20261127T020000000Z"), // b was drilled again since: known
        drill("c", "not-a-drill-id"), // not named like a drill: unknown
        drill("d", "20261127T020000000Z"), // no readable drill at all: unknown
      ],
    );
    assert.deepEqual([...unknown].sort(), ["a", "c", "d"]);
  });
});
