import assert from "node:assert/strict";
import { readFile, readdir, rm, stat, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { embeddedScratch, type EmbeddedScratchInstance } from "../../src/scratch/embedded-postgres/index.js";
import { query, tempDir } from "../support/pg.js";

const signal = new AbortController().signal;

async function templates(cacheDir: string): Promise<string[]> {
  return (await readdir(cacheDir).catch(() => [] as string[])).sort();
}

async function withInstance<T>(
  cacheDir: string,
  options: { encoding?: string; database?: string } = {},
  fn: (instance: EmbeddedScratchInstance) => Promise<T>,
): Promise<T> {
  const instance = await embeddedScratch({ cacheDir }).provision({
    minMajor: 0,
    encoding: options.encoding ?? "UTF8",
    signal,
    ...(options.database ? { database: options.database } : {}),
  });
  try {
    return await fn(instance);
  } finally {
    await instance.teardown();
  }
}

describe("embedded scratch from a cached template cluster", () => {
  let cache: ReturnType<typeof tempDir>;
  let cacheDir: string;
  before(() => {
    cache = tempDir();
    cacheDir = path.join(cache.dir, "scratch-templates");
  });
  after(() => cache.remove());

  it("runs initdb for the first instance only; later ones copy the template", async () => {
    const first = await withInstance(cacheDir, {}, async (instance) => {
      const rows = await query<{ db: string; encoding: string; dir: string }>(
        instance.target.url,
        "SELECT current_database() AS db, pg_encoding_to_char(encoding) AS encoding, current_setting('data_directory') AS dir FROM pg_database WHERE datname = current_database()",
      );
      return { template: instance.template, url: instance.target.url, ...rows[0] };
    });
    assert.equal(first.template, "built");
    assert.equal(first.db, "drill");
    assert.equal(first.encoding, "UTF8");
    assert.equal((await templates(cacheDir)).length, 1);

    const second = await withInstance(cacheDir, {}, async (instance) => {
      const rows = await query<{ dir: string; fsync: string }>(
        instance.target.url,
        "SELECT current_setting('data_directory') AS dir, current_setting('fsync') AS fsync",
      );
      const dir = rows[0]?.dir ?? "";
      const info = await stat(dir);
      // A data directory must stay private to the server user after the copy.
      assert.equal(info.mode & 0o777, 0o700);
      const serverUid = process.getuid?.() === 0 ? info.uid : process.getuid?.();
      assert.equal(info.uid, serverUid);
      assert.equal(rows[0]?.fsync, "off");
      return { template: instance.template, url: instance.target.url, dir };
    });
    assert.equal(second.template, "cached");
    // Every instance gets its own password and its own directory, removed at teardown.
    assert.notEqual(new URL(second.url).password, new URL(first.url).password);
    assert.notEqual(second.dir, first.dir);
    await assert.rejects(stat(second.dir));
    assert.deepEqual(
      (await templates(cacheDir)).filter((n) => n.startsWith(".")),
      [],
      "no temporary build left in the cache",
    );
  });

  it("detects a damaged template, never uses it, and rebuilds it", async () => {
    const [name] = await templates(cacheDir);
    assert.ok(name);
    await truncate(path.join(cacheDir, name, "data", "global", "pg_control"), 0);
    const rebuilt = await withInstance(cacheDir, {}, async (instance) => {
      await query(instance.target.url, "SELECT 1");
      return instance.template;
    });
    assert.equal(rebuilt, "built");
    assert.equal(await withInstance(cacheDir, {}, async (i) => i.template), "cached");

    // A file missing, and a template without its marker (as if a build had been cut short).
    await rm(path.join(cacheDir, name, "data", "PG_VERSION"));
    assert.equal(await withInstance(cacheDir, {}, async (i) => i.template), "built");
    await rm(path.join(cacheDir, name, "template.json"));
    assert.equal(await withInstance(cacheDir, {}, async (i) => i.template), "built");
    await writeFile(path.join(cacheDir, name, "data", "unexpected"), "x");
    assert.equal(await withInstance(cacheDir, {}, async (i) => i.template), "built");
    assert.equal(await withInstance(cacheDir, {}, async (i) => i.template), "cached");
    assert.deepEqual(await templates(cacheDir), [name]);
  });

  it("keeps one template per encoding, locale and database", async () => {
    const latin1 = await withInstance(cacheDir, { encoding: "LATIN1" }, async (instance) => {
      const rows = await query<{ encoding: string }>(
        instance.target.url,
        "SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()",
      );
      return { template: instance.template, encoding: rows[0]?.encoding };
    });
    assert.deepEqual(latin1, { template: "built", encoding: "LATIN1" });
    const shop = await withInstance(cacheDir, { database: "shop" }, async (instance) => {
      const rows = await query<{ db: string }>(instance.target.url, "SELECT current_database() AS db");
      return { template: instance.template, db: rows[0]?.db };
    });
    assert.deepEqual(shop, { template: "built", db: "shop" });
    assert.equal((await templates(cacheDir)).length, 3);
    assert.equal(await withInstance(cacheDir, { encoding: "LATIN1" }, async (i) => i.template), "cached");
  });

  it("concurrent first drills agree on one template", async () => {
    const fresh = path.join(cache.dir, "concurrent");
    const results = await Promise.all(
      [0, 1, 2].map(() =>
        withInstance(fresh, {}, async (instance) => {
          await query(instance.target.url, "CREATE TABLE t AS SELECT 1 AS x");
          return instance.template;
        }),
      ),
    );
    assert.ok(results.includes("built"));
    assert.deepEqual((await templates(fresh)).length, 1);
    assert.equal(await withInstance(fresh, {}, async (i) => i.template), "cached");
    // Tables created in one instance never reach the template.
    await withInstance(fresh, {}, async (instance) => {
      const rows = await query(instance.target.url, "SELECT 1 FROM pg_class WHERE relname = 't'");
      assert.equal(rows.length, 0);
    });
  });

  it("leaves no scratch directory of this process behind", async () => {
    const left = (await readdir(os.tmpdir())).filter((n) => n.startsWith("lifeline-scratch-"));
    for (const name of left) {
      const owner = await readFile(path.join(os.tmpdir(), name, "owner.pid"), "utf8").catch(() => "");
      assert.notEqual(owner, String(process.pid), `scratch ${name} of this process was not removed`);
    }
  });
});
