/**
 * A long-running process's SQLite catalog syncs its commits off the event loop (sqlite-wal-sync.ts):
 * the connection commits with synchronous = NORMAL and each commit waits for an fdatasync of the
 * WAL on libuv's thread pool. Checked with strace: while audit entries are appended, the main
 * thread makes no fsync at all and another thread syncs the WAL; without the option (a CLI
 * process) the main thread syncs every commit itself.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { coalescedSync, deferredSync, fileSyncer, walSyncFor } from "../../src/catalog/sqlite-wal-sync.js";
import { tempDir } from "../support/pg.js";
import { inRepo } from "../support/repo.js";

const work = tempDir("lifeline-wal-sync-");
after(() => (process.env.KEEP ? undefined : work.remove()));

function deferred() {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** An admission audit entry numbered n. */
const input = (n: number) => ({
  at: new Date().toISOString(),
  kind: "admission" as const,
  identity: "alice",
  host: "h",
  asset: null,
  planId: null,
  data: { n },
});

describe("durable commits off the event loop: coalescing", () => {
  it("a call waits for a sync that started after it; one sync serves every call made before it", async () => {
    const syncs: ReturnType<typeof deferred>[] = [];
    const durable = coalescedSync(() => {
      const d = deferred();
      syncs.push(d);
      return d.promise;
    });
    const settled: string[] = [];
    const first = durable().then(() => settled.push("first"));
    await tick();
    assert.equal(syncs.length, 1);
    // Committed while the first sync runs: that sync may have started before this commit.
    const second = durable().then(() => settled.push("second"));
    const third = durable().then(() => settled.push("third"));
    await tick();
    assert.equal(syncs.length, 1, "no second sync while one runs");
    syncs[0]!.resolve();
    await first;
    await tick();
    assert.deepEqual(settled, ["first"], "the later commits wait for a sync that started after them");
    assert.equal(syncs.length, 2, "one more sync, for both of them");
    syncs[1]!.resolve();
    await Promise.all([second, third]);
    assert.deepEqual(settled, ["first", "second", "third"]);
    assert.equal(syncs.length, 2);
  });

  it("a failed sync fails the commits it covered, not the ones after it", async () => {
    const syncs: ReturnType<typeof deferred>[] = [];
    const durable = coalescedSync(() => {
      const d = deferred();
      syncs.push(d);
      return d.promise;
    });
    const first = durable();
    await tick();
    const second = durable();
    await tick();
    syncs[0]!.reject(new Error("EIO"));
    await assert.rejects(first, /EIO/);
    await tick();
    assert.equal(syncs.length, 2, "the later commit gets a sync of its own");
    syncs[1]!.resolve();
    await second;
  });
});

describe("durable commits off the event loop: the file", () => {
  it("a file replaced or deleted at the path fails that sync and every later one (SQLite still writes the old one)", async () => {
    const file = path.join(work.dir, "log");
    writeFileSync(file, "one");
    const sync = fileSyncer(file);
    try {
      await sync();
      writeFileSync(`${file}.new`, "two");
      renameSync(`${file}.new`, file);
      await assert.rejects(
        sync(),
        /was deleted or replaced while lifeline had the catalog open.*restart lifeline serve/,
      );
      await assert.rejects(sync(), /was deleted or replaced/, "and every later one");
    } finally {
      await sync.close();
    }
    const deleted = path.join(work.dir, "deleted-log");
    writeFileSync(deleted, "one");
    const other = fileSyncer(deleted);
    try {
      await other();
      rmSync(deleted);
      await assert.rejects(other(), /was deleted or replaced/);
    } finally {
      await other.close();
    }
  });

  it("turns a WAL database to synchronous NORMAL; leaves any other at FULL", () => {
    const wal = new Database(path.join(work.dir, "wal.sqlite"));
    wal.pragma("journal_mode = WAL");
    const sync = walSyncFor(wal, wal.name);
    assert.ok(sync);
    assert.equal(wal.pragma("synchronous", { simple: true }), 1);
    wal.close();
    const rollback = new Database(path.join(work.dir, "rollback.sqlite"));
    assert.equal(walSyncFor(rollback, rollback.name), null);
    assert.equal(rollback.pragma("synchronous", { simple: true }), 2);
    rollback.close();
  });
});

