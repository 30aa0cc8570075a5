/**
 * The PostgreSQL engine's watch sample against the real server: which relations it reads (user
 * schemas, quoted names, not another session's temporary tables), and that a foreign key created
 * after a sample is named by a later one (dependents are read again when pg_constraint was written;
 * with track_counts off, from pg_constraint itself).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import type { DatabaseSample } from "../../src/core/watch/sample.js";
import { engineFor } from "../../src/engines/index.js";
import { createDatabase, query, type TestDatabase } from "../support/pg.js";

const engine = engineFor("postgres", {});
let db: TestDatabase;

const sample = (url: string, previous?: DatabaseSample | null) =>
  engine.sample!(engine.target(url), AbortSignal.timeout(10_000), previous);

const tables = (s: DatabaseSample) => {
  assert.equal(s.state, "present", JSON.stringify(s));
  return s.state === "present" ? s.tables : [];
};

/** Samples until `ok` holds (a session's statistics reach the server up to seconds after it ends). */
async function sampleUntil(url: string, first: DatabaseSample, ok: (s: DatabaseSample) => boolean) {
  let s = first;
  const end = Date.now() + 15_000;
  while (!ok(s)) {
    assert.ok(Date.now() < end, `not seen in time: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
    s = await sample(url, s);
  }
  return s;
}

describe("the watch's PostgreSQL sample", () => {
  before(async () => {
    db = await createDatabase("lifeline_watchsample");
    await query(
      db.url,
      `CREATE SCHEMA "Sales ""Ops""";
       CREATE TABLE "Sales ""Ops""".orders (id int PRIMARY KEY);
       INSERT INTO "Sales ""Ops""".orders SELECT generate_series(1, 30);
       CREATE TABLE products (id int PRIMARY KEY);
       INSERT INTO products SELECT generate_series(1, 20);
       CREATE VIEW feed AS SELECT id FROM products;
       ANALYZE;`,
    );
  });
  after(async () => {
    await db?.drop();
  });

  it("reads the user tables with their schema as written, not another session's temporary tables", async () => {
    const other = new pg.Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query("CREATE TEMP TABLE scratchpad (id int); INSERT INTO scratchpad VALUES (1)");
      const s = await sample(db.url);
      const found = tables(s).map((t) => t.name);
      assert.deepEqual(found.sort(), ['"Sales ""Ops""".orders', "public.products"].sort());
      const products = tables(s).find((t) => t.name === "public.products");
      assert.equal(products?.rows, 20);
      assert.deepEqual(
        products?.dependents.map((d) => d.name),
        ["public.feed"],
      );
      assert.equal(tables(s).find((t) => t.name.endsWith(".orders"))?.rows, 30);
    } finally {
      await other.end();
    }
  });

  it("a foreign key created after a sample is named by a later sample", async () => {
    const first = await sample(db.url);
    await query(db.url, `CREATE TABLE lines (id int PRIMARY KEY, product int REFERENCES products(id))`);
    const later = await sampleUntil(
      db.url,
      first,
      (s) =>
        tables(s)
          .find((t) => t.name === "public.products")
          ?.dependents.some((d) => d.kind === "foreign key") === true,
    );
    // And one added between two samples that see the same relations.
    await query(
      db.url,
      `ALTER TABLE lines ADD CONSTRAINT lines_again FOREIGN KEY (product) REFERENCES products(id)`,
    );
    await sampleUntil(
      db.url,
      later,
      (s) =>
        tables(s)
          .find((t) => t.name === "public.products")
          ?.dependents.some((d) => d.name.includes("lines_again")) === true,
    );
  });

  it("with track_counts off, a new foreign key is seen by the next sample", async () => {
    const off = await createDatabase("lifeline_watchsample_off");
    try {
      await query(off.url, `ALTER DATABASE "${off.name}" SET track_counts = off`);
      await query(off.url, `CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p int)`);
      const first = await sample(off.url);
      assert.deepEqual(tables(first).find((t) => t.name === "public.p")?.dependents, []);
      await query(off.url, `ALTER TABLE c ADD CONSTRAINT c_p FOREIGN KEY (p) REFERENCES p(id)`);
      const next = await sample(off.url, first);
      assert.deepEqual(
        tables(next)
          .find((t) => t.name === "public.p")
          ?.dependents.map((d) => d.name),
        ["public.c (c_p)"],
      );
    } finally {
      await off.drop();
    }
  });
});
