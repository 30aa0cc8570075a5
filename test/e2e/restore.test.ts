import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import type { ScratchInstance } from "../../src/ports/scratch.js";
import { embeddedScratch } from "../../src/scratch/embedded-postgres/index.js";
import { cli, startCli } from "../support/cli.js";
import {
  ADMIN_URL,
  createDatabase,
  databaseExists,
  markedStaging,
  query,
  tempDir,
  urlFor,
  type TestDatabase,
} from "../support/pg.js";

interface RestoreDoc {
  restore: {
    asset: string;
    restorePointId: string;
    unverifiedSource: boolean;
    mode: string;
    target: string;
    tables: string[];
    rows: number;
    restoreSeconds: number;
    verifySeconds: number;
    verified: boolean;
    mismatches: unknown[];
    previous: { database: string; target: string } | null;
    foreignKeys: { name: string; table: string; references: string; definition: string }[];
    swap: { unavailableMs: number; terminated: number } | null;
    removedLeftovers: string[];
  } | null;
  run?: { status: string; planId: string };
  error?: { code: string };
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesBelow(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

const unique = (prefix: string) =>
  `${prefix}_${Date.now().toString(36)}_${Math.random().toString(16).slice(2, 8)}`;

async function dropDatabase(name: string): Promise<void> {
  await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/** Databases on the server whose name starts with the prefix (restores' staging and previous copies). */
async function databasesLike(prefix: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    ADMIN_URL,
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    [prefix],
  );
  return rows.map((r) => r.datname);
}

describe("lifeline restore, end to end", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-restore-e2e-");
  const created: string[] = [];
  let restorePointId = "";
  const as = (user: string, args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: user } });

