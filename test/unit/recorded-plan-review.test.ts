/**
 * A recorded plan shown again (`show`, `approve`) is judged with the approvals it has now: its
 * document keeps the requirements as they were when it was planned ("0 so far"), which
 * contradicted the valid approval listed just below it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Approval } from "../../src/core/approval/approval.js";
import { judgeRecordedPlan, recordedRequirements } from "../../src/core/approval/decide.js";
import type { Requirement } from "../../src/core/plan/policy.js";

const planId = "c8f45b0112f1" + "0".repeat(52);
const now = new Date("2026-11-28T08:10:00Z");
const who = (id: string) => ({ id, source: "env" as const, host: "h", authenticated: false });
const approval = (over: Partial<Approval> = {}): Approval => ({
  id: "apr-1",
  planId,
  approver: who("bob"),
  comment: null,
  createdAt: "2026-11-28T08:00:00Z",
  expiresAt: "2026-11-28T09:00:00Z",
  revokedAt: null,
  revokedBy: null,
  ...over,
});
const recorded: Requirement[] = [
  { kind: "verified-restore-point", met: true, detail: "verified restore point rp-1", fix: null },
  {
    kind: "approvals",
    needed: 1,
    met: false,
    detail: "1 approval of plan c8f45b0112f1 by another person (0 so far)",
    fix: "another person approves this exact plan: lifeline approve c8f45b0112f1",
  },
];
const vouched = (approvals: Approval[], used = new Map<string, number>()) => ({
  approvals,
  forged: [],
  used,
});
const judge = (approvals: Approval[], used?: Map<string, number>) =>
  judgeRecordedPlan({
    planId,
    verdict: "require",
    requirements: recorded,
    requester: "alice",
    now,
    vouched: vouched(approvals, used),
  });

describe("a recorded plan judged with its approvals (show, approve)", () => {
  it("another person's valid approval meets the approvals requirement: allow, with who and how many", () => {
    const judged = judge([approval()]);
    assert.equal(judged.verdict, "allow");
    assert.deepEqual(judged.requirements[0], recorded[0]);
    assert.equal(judged.requirements[1]?.met, true);
    assert.equal(
      judged.requirements[1]?.detail,
      "1 approval of plan c8f45b0112f1 by another person: bob (1 so far)",
    );
    assert.equal(judged.requirements[1]?.fix, null);
  });

  it("without one that counts (none, the requester's own, expired, revoked, used up) it stays as planned", () => {
    for (const approvals of [
      [],
      [approval({ approver: who("Alice") })],
      [approval({ expiresAt: "2026-11-28T08:00:01Z" })],
      [approval({ revokedAt: "2026-11-28T08:05:00Z", revokedBy: "bob" })],
    ]) {
      const judged = judge(approvals);
      assert.equal(judged.verdict, "require");
      assert.deepEqual(judged.requirements, recorded);
    }
    const usedUp = judge([approval()], new Map([["apr-1", 1]]));
    assert.equal(usedUp.verdict, "require");
    assert.deepEqual(usedUp.requirements, recorded);
  });

  it("a plan that needs no approvals, or whose requirements cannot be read, keeps its recorded verdict", () => {
    const noApprovals = judgeRecordedPlan({
      planId,
      verdict: "allow",
      requirements: [recorded[0]!],
      requester: "alice",
      now,
      vouched: vouched([approval()]),
    });
    assert.deepEqual(noApprovals, { verdict: "allow", requirements: [recorded[0]] });
    const unreadable = judgeRecordedPlan({
      planId,
      verdict: "require",
      requirements: recordedRequirements({ requirements: "damaged" }),
      requester: "alice",
      now,
      vouched: vouched([approval()]),
    });
    assert.deepEqual(unreadable, { verdict: "require", requirements: [] });
  });

  it("a deny stays a deny whatever the approvals", () => {
    const judged = judgeRecordedPlan({
      planId,
      verdict: "deny",
      requirements: [{ kind: "deny", met: false, detail: "denied", fix: null }, recorded[1]!],
      requester: "alice",
      now,
      vouched: vouched([approval()]),
    });
    assert.equal(judged.verdict, "deny");
  });

  it("recordedRequirements reads the document's requirements and skips what is not one", () => {
    assert.deepEqual(recordedRequirements({ requirements: [...recorded, null, { kind: 1 }, "x"] }), recorded);
    assert.deepEqual(recordedRequirements(null), []);
  });
});
