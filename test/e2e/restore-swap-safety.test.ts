/**
 * What a lifeline killed in the middle of a swap leaves, and how every restore / standby command
 * puts it right before it connects to anything (issue 11; found by the attack on branch
 * attack-restore). A kill is simulated by the state it leaves, as the swap writes it.
 * Built CLI: npm run build first.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import { cli } from "../support/cli.js";
import { ADMIN_URL, createDatabase, query, tempDir, urlFor, type TestDatabase } from "../support/pg.js";

async function databasesLike(prefix: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    ADMIN_URL,
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    [prefix],
  );
  return rows.map((r) => r.datname);
}

async function dropDatabase(name: string): Promise<void> {
  await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** What a lifeline killed between refusing connections and the renames' commit leaves (see swap). */
async function leaveMidSwap(name: string): Promise<void> {
  await query(ADMIN_URL, `ALTER DATABASE "${name}" SET lifeline.swapping = 'allow'`);
  await query(ADMIN_URL, `ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
  await assert.rejects(query(urlFor(name), "SELECT 1"), /not currently accepting connections/);
}

async function allowConnections(name: string): Promise<void> {
  await query(ADMIN_URL, `ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`).catch(() => undefined);
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

describe("restore / standby after a swap a killed lifeline left unfinished (built CLI, real PostgreSQL)", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-swap-safety-");
  const run = (args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: "alice" } });
  let restorePointId = "";

  before(async () => {
    db = await createDatabase("swap_safety");
    await query(db.url, SHOP_SCHEMA);
    // development: the gate allows in-place restores without approvals, so only the recovery is tested.
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: development\n    rpo: 1h\n`,
    );
    const backup = await run(["backup", "shop", "--json"]);
    assert.equal(backup.code, 0, backup.stderr);
    restorePointId = (JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id;
    const drill = await run(["drill", "shop"]);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  });

  after(async () => {
    for (const name of await databasesLike(db.name)) {
      await allowConnections(name);
      await dropDatabase(name);
    }
    await db.drop();
    work.remove();
  });

  it("restore --in-place after a kill before the renames' commit: the database gets its connections back first, then the restore runs", async () => {
    await leaveMidSwap(db.name);
    try {
      const again = await run(["restore", "shop", "--in-place", "--json"]);
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.match(again.stderr, /accepts connections again/);
      assert.deepEqual(await query(db.url, "SELECT 1 AS one"), [{ one: 1 }]);
      assert.equal(await marked(db.name), false);
    } finally {
      await allowConnections(db.name);
      for (const name of await databasesLike(`${db.name}_before_`)) await dropDatabase(name);
    }
  });

  it("restore --tables back into the asset's database, which a killed swap left refusing connections: repaired, then restored", async () => {
    await query(db.url, "DROP TABLE public.order_items");
    await leaveMidSwap(db.name);
    try {
      const result = await run(["restore", "shop", "--tables", "public.order_items"]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stderr, /accepts connections again/);
      const rows = await query<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM public.order_items");
      assert.ok((rows[0]?.n ?? 0) > 0);
    } finally {
      await allowConnections(db.name);
    }
  });

  it("restore --to a database a killed swap left refusing connections: repaired before it is inspected", async () => {
    const into = `${db.name}_to`;
    const made = await run(["restore", "shop", "--to", urlFor(into)]);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    await leaveMidSwap(into);
    try {
      // Not empty: refused as before, but with the real reason, not "not accepting connections".
      const again = await run(["restore", "shop", "--to", urlFor(into)]);
      assert.equal(again.code, 2, again.stdout + again.stderr);
      assert.match(again.stderr, /accepts connections again/);
      assert.match(again.stderr, /not empty/);
    } finally {
      await allowConnections(into);
      await dropDatabase(into);
    }
  });

  it("status: a database a killed swap left refusing connections says so and how to fix it", async () => {
    await leaveMidSwap(db.name);
    try {
      const status = await run(["status"]);
      assert.match(status.stdout, /REFUSES CONNECTIONS/);
      assert.match(status.stdout, /ALLOW_CONNECTIONS true/);
      assert.match(status.stdout, /run the restore again \(lifeline restore shop --in-place/);
      const json = await run(["status", "--json"]);
      const asset = (JSON.parse(json.stdout) as { assets: { risks: string[] }[] }).assets[0];
      assert.ok(
        asset?.risks.some((r) => r.includes("REFUSES CONNECTIONS")),
        json.stdout,
      );
    } finally {
      await allowConnections(db.name);
    }
  });

  it("status: a staging copy a killed restore left is a note with its fix; a user's database that only has such a name is not", async () => {
    const leftover = `${db.name}_lifeline_staging_dead01`;
    const lookalike = `${db.name}_lifeline_staging_mine01`;
    await query(ADMIN_URL, `CREATE DATABASE "${leftover}"`);
    await query(
      ADMIN_URL,
      `COMMENT ON DATABASE "${leftover}" IS 'lifeline staging copy of ${db.name}; safe to drop when no lifeline restore runs'`,
    );
    await query(ADMIN_URL, `CREATE DATABASE "${lookalike}"`);
    try {
      const status = await run(["status"]);
      assert.match(
        status.stdout,
        new RegExp(`note: shop: ${leftover} \\(on shop's server\\) is a staging copy`),
      );
      assert.match(
        status.stdout,
        /the next lifeline restore or standby into the database it was staged for \(its name before _lifeline_staging_\) removes it, or as a superuser: DROP DATABASE/,
      );
      assert.doesNotMatch(status.stdout, new RegExp(lookalike));
      // The next whole-database restore removes the leftover, never the look-alike.
      const restored = await run(["restore", "shop", "--in-place"]);
      assert.equal(restored.code, 0, restored.stdout + restored.stderr);
      assert.deepEqual(await databasesLike(`${db.name}_lifeline_staging_`), [lookalike]);
    } finally {
      await dropDatabase(leftover);
      await dropDatabase(lookalike);
      for (const name of await databasesLike(`${db.name}_before_`)) await dropDatabase(name);
    }
  });

  it("a kill right after the renames' commit: the next restore gives <db>_before_<id> its connections back and says where it is and how to drop it", async () => {
    // What that kill leaves: the restored copy has the name, the database as it was is
    // <db>_before_<id>, still refusing connections and carrying the mark.
    const previous = `${db.name}_before_${restorePointId.toLowerCase().replace(/[^a-z0-9]/g, "_")}`;
    await query(ADMIN_URL, `CREATE DATABASE "${db.name}_copy" TEMPLATE "${db.name}"`);
    await query(ADMIN_URL, `ALTER DATABASE "${db.name}" SET lifeline.swapping = 'allow'`);
    await query(ADMIN_URL, `ALTER DATABASE "${db.name}" ALLOW_CONNECTIONS false`);
    await query(ADMIN_URL, `ALTER DATABASE "${db.name}" RENAME TO "${previous}"`);
    await query(ADMIN_URL, `ALTER DATABASE "${db.name}_copy" RENAME TO "${db.name}"`);
    try {
      const status = await run(["status"]);
      assert.match(status.stdout, new RegExp(`${previous} is shop's database as it was`));
      assert.match(status.stdout, /refuses connections/);
      const result = await run(["restore", "shop", "--tables", "public.order_items"]);
      // The table exists: refused, but only after the repair.
      assert.equal(result.code, 2, result.stdout + result.stderr);
      assert.match(
        result.stderr,
        new RegExp(`${previous} is ${db.name} as it was before an in-place restore`),
      );
      assert.match(result.stderr, new RegExp(`DROP DATABASE "?${previous}`));
      assert.deepEqual(await query(urlFor(previous), "SELECT 1 AS one"), [{ one: 1 }]);
      assert.equal(await marked(previous), false);
    } finally {
      await allowConnections(previous);
      await dropDatabase(previous);
    }
  });

  it("standby --refresh after a kill mid-swap: repaired first, and the standby keeps serving", async () => {
    const standby = `${db.name}_sb`;
    const made = await run(["standby", "shop", "--to", urlFor(standby)]);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    await query(db.url, "INSERT INTO merchants VALUES (4, 'newer', 'https://feeds.example/newer.xml')");
    assert.equal((await run(["backup", "shop"])).code, 0);
    assert.equal((await run(["drill", "shop"])).code, 0);
    await leaveMidSwap(standby);
    try {
      const refresh = await run(["standby", "shop", "--refresh"]);
      assert.equal(refresh.code, 0, refresh.stdout + refresh.stderr);
      assert.match(refresh.stderr, /accepts connections again/);
      assert.deepEqual(await query(urlFor(standby), "SELECT 1 AS one"), [{ one: 1 }]);
    } finally {
      await allowConnections(standby);
      await dropDatabase(standby);
    }
  });
});
