import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { demoExpectations, type DemoFacts } from "../../src/demo/demo.js";
import { gateLine } from "../../src/cli/render/demo.js";

const AS_EXPECTED: DemoFacts = {
  activity: { newOrders: 25, stockUpdates: 40 },
  drill: "passed",
  changesNotCovered: 65,
  checkProblems: 0,
  dropVerdict: "require",
  k8sBefore: "require",
  protectChanges: 2,
  protectedVolumes: 2,
  k8sAfter: { verdict: "allow", dataLoss: "recoverable" },
  blocked: "blocked",
  executed: "executed",
  chainOk: true,
  recovery: {
    loss: "executed",
    feedBefore: 2000,
    feedBroken: false,
    standbyVerified: true,
    standbyFeed: 2000,
    standbyWriteFailed: true,
    restoreVerified: true,
    restored: ["public.products"],
    feedAfter: 2000,
    orders: { before: 3775, after: 3775 },
    audit: {
      chainOk: true,
      recorded: ["plan", "run (executed)", "standby", "plan", "run (executed)", "restore"],
    },
  },
};
const WATCHED: NonNullable<DemoFacts["watch"]> = {
  intervalMs: 250,
  noticedAfterMs: 120,
  roundsMissed: 0,
  alert:
    ":rotating_light: table public.products was dropped; view public.merchant_feed read it\nlifeline restore shop --tables public.products",
  resolved: ":white_check_mark: public.products is back",
  problems: [],
};
const recovering = (facts: Partial<DemoFacts["recovery"]>): Partial<DemoFacts> => ({
  recovery: { ...AS_EXPECTED.recovery, ...facts },
});

describe("the demo's exit code comes from every step", () => {
  it("every expectation is met when every step did what the demo expects", () => {
    assert.deepEqual(
      demoExpectations(AS_EXPECTED).filter((e) => !e.ok),
      [],
    );
    assert.deepEqual(
      demoExpectations({ ...AS_EXPECTED, watch: WATCHED }).filter((e) => !e.ok),
      [],
    );
  });

  it("a watch that sent nothing fails both of its expectations, with what it logged", () => {
    const unmet = demoExpectations({
      ...AS_EXPECTED,
      watch: {
        ...WATCHED,
        noticedAfterMs: null,
        roundsMissed: null,
        alert: null,
        resolved: null,
        problems: ['watch-failed {"asset":"shop","error":"connection refused"}'],
      },
    }).filter((e) => !e.ok);
    assert.deepEqual(
      unmet.map((e) => e.step),
      ["watch", "watch"],
    );
    assert.match(
      unmet[0]?.actual ?? "",
      /no alert came within three rounds after the loss; the watch logged: watch-failed .*connection refused/,
    );
    assert.match(
      unmet[1]?.actual ?? "",
      /no resolved message came within three rounds after the restore; the watch logged/,
    );
  });

  const broken: [string, Partial<DemoFacts>, RegExp][] = [
    ["the drill failed", { drill: "failed" }, /the drill failed/],
    ["the status miscounts the changes", { changesNotCovered: 64 }, /64 row changes/],
    ["the check found problems", { checkProblems: 1 }, /1 problems/],
    ["DROP TABLE was allowed", { dropVerdict: "allow" }, /verdict allow/],
    ["protect stopped half way", { protectedVolumes: 1 }, /1 of 2 volumes/],
    [
      "the volume is still lost after protect",
      { k8sAfter: { verdict: "require", dataLoss: "destructive" } },
      /destructive/,
    ],
    ["the unapproved run was not blocked", { blocked: "executed" }, /was executed/],
    ["the approved run failed", { executed: "failed" }, /the run was failed/],
    ["the audit chain broke", { chainOk: false }, /broken/],
    ["the approved DROP did not run", recovering({ loss: "failed" }), /the run was failed/],
    ["the feed survived the drop", recovering({ feedBroken: true }), /still answers/],
    ["the standby did not verify", recovering({ standbyVerified: false }), /verified false/],
    ["the standby took a write", recovering({ standbyWriteFailed: false }), /write succeeded/],
    ["the restore did not verify", recovering({ restoreVerified: false }), /verified false/],
    ["the feed lost products", recovering({ feedAfter: 1960 }), /feed 1960, 2000 before/],
    ["the feed still fails", recovering({ feedAfter: null }), /feed failed/],
    [
      "the restore changed orders",
      recovering({ orders: { before: 3775, after: 0 } }),
      /3775 before, 0 after/,
    ],
    ["the chain broke after the gate", recovering({ audit: { chainOk: false, recorded: [] } }), /broken/],
    [
      "the restore was not recorded",
      recovering({ audit: { chainOk: true, recorded: ["plan", "standby"] } }),
      /recorded: plan, standby/,
    ],
    [
      "the watch noticed the loss only a round later",
      { watch: { ...WATCHED, roundsMissed: 1 } },
      /1 round\(s\) after the loss missed it/,
    ],
    [
      "the watch sent an alert without the restore command",
      { watch: { ...WATCHED, alert: ":rotating_light: table public.products was dropped (merchant_feed)" } },
      /the alert came after 120 ms/,
    ],
  ];
  for (const [what, facts, actual] of broken) {
    it(`a step that did not do what the demo expects fails it: ${what}`, () => {
      const unmet = demoExpectations({ ...AS_EXPECTED, ...facts }).filter((e) => !e.ok);
      assert.equal(unmet.length, 1, JSON.stringify(unmet));
      assert.match(unmet[0]?.actual ?? "", actual);
    });
  }
});

describe("the demo says what the gate did", () => {
  const outcome = (status: string) =>
    ({
      status,
      plan: { planId: "a".repeat(64) },
      decision: { approvals: [{ approver: { id: "bob@shop.example" } }] },
      execution: { id: "exe-1" },
      detail: "ERROR: permission denied for table orders (rolled back)",
    }) as unknown as Parameters<typeof gateLine>[0];

  it("a run that failed is FAILED, with why, not 'BLOCKED … nothing was run'", () => {
    const line = gateLine(outcome("failed"));
    assert.match(line, /^FAILED/);
    assert.match(line, /permission denied/);
    assert.doesNotMatch(line, /BLOCKED|nothing was run/);
  });

  it("blocked and executed runs say so", () => {
    assert.match(gateLine(outcome("blocked")), /^BLOCKED \(exit 3\).*nothing was run/);
    assert.match(gateLine(outcome("executed")), /^EXECUTED .*approved by bob@shop\.example/);
  });
});
