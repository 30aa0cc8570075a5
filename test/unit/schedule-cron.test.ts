import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseCron, cronProblem } from "../../src/core/schedule/cron.js";
import { parseConfig } from "../../src/config/load.js";
import { LifelineError } from "../../src/core/errors.js";

const next = (expr: string, after: string) => parseCron(expr).next(new Date(after)).toISOString();

describe("parseCron", () => {
  it("computes the next fire time of five-field expressions, in UTC", () => {
    assert.equal(next("0 3 * * *", "2026-11-27T14:16:12Z"), "2026-11-28T03:00:00.000Z");
    assert.equal(next("*/15 * * * *", "2026-11-27T14:16:12Z"), "2026-11-27T14:30:00.000Z");
    assert.equal(next("0 0 1 * *", "2026-12-15T00:00:00Z"), "2027-01-01T00:00:00.000Z");
    assert.equal(next("30 2 * * mon-fri", "2026-11-27T14:00:00Z"), "2026-11-30T02:30:00.000Z"); // Fri → Mon
    assert.equal(next("0 0 29 feb *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00.000Z");
    assert.equal(next("0 12 * * 7", "2026-11-27T00:00:00Z"), "2026-11-29T12:00:00.000Z"); // 7 is Sunday
    assert.equal(next("@hourly", "2026-11-27T14:16:12Z"), "2026-11-27T15:00:00.000Z");
    assert.equal(next("@daily", "2026-11-27T14:16:12Z"), "2026-11-28T00:00:00.000Z");
    assert.equal(next("5/20 * * * *", "2026-11-27T14:26:00Z"), "2026-11-27T14:45:00.000Z");
    assert.equal(next("0 9 1,15 * *", "2026-11-02T00:00:00Z"), "2026-11-15T09:00:00.000Z");
  });

  it("fires strictly after the given time, never at it", () => {
    assert.equal(next("0 3 * * *", "2026-11-28T03:00:00Z"), "2026-11-29T03:00:00.000Z");
    assert.equal(next("* * * * *", "2026-11-27T14:16:00.500Z"), "2026-11-27T14:17:00.000Z");
  });

  it("takes a sixth field, seconds first, for short intervals", () => {
    const s = parseCron("*/2 * * * * *");
    assert.equal(s.seconds, true);
    assert.equal(s.next(new Date("2026-11-27T14:16:13.400Z")).toISOString(), "2026-11-27T14:16:14.000Z");
    assert.equal(next("10 * * * * *", "2026-11-27T14:16:13Z"), "2026-11-27T14:17:10.000Z");
    assert.equal(parseCron("0 * * * *").seconds, false);
  });

  it("ORs day-of-month and day-of-week when both are restricted (Vixie cron)", () => {
    // 1st of the month or a Monday: Monday 30 Nov comes before 1 Dec.
    assert.equal(next("0 0 1 * mon", "2026-11-27T00:00:00Z"), "2026-11-30T00:00:00.000Z");
  });

  it("says what is wrong with an invalid expression", () => {
    assert.match(cronProblem("61 * * * *") ?? "", /minute field has 61, outside 0-59/);
    assert.match(cronProblem("* * *") ?? "", /has 3 fields/);
    assert.match(cronProblem("*/0 * * * *") ?? "", /step/);
    assert.match(cronProblem("0 0 31 feb *") ?? "", /no date matches/);
    assert.match(cronProblem("0 0 * * funday") ?? "", /not a number/);
    assert.match(cronProblem("5-1 * * * *") ?? "", /backwards/);
    assert.equal(cronProblem("0 3 * * *"), null);
  });
});

describe("schedule and retention in lifeline.yaml", () => {
  const FILE = "/srv/app/lifeline.yaml";
  const config = (asset: string) => `
assets:
  shop:
    url: postgres://app@db:5432/shop
${asset}`;

  it("reads schedules and retention with their defaults", () => {
    const c = parseConfig(
      config(
        "    schedule: { backup: '0 */6 * * *', drill: after-backup }\n    retention: { keepLast: 5 }\n",
      ),
      FILE,
    );
    assert.deepEqual(c.assets.shop?.schedule, { backup: "0 */6 * * *", drill: "after-backup" });
    assert.deepEqual(c.assets.shop?.retention, { keepLast: 5, daily: 7, weekly: 4 });
  });

  it("refuses an invalid cron expression at load time, naming the path and the fix", () => {
    assert.throws(
      () => parseConfig(config("    schedule: { backup: '0 25 * * *' }\n"), FILE),
      (error: unknown) => {
        assert.ok(error instanceof LifelineError);
        assert.equal(error.code, "CONFIG_INVALID");
        assert.match(
          error.message,
          /assets\.shop\.schedule\.backup: "0 25 \* \* \*" is not a cron expression \(the hour field has 25, outside 0-23\); write it like "0 3 \* \* \*"/,
        );
        return true;
      },
    );
    assert.throws(
      () => parseConfig(config("    schedule: { drill: 'after backup' }\n"), FILE),
      /schedule\.drill/,
    );
    assert.throws(() => parseConfig(config("    retention: { keepLast: 0 }\n"), FILE), /retention\.keepLast/);
  });
});
