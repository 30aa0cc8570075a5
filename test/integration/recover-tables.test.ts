import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { recoverTables } from "../../src/app/recover-tables.js";
import { isLifelineError } from "../../src/core/errors.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { testAsset, testContext } from "../support/context.js";
import { FIXTURES, createDatabase, loadSqlFile, query, tempDir, type TestDatabase } from "../support/pg.js";
import { artifactsOf } from "../support/repository.js";
import { inRepo } from "../support/repo.js";

const SOURCE = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE products (
  id serial PRIMARY KEY,
  sku text NOT NULL,
  price numeric(10,2) NOT NULL CHECK (price >= 0),
  status text NOT NULL DEFAULT 'active',
  touched int NOT NULL DEFAULT 0
);
CREATE INDEX products_sku_idx ON products (sku);
CREATE FUNCTION touch_product() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
CREATE TRIGGER products_touch BEFORE UPDATE ON products FOR EACH ROW EXECUTE FUNCTION touch_product();
COMMENT ON TABLE products IS 'what the shop sells';
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id int NOT NULL REFERENCES customers,
  product_id int NOT NULL REFERENCES products,
  qty int NOT NULL
);
CREATE VIEW product_feed AS SELECT id, sku, price FROM products WHERE status = 'active';
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Items" (id serial PRIMARY KEY, "Product" int REFERENCES products, "Note" text);
CREATE TABLE big (id int PRIMARY KEY, payload text);
INSERT INTO customers (name) SELECT 'customer ' || i FROM generate_series(1, 50) i;
INSERT INTO products (sku, price) SELECT 'sku-' || i, i * 1.5 FROM generate_series(1, 200) i;
DELETE FROM products WHERE id > 190; -- the sequence is ahead of max(id)
INSERT INTO orders (customer_id, product_id, qty) SELECT 1 + i % 50, 1 + i % 190, i FROM generate_series(1, 300) i;
INSERT INTO "Sales"."Order Items" ("Product", "Note") SELECT 1 + i % 190, 'note ' || i FROM generate_series(1, 40) i;
INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 300000) i;
`;

const relations = async (url: string) =>
  (
    await query<{ name: string }>(
      url,
      `SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1`,
    )
  ).map((r) => r.name);

/** Waits until a psql of lifeline's restore is copying rows into `table` in `database`. */
async function copying(database: string, table: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const rows = await query(
      "postgres://postgres@127.0.0.1:5432/postgres",
      `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lifeline restore' AND query LIKE $2`,
      [database, `COPY ${table}%`],
    );
    if (rows.length > 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the restore never started copying ${table}`);
}

/** Waits until no session of lifeline's restore is left on `database`. */
async function restoreSessionsGone(database: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const rows = await query(
      "postgres://postgres@127.0.0.1:5432/postgres",
      `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'lifeline restore'`,
      [database],
    );
    if (rows.length === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("the restore's session never ended");
}

describe("restore --tables (real PostgreSQL)", () => {
  let source: TestDatabase;
  let repo: ReturnType<typeof tempDir>;
  let manifest: Manifest;
  const extra: TestDatabase[] = [];

  before(async () => {
    source = await createDatabase("lifeline_rt");
    await query(source.url, SOURCE);
    repo = tempDir();
    manifest = await backup(testContext(repo.dir), testAsset("shop", source.url));
  });

  after(async () => {
    await source.drop();
    for (const db of extra) await db.drop();
    repo.remove();
  });

  const fresh = async () => {
    const db = await createDatabase("lifeline_rt_to");
    extra.push(db);
    return db;
  };

  it("brings a dropped table back into the live database with its sequence, index, constraint, trigger and default; reports the foreign keys of other tables", async () => {
    const ctx = testContext(repo.dir);
    const engine = ctx.engine("postgres");
    const target = engine.target(source.url);
    const before = await query<{ last_value: string }>(
      source.url,
      "SELECT last_value::text FROM products_id_seq",
    );
    assert.equal(before[0]?.last_value, "200");
    await query(source.url, "DROP TABLE products CASCADE");
    await query(source.url, "INSERT INTO customers (name) VALUES ('after the backup')");
    await query(source.url, "INSERT INTO orders (customer_id, product_id, qty) VALUES (51, 999, 1)");
    const others = ["public.customers", "public.orders", '"Sales"."Order Items"', "public.big"];
    const untouched = await engine.fingerprint(target, ctx.signal, undefined, others);

    const result = await recoverTables(ctx, {
      asset: testAsset("shop", source.url),
      manifest,
      artifacts: artifactsOf(repo.dir, manifest),
      target,
      tables: ["public.products"],
      jobs: 2,
    });
    assert.equal(result.verified, true, JSON.stringify(result.mismatches));
    assert.deepEqual(result.tables, ["public.products"]);
    assert.deepEqual(result.sequences, ["public.products_id_seq"]);
    assert.equal(result.rows, 190);
    assert.deepEqual(result.foreignKeys.map((fk) => [fk.table, fk.name, fk.references]).sort(), [
      ['"Sales"."Order Items"', "Order Items_Product_fkey", "public.products"],
      ["public.orders", "orders_product_id_fkey", "public.products"],
    ]);
    const ordersFk = result.foreignKeys.find((fk) => fk.name === "orders_product_id_fkey");
    assert.match(
      ordersFk?.definition ?? "",
      /ALTER TABLE ONLY public\.orders\s+ADD CONSTRAINT orders_product_id_fkey FOREIGN KEY \(product_id\) REFERENCES public\.products\(id\);/,
    );
    assert.match(ordersFk?.why ?? "", /not restored/);

    // The FK of orders is reported, not applied (orders holds a row it would reject).
    const fks = await query(
      source.url,
      "SELECT conname FROM pg_constraint WHERE contype = 'f' AND confrelid = 'products'::regclass",
    );
    assert.deepEqual(fks, []);
    // Rows, index, check constraint, trigger, default, comment, sequence value.
    const count = await query<{ n: string }>(source.url, "SELECT count(*)::text AS n FROM products");
    assert.equal(count[0]?.n, "190");
    const indexes = await query<{ indexname: string }>(
      source.url,
      "SELECT indexname FROM pg_indexes WHERE tablename = 'products' ORDER BY 1",
    );
    assert.deepEqual(
      indexes.map((i) => i.indexname),
      ["products_pkey", "products_sku_idx"],
    );
    const checks = await query(
      source.url,
      "SELECT 1 FROM pg_constraint WHERE conrelid = 'products'::regclass AND contype = 'c'",
    );
    assert.equal(checks.length, 1);
    const inserted = await query<{ id: number; status: string }>(
      source.url,
      "INSERT INTO products (sku, price) VALUES ('new', 1) RETURNING id, status",
    );
    assert.deepEqual(
      inserted[0],
      { id: 201, status: "active" },
      "nextval continues after the old sequence value; the default is back",
    );
    await assert.rejects(
      query(source.url, "INSERT INTO products (sku, price) VALUES ('neg', -1)"),
      /products_price_check/,
    );
    const touched = await query<{ touched: number }>(
      source.url,
      "UPDATE products SET price = 2 WHERE id = 1 RETURNING touched",
    );
    assert.equal(touched[0]?.touched, 1, "the trigger is back");
    const comment = await query<{ c: string }>(
      source.url,
      "SELECT obj_description('products'::regclass, 'pg_class') AS c",
    );
    assert.equal(comment[0]?.c, "what the shop sells");
    // The view dropped with it comes back too.
    const feed = await query(source.url, "SELECT * FROM product_feed");
    assert.equal(feed.length, 191);
    // Other tables untouched.
    assert.deepEqual(await engine.fingerprint(target, ctx.signal, undefined, others), untouched);
  });

  it("refuses a table that exists in the target and changes nothing", async () => {
    const ctx = testContext(repo.dir);
    const engine = ctx.engine("postgres");
    const target = engine.target(source.url);
    await query(source.url, "DROP TABLE big");
    const relationsBefore = await relations(source.url);
    const fingerprintBefore = await engine.fingerprint(target, ctx.signal, undefined, ["public.customers"]);
    await assert.rejects(
      recoverTables(ctx, {
        asset: testAsset("shop", source.url),
        manifest,
        artifacts: artifactsOf(repo.dir, manifest),
        target,
        tables: ["public.customers", "public.big"],
        jobs: 2,
      }),
      (error: unknown) => {
        assert.ok(isLifelineError(error));
        assert.equal(error.code, "RESTORE_TABLES_EXIST");
        assert.equal(error.kind, "usage");
        assert.match(error.message, /public\.customers exists/);
        assert.doesNotMatch(error.message, /public\.big/);
        assert.match(error.fix ?? "", /--to/);
        assert.match(error.fix ?? "", /rename/);
        return true;
      },
    );
    assert.deepEqual(await relations(source.url), relationsBefore);
    assert.deepEqual(
      await engine.fingerprint(target, ctx.signal, undefined, ["public.customers"]),
      fingerprintBefore,
    );
  });

  it("a table renamed aside keeps its indexes' names: restoring it is refused up front naming them; with those renamed too, the sequence it now shares is said", async () => {
    const ctx = testContext(repo.dir);
    const engine = ctx.engine("postgres");
    const db = await fresh();
    await query(db.url, SOURCE.replace(/INSERT INTO big[^;]*;/, ""));
    await query(db.url, "DROP VIEW product_feed; ALTER TABLE products RENAME TO products_old");
    const target = engine.target(db.url);
    const before = await relations(db.url);
    await assert.rejects(
      recoverTables(ctx, {
        asset: testAsset("shop", db.url),
        manifest,
        artifacts: artifactsOf(repo.dir, manifest),
        target,
        tables: ["public.products"],
        jobs: 2,
      }),
      (error: unknown) => {
        assert.ok(isLifelineError(error), String(error));
        assert.equal(error.code, "RESTORE_TABLES_EXIST");
        assert.match(error.message, /public\.products_pkey/);
        assert.match(error.fix ?? "", /ALTER INDEX/);
        return true;
      },
    );
    assert.deepEqual(await relations(db.url), before, "nothing was restored");
    await query(
      db.url,
      "ALTER INDEX products_pkey RENAME TO products_old_pkey; ALTER INDEX products_sku_idx RENAME TO products_old_sku_idx",
    );
    const warnings: string[] = [];
    const result = await recoverTables(
      { ...ctx, progress: { phase: () => undefined, warn: (m) => warnings.push(m) } },
      {
        asset: testAsset("shop", db.url),
        manifest,
        artifacts: artifactsOf(repo.dir, manifest),
        target,
        tables: ["public.products"],
        jobs: 2,
      },
    );
    assert.equal(result.verified, true, JSON.stringify(result.mismatches));
    assert.ok(
      warnings.some((w) => w.includes("public.products_id_seq") && w.includes("left as it is")),
      warnings.join("\n"),
    );
  });

  it("a default of a table that is not restored, lost with a sequence the restore brings back, is said with its statement", async () => {
    const db = await fresh();
    await query(
      db.url,
      `CREATE SEQUENCE shared_seq;
       CREATE TABLE items (id int PRIMARY KEY DEFAULT nextval('shared_seq'), name text);
       CREATE TABLE prices (id int PRIMARY KEY DEFAULT nextval('shared_seq'), amount int);
       INSERT INTO items (name) VALUES ('a'), ('b'); INSERT INTO prices (amount) VALUES (1)`,
    );
    const ctx = testContext(repo.dir);
    const asset = testAsset("shared", db.url);
    const sharedManifest = await backup(ctx, asset);
    await query(db.url, "DROP SEQUENCE shared_seq CASCADE; DROP TABLE items");
    const warnings: string[] = [];
    const result = await recoverTables(
      { ...ctx, progress: { phase: () => undefined, warn: (m) => warnings.push(m) } },
      {
        asset,
        manifest: sharedManifest,
        artifacts: artifactsOf(repo.dir, sharedManifest),
        target: ctx.engine("postgres").target(db.url),
        tables: ["public.items"],
        jobs: 2,
      },
    );
    assert.equal(result.verified, true, JSON.stringify(result.mismatches));
    assert.ok(
      warnings.some((w) =>
        /ALTER TABLE ONLY public\.prices ALTER COLUMN id SET DEFAULT nextval\('public\.shared_seq'::regclass\);/.test(
          w,
        ),
      ),
      warnings.join("\n"),
    );
    const def = await query<{ d: string | null }>(
      db.url,
      "SELECT column_default AS d FROM information_schema.columns WHERE table_name = 'prices' AND column_name = 'id'",
    );
    assert.equal(def[0]?.d ?? null, null, "not applied: lifeline does not change tables it does not restore");
  });

  it("restores into an empty new database: creates the schema and the trigger's function, restores the foreign key between restored tables", async () => {
    const ctx = testContext(repo.dir);
    const db = await fresh();
    const target = ctx.engine("postgres").target(db.url);
    const result = await recoverTables(ctx, {
      asset: testAsset("shop", source.url),
      manifest,
      artifacts: artifactsOf(repo.dir, manifest),
      target,
      tables: ["public.products", '"Sales"."Order Items"'],
      jobs: 2,
    });
    assert.equal(result.verified, true, JSON.stringify(result.mismatches));
    assert.deepEqual(result.sequences, ['"Sales"."Order Items_id_seq"', "public.products_id_seq"]);
    assert.equal(result.rows, 230);
    assert.deepEqual(
      result.foreignKeys.map((fk) => fk.name),
      ["orders_product_id_fkey"],
    );
    assert.match(result.foreignKeys[0]?.why ?? "", /does not exist in the target/);
    const fk = await query(
      db.url,
      `SELECT 1 FROM pg_constraint WHERE conname = 'Order Items_Product_fkey' AND contype = 'f'`,
    );
    assert.equal(fk.length, 1, "the FK between two restored tables is restored");
    const touched = await query<{ touched: number }>(
      db.url,
      "UPDATE products SET price = 2 WHERE id = 1 RETURNING touched",
    );
    assert.equal(touched[0]?.touched, 1, "the trigger's function came along");
    const next = await query<{ id: number }>(
      db.url,
      `INSERT INTO "Sales"."Order Items" ("Note") VALUES ('x') RETURNING id`,
    );
    assert.equal(next[0]?.id, 41);
    assert.deepEqual(
      (await relations(db.url)).filter((r) => !r.endsWith("_pkey")),
      [
        "Sales.Order Items",
        "Sales.Order Items_id_seq",
        "public.product_feed",
        "public.products",
        "public.products_id_seq",
        "public.products_sku_idx",
      ],
    );
  });

  it("restores a schema-qualified mixed-case table alone; its foreign key to a table that is not there is reported", async () => {
    const ctx = testContext(repo.dir);
    const db = await fresh();
    const result = await recoverTables(ctx, {
      asset: testAsset("shop", source.url),
      manifest,
      artifacts: artifactsOf(repo.dir, manifest),
      target: ctx.engine("postgres").target(db.url),
      tables: ['"Sales"."Order Items"'],
      jobs: 1,
    });
    assert.equal(result.verified, true, JSON.stringify(result.mismatches));
    assert.equal(result.rows, 40);
    assert.deepEqual(
      result.foreignKeys.map((fk) => [fk.table, fk.references, fk.why]),
      [
        [
          '"Sales"."Order Items"',
          "public.products",
          "public.products is not restored and does not exist in the target",
        ],
      ],
    );
    const rows = await query<{ n: string }>(db.url, `SELECT count(*)::text AS n FROM "Sales"."Order Items"`);
    assert.equal(rows[0]?.n, "40");
  });

  it("an identity sequence comes back with its value; a foreign key to a table of the target is restored", async () => {
    const ctx = testContext(repo.dir);
    const db = await fresh();
    await query(
      db.url,
      "CREATE TABLE customers (id int PRIMARY KEY); INSERT INTO customers SELECT generate_series(1, 50)",
    );
    const result = await recoverTables(ctx, {
      asset: testAsset("shop", source.url),
      manifest,
      artifacts: artifactsOf(repo.dir, manifest),
      target: ctx.engine("postgres").target(db.url),
      tables: ["public.orders"],
      jobs: 1,
    });
    assert.equal(result.verified, true, JSON.stringify(result.mismatches));
    assert.deepEqual(result.sequences, ["public.orders_id_seq"]);
    assert.deepEqual(
      result.foreignKeys.map((fk) => fk.name),
      ["orders_product_id_fkey"],
    );
    const fks = await query<{ conname: string }>(
      db.url,
      "SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid = 'orders'::regclass",
    );
    assert.deepEqual(
      fks.map((f) => f.conname),
      ["orders_customer_id_fkey"],
    );
    const next = await query<{ id: string }>(
      db.url,
      "INSERT INTO orders (customer_id, product_id, qty) VALUES (1, 1, 1) RETURNING id::text",
    );
    assert.equal(next[0]?.id, "301");
  });

  it("a second restore into the same database while one runs is refused: RESTORE_BUSY", async () => {
    const ctx = testContext(repo.dir);
    const db = await fresh();
    const recovery = ctx.engine("postgres").recovery;
    assert.ok(recovery);
    const target = ctx.engine("postgres").target(db.url);
    const held = await recovery.lock(target);
    assert.ok(held);
    try {
      await assert.rejects(
        recoverTables(ctx, {
          asset: testAsset("shop", source.url),
          manifest,
          artifacts: artifactsOf(repo.dir, manifest),
          target,
          tables: ["public.customers"],
          jobs: 1,
        }),
        (error: unknown) => isLifelineError(error) && error.code === "RESTORE_BUSY",
      );
    } finally {
      await held.release();
    }
    assert.deepEqual(await relations(db.url), []);
  });

  it("a restore whose lifeline is SIGKILLed mid-copy leaves the target as it was", async () => {
    const db = await fresh();
    await query(db.url, "CREATE TABLE keep_me (id int); INSERT INTO keep_me VALUES (1)");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        inRepo("test/support/restore-tables-child.ts"),
        path.join(repo.dir, "restore-points", "shop", manifest.id),
        path.join(repo.dir, "restore-points", "shop", manifest.id, "manifest.json"),
        db.url,
        "public.customers",
        "public.big",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("close", (_code, signal) => resolve(signal)),
    );
    await copying(db.name, "public.big");
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL", stderr);
    await restoreSessionsGone(db.name);
    assert.deepEqual(await relations(db.url), ["public.keep_me"]);
  });

  it("Ctrl-C mid-restore stops both tools: INTERRUPTED, nothing restored", async () => {
    const db = await fresh();
    const controller = new AbortController();
    const ctx = testContext(repo.dir, { signal: controller.signal });
    const pending = recoverTables(ctx, {
      asset: testAsset("shop", source.url),
      manifest,
      artifacts: artifactsOf(repo.dir, manifest),
      target: ctx.engine("postgres").target(db.url),
      tables: ["public.big"],
      jobs: 1,
    });
    await copying(db.name, "public.big");
    controller.abort();
    await assert.rejects(pending, (error: unknown) => isLifelineError(error) && error.code === "INTERRUPTED");
    await restoreSessionsGone(db.name);
    assert.deepEqual(await relations(db.url), []);
  });

  it("a failing statement rolls everything back: RESTORE_FAILED with the database's message", async () => {
    const ctx = testContext(repo.dir);
    const db = await fresh();
    // A function of the same name returning another type: the trigger cannot use it.
    await query(db.url, "CREATE FUNCTION touch_product() RETURNS int LANGUAGE sql AS 'SELECT 1'");
    await assert.rejects(
      recoverTables(ctx, {
        asset: testAsset("shop", source.url),
        manifest,
        artifacts: artifactsOf(repo.dir, manifest),
        target: ctx.engine("postgres").target(db.url),
        tables: ["public.products", "public.customers"],
        jobs: 1,
      }),
      (error: unknown) => {
        assert.ok(isLifelineError(error));
        assert.equal(error.code, "RESTORE_FAILED", error.message);
        assert.match(error.message, /touch_product/);
        assert.match(error.message, /nothing was restored/);
        return true;
      },
    );
    assert.deepEqual(await relations(db.url), []);
  });
});

describe("restore --tables of the hard-case schema (real PostgreSQL)", () => {
  it("restores every table into an empty database, verified; partitions come back attached to their parent", async () => {
    const db = await createDatabase("lifeline_rt_hard");
    const to = await createDatabase("lifeline_rt_hard_to");
    const repo = tempDir();
    try {
      loadSqlFile(db.url, path.join(FIXTURES, "hard-cases.sql"));
      const ctx = testContext(repo.dir);
      const manifest = await backup(ctx, testAsset("hard", db.url));
      const tables = manifest.fingerprints.tables.map((t) => t.table);
      const result = await recoverTables(ctx, {
        asset: testAsset("hard", db.url),
        manifest,
        artifacts: artifactsOf(repo.dir, manifest),
        target: ctx.engine("postgres").target(to.url),
        tables,
        jobs: 2,
      });
      assert.equal(result.verified, true, JSON.stringify(result.mismatches));
      assert.deepEqual(result.tables, tables);
      assert.equal(
        result.rows,
        manifest.fingerprints.tables.reduce((sum, t) => sum + t.rows, 0),
      );
      const partitions = await query<{ n: string }>(
        to.url,
        "SELECT count(*)::text AS n FROM pg_inherits WHERE inhparent = 'public.measurements'::regclass",
      );
      assert.equal(partitions[0]?.n, "4");
    } finally {
      await db.drop();
      await to.drop();
      repo.remove();
    }
  });
});
