/**
 * Durable SQLite commits without blocking the event loop, for a long-running process.
 *
 * better-sqlite3 is synchronous: with `synchronous = FULL` every COMMIT syncs the WAL on the event
 * loop, and on a busy disk one fsync takes milliseconds to tens of milliseconds, during which
 * `lifeline serve` answers nothing (bench/admission.ts on a machine whose disk other jobs were
 * writing to: the slowest 1 % of judged requests spent 98 % of their time in audit appends).
 *
 * A long-running process's connection commits with `synchronous = NORMAL` (in WAL mode: the commit
 * is appended to the log, consistent after a crash, not yet synced) and every commit then waits for
 * an fdatasync of the WAL file on libuv's thread pool before it resolves. So a caller is answered
 * only once its transaction is on disk, exactly as with FULL; the event loop goes on meanwhile,
 * and commits that land while a sync runs share the next one. The file is synced through a
 * descriptor of its own, checked against the path's inode on every sync (a new WAL file is opened
 * again). If the WAL cannot be opened or synced, the commit is reported as failed (callers fail
 * closed) and the connection goes back to FULL.
 */
import { open, stat, type FileHandle } from "node:fs/promises";
import type BetterSqlite3 from "better-sqlite3";

export interface WalSync {
  /** Resolves once every commit made before the call is on disk; rejects when it could not be synced. */
  durable(): Promise<void>;
  close(): Promise<void>;
}

/** One sync of the file: the real one opens `path` and fdatasyncs it (tests inject theirs). */
export type SyncFile = () => Promise<void>;

/**
 * Coalesces durable() calls: a call waits for a sync that starts after it was made (a sync already
 * running may have started before its commit), and one sync serves every call made before it starts.
 */
export function coalescedSync(syncFile: SyncFile): (() => Promise<void>) & { idle: () => Promise<void> } {
  let requested = 0;
  let synced = 0;
  let running: { target: number; done: Promise<void> } | null = null;
  const start = (): { target: number; done: Promise<void> } => {
    const target = requested;
    const run = {
      target,
      done: syncFile().then(
        () => {
          synced = Math.max(synced, target);
          running = null;
        },
        (error: unknown) => {
          running = null;
          throw error;
        },
      ),
    };
    running = run;
    return run;
  };
  const durable = async (): Promise<void> => {
    const mine = ++requested;
    for (;;) {
      if (synced >= mine) return;
      if (running === null) {
        await start().done;
        continue;
      }
      const run = running;
      try {
        await run.done;
      } catch (error) {
        // The sync that covered this commit failed: so does the commit.
        if (run.target >= mine) throw error;
      }
    }
  };
  const idle = async () => {
    while (running !== null) await running.done.catch(() => undefined);
  };
  return Object.assign(durable, { idle });
}

/** fdatasync of `file` through a descriptor kept open, opened again when the path is a new file. */
export function fileSyncer(file: string): SyncFile & { close: () => Promise<void> } {
  let handle: { fh: FileHandle; ino: number } | null = null;
  const reopen = async () => {
    await handle?.fh.close().catch(() => undefined);
    handle = null;
    const fh = await open(file, "r");
    handle = { fh, ino: (await fh.stat()).ino };
    return handle;
  };
  const sync = async () => {
    let h = handle ?? (await reopen());
    const now = await stat(file);
    if (now.ino !== h.ino) h = await reopen();
    await h.fh.datasync();
  };
  return Object.assign(sync, {
    close: async () => {
      await handle?.fh.close().catch(() => undefined);
      handle = null;
    },
  });
}

/**
 * Turns `database` (in WAL mode) to `synchronous = NORMAL` and returns what makes its commits
 * durable off the event loop; null (and FULL kept) when the database is not in WAL mode.
 */
export function walSyncFor(database: BetterSqlite3.Database, file: string): WalSync | null {
  const mode = String(database.pragma("journal_mode", { simple: true })).toLowerCase();
  if (mode !== "wal") return null;
  const syncer = fileSyncer(`${file}-wal`);
  let broken = false;
  const coalesced = coalescedSync(async () => {
    try {
      await syncer();
    } catch (error) {
      // Back to SQLite's own syncing for every later commit; this one is reported as not durable.
      // (SQLite refuses the change inside a transaction: then later commits keep being synced
      // here, never reported on disk without a sync.)
      try {
        if (database.open) {
          database.pragma("synchronous = FULL");
          broken = true;
        }
      } catch {
        // still NORMAL: keep syncing
      }
      throw new Error(
        `the catalog's write-ahead log ${file}-wal could not be synced to disk: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  });
  database.pragma("synchronous = NORMAL");
  return {
    durable: () => (broken ? Promise.resolve() : coalesced()),
    close: async () => {
      await coalesced.idle();
      await syncer.close();
    },
  };
}
