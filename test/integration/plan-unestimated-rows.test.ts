import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { plan } from "../../src/app/plan.js";
import { renderPlan } from "../../src/cli/render/plan.js";
import { DEFAULT_POLICY } from "../../src/core/plan/policy.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/**
 * A table never analysed has no row estimate (reltuples -1): the plan showed no row count and no
 * word why, which reads as if nothing were lost. Against the real PostgreSQL.
 */
describe("plan: a table without statistics says its rows are unknown and how to count them", () => {
  let db: TestDatabase;
  let repo: ReturnType<typeof tempDir>;
  const run = (sql: string, exact = false) =>
    plan(testContext(repo.dir), testAsset("shop", db.url), sql, { exact, policy: DEFAULT_POLICY });

  before(async () => {
    db = await createDatabase("lifeline_unestimated");
    repo = tempDir();
    // No autovacuum: nothing analyses the tables behind the test's back.
    await query(
      db.url,
      `CREATE TABLE items (id int PRIMARY KEY) WITH (autovacuum_enabled = off);
       INSERT INTO items SELECT g FROM generate_series(1, 500) g;
       CREATE TABLE measures (id int, at date) PARTITION BY RANGE (at);
       CREATE TABLE measures_1 PARTITION OF measures FOR VALUES FROM ('2026-01-01') TO ('2026-02-01')
         WITH (autovacuum_enabled = off);
       CREATE TABLE measures_2 PARTITION OF measures FOR VALUES FROM ('2026-02-01') TO ('2026-03-01')
         WITH (autovacuum_enabled = off);
       INSERT INTO measures SELECT g, date '2026-01-01' + g % 59 FROM generate_series(1, 40) g;
       ANALYZE measures_2;`,
    );
  });
  after(async () => {
    await db.drop();
    repo.remove();
  });

  it("a never-analysed table: the row count is unknown, and the plan names --exact and ANALYZE", async () => {
    const p = await run("DROP TABLE items");
    const [op] = p.operations;
    assert.equal(op?.rows, null);
    const note =
      "row count unknown for public.items: it has no statistics yet (never analysed, or truncated since); `--exact` counts its rows (or run ANALYZE public.items first)";
    assert.deepEqual(op?.notes, [note]);
    assert.ok(renderPlan(p).includes(`! ${note}`), renderPlan(p));
  });

  it("a partitioned table whose partition has no statistics: the figure says what it leaves out", async () => {
    const p = await run("DROP TABLE measures");
    const [op] = p.operations;
    assert.ok(
      op?.notes.includes(
        "the row count leaves out public.measures_1: it has no statistics yet (never analysed, or truncated since); `--exact` counts its rows (or run ANALYZE public.measures_1 first)",
      ),
      JSON.stringify(op?.notes),
    );
  });

  it("with --exact the rows are counted and there is no such note; after ANALYZE neither", async () => {
    const exact = await run("DROP TABLE items", true);
    assert.equal(exact.operations[0]?.rows, 500);
    assert.deepEqual(exact.operations[0]?.notes, []);
    await query(db.url, "ANALYZE items");
    const analysed = await run("DROP TABLE items");
    assert.equal(analysed.operations[0]?.rows, 500);
    assert.deepEqual(analysed.operations[0]?.notes, []);
  });
});
