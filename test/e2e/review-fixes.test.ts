/**
 * What an adversarial review of the gate found after issue 9 and 10 landed, end to end with the built
 * CLI: JSON output that a mask could break, secrets in unparseable SQL and in database errors reaching
 * the catalog, bytes after a NUL hidden from the plan, SQL that ends its own transaction using up an
 * approval before it was refused.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, startCli } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

const SECRET = "hunter2-review";

describe("review fixes: redaction, NUL bytes, transaction control", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-review-fixes-");
  const as = (user: string, args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: user } });
  const catalogBytes = () => readFileSync(path.join(work.dir, ".lifeline/catalog.sqlite")).toString("latin1");

  before(async () => {
    db = await createDatabase("lifeline_review");
    await query(
      db.url,
      "CREATE TABLE victim (id int PRIMARY KEY); INSERT INTO victim SELECT generate_series(1, 20)",
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

  it("plan --json stays JSON when a password is masked inside a string, and shows no secret", async () => {
    const sql = `DELETE FROM victim WHERE id = 11; SELECT dblink_connect('password=${SECRET}')`;
    const planned = await as("alice", ["plan", "shop", "--json", "--sql", sql]);
    assert.equal(planned.code, 3, planned.stderr);
    const doc = JSON.parse(planned.stdout) as { planId: string; command: { text: string } };
    assert.ok(!planned.stdout.includes(SECRET), planned.stdout);
    assert.match(doc.command.text, /dblink_connect\('password=\*{5}'\)/);
    const shown = await as("bob", ["show", doc.planId.slice(0, 12), "--json"]);
    assert.equal(shown.code, 0, shown.stderr);
    JSON.parse(shown.stdout);
    const audit = await as("bob", ["audit", "--json"]);
    JSON.parse(audit.stdout);
    assert.ok(!catalogBytes().includes(SECRET), "the catalog holds the secret");
  });

  it("an unterminated password literal is masked in the plan, its reasons, and the catalog", async () => {
    const sql = `DELETE FROM victim WHERE id = 9; ALTER ROLE nobody PASSWORD '${SECRET}`;
    const text = await as("alice", ["plan", "shop", "--sql", sql]);
    const json = await as("alice", ["plan", "shop", "--json", "--sql", sql]);
    JSON.parse(json.stdout);
    for (const output of [text.stdout, text.stderr, json.stdout, json.stderr])
      assert.ok(!output.includes(SECRET), output);
    assert.ok(!catalogBytes().includes(SECRET), "the catalog holds the secret");
  });

  it("a database error quoting a secret is stored and shown masked", async () => {
    const sql = `UPDATE victim SET id = id WHERE id = 1; ALTER ROLE CURRENT_USER PASSWORD '${SECRET}' VALID UNTIL '${SECRET}'`;
    const planned = await as("alice", ["plan", "shop", "--sql", sql]);
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(planned.stdout)?.[1];
    assert.ok(planId, planned.stdout);
    assert.equal((await as("bob", ["approve", planId])).code, 0);
    const ran = await as("alice", ["run", "shop", "--sql", sql]);
    assert.equal(ran.code, 1, ran.stdout + ran.stderr);
    const shown = await as("bob", ["show", planId]);
    const audit = await as("bob", ["audit", "--json"]);
    for (const output of [ran.stdout, ran.stderr, shown.stdout, audit.stdout])
      assert.ok(!output.includes(SECRET), output);
    assert.ok(!catalogBytes().includes(SECRET), "the catalog holds the secret");
  });

  it("SQL with a NUL byte is refused: what follows it would be in no plan and no plan id", async () => {
    const file = path.join(work.dir, "nul.sql");
    writeFileSync(file, "DELETE FROM victim WHERE id = 1;\u0000 DROP TABLE victim;");
    for (const verb of ["plan", "run"]) {
      const result = await as("alice", [verb, "shop", "-f", file]);
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.match(result.stderr, /NUL byte/);
    }
    assert.equal(
      (await query<{ n: string }>(db.url, "SELECT count(*)::text AS n FROM victim"))[0]?.n !== "0",
      true,
    );
  });

  it("SQL that ends its own transaction is refused before an approval is used (exit 3)", async () => {
    const sql = "DELETE FROM victim WHERE id = 7; COMMIT; DELETE FROM victim WHERE id = 1/0";
    const planned = await as("alice", ["plan", "shop", "--sql", sql]);
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(planned.stdout)?.[1];
    assert.ok(planId, planned.stdout);
    assert.equal((await as("bob", ["approve", planId])).code, 0);
    const ran = await as("alice", ["run", "shop", "--sql", sql]);
    assert.equal(ran.code, 3, ran.stdout + ran.stderr);
    assert.match(ran.stderr, /controls transactions itself/);
    const shown = await as("bob", ["show", planId]);
    assert.match(shown.stdout, /0 of 1 use taken/);
    const rows = await query<{ n: string }>(db.url, "SELECT count(*)::text AS n FROM victim WHERE id = 7");
    assert.equal(rows[0]?.n, "1");
  });

  interface StatusDoc {
    assets: { name: string; unfinished: { planId: string }[] | null }[];
    unfinished: {
      planId: string;
      asset: string | null;
      command: string;
      startedBy: string;
      startedAt: string;
      show: string;
    }[];
  }
  const statusOf = async () => {
    const text = await as("bob", ["status"]);
    assert.equal(text.code, 0, text.stderr);
    const json = await as("bob", ["status", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    return { text: text.stdout, doc: JSON.parse(json.stdout) as StatusDoc };
  };
  const waitForSql = async (text: string) => {
    for (let i = 0; i < 200; i++) {
      const busy = await query<{ n: string }>(
        db.url,
        `SELECT count(*)::text AS n FROM pg_stat_activity WHERE query LIKE '%${text}%' AND pid <> pg_backend_pid()`,
      );
      if (busy[0]?.n !== "0") return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  /** Planned by alice, approved by bob, then run by alice in the background. */
  const startApprovedRun = async (sql: string) => {
    const planned = await as("alice", ["plan", "shop", "--sql", sql]);
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(planned.stdout)?.[1];
    assert.ok(planId, planned.stdout);
    assert.equal((await as("bob", ["approve", planId])).code, 0);
    const running = startCli(["run", "shop", "--sql", sql], {
      cwd: work.dir,
      env: { LIFELINE_USER: "alice" },
    });
    return { planId, running };
  };

  it("status names an execution while it has no outcome (plan, command, who, when, what to do); not once it finished", async () => {
    // Every run so far recorded its outcome: nothing to report.
    const before = await statusOf();
    assert.doesNotMatch(before.text, /UNFINISHED/);
    assert.deepEqual(before.doc.unfinished, []);
    assert.deepEqual(before.doc.assets.find((a) => a.name === "shop")?.unfinished, []);

    const sql = "DELETE FROM victim WHERE id = 19; SELECT pg_sleep(8)";
    const { planId, running } = await startApprovedRun(sql);
    await waitForSql("pg_sleep(8)");
    const during = await statusOf();
    assert.match(
      during.text,
      new RegExp(
        `UNFINISHED on shop: \`DELETE FROM victim WHERE id = 19; SELECT pg_sleep\\(8\\)\` \\(plan ${planId}\\) started by alice at \\S+ and recorded no outcome: it was killed, or is still running\\. See what it ran: lifeline show ${planId}; check shop's database or cluster`,
      ),
    );
    assert.equal(during.doc.unfinished.length, 1, JSON.stringify(during.doc.unfinished));
    const u = during.doc.unfinished[0];
    assert.equal(u?.planId.slice(0, 12), planId);
    assert.equal(u?.asset, "shop");
    assert.equal(u?.startedBy, "alice");
    assert.equal(u?.command, sql);
    assert.equal(u?.show, `lifeline show ${planId}`);
    assert.ok(Date.parse(u?.startedAt ?? "") > 0);
    assert.equal(during.doc.assets.find((a) => a.name === "shop")?.unfinished?.length, 1);

    assert.equal((await running.done).code, 0);
    const after = await statusOf();
    assert.doesNotMatch(after.text, /UNFINISHED/);
    assert.deepEqual(after.doc.unfinished, []);
  });

  it("show names an execution that started and was killed before recording its outcome", async () => {
    const sql = "DELETE FROM victim WHERE id = 20; SELECT pg_sleep(30)";
    const { planId, running } = await startApprovedRun(sql);
    // Wait until the database runs the statement, then kill lifeline as an OOM killer would.
    for (let i = 0; i < 200; i++) {
      const busy = await query<{ n: string }>(
        db.url,
        "SELECT count(*)::text AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()",
      );
      if (busy[0]?.n !== "0") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    running.child.kill("SIGKILL");
    await running.done;
    const shown = await as("bob", ["show", planId]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /started .* by alice \(audit entry \d+\): no outcome recorded/);
    const doc = JSON.parse((await as("bob", ["show", planId, "--json"])).stdout) as { unfinished: unknown[] };
    assert.equal(doc.unfinished.length, 1);
    // status says so too, until someone looks: the process is gone, its outcome will never come.
    const status = await statusOf();
    assert.match(status.text, new RegExp(`UNFINISHED on shop: .* \\(plan ${planId}\\) started by alice `));
    assert.deepEqual(
      status.doc.unfinished.map((x) => x.planId.slice(0, 12)),
      [planId],
    );
  });
});
