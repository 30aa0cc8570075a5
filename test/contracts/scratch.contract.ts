/**
 * The contract of the Scratch port, said once: scratch.test.ts runs it against every adapter (the
 * embedded PostgreSQL and a configured scratch server). Each adapter only supplies a Scratch and a
 * way to see what of its scratches is left outside the port (directories, processes, databases).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { isLifelineError } from "../../src/core/errors.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { engineFor } from "../../src/engines/index.js";
import { silentProgress } from "../../src/ports/engine.js";
import type { Scratch, ScratchInstance } from "../../src/ports/scratch.js";
import { artifactsOf } from "../support/repository.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/** One adapter's scratch, and what only a test needs to see around it. */
export interface ScratchSubject {
  scratch: Scratch;
  /**
   * What of this adapter's scratches still exists outside the port (a directory, a server process,
   * a database), one line each: empty when every scratch provisioned so far was torn down.
   */
  leftovers(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const signal = new AbortController().signal;

/** Host, port and database a target URL points at. */
function place(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || "5432"}/${decodeURIComponent(u.pathname.slice(1))}`;
}

async function reachable(url: string): Promise<boolean> {
  return query(url, "SELECT 1").then(
    () => true,
    () => false,
  );
}

export function scratchContract(name: string, open: () => Promise<ScratchSubject>): void {
  describe(`Scratch contract: ${name}`, () => {
    let subject: ScratchSubject;
    let source: TestDatabase;
    let repo: ReturnType<typeof tempDir>;
    let manifest: Manifest;
    const engine = engineFor("postgres");

    before(async () => {
      source = await createDatabase("lifeline_scratch_source");
      await query(
        source.url,
        "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i",
      );
      repo = tempDir();
      manifest = await backup(testContext(repo.dir), testAsset("app", source.url));
      // Last: an adapter's subject may redirect where temporary files go.
      subject = await open();
    });
    after(async () => {
      await subject?.cleanup();
      await source?.drop();
      repo?.remove();
    });

    /** Provisions, runs fn, tears down; then nothing of the scratch may be left. */
    async function withScratch<T>(
      options: Partial<Parameters<Scratch["provision"]>[0]>,
      fn: (instance: ScratchInstance) => Promise<T>,
    ): Promise<T> {
      const instance = await subject.scratch.provision({ minMajor: 0, encoding: "UTF8", signal, ...options });
      let result: T;
      try {
        result = await fn(instance);
      } catch (error) {
        // The test's own failure is the one to report, even when teardown fails too.
        await instance.teardown().catch(() => undefined);
        throw error;
      }
      await instance.teardown();
      assert.deepEqual(await subject.leftovers(), [], "teardown left nothing");
      return result;
    }

    it("a restore point restores into it", async () => {
      await withScratch(
        {
          minMajor: engine.scratchMajorFor(manifest),
          encoding: manifest.source.encoding,
          locale: manifest.source.locale,
        },
        async (instance) => {
          assert.equal(instance.kind, subject.scratch.kind);
          assert.match(instance.serverVersion, /^\d+/);
          await engine.restore(instance.target, {
            directory: artifactsOf(repo.dir, manifest),
            manifest,
            jobs: 2,
            signal,
            progress: silentProgress,
          });
          const [row] = await query<{ n: string; sum: string }>(
            instance.target.url,
            "SELECT count(*) AS n, sum(length(v)) AS sum FROM t",
          );
          assert.deepEqual(row, { n: "100", sum: "292" });
        },
      );
    });

    it("is an empty database in the asked encoding, where lifeline may create, write and drop", async () => {
      await withScratch({ encoding: "LATIN1" }, async (instance) => {
        assert.ok(!instance.target.display.includes(new URL(instance.target.url).password || "\0"));
        const [db] = await query<{ encoding: string }>(
          instance.target.url,
          "SELECT pg_encoding_to_char(encoding) AS encoding FROM pg_database WHERE datname = current_database()",
        );
        assert.equal(db?.encoding, "LATIN1");
        const tables = await query(
          instance.target.url,
          "SELECT 1 FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
        );
        assert.equal(tables.length, 0);
        await query(instance.target.url, "CREATE TABLE x (id int); INSERT INTO x VALUES (1); DROP TABLE x");
      });
    });

    it("teardown leaves nothing, the target is gone, and a second teardown is harmless", async () => {
      const instance = await subject.scratch.provision({ minMajor: 0, encoding: "UTF8", signal });
      await query(instance.target.url, "CREATE TABLE x AS SELECT generate_series(1, 1000) AS id");
      await instance.teardown();
      assert.deepEqual(await subject.leftovers(), []);
      assert.equal(await reachable(instance.target.url), false, "the target answers after teardown");
      await instance.teardown();
    });

    it("a server older than the restore point's is refused (SCRATCH_TOO_OLD), leaving nothing", async () => {
      await assert.rejects(
        subject.scratch.provision({ minMajor: 99, encoding: "UTF8", signal }),
        (error: unknown) => isLifelineError(error) && error.code === "SCRATCH_TOO_OLD" && !!error.fix,
      );
      assert.deepEqual(await subject.leftovers(), []);
    });

    it("an abort, before or during provisioning, leaves nothing once what was provisioned is torn down", async () => {
      for (const delay of [-1, 0, 20, 200]) {
        const controller = new AbortController();
        if (delay < 0) controller.abort();
        else setTimeout(() => controller.abort(), delay);
        const instance = await subject.scratch
          .provision({ minMajor: 0, encoding: "UTF8", signal: controller.signal })
          .catch((error: unknown) => {
            assert.ok(isLifelineError(error), String(error));
            assert.equal(error.code, "INTERRUPTED", `${error.code}: ${error.message}`);
            return undefined;
          });
        // An adapter may finish a provision the abort came too late for: its teardown still cleans up.
        await instance?.teardown();
        assert.deepEqual(await subject.leftovers(), [], `abort after ${delay} ms`);
      }
    });

    it("teardown after the signal aborted still removes everything", async () => {
      const controller = new AbortController();
      const instance = await subject.scratch.provision({
        minMajor: 0,
        encoding: "UTF8",
        signal: controller.signal,
      });
      await query(instance.target.url, "CREATE TABLE x (id int)");
      controller.abort();
      await instance.teardown();
      assert.deepEqual(await subject.leftovers(), []);
      assert.equal(await reachable(instance.target.url), false);
    });

    it("two scratches at once are isolated from each other", async () => {
      const [a, b] = await Promise.all(
        [0, 1].map(() =>
          subject.scratch.provision({ minMajor: 0, encoding: "UTF8", signal, database: "drill" }),
        ),
      );
      assert.ok(a && b);
      try {
        assert.notEqual(place(a.target.url), place(b.target.url));
        await query(a.target.url, "CREATE TABLE only_in_a AS SELECT 1 AS x");
        const seen = await query(b.target.url, "SELECT 1 FROM pg_class WHERE relname = 'only_in_a'");
        assert.equal(seen.length, 0, "a table of one scratch is visible in the other");
        await a.teardown();
        assert.deepEqual(
          await query(b.target.url, "SELECT 1 AS one"),
          [{ one: 1 }],
          "the other one survives",
        );
      } finally {
        await a.teardown();
        await b.teardown();
      }
      assert.deepEqual(await subject.leftovers(), []);
    });

    it("is never the source, even when asked for the source's database name", async () => {
      await withScratch({ database: source.name }, async (instance) => {
        assert.notEqual(place(instance.target.url), place(source.url));
        await query(instance.target.url, "CREATE TABLE scratch_only (id int)");
        const leaked = await query(source.url, "SELECT 1 FROM pg_class WHERE relname = 'scratch_only'");
        assert.equal(leaked.length, 0, "the scratch wrote into the source");
      });
      const [row] = await query<{ n: string }>(source.url, "SELECT count(*) AS n FROM t");
      assert.equal(row?.n, "100", "the source is untouched by teardown");
    });
  });
}
