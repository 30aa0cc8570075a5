import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { backup } from "../../src/app/backup.js";
import { recoverDatabase, type DatabaseRecoveryRequest } from "../../src/app/recover-database.js";
import type { AppContext } from "../../src/app/context.js";
import { isLifelineError } from "../../src/core/errors.js";
import { previousDatabaseName, stagingDatabaseName } from "../../src/core/restore/restore.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { engineFor } from "../../src/engines/index.js";
import type { Progress, Target } from "../../src/ports/engine.js";
import { stagingComment } from "../../src/engines/postgres/recovery/databases.js";
import { embeddedScratch } from "../../src/scratch/embedded-postgres/index.js";
import { testAsset, testContext } from "../support/context.js";
import { ADMIN_URL, databaseExists, query, tempDir, urlFor } from "../support/pg.js";
import { artifactsOf } from "../support/repository.js";

const engine = engineFor("postgres", { postgres: {} });
const recovery = engine.recovery!;
const run = `${Date.now().toString(36)}_${randomBytes(2).toString("hex")}`;
/** Every database and role this file creates starts with these: dropped in after(). */
const PREFIX = `lifeline_rdb_${run}`;
const owner = `lifeline_rdb_owner_${run}`;
const reader = `lifeline_rdb_reader_${run}`;
const gone = `lifeline_rdb_gone_${run}`;

function target(name: string): Target {
  return engine.target(urlFor(name));
}

async function oidOf(name: string): Promise<string | undefined> {
  const rows = await query<{ oid: string }>(
    ADMIN_URL,
    "SELECT oid::text AS oid FROM pg_database WHERE datname = $1",
    [name],
  );
  return rows[0]?.oid;
}

async function stagingOf(name: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    ADMIN_URL,
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
    [stagingDatabaseName(name, "")],
  );
  return rows.map((r) => r.datname);
}

async function count(url: string, table: string): Promise<number> {
  const rows = await query<{ n: number }>(url, `SELECT count(*)::int AS n FROM ${table}`);
  return rows[0]?.n ?? -1;
}

/** Leftovers are found server-wide: those of this test's database only (other tests share the server). */
function mine(database: string, names: readonly string[]): string[] {
  return names.filter((n) => n.startsWith(`${database}_`));
}

function recording(base: AppContext, onPhase: (m: string) => void = () => undefined) {
  const warnings: string[] = [];
  const phases: string[] = [];
  const progress: Progress = {
    phase: (m) => {
      phases.push(m);
      onPhase(m);
    },
    warn: (m) => warnings.push(m),
  };
  return { ctx: { ...base, progress }, warnings, phases };
}

const SCHEMA = `
  CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL);
  CREATE TABLE orders (id serial PRIMARY KEY, product int REFERENCES products, qty int);
  INSERT INTO products (name) SELECT 'p' || g FROM generate_series(1, 50) g;
  INSERT INTO orders (product, qty) SELECT 1 + g % 50, g FROM generate_series(1, 300) g;
`;

