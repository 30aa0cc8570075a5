import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

const PASSWORD = "e2e-S3cret-Passw0rd";

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

function noStackTrace(text: string): void {
  assert.doesNotMatch(text, /\n\s+at .+\(.*:\d+:\d+\)/, "no stack trace");
}

describe("the lifeline CLI, run as a process", () => {
  let db: TestDatabase;
  let work: ReturnType<typeof tempDir>;
  const outputs: string[] = [];
  const env = { SHOP_DB_PASSWORD: PASSWORD };
  const run = async (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const result = await cli(args, { cwd: work.dir, env: { ...env, ...extraEnv } });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  before(async () => {
    db = await createDatabase("lifeline_e2e");
    await query(
      db.url,
      `CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2));
       INSERT INTO products SELECT i, 'p' || i, i * 1.5 FROM generate_series(1, 500) i;
       CREATE TABLE orders (id serial PRIMARY KEY, product_id int REFERENCES products(id), at timestamptz NOT NULL DEFAULT now());
       INSERT INTO orders (product_id, at) SELECT 1 + i % 500, timestamptz '2026-01-01' + i * interval '1 minute' FROM generate_series(1, 2000) i;`,
    );
    work = tempDir("lifeline-e2e-");
  });
  after(async () => {
    await db.drop();
    work.remove();
  });

  it("--help of every command shows an example; --version prints the version", async () => {
    const top = await run(["--help"]);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Examples:/);
    for (const command of ["demo", "init", "backup", "drill", "status", "check"]) {
      const help = await run([command, "--help"]);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, /Example:/, command);
    }
    const version = await run(["--version"]);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });

  it("usage errors exit 2", async () => {
    const unknown = await run(["frobnicate"]);
    assert.equal(unknown.code, 2);
    const missing = await run(["backup"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing required argument 'asset'/);
  });

  it("without a config, commands say how to get one (exit 2)", async () => {
    const result = await run(["status"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no lifeline\.yaml/);
    assert.match(result.stderr, /lifeline init/);
    noStackTrace(result.stderr);
  });

  it("init checks the connection and writes a config without the password", async () => {
    const url = `postgres://postgres:${PASSWORD}@127.0.0.1:5432/${db.name}`;
    const result = await run(["init", "--asset", "shop", "--url", url, "--rpo", "6h"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*lifeline\.yaml/);
    assert.match(result.stdout, /SHOP_DB_PASSWORD/);
    const text = readFileSync(path.join(work.dir, "lifeline.yaml"), "utf8");
    assert.ok(!text.includes(PASSWORD));
    assert.match(text, /\$\{SHOP_DB_PASSWORD\}/);
    assert.match(text, /rpo: 6h/);
    const again = await run(["init", "--asset", "shop", "--url", url]);
    assert.equal(again.code, 2, "refuses to overwrite");
    assert.match(again.stderr, /--force/);
  });

  let restorePointId = "";

  it("backup --json reports the restore point", async () => {
    const result = await run(["backup", "shop", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout) as { restorePoint: Record<string, unknown> };
    assert.equal(doc.restorePoint.asset, "shop");
    assert.equal(doc.restorePoint.tables, 2);
    assert.equal(doc.restorePoint.rows, 2500);
    assert.ok(Number(doc.restorePoint.bytes) > 0);
    assert.match(String(doc.restorePoint.snapshotTime), /^\d{4}-\d\d-\d\dT/);
    restorePointId = String(doc.restorePoint.id);
  });

  it("status before a drill: no verified restore point is a risk", async () => {
    const result = await run(["status"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /shop\s+production/);
    assert.match(result.stdout, /none ✗/);
    assert.match(result.stdout, /no verified restore point/);
  });

  it("drill --json passes and the restore point becomes verified", async () => {
    const result = await run(["drill", "shop", "--json"]);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    const doc = JSON.parse(result.stdout) as { drill: Record<string, unknown> };
    assert.equal(doc.drill.result, "passed");
    assert.equal(doc.drill.restorePointId, restorePointId);
    assert.deepEqual(doc.drill.mismatches, []);
    assert.equal(typeof doc.drill.restoreSeconds, "number");
    assert.equal(typeof doc.drill.verifySeconds, "number");
  });

  it("status --json shows RPO, RTO and changes not covered", async () => {
    await query(db.url, "INSERT INTO orders (product_id) SELECT 1 FROM generate_series(1, 7)");
    await new Promise((r) => setTimeout(r, 1200)); // statistics are flushed to shared memory about every second
    const result = await run(["status", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout) as { assets: Record<string, unknown>[] };
    const shop = doc.assets[0] ?? {};
    assert.equal(shop.name, "shop");
    assert.equal((shop.newestVerifiedRestorePoint as { id: string }).id, restorePointId);
    assert.equal(typeof shop.rpoSeconds, "number");
    assert.equal(shop.rpoTargetSeconds, 6 * 3600);
    assert.equal(typeof shop.rtoSeconds, "number");
    assert.equal((shop.changesNotCovered as { rows: number }).rows, 7);
  });

  it("check --json is clean, then finds a flipped byte (exit 4) and drill fails on it (exit 4)", async () => {
    const clean = await run(["check", "--json"]);
    assert.equal(clean.code, 0, clean.stdout);
    assert.equal((JSON.parse(clean.stdout) as { ok: boolean }).ok, true);

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
      const bad = await run(["check"]);
      assert.equal(bad.code, 4);
      assert.ok(bad.stdout.includes(path.basename(victim)), bad.stdout);
      assert.match(bad.stdout, /sha256/);
      const drill = await run(["drill", "shop"]);
      assert.equal(drill.code, 4);
      assert.ok(drill.stdout.includes(path.basename(victim)), drill.stdout);
    } finally {
      writeFileSync(victim, original);
    }
  });

  it("a config error names the path, the problem and the fix (exit 2)", async () => {
    const bad = tempDir("lifeline-e2e-bad-");
    try {
      writeFileSync(
        path.join(bad.dir, "lifeline.yaml"),
        "assets:\n  shop:\n    url: postgres://db/shop\n    tier: prod\n",
      );
      const result = await cli(["status"], { cwd: bad.dir });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /assets\.shop\.tier: must be one of: production, staging, development/);
      assert.match(result.stderr, /fix:/);
      noStackTrace(result.stderr);
    } finally {
      bad.remove();
    }
  });

  it("a missing environment variable is named (exit 2)", async () => {
    const result = await cli(["backup", "shop"], { cwd: work.dir, env: { SHOP_DB_PASSWORD: "" } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /assets\.shop\.url: environment variable SHOP_DB_PASSWORD is not set/);
  });

  it("an unknown asset lists the known ones (exit 2)", async () => {
    const result = await run(["drill", "nope"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no asset named "nope"/);
    assert.match(result.stderr, /shop/);
  });

  it("the password never reached any output or any file", () => {
    for (const text of outputs) assert.ok(!text.includes(PASSWORD), text);
    for (const file of filesBelow(work.dir)) {
      assert.ok(!readFileSync(file).includes(PASSWORD), `password found in ${file}`);
    }
  });
});
