import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { cli, type CliResult } from "../support/cli.js";
import { ADMIN_URL, createDatabase, query, tempDir, urlFor, type TestDatabase } from "../support/pg.js";

const PASSWORD = "standby-S3cret-Passw0rd";

interface StandbyDoc {
  standby: {
    asset: string;
    restorePointId: string;
    target: string;
    database: string;
    replaced: string | null;
    tables: number;
    rows: number;
    verified: boolean;
    unchanged: boolean;
  };
  dependents: { url: string; readOnly: boolean; snapshotTime: string; kubernetes: unknown };
}

interface StatusDoc {
  assets: {
    name: string;
    standbys:
      { target: string; restorePointId: string; ageSeconds: number | null; readOnly: boolean }[] | null;
    previousDatabases: unknown[];
    lastRestore: unknown;
  }[];
}

async function databasesLike(prefix: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    ADMIN_URL,
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
    [prefix],
  );
  return rows.map((r) => r.datname);
}

/**
 * Readers of the standby while it is refreshed: they connect by its name over and over and count
 * the products. They may be cut off or refused for the moment of the swap, but the name must always
 * resolve (never "database does not exist") and a reader that gets in never sees it empty.
 */
function readers(url: string): {
  stop(): Promise<{ reads: number; refused: number; counts: Set<number>; bad: string[] }>;
} {
  let running = true;
  let reads = 0;
  let refused = 0;
  const counts = new Set<number>();
  const bad: string[] = [];
  const loop = (async () => {
    while (running) {
      const client = new pg.Client({ connectionString: url });
      client.on("error", () => undefined);
      try {
        await client.connect();
        const rows = await client.query<{ n: string }>("SELECT count(*) AS n FROM products");
        counts.add(Number(rows.rows[0]?.n));
        reads++;
      } catch (error) {
        const code = (error as { code?: string }).code ?? "";
        const detail = (error as { detail?: string }).detail ?? "";
        const message = error instanceof Error ? error.message : String(error);
        // The moment of the swap: 57P01, terminated by it; 55000, not accepting connections during
        // it; 3D000 "It seems to have just been dropped or renamed": PostgreSQL's own recheck of a
        // connection that looked the name up just before the rename committed (it found the old
        // database, which by then had another name). Any other failure is not a swap's.
        const swapMoment =
          code === "57P01" ||
          code === "55000" ||
          (code === "3D000" && /just been dropped or renamed/.test(detail)) ||
          /terminat|Connection terminated/i.test(message);
        if (swapMoment) refused++;
        else {
          bad.push(`${code} ${message} ${detail}`);
        }
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { reads, refused, counts, bad };
    },
  };
}

describe("lifeline standby, run as a process", () => {
  const work = tempDir("lifeline-standby-e2e-");
  const outputs: string[] = [];
  const databases: TestDatabase[] = [];
  let source: TestDatabase;
  let standbyName: string;
  let standbyUrl: string;
  let busy: TestDatabase;
  const run = async (args: string[]): Promise<CliResult> => {
    const result = await cli(args, { cwd: work.dir, env: { SHOP_DB_PASSWORD: PASSWORD } });
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const ok = (r: CliResult) => assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const backupAndDrill = async (): Promise<string> => {
    const backup = await run(["backup", "shop", "--json"]);
    ok(backup);
    ok(await run(["drill", "shop"]));
    return (JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id;
  };
  const standbyUrlWith = (password: string) => standbyUrl.replace("//postgres@", `//postgres:${password}@`);
  const served = async () =>
    (await query<{ n: string }>(standbyUrl, "SELECT count(*) AS n FROM products"))[0]?.n;
  let rp1 = "";
  let rp2 = "";

  before(async () => {
    source = await createDatabase("lifeline_sb_e2e");
    databases.push(source);
    standbyName = `${source.name}_standby`;
    standbyUrl = urlFor(standbyName);
    await query(
      source.url,
      `CREATE TABLE products (id int PRIMARY KEY, name text NOT NULL);
       INSERT INTO products SELECT i, 'p' || i FROM generate_series(1, 500) i;`,
    );
    busy = await createDatabase("lifeline_sb_e2e_busy");
    databases.push(busy);
    await query(busy.url, "CREATE TABLE someone_elses (id int)");
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: postgres://postgres:\${SHOP_DB_PASSWORD}@127.0.0.1:5432/${source.name}\n    rpo: 6h\n`,
    );
  });

  after(async () => {
    try {
      for (const text of outputs) assert.ok(!text.includes(PASSWORD), text);
      const catalog = readFileSync(path.join(work.dir, ".lifeline", "catalog.sqlite"));
      assert.ok(!catalog.includes(Buffer.from(PASSWORD)), "the password is not in the catalog");
    } finally {
      await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${standbyName}" WITH (FORCE)`);
      for (const name of await databasesLike(standbyName)) {
        await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }
      for (const db of databases) await db.drop();
      work.remove();
    }
  });

  it("--help has examples; a missing asset is a usage error", async () => {
    const help = await run(["standby", "--help"]);
    ok(help);
    assert.match(help.stdout, /Examples:\n {2}lifeline standby shop --to/);
    assert.equal((await run(["standby"])).code, 2);
    assert.equal((await run(["standby", "shop", "--jobs", "zero", "--to", standbyUrl])).code, 2);
  });

  it("refuses without a verified restore point, and says to back up and drill", async () => {
    const none = await run(["standby", "shop", "--to", standbyUrl]);
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /no restore point/);
    assert.match(none.stderr, /lifeline backup shop && lifeline drill shop/);
    // A failed run leaves the folder as it was: no empty catalog made on the way.
    assert.equal(existsSync(path.join(work.dir, ".lifeline")), false, "nothing created");
    const noRestore = await run(["restore", "shop", "--to", standbyUrl]);
    assert.equal(noRestore.code, 1, noRestore.stderr);
    assert.equal(existsSync(path.join(work.dir, ".lifeline")), false, "nothing created by restore");
    ok(await run(["backup", "shop"]));
    const unverified = await run(["standby", "shop", "--to", standbyUrl]);
    // As restore: no verified restore point is a precondition (exit 2); none at all, a runtime error.
    assert.equal(unverified.code, 2, unverified.stderr);
    assert.match(unverified.stderr, /no verified restore point/);
    assert.match(unverified.stderr, /lifeline drill shop/);
    assert.deepEqual(await databasesLike(standbyName), []);
  });

  it("--refresh without a standby says how to create one", async () => {
    const none = await run(["standby", "shop", "--refresh"]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /has no standby to refresh/);
    assert.match(none.stderr, /lifeline standby shop --to/);
  });

  it("creates a read-only standby of the newest verified restore point: a write fails with 25006", async () => {
    rp1 = await backupAndDrill();
    // The password as a ${VAR} reference lifeline interpolates (it is never on the command line).
    const created = await run(["standby", "shop", "--to", standbyUrlWith("${SHOP_DB_PASSWORD}"), "--json"]);
    ok(created);
    const doc = JSON.parse(created.stdout) as StandbyDoc;
    assert.equal(doc.standby.restorePointId, rp1);
    assert.equal(doc.standby.verified, true);
    assert.equal(doc.standby.unchanged, false);
    assert.equal(doc.standby.replaced, null);
    assert.equal(doc.standby.database, standbyName);
    assert.equal(doc.standby.rows, 500);
    // Shown as restore shows its target: the password masked, never printed.
    assert.equal(doc.dependents.url, standbyUrlWith("*****"));
    assert.ok(!doc.dependents.url.includes(":" + PASSWORD));
    assert.equal(doc.dependents.readOnly, true);
    assert.equal(doc.dependents.kubernetes, null);
    assert.equal(await served(), "500");
    await assert.rejects(query(standbyUrl, "INSERT INTO products VALUES (100000, 'x')"), (error: unknown) => {
      assert.equal((error as { code?: string }).code, "25006");
      return true;
    });
  });

  it("status shows the standby: the restore point it serves, its age, where, read-only", async () => {
    const text = await run(["status"]);
    ok(text);
    assert.match(
      text.stdout,
      new RegExp(`shop: standby \\S*${standbyName} \\(read-only\\) serves ${rp1}, snapshot \\S+ ago`),
    );
    const json = await run(["status", "--json"]);
    ok(json);
    const doc = JSON.parse(json.stdout) as StatusDoc;
    const [shop] = doc.assets;
    assert.equal(shop?.standbys?.length, 1);
    assert.equal(shop?.standbys[0]?.restorePointId, rp1);
    assert.equal(shop?.standbys[0]?.readOnly, true);
    assert.ok((shop?.standbys[0]?.ageSeconds ?? -1) >= 0);
    assert.ok(shop?.standbys[0]?.target.endsWith(`/${standbyName}`));
    assert.deepEqual(shop?.previousDatabases, []);
    assert.equal(shop?.lastRestore, null);
  });

  it("--refresh with nothing newer leaves it unchanged (exit 0) and says so", async () => {
    const same = await run(["standby", "shop", "--refresh"]);
    ok(same);
    assert.match(same.stdout, /unchanged: it already serves restore point/);
    const doc = JSON.parse(
      (await run(["standby", "shop", "--refresh", "--to", standbyUrlWith(PASSWORD), "--json"])).stdout,
    ) as StandbyDoc;
    assert.equal(doc.standby.unchanged, true);
    assert.equal(doc.standby.restorePointId, rp1);
  });

  it("refuses a target that holds someone's data, and the asset's own database", async () => {
    const full = await run(["standby", "shop", "--to", busy.url]);
    assert.equal(full.code, 2, full.stderr);
    assert.match(full.stderr, /never replaces someone's data/);
    assert.deepEqual(await query(busy.url, "SELECT * FROM someone_elses"), []);
    const own = await run(["standby", "shop", "--to", source.url]);
    assert.equal(own.code, 2, own.stderr);
    assert.match(own.stderr, /own database/);
  });

  it("--refresh serves a newer verified restore point: the old one is gone, readers always found the name", async () => {
    await query(source.url, "INSERT INTO products VALUES (501, 'new')");
    rp2 = await backupAndDrill();
    const watching = readers(standbyUrl);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refreshed = await run(["standby", "shop", "--refresh", "--json"]);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const seen = await watching.stop();
    ok(refreshed);
    const doc = JSON.parse(refreshed.stdout) as StandbyDoc;
    assert.equal(doc.standby.restorePointId, rp2);
    assert.equal(doc.standby.replaced, rp1);
    assert.equal(doc.standby.unchanged, false);
    assert.equal(await served(), "501");
    assert.deepEqual(seen.bad, [], "the standby's name always resolved and its table was always there");
    assert.ok(seen.reads > 0);
    for (const n of seen.counts) assert.ok(n === 500 || n === 501, `a reader saw ${n} products`);
    // Only the standby is left: no previous copy, no staging database.
    assert.deepEqual(await databasesLike(standbyName), [standbyName]);
    await assert.rejects(query(standbyUrl, "DELETE FROM products"), /read-only transaction/);
    const status = JSON.parse((await run(["status", "--json"])).stdout) as StatusDoc;
    assert.equal(status.assets[0]?.standbys?.[0]?.restorePointId, rp2);
  });

  it("a refresh from a corrupt newer restore point exits 4 and the previous standby keeps serving", async () => {
    await query(source.url, "INSERT INTO products VALUES (502, 'newer')");
    const rp3 = await backupAndDrill();
    const dump = path.join(work.dir, ".lifeline", "repository", "restore-points", "shop", rp3, "dump");
    const data = readdirSync(dump).find((f) => f !== "toc.dat");
    assert.ok(data, "the restore point has a data file");
    const file = path.join(dump, data);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    const failed = await run(["standby", "shop", "--refresh"]);
    assert.equal(failed.code, 4, failed.stderr);
    assert.match(
      failed.stderr,
      new RegExp(
        `restore point ${rp3} of shop is corrupt: nothing was restored; the standby at \\S+ still serves ${rp2}`,
      ),
    );
    assert.equal(await served(), "501");
    assert.deepEqual(await databasesLike(standbyName), [standbyName]);
    const status = JSON.parse((await run(["status", "--json"])).stdout) as StatusDoc;
    assert.equal(status.assets[0]?.standbys?.[0]?.restorePointId, rp2);
    const audit = await run(["audit", "--json"]);
    ok(audit);
    const entries = (JSON.parse(audit.stdout) as { entries: { kind: string; data: { result: string } }[] })
      .entries;
    assert.deepEqual(
      entries.filter((e) => e.kind === "standby").map((e) => e.data.result),
      // created; refused (someone's data); refreshed; corrupt
      ["succeeded", "failed", "succeeded", "failed"],
    );
  });
  it("status still works when the catalog cannot be read: it says standbys are unknown", async () => {
    writeFileSync(path.join(work.dir, "broken.sqlite"), "this is not an SQLite file\n".repeat(100));
    writeFileSync(
      path.join(work.dir, "lifeline-broken.yaml"),
      `assets:\n  shop:\n    url: postgres://postgres:\${SHOP_DB_PASSWORD}@127.0.0.1:5432/${source.name}\n    rpo: 6h\ncatalog: broken.sqlite\n`,
    );
    const text = await run(["status", "-c", "lifeline-broken.yaml"]);
    ok(text);
    assert.match(text.stdout, /^shop +production/m);
    assert.match(text.stdout, /standbys and previous databases: unknown \(the catalog could not be read\)/);
    assert.match(text.stderr, /could not be read/);
    const json = await run(["status", "-c", "lifeline-broken.yaml", "--json"]);
    ok(json);
    const doc = JSON.parse(json.stdout) as StatusDoc;
    assert.equal(doc.assets[0]?.standbys, null);
    assert.ok(doc.assets[0]?.name === "shop");
  });
});
