import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { drill } from "../../src/app/drill.js";
import { plan } from "../../src/app/plan.js";
import { status } from "../../src/app/status.js";
import { DEFAULT_POLICY } from "../../src/core/plan/policy.js";
import type { Posture } from "../../src/core/posture/posture.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/**
 * Statistics a session has not flushed yet are flushed when it ends (and pg_stat_force_next_flush()
 * flushes this one's): once every other session on the database has ended, the counters show
 * everything that was done.
 */
async function statisticsSettled(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const [row] = await query<{ others: string }>(
      url,
      `SELECT pg_stat_force_next_flush(), count(*) AS others FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    if (Number(row?.others) === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The statistics counters (n_tup_ins/upd/del) do not count TRUNCATE nor DROP TABLE: "changes not
 * covered" said 0 rows after a whole table was emptied. Against the real PostgreSQL.
 */
describe("changes not covered: TRUNCATE and DROP TABLE since the restore point (real PostgreSQL)", () => {
  let db: TestDatabase;
  let repo: ReturnType<typeof tempDir>;
  let restorePointId: string;
  const input = () => ({
    name: "shop",
    asset: testAsset("shop", db.url),
    tier: "production",
    rpoSeconds: 86400,
    resolveError: null,
  });
  const posture = async (): Promise<Posture> => {
    const [p] = await status(testContext(repo.dir), [input()]);
    assert.ok(p);
    return p;
  };

  before(async () => {
    db = await createDatabase("lifeline_uncounted");
    repo = tempDir();
    // No autovacuum: what the test does is all that happens to the tables.
    await query(
      db.url,
      `CREATE TABLE items (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
       CREATE TABLE kept (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
       CREATE TABLE packed (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
       CREATE TABLE clustered (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
       CREATE TABLE gone (id int PRIMARY KEY) WITH (autovacuum_enabled = off);
       INSERT INTO items SELECT g, 'i' FROM generate_series(1, 500) g;
       INSERT INTO kept SELECT g, 'k' FROM generate_series(1, 300) g;
       INSERT INTO packed SELECT g, 'p' FROM generate_series(1, 200) g;
       INSERT INTO clustered SELECT g, 'c' FROM generate_series(1, 200) g;
       INSERT INTO gone SELECT g FROM generate_series(1, 50) g;`,
    );
    const ctx = testContext(repo.dir);
    restorePointId = (await backup(ctx, input().asset)).id;
    assert.equal((await drill(ctx, input().asset)).result, "passed");
  });

  after(async () => {
    await db.drop();
    repo.remove();
  });

  it("reports nothing while the tables are untouched (nor after VACUUM FULL and CLUSTER)", async () => {
    await query(db.url, "VACUUM FULL packed");
    await query(db.url, "CLUSTER clustered USING clustered_pkey");
    await statisticsSettled(db.url);
    const p = await posture();
    assert.equal(p.newestVerifiedRestorePoint?.id, restorePointId);
    assert.equal(p.changesNotCovered?.rows, 0, JSON.stringify(p.changesNotCovered));
    assert.deepEqual(p.changesNotCovered?.uncounted, []);
    assert.ok(!p.risks.some((r) => /truncated|dropped|rewritten/.test(r)), p.risks.join("\n"));
  });

  it("reports a TRUNCATE since the restore point: the table and its rows", async () => {
    await query(db.url, "TRUNCATE items");
    await statisticsSettled(db.url);
    const p = await posture();
    assert.equal(p.changesNotCovered?.rows, 500, JSON.stringify(p.changesNotCovered));
    assert.deepEqual(p.changesNotCovered?.uncounted, [
      { table: "public.items", how: "truncated", rows: 500 },
    ]);
    assert.ok(
      p.risks.includes(
        `table public.items was truncated since restore point ${restorePointId}: about 500 rows it held are gone from the live table (TRUNCATE is not counted as row changes); they are in the restore point`,
      ),
      p.risks.join("\n"),
    );
    // Untouched, VACUUM FULL and CLUSTER tables are still not named.
    assert.ok(!p.risks.some((r) => /public\.(kept|packed|clustered)/.test(r)), p.risks.join("\n"));
  });

  it("adds rows written after the TRUNCATE and a table dropped since, and says so in a plan", async () => {
    await query(db.url, "INSERT INTO items SELECT g, 'new' FROM generate_series(1, 20) g; DROP TABLE gone");
    await statisticsSettled(db.url);
    const p = await posture();
    assert.equal(p.changesNotCovered?.rows, 20 + 500 + 50, JSON.stringify(p.changesNotCovered));
    assert.deepEqual(p.changesNotCovered?.uncounted, [
      { table: "public.items", how: "truncated", rows: 500 },
      { table: "public.gone", how: "dropped", rows: 50 },
    ]);
    assert.ok(
      p.risks.some((r) =>
        r.startsWith(`table public.gone was dropped since restore point ${restorePointId}: its 50 rows`),
      ),
    );

    const planned = await plan(testContext(repo.dir), input().asset, "DROP TABLE kept", {
      exact: false,
      policy: DEFAULT_POLICY,
    });
    assert.equal(planned.recoverability.changesNotCovered?.rows, 570);
    assert.match(
      planned.recoverability.summary,
      /570 row changes since then would be lost; public\.items was truncated since then: about 500 rows it held are not in the live database/,
    );
    assert.match(planned.recoverability.summary, /public\.gone was dropped since then: 50 rows/);
  });
});
