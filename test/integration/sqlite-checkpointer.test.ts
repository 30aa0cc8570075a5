/**
 * The SQLite catalog's WAL checkpoints in a worker thread (lifeline serve): the process's own
 * connection never checkpoints inside a commit (which blocked every admission request for tens to
 * hundreds of milliseconds), and the log still stays bounded because the worker checkpoints it.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { openCatalog } from "../../src/catalog/index.js";
import { checkpointInBackground } from "../../src/catalog/sqlite-checkpointer.js";
import { tempDir } from "../support/pg.js";

const work = tempDir("lifeline-checkpointer-");
after(() => work.remove());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const walBytes = (file: string) => {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
};

/** 2,000 commits of 4 KiB (8 MB written), pausing now and then as a server between requests. */
async function write(db: Database.Database): Promise<number> {
  db.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)");
  const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
  const body = Buffer.alloc(4096, 7);
  let largest = 0;
  for (let i = 0; i < 2000; i++) {
    insert.run(body);
    if (i % 100 === 99) {
      largest = Math.max(largest, walBytes(db.name));
      await sleep(60);
    }
  }
  return Math.max(largest, walBytes(db.name));
}

function open(name: string): Database.Database {
  const db = new Database(path.join(work.dir, name));
  db.pragma("journal_mode = WAL");
  return db;
}

describe("SQLite checkpoints in the background", () => {
  it("the connection never checkpoints itself, yet the log stays bounded: the worker checkpoints it", async () => {
    const db = open("background.sqlite");
    const checkpointer = await checkpointInBackground(db, db.name, 50);
    try {
      assert.equal(db.pragma("wal_autocheckpoint", { simple: true }), 0, "no checkpoint inside a commit");
      const largest = await write(db);
      // Bounded, well below the 8 MB an unchecked log reaches (the control below): with the worker
      // scheduled late on a loaded machine (CI, two test files at once) it reached 3.9 MB.
      assert.ok(largest < 6_000_000, `the log grew to ${largest} bytes (8 MB written)`);
    } finally {
      await checkpointer.stop();
    }
    assert.equal(db.pragma("wal_autocheckpoint", { simple: true }), 1000, "SQLite's default once stopped");
    assert.equal((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 2000);
    db.close();
  });

  it("control: without the worker the same writes grow the log past that bound (what the bound detects)", async () => {
    const db = open("control.sqlite");
    db.pragma("wal_autocheckpoint = 0");
    const largest = await write(db);
    assert.ok(largest >= 8_000_000, `the log grew to ${largest} bytes`);
    db.close();
  });

  it("a catalog opened for a long-running process keeps every audit entry across close and reopen", async () => {
    const file = path.join(work.dir, "catalog.sqlite");
    const catalog = await openCatalog(file, { backgroundCheckpoints: true });
    for (let i = 0; i < 300; i++) {
      await catalog.appendAudit({
        at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
        kind: "admission",
        identity: "system:serviceaccount:ci:deployer",
        host: "here",
        asset: "shop",
        planId: null,
        data: { n: i, padding: "x".repeat(2000) },
      });
    }
    await catalog.close();
    const again = await openCatalog(file);
    try {
      assert.equal((await again.auditHead())?.seq, 300);
      assert.equal((await again.audit({ kind: "admission" })).length, 300);
    } finally {
      await again.close();
    }
  });
});
