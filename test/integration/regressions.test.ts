import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { drill } from "../../src/app/drill.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, urlFor, type TestDatabase } from "../support/pg.js";

/**
 * Each case once made a correct restore fail its drill (a false mismatch) or a backup fail; each
 * is a backup + drill that must pass with zero mismatches.
 */
describe("drills that must pass (found in review)", () => {
  const repo = tempDir();
  // Roles are global to the server: a name of this run's own (test files run side by side).
  const owner = `lifeline_test_owner_${randomBytes(3).toString("hex")}`;
  const databases: TestDatabase[] = [];
  after(async () => {
    for (const db of databases) await db.drop();
    repo.remove();
    await query(urlFor("postgres"), `DROP ROLE IF EXISTS ${owner}`);
  });

  async function roundTrip(name: string, setup: (db: TestDatabase) => Promise<string | void>) {
    const db = await createDatabase("lifeline_reg");
    databases.push(db);
    const url = (await setup(db)) || db.url;
    const ctx = testContext(repo.dir);
    const manifest = await backup(ctx, testAsset(name, url));
    const report = await drill(ctx, testAsset(name, url));
    assert.deepEqual(report.mismatches, [], JSON.stringify(report.mismatches, null, 1));
    assert.equal(report.failure, null, report.failure?.message);
    assert.equal(report.result, "passed");
    return manifest;
  }

  it("a database whose search_path names its own schema (reg* values, views, defaults)", async () => {
    await roundTrip("searchpath", async (db) => {
      await query(
        db.url,
        `CREATE SCHEMA app;
         CREATE TABLE app.items (id serial PRIMARY KEY, kind regclass, t regtype);
         CREATE VIEW app.v AS SELECT id FROM app.items WHERE kind IS NOT NULL;
         INSERT INTO app.items (kind, t) VALUES ('app.items', 'int4');
         ALTER DATABASE "${db.name}" SET search_path = app, public;`,
      );
    });
  });

  it("a generated column using lower() on non-ASCII text in a C.UTF-8 database", async () => {
    const manifest = await roundTrip("locale", async (db) => {
      await query(
        db.url,
        `CREATE TABLE people (name text, name_key text GENERATED ALWAYS AS (lower(name)) STORED);
         INSERT INTO people (name) VALUES ('ÄNNE'), ('Ölaf'), ('zoë');`,
      );
    });
    assert.ok(manifest.source.locale, "the source locale is recorded");
  });

  it("foreign keys on partitions and partitions attached after the key", async () => {
    await roundTrip("partitions", async (db) => {
      await query(
        db.url,
        `CREATE TABLE ref (id int PRIMARY KEY); INSERT INTO ref VALUES (1), (2);
         CREATE TABLE m (id int, r int, CONSTRAINT m_ref_fk FOREIGN KEY (r) REFERENCES ref(id)) PARTITION BY RANGE (id);
         CREATE TABLE m1 (id int, r int, CONSTRAINT m1_own_fk FOREIGN KEY (r) REFERENCES ref(id));
         ALTER TABLE m ATTACH PARTITION m1 FOR VALUES FROM (0) TO (100);
         INSERT INTO m VALUES (1, 1), (2, 2);
         CREATE TABLE zp (id int PRIMARY KEY) PARTITION BY LIST (id);
         CREATE TABLE zp_a PARTITION OF zp FOR VALUES IN (1);
         CREATE TABLE aref (zid int REFERENCES zp(id));
         CREATE TABLE zp_b PARTITION OF zp FOR VALUES IN (2);
         INSERT INTO zp VALUES (1), (2); INSERT INTO aref VALUES (1), (2);`,
      );
    });
  });

  it("a database without the public schema", async () => {
    await roundTrip("nopublic", async (db) => {
      await query(
        db.url,
        "DROP SCHEMA public CASCADE; CREATE SCHEMA app; CREATE TABLE app.t (id int); INSERT INTO app.t VALUES (1);",
      );
    });
  });

  it("a database with short statement and idle-in-transaction timeouts", async () => {
    await roundTrip("timeouts", async (db) => {
      await query(
        db.url,
        `CREATE TABLE big (id int, v text);
         INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, 300000) i;
         ALTER DATABASE "${db.name}" SET statement_timeout = '50ms';
         ALTER DATABASE "${db.name}" SET idle_in_transaction_session_timeout = '100ms';`,
      );
    });
  });

  it("a ?password= parameter never reaches the manifest", async () => {
    const secret = "query-param-s3cret";
    const manifest = await roundTrip("param", async (db) => {
      await query(db.url, "CREATE TABLE t (id int); INSERT INTO t VALUES (1);");
      return `${db.url}?password=${secret}`;
    });
    assert.ok(!JSON.stringify(manifest).includes(secret));
    const files = path.join(repo.dir, "restore-points", "param", manifest.id, "manifest.json");
    assert.ok(!readFileSync(files, "utf8").includes(secret));
  });

  it("row-level-security policies that name roles the scratch instance does not have", async () => {
    await query(urlFor("postgres"), `DROP ROLE IF EXISTS ${owner}; CREATE ROLE ${owner} NOLOGIN`);
    const manifest = await roundTrip("policies", async (db) => {
      await query(
        db.url,
        `CREATE TABLE docs (id int, owner text); INSERT INTO docs VALUES (1, 'a');
         ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own_docs ON docs TO ${owner} USING (owner = current_user);`,
      );
    });
    assert.deepEqual(manifest.source.roles, [owner]);
  });
});

describe("large objects are part of the proof", () => {
  const repo = tempDir();
  let db: TestDatabase;
  after(async () => {
    await db.drop();
    repo.remove();
  });

  it("a missing or changed large object fails the drill", async () => {
    db = await createDatabase("lifeline_lo");
    await query(
      db.url,
      `CREATE TABLE files (id int, content oid);
       INSERT INTO files SELECT i, lo_from_bytea(0, convert_to('file ' || i, 'UTF8')) FROM generate_series(1, 3) i;`,
    );
    const ctx = testContext(repo.dir);
    const manifest = await backup(ctx, testAsset("lo", db.url));
    assert.equal(manifest.fingerprints.largeObjects?.count, 3);

    const passed = await drill(ctx, testAsset("lo", db.url));
    assert.equal(passed.result, "passed", JSON.stringify(passed.mismatches));

    const removed = await drill(ctx, testAsset("lo", db.url), manifest.id, {
      beforeVerify: async (scratch) => {
        await query(scratch.url, "SELECT lo_unlink(oid) FROM pg_largeobject_metadata LIMIT 1");
      },
    });
    assert.equal(removed.result, "failed");
    assert.deepEqual(
      removed.mismatches.map((m) => [m.kind, m.expected, m.actual]),
      [["large-objects", "3 large objects", "2 large objects"]],
    );

    const changed = await drill(ctx, testAsset("lo", db.url), manifest.id, {
      beforeVerify: async (scratch) => {
        await query(scratch.url, "SELECT lo_put(min(oid), 0, 'X'::bytea) FROM pg_largeobject_metadata");
      },
    });
    assert.equal(changed.result, "failed");
    assert.match(changed.mismatches[0]?.message ?? "", /same count \(3\) but contents differ/);
  });
});