describe("recoverDatabase: restore a whole restore point beside the target and swap (real PostgreSQL)", () => {
  const repo = tempDir();
  const source = `${PREFIX}_shop`;
  let manifest: Manifest;
  let base: AppContext;

  const request = (
    into: string,
    overrides: Partial<DatabaseRecoveryRequest> = {},
  ): DatabaseRecoveryRequest => ({
    asset: testAsset("shop", urlFor(source)),
    manifest,
    artifacts: artifactsOf(repo.dir, manifest),
    target: target(into),
    previous: "keep",
    readOnly: false,
    jobs: 2,
    ...overrides,
  });

  before(async () => {
    await query(ADMIN_URL, `CREATE ROLE ${owner} NOLOGIN`);
    await query(ADMIN_URL, `CREATE ROLE ${reader} NOLOGIN`);
    await query(ADMIN_URL, `CREATE DATABASE ${source}`);
    await query(urlFor(source), SCHEMA);
    await query(urlFor(source), `CREATE TABLE owned (id int PRIMARY KEY); INSERT INTO owned VALUES (1), (2)`);
    await query(urlFor(source), `ALTER TABLE owned OWNER TO ${owner}; GRANT SELECT ON products TO ${reader}`);
    base = testContext(repo.dir);
    manifest = await backup(base, testAsset("shop", urlFor(source)));
  });

  after(async () => {
    const dbs = await query<{ datname: string }>(
      ADMIN_URL,
      "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
      [PREFIX],
    );
    for (const { datname } of dbs)
      await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    for (const role of [owner, reader, gone]) await query(ADMIN_URL, `DROP ROLE IF EXISTS ${role}`);
    repo.remove();
  });

  it("restores into a database that does not exist: created, verified, the source's tables and rows", async () => {
    const into = `${PREFIX}_new`;
    const result = await recoverDatabase(base, request(into, { previous: "drop" }));
    assert.equal(result.verified, true, JSON.stringify(result.mismatches));
    assert.equal(await databaseExists(into), true);
    assert.deepEqual([...result.tables].sort(), ["public.orders", "public.owned", "public.products"]);
    assert.equal(result.rows, 352);
    assert.equal(await count(urlFor(into), "orders"), 300);
    assert.equal(await count(urlFor(into), "products"), 50);
    assert.equal(result.previous, null);
    assert.equal(result.swap, null);
    assert.deepEqual(await stagingOf(into), []);
    // Ownership kept: the roles exist and the connecting role is a superuser.
    const owned = await query<{ tableowner: string }>(
      urlFor(into),
      "SELECT tableowner FROM pg_tables WHERE tablename = 'owned'",
    );
    assert.equal(owned[0]?.tableowner, owner);
    const grants = await query<{ ok: boolean }>(
      urlFor(into),
      `SELECT has_table_privilege('${reader}', 'public.products', 'SELECT') AS ok`,
    );
    assert.equal(grants[0]?.ok, true);
    const comment = await query<{ c: string | null }>(
      ADMIN_URL,
      "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1",
      [into],
    );
    assert.equal(comment[0]?.c, null, "the staging mark does not stay on the restored database");
  });

  it("inspect counts the rows of tables never analysed (a database pg_restore just filled), and the server's own databases are refused", async () => {
    const into = `${PREFIX}_counted`;
    await recoverDatabase(base, request(into, { previous: "drop" }));
    const state = await recovery.inspect(target(into));
    assert.equal(state.tables.find((t) => t.name === "public.orders")?.rows, 300);
    assert.equal(state.tables.find((t) => t.name === "public.products")?.rows, 50);
    await assert.rejects(
      recoverDatabase(base, request("postgres", { previous: "drop" })),
      (e: unknown) => isLifelineError(e) && e.kind === "usage" && e.message.includes("postgres"),
    );
  });

  it("inspect lists the tables that hold rows as a restore point does: partitions, not their partitioned parent", async () => {
    const db = `${PREFIX}_parts`;
    await query(ADMIN_URL, `CREATE DATABASE ${db}`);
    await query(
      urlFor(db),
      `CREATE TABLE meas (at date NOT NULL, v int) PARTITION BY RANGE (at);
       CREATE TABLE meas_2026 PARTITION OF meas FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       INSERT INTO meas VALUES ('2026-03-01', 1)`,
    );
    const state = await recovery.inspect(target(db));
    assert.deepEqual(
      state.tables.map((t) => t.name),
      ["public.meas_2026"],
    );
    assert.ok(state.userObjects > 0);
  });

  it("inspects a live database and a missing one", async () => {
    const live = await recovery.inspect(target(source));
    assert.equal(live.exists, true);
    assert.ok(live.tables.some((t) => t.name === "public.orders"));
    assert.ok(live.userObjects >= 3, String(live.userObjects));
    assert.equal(live.superuser, true);
    const missing = await recovery.inspect(target(`${PREFIX}_missing`));
    assert.equal(missing.exists, false);
    assert.equal(missing.userObjects, 0);
    assert.equal(missing.serverMajor >= 13, true);
  });

  it("in place: swaps in the restore point, keeps the previous database, cuts clients, keeps owner, settings and grants", async (t) => {
    const into = `${PREFIX}_live`;
    await query(ADMIN_URL, `CREATE DATABASE ${into} TEMPLATE ${source}`);
    await query(urlFor(into), "INSERT INTO orders (product, qty) SELECT 1, g FROM generate_series(1, 25) g");
    await query(ADMIN_URL, `ALTER DATABASE ${into} OWNER TO ${owner}`);
    await query(ADMIN_URL, `ALTER DATABASE ${into} SET work_mem = '7MB'`);
    await query(ADMIN_URL, `ALTER DATABASE ${into} SET search_path = "$user", public`);
    await query(
      ADMIN_URL,
      `REVOKE CONNECT ON DATABASE ${into} FROM PUBLIC; GRANT CONNECT ON DATABASE ${into} TO ${reader}`,
    );
    await query(ADMIN_URL, `COMMENT ON DATABASE ${into} IS 'the shop'`);
    const original = await oidOf(into);
    const originalAcl = await query<{ acl: string }>(
      ADMIN_URL,
      "SELECT datacl::text AS acl FROM pg_database WHERE datname = $1",
      [into],
    );
    const client = new pg.Client({ connectionString: urlFor(into), application_name: "shop-api" });
    client.on("error", () => undefined);
    await client.connect();
    const state = await recovery.inspect(target(into));
    assert.deepEqual(
      state.consumers.map((c) => [c.application, c.connections]),
      [["shop-api", 1]],
    );
    try {
      const result = await recoverDatabase(base, request(into));
      assert.equal(result.verified, true, JSON.stringify(result.mismatches));
      const previous = previousDatabaseName(into, manifest.id);
      assert.deepEqual(result.previous?.database, previous);
      assert.ok(result.swap, "a swap happened");
      assert.ok(result.swap.terminated >= 1, `terminated ${result.swap.terminated}`);
      t.diagnostic(
        `swap: unavailable ${result.swap.unavailableMs} ms, ${result.swap.terminated} client(s) cut`,
      );
      assert.ok(result.swap.unavailableMs < 1000, `unavailable ${result.swap.unavailableMs} ms`);
      assert.equal(await count(urlFor(into), "orders"), 300, "the target holds the restore point's data");
      assert.equal(
        await count(urlFor(previous), "orders"),
        325,
        "the previous database holds the extra rows",
      );
      await assert.rejects(client.query("SELECT 1"), "the connected client was cut");
      const db = await query<{ owner: string; acl: string; comment: string | null; allow: boolean }>(
        ADMIN_URL,
        `SELECT pg_get_userbyid(datdba) AS owner, datacl::text AS acl, shobj_description(oid, 'pg_database') AS comment, datallowconn AS allow
           FROM pg_database WHERE datname = $1`,
        [into],
      );
      assert.equal(db[0]?.owner, owner);
      assert.equal(
        db[0]?.acl,
        originalAcl[0]?.acl,
        "the same privileges (PUBLIC without CONNECT, the reader with it)",
      );
      assert.match(db[0]?.acl ?? "", new RegExp(`${reader}=c/`));
      assert.equal(db[0]?.comment, "the shop");
      assert.equal(db[0]?.allow, true);
      const settings = await query<{ config: string[] }>(
        ADMIN_URL,
        "SELECT s.setconfig AS config FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1 AND s.setrole = 0",
        [into],
      );
      assert.deepEqual([...(settings[0]?.config ?? [])].sort(), [
        'search_path="$user", public',
        "work_mem=7MB",
      ]);
      const prev = await query<{ allow: boolean }>(
        ADMIN_URL,
        "SELECT datallowconn AS allow FROM pg_database WHERE datname = $1",
        [previous],
      );
      assert.equal(prev[0]?.allow, true, "the previous database accepts connections again");
      assert.equal(await oidOf(previous), original, "the previous database is the original, renamed");
      assert.deepEqual(await stagingOf(into), []);
      // The same restore point again: its previous database exists, nothing is touched.
      const now = await oidOf(into);
      await assert.rejects(recoverDatabase(base, request(into)), (error: unknown) => {
        assert.ok(isLifelineError(error), String(error));
        assert.equal(error.code, "RESTORE_FAILED");
        assert.match(error.message, new RegExp(`${previous} already exists`));
        return true;
      });
      assert.equal(await oidOf(into), now);
      assert.equal(await oidOf(previous), original);
      assert.deepEqual(await stagingOf(into), []);
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it("refuses a second restore into the same target while the first runs (RESTORE_BUSY)", async () => {
    const into = `${PREFIX}_busy`;
    let second: Promise<unknown> | undefined;
    const { ctx } = recording(base, (phase) => {
      if (phase.startsWith("creating the database") && !second) {
        second = recoverDatabase(base, request(into, { previous: "drop" })).then(
          () => assert.fail("the second restore must be refused"),
          (error: unknown) => error,
        );
      }
    });
    const first = await recoverDatabase(ctx, request(into, { previous: "drop" }));
    assert.equal(first.verified, true);
    const pending = second as Promise<unknown> | undefined;
    assert.ok(pending, "the second restore started while the first held the lock");
    const error = await pending;
    assert.ok(isLifelineError(error), String(error));
    assert.equal(error.code, "RESTORE_BUSY");
    assert.match(error.fix ?? "", /lifeline restore/);
  });

  it("a copy that does not match the restore point is dropped and the target is untouched", async () => {
    const into = `${PREFIX}_mismatch`;
    await query(ADMIN_URL, `CREATE DATABASE ${into} TEMPLATE ${source}`);
    await query(urlFor(into), "INSERT INTO orders (product, qty) VALUES (1, 1)");
    const oid = await oidOf(into);
    const altered: Manifest = structuredClone(manifest);
    const orders = altered.fingerprints.tables.find((t) => t.table === "public.orders");
    assert.ok(orders);
    orders.digest = orders.digest.replace(/.$/, (c) => (c === "0" ? "1" : "0"));
    const result = await recoverDatabase(base, request(into, { manifest: altered }));
    assert.equal(result.verified, false);
    assert.ok(
      result.mismatches.some((m) => m.object === "public.orders"),
      JSON.stringify(result.mismatches),
    );
    assert.equal(result.swap, null);
    assert.equal(await oidOf(into), oid, "the target is the same database");
    assert.equal(await count(urlFor(into), "orders"), 301);
    assert.deepEqual(await stagingOf(into), []);
    assert.equal(await databaseExists(previousDatabaseName(into, manifest.id)), false);
  });

  it("Ctrl-C during the restore: INTERRUPTED, the staging copy removed, the target untouched", async () => {
    const into = `${PREFIX}_ctrlc`;
    await query(ADMIN_URL, `CREATE DATABASE ${into} TEMPLATE ${source}`);
    const oid = await oidOf(into);
    const controller = new AbortController();
    const { ctx } = recording({ ...base, signal: controller.signal }, (phase) => {
      if (phase.includes("with pg_restore")) setTimeout(() => controller.abort(), 30);
    });
    await assert.rejects(recoverDatabase(ctx, request(into)), (error: unknown) => {
      assert.ok(isLifelineError(error), String(error));
      assert.equal(error.code, "INTERRUPTED");
      return true;
    });
    assert.equal(await oidOf(into), oid);
    assert.equal(await count(urlFor(into), "orders"), 300);
    assert.deepEqual(await stagingOf(into), []);
    // The lock was released: the next restore runs.
    const again = await recoverDatabase(base, request(into, { previous: "drop" }));
    assert.equal(again.verified, true);
  });

  it("removes and reports the staging copy a killed restore left; a live one is not a leftover", async () => {
    const into = `${PREFIX}_left`;
    const dead = stagingDatabaseName(into, "dead01");
    await query(ADMIN_URL, `CREATE DATABASE ${dead}`);
    // What stage() marks every staging database with: only such a database is ever a leftover.
    await query(ADMIN_URL, `COMMENT ON DATABASE ${dead} IS '${stagingComment(into)}'`);
    // A live staging copy: its restore holds the lock (in this process, another session).
    const lock = await recovery.lock(target(into));
    assert.ok(lock);
    let live: Target;
    try {
      live = await recovery.stage(target(into), {
        nonce: "live01",
        encoding: "UTF8",
        locale: null,
        like: null,
      });
      assert.deepEqual(mine(into, await recovery.leftovers(target(into))), [dead]);
      assert.equal(await recovery.lock(target(into)), null, "the lock is taken");
    } finally {
      await lock.release();
    }
    // Released (as a killed process's session ends): now both are leftovers.
    assert.deepEqual(
      mine(into, await recovery.leftovers(target(into))).sort(),
      [dead, stagingDatabaseName(into, "live01")].sort(),
    );
    await recovery.drop(live);
    const { ctx, phases, warnings } = recording(base);
    const result = await recoverDatabase(ctx, request(into, { previous: "drop" }));
    assert.ok(result.removedLeftovers.includes(dead), result.removedLeftovers.join(", "));
    assert.ok(
      phases.some((p) => /restoring: table 3\/3 /.test(p)),
      `progress names the tables done / total: ${phases.join("\n")}`,
    );
    assert.ok(
      phases.some((p) => /building indexes and constraints/.test(p)),
      `progress says when indexes are built: ${phases.join("\n")}`,
    );
    assert.ok(
      warnings.some((p) => p.includes(dead)),
      warnings.join("\n"),
    );
    assert.equal(await databaseExists(dead), false);
  });

  it("a standby: read-only after the swap, a write fails", async () => {
    const into = `${PREFIX}_standby`;
    const result = await recoverDatabase(base, request(into, { readOnly: true, previous: "drop" }));
    assert.equal(result.verified, true);
    assert.equal((await recovery.inspect(target(into))).readOnly, true);
    await assert.rejects(query(urlFor(into), "INSERT INTO products (name) VALUES ('x')"), /read-only/);
  });

  it("ownership keep with a role the target lacks: a warning naming it, and the restore still succeeds", async () => {
    const src = `${PREFIX}_gone_src`;
    await query(ADMIN_URL, `CREATE ROLE ${gone} NOLOGIN`);
    await query(ADMIN_URL, `CREATE DATABASE ${src}`);
    await query(
      urlFor(src),
      `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); ALTER TABLE t OWNER TO ${gone}`,
    );
    const asset = testAsset("gone", urlFor(src));
    const goneManifest = await backup(base, asset);
    await query(ADMIN_URL, `DROP DATABASE ${src}`);
    await query(ADMIN_URL, `DROP ROLE ${gone}`);
    const into = `${PREFIX}_gone`;
    const { ctx, warnings } = recording(base);
    const result = await recoverDatabase(ctx, {
      ...request(into, { previous: "drop" }),
      asset,
      manifest: goneManifest,
      artifacts: artifactsOf(repo.dir, goneManifest),
    });
    assert.equal(result.verified, true, JSON.stringify(result.mismatches));
    assert.ok(
      warnings.some((w) => w.includes(gone)),
      warnings.join("\n"),
    );
    const owned = await query<{ tableowner: string }>(
      urlFor(into),
      "SELECT tableowner FROM pg_tables WHERE tablename = 't'",
    );
    assert.equal(owned[0]?.tableowner, "postgres");
  });

  it("a lifeline killed in the middle of the swap: the next restore gives the database its connections back", async () => {
    const into = `${PREFIX}_midswap`;
    await recoverDatabase(base, request(into, { previous: "drop" }));
    // What a kill between refusing connections and the renames' commit leaves (see swap).
    await query(ADMIN_URL, `ALTER DATABASE ${into} SET lifeline.swapping = 'allow'`);
    await query(ADMIN_URL, `ALTER DATABASE ${into} ALLOW_CONNECTIONS false`);
    await assert.rejects(query(urlFor(into), "SELECT 1"), /not currently accepting connections/);
    const { ctx, warnings } = recording(base);
    const result = await recoverDatabase(ctx, request(into, { previous: "drop" }));
    assert.equal(result.verified, true);
    assert.ok(
      warnings.some((w) => w.includes("accepts connections again")),
      warnings.join("\n"),
    );
    assert.equal(await count(urlFor(into), "products"), 50);
    const marks = await query<{ n: number }>(
      ADMIN_URL,
      `SELECT count(*)::int AS n FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = $1 AND array_to_string(s.setconfig, ',') LIKE '%lifeline.swapping%'`,
      [into],
    );
    assert.equal(marks[0]?.n, 0, "the mark is gone");
  });

  it("disk full on the target (a tablespace on a 20 MB tmpfs, on a private server): RESTORE_FAILED with the cause, the target as it was, no staging copy", async (t) => {
    // Never on the shared server: a full tablespace there stops its checkpoints for everyone.
    const dir = tempDir("lifeline-rdb-ts-");
    let instance: Awaited<ReturnType<ReturnType<typeof embeddedScratch>["provision"]>> | undefined;
    let mounted = false;
    try {
      try {
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=20m", "tmpfs", dir.dir], { stdio: "ignore" });
        mounted = true;
        execFileSync("chown", ["postgres:postgres", dir.dir], { stdio: "ignore" });
      } catch {
        t.skip("cannot mount a tmpfs here (needs root)");
        return;
      }
      instance = await embeddedScratch().provision({
        minMajor: 15,
        encoding: "UTF8",
        signal: new AbortController().signal,
      });
      const admin = instance.target.url;
      const on = (db: string) => {
        const u = new URL(admin);
        u.pathname = "/" + db;
        return u.toString();
      };
      // A real server has its maintenance database; the scratch instance is made without one.
      await query(admin, "CREATE DATABASE postgres TEMPLATE template0");
      await query(admin, `CREATE TABLESPACE small LOCATION '${dir.dir}'`);
      // A restore point larger than the tablespace.
      const big = `${PREFIX}_big`;
      await query(ADMIN_URL, `CREATE DATABASE ${big}`);
      await query(
        urlFor(big),
        "CREATE TABLE blob (id int PRIMARY KEY, pad text); INSERT INTO blob SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 80000) g",
      );
      const bigAsset = testAsset("big", urlFor(big));
      const bigManifest = await backup(base, bigAsset);
      // The target: an empty database on the small tablespace (the staging copy goes there too).
      await query(admin, "CREATE DATABASE full_target TEMPLATE template0 TABLESPACE small");
      const oid = async () =>
        (
          await query<{ oid: string }>(
            admin,
            "SELECT oid::text AS oid FROM pg_database WHERE datname = 'full_target'",
          )
        )[0]?.oid;
      const before = await oid();
      const error = await recoverDatabase(base, {
        ...request("unused", { previous: "drop" }),
        target: engine.target(on("full_target")),
        asset: bigAsset,
        manifest: bigManifest,
        artifacts: artifactsOf(repo.dir, bigManifest),
      }).then(
        () => assert.fail("expected the restore to fail"),
        (e: unknown) => e,
      );
      assert.ok(isLifelineError(error), String(error));
      assert.equal(error.code, "RESTORE_FAILED", [error.code, error.message, ...error.details].join("\n"));
      assert.match([error.message, ...error.details].join("\n"), /No space left on device|could not extend/i);
      assert.equal(await oid(), before, "the target is the same database");
      const staging = await query<{ datname: string }>(
        admin,
        "SELECT datname FROM pg_database WHERE strpos(datname, 'lifeline_staging') > 0",
      );
      assert.deepEqual(staging, []);
      await query(admin, "DROP DATABASE full_target");
      await query(admin, "DROP TABLESPACE small");
    } finally {
      await instance?.teardown();
      if (mounted) {
        try {
          execFileSync("umount", [dir.dir], { stdio: "ignore" });
        } catch {
          // already gone
        }
      }
      dir.remove();
    }
  });
});
