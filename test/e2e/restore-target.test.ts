/**
 * `restore --to` / `standby --to`: the target as given (issue 11's adversarial findings on the
 * target): ${VAR} references, the asset's own database under another spelling, database names that
 * are missing, too long or need percent-encoding, a read-only standby, and an unknown option under --json.
 * Run: npm run build && node --import tsx --test test/e2e/restore-target.test.ts
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import { cli } from "../support/cli.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface Doc {
  restore?: { target: string; verified: boolean; mode: string } | null;
  standby?: { target: string; database: string; verified: boolean };
  run?: { status: string };
  dryRun?: string;
  error?: { code: string; message: string; fix: string | null };
}

async function databasesLike(prefix: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    ADMIN_URL,
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    [prefix],
  );
  return rows.map((r) => r.datname);
}

async function dropDatabase(name: string): Promise<void> {
  await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name.replace(/"/g, '""')}" WITH (FORCE)`);
}

/** A query on a database given by its name as the server knows it (no URL encoding involved). */
async function queryIn<T extends pg.QueryResultRow>(database: string, sql: string): Promise<T[]> {
  const admin = new URL(ADMIN_URL);
  const client = new pg.Client({
    host: admin.hostname,
    port: Number(admin.port || 5432),
    user: decodeURIComponent(admin.username),
    database,
  });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The URL of a database named `name` on the test server, the name percent-encoded once. */
function encodedUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = "/" + encodeURIComponent(name);
  return url.toString();
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesBelow(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

describe("restore / standby --to: the target as given", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-restore-target-");
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    cli(args, { cwd: work.dir, env: { LIFELINE_USER: "alice", ...env } });

  before(async () => {
    db = await createDatabase("ll_target");
    await query(db.url, SHOP_SCHEMA);
    await query(db.url, "CREATE TABLE extra (id int PRIMARY KEY); INSERT INTO extra VALUES (1), (2)");
    // development: the gate allows without approvals, so only the target handling is tested.
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: development\n    rpo: 1h\n`,
    );
    const backup = await run(["backup", "shop"]);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const drill = await run(["drill", "shop"]);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    // Lost since the restore point: a selective restore would bring it back.
    await query(db.url, "DROP TABLE extra");
  });

  after(async () => {
    for (const name of await databasesLike(db.name)) await dropDatabase(name);
    await db.drop();
    work.remove();
  });

  it("restore --to expands ${VAR} like standby --to; the password never shows (output, audit, catalog, repository)", async () => {
    const secret = "pw-Zq8Kx3-never-shown";
    const name = `${db.name}_env`;
    const env = { ATK_PW: secret, ATK_SUFFIX: "env" };
    const to = `postgres://postgres:\${ATK_PW}@127.0.0.1:5432/${db.name}_\${ATK_SUFFIX}`;
    const done = await run(["restore", "shop", "--to", to, "--json"], env);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.deepEqual(await databasesLike(name), [name]);
    const doc = JSON.parse(done.stdout) as Doc;
    assert.equal(doc.restore?.verified, true);
    assert.match(doc.restore?.target ?? "", new RegExp(`/${name}$`));
    assert.doesNotMatch(doc.restore?.target ?? "", /ATK_PW|pw-Zq8/);

    // A failure with the password in the URL: nothing of it in the error either.
    const unreachable = `postgres://postgres:\${ATK_PW}@127.0.0.1:1/${db.name}_\${ATK_SUFFIX}`;
    const failed = await run(["restore", "shop", "--to", unreachable, "--json"], env);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.equal((JSON.parse(failed.stdout) as Doc).error?.code, "DB_UNREACHABLE");

    const audit = await run(["audit", "--json"]);
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /"restore"/);
    for (const text of [done.stdout, done.stderr, failed.stdout, failed.stderr, audit.stdout]) {
      assert.ok(!text.includes(secret), text);
    }
    for (const file of filesBelow(work.dir)) {
      assert.ok(!readFileSync(file).includes(secret), `${file} holds the password`);
    }
  });

  it("restore --to with an unset ${VAR} is refused as standby --to refuses it; nothing is created", async () => {
    const before = await databasesLike(db.name);
    const to = `postgres://postgres@127.0.0.1:5432/${db.name}_\${ATK_UNSET_VARIABLE}`;
    const restore = await run(["restore", "shop", "--to", to]);
    const standby = await run(["standby", "shop", "--to", to]);
    for (const refused of [restore, standby]) {
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /--to: environment variable ATK_UNSET_VARIABLE is not set/);
    }
    assert.equal(restore.stderr, standby.stderr);
    assert.deepEqual(await databasesLike(db.name), before);
  });

  it("--to the asset's own database under another spelling is refused, with or without --replace, pointing to --in-place", async () => {
    const before = await databasesLike(db.name);
    const spellings = [
      db.url.replace("127.0.0.1", "localhost"),
      db.url.replace("127.0.0.1", "127.1"),
      `${db.url}?sslmode=disable`,
      db.url.replace(/^postgres:/, "postgresql:"),
      db.url,
    ];
    // Each spelling's three runs side by side (each is refused before it touches anything).
    for (const alias of spellings) {
      await Promise.all(
        [["--replace", "--dry-run"], ["--replace"], []].map(async (extra) => {
          const refused = await run(["restore", "shop", "--to", alias, ...extra, "--json"]);
          assert.equal(refused.code, 2, `${alias} ${extra.join(" ")}: ${refused.stdout}${refused.stderr}`);
          const error = (JSON.parse(refused.stdout) as Doc).error;
          assert.equal(error?.code, "RESTORE_TARGET_IS_ASSET", alias);
          assert.match(error?.fix ?? "", /--in-place/);
        }),
      );
    }
    // The asset's database is still there, with its data, and nothing was kept or staged beside it.
    assert.deepEqual(await databasesLike(db.name), before);
    const merchants = await query<{ n: number }>(db.url, "SELECT count(*)::int AS n FROM merchants");
    assert.ok((merchants[0]?.n ?? 0) > 0);
  });

  it("--tables --to the asset's own database under another spelling is the gated restore into the asset's database", async () => {
    const alias = db.url.replace("127.0.0.1", "localhost");
    const viaAlias = await run([
      "restore",
      "shop",
      "--tables",
      "public.extra",
      "--to",
      alias,
      "--dry-run",
      "--json",
    ]);
    const direct = await run(["restore", "shop", "--tables", "public.extra", "--dry-run", "--json"]);
    assert.equal(viaAlias.code, 0, viaAlias.stdout + viaAlias.stderr);
    assert.equal(direct.code, 0, direct.stdout + direct.stderr);
    const a = JSON.parse(viaAlias.stdout) as Doc;
    const b = JSON.parse(direct.stdout) as Doc;
    assert.equal(a.dryRun, undefined, "not the ungated path of another database");
    assert.equal(a.run?.status, b.run?.status);
  });

  it("standby --to the asset's own database under another spelling is refused as the asset's own database", async () => {
    // 127.1 is 127.0.0.1 to the resolver: only the server's answer tells it is the asset's database.
    for (const alias of [db.url.replace("127.0.0.1", "127.1"), db.url.replace("127.0.0.1", "localhost")]) {
      const refused = await run(["standby", "shop", "--to", alias, "--json"]);
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      const error = (JSON.parse(refused.stdout) as Doc).error;
      assert.equal(error?.code, "RESTORE_TARGET_IS_ASSET", alias);
      assert.match(error?.message ?? "", /own database/);
    }
  });

  it("--to a URL without a database name is a usage error before anything is touched (restore and standby)", async () => {
    const before = await databasesLike("_lifeline_staging_");
    for (const to of ["postgres://postgres@127.0.0.1:5432/", "postgres://postgres@127.0.0.1:5432"]) {
      for (const args of [
        ["restore", "shop", "--to", to],
        ["restore", "shop", "--tables", "public.extra", "--to", to],
        ["standby", "shop", "--to", to],
      ]) {
        const refused = await run(args);
        assert.equal(refused.code, 2, `${args.join(" ")}: ${refused.stdout}${refused.stderr}`);
        assert.match(refused.stderr, /names no database/);
        assert.match(refused.stderr, /fix: .*postgres:\/\/postgres@127\.0\.0\.1:5432\/\S+/);
      }
    }
    assert.deepEqual(await databasesLike("_lifeline_staging_"), before);
  });

  it("a database name longer than 63 bytes is refused (PostgreSQL would cut it), restore and standby", async () => {
    const before = await databasesLike(db.name);
    for (const name of [`${db.name}_${"x".repeat(64)}`, `${db.name}_${"é".repeat(20)}`]) {
      assert.ok(Buffer.byteLength(name) > 63);
      for (const command of ["restore", "standby"]) {
        const refused = await run([command, "shop", "--to", encodedUrl(name)]);
        assert.equal(refused.code, 2, refused.stdout + refused.stderr);
        assert.match(refused.stderr, /at most 63 bytes/);
      }
    }
    assert.deepEqual(await databasesLike(db.name), before);
  });

  it("database names that need percent-encoding restore into exactly that name (/ ; $ space quote uppercase non-ASCII)", async () => {
    const names = [
      `${db.name}_a/b`,
      `${db.name}_a;b`,
      `${db.name}_a$b`,
      `${db.name}_a b`,
      `${db.name}_o'k"q`,
      `${db.name}_UPPER`,
      `${db.name}_ünï`,
      // Clipped for the staging name (63 bytes) inside a character of 2 and of 4 bytes.
      `${db.name}_${"é".repeat(10)}`,
      `${db.name}_😀😀😀😀😀😀`,
    ];
    const before = await databasesLike(db.name);
    for (const name of names) {
      assert.ok(Buffer.byteLength(name) <= 63, name);
      const done = await run(["restore", "shop", "--to", encodedUrl(name), "--json"]);
      assert.equal(done.code, 0, `${name}: ${done.stdout}${done.stderr}`);
      assert.equal((JSON.parse(done.stdout) as Doc).restore?.verified, true);
      const rows = await queryIn<{ n: number }>(name, "SELECT count(*)::int AS n FROM merchants");
      assert.ok((rows[0]?.n ?? 0) > 0, name);
    }
    // Selective, into a database it creates under such a name.
    const selective = `${db.name}_t;b/ü`;
    const tables = await run(["restore", "shop", "--tables", "public.extra", "--to", encodedUrl(selective)]);
    assert.equal(tables.code, 0, tables.stdout + tables.stderr);
    assert.deepEqual(await queryIn(selective, "SELECT id FROM extra ORDER BY id"), [{ id: 1 }, { id: 2 }]);
    // Exactly those databases: no staging copy left, no name cut or encoded differently.
    assert.deepEqual((await databasesLike(db.name)).sort(), [...before, ...names, selective].sort());
  });

  it("a standby under a name that needs percent-encoding", async () => {
    const name = `${db.name}_sb;$ü`;
    const made = await run(["standby", "shop", "--to", encodedUrl(name), "--json"]);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    assert.equal((JSON.parse(made.stdout) as Doc).standby?.database, name);
    await assert.rejects(queryIn(name, "CREATE TABLE w (id int)"), /read-only transaction/);
  });

  it("--tables --to a read-only standby is refused up front, naming the standby and the fix", async () => {
    const name = `${db.name}_ro`;
    const made = await run(["standby", "shop", "--to", encodedUrl(name)]);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    await queryIn(name, "SET transaction_read_only = off; DROP TABLE extra");
    const refused = await run([
      "restore",
      "shop",
      "--tables",
      "public.extra",
      "--to",
      encodedUrl(name),
      "--json",
    ]);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    const error = (JSON.parse(refused.stdout) as Doc).error;
    assert.equal(error?.code, "RESTORE_TARGET_READ_ONLY");
    assert.match(error?.message ?? "", /shop's standby/);
    assert.match(error?.fix ?? "", /lifeline standby shop --refresh/);
    assert.deepEqual(await queryIn(name, "SELECT to_regclass('public.extra') IS NULL AS absent"), [
      { absent: true },
    ]);
  });

  it("an unknown option under --json prints a JSON error document, exit 2", async () => {
    const bogus = await run(["restore", "shop", "--bogus", "--json"]);
    assert.equal(bogus.code, 2, bogus.stdout + bogus.stderr);
    const error = (JSON.parse(bogus.stdout) as Doc).error;
    assert.equal(error?.code, "USAGE");
    assert.match(error?.message ?? "", /unknown option '--bogus'/);
    // Without --json: text only, nothing on stdout.
    const plain = await run(["restore", "shop", "--bogus"]);
    assert.equal(plain.code, 2);
    assert.equal(plain.stdout, "");
  });
});
