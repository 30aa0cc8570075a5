import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { plan } from "../../src/app/plan.js";
import { renderPlan } from "../../src/cli/render/plan.js";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import { DEFAULT_POLICY } from "../../src/core/plan/policy.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/**
 * Statistics a session has not flushed yet are flushed when it ends (and pg_stat_force_next_flush()
 * flushes this one's): once every other session on the database but the consumer has ended, the
 * counters show everything that was done, with no waiting for the once-a-second flush.
 */
async function statisticsSettled(url: string): Promise<void> {
  for (;;) {
    const [row] = await query<{ others: string }>(
      url,
      `SELECT pg_stat_force_next_flush(), count(*) AS others FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name <> 'feed-generator'`,
    );
    if (Number(row?.others) === 0) return;
    await new Promise((r) => setImmediate(r));
  }
}

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
    await statisticsSettled(db.url); // the load is in the counters
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

  it("the plan id covers every statement in order: a repeated statement is another plan", async () => {
    await query(db.url, "CREATE TABLE IF NOT EXISTS twice (id int)");
    const once = await run("TRUNCATE twice");
    const repeated = await run("TRUNCATE twice; TRUNCATE twice");
    assert.notEqual(once.planId, repeated.planId);
    const other = await run("TRUNCATE twice; TRUNCATE twice; TRUNCATE twice");
    assert.notEqual(repeated.planId, other.planId);
  });

  it("DML on a table with triggers or rules is unknown, and they are bound into the plan id", async () => {
    await query(
      db.url,
      `CREATE TABLE carts (id int primary key, note text);
       INSERT INTO carts SELECT g, 'n' FROM generate_series(1, 50) g;
       CREATE TABLE q (id int);
       CREATE TABLE plain (id int);
       CREATE FUNCTION zap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM carts; RETURN NEW; END $$;
       CREATE TRIGGER z BEFORE INSERT ON q FOR EACH ROW EXECUTE FUNCTION zap();
       CREATE TABLE ruled (id int);
       CREATE RULE r AS ON INSERT TO ruled DO ALSO DELETE FROM carts;
       CREATE TABLE off_trigger (id int);
       CREATE TRIGGER z_off BEFORE INSERT ON off_trigger FOR EACH ROW EXECUTE FUNCTION zap();
       ALTER TABLE off_trigger DISABLE TRIGGER z_off;
       CREATE TABLE truncated (id int);
       CREATE FUNCTION zap_stmt() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM carts; RETURN NULL; END $$;
       CREATE TRIGGER zt AFTER TRUNCATE ON truncated EXECUTE FUNCTION zap_stmt();
       CREATE VIEW carts_v AS SELECT * FROM plain;
       CREATE TRIGGER zv INSTEAD OF INSERT ON carts_v FOR EACH ROW EXECUTE FUNCTION zap();
       CREATE VIEW q_v AS SELECT * FROM q;
       CREATE TABLE parted (id int) PARTITION BY RANGE (id);
       CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (100);
       CREATE TRIGGER zp BEFORE INSERT ON parted_1 FOR EACH ROW EXECUTE FUNCTION zap();`,
    );
    const loss = async (sql: string) => {
      const result = await run(sql);
      return result.operations.map((o) => [o.kind, o.dataLoss, o.reason]);
    };
    const insert = await loss("INSERT INTO q VALUES (1)");
    assert.deepEqual(
      insert.map(([k, l]) => [k, l]),
      [["insert", "unknown"]],
    );
    assert.match(String(insert[0]?.[2]), /table public\.q has triggers z: what they do is not known/);
    assert.match(String((await loss("INSERT INTO ruled VALUES (1)"))[0]?.[2]), /has rules r/);
    assert.equal((await loss("COPY q FROM STDIN"))[0]?.[1], "unknown");
    assert.equal(
      (await loss("INSERT INTO carts_v VALUES (1)"))[0]?.[1],
      "unknown",
      "INSTEAD OF trigger on a view",
    );
    assert.equal(
      (await loss("INSERT INTO q_v VALUES (1)"))[0]?.[1],
      "unknown",
      "the table under an updatable view",
    );
    assert.equal((await loss("INSERT INTO parted VALUES (1)"))[0]?.[1], "unknown", "a partition's trigger");
    assert.equal((await loss("TRUNCATE truncated"))[0]?.[1], "unknown", "ON TRUNCATE trigger");
    assert.equal((await loss("DELETE FROM q WHERE id = 3"))[0]?.[1], "unknown");
    // No trigger, a disabled trigger, or one that does not fire for the operation: as before.
    assert.deepEqual(
      (await loss("INSERT INTO plain VALUES (1)")).map(([k, l]) => [k, l]),
      [["insert", "none"]],
    );
    assert.equal((await loss("INSERT INTO off_trigger VALUES (1)"))[0]?.[1], "none");
    assert.equal((await loss("TRUNCATE q"))[0]?.[1], "destructive", "row triggers do not fire on TRUNCATE");
    assert.equal((await loss("INSERT INTO truncated VALUES (1)"))[0]?.[1], "none");

    const before = await run("DELETE FROM q WHERE id = 3");
    assert.ok(before.operations[0]?.cascade.some((c) => c.type === "trigger" && c.name === "public.q.z"));
    await query(
      db.url,
      "CREATE OR REPLACE FUNCTION zap() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM carts WHERE id > 1; RETURN NEW; END $$",
    );
    const after = await run("DELETE FROM q WHERE id = 3");
    assert.notEqual(before.planId, after.planId, "a changed trigger function voids approvals");
    assert.equal(Number((await query(db.url, "SELECT count(*) AS n FROM carts"))[0]?.n), 50, "nothing ran");
  });

  it("a script that changes search_path, or renames its target first, is unknown", async () => {
    await query(db.url, "CREATE SCHEMA IF NOT EXISTS other; CREATE TABLE IF NOT EXISTS other.carts (id int)");
    const path = await run("SET search_path = other, public; TRUNCATE carts");
    assert.equal(path.operations[1]?.dataLoss, "unknown");
    const renamed = await run("ALTER TABLE carts RENAME TO x; TRUNCATE x");
    assert.equal(renamed.operations[1]?.dataLoss, "unknown");
    assert.match(renamed.operations[1]?.reason ?? "", /changed earlier in this script/);
    assert.equal(path.verdict, "require");
  });

  it("planning changes nothing in the database", async () => {
    const before = await fingerprintOfState(db.url);
    await run(
      "DROP TABLE products CASCADE; TRUNCATE orders CASCADE; DELETE FROM order_items WHERE quantity > 1; UPDATE products SET price = 0; DROP SCHEMA public CASCADE",
      true,
    );
    await statisticsSettled(db.url); // whatever the planning sessions did is in the counters
    assert.equal(await fingerprintOfState(db.url), before);
  });
});

