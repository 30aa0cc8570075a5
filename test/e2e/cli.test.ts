import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, type CliResult } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

const PASSWORD = "e2e-S3cret-Passw0rd";

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/** The commands listed in a help text's "Commands:" section (without commander's own "help"). */
function subcommands(help: string): string[] {
  const section = help.split(/^Commands:\n/m)[1];
  if (section === undefined) return [];
  const names: string[] = [];
  for (const line of section.split("\n")) {
    if (line.trim() === "") break;
    const name = /^ {2}(\S+)/.exec(line)?.[1];
    if (name && name !== "help") names.push(name);
  }
  return names;
}

function noStackTrace(text: string): void {
  assert.doesNotMatch(text, /\n\s+at .+\(.*:\d+:\d+\)/, "no stack trace");
}

const SCHEMA = `CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2));
  INSERT INTO products SELECT i, 'p' || i, i * 1.5 FROM generate_series(1, 500) i;
  CREATE TABLE orders (id serial PRIMARY KEY, product_id int REFERENCES products(id), at timestamptz NOT NULL DEFAULT now());
  INSERT INTO orders (product_id, at) SELECT 1 + i % 500, timestamptz '2026-01-01' + i * interval '1 minute' FROM generate_series(1, 2000) i;`;

describe("the lifeline CLI, run as a process", () => {
  const outputs: string[] = [];
  const dirs: ReturnType<typeof tempDir>[] = [];
  const databases: TestDatabase[] = [];
  const env = { SHOP_DB_PASSWORD: PASSWORD };
  const runIn = async (dir: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const result = await cli(args, { cwd: dir, env: { ...env, ...extraEnv } });
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const directory = (prefix: string) => {
    const dir = tempDir(prefix);
    dirs.push(dir);
    return dir.dir;
  };
  /** A database of its own with 2 tables (2,500 rows). */
  const database = async () => {
    const db = await createDatabase("lifeline_e2e");
    databases.push(db);
    await query(db.url, SCHEMA);
    return db;
  };
  /** A directory with a lifeline.yaml whose asset shop is the database, its password an ${ENV} reference. */
  const project = (db: TestDatabase) => {
    const dir = directory("lifeline-e2e-");
    writeFileSync(
      path.join(dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: postgres://postgres:\${SHOP_DB_PASSWORD}@127.0.0.1:5432/${db.name}\n    tier: production\n    rpo: 6h\n`,
    );
    return dir;
  };
  let empty: string; // no lifeline.yaml here or above
  const run = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => runIn(empty, args, extraEnv);

  before(() => {
    empty = directory("lifeline-e2e-empty-");
  });
  after(async () => {
    try {
      // The password never reached any output or any file.
      for (const text of outputs) assert.ok(!text.includes(PASSWORD), text);
      for (const dir of dirs)
        for (const file of filesBelow(dir.dir))
          assert.ok(!readFileSync(file).includes(PASSWORD), `password found in ${file}`);
    } finally {
      for (const db of databases) await db.drop();
      for (const dir of dirs) dir.remove();
    }
  });

  it("--help of every command, found in the program's own help, shows an example; --version prints the version", async () => {
    const top = await run(["--help"]);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /Examples:/);
    // The top-level help describes every command group.
    for (const command of ["demo", "backup", "drill", "status", "check", "plan", "run", "approve", "audit"]) {
      if (command !== "demo")
        assert.match(top.stdout.split("Commands:")[0] ?? "", new RegExp(`\\b${command}\\b`), command);
      assert.match(top.stdout.split("Examples:")[1] ?? "", new RegExp(`lifeline ${command}\\b`), command);
    }
    const seen: string[] = [];
    // Every command's --help, a few processes at a time (each is a CLI start, most of the test's time).
    const queue: string[][] = subcommands(top.stdout).map((name) => [name]);
    const worker = async () => {
      for (let command = queue.shift(); command; command = queue.shift()) {
        const result = await run([...command, "--help"]);
        assert.equal(result.code, 0, command.join(" "));
        assert.match(result.stdout, /Example/, command.join(" "));
        seen.push(command.join(" "));
        for (const name of subcommands(result.stdout)) queue.push([...command, name]);
      }
    };
    // A worker that finds the queue empty while others still run may stop early; the last one
    // running drains what remains, so every command is visited.
    await Promise.all([worker(), worker(), worker(), worker()]);
    // The enumeration itself works: it reaches the commands of every group, nested ones too.
    for (const command of ["init", "plan", "run", "approve", "k8s scan", "k8s protect", "audit verify"]) {
      assert.ok(seen.includes(command), `${command} in ${seen.join(", ")}`);
    }
    const version = await run(["--version"]);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+$/);
  });

  it("every error, commander's own included, begins with 'error:'", async () => {
    const cases = [
      ["frobnicate"],
      ["backup"],
      ["status", "--bogus"],
      ["init", "--asset", "a", "--url", "x", "--tier", "t"],
      ["status"],
    ];
    for (const args of cases) {
      const result = await run(args);
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, /^error: /, args.join(" "));
      assert.doesNotMatch(result.stderr, /Error:/, args.join(" "));
    }
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
    const db = await database();
    const dir = directory("lifeline-e2e-init-");
    const url = `postgres://postgres:${PASSWORD}@127.0.0.1:5432/${db.name}`;
    const result = await runIn(dir, ["init", "--asset", "shop", "--url", url, "--rpo", "6h"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*lifeline\.yaml/);
    assert.match(result.stdout, /SHOP_DB_PASSWORD/);
    const text = readFileSync(path.join(dir, "lifeline.yaml"), "utf8");
    assert.ok(!text.includes(PASSWORD));
    assert.match(text, /\$\{SHOP_DB_PASSWORD\}/);
    assert.match(text, /rpo: 6h/);
    const again = await runIn(dir, ["init", "--asset", "shop", "--url", url]);
    assert.equal(again.code, 2, "refuses to overwrite");
    assert.match(again.stderr, /--force/);
  });

  describe("a restore point before its drill", () => {
    let dir: string;
    let backup: CliResult;
    before(async () => {
      dir = project(await database());
      backup = await runIn(dir, ["backup", "shop", "--json"]);
    });

    it("backup --json reports the restore point", () => {
      assert.equal(backup.code, 0, backup.stderr);
      const doc = JSON.parse(backup.stdout) as { restorePoint: Record<string, unknown> };
      assert.equal(doc.restorePoint.asset, "shop");
      assert.equal(doc.restorePoint.tables, 2);
      assert.equal(doc.restorePoint.rows, 2500);
      assert.ok(Number(doc.restorePoint.bytes) > 0);
      assert.match(String(doc.restorePoint.snapshotTime), /^\d{4}-\d\d-\d\dT/);
    });

    it("status before a drill: no verified restore point is a risk", async () => {
      const result = await runIn(dir, ["status"]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /shop\s+production/);
      assert.match(result.stdout, /none ✗/);
      assert.match(result.stdout, /no verified restore point/);
    });

    it("check counts in words that agree with the numbers: 1 restore point, 0 drill reports", async () => {
      const result = await runIn(dir, ["check"]);
      assert.equal(result.code, 0, result.stdout);
      assert.match(result.stdout, /: 1 restore point, 0 drill reports;/);
    });
  });

  describe("a drilled restore point", () => {
    let db: TestDatabase;
    let dir: string;
    let restorePointId: string;
    let drill: CliResult;
    before(async () => {
      db = await database();
      dir = project(db);
      const backup = await runIn(dir, ["backup", "shop", "--json"]);
      assert.equal(backup.code, 0, backup.stderr);
      restorePointId = (JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id;
      drill = await runIn(dir, ["drill", "shop", "--json"]);
    });

    it("drill --json passes and the restore point becomes verified", () => {
      assert.equal(drill.code, 0, drill.stderr + drill.stdout);
      const doc = JSON.parse(drill.stdout) as { drill: Record<string, unknown> };
      assert.equal(doc.drill.result, "passed");
      assert.equal(doc.drill.restorePointId, restorePointId);
      assert.deepEqual(doc.drill.mismatches, []);
      assert.equal(typeof doc.drill.restoreSeconds, "number");
      assert.equal(typeof doc.drill.verifySeconds, "number");
    });

    it("status --json shows RPO, RTO and changes not covered", async () => {
      // The inserting session flushes its statistics before it answers (no waiting for the
      // once-a-second flush).
      await query(
        db.url,
        "INSERT INTO orders (product_id) SELECT 1 FROM generate_series(1, 7); SELECT pg_stat_force_next_flush()",
      );
      const result = await runIn(dir, ["status", "--json"]);
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
      const clean = await runIn(dir, ["check", "--json"]);
      assert.equal(clean.code, 0, clean.stdout);
      assert.equal((JSON.parse(clean.stdout) as { ok: boolean }).ok, true);

      const rpDir = path.join(dir, ".lifeline/repository/restore-points/shop", restorePointId);
      const victim = filesBelow(path.join(rpDir, "dump"))
        .filter((f) => f.endsWith(".gz"))
        .sort((a, b) => statSync(b).size - statSync(a).size)[0];
      assert.ok(victim);
      const original = readFileSync(victim);
      const damaged = Buffer.from(original);
      damaged[10] = (damaged[10] ?? 0) ^ 0xff;
      writeFileSync(victim, damaged);
      try {
        const bad = await runIn(dir, ["check"]);
        assert.equal(bad.code, 4);
        assert.ok(bad.stdout.includes(path.basename(victim)), bad.stdout);
        assert.match(bad.stdout, /sha256/);
        assert.match(bad.stdout, /: 1 problem$/m);
        const again = await runIn(dir, ["drill", "shop"]);
        assert.equal(again.code, 4);
        assert.ok(again.stdout.includes(path.basename(victim)), again.stdout);
      } finally {
        writeFileSync(victim, original);
      }
    });
  });

  it("a config error names the path, the problem and the fix (exit 2)", async () => {
    const dir = directory("lifeline-e2e-bad-");
    writeFileSync(
      path.join(dir, "lifeline.yaml"),
      "assets:\n  shop:\n    url: postgres://db/shop\n    tier: prod\n",
    );
    const result = await runIn(dir, ["status"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /assets\.shop\.tier: must be one of: production, staging, development/);
    assert.match(result.stderr, /fix:/);
    noStackTrace(result.stderr);
  });

  it("a missing environment variable is named (exit 2)", async () => {
    const dir = project({ name: "lifeline_e2e_unused", url: "", drop: async () => undefined });
    const result = await runIn(dir, ["backup", "shop"], { SHOP_DB_PASSWORD: "" });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /assets\.shop\.url: environment variable SHOP_DB_PASSWORD is not set/);
  });

  it("an unknown restore point id says which command lists them (exit 2)", async () => {
    const dir = project({ name: "lifeline_e2e_unused", url: "", drop: async () => undefined });
    for (const args of [
      ["drill", "shop", "--restore-point", "20260101T000000Z-abcdef"],
      ["restore", "shop", "--in-place", "--restore-point", "20260101T000000Z-abcdef"],
    ]) {
      const result = await runIn(dir, args);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr, /no restore point 20260101T000000Z-abcdef of shop/);
      // `status --json` shows only the newest and the newest verified one.
      assert.match(result.stderr, /fix: list them with `lifeline restore-points shop`/);
    }
  });

  it("an unknown asset lists the known ones (exit 2)", async () => {
    const dir = project({ name: "lifeline_e2e_unused", url: "", drop: async () => undefined });
    const result = await runIn(dir, ["drill", "nope"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /no asset named "nope"/);
    assert.match(result.stderr, /shop/);
  });
});
