/**
 * The swap of a whole-database restore when something goes wrong in it (issue 11): its session lost
 * after connections were refused, lifeline killed right after the renames' commit, Ctrl-C during it,
 * and which staging databases count as leftovers. Real PostgreSQL; the session is lost by
 * pg_terminate_backend while the swap waits on a lock the test holds (deterministic, no race).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { backup } from "../../src/app/backup.js";
import { recoverDatabase, type DatabaseRecoveryRequest } from "../../src/app/recover-database.js";
import type { AppContext } from "../../src/app/context.js";
import { stagingDatabaseName } from "../../src/core/restore/restore.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { engineFor } from "../../src/engines/index.js";
import { stagingComment } from "../../src/engines/postgres/recovery/databases.js";
import type { Progress, Target } from "../../src/ports/engine.js";
import { testAsset, testContext } from "../support/context.js";
import { ADMIN_URL, databaseExists, query, tempDir, urlFor } from "../support/pg.js";
import { artifactsOf } from "../support/repository.js";

const engine = engineFor("postgres", { postgres: {} });
const recovery = engine.recovery!;
const PREFIX = `lifeline_swp_${Date.now().toString(36)}_${randomBytes(2).toString("hex")}`;

function target(name: string): Target {
  return engine.target(urlFor(name));
}

function recording(base: AppContext, onPhase: (m: string) => void = () => undefined) {
  const warnings: string[] = [];
  const progress: Progress = { phase: onPhase, warn: (m) => warnings.push(m) };
  return { ctx: { ...base, progress }, warnings };
}

async function session(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  return client;
}

/** Waits until a lifeline recovery session waits on a lock in a statement matching `like`; its pid. */
async function waitingSwap(like: string): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    const rows = await query<{ pid: number }>(
      ADMIN_URL,
      `SELECT pid FROM pg_stat_activity
        WHERE application_name = 'lifeline restore' AND wait_event_type = 'Lock' AND query ILIKE $1`,
      [like],
    );
    if (rows[0]) return rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no lifeline session waits in ${like}`);
}

async function marked(name: string): Promise<boolean> {
  const rows = await query(
    ADMIN_URL,
    `SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
      WHERE d.datname = $1 AND array_to_string(s.setconfig, ',') LIKE '%lifeline.swapping%'`,
    [name],
  );
  return rows.length > 0;
}

async function commentOf(name: string): Promise<string | null> {
  const rows = await query<{ c: string | null }>(
    ADMIN_URL,
    "SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1",
    [name],
  );
  return rows[0]?.c ?? null;
}

async function staging(name: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    ADMIN_URL,
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    [stagingDatabaseName(name, "")],
  );
  return rows.map((r) => r.datname);
}

describe("the swap when something goes wrong in it (real PostgreSQL)", () => {
  const repo = tempDir();
  const source = `${PREFIX}_shop`;
  let manifest: Manifest;
  let base: AppContext;

  const request = (into: string, previous: "keep" | "drop"): DatabaseRecoveryRequest => ({
    asset: testAsset("shop", urlFor(source)),
    manifest,
    artifacts: artifactsOf(repo.dir, manifest),
    target: target(into),
    previous,
    readOnly: false,
    jobs: 2,
  });

  before(async () => {
    await query(ADMIN_URL, `CREATE DATABASE ${source}`);
    await query(
      urlFor(source),
      "CREATE TABLE products (id serial PRIMARY KEY, name text); INSERT INTO products (name) SELECT 'p' || g FROM generate_series(1, 50) g",
    );
    base = testContext(repo.dir);
    manifest = await backup(base, testAsset("shop", urlFor(source)));
  });

  after(async () => {
    const dbs = await query<{ datname: string }>(
      ADMIN_URL,
      "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
      [PREFIX],
    );
    for (const { datname } of dbs) {
      await query(ADMIN_URL, `ALTER DATABASE "${datname}" ALLOW_CONNECTIONS true`).catch(() => undefined);
      await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }
    repo.remove();
  });

  it("leftovers are only staging databases with lifeline's comment: a database that merely has such a name is never one", async () => {
    const into = `${PREFIX}_names`;
    const ours = stagingDatabaseName(into, "dead01");
    const theirs = stagingDatabaseName(into, "mine01");
    await query(ADMIN_URL, `CREATE DATABASE ${ours}`);
    await query(ADMIN_URL, `COMMENT ON DATABASE ${ours} IS '${stagingComment(into)}'`);
    await query(ADMIN_URL, `CREATE DATABASE ${theirs}`);
    await query(ADMIN_URL, `COMMENT ON DATABASE ${theirs} IS 'the reports team''s copy'`);
    assert.deepEqual(
      (await recovery.leftovers(target(into))).filter((n) => n.startsWith(`${into}_`)),
      [ours],
    );
    const result = await recoverDatabase(base, request(into, "drop"));
    assert.ok(result.removedLeftovers.includes(ours), result.removedLeftovers.join(", "));
    assert.equal(await databaseExists(theirs), true);
    assert.equal(await databaseExists(ours), false);
  });

  it("a staging database left without its comment (a restore killed between CREATE DATABASE and COMMENT) is a leftover: it still refuses connections, as stage() creates it; an empty look-alike that accepts them is not", async () => {
    const into = `${PREFIX}_bare`;
    const bare = stagingDatabaseName(into, "bare01");
    const lookalike = stagingDatabaseName(into, "user01");
    await query(ADMIN_URL, `CREATE DATABASE ${bare} TEMPLATE template0 ALLOW_CONNECTIONS false`);
    await query(ADMIN_URL, `CREATE DATABASE ${lookalike} TEMPLATE template0`);
    assert.deepEqual(
      (await recovery.leftovers(target(into))).filter((n) => n.startsWith(`${into}_`)),
      [bare],
    );
    const result = await recoverDatabase(base, request(into, "drop"));
    assert.ok(result.removedLeftovers.includes(bare), result.removedLeftovers.join(", "));
    assert.equal(await databaseExists(bare), false);
    assert.equal(
      await databaseExists(lookalike),
      true,
      "a database that only has such a name is never touched",
    );
  });

  it("the swap's session lost after it refused connections: the error says the renames did not commit, and the database accepts connections again", async () => {
    const into = `${PREFIX}_lost`;
    await recoverDatabase(base, request(into, "keep"));
    // Holds a lock on the database that its RENAME waits for (connections are refused by then).
    const blocker = await session();
    try {
      await blocker.query("BEGIN");
      await blocker.query(`COMMENT ON DATABASE ${into} IS 'held by the test'`);
      const attempt = recoverDatabase(base, request(into, "keep"));
      attempt.catch(() => undefined);
      const pid = await waitingSwap("%RENAME%");
      await query(ADMIN_URL, "SELECT pg_terminate_backend($1)", [pid]);
      await blocker.query("ROLLBACK");
      await assert.rejects(attempt, (error: Error) => {
        assert.match(error.message, /the renames did not commit/);
        assert.match(error.message, new RegExp(`${into} is as it was and accepts connections again`));
        return true;
      });
    } finally {
      await blocker.end();
    }
    assert.deepEqual(await query(urlFor(into), "SELECT count(*)::int AS n FROM products"), [{ n: 50 }]);
    assert.equal(await marked(into), false);
    assert.deepEqual(await staging(into), [], "the copy is removed");
  });

  it("killed right after the renames' commit, before the replaced database is dropped: it is marked as a staging copy in the renames' transaction, so it is a leftover the next restore repairs and removes", async () => {
    const into = `${PREFIX}_away`;
    await recoverDatabase(base, request(into, "drop"));
    const b1 = await session();
    const b2 = await session();
    try {
      // b1 makes the renames wait; b2 then queues for pg_database behind the swap's transaction, so
      // that right after the commit the swap's next statement waits for b2: the session is ended there.
      await b1.query("BEGIN");
      await b1.query(`COMMENT ON DATABASE ${into} IS 'held by the test'`);
      const attempt = recoverDatabase(base, request(into, "drop"));
      attempt.catch(() => undefined);
      await waitingSwap("%RENAME%");
      await b2.query("BEGIN");
      const locked = b2.query("LOCK TABLE pg_database IN SHARE MODE");
      await b1.query("ROLLBACK");
      await locked;
      const pid = await waitingSwap("%ALLOW_CONNECTIONS true%");
      await query(ADMIN_URL, "SELECT pg_terminate_backend($1)", [pid]);
      await b2.query("COMMIT");
      await assert.rejects(attempt, /the renames committed/);
    } finally {
      await b1.end();
      await b2.end();
    }
    const [away, ...more] = await staging(into);
    assert.ok(away, "the replaced database is still there");
    assert.deepEqual(more, []);
    assert.equal(await commentOf(away), stagingComment(into));
    assert.equal(await marked(away), true);
    assert.deepEqual(
      (await recovery.leftovers(target(into))).filter((n) => n.startsWith(`${into}_`)),
      [away],
    );
    const { ctx, warnings } = recording(base);
    const again = await recoverDatabase(ctx, request(into, "drop"));
    assert.equal(again.verified, true);
    assert.ok(
      warnings.some((w) => w.includes(`${away} is ${into} as it was`)),
      warnings.join("\n"),
    );
    assert.ok(again.removedLeftovers.includes(away), again.removedLeftovers.join(", "));
    assert.equal(await databaseExists(away), false);
  });

  it("Ctrl-C during the swap: the swap finishes, and lifeline says that it is finishing it", async () => {
    const into = `${PREFIX}_int`;
    await recoverDatabase(base, request(into, "keep"));
    const controller = new AbortController();
    const { ctx, warnings } = recording({ ...base, signal: controller.signal }, (phase) => {
      if (phase.startsWith("swapping")) controller.abort();
    });
    const result = await recoverDatabase(ctx, request(into, "keep"));
    assert.equal(result.verified, true);
    assert.ok(result.previous);
    assert.ok(
      warnings.some((w) => /finishing the swap of .* first/.test(w)),
      warnings.join("\n"),
    );
  });
});