describe("plan against the real PostgreSQL: what actually goes (issue 9)", () => {
  let db: TestDatabase;
  const repo = tempDir();
  before(async () => {
    db = await createDatabase("lifeline_plan9");
    await query(
      db.url,
      `CREATE TABLE widen (id int PRIMARY KEY, v50 varchar(50), v20 varchar(20), n int, m numeric(10,2),
                           ts timestamp, net cidr, tz timestamptz, t text, big bigint, m12 numeric(12,2));
       INSERT INTO widen SELECT g, 'a', 'b', g, g, now(), '10.0.0.0/8', now(), 'x', g, g FROM generate_series(1, 30) g;
       CREATE COLLATION mycoll (provider = icu, locale = 'und');
       CREATE COLLATION unused_coll (provider = icu, locale = 'und');
       CREATE TYPE mood AS ENUM ('happy', 'sad');
       CREATE TYPE unused_mood AS ENUM ('x');
       CREATE DOMAIN posint AS int CHECK (VALUE > 0);
       CREATE TYPE pair AS (a int, b text);
       CREATE FUNCTION dbl(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 2';
       CREATE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1';
       CREATE EXTENSION citext;
       CREATE TABLE people (id int PRIMARY KEY, name text COLLATE mycoll, shout text GENERATED ALWAYS AS (upper(name)) STORED,
                            m mood, ms mood[], p posint, d int DEFAULT one(), x int, y int GENERATED ALWAYS AS (dbl(x)) STORED,
                            email citext);
       INSERT INTO people (id, name, m, p, x) SELECT g, 'n' || g, 'happy', g, g FROM generate_series(1, 18) g;
       CREATE TABLE pairs OF pair;
       INSERT INTO pairs VALUES (1, 'a'), (2, 'b');
       CREATE VIEW people_names AS SELECT name FROM people;
       CREATE SCHEMA kinds; CREATE TYPE kinds.k AS ENUM ('a'); CREATE TABLE kinds.inside (id int);
       CREATE TABLE usek (id int, k kinds.k, pr pair);
       INSERT INTO usek VALUES (1, 'a', (1, 'x')), (2, 'a', (2, 'y'));
       CREATE TABLE gen (x int, y int GENERATED ALWAYS AS (x * 2) STORED, z int);
       INSERT INTO gen (x) SELECT generate_series(1, 7);
       CREATE TABLE parents (id int PRIMARY KEY);
       CREATE TABLE kids (id int PRIMARY KEY, parent_id int REFERENCES parents ON DELETE CASCADE);
       CREATE TABLE grandkids (id int, kid_id int REFERENCES kids ON DELETE CASCADE);
       CREATE TABLE pets (id int, parent_id int REFERENCES parents ON DELETE SET NULL, kid_id int REFERENCES kids ON DELETE SET NULL);
       INSERT INTO parents SELECT generate_series(1, 100);
       INSERT INTO kids SELECT g, 1 + g % 100 FROM generate_series(1, 1000) g;
       INSERT INTO grandkids SELECT g, 1 + g % 1000 FROM generate_series(1, 3000) g;
       INSERT INTO pets SELECT g, CASE WHEN g <= 50 THEN 1 + g % 100 END, CASE WHEN g > 50 THEN 1 + g % 1000 END FROM generate_series(1, 200) g;
       CREATE TABLE tree (id int PRIMARY KEY, up int REFERENCES tree ON DELETE CASCADE);
       CREATE TABLE leaves (id int, tree_id int REFERENCES tree ON DELETE CASCADE);
       INSERT INTO tree VALUES (1, NULL), (2, 1), (3, 2);
       INSERT INTO leaves VALUES (1, 3), (2, 3);
       CREATE TABLE animals (id int, name text);
       CREATE TABLE dogs () INHERITS (animals);
       CREATE TABLE cats () INHERITS (animals);
       INSERT INTO animals SELECT g, 'a' FROM generate_series(1, 5) g;
       INSERT INTO dogs SELECT g, 'd' FROM generate_series(1, 17) g;
       INSERT INTO cats SELECT g, 'c' FROM generate_series(1, 12) g;
       CREATE TABLE measures (id int, at date) PARTITION BY RANGE (at);
       CREATE TABLE measures_1 PARTITION OF measures FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
       CREATE TABLE measures_2 PARTITION OF measures FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
       INSERT INTO measures SELECT g, date '2026-01-01' + g % 59 FROM generate_series(1, 40) g;
       ANALYZE;`,
    );
  });
  after(async () => {
    await db.drop();
    repo.remove();
  });
  const run = (sql: string, exact = false) =>
    plan(testContext(repo.dir), testAsset("shop", db.url), sql, { exact, policy: DEFAULT_POLICY });

  it("lossless type changes are not destructive, decided against the live column; widenings say there is no rewrite", async () => {
    const lossless: [sql: string, rewrite: boolean][] = [
      ["ALTER TABLE widen ALTER COLUMN v50 TYPE text", false],
      ["ALTER TABLE widen ALTER COLUMN v20 TYPE varchar(21)", false],
      ["ALTER TABLE widen ALTER COLUMN n TYPE bigint", true],
      ["ALTER TABLE widen ALTER COLUMN m TYPE numeric(12,2)", false],
      ["ALTER TABLE widen ALTER COLUMN ts TYPE timestamp(6)", false],
      ["ALTER TABLE widen ALTER COLUMN net TYPE inet", false],
      ["ALTER TABLE widen ALTER COLUMN n TYPE text", true],
    ];
    for (const [sql, rewrite] of lossless) {
      const result = await run(sql);
      const [op] = result.operations;
      assert.equal(op?.dataLoss, "none", `${sql}: ${op?.reason}`);
      assert.equal(op?.rewrite, rewrite, sql);
      assert.match(op?.notes.join(" ") ?? "", rewrite ? /rewrites the table/ : /no table rewrite/, sql);
      assert.equal(result.verdict, "allow", sql);
    }
    for (const sql of [
      "ALTER TABLE widen ALTER COLUMN t TYPE varchar(10)",
      "ALTER TABLE widen ALTER COLUMN big TYPE int",
      "ALTER TABLE widen ALTER COLUMN m12 TYPE numeric(10,2)",
      "ALTER TABLE widen ALTER COLUMN n TYPE bigint USING n * 2",
      "ALTER TABLE widen ALTER COLUMN tz TYPE timestamp",
      "ALTER TABLE widen ALTER COLUMN v50 TYPE varchar(20)",
      "ALTER TABLE widen ALTER COLUMN missing TYPE text",
      // The live type is not what the second statement changes.
      "ALTER TABLE widen ALTER COLUMN n TYPE numeric(20,5); ALTER TABLE widen ALTER COLUMN n TYPE bigint",
    ]) {
      const result = await run(sql);
      assert.equal(result.operations.at(-1)?.dataLoss, "destructive", sql);
    }
    const narrowing = await run("ALTER TABLE widen ALTER COLUMN big TYPE int");
    assert.match(narrowing.operations[0]?.reason ?? "", /from bigint: not proven lossless/);
  });

  it("DROP COLLATION … CASCADE takes the columns using it (and the generated column built on them), with their rows", async () => {
    const result = await run("DROP COLLATION mycoll CASCADE", true);
    const [op] = result.operations;
    assert.equal(op?.dataLoss, "destructive", op?.reason);
    const columns = op?.cascade.filter((c) => c.type === "column").map((c) => [c.name, c.rows, c.rowsExact]);
    assert.deepEqual(columns?.sort(), [
      ["public.people.name", 18, true],
      ["public.people.shout", 18, true],
    ]);
    assert.ok(op?.cascade.some((c) => c.type === "view" && c.name === "public.people_names"));
    assert.ok(
      !op?.cascade.some((c) => c.type === "default"),
      "a generated column's expression is part of it",
    );
    assert.equal(result.verdict, "require");
  });

  it("DROP TYPE / DOMAIN / FUNCTION / EXTENSION … CASCADE: the columns and tables that go are listed", async () => {
    const names = async (sql: string) => {
      const [op] = (await run(sql)).operations;
      assert.equal(op?.dataLoss, "destructive", `${sql}: ${op?.reason}`);
      return op?.cascade
        .filter((c) => c.dataLoss === "destructive")
        .map((c) => `${c.type} ${c.name}`)
        .sort();
    };
    assert.deepEqual(await names("DROP TYPE mood CASCADE"), [
      "column public.people.m",
      "column public.people.ms",
    ]);
    assert.deepEqual(await names("DROP DOMAIN posint CASCADE"), ["column public.people.p"]);
    assert.deepEqual(await names("DROP TYPE pair CASCADE"), ["column public.usek.pr", "table public.pairs"]);
    assert.deepEqual(await names("DROP FUNCTION dbl(int) CASCADE"), ["column public.people.y"]);
    assert.deepEqual(await names("DROP EXTENSION citext CASCADE"), ["column public.people.email"]);
    // What an earlier statement made unknown stays unknown, whatever the catalog says.
    for (const sql of [
      "SET search_path = kinds; DROP TYPE mood CASCADE",
      "SET search_path = kinds; DROP TYPE mood",
    ])
      assert.equal((await run(sql)).operations[1]?.dataLoss, "unknown", sql);
    // A function used only by a default: the default goes, no data.
    const [byDefault] = (await run("DROP FUNCTION one() CASCADE")).operations;
    assert.equal(byDefault?.dataLoss, "recoverable", byDefault?.reason);
    assert.deepEqual(
      byDefault?.cascade.map((c) => [c.type, c.name, c.dataLoss]),
      [["default", "column d of table people", "recoverable"]],
    );
  });

  it("without CASCADE, a DROP PostgreSQL refuses is not destructive and says so; an unused type drops", async () => {
    for (const sql of [
      "DROP TYPE mood",
      "DROP COLLATION mycoll",
      "DROP FUNCTION dbl(int)",
      "DROP EXTENSION citext",
    ]) {
      const [op] = (await run(sql)).operations;
      assert.equal(op?.dataLoss, "none", `${sql}: ${op?.reason}`);
      assert.match(op?.notes.join(" ") ?? "", /without CASCADE PostgreSQL refuses/, sql);
      assert.deepEqual(op?.cascade, [], sql);
    }
    for (const sql of [
      "DROP TYPE unused_mood",
      "DROP TYPE unused_mood CASCADE",
      "DROP COLLATION unused_coll CASCADE",
    ]) {
      const result = await run(sql);
      assert.equal(result.operations[0]?.dataLoss, "recoverable", sql);
      assert.equal(result.verdict, "allow", sql);
    }
    // After DDL in the same script the live catalog is not what the DROP meets: never better than written.
    const [, afterDdl] = (
      await run("ALTER TABLE widen ADD COLUMN u unused_mood; DROP TYPE unused_mood CASCADE")
    ).operations;
    assert.equal(afterDdl?.dataLoss, "destructive");
    // Nothing was dropped.
    const left = await query(
      db.url,
      "SELECT count(*)::int AS n FROM pg_type WHERE typname IN ('mood', 'unused_mood', 'pair')",
    );
    assert.equal(left[0]?.n, 3);
  });

  it("DROP SCHEMA / TABLE / COLUMN … CASCADE: columns elsewhere that depend on what goes are listed", async () => {
    const schema = await run("DROP SCHEMA kinds CASCADE");
    assert.deepEqual(schema.operations[0]?.cascade.map((c) => `${c.type} ${c.name}`).sort(), [
      "column public.usek.k",
      "table kinds.inside",
    ]);
    const column = await run("ALTER TABLE gen DROP COLUMN x CASCADE", true);
    assert.deepEqual(
      column.operations[0]?.cascade.map((c) => [c.name, c.rows, c.dataLoss]),
      [["public.gen.y", 7, "destructive"]],
    );
    const withoutCascade = await run("ALTER TABLE gen DROP COLUMN x");
    assert.equal(withoutCascade.operations[0]?.dataLoss, "none", withoutCascade.operations[0]?.reason);
    assert.match(withoutCascade.operations[0]?.notes.join(" ") ?? "", /column y of table gen/);
    // A column nothing depends on: destructive, as before.
    assert.equal((await run("ALTER TABLE gen DROP COLUMN z")).operations[0]?.dataLoss, "destructive");
    const view = await run("DROP TABLE people");
    assert.equal(view.operations[0]?.dataLoss, "none", "a view depends on it: PostgreSQL refuses");
    // Two objects in one statement may depend on each other: not decided here.
    assert.equal((await run("DROP TABLE people, people_names")).operations[0]?.dataLoss, "destructive");
  });

  it("--exact counts what ON DELETE CASCADE takes by the foreign-key join, not the whole table", async () => {
    const exact = await run("DELETE FROM parents WHERE id <= 3", true);
    const [op] = exact.operations;
    assert.equal(op?.rows, 3);
    assert.equal(op?.resolved?.rowsExact, true);
    const byName = new Map(op?.cascade.map((c) => [c.name, c]));
    // parents 1..3 own kids with parent_id 1..3 (10 each); each kid owns 3 grandkids.
    assert.deepEqual(
      ["public.kids", "public.grandkids"].map((n) => [
        n,
        byName.get(n)?.rows,
        byName.get(n)?.rowsExact,
        byName.get(n)?.rowsBound,
      ]),
      [
        ["public.kids", 30, true, undefined],
        ["public.grandkids", 90, true, undefined],
      ],
    );
    const kidsInDb = await query(db.url, "SELECT count(*)::int AS n FROM kids");
    assert.equal(kidsInDb[0]?.n, 1000, "nothing was deleted");
    // Without --exact: an estimate from the same join, not the bound.
    const estimated = await run("DELETE FROM parents WHERE id <= 3");
    const kids = estimated.operations[0]?.cascade.find((c) => c.name === "public.kids");
    assert.equal(kids?.rowsExact, false);
    assert.equal(kids?.rowsBound, undefined);
    assert.ok((kids?.rows ?? 0) > 0 && (kids?.rows ?? 0) < 200, `estimate ${kids?.rows}`);
  });

  it("ON DELETE SET NULL effects are listed: the rows whose reference is nulled, counted", async () => {
    const result = await run("DELETE FROM parents WHERE id <= 3", true);
    const setNull = result.operations[0]?.cascade.filter((c) => c.type === "column");
    assert.deepEqual(
      setNull?.map((c) => [c.name, c.rows, c.rowsExact, c.dataLoss]),
      [
        ["public.pets.parent_id", 2, true, "destructive"],
        ["public.pets.kid_id", 5, true, "destructive"],
      ],
    );
    assert.match(setNull?.[0]?.how ?? "", /SET NULL.*reference is lost/);
    const [pets] = await query(db.url, "SELECT count(parent_id)::int AS n FROM pets");
    assert.equal(pets?.n, 50, "nothing was changed");
  });

  it("a cascade that cannot be counted (self-referencing) is labelled a bound, never exact", async () => {
    const result = await run("DELETE FROM tree WHERE id = 1", true);
    const leaves = result.operations[0]?.cascade.find((c) => c.name === "public.leaves");
    assert.equal(leaves?.rowsExact, false);
    assert.equal(leaves?.rowsBound, true);
    assert.match(leaves?.how ?? "", /a bound, not a count/);
    assert.match(renderPlan(result), /public\.leaves — .*a bound, not a count.*: up to ~?2 rows/);
    // The tree itself loses more than the row named: said, as a bound.
    const tree = result.operations[0]?.cascade.find((c) => c.name === "public.tree");
    assert.equal(tree?.rowsBound, true);
    assert.match(tree?.how ?? "", /self-referencing ON DELETE CASCADE/);
  });

  it("DELETE FROM a parent of an inheritance tree (or partitions) counts the children unless ONLY", async () => {
    assert.equal((await run("DELETE FROM animals")).operations[0]?.rows, 34);
    assert.equal((await run("DELETE FROM ONLY animals")).operations[0]?.rows, 5);
    assert.equal((await run("DELETE FROM animals", true)).operations[0]?.rows, 34);
    assert.equal((await run("DELETE FROM ONLY animals", true)).operations[0]?.rows, 5);
    assert.equal((await run("TRUNCATE animals")).operations[0]?.rows, 34);
    assert.equal((await run("DELETE FROM measures")).operations[0]?.rows, 40);
  });

  it("an insert-only MERGE and EXPLAIN DELETE put nothing at risk: allow", async () => {
    await query(db.url, "CREATE TABLE IF NOT EXISTS incoming (id int)");
    const merge = await run(
      "MERGE INTO parents p USING incoming i ON p.id = i.id WHEN NOT MATCHED THEN INSERT VALUES (i.id)",
    );
    assert.equal(merge.operations[0]?.dataLoss, "none");
    assert.equal(merge.operations[0]?.resolved?.dataLoss, "none");
    assert.equal(merge.verdict, "allow");
    const explain = await run("EXPLAIN DELETE FROM parents");
    assert.deepEqual(
      explain.operations.map((o) => [o.kind, o.dataLoss]),
      [["read", "none"]],
    );
    assert.equal(explain.verdict, "allow");
    assert.equal((await run("EXPLAIN ANALYZE DELETE FROM parents")).operations[0]?.dataLoss, "destructive");
  });
});
