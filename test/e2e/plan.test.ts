import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import { cli } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

describe("lifeline plan, run as a process", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-plan-e2e-");
  const run = (args: string[]) => cli(args, { cwd: work.dir });

  before(async () => {
    db = await createDatabase("lifeline_plan_e2e");
    await query(db.url, SHOP_SCHEMA);
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:
  shop:
    url: ${db.url}
    tier: production
  shop-staging:
    url: ${db.url}
    tier: staging
policy:
  rules:
    - name: production-destructive
      match: { tier: production, dataLoss: [destructive, unknown] }
      require: { verifiedRestorePoint: rpo, approvals: 1 }
    - name: no-drop-database
      match: { kind: drop-database }
      deny: dropping a database is done by the platform team, not in a migration
`,
    );
    writeFileSync(
      path.join(work.dir, "0043_psql.sql"),
      [
        "\\set ON_ERROR_STOP on",
        "\\echo 'migrating'",
        "\\timing on",
        "ALTER TABLE orders ALTER COLUMN customer_email TYPE varchar;",
        "CREATE VIEW recent_orders AS SELECT * FROM orders WHERE created_at > now() - interval '1 day';",
        "DELETE FROM orders WHERE status = 'cancelled';",
        "\\i 0044_more.sql",
        "UPDATE products SET stock = 0 WHERE id = 1;",
        "",
      ].join("\n"),
    );
    writeFileSync(
      path.join(work.dir, "0042_cleanup.sql"),
      "-- cleanup\nCREATE INDEX orders_at ON orders (created_at);\nDELETE FROM orders WHERE status = 'cancelled';\n",
    );
  });
  after(async () => {
    await db.drop();
    work.remove();
  });

  it("a migration file on production: verdict require, exit 3, the JSON contract", async () => {
    const result = await run(["plan", "shop", "-f", "0042_cleanup.sql", "--json"]);
    assert.equal(result.code, 3, result.stderr);
    const doc = JSON.parse(result.stdout) as Record<string, unknown> & {
      operations: Record<string, unknown>[];
      requirements: { kind: string; met: boolean; detail: string; fix: string | null }[];
    };
    assert.match(String(doc.planId), /^[0-9a-f]{64}$/);
    assert.equal(doc.asset, "shop");
    assert.equal(doc.verdict, "require");
    assert.deepEqual(
      doc.operations.map((o) => [o.kind, o.dataLoss, o.target]),
      [
        ["index", "none", null],
        ["delete", "destructive", "public.orders"],
      ],
    );
    for (const key of ["statement", "rows", "bytes", "cascade"])
      assert.ok(key in (doc.operations[1] ?? {}), key);
    assert.ok(Array.isArray(doc.dependents));
    assert.ok("recoverability" in doc);
    const rp = doc.requirements.find((r) => r.kind === "verified-restore-point");
    assert.equal(rp?.met, false);
    assert.equal(rp?.fix, "lifeline backup shop && lifeline drill shop");
  });

  it("the same migration on staging (no rule applies): allow, exit 0, human output", async () => {
    const result = await run(["plan", "shop-staging", "-f", "0042_cleanup.sql"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /: ALLOW/);
    assert.match(result.stdout, /What it does/);
    assert.match(result.stdout, /DESTRUCTIVE public\.orders/);
    assert.match(result.stdout, /order_items — rows deleted by ON DELETE CASCADE/);
  });

  it("a deny rule: verdict deny, exit 3, names the rule", async () => {
    const result = await run(["plan", "shop-staging", "--sql", "DROP DATABASE shop"]);
    assert.equal(result.code, 3);
    assert.match(result.stdout, /: DENY/);
    assert.match(result.stdout, /no-drop-database/);
  });

  it("after a verified restore point, only the approval is missing", async () => {
    assert.equal((await run(["backup", "shop"])).code, 0);
    assert.equal((await run(["drill", "shop"])).code, 0);
    const result = await run(["plan", "shop", "--sql", "TRUNCATE order_items", "--json"]);
    assert.equal(result.code, 3);
    const doc = JSON.parse(result.stdout) as {
      recoverability: { restorePoint: { id: string } | null };
      requirements: { kind: string; met: boolean }[];
    };
    assert.ok(doc.recoverability.restorePoint);
    assert.deepEqual(
      doc.requirements.map((r) => [r.kind, r.met]),
      [
        ["verified-restore-point", true],
        ["approvals", false],
      ],
    );
  });

  it("usage errors exit 2 with the fix", async () => {
    const neither = await run(["plan", "shop"]);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /exactly one of --sql or -f/);
    const missing = await run(["plan", "shop", "-f", "nope.sql"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read nope\.sql/);
    const empty = await run(["plan", "shop", "--sql", "-- nothing"]);
    assert.equal(empty.code, 2);
  });

  it("CREATE VIEW on its own is planned (none, allow), not 'no statement'", async () => {
    const result = await run(["plan", "shop", "--sql", "CREATE VIEW v AS SELECT 1 AS one", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout) as {
      verdict: string;
      operations: { kind: string; dataLoss: string }[];
    };
    assert.equal(doc.verdict, "allow");
    assert.deepEqual(
      doc.operations.map((o) => [o.kind, o.dataLoss]),
      [["create-view", "none"]],
    );
  });

  it("a psql migration file: meta-commands are split out, the rest is planned precisely, unplanned lines are named", async () => {
    const result = await run(["plan", "shop-staging", "-f", "0043_psql.sql", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout) as {
      operations: {
        kind: string;
        dataLoss: string;
        reason: string;
        notes: string[];
        rows: number | null;
        rewrite?: boolean;
      }[];
    };
    assert.deepEqual(
      doc.operations.map((o) => [o.kind, o.dataLoss]),
      [
        ["psql-set", "none"],
        ["psql-echo", "none"],
        ["psql-timing", "none"],
        ["alter-column-type", "none"],
        ["create-view", "none"],
        ["delete", "destructive"],
        ["psql-i", "unknown"],
        ["update", "unknown"],
      ],
    );
    assert.match(doc.operations[3]?.notes.join(" ") ?? "", /no table rewrite/);
    assert.equal(doc.operations[3]?.rewrite, false);
    assert.ok((doc.operations[5]?.rows ?? 0) > 0);
    assert.match(doc.operations[6]?.reason ?? "", /line 7: \\i 0044_more\.sql/);
    assert.match(doc.operations[7]?.reason ?? "", /line 7/);
    const human = await run(["plan", "shop-staging", "-f", "0043_psql.sql"]);
    assert.match(human.stdout, /no table rewrite/);
  });
});
