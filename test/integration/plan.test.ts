import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { plan } from "../../src/app/plan.js";
import { SHOP_SCHEMA } from "../../src/app/demo.js";
import { DEFAULT_POLICY } from "../../src/core/plan.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/** Everything that would show a change: per-table counters, row counts and physical files. */
async function fingerprintOfState(url: string): Promise<string> {
  const rows = await query(
    url,
    `SELECT s.relname, s.n_tup_ins, s.n_tup_upd, s.n_tup_del, c.relfilenode, c.reltuples
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid ORDER BY 1`,
  );
  const counts = await query(
    url,
    "SELECT (SELECT count(*) FROM products) AS p, (SELECT count(*) FROM orders) AS o, (SELECT count(*) FROM order_items) AS i",
  );
  return JSON.stringify([rows, counts]);
}

describe("plan against the real PostgreSQL (read-only)", () => {
  let db: TestDatabase;
  const repo = tempDir();
  let consumer: pg.Client;

  before(async () => {
    db = await createDatabase("lifeline_plan");
    await query(db.url, SHOP_SCHEMA);
    await query(db.url, "ANALYZE");
    consumer = new pg.Client({ connectionString: db.url, application_name: "feed-generator" });
    await consumer.connect();
    await new Promise((r) => setTimeout(r, 700)); // let the statistics collector see the load
  });
  after(async () => {
    await consumer.end();
    await db.drop();
    repo.remove();
  });

  const run = (sql: string, exact = false) =>
    plan(testContext(repo.dir), testAsset("shop", db.url), sql, { exact, policy: DEFAULT_POLICY });

  it("DROP TABLE … CASCADE: the dependent view and foreign key go with it; consumers are listed", async () => {
    const result = await run("DROP TABLE products CASCADE", true);
    const [op] = result.operations;
    assert.equal(op?.kind, "drop-table");
    assert.equal(op?.resolved?.name, "public.products");
    assert.equal(op?.rows, 2000);
    assert.ok((op?.bytes ?? 0) > 0);
    assert.deepEqual(
      op?.cascade.map((c) => [c.type, c.name]),
      [
        ["view", "public.merchant_feed"],
        ["constraint", "public.order_items.order_items_product_id_fkey"],
      ],
    );
    assert.ok(result.dependents.some((d) => d.kind === "view" && d.name === "public.merchant_feed"));
    assert.ok(result.dependents.some((d) => d.kind === "foreign key" && d.name.includes("order_items")));
    assert.ok(
      result.consumers.some((c) => c.application === "feed-generator"),
      JSON.stringify(result.consumers),
    );
    assert.equal(result.verdict, "require");
    assert.equal(result.recoverability.restorePoint, null);
  });

  it("without CASCADE the plan says the statement fails", async () => {
    const result = await run("DROP TABLE products");
    assert.match(result.operations[0]?.notes.join(" ") ?? "", /without CASCADE the statement fails/);
    assert.deepEqual(result.operations[0]?.cascade, []);
  });

  it("TRUNCATE … CASCADE and DELETE with ON DELETE CASCADE reach order_items, with exact counts", async () => {
    const truncate = await run("TRUNCATE orders CASCADE", true);
    assert.deepEqual(
      truncate.operations[0]?.cascade.map((c) => [c.name, c.rows, c.rowsExact]),
      [["public.order_items", 15000, true]],
    );
    const del = await run("DELETE FROM orders WHERE status = 'cancelled'");
    const estimate = del.operations[0]?.rows ?? 0;
    assert.ok(estimate > 900 && estimate < 1600, `EXPLAIN estimate ${estimate} (real: 1250)`);
    assert.equal(del.operations[0]?.cascade[0]?.name, "public.order_items");
  });

  it("a multi-statement migration: one operation per statement, unknown fails closed", async () => {
    const result = await run(`
      -- 0042_cleanup.sql
      CREATE INDEX orders_status_idx ON orders (status);
      ALTER TABLE products DROP COLUMN attributes;
      DO $$ BEGIN PERFORM 1; END $$;`);
    assert.deepEqual(
      result.operations.map((o) => [o.kind, o.dataLoss]),
      [
        ["index", "none"],
        ["alter-table-drop-column", "destructive"],
        ["unknown", "unknown"],
      ],
    );
  });

  it("the plan id is stable, and changes when the object is recreated", async () => {
    const a = await run("DROP TABLE merchants CASCADE");
    const b = await run("drop   table MERCHANTS cascade -- same statement");
    assert.equal(a.planId, b.planId);
    await query(db.url, "CREATE TABLE spare (id int); ");
    const before = await run("DROP TABLE spare");
    await query(db.url, "DROP TABLE spare; CREATE TABLE spare (id int);");
    const afterRecreate = await run("DROP TABLE spare");
    assert.notEqual(before.planId, afterRecreate.planId);
  });

  it("planning changes nothing in the database", async () => {
    const before = await fingerprintOfState(db.url);
    await run(
      "DROP TABLE products CASCADE; TRUNCATE orders CASCADE; DELETE FROM order_items WHERE quantity > 1; UPDATE products SET price = 0; DROP SCHEMA public CASCADE",
      true,
    );
    await new Promise((r) => setTimeout(r, 1100)); // counters are flushed about once a second
    assert.equal(await fingerprintOfState(db.url), before);
  });
});
