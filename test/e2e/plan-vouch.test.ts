/**
 * `show` and `approve` print the plan document the catalog's plans table keeps. Someone able to
 * write that table (not the hash-chained audit log) could edit it, e.g. to hide a cascade, and the
 * approver would approve what they did not see. The plan's `plan` audit entry holds a digest of
 * the stored document and command text: end to end with the built CLI, an edited row is shown
 * with a warning and refused by approve (nothing recorded); an unedited one is shown and approved
 * as before; one recorded before plans were vouched for is shown with a note and approved with a
 * warning.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { openCatalog } from "../../src/catalog/index.js";
import { cli } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface Operation {
  target: string;
  cascade?: { name: string }[];
}

describe("the audit log vouches for the plan show and approve print", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-plan-vouch-");
  const catalogFile = () => path.join(work.dir, ".lifeline/catalog.sqlite");
  const as = (user: string, args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: user } });
  const withSqlite = <T>(f: (sqlite: Database.Database) => T): T => {
    const sqlite = new Database(catalogFile());
    try {
      return f(sqlite);
    } finally {
      sqlite.close();
    }
  };
  /** What was recorded: the audit log and the approvals, as rows. */
  const recorded = () =>
    withSqlite((sqlite) => ({
      audit: sqlite.prepare("SELECT * FROM lifeline_audit ORDER BY seq").all(),
      head: sqlite.prepare("SELECT * FROM lifeline_audit_head").all(),
      approvals: sqlite.prepare("SELECT * FROM lifeline_approvals").all(),
    }));
  const planned = async (sql: string): Promise<string> => {
    const result = await as("alice", ["plan", "shop", "--sql", sql]);
    assert.equal(result.code, 3, result.stdout + result.stderr);
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(result.stdout)?.[1];
    assert.ok(planId, result.stdout);
    return planId;
  };

  before(async () => {
    db = await createDatabase("lifeline_plan_vouch");
    await query(
      db.url,
      `CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 20);
       CREATE TABLE items (id int PRIMARY KEY, order_id int REFERENCES orders (id));
       CREATE TABLE carts (id int PRIMARY KEY); INSERT INTO carts SELECT generate_series(1, 5);
       CREATE TABLE sessions (id int PRIMARY KEY); INSERT INTO sessions SELECT generate_series(1, 5);`,
    );
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: production\n`,
    );
    assert.equal((await as("alice", ["backup", "shop"])).code, 0);
    assert.equal((await as("alice", ["drill", "shop"])).code, 0);
  });

  after(async () => {
    await db.drop();
    work.remove();
  });

  it("a plan document edited in the catalog (a cascade hidden): show warns, --json says vouched false, approve is refused and records nothing", async () => {
    const planId = await planned("DROP TABLE orders CASCADE");
    const before = await as("bob", ["show", planId]);
    assert.equal(before.code, 0, before.stderr);
    assert.match(before.stdout, /\+ constraint public\.items\.items_order_id_fkey/);
    assert.doesNotMatch(before.stdout, /WARNING/);

    // Someone able to write the plans table (not the chained log) hides the cascade.
    withSqlite((sqlite) => {
      const row = sqlite.prepare("SELECT plan_id, document FROM lifeline_plans").all() as {
        plan_id: string;
        document: string;
      }[];
      const target = row.find((r) => r.plan_id.startsWith(planId));
      assert.ok(target);
      const document = JSON.parse(target.document) as { operations: Operation[] };
      for (const op of document.operations) op.cascade = [];
      sqlite
        .prepare("UPDATE lifeline_plans SET document = ? WHERE plan_id = ?")
        .run(JSON.stringify(document), target.plan_id);
    });

    const shown = await as("bob", ["show", planId]);
    assert.equal(shown.code, 0, shown.stderr);
    const [first] = shown.stdout.split("\n");
    assert.match(
      first ?? "",
      /^WARNING: plan [0-9a-f]{12} as the catalog stores it does not match what the audit log recorded .*may have been edited.*do not approve it: plan it again/,
    );
    assert.doesNotMatch(
      shown.stdout,
      /\+ constraint public\.items\.items_order_id_fkey/,
      "the edited document is what is shown",
    );
    const json = await as("bob", ["show", planId, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout) as {
      vouched: boolean;
      unvouched: { reason: string; recordedBeforeVouching: boolean } | null;
    };
    assert.equal(doc.vouched, false);
    assert.equal(doc.unvouched?.recordedBeforeVouching, false);
    assert.match(doc.unvouched?.reason ?? "", /differs from what audit entry \d+ recorded/);

    const was = recorded();
    const approved = await as("bob", ["approve", planId]);
    assert.equal(approved.code, 4, approved.stdout + approved.stderr);
    assert.equal(approved.stdout, "", "the edited plan is not printed for approval");
    assert.match(approved.stderr, /does not match what the audit log recorded/);
    assert.match(approved.stderr, /cannot be approved; nothing was recorded/);
    assert.match(approved.stderr, /plan it again .* and approve the new id/);
    assert.doesNotMatch(approved.stderr, /\n\s+at /, "no stack trace");
    const approvedJson = await as("bob", ["approve", planId, "--json"]);
    assert.equal(approvedJson.code, 4, approvedJson.stdout + approvedJson.stderr);
    const error = JSON.parse(approvedJson.stdout) as { error: { code: string } };
    assert.equal(error.error.code, "PLAN_NOT_VOUCHED");
    assert.deepEqual(recorded(), was, "the refused approvals recorded nothing");

    // The same for the command text.
    const other = await planned("TRUNCATE carts");
    withSqlite((sqlite) =>
      sqlite
        .prepare("UPDATE lifeline_plans SET command = ? WHERE plan_id LIKE ?")
        .run(JSON.stringify({ kind: "sql", text: "SELECT 1" }), `${other}%`),
    );
    assert.match((await as("bob", ["show", other])).stdout, /^WARNING: /);
    assert.equal((await as("bob", ["approve", other])).code, 4);
  });

  it("an unedited plan, recorded again since, shows without a warning and is approved as before", async () => {
    const sql = "DROP TABLE items";
    const planId = await planned(sql);
    // Recorded again (its document differs: the restore point's age): the first row is kept, and
    // the first entry vouches for it.
    await planned(sql);
    const shown = await as("bob", ["show", planId]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.doesNotMatch(shown.stdout, /WARNING|note:/);
    const json = JSON.parse((await as("bob", ["show", planId, "--json"])).stdout) as {
      vouched: boolean;
      unvouched: unknown;
    };
    assert.deepEqual([json.vouched, json.unvouched], [true, null]);
    const approved = await as("bob", ["approve", planId]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /Approved plan/);
    assert.equal(approved.stderr, "");
    const ran = await as("alice", ["run", "shop", "--sql", sql]);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
  });

  it("a plan recorded before plans were vouched for (no digest): show notes it, approve warns and approves", async () => {
    const planId = "00d0" + "e".repeat(60);
    const catalog = await openCatalog(catalogFile());
    try {
      const at = new Date().toISOString();
      await catalog.savePlan(
        {
          planId: planId,
          assets: ["shop"],
          command: { kind: "sql", text: "TRUNCATE sessions" },
          verdict: "require",
          requestedBy: { id: "alice", source: "env", host: "h", authenticated: false },
          createdAt: at,
          document: { command: { kind: "sql", text: "TRUNCATE sessions" }, operations: [] },
        },
        {
          at,
          kind: "plan",
          identity: "alice",
          host: "h",
          asset: "shop",
          planId: planId,
          data: { command: "TRUNCATE sessions", kind: "sql", verdict: "require" },
        },
      );
    } finally {
      await catalog.close();
    }
    const id = planId.slice(0, 12);
    const shown = await as("bob", ["show", id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^note: plan [0-9a-f]{12} was recorded before lifeline vouched for plans/);
    const json = JSON.parse((await as("bob", ["show", id, "--json"])).stdout) as {
      vouched: boolean;
      unvouched: { recordedBeforeVouching: boolean } | null;
    };
    assert.deepEqual([json.vouched, json.unvouched?.recordedBeforeVouching], [false, true]);
    const approved = await as("bob", ["approve", id]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stderr, /recorded before lifeline vouched for plans/);
    assert.match(approved.stdout, /Approved plan/);
  });
});