describe("durable commits off the event loop: failures and paths", () => {
  it("a failed sync fails every later commit too: no falling back to SQLite's own syncing, never reported on disk without a sync", async () => {
    const file = path.join(work.dir, "failing-sync.sqlite");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE t (x)");
    const sync = walSyncFor(db, file)!;
    try {
      await sync.durable();
      renameSync(`${file}-wal`, `${file}-wal.away`);
      await assert.rejects(sync.durable(), /could not be synced/);
      renameSync(`${file}-wal.away`, `${file}-wal`);
      db.exec("INSERT INTO t VALUES (1)");
      await assert.rejects(sync.durable(), /could not be synced/, "not reported on disk without a sync");
      assert.equal(db.pragma("synchronous", { simple: true }), 1);
    } finally {
      await sync.close();
      db.close();
    }
  });

  it("a catalog deleted under lifeline serve: every later append that waits for the disk fails (the webhook denies), none is reported recorded", async () => {
    const { openCatalog } = await import("../../src/catalog/index.js");
    const file = path.join(work.dir, "deleted-catalog.sqlite");
    const catalog = await openCatalog(file, { backgroundCheckpoints: true });
    try {
      await catalog.appendAudit(input(1));
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
      for (let n = 2; n <= 4; n++) {
        await assert.rejects(catalog.appendAudit(input(n)), /deleted or replaced.*restart lifeline serve/s);
      }
    } finally {
      await catalog.close();
    }
  });

  it("a catalog opened through a symlink syncs the log beside the real file", async () => {
    const { openCatalog } = await import("../../src/catalog/index.js");
    const real = path.join(work.dir, "real");
    mkdirSync(real);
    const realFile = path.join(real, "catalog.sqlite");
    writeFileSync(realFile, "");
    const linkedFile = path.join(work.dir, "linked.sqlite");
    symlinkSync(realFile, linkedFile);
    const catalog = await openCatalog(linkedFile, { backgroundCheckpoints: true });
    try {
      const entry = await catalog.appendAudit(input(1));
      assert.equal(entry.seq, 1);
    } finally {
      await catalog.close();
    }
  });
});

const strace = spawnSync("strace", ["-V"]).status === 0 ? "strace" : null;

