// Adversarial findings on `lifeline restore` / `lifeline standby` (issue 11): each test states what the
// issue or the README promises, and failed before its fix (main at 74d1b20).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, startCli } from "../support/cli.js";
import {
  ADMIN_URL,
  createDatabase,
  markedStaging,
  query,
  tempDir,
  urlFor,
  type TestDatabase,
} from "../support/pg.js";

const unique = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}_${Math.random().toString(16).slice(2, 8)}`;

async function databasesLike(prefix: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    ADMIN_URL,
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    [prefix],
  );
  return rows.map((r) => r.datname);
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("timed out");
}

describe("restore and standby under attack: data written meanwhile, kills, partitions, foreign keys, roles", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-restore-attacks-");
  const created: string[] = [];
  let rp = "";
  const run = (args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: "alice" } });

  before(async () => {
    db = await createDatabase("ll_rattack");
    await query(
      db.url,
      `CREATE TABLE customers(id serial PRIMARY KEY, name text);
       CREATE TABLE orders(id serial PRIMARY KEY, customer_id int REFERENCES customers(id), qty int);
       CREATE TABLE events(id bigserial, at date NOT NULL, v text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
       CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
       CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
       CREATE TABLE big(id int PRIMARY KEY, pad text);
       INSERT INTO customers(name) SELECT 'c' || g FROM generate_series(1, 20) g;
       INSERT INTO orders(customer_id, qty) SELECT 1 + g % 20, g FROM generate_series(1, 100) g;
       INSERT INTO events(at, v) SELECT date '2025-10-01' + g, 'e' FROM generate_series(1, 200) g;
       INSERT INTO big SELECT g, repeat('x', 200) FROM generate_series(1, 50000) g;`,
    );
    // Staging tier: no approvals needed, so each test exercises only the restore itself.
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: staging\n`,
    );
    const backup = await run(["backup", "shop", "--json"]);
    assert.equal(backup.code, 0, backup.stderr);
    rp = (JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id;
  });

  after(async () => {
    for (const name of [...created, db.name]) {
      for (const d of await databasesLike(name)) {
        await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
      }
    }
    work.remove();
  });

  it("a dropped partition comes back with --tables while its partitioned table still exists", async () => {
    // The common loss `DROP TABLE events_2026` (one partition). Actual: exit 1,
    // "multiple primary keys for table "events_2026" are not allowed", nothing restored.
    await query(db.url, "DROP TABLE events_2026");
    const r = await run([
      "restore",
      "shop",
      "--tables",
      "public.events_2026",
      "--restore-point",
      rp,
      "--unverified",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await query(db.url, "SELECT count(*)::int AS n FROM events"), [{ n: 200 }]);
    // Attached as a partition, its primary key attached to the partitioned table's (one, not two).
    const attached = await query(
      db.url,
      `SELECT (SELECT count(*)::int FROM pg_inherits WHERE inhrelid = 'events_2026'::regclass AND inhparent = 'events'::regclass) AS partition,
              (SELECT count(*)::int FROM pg_inherits WHERE inhrelid = 'events_2026_pkey'::regclass AND inhparent = 'events_pkey'::regclass) AS pkey,
              (SELECT count(*)::int FROM pg_constraint WHERE conrelid = 'events_2026'::regclass AND contype = 'p') AS pkeys`,
    );
    assert.deepEqual(attached, [{ partition: 1, pkey: 1, pkeys: 1 }]);
  });

  it("--tables: a foreign key to a table that is not restored is reported, not a reason to restore nothing", async () => {
    // Issue 11: "foreign keys to tables that are not restored are reported, not silently dropped".
    // Actual: the FK to customers (not restored) is applied; when customers changed since the
    // restore point, the whole restore fails (exit 1) and `orders` cannot be brought back at all.
    await query(db.url, "DROP TABLE orders; DELETE FROM customers WHERE id = 5");
    const r = await run([
      "restore",
      "shop",
      "--tables",
      "public.orders",
      "--restore-point",
      rp,
      "--unverified",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await query(db.url, "SELECT count(*)::int AS n FROM orders"), [{ n: 100 }]);
    const doc = JSON.parse(r.stdout) as {
      restore: { verified: boolean; foreignKeys: { name: string; why: string; definition: string }[] };
    };
    assert.equal(doc.restore.verified, true);
    const fk = doc.restore.foreignKeys.find((f) => f.name === "orders_customer_id_fkey");
    assert.ok(fk, r.stdout);
    assert.match(fk.why, /violates foreign key constraint.*5 row\(s\) of public\.orders reference rows/s);
    assert.match(fk.definition, /ALTER TABLE ONLY public\.orders\s+ADD CONSTRAINT orders_customer_id_fkey/);
    assert.match(r.stderr, /orders_customer_id_fkey of public\.orders was left out/);
    // Left out, not added NOT VALID behind the user's back.
    const constraints = await query(
      db.url,
      "SELECT count(*)::int AS n FROM pg_constraint WHERE conname = 'orders_customer_id_fkey'",
    );
    assert.deepEqual(constraints, [{ n: 0 }]);
    // When the referenced rows are all there, the foreign key is added (and not reported).
    await query(db.url, "DROP TABLE orders; INSERT INTO customers(id, name) VALUES (5, 'c5')");
    const again = await run([
      "restore",
      "shop",
      "--tables",
      "public.orders",
      "--restore-point",
      rp,
      "--unverified",
      "--json",
    ]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const doc2 = JSON.parse(again.stdout) as { restore: { foreignKeys: { name: string }[] } };
    assert.ok(!doc2.restore.foreignKeys.some((f) => f.name === "orders_customer_id_fkey"));
    assert.deepEqual(
      await query(db.url, "SELECT convalidated FROM pg_constraint WHERE conname = 'orders_customer_id_fkey'"),
      [{ convalidated: true }],
    );
  });

  it("SIGKILL during `restore --to`: status reports the staging copy it leaves", async () => {
    // README: a killed restore's `<db>_lifeline_staging_<nonce>` copy is reported by `lifeline status`.
    // Actual: only for the asset's own database; a --to target's copy (here ~60 MB) is reported nowhere.
    const target = unique("ll_rattack_to");
    created.push(target);
    const child = startCli(
      ["restore", "shop", "--to", urlFor(target), "--restore-point", rp, "--unverified"],
      {
        cwd: work.dir,
        env: { LIFELINE_USER: "alice" },
      },
    );
    // Killed once the copy carries lifeline's marker (its comment, set just after CREATE DATABASE):
    // a kill between the two leaves a copy nothing recognises as lifeline's (a window of a few
    // milliseconds, known, not covered here; it made this test fail now and then).
    await waitFor(async () => (await markedStaging(`${target}_lifeline_staging_`)).length > 0, 60_000);
    child.child.kill("SIGKILL");
    await child.done;
    const left = await databasesLike(`${target}_lifeline_staging_`);
    assert.equal(left.length, 1);
    const status = await run(["status", "--json"]);
    assert.ok(status.stdout.includes(left[0]!), `status does not mention ${left[0]}: ${status.stdout}`);
    // pg_restore died with lifeline: nothing keeps writing into the copy.
    await waitFor(
      async () =>
        (
          await query<{ n: number }>(
            ADMIN_URL,
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
            [left[0]],
          )
        )[0]?.n === 0,
      10_000,
    );
    // A restore into another target leaves it alone (it is not that restore's to remove; status
    // keeps reporting it); the next restore into the same target removes it, and says so.
    const other = unique("ll_rattack_other");
    created.push(other);
    const elsewhere = await run([
      "restore",
      "shop",
      "--to",
      urlFor(other),
      "--restore-point",
      rp,
      "--unverified",
    ]);
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
    assert.deepEqual(await databasesLike(`${target}_lifeline_staging_`), left);
    const next = await run([
      "restore",
      "shop",
      "--to",
      urlFor(target),
      "--restore-point",
      rp,
      "--unverified",
    ]);
    assert.equal(next.code, 0, next.stderr);
    assert.match(
      next.stderr,
      new RegExp(
        `removing 1 staging database\\(s\\) that killed restores left beside this target: ${left[0]}`,
      ),
    );
    assert.deepEqual(await databasesLike(`${target}_lifeline_staging_`), []);
  });

  it("--replace never drops data the approved plan did not list (written while the copy is restored)", async () => {
    // The gate's last check is before the copy is restored; the swap then drops the target as it is.
    // A table written into the target in between is destroyed without being in any plan.
    const target = unique("ll_rattack_replace");
    created.push(target);
    await query(ADMIN_URL, `CREATE DATABASE "${target}"`);
    await query(urlFor(target), "CREATE TABLE keepme(x int); INSERT INTO keepme VALUES (1)");
    const child = startCli(
      ["restore", "shop", "--to", urlFor(target), "--replace", "--restore-point", rp, "--unverified"],
      { cwd: work.dir, env: { LIFELINE_USER: "alice" } },
    );
    await waitFor(async () => (await databasesLike(`${target}_lifeline_staging_`)).length > 0, 60_000);
    await query(
      urlFor(target),
      "CREATE TABLE written_meanwhile(x int); INSERT INTO written_meanwhile VALUES (42)",
    );
    const r = await child.done;
    const survived = (
      await query(urlFor(target), "SELECT to_regclass('written_meanwhile') IS NOT NULL AS t")
    )[0]?.t;
    assert.ok(
      r.code !== 0 || survived === true,
      `exit ${r.code}; written_meanwhile was dropped: ${r.stdout}`,
    );
  });
  it("--replace refuses at the swap when rows were written into an existing table meanwhile (no DDL)", async () => {
    const target = unique("ll_rattack_rows");
    created.push(target);
    await query(ADMIN_URL, `CREATE DATABASE "${target}"`);
    await query(urlFor(target), "CREATE TABLE keepme(x int); INSERT INTO keepme VALUES (1)");
    const child = startCli(
      ["restore", "shop", "--to", urlFor(target), "--replace", "--restore-point", rp, "--unverified"],
      { cwd: work.dir, env: { LIFELINE_USER: "alice" } },
    );
    await waitFor(async () => (await databasesLike(`${target}_lifeline_staging_`)).length > 0, 60_000);
    await query(urlFor(target), "INSERT INTO keepme VALUES (2)");
    const r = await child.done;
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /RESTORE_TARGET_CHANGED|plan again/);
    assert.deepEqual(await query(urlFor(target), "SELECT count(*)::int AS n FROM keepme"), [{ n: 2 }]);
    assert.deepEqual(await databasesLike(`${target}_lifeline_staging_`), []);
  });
  it("standby --refresh never drops writes made into a standby someone made writable", async () => {
    // During an incident a team may turn the standby writable (ALTER DATABASE … SET
    // default_transaction_read_only = off) and send writes there. `standby --refresh` then replaces it
    // without a plan, a gate or a word: those writes are in no restore point and are gone.
    const standby = unique("ll_rattack_sb");
    created.push(standby);
    for (const args of [
      ["backup", "shop"],
      ["drill", "shop"],
    ])
      assert.equal((await run(args)).code, 0);
    const first = await run(["standby", "shop", "--to", urlFor(standby)]);
    assert.equal(first.code, 0, first.stderr);
    await query(ADMIN_URL, `ALTER DATABASE "${standby}" SET default_transaction_read_only = off`);
    await query(
      urlFor(standby),
      "CREATE TABLE written_on_standby(x int); INSERT INTO written_on_standby VALUES (1)",
    );
    for (const args of [
      ["backup", "shop"],
      ["drill", "shop"],
    ])
      assert.equal((await run(args)).code, 0);
    const refresh = await run(["standby", "shop", "--refresh", "--to", urlFor(standby)]);
    const kept = (
      await query(urlFor(standby), "SELECT to_regclass('written_on_standby') IS NOT NULL AS t")
    )[0]?.t;
    const aside = await databasesLike(`${standby}_`);
    assert.ok(
      refresh.code !== 0 || kept === true || aside.length > 0,
      `refresh exit ${refresh.code} dropped written_on_standby: ${refresh.stdout}${refresh.stderr}`,
    );
  });
  it("standby --refresh refuses a standby written into and made read-only again; a clean one refreshes", async () => {
    const standby = unique("ll_rattack_sb2");
    created.push(standby);
    for (const args of [
      ["backup", "shop"],
      ["drill", "shop"],
    ])
      assert.equal((await run(args)).code, 0);
    const first = await run(["standby", "shop", "--to", urlFor(standby)]);
    assert.equal(first.code, 0, first.stderr);
    // Untouched: it refreshes (nothing lifeline did counts as a write).
    for (const args of [
      ["backup", "shop"],
      ["drill", "shop"],
    ])
      assert.equal((await run(args)).code, 0);
    const clean = await run(["standby", "shop", "--refresh", "--to", urlFor(standby)]);
    assert.equal(clean.code, 0, clean.stderr);
    await query(ADMIN_URL, `ALTER DATABASE "${standby}" SET default_transaction_read_only = off`);
    await query(urlFor(standby), "UPDATE customers SET name = 'changed' WHERE id = 1");
    await query(ADMIN_URL, `ALTER DATABASE "${standby}" SET default_transaction_read_only = on`);
    for (const args of [
      ["backup", "shop"],
      ["drill", "shop"],
    ])
      assert.equal((await run(args)).code, 0);
    const refresh = await run(["standby", "shop", "--refresh", "--to", urlFor(standby)]);
    assert.equal(refresh.code, 2, refresh.stdout + refresh.stderr);
    assert.match(refresh.stderr, /STANDBY_WRITTEN|row\(s\) were inserted, updated or deleted/);
    assert.match(refresh.stderr, /--replace/);
    const name = await query<{ name: string }>(urlFor(standby), "SELECT name FROM customers WHERE id = 1");
    assert.deepEqual(name, [{ name: "changed" }]);
  });
  it("standby as a role without CREATEDB: refused with a fix that works (CREATEDB), not 'create it yourself'", async () => {
    const role = unique("ll_rattack_sbrole");
    const standby = unique("ll_rattack_sbnocreate");
    created.push(standby);
    await query(ADMIN_URL, `CREATE ROLE "${role}" LOGIN`);
    try {
      await query(ADMIN_URL, `CREATE DATABASE "${standby}" OWNER "${role}"`);
      const url = new URL(urlFor(standby));
      url.username = role;
      const r = await run(["standby", "shop", "--to", url.toString()]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /RESTORE_CANNOT_CREATE|may create databases/);
      assert.match(r.stderr, /fix: connect as a role that may create databases \(ALTER ROLE … CREATEDB/);
      assert.doesNotMatch(r.stderr, /locale-gen|yourself/);
    } finally {
      for (const d of await databasesLike(standby))
        await query(ADMIN_URL, `DROP DATABASE "${d}" WITH (FORCE)`);
      await query(ADMIN_URL, `DROP ROLE IF EXISTS "${role}"`);
    }
  });

  it("a corrupt restore point: its fix names a command that lists restore points, and each detail names its file once", async () => {
    const backup = await run(["backup", "shop", "--json"]);
    assert.equal(backup.code, 0, backup.stderr);
    const id = (JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id;
    const dir = path.join(work.dir, ".lifeline", "repository", "restore-points", "shop", id, "dump");
    const toc = path.join(dir, "toc.dat");
    writeFileSync(toc, "corrupt");
    const target = unique("ll_rattack_corrupt");
    created.push(target);
    const r = await run([
      "restore",
      "shop",
      "--to",
      urlFor(target),
      "--restore-point",
      id,
      "--unverified",
      "--json",
    ]);
    assert.equal(r.code, 4, r.stdout + r.stderr);
    const error = (JSON.parse(r.stdout) as { error: { code: string; fix: string; details: string[] } }).error;
    assert.equal(error.code, "ARTIFACT_CORRUPT");
    assert.match(error.fix, /lifeline restore-points shop/);
    for (const d of error.details) assert.doesNotMatch(d, /^(\S+): \1:/, d);
    // That command exists and lists them all, with whether each is verified.
    const list = await run(["restore-points", "shop", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    const rows = (
      JSON.parse(list.stdout) as { restorePoints: { id: string; verified: boolean; bytes: number }[] }
    ).restorePoints;
    assert.ok(rows.some((row) => row.id === rp));
    assert.ok(rows.some((row) => row.id === id));
    assert.ok(rows.every((row) => row.bytes > 0));
    const text = await run(["restore-points", "shop"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`${id} .* not verified: never drilled`));
  });
  it("sslmode=require against a server without SSL: one clear error with its fix, no library SECURITY WARNING", async () => {
    const target = unique("ll_rattack_ssl");
    created.push(target);
    const r = await run([
      "restore",
      "shop",
      "--to",
      `${urlFor(target)}?sslmode=require`,
      "--restore-point",
      rp,
      "--unverified",
      "--json",
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /SECURITY WARNING|uselibpqcompat/);
    const error = (JSON.parse(r.stdout) as { error: { message: string; fix: string | null } }).error;
    assert.match(error.message, /does not accept SSL/);
    assert.match(error.fix ?? "", /sslmode=disable/);
  });
  it("a role without CREATEDB restores into an empty database created for it, as the error's fix says", async () => {
    // Error: "may not create databases … fix: … or create the database yourself and restore into it".
    // Doing exactly that fails with the same error: the staging copy beside the target needs CREATEDB.
    const role = unique("ll_rattack_role");
    const target = unique("ll_rattack_nocreatedb");
    created.push(target);
    await query(ADMIN_URL, `CREATE ROLE "${role}" LOGIN`);
    try {
      await query(ADMIN_URL, `CREATE DATABASE "${target}" OWNER "${role}"`);
      const url = new URL(urlFor(target));
      url.username = role;
      const r = await run(["restore", "shop", "--to", url.toString(), "--restore-point", rp, "--unverified"]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.deepEqual(await query(urlFor(target), "SELECT count(*)::int AS n FROM big"), [{ n: 50000 }]);
      // A database it may not create is still refused, with a fix that works.
      const missing = new URL(urlFor(`${target}_new`));
      missing.username = role;
      const refused = await run([
        "restore",
        "shop",
        "--to",
        missing.toString(),
        "--restore-point",
        rp,
        "--unverified",
      ]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /create the empty database yourself, owned by this role/);
    } finally {
      for (const d of await databasesLike(target))
        await query(ADMIN_URL, `DROP DATABASE "${d}" WITH (FORCE)`);
      await query(ADMIN_URL, `DROP ROLE IF EXISTS "${role}"`);
    }
  });
  it("restoring the same restore point in place twice: refused before the gate, nothing planned or used", async () => {
    // Runs last: it replaces shop's database (the restore point's content comes back).
    const first = await run(["restore", "shop", "--in-place", "--restore-point", rp, "--unverified"]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const runs = async () =>
      (JSON.parse((await run(["audit", "--json"])).stdout) as { entries: { kind: string }[] }).entries.filter(
        (e) => e.kind === "run" || e.kind === "plan" || e.kind === "use",
      ).length;
    const before = await runs();
    const again = await run(["restore", "shop", "--in-place", "--restore-point", rp, "--unverified"]);
    assert.equal(again.code, 2, again.stdout + again.stderr);
    assert.match(again.stderr, /RESTORE_PREVIOUS_EXISTS|already exists/);
    assert.match(again.stderr, /--discard-previous --restore-point/);
    assert.equal(await runs(), before, "no plan, run or approval use was recorded");
    // Dropped by hand: status no longer lists it as kept.
    const previous = (await databasesLike(`${db.name}_before_`))[0];
    assert.ok(previous);
    const listed = async () =>
      (
        JSON.parse((await run(["status", "shop", "--json"])).stdout) as {
          assets: { previousDatabases: { database: string }[] }[];
        }
      ).assets[0]?.previousDatabases.map((p) => p.database);
    assert.deepEqual(await listed(), [previous]);
    await query(ADMIN_URL, `DROP DATABASE "${previous}" WITH (FORCE)`);
    assert.deepEqual(await listed(), []);
  });

  it("status: with two standbys, each one's refresh hint names it (--to), so that it runs", async () => {
    const status = await run(["status", "shop"]);
    const hints = [...status.stdout.matchAll(/refresh: (lifeline standby shop --refresh[^)]*)\)/g)].map(
      (m) => m[1],
    );
    assert.ok(hints.length >= 2, status.stdout);
    for (const hint of hints) assert.match(hint!, / --to postgres:\/\//);
  });
});
