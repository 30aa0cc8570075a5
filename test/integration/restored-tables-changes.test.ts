import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { openCatalogFor } from "../../src/cli/catalog.js";
import { loadConfig } from "../../src/config/load.js";
import { startJobsComponent } from "../../src/serve/jobs-component.js";
import { sharedCatalog } from "../../src/serve/serve.js";
import { cli } from "../support/cli.js";
import { testContext } from "../support/context.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/** Every other session on the database ended (its statistics flushed) and this one's flushed. */
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

interface StatusDoc {
  assets: {
    changesNotCovered: { rows: number; uncounted: { table: string; how: string; rows: number }[] } | null;
    risks: string[];
  }[];
}

/**
 * After `lifeline restore ASSET --tables T` of a dropped table, the table holds exactly the restore
 * point's rows: status counted it as dropped and created again (about twice its rows) until the
 * next backup. Against the real PostgreSQL, through the CLI.
 */
describe("changes not covered after restore --tables of a dropped table (real PostgreSQL)", () => {
  let db: TestDatabase;
  let work: ReturnType<typeof tempDir>;
  const lifeline = (args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: "alice" } });
  const changes = async () => {
    await statisticsSettled(db.url);
    const result = await lifeline(["status", "shop", "--json"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const shop = (JSON.parse(result.stdout) as StatusDoc).assets[0];
    assert.ok(shop?.changesNotCovered, result.stdout);
    return { ...shop.changesNotCovered, risks: shop.risks };
  };

  before(async () => {
    db = await createDatabase("lifeline_restored_changes");
    work = tempDir("lifeline-restored-changes-");
    // No autovacuum: what the test does is all that happens to the tables.
    await query(
      db.url,
      `CREATE TABLE items (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
       CREATE TABLE kept (id int PRIMARY KEY) WITH (autovacuum_enabled = off);
       INSERT INTO items SELECT g, 'i' FROM generate_series(1, 500) g;
       INSERT INTO kept SELECT g FROM generate_series(1, 100) g;`,
    );
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: production\n    rpo: 1h\n    drill: { scratch: { url: ${ADMIN_URL} }, jobs: 1 }\n`,
    );
    for (const args of [
      ["backup", "shop"],
      ["drill", "shop"],
    ]) {
      const result = await lifeline(args);
      assert.equal(result.code, 0, result.stdout + result.stderr);
    }
  });

  after(async () => {
    await db.drop();
    work.remove();
  });

  it("counts only the writes made after the restore, not the table as dropped and created again", async () => {
    await query(db.url, "DROP TABLE items");
    const dropped = await changes();
    assert.deepEqual(dropped.uncounted, [{ table: "public.items", how: "dropped", rows: 500 }]);

    const restored = await lifeline(["restore", "shop", "--tables", "public.items"]);
    assert.equal(restored.code, 0, restored.stdout + restored.stderr);
    const after = await changes();
    assert.deepEqual(after.uncounted, [], JSON.stringify(after));
    assert.equal(after.rows, 0);
    assert.ok(!after.risks.some((r) => r.includes("dropped")), after.risks.join("\n"));

    await query(db.url, "INSERT INTO items SELECT g, 'n' FROM generate_series(501, 507) g");
    await query(db.url, "UPDATE items SET v = 'u' WHERE id <= 2");
    assert.equal((await changes()).rows, 9);

    // lifeline plan (and the plan of a restore) say the same: 9 row changes would be lost, no table
    // dropped and created again.
    const planned = await lifeline(["plan", "shop", "--sql", "DELETE FROM kept", "--json"]);
    assert.ok([0, 3].includes(planned.code ?? -1), planned.stdout + planned.stderr);
    const changesInPlan = (
      JSON.parse(planned.stdout) as {
        recoverability: { changesNotCovered: { rows: number; uncounted: unknown[] } | null; summary: string };
      }
    ).recoverability;
    assert.equal(changesInPlan.changesNotCovered?.rows, 9, JSON.stringify(changesInPlan));
    assert.deepEqual(changesInPlan.changesNotCovered?.uncounted, [], JSON.stringify(changesInPlan));
    assert.doesNotMatch(changesInPlan.summary, /dropped/);

    // lifeline serve's /metrics counts the same.
    const loaded = loadConfig(path.join(work.dir, "lifeline.yaml"), work.dir, {});
    const catalog = sharedCatalog(() => openCatalogFor(loaded));
    const jobs = await startJobsComponent({
      loaded,
      catalogLocation: path.join(work.dir, ".lifeline/catalog.sqlite"),
      catalog: () => catalog.get(),
      context: (signal) => testContext(loaded.repositoryPath, { signal }),
      notify: async () => [],
      log: { log: () => undefined },
    });
    try {
      assert.match(await jobs.registry.metrics(), /^lifeline_changes_not_covered\{asset="shop"\} 9$/m);
    } finally {
      await jobs.stop();
      await catalog.close();
    }
  });
});
