import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { cli } from "../support/cli.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/** psql as the ordinary application role: what an engineer (or a migration tool) would type. */
function psql(url: string, sql: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      "psql",
      ["-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-d", url, "-c", sql],
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const count = async (url: string, table: string) =>
  Number((await query<{ n: string }>(url, `SELECT count(*) AS n FROM ${table}`))[0]?.n);

interface GuardStatusDoc {
  assets: {
    asset: string;
    state: {
      installed: boolean;
      keyMatches: boolean | null;
      problems: string[];
      disabledTriggers: string[];
      canDropDatabase: { role: string; why: string }[];
    };
  }[];
}

describe("lifeline guard: destruction inside PostgreSQL needs an approved plan, whatever the client", () => {
  let db: TestDatabase;
  const role = `lifeline_guard_app_${randomBytes(3).toString("hex")}`;
  let appUrl: string;
  let adminUrl: string;
  const work = tempDir("lifeline-guard-e2e-");
  const as = (user: string, args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: user } });
  const key = () => readFileSync(path.join(work.dir, ".lifeline", "state", "guard", "shop.key"));

  before(async () => {
    db = await createDatabase("lifeline_guard_e2e");
    await query(ADMIN_URL, `CREATE ROLE ${role} LOGIN`);
    adminUrl = db.url;
    const u = new URL(db.url);
    u.username = role;
    appUrl = u.toString();
    await query(db.url, `GRANT ALL ON SCHEMA public TO ${role}`);
    // The application role owns its tables (as applications usually do): it may drop them.
    await query(
      appUrl,
      `CREATE TABLE orders (id serial PRIMARY KEY, note varchar(20) NOT NULL, qty int NOT NULL);
       INSERT INTO orders (note, qty) SELECT 'order ' || g, g FROM generate_series(1, 3000) g;
       CREATE VIEW big_orders AS SELECT id FROM orders WHERE id > 100;
       CREATE TABLE items (id int PRIMARY KEY, name text);
       INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g;
       CREATE TABLE items_archive () INHERITS (items);
       INSERT INTO items_archive SELECT g, 'old ' || g FROM generate_series(100, 120) g;
       CREATE VIEW item_names AS SELECT name FROM items;
       ANALYZE;`,
    );
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:
  shop:
    url: ${appUrl}
    tier: production
`,
    );
  });

  after(async () => {
    await db.drop();
    await query(ADMIN_URL, `DROP ROLE IF EXISTS ${role}`);
    work.remove();
  });

  it("install shows the SQL, needs --yes without a terminal and a superuser; then status says it is complete", async () => {
    const unconfirmed = await as("alice", ["guard", "install", "shop"]);
    assert.equal(unconfirmed.code, 2, unconfirmed.stderr);
    assert.match(unconfirmed.stdout, /CREATE EVENT TRIGGER lifeline_guard_drop ON sql_drop/);
    assert.match(unconfirmed.stderr, /--yes/);

    const notSuper = await as("alice", ["guard", "install", "shop", "--yes"]);
    assert.equal(notSuper.code, 2, notSuper.stderr);
    assert.match(notSuper.stderr, /needs a superuser/);
    assert.match(notSuper.stderr, /--admin-url/);

    const installed = await as("alice", ["guard", "install", "shop", "--yes", "--admin-url", adminUrl]);
    assert.equal(installed.code, 0, installed.stderr + installed.stdout);
    assert.ok(key().length >= 32);
    // The key is never shown.
    assert.doesNotMatch(installed.stdout + installed.stderr, new RegExp(key().toString("hex")));

    // Idempotent: installing again keeps the key.
    const again = await as("alice", ["guard", "install", "shop", "--yes", "--admin-url", adminUrl, "--json"]);
    assert.equal(again.code, 0, again.stderr);

    const status = await as("alice", ["guard", "status", "shop", "--json"]);
    assert.equal(status.code, 0, status.stdout);
    const doc = JSON.parse(status.stdout) as GuardStatusDoc;
    assert.equal(doc.assets[0]?.state.installed, true);
    assert.equal(doc.assets[0]?.state.keyMatches, true);
    assert.deepEqual(doc.assets[0]?.state.problems, []);
    // DROP DATABASE cannot be refused inside PostgreSQL: status says who can do it.
    assert.ok(
      doc.assets[0]?.state.canDropDatabase.some(
        (r) => r.role === "postgres" && /owner|superuser/.test(r.why),
      ),
      JSON.stringify(doc.assets[0]?.state.canDropDatabase),
    );
    assert.ok(!doc.assets[0]?.state.canDropDatabase.some((r) => r.role === role));
    const text = await as("alice", ["guard", "status", "shop"]);
    assert.match(text.stdout, /DROP DATABASE cannot be refused inside PostgreSQL; who can drop it: postgres/);
  });

  it("refuses through psql, with the hint and its own SQLSTATE, and changes nothing", async () => {
    const refused = [
      "DROP TABLE items_archive",
      "DROP TABLE items CASCADE",
      "ALTER TABLE orders DROP COLUMN qty",
      "ALTER TABLE orders ALTER COLUMN qty TYPE smallint",
      "ALTER TABLE orders ALTER COLUMN note TYPE varchar(19)",
      "ALTER TABLE orders ALTER COLUMN qty TYPE bigint USING qty * 0",
      "TRUNCATE orders",
      "DELETE FROM orders",
      "UPDATE orders SET qty = 0 WHERE id > 100",
    ];
    for (const sql of refused) {
      const r = await psql(appUrl, sql);
      assert.notEqual(r.code, 0, `${sql} passed`);
      assert.match(r.stderr, /ERROR: {2}LG001: lifeline guard refused/, sql);
      assert.match(r.stderr, /HINT: {2}See what it destroys: lifeline plan shop --sql '/, sql);
      assert.match(r.stderr, /lifeline run shop --sql/, sql);
    }
    const cascade = await psql(appUrl, "DROP TABLE items CASCADE");
    assert.match(cascade.stderr, /table public\.items, table public\.items_archive would be dropped/);
    assert.equal(await count(appUrl, "orders"), 3000);
    assert.equal(await count(appUrl, "items"), 71);
    const columns = await query<{ type: string }>(
      appUrl,
      "SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname IN ('note', 'qty') ORDER BY attname",
    );
    assert.deepEqual(
      columns.map((c) => c.type),
      ["character varying(20)", "integer"],
    );
  });

  it("lets ordinary work and definitions pass; protects a table created after install", async () => {
    for (const sql of [
      "DELETE FROM orders WHERE id <= 10",
      "UPDATE orders SET qty = qty + 1 WHERE id <= 50",
      "CREATE INDEX orders_qty ON orders (qty)",
      "DROP VIEW big_orders",
      "ALTER TABLE orders ALTER COLUMN note TYPE varchar(40)",
      "ALTER TABLE orders ALTER COLUMN note TYPE text",
      // A table created and dropped by the same transaction loses nothing committed.
      "BEGIN; CREATE TABLE scratch_copy AS SELECT * FROM orders; DELETE FROM scratch_copy; DROP TABLE scratch_copy; COMMIT",
      "CREATE TABLE later (id int); INSERT INTO later SELECT generate_series(1, 10)",
    ]) {
      const r = await psql(appUrl, sql);
      assert.equal(r.code, 0, `${sql}: ${r.stderr}`);
    }
    assert.equal(await count(appUrl, "orders"), 2990);
    const later = await psql(appUrl, "TRUNCATE later");
    assert.match(later.stderr, /LG001: lifeline guard refused TRUNCATE .* table public\.later holds data/);
    assert.equal(await count(appUrl, "later"), 10);
  });

  it("hand-made, expired, replayed and other plans' tokens are refused; a valid token lets exactly its objects go", async () => {
    const client = new pg.Client({ connectionString: appUrl });
    await client.connect();
    const oid = async (table: string) =>
      (await client.query<{ oid: string }>("SELECT $1::regclass::oid::text AS oid", [table])).rows[0]?.oid ??
      "";
    const token = (
      fields: { plan: string; xid: string; expires: number; nonce: string; objects: string[] },
      k = key(),
    ) => {
      const payload = [
        "lifeline1",
        fields.plan,
        fields.xid,
        String(fields.expires),
        fields.nonce,
        fields.objects.join(","),
      ].join(":");
      return `${payload}:${createHmac("sha256", k).update(payload).digest("hex")}`;
    };
    const attempt = async (sql: string, make: (xid: string) => string) => {
      await client.query("BEGIN");
      try {
        const xid =
          (await client.query<{ xid: string }>("SELECT pg_current_xact_id()::text AS xid")).rows[0]?.xid ??
          "";
        await client.query("SELECT set_config('lifeline.approval', $1, true)", [make(xid)]);
        await client.query(sql);
        await client.query("COMMIT");
        return null;
      } catch (error) {
        await client.query("ROLLBACK");
        return error as { code?: string; detail?: string };
      }
    };
    try {
      const later = await oid("later");
      const orders = await oid("orders");
      const soon = Math.floor(Date.now() / 1000) + 600;
      const handMade = await attempt("TRUNCATE later", (xid) =>
        token({ plan: "a", xid, expires: soon, nonce: "n1", objects: [later] }, randomBytes(32)),
      );
      assert.equal(handMade?.code, "LG001");
      assert.match(handMade?.detail ?? "", /not issued by lifeline/);
      const expired = await attempt("TRUNCATE later", (xid) =>
        token({ plan: "a", xid, expires: soon - 3600, nonce: "n2", objects: [later] }),
      );
      assert.match(expired?.detail ?? "", /expired/);
      // Plan A's token (for orders) does not truncate later.
      const other = await attempt("TRUNCATE later", (xid) =>
        token({ plan: "plan-a", xid, expires: soon, nonce: "n3", objects: [orders] }),
      );
      assert.match(other?.detail ?? "", /plan plan-a does not cover public\.later/);
      const otherTransaction = await attempt("TRUNCATE later", () =>
        token({ plan: "a", xid: "1", expires: soon, nonce: "n4", objects: [later] }),
      );
      assert.match(otherTransaction?.detail ?? "", /issued for another transaction/);
      assert.equal(await count(appUrl, "later"), 10);

      let used = "";
      const valid = await attempt(
        "TRUNCATE later",
        (xid) => (used = token({ plan: "b", xid, expires: soon, nonce: "n5", objects: [later] })),
      );
      assert.equal(valid, null);
      assert.equal(await count(appUrl, "later"), 0);
      const replayed = await attempt("TRUNCATE later", () => used);
      assert.equal(replayed?.code, "LG001");
      assert.match(replayed?.detail ?? "", /replayed/);
    } finally {
      await client.end();
    }
  });

  it("backup and drill of a guarded database pass; the restore point holds no guard", async () => {
    const backup = await as("alice", ["backup", "shop"]);
    assert.equal(backup.code, 0, backup.stderr);
    const drill = await as("alice", ["drill", "shop"]);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    assert.match(drill.stdout, /PASS|passed/i);
    // The guard's schema (its key, its bookkeeping) is not in the restore point.
    const dumps = readdirSync(path.join(work.dir, ".lifeline", "repository"), {
      recursive: true,
      encoding: "utf8",
    })
      .filter((f) => f.endsWith(`${path.sep}dump`) || f === "dump")
      .map((f) => path.join(work.dir, ".lifeline", "repository", f));
    assert.equal(dumps.length, 1, dumps.join(", "));
    const toc = execFileSync("pg_restore", ["--list", dumps[0] ?? ""], { encoding: "utf8" });
    assert.doesNotMatch(toc, /SCHEMA - lifeline_guard|TABLE lifeline_guard|FUNCTION lifeline_guard/);
    assert.match(toc, /TRIGGER public orders lifeline_guard_truncate/);
  });

  it("lifeline run with another person's approval passes the guard (DROP … CASCADE, a mass DELETE)", async () => {
    for (const sql of ["DROP TABLE items CASCADE", "DELETE FROM orders WHERE id > 1000"]) {
      const blocked = await as("alice", ["run", "shop", "--sql", sql]);
      assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
      const planId = /lifeline approve ([0-9a-f]{12})/.exec(blocked.stdout)?.[1];
      assert.ok(planId, blocked.stdout);
      assert.equal((await as("bob", ["approve", planId])).code, 0);
      const done = await as("alice", ["run", "shop", "--sql", sql]);
      assert.equal(done.code, 0, done.stdout + done.stderr);
    }
    assert.equal(await count(appUrl, "orders"), 990);
    assert.equal((await query(appUrl, "SELECT to_regclass('items') AS t"))[0]?.t, null);
    // Break-glass: the run carries a token for the grant, like an approved plan's.
    const grant = await as("alice", [
      "break-glass",
      "--asset",
      "shop",
      "--for",
      "10m",
      "--reason",
      "INC-1 guard test",
      "--json",
    ]);
    assert.equal(grant.code, 0, grant.stderr);
    await query(adminUrl, "INSERT INTO later VALUES (1)");
    const urgent = await as("alice", ["run", "shop", "--sql", "TRUNCATE later"]);
    assert.equal(urgent.code, 0, urgent.stdout + urgent.stderr);
    assert.equal(await count(appUrl, "later"), 0);
    const id = (JSON.parse(grant.stdout) as { breakGlass: { id: string } }).breakGlass.id;
    assert.equal((await as("alice", ["break-glass", "--end", id])).code, 0);
    // The same statements by hand are still refused.
    const byHand = await psql(appUrl, "DELETE FROM orders WHERE id > 0");
    assert.match(byHand.stderr, /LG001/);
  });

  it("status notices a trigger a superuser disabled; uninstall without approval is blocked", async () => {
    await query(
      adminUrl,
      "SET session_replication_role = replica; ALTER TABLE orders DISABLE TRIGGER lifeline_guard_truncate",
    );
    const status = await as("alice", ["guard", "status", "shop", "--json"]);
    assert.equal(status.code, 4, status.stdout);
    const doc = JSON.parse(status.stdout) as GuardStatusDoc;
    assert.deepEqual(doc.assets[0]?.state.disabledTriggers, ["lifeline_guard_truncate on orders"]);
    const overview = await as("alice", ["status", "shop"]);
    assert.match(
      overview.stdout,
      /database guard weakened: trigger lifeline_guard_truncate on orders is disabled/,
    );
    await query(
      adminUrl,
      "SET session_replication_role = replica; ALTER TABLE orders ENABLE TRIGGER lifeline_guard_truncate",
    );

    // lifeline's key and the database's no longer match (a restored state directory, a reinstall elsewhere).
    const keyFile = path.join(work.dir, ".lifeline", "state", "guard", "shop.key");
    const kept = key();
    writeFileSync(keyFile, randomBytes(32));
    const mismatch = await as("alice", ["guard", "status", "shop"]);
    assert.equal(mismatch.code, 4);
    assert.match(mismatch.stdout, /key: DOES NOT MATCH lifeline's/);
    writeFileSync(keyFile, kept);

    const uninstall = await as("alice", ["guard", "uninstall", "shop", "--admin-url", adminUrl]);
    assert.equal(uninstall.code, 3, uninstall.stdout + uninstall.stderr);
    assert.match(uninstall.stdout, /lifeline approve [0-9a-f]{12}/);
    const still = JSON.parse(
      (await as("alice", ["guard", "status", "shop", "--json"])).stdout,
    ) as GuardStatusDoc;
    assert.equal(still.assets[0]?.state.installed, true);
    // By hand, the owner of the tables cannot remove it either.
    for (const sql of [
      "DROP TRIGGER lifeline_guard_truncate ON orders",
      "ALTER TRIGGER lifeline_guard_truncate ON orders RENAME TO harmless",
      "ALTER TABLE orders DISABLE TRIGGER USER",
      "DROP SCHEMA lifeline_guard CASCADE",
    ]) {
      const r = await psql(appUrl, sql);
      assert.notEqual(r.code, 0, sql);
    }
    const tampered = JSON.parse(
      (await as("alice", ["guard", "status", "shop", "--json"])).stdout,
    ) as GuardStatusDoc;
    assert.deepEqual(tampered.assets[0]?.state.problems, []);
    const audit = JSON.parse((await as("alice", ["audit", "--json", "--asset", "shop"])).stdout) as {
      entries: { kind: string }[];
    };
    assert.ok(audit.entries.some((e) => e.kind === "guard-install"));

    // With another person's approval, it goes; then nothing is refused any more.
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(uninstall.stdout)?.[1] ?? "";
    assert.equal((await as("bob", ["approve", planId])).code, 0);
    const removed = await as("alice", ["guard", "uninstall", "shop", "--admin-url", adminUrl]);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    const gone = await as("alice", ["guard", "status", "shop", "--json"]);
    assert.equal(gone.code, 4);
    assert.equal((JSON.parse(gone.stdout) as GuardStatusDoc).assets[0]?.state.installed, false);
    assert.equal((await psql(appUrl, "TRUNCATE later")).code, 0);
    const after = JSON.parse((await as("alice", ["audit", "--json", "--asset", "shop"])).stdout) as {
      entries: { kind: string }[];
    };
    assert.ok(after.entries.some((e) => e.kind === "guard-uninstall"));
  });
});
