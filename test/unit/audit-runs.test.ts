import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEntry } from "../../src/core/audit/chain.js";
import { unfinishedExecutions } from "../../src/core/audit/runs.js";

function run(seq: number, identity: string, status: string): AuditEntry {
  return {
    seq,
    prevHash: "",
    hash: "",
    at: `2026-11-27T10:00:${String(seq).padStart(2, "0")}Z`,
    kind: "run",
    identity,
    host: "h",
    asset: "shop",
    planId: "p",
    data: { status },
  };
}

describe("unfinishedExecutions: executions announced and never finished (a killed run)", () => {
  it("an executing entry followed by its outcome is finished", () => {
    assert.deepEqual(unfinishedExecutions([run(1, "alice", "executing"), run(2, "alice", "executed")]), []);
    assert.deepEqual(unfinishedExecutions([run(1, "alice", "executing"), run(2, "alice", "failed")]), []);
  });

  it("an executing entry with no outcome is unfinished; blocks and other people's outcomes do not close it", () => {
    const entries = [
      run(1, "alice", "blocked"),
      run(2, "alice", "executing"),
      run(3, "bob", "executing"),
      run(4, "bob", "executed"),
      run(5, "alice", "blocked"),
    ];
    assert.deepEqual(unfinishedExecutions(entries), [
      { seq: 2, at: "2026-11-27T10:00:02Z", identity: "alice" },
    ]);
  });

  it("in any order of the input, by sequence", () => {
    const entries = [run(4, "alice", "executing"), run(3, "alice", "executed"), run(2, "alice", "executing")];
    assert.deepEqual(
      unfinishedExecutions(entries).map((u) => u.seq),
      [4],
    );
  });
});