/** Appends audit entries in a child process under strace: which threads fsync meanwhile. */
function tracedAppends(
  longRunning: boolean,
  options: { waitForDisk?: boolean; name?: string } = {},
): { main: number; others: number; entries: number; afterEnd: number } {
  const dir = path.join(work.dir, `traced-${options.name ?? longRunning}`);
  mkdirSync(dir);
  const script = path.join(dir, "append.mts");
  const catalogModule = inRepo("src/catalog/index.js");
  writeFileSync(
    script,
    `import { accessSync } from "node:fs";
import { openCatalog } from ${JSON.stringify(catalogModule)};
const mark = (name: string) => { try { accessSync("/lifeline-strace-" + name); } catch {} };
const catalog = await openCatalog(${JSON.stringify(path.join(dir, "catalog.sqlite"))}, { backgroundCheckpoints: ${longRunning} });
mark("begin");
const at = new Date().toISOString();
for (let round = 0; round < 20; round++) {
  await Promise.all(Array.from({ length: 5 }, (_, i) =>
    catalog.appendAudit({ at, kind: "admission", identity: "alice", host: "h", asset: null, planId: null, data: { round, i } }, { waitForDisk: ${options.waitForDisk ?? true} })));
  // Each round its own group commit.
  await new Promise((resolve) => setTimeout(resolve, 1));
}
mark("end");
const entries = (await catalog.audit({ kind: "admission" })).length;
await catalog.close();
console.log(JSON.stringify({ pid: process.pid, entries }));
`,
  );
  const log = path.join(dir, "strace.log");
  const r = spawnSync(
    "strace",
    [
      "-f",
      "-qq",
      "-o",
      log,
      "-e",
      "trace=fsync,fdatasync,access,faccessat,faccessat2",
      process.execPath,
      "--import",
      "tsx",
      script,
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const { pid, entries } = JSON.parse(r.stdout.trim().split("\n").pop()!) as { pid: number; entries: number };
  const lines = readFileSync(log, "utf8").split("\n");
  const begin = lines.findIndex((l) => l.includes("/lifeline-strace-begin"));
  const end = lines.findIndex((l) => l.includes("/lifeline-strace-end"));
  assert.ok(begin >= 0 && end > begin, "the markers are in the trace");
  let main = 0;
  let others = 0;
  for (const line of lines.slice(begin, end)) {
    const m = /^(\d+)\s+(fsync|fdatasync)\(/.exec(line);
    if (!m) continue;
    if (Number(m[1]) === pid) main++;
    else others++;
  }
  const afterEnd = lines.slice(end).filter((l) => /^\d+\s+(fsync|fdatasync)\(/.test(l)).length;
  return { main, others, entries, afterEnd };
}

describe(
  "durable commits off the event loop: the catalog",
  { skip: strace ? false : "strace is not installed" },
  () => {
    it("lifeline serve's catalog: no fsync on the main thread while appending; the WAL is synced on another", () => {
      const r = tracedAppends(true);
      assert.equal(r.entries, 100);
      assert.equal(r.main, 0, `the main thread synced ${r.main} times`);
      assert.ok(r.others > 0, "the commits were synced (on the thread pool)");
    });

    it("entries nobody waits for (denials) share one deferred sync, and are synced before the catalog closes", () => {
      const r = tracedAppends(true, { waitForDisk: false, name: "deferred" });
      assert.equal(r.entries, 100);
      assert.equal(r.main, 0, `the main thread synced ${r.main} times`);
      // 20 group commits within a few tens of milliseconds: one sync (DEFERRED_SYNC_MS), not 20.
      assert.ok(r.others <= 3, `${r.others} syncs while appending 20 groups nobody waited for`);
      assert.ok(r.others + r.afterEnd >= 1, "they were synced (at the latest when the catalog closed)");
      const each = tracedAppends(true, { waitForDisk: true, name: "each" });
      assert.ok(each.others >= 10, `control: ${each.others} syncs for 20 groups that wait for the disk`);
    });

    it("a CLI process's catalog (control): the main thread syncs its commits itself", () => {
      const r = tracedAppends(false);
      assert.equal(r.entries, 100);
      assert.ok(r.main > 0, "SQLite's FULL syncs on the main thread");
    });
  },
);

describe("appends that wait for the disk, and those that do not", () => {
  /** A long-running catalog whose syncs are held until released (the catalog itself is real). */
  async function heldCatalog(name: string) {
    const { openCatalog } = await import("../../src/catalog/index.js");
    const catalog = await openCatalog(path.join(work.dir, name), { backgroundCheckpoints: true });
    const backend = (catalog as unknown as { store: { backend: { durable?: () => Promise<void> } } }).store
      .backend;
    const syncs: ReturnType<typeof deferred>[] = [];
    backend.durable = () => {
      const d = deferred();
      syncs.push(d);
      return d.promise;
    };
    return { catalog, syncs };
  }

  it("an append returns only once its entry is on disk; one that need not wait returns once committed", async () => {
    const { catalog, syncs } = await heldCatalog("held.sqlite");
    try {
      let waited = false;
      const waiting = catalog.appendAudit(input(1)).then(() => (waited = true));
      const committed = await catalog.appendAudit(input(2), { waitForDisk: false });
      assert.equal(committed.seq, 2, "both in one group, chained");
      assert.equal((await catalog.audit({ kind: "admission" })).length, 2);
      assert.equal(waited, false, "the entry that waits for the disk is not returned before its sync");
      assert.equal(syncs.length, 1);
      syncs[0]!.resolve();
      await waiting;
      assert.equal(waited, true);
    } finally {
      for (const s of syncs) s.resolve();
      await catalog.close();
    }
  });

  it("a failed sync fails the appends that wait for it (the webhook then denies), not the others", async () => {
    const { catalog, syncs } = await heldCatalog("failing.sqlite");
    try {
      const waiting = catalog.appendAudit(input(1));
      const committed = catalog.appendAudit(input(2), { waitForDisk: false });
      assert.equal((await committed).seq, 2);
      syncs[0]!.reject(new Error("EIO: i/o error"));
      await assert.rejects(waiting, /syncing the audit log to disk.*EIO/s);
    } finally {
      await catalog.close();
    }
  });
});

describe("deferred syncs (entries nobody waits for)", () => {
  it("one sync for every request within the delay; flush runs a pending one at once; failures are not thrown", async () => {
    let calls = 0;
    let fail = false;
    const soon = deferredSync(async () => {
      calls++;
      if (fail) throw new Error("EIO");
    }, 20);
    for (let i = 0; i < 50; i++) soon.request();
    assert.equal(calls, 0, "not on the request");
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(calls, 1, "one sync for the 50 requests");
    soon.flush();
    assert.equal(calls, 1, "nothing pending: flush does not sync");
    fail = true;
    soon.request();
    soon.flush();
    assert.equal(calls, 2, "flush runs the pending sync now");
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(calls, 2, "and the timer is gone; the failure was swallowed (no unhandled rejection)");
  });
});
