/**
 * The Catalog contract (catalog.contract.ts) run against every backend: an SQLite file and the real
 * PostgreSQL on this machine; then what is particular to each.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { MIGRATIONS, openCatalog } from "../../src/catalog/index.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";
import { catalogContract, rejectsWith, verified } from "./catalog.contract.js";
import { REPO, inRepo } from "../support/repo.js";

// --- SQLite ------------------------------------------------------------------------------------

const catalogModule = pathToFileURL(inRepo("src/catalog/index.ts")).href;

for (const [name, options] of [
  ["SQLite", {}],
  // lifeline serve's: checkpoints in a worker, commits synced on the thread pool.
  ["SQLite, long-running", { backgroundCheckpoints: true }],
] as const) {
  catalogContract(name, async () => {
    const dir = tempDir("lifeline-catalog-");
    const file = path.join(dir.dir, "nested", "dir", "catalog.db");
    const catalog = await openCatalog(file, options);
    return {
      catalog,
      reopen: () => openCatalog(file, options),
      execute: async (statement) => {
        const db = new Database(file);
        try {
          const prepared = db.prepare(statement);
          if (prepared.reader) return prepared.all() as Record<string, unknown>[];
          prepared.run();
          return [];
        } finally {
          db.close();
        }
      },
      cleanup: async () => {
        await catalog.close();
        dir.remove();
      },
    };
  });
}

const PER_PROCESS = 100;

describe("SQLite catalog specifics", () => {
  let dir: ReturnType<typeof tempDir>;
  before(() => {
    dir = tempDir("lifeline-catalog-");
  });
  after(() => dir.remove());

  it("creates its directories, uses WAL and a busy timeout", async () => {
    const file = path.join(dir.dir, "a", "b", "catalog.db");
    const catalog = await openCatalog(file);
    try {
      assert.ok(existsSync(file));
      assert.equal(catalog.location, file);
      const db = new Database(file);
      try {
        assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
        const versions = db
          .prepare("SELECT version FROM lifeline_catalog_migrations ORDER BY version")
          .pluck()
          .all();
        assert.deepEqual(
          versions,
          MIGRATIONS.map((m) => m.version),
        );
      } finally {
        db.close();
      }
    } finally {
      await catalog.close();
    }
  });

  it("processes appending at once make one chain (BEGIN IMMEDIATE, busy timeout)", async () => {
    const file = path.join(dir.dir, "processes", "catalog.db");
    await (await openCatalog(file)).close();
    // Each process opens the catalog, says it is ready and waits for the go (a line on its stdin),
    // then appends as fast as it can and reports when it began and when its last append committed.
    // The go is given once all three are ready, so a slow start on a loaded machine cannot keep them
    // apart (a fixed start time could pass before a process had even loaded).
    const script = `
      const { openCatalog } = await import(${JSON.stringify(catalogModule)});
      const catalog = await openCatalog(${JSON.stringify(file)});
      process.stdout.write("ready\\n");
      await new Promise((resolve) => process.stdin.once("data", resolve));
      process.stdin.pause();
      const began = Date.now();
      for (let i = 0; i < ${PER_PROCESS}; i++) {
        await catalog.appendAudit({
          at: new Date().toISOString(), kind: "notify-failed", identity: "p" + process.pid, host: "h",
          asset: null, planId: null, data: { i },
        });
      }
      const finished = Date.now();
      await catalog.close();
      process.stdout.write(JSON.stringify({ began, finished }));
    `;
    const children = [0, 1, 2].map(() => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        cwd: REPO,
        stdio: ["pipe", "pipe", "inherit"],
      });
      let stdout = "";
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.startsWith("ready\n")) resolve();
        });
        child.once("exit", (code) => reject(new Error(`a writer exited (${code}) before it was ready`)));
      });
      const done = new Promise<{ began: number; finished: number }>((resolve, reject) => {
        child.once("exit", (code) => {
          if (code !== 0) reject(new Error(`a writer exited with ${code}: ${stdout}`));
          else resolve(JSON.parse(stdout.slice("ready\n".length)) as { began: number; finished: number });
        });
      });
      return { child, ready, done };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end("go\n");
    const times = await Promise.all(children.map((c) => c.done));
    // They really wrote at the same time (every one began before any finished): otherwise this test
    // would prove nothing about locking. SQLite's busy handler is not fair, so the entries
    // themselves may well come in three runs, one per process.
    const lastBegan = Math.max(...times.map((t) => t.began));
    const firstFinished = Math.min(...times.map((t) => t.finished));
    assert.ok(lastBegan < firstFinished, `the processes did not overlap: ${JSON.stringify(times)}`);
    const catalog = await openCatalog(file);
    try {
      const entries = await catalog.audit();
      assert.equal(new Set(entries.map((e) => e.identity)).size, 3);
      assert.deepEqual(await verified(catalog), { ok: true, entries: 3 * PER_PROCESS, breaks: [] });
    } finally {
      await catalog.close();
    }
  });

  it("appends made at once share one commit (group commit: the WAL grows by one transaction, not one each)", async () => {
    const file = path.join(dir.dir, "group", "catalog.db");
    const catalog = await openCatalog(file);
    const append = (i: number) =>
      catalog.appendAudit({
        at: new Date().toISOString(),
        kind: "notify-failed",
        identity: "a",
        host: "h",
        asset: null,
        planId: null,
        data: { i },
      });
    const wal = () => statSync(`${file}-wal`).size;
    try {
      await append(0);
      const start = wal();
      for (let i = 1; i <= 20; i++) await append(i);
      const oneByOne = wal() - start;
      const before = wal();
      await Promise.all(Array.from({ length: 20 }, (_, i) => append(100 + i)));
      const together = wal() - before;
      // Each commit appends the pages it changed (the audit table, its indexes, the head row).
      assert.ok(
        together * 4 < oneByOne,
        `20 appends at once grew the WAL by ${together} bytes, one by one ${oneByOne}`,
      );
      assert.equal((await catalog.audit()).length, 41);
    } finally {
      await catalog.close();
    }
  });

  it("a path that cannot be created is named, with the fix", async () => {
    const blocker = path.join(dir.dir, "a-file");
    writeFileSync(blocker, "not a directory");
    const file = path.join(blocker, "catalog.db");
    const error = await rejectsWith(openCatalog(file), "CATALOG_UNAVAILABLE");
    assert.equal(error.kind, "runtime");
    assert.ok(error.message.includes(file), error.message);
    assert.match(error.fix ?? "", /writable path/);
  });

  it("a directory is not taken for the catalog file", async () => {
    const error = await rejectsWith(openCatalog(dir.dir), "CATALOG_UNAVAILABLE");
    assert.ok(error.message.includes(dir.dir));
    assert.ok(error.fix?.includes(path.join(dir.dir, "catalog.db")), error.fix);
  });

  it("a file that is not an SQLite database is refused, not overwritten", async () => {
    const file = path.join(dir.dir, "notes.txt");
    const text = "these are my notes, not a database\n".repeat(200);
    writeFileSync(file, text);
    const error = await rejectsWith(openCatalog(file), "CATALOG_NOT_SQLITE");
    assert.ok(error.message.includes(file));
    assert.equal(readFileSync(file, "utf8"), text);
  });
});

// --- PostgreSQL --------------------------------------------------------------------------------

describe("PostgreSQL", () => {
  let database: TestDatabase;
  before(async () => {
    database = await createDatabase("lifeline_catalog");
  });
  after(async () => {
    await database?.drop();
  });

  catalogContract("PostgreSQL", async () => {
    const catalog = await openCatalog(database.url);
    return {
      catalog,
      reopen: () => openCatalog(database.url),
      execute: (statement) => query(database.url, statement),
      cleanup: async () => {
        await catalog.close();
        // Every test starts from an empty database: drop whatever lifeline (or the test) created.
        const tables = await query<{ name: string }>(
          database.url,
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'lifeline\\_%'",
        );
        for (const { name } of tables) await query(database.url, `DROP TABLE "${name}"`);
      },
    };
  });

  describe("PostgreSQL catalog specifics", () => {
    it("keeps its tables in the URL's database, prefixed lifeline_, and hides the password in its location", async () => {
      const url = new URL(database.url);
      url.password = "not-needed-secret";
      const catalog = await openCatalog(url.toString());
      try {
        assert.ok(!catalog.location.includes("not-needed-secret"), catalog.location);
        assert.ok(catalog.location.includes(database.name));
        const tables = await query<{ name: string }>(
          database.url,
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
        );
        assert.deepEqual(
          tables.map((t) => t.name),
          [
            "lifeline_approvals",
            "lifeline_audit",
            "lifeline_audit_alerts",
            "lifeline_audit_destroys",
            "lifeline_audit_head",
            "lifeline_break_glass",
            "lifeline_catalog_migrations",
            "lifeline_executions",
            "lifeline_plans",
          ],
        );
      } finally {
        await catalog.close();
      }
    });

    it("an unreachable server is a runtime error naming the location without the password", async () => {
      const location = "postgres://lifeline:s3cret-catalog-pw@127.0.0.1:1/catalog";
      const error = await rejectsWith(
        openCatalog(location, { connectTimeoutMs: 2000 }),
        "CATALOG_UNREACHABLE",
      );
      assert.equal(error.kind, "runtime");
      assert.ok(error.message.includes("127.0.0.1:1/catalog"), error.message);
      for (const text of [error.message, error.fix ?? "", ...error.details]) {
        assert.ok(!text.includes("s3cret-catalog-pw"), text);
      }
    });

    it("a database that does not exist is a runtime error", async () => {
      const url = new URL(database.url);
      url.pathname = "/lifeline_no_such_database";
      const error = await rejectsWith(openCatalog(url.toString()), "CATALOG_UNREACHABLE");
      assert.match(error.message, /lifeline_no_such_database/);
    });
  });
});
