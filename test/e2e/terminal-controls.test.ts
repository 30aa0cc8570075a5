import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/**
 * What a requester writes reaches the approver's terminal (`show`, `approve` print the plan): a
 * terminal control sequence in it (ESC, CSI, carriage return, a bidi override) must not move the
 * cursor, erase lines or reorder text there, or the approver approves something else than they see.
 */
describe("terminal control characters in what lifeline prints", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-terminal-controls-");
  const as = (user: string, args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: user } });
  // C0 (but newline and tab), DEL, C1, and the bidi embeddings, overrides and isolates.
  // eslint-disable-next-line no-control-regex
  const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

  before(async () => {
    db = await createDatabase("lifeline_terminal_controls");
    await query(
      db.url,
      "CREATE TABLE carts (id int PRIMARY KEY); INSERT INTO carts SELECT generate_series(1, 50)",
    );
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: production\n`,
    );
  });
  after(async () => {
    await db.drop();
    work.remove();
  });

  it("a plan whose SQL hides an erase-lines sequence: show and approve print it visibly escaped", async () => {
    // The comment's sequence would erase the lines above it (DROP TABLE carts: DESTRUCTIVE) and go on.
    const sql = "DROP TABLE carts; SELECT 1 /* \u001b[8A\u001b[J\rall clear \u202eok\u009b2J */";
    const planned = await as("alice", ["plan", "shop", "--json", "--sql", sql]);
    assert.equal(planned.code, 3, planned.stderr);
    const planId = (JSON.parse(planned.stdout) as { planId: string }).planId;

    for (const args of [
      ["show", planId],
      ["approve", planId],
    ]) {
      const shown = await as("bob", args);
      assert.equal(shown.code, 0, shown.stderr);
      assert.doesNotMatch(shown.stdout, controls, `${args[0]} prints no control character`);
      assert.doesNotMatch(shown.stderr, controls);
      assert.match(shown.stdout, /DROP TABLE carts/);
      assert.ok(shown.stdout.includes("\\x1b[8A\\x1b[J"), shown.stdout);
      assert.ok(shown.stdout.includes("\\u202eok\\x9b2J"), shown.stdout);
    }

    // The JSON document keeps the text exactly (JSON escapes it).
    const json = await as("bob", ["show", "--json", planId]);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { command: { text: string } }).command.text, sql);
  });

  it("a hostile plan id in an error: escaped, and cut short", async () => {
    for (const id of ["\u001b[2J\u001b[Hdeadbeef", "\u202edeadbeefcafe", "f".repeat(100_000)]) {
      const shown = await as("bob", ["show", id]);
      assert.equal(shown.code, 2, shown.stderr);
      assert.match(shown.stderr, /no plan/);
      assert.doesNotMatch(shown.stderr, controls);
      assert.ok(shown.stderr.length < 1000, `a short message (${shown.stderr.length} characters)`);
      assert.doesNotMatch(shown.stderr, /at .*\.js:\d+/, "no stack trace");
    }
  });
});