  before(async () => {
    db = await createDatabase("ll_restore_e2e");
    await query(db.url, SHOP_SCHEMA);
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: production\n    rpo: 1h\n`,
    );
    const backup = await as("alice", ["backup", "shop", "--json"]);
    assert.equal(backup.code, 0, backup.stderr);
    restorePointId = (JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id;
    const drill = await as("alice", ["drill", "shop"]);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
  });

  after(async () => {
    for (const name of created) await dropDatabase(name);
    for (const name of await databasesLike(db.name)) await dropDatabase(name);
    await db.drop();
    work.remove();
  });

  it("--help shows an example of each mode", async () => {
    const help = await as("alice", ["restore", "--help"]);
    assert.equal(help.code, 0);
    for (const flag of ["--to", "--replace", "--tables", "--schema", "--in-place", "--discard-previous"])
      assert.ok(help.stdout.includes(`lifeline restore shop ${flag}`) || help.stdout.includes(flag), flag);
    assert.match(help.stdout, /Exit codes/);
  });

  it("wrong combinations and path-like ids are usage errors before anything is touched", async () => {
    const cases: [string[], RegExp][] = [
      [["restore", "shop"], /say where to restore/],
      [["restore", "shop", "--in-place", "--to", "postgres://x@127.0.0.1/y"], /choose one/],
      [["restore", "shop", "--replace"], /--replace needs --to/],
      [["restore", "shop", "--discard-previous", "--in-place"], /--discard-previous/],
      [["restore", "shop", "--in-place", "--restore-point", "../../etc"], /not a restore point id/],
      [
        ["restore", "shop", "--in-place", "--restore-point", `${restorePointId}/..`],
        /not a restore point id/,
      ],
    ];
    for (const [args, message] of cases) {
      const result = await as("alice", args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /fix:/);
    }
    const unknown = await as("alice", [
      "restore",
      "shop",
      "--json",
      "--in-place",
      "--restore-point",
      "20200101T000000Z-abcdef",
    ]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.equal((JSON.parse(unknown.stdout) as RestoreDoc).error?.code, "RESTORE_POINT_UNKNOWN");
  });

  it("a target that holds data is refused unless --replace; an unreachable one is a clear error", async () => {
    const full = await createDatabase("ll_restore_full");
    created.push(full.name);
    await query(full.url, "CREATE TABLE keepme (id int); INSERT INTO keepme VALUES (1)");
    const refused = await as("alice", ["restore", "shop", "--to", full.url, "--json"]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.equal((JSON.parse(refused.stdout) as RestoreDoc).error?.code, "RESTORE_TARGET_NOT_EMPTY");
    assert.match(refused.stderr, /public\.keepme/);
    assert.match(refused.stderr, /--replace/);
    assert.deepEqual(await query(full.url, "SELECT id FROM keepme"), [{ id: 1 }]);

    const unreachable = await as("alice", [
      "restore",
      "shop",
      "--to",
      "postgres://postgres:S3cretPw@127.0.0.1:1/x",
    ]);
    assert.equal(unreachable.code, 1, unreachable.stderr);
    assert.match(unreachable.stderr, /127\.0\.0\.1:1/);
    assert.doesNotMatch(unreachable.stdout + unreachable.stderr, /S3cretPw/);
  });

  it("a corrupt restore point (a flipped byte) is refused before any target is touched: exit 4", async () => {
    const target = unique("ll_restore_corrupt");
    const rpDir = path.join(work.dir, ".lifeline/repository/restore-points/shop", restorePointId);
    const victim = filesBelow(path.join(rpDir, "dump"))
      .filter((f) => f.endsWith(".gz"))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    assert.ok(victim);
    const original = readFileSync(victim);
    const damaged = Buffer.from(original);
    damaged[10] = (damaged[10] ?? 0) ^ 0xff;
    writeFileSync(victim, damaged);
    try {
      const result = await as("alice", ["restore", "shop", "--to", urlFor(target), "--json"]);
      assert.equal(result.code, 4, result.stdout + result.stderr);
      assert.equal((JSON.parse(result.stdout) as RestoreDoc).error?.code, "ARTIFACT_CORRUPT");
      assert.equal(await databaseExists(target), false, "nothing touched");
      assert.deepEqual(await databasesLike(target), []);
    } finally {
      writeFileSync(victim, original);
    }
  });

  it("a pg_restore older than the archive is refused before any target is touched, with the fix", async () => {
    const bin = path.join(work.dir, "old-bin");
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, "pg_restore"), "#!/bin/sh\necho 'pg_restore (PostgreSQL) 9.6.24'\n", {
      mode: 0o755,
    });
    const target = unique("ll_restore_oldtool");
    const result = await cli(["restore", "shop", "--to", urlFor(target), "--json"], {
      cwd: work.dir,
      env: { LIFELINE_USER: "alice", LIFELINE_PG_BIN: bin },
    });
    // The client tools lifeline is pointed at (tools.pgBin): a config error, exit 2.
    assert.equal(result.code, 2, result.stdout + result.stderr);
    const doc = JSON.parse(result.stdout) as RestoreDoc & { error?: { fix: string } };
    assert.equal(doc.error?.code, "TOOL_TOO_OLD");
    assert.match(doc.error?.fix ?? "", /LIFELINE_PG_BIN|tools\.pgBin/);
    assert.equal(await databaseExists(target), false);
  });

  it("--dry-run checks everything and touches nothing; on a gated restore it stops as run --dry-run does", async () => {
    const target = unique("ll_restore_dry");
    const dry = await as("alice", ["restore", "shop", "--to", urlFor(target), "--dry-run"]);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /DRY RUN/);
    assert.equal(await databaseExists(target), false);
    const gated = await as("alice", ["restore", "shop", "--in-place", "--dry-run", "--json"]);
    assert.equal(gated.code, 3, "production in place without approval: blocked, dry run or not");
    assert.equal((JSON.parse(gated.stdout) as RestoreDoc).run?.status, "blocked");
  });

  it("into a new database: created, verified, --json shape; then recorded in the audit log", async () => {
    const target = unique("ll_restore_new");
    created.push(target);
    const result = await as("alice", ["restore", "shop", "--to", urlFor(target), "--json"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const doc = JSON.parse(result.stdout) as RestoreDoc;
    assert.ok(doc.restore);
    assert.equal(doc.restore.verified, true);
    assert.equal(doc.restore.restorePointId, restorePointId);
    assert.equal(doc.restore.mode, "into");
    assert.equal(doc.restore.unverifiedSource, false);
    assert.equal(doc.restore.tables.length, 4);
    assert.equal(doc.restore.rows, 3 + 2000 + 5000 + 15000);
    assert.equal(typeof doc.restore.restoreSeconds, "number");
    assert.equal(typeof doc.restore.verifySeconds, "number");
    assert.equal(doc.restore.previous, null);
    assert.deepEqual(await query(urlFor(target), "SELECT count(*)::int AS n FROM order_items"), [
      { n: 15000 },
    ]);
    const audit = JSON.parse((await as("alice", ["audit", "--json", "--kind", "restore"])).stdout) as {
      entries: { data: { result: string; verified: boolean; target: string } }[];
    };
    const entry = audit.entries.find((e) => e.data.target.includes(target));
    assert.equal(entry?.data.result, "succeeded");
    assert.equal(entry?.data.verified, true);
  });

  it("a dropped table comes back into the live database: verified, its foreign keys reported, its sequence right, nothing else touched", async () => {
    const before = await query<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM orders");
    const itemsBefore = await query<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM order_items");
    await query(db.url, "DROP TABLE products CASCADE");
    const result = await as("alice", ["restore", "shop", "--tables", "public.products"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /verified/);
    assert.match(
      result.stdout,
      /ALTER TABLE ONLY public\.order_items\s+ADD CONSTRAINT order_items_product_id_fkey FOREIGN KEY/,
    );
    assert.deepEqual(await query(db.url, "SELECT count(*)::int AS n FROM products"), [{ n: 2000 }]);
    const next = await query<{ id: string }>(
      db.url,
      "INSERT INTO products (merchant_id, sku, name, price, updated_at) VALUES (1, 'SKU-NEW', 'new', 1, now()) RETURNING id::text",
    );
    assert.equal(next[0]?.id, "2001", "the identity sequence continues where it was");
    await query(db.url, "DELETE FROM products WHERE sku = 'SKU-NEW'");
    assert.deepEqual(await query(db.url, "SELECT count(*)::int AS n FROM orders"), before);
    assert.deepEqual(await query(db.url, "SELECT count(*)::int AS n FROM order_items"), itemsBefore);

    // Existing tables are never overwritten.
    const again = await as("alice", ["restore", "shop", "--tables", "public.products", "--json"]);
    assert.equal(again.code, 2, again.stdout + again.stderr);
    assert.equal((JSON.parse(again.stdout) as RestoreDoc).error?.code, "RESTORE_TABLES_EXIST");
  });

  it("--in-place on production: blocked, approved by another person, executed; the previous database kept; discarded through the gate", async () => {
    await query(db.url, "INSERT INTO merchants VALUES (99, 'Added After', 'https://x')");
    const blocked = await as("alice", ["restore", "shop", "--in-place"]);
    assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(blocked.stdout)?.[1];
    assert.ok(planId, blocked.stdout);
    assert.match(blocked.stdout, /BLOCKED: nothing was run/);
    assert.deepEqual(await query(db.url, "SELECT count(*)::int AS n FROM merchants"), [{ n: 4 }]);

    assert.equal((await as("bob", ["approve", planId])).code, 0);
    const done = await as("alice", ["restore", "shop", "--in-place", "--json"]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    const doc = JSON.parse(done.stdout) as RestoreDoc;
    assert.ok(doc.restore);
    assert.equal(doc.restore.verified, true);
    assert.equal(doc.run?.status, "executed");
    assert.ok(doc.restore.previous);
    assert.ok(doc.restore.swap);
    const previous = doc.restore.previous.database;
    assert.deepEqual(
      await query(db.url, "SELECT count(*)::int AS n FROM merchants"),
      [{ n: 3 }],
      "data back",
    );
    assert.deepEqual(
      await query(urlFor(previous), "SELECT name FROM merchants WHERE id = 99"),
      [{ name: "Added After" }],
      "the previous database keeps what was written since",
    );

    const discardBlocked = await as("alice", ["restore", "shop", "--discard-previous"]);
    assert.equal(discardBlocked.code, 3, discardBlocked.stdout + discardBlocked.stderr);
    const discardId = /lifeline approve ([0-9a-f]{12})/.exec(discardBlocked.stdout)?.[1];
    assert.ok(discardId);
    assert.equal(await databaseExists(previous), true);
    assert.equal((await as("bob", ["approve", discardId])).code, 0);
    const discarded = await as("alice", ["restore", "shop", "--discard-previous"]);
    assert.equal(discarded.code, 0, discarded.stdout + discarded.stderr);
    assert.equal(await databaseExists(previous), false);
    const none = await as("alice", ["restore", "shop", "--discard-previous", "--json"]);
    assert.equal(none.code, 2);
    assert.equal((JSON.parse(none.stdout) as RestoreDoc).error?.code, "NO_PREVIOUS_DATABASE");
  });

  it("--replace of a target that holds data is a destructive plan through the gate", async () => {
    const full = await createDatabase("ll_restore_replace");
    created.push(full.name);
    await query(full.url, "CREATE TABLE keepme (id int); INSERT INTO keepme VALUES (1)");
    const blocked = await as("alice", ["restore", "shop", "--to", full.url, "--replace"]);
    assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
    assert.match(blocked.stdout, /DESTRUCTIVE database/);
    assert.match(blocked.stdout, /table public\.keepme/);
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(blocked.stdout)?.[1];
    assert.ok(planId, blocked.stdout);
    assert.deepEqual(await query(full.url, "SELECT id FROM keepme"), [{ id: 1 }]);
    assert.equal((await as("bob", ["approve", planId])).code, 0);
    const done = await as("alice", ["restore", "shop", "--to", full.url, "--replace", "--json"]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    const doc = JSON.parse(done.stdout) as RestoreDoc;
    assert.equal(doc.restore?.mode, "replace");
    assert.equal(doc.restore?.verified, true);
    assert.equal(doc.restore?.previous, null);
    assert.deepEqual(await query(full.url, "SELECT to_regclass('public.keepme') IS NULL AS gone"), [
      { gone: true },
    ]);
    assert.deepEqual(await query(full.url, "SELECT count(*)::int AS n FROM merchants"), [{ n: 3 }]);
  });

  it("a restore into a target another restore holds is refused (RESTORE_BUSY), nothing created", async () => {
    const target = unique("ll_restore_busy");
    created.push(target);
    // Another lifeline process restoring into the target holds its recovery lock (on the maintenance database).
    const other = new pg.Client({ connectionString: ADMIN_URL });
    await other.connect();
    try {
      await other.query("SELECT pg_advisory_lock(hashtextextended('lifeline-recovery:' || $1, 0))", [target]);
      for (const args of [
        ["restore", "shop", "--to", urlFor(target), "--json"],
        ["restore", "shop", "--tables", "public.merchants", "--to", urlFor(target), "--json"],
      ]) {
        const second = await as("alice", args);
        assert.equal(second.code, 1, second.stdout + second.stderr);
        assert.equal((JSON.parse(second.stdout) as RestoreDoc).error?.code, "RESTORE_BUSY");
        assert.deepEqual(await databasesLike(target), []);
      }
    } finally {
      await other.end();
    }
    const concurrent = await Promise.all([
      as("alice", ["restore", "shop", "--tables", "public.merchants", "--to", urlFor(target), "--json"]),
      as("alice", ["restore", "shop", "--tables", "public.merchants", "--to", urlFor(target), "--json"]),
    ]);
    const ok = concurrent.filter((r) => r.code === 0);
    const refused = concurrent.filter((r) => r.code !== 0);
    assert.equal(ok.length, 1, concurrent.map((r) => r.stdout).join("\n"));
    const code = (JSON.parse(refused[0]?.stdout ?? "{}") as RestoreDoc).error?.code ?? "";
    assert.ok(["RESTORE_BUSY", "RESTORE_TABLES_EXIST"].includes(code), code);
    assert.deepEqual(await query(urlFor(target), "SELECT count(*)::int AS n FROM merchants"), [{ n: 3 }]);
  });

  it("SIGKILL during --in-place: the original database keeps serving; the next restore removes the staging copy", async () => {
    // Allowed without approval on a staging-tier asset of the same database.
    const config = path.join(work.dir, "staging.yaml");
    writeFileSync(config, `assets:\n  shop:\n    url: ${db.url}\n    tier: staging\n`);
    const run = startCli(["--config", config, "restore", "shop", "--in-place"], {
      cwd: work.dir,
      env: { LIFELINE_USER: "alice" },
    });
    // Once the copy carries lifeline's marker (a kill just before it leaves an unmarked copy).
    await waitFor(async () => (await markedStaging(`${db.name}_lifeline_staging_`)).length > 0, 60_000);
    run.child.kill("SIGKILL");
    await run.done;
    assert.deepEqual(
      await query(db.url, "SELECT count(*)::int AS n FROM merchants"),
      [{ n: 3 }],
      "still serving",
    );
    assert.equal(
      (await databasesLike(`${db.name}_lifeline_staging_`)).length,
      1,
      "the killed restore's copy",
    );
    const next = await cli(["--config", config, "restore", "shop", "--in-place", "--json"], {
      cwd: work.dir,
      env: { LIFELINE_USER: "alice" },
    });
    assert.equal(next.code, 0, next.stdout + next.stderr);
    const doc = JSON.parse(next.stdout) as RestoreDoc;
    // The leftovers beside this database: the killed restore's copy.
    assert.equal(
      doc.restore?.removedLeftovers.filter((n) => n.startsWith(`${db.name}_lifeline_staging_`)).length,
      1,
    );
    assert.deepEqual(await databasesLike(`${db.name}_lifeline_staging_`), []);
  });

  it("an unverified restore point needs --unverified, then says so loudly and records it", async () => {
    const backup = await as("alice", ["backup", "shop", "--json"]);
    assert.equal(backup.code, 0, backup.stderr);
    const newest = (JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id;
    const target = unique("ll_restore_unverified");
    created.push(target);
    const refused = await as("alice", [
      "restore",
      "shop",
      "--to",
      urlFor(target),
      "--restore-point",
      newest,
      "--json",
    ]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.equal((JSON.parse(refused.stdout) as RestoreDoc).error?.code, "RESTORE_UNVERIFIED");
    assert.match(refused.stderr, /--unverified/);
    assert.equal(await databaseExists(target), false);
    const done = await as("alice", [
      "restore",
      "shop",
      "--to",
      urlFor(target),
      "--restore-point",
      newest,
      "--unverified",
      "--json",
    ]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.match(done.stderr, /NEVER PROVEN/);
    const doc = JSON.parse(done.stdout) as RestoreDoc;
    assert.equal(doc.restore?.unverifiedSource, true);
    assert.equal(doc.restore?.restorePointId, newest);
    const audit = JSON.parse((await as("alice", ["audit", "--json", "--kind", "restore"])).stdout) as {
      entries: { data: { restorePointId: string; unverifiedSource: boolean } }[];
    };
    assert.equal(audit.entries.find((e) => e.data.restorePointId === newest)?.data.unverifiedSource, true);
  });

  describe("against a server that checks passwords (embedded, scram-sha-256)", () => {
    let server: ScratchInstance;
    before(async () => {
      server = await embeddedScratch().provision({
        minMajor: 0,
        encoding: "UTF8",
        signal: new AbortController().signal,
        database: "other",
      });
    });
    after(async () => server.teardown());

    it("a wrong password is a clear error (exit 1) that never shows the password", async () => {
      const wrong = "Wr0ng-Pa55word-xyz";
      const url = new URL(server.target.url);
      url.password = wrong;
      url.pathname = "/restored";
      const result = await as("alice", ["restore", "shop", "--to", url.toString()]);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, /authentication failed|password/);
      assert.doesNotMatch(result.stdout + result.stderr, /Wr0ng-Pa55word-xyz/);
      const json = await as("alice", ["restore", "shop", "--to", url.toString(), "--json"]);
      assert.equal((JSON.parse(json.stdout) as RestoreDoc).error?.code, "DB_AUTH_FAILED");
      assert.doesNotMatch(json.stdout + json.stderr, /Wr0ng-Pa55word-xyz/);
      const audit = await as("alice", ["audit", "--json", "--kind", "restore"]);
      assert.doesNotMatch(audit.stdout, /Wr0ng-Pa55word-xyz/, "nor in the audit log");
    });
  });
});

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("timed out waiting");
}
