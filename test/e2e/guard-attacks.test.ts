/**
 * Adversarial review of lifeline guard (issue 13): ways an ordinary application role that owns its
 * tables destroys data on a guarded production asset without an approval. Each case here FAILS on
 * the branch it was written against (eb2ab16): they document bugs, they are not fixes.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli } from "../support/cli.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

function psql(url: string, sql: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const one = async (url: string, sql: string) =>
  String(Object.values((await query(url, sql))[0] ?? {})[0] ?? "");

describe("lifeline guard under attack by an ordinary role that owns its tables", () => {
  let db: TestDatabase;
  const role = `lifeline_guard_atk_${randomBytes(3).toString("hex")}`;
  let appUrl: string;
  const work = tempDir("lifeline-guard-attack-");

  before(async () => {
    db = await createDatabase("lifeline_guard_atk");
    await query(ADMIN_URL, `CREATE ROLE ${role} LOGIN`);
    const u = new URL(db.url);
    u.username = role;
    appUrl = u.toString();
    await query(db.url, `GRANT ALL ON SCHEMA public TO ${role}`);
    await query(
      appUrl,
      `CREATE TABLE orders (id serial PRIMARY KEY, note varchar(20) NOT NULL, qty int NOT NULL);
       CREATE TYPE acct AS (id int, balance numeric(12,2));
       CREATE TABLE accounts OF acct;
       ANALYZE;`,
    );
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${appUrl}\n    tier: production\n`,
    );
    const r = await cli(["guard", "install", "shop", "--yes", "--admin-url", db.url], {
      cwd: work.dir,
      env: { LIFELINE_USER: "alice" },
    });
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    await db.drop();
    await query(ADMIN_URL, `DROP ROLE IF EXISTS ${role}`);
    work.remove();
  });

  /** Fresh data (as the superuser, the guard's checks switched off for the reset). */
  const reset = async () => {
    await query(
      db.url,
      `SET session_replication_role = replica;
       ALTER EVENT TRIGGER lifeline_guard_ddl DISABLE;
       DROP VIEW IF EXISTS ov;
       ALTER TABLE orders ALTER COLUMN qty TYPE integer;
       ALTER TYPE acct ALTER ATTRIBUTE balance TYPE numeric(12,2) CASCADE;
       SELECT lifeline_guard.remember('orders'::regclass), lifeline_guard.remember('accounts'::regclass);
       ALTER EVENT TRIGGER lifeline_guard_ddl ENABLE;
       DELETE FROM orders; INSERT INTO orders (note, qty) SELECT 'order ' || g, g FROM generate_series(1, 3000) g;
       DELETE FROM accounts; INSERT INTO accounts SELECT g, g + 0.49 FROM generate_series(1, 2000) g;`,
    );
  };
  const qtySum = () => one(db.url, "SELECT coalesce(sum(qty), 0)::text FROM orders");

  const attacks: { name: string; sql: string; intact: () => Promise<string>; expected: string }[] = [
    {
      name: "ALTER COLUMN … TYPE to the same type with USING rewrites every value (type unchanged: never compared)",
      sql: "ALTER TABLE orders ALTER COLUMN qty TYPE integer USING 0",
      intact: qtySum,
      expected: "4501500",
    },
    {
      name: "a lossless-looking type change whose USING is hidden from current_query() by EXECUTE",
      sql: "DO $$ BEGIN EXECUTE 'ALTER TABLE orders ALTER COLUMN qty TYPE bigint US' || 'ING 0'; END $$",
      intact: qtySum,
      expected: "4501500",
    },
    {
      name: "DELETE through a parent created in the same transaction (inheritance): the parent is 'created now'",
      sql: `BEGIN; CREATE TABLE p (id int, note varchar(20), qty int); ALTER TABLE orders INHERIT p;
            DELETE FROM p; ALTER TABLE orders NO INHERIT p; DROP TABLE p; COMMIT`,
      intact: () => one(db.url, "SELECT count(*)::text FROM orders"),
      expected: "3000",
    },
    {
      name: "UPDATE through a partitioned parent created in the same transaction (ATTACH … DEFAULT)",
      sql: `BEGIN; CREATE TABLE p (id int, note varchar(20) NOT NULL, qty int NOT NULL) PARTITION BY RANGE (id);
            ALTER TABLE p ATTACH PARTITION orders DEFAULT; UPDATE p SET qty = 0;
            ALTER TABLE p DETACH PARTITION orders; DROP TABLE p; COMMIT`,
      intact: qtySum,
      expected: "4501500",
    },
    {
      name: "a lossy ALTER COLUMN … TYPE through a partitioned parent created in the same transaction (not compared, then remembered)",
      sql: `BEGIN; CREATE TABLE p (id int, note varchar(20) NOT NULL, qty int NOT NULL) PARTITION BY RANGE (id);
            ALTER TABLE p ATTACH PARTITION orders DEFAULT; ALTER TABLE p ALTER COLUMN qty TYPE numeric(10,0) USING 0;
            ALTER TABLE p DETACH PARTITION orders; DROP TABLE p; COMMIT`,
      intact: qtySum,
      expected: "4501500",
    },
    {
      name: "ALTER TYPE … ALTER ATTRIBUTE … CASCADE silently rounds a typed table's column",
      sql: "ALTER TYPE acct ALTER ATTRIBUTE balance TYPE numeric(12,0) CASCADE",
      intact: () => one(db.url, "SELECT sum(balance)::text FROM accounts"),
      expected: "2001980.00",
    },
    {
      name: "a mass DELETE one row per statement (an INSTEAD OF trigger on a view, or a DO loop)",
      sql: `CREATE VIEW ov AS SELECT * FROM orders;
            CREATE FUNCTION ovd() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders WHERE id = OLD.id; RETURN OLD; END $$;
            CREATE TRIGGER ovd INSTEAD OF DELETE ON ov FOR EACH ROW EXECUTE FUNCTION ovd();
            DELETE FROM ov`,
      intact: () => one(db.url, "SELECT count(*)::text FROM orders"),
      expected: "3000",
    },
  ];

  for (const a of attacks) {
    it(`refuses: ${a.name}`, async () => {
      await reset();
      const r = await psql(appUrl, a.sql);
      assert.equal(await a.intact(), a.expected, `data changed without an approval (psql exit ${r.code})`);
      assert.match(r.stderr, /lifeline guard refused/);
    });
  }

  it("a trigger merely named like the guard's does not stop reinstall from protecting a table", async () => {
    await query(appUrl, "CREATE TABLE decoy (id int); INSERT INTO decoy VALUES (1), (2)");
    // As a superuser with the guard's checks off: the guard's TRUNCATE trigger replaced by a decoy of the same name.
    await query(
      db.url,
      `SET session_replication_role = replica;
       CREATE FUNCTION public.decoy_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
       DROP TRIGGER lifeline_guard_truncate ON decoy;
       CREATE TRIGGER lifeline_guard_truncate BEFORE TRUNCATE ON decoy FOR EACH STATEMENT EXECUTE FUNCTION public.decoy_fn();`,
    );
    const status = await cli(["guard", "status", "shop", "--json"], { cwd: work.dir });
    assert.match(status.stdout, /table (public\.)?decoy has no TRUNCATE trigger/);
    const again = await cli(["guard", "install", "shop", "--yes", "--admin-url", db.url], {
      cwd: work.dir,
      env: { LIFELINE_USER: "alice" },
    });
    assert.equal(again.code, 0, again.stderr);
    const r = await psql(appUrl, "TRUNCATE decoy");
    assert.match(r.stderr, /lifeline guard refused TRUNCATE/);
    assert.equal(await one(db.url, "SELECT count(*)::text FROM decoy"), "2");
  });

  it("a refusal's hint carries --sql only for a statement it can quote whole (≤ 500 characters)", async () => {
    await reset();
    const long = `DELETE FROM orders WHERE note <> '${"x".repeat(600)}'`;
    const r = await psql(appUrl, long);
    assert.match(r.stderr, /lifeline guard refused a mass DELETE/);
    assert.doesNotMatch(r.stderr, /--sql/);
    assert.match(r.stderr, /lifeline plan shop --file/);
  });

  it("status lists what the guard does not cover, and what a superuser does not own in its schema as tampering", async () => {
    const clean = await cli(["guard", "status", "shop", "--json"], { cwd: work.dir });
    const doc = JSON.parse(clean.stdout) as {
      assets: { state: { problems: string[]; notCovered: string[] } }[];
    };
    const notCovered = doc.assets[0]?.state.notCovered.join("\n") ?? "";
    assert.match(notCovered, /large objects/);
    assert.match(notCovered, /separate transactions/);
    const text = await cli(["guard", "status", "shop"], { cwd: work.dir });
    assert.match(text.stdout, /not covered: large objects/);
    try {
      await query(
        db.url,
        `CREATE FUNCTION lifeline_guard.helper() RETURNS int LANGUAGE sql AS 'SELECT 1';
         ALTER FUNCTION lifeline_guard.helper() OWNER TO ${role};
         CREATE FUNCTION lifeline_guard.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER watch AFTER INSERT ON lifeline_guard.created FOR EACH ROW EXECUTE FUNCTION lifeline_guard.noop();`,
      );
      const tampered = await cli(["guard", "status", "shop", "--json"], { cwd: work.dir });
      assert.equal(tampered.code, 4, tampered.stdout);
      assert.match(
        tampered.stdout,
        /tampering: function lifeline_guard\.helper\(\) is owned by lifeline_guard_atk_/,
      );
      assert.match(tampered.stdout, /tampering: trigger watch on lifeline_guard\.created/);
    } finally {
      await query(
        db.url,
        `SET session_replication_role = replica;
         DROP TRIGGER IF EXISTS watch ON lifeline_guard.created;
         DROP FUNCTION IF EXISTS lifeline_guard.noop(), lifeline_guard.helper();`,
      );
    }
  });

  it("the guard's key never reaches the server log, even with log_statement = all", async (t) => {
    const log = "/var/log/postgresql/postgresql-15-main.log";
    const readable = await query(db.url, `SELECT (pg_stat_file('${log}', true)).size::text AS size`).then(
      (rows) => rows[0]?.size as string | null,
      () => null,
    );
    if (!readable) {
      t.skip(`the server log ${log} is not readable here`);
      return;
    }
    const name = new URL(db.url).pathname.slice(1);
    await query(db.url, `ALTER DATABASE "${name}" SET log_statement = 'all'`);
    await query(db.url, `ALTER DATABASE "${name}" SET log_min_duration_statement = 0`);
    try {
      const r = await cli(["guard", "install", "shop", "--yes", "--admin-url", db.url], {
        cwd: work.dir,
        env: { LIFELINE_USER: "alice" },
      });
      assert.equal(r.code, 0, r.stderr);
      const key = readFileSync(path.join(work.dir, ".lifeline", "state", "guard", "shop.key")).toString(
        "hex",
      );
      // The server writes its log asynchronously to the file: a marker statement shows it is there.
      const marker = `lifeline_guard_log_marker_${randomBytes(4).toString("hex")}`;
      await query(db.url, `SELECT '${marker}'`);
      let text = "";
      for (let i = 0; i < 20 && !text.includes(marker); i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        text = String(
          (await query(db.url, `SELECT pg_read_file('${log}', ${readable}, 50000000, true) AS t`))[0]?.t ??
            "",
        );
      }
      assert.ok(text.includes(marker), "the marker statement is not in the server log");
      assert.ok(
        text.includes("to_regnamespace"),
        "the guard status after install is not in the log: logging is not on",
      );
      assert.ok(!text.includes(key), "the guard's key is in the server log");
    } finally {
      await query(db.url, `ALTER DATABASE "${name}" RESET log_statement`);
      await query(db.url, `ALTER DATABASE "${name}" RESET log_min_duration_statement`);
    }
  });

  it("install refuses a lifeline_guard schema that an ordinary role created first (it would own the key table)", async () => {
    const other = await createDatabase("lifeline_guard_squat");
    const squatter = `lifeline_guard_sq_${randomBytes(3).toString("hex")}`;
    const dir = tempDir("lifeline-guard-squat-");
    try {
      await query(ADMIN_URL, `CREATE ROLE ${squatter} LOGIN`);
      await query(
        other.url,
        `GRANT CREATE ON DATABASE "${new URL(other.url).pathname.slice(1)}" TO ${squatter}`,
      );
      const u = new URL(other.url);
      u.username = squatter;
      await query(
        u.toString(),
        `CREATE SCHEMA lifeline_guard;
         CREATE TABLE lifeline_guard.secret (id boolean PRIMARY KEY DEFAULT true CHECK (id), key bytea NOT NULL);`,
      );
      writeFileSync(
        path.join(dir.dir, "lifeline.yaml"),
        `assets:\n  shop:\n    url: ${u.toString()}\n    tier: production\n`,
      );
      const r = await cli(["guard", "install", "shop", "--yes", "--admin-url", other.url], {
        cwd: dir.dir,
        env: { LIFELINE_USER: "alice" },
      });
      const readable = await query(u.toString(), "SELECT count(*) AS n FROM lifeline_guard.secret").then(
        (rows) => Number(rows[0]?.n),
        () => 0,
      );
      assert.equal(readable, 0, "the ordinary role reads the guard's HMAC key: it can forge any approval");
      assert.notEqual(r.code, 0, "install accepted a schema owned by an ordinary role");
    } finally {
      await other.drop();
      await query(ADMIN_URL, `DROP ROLE IF EXISTS ${squatter}`);
      dir.remove();
    }
  });
});
