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
 * descriptor of its own, checked on every sync against the paths of the log and the database (a
 * catalog deleted or replaced under the server fails every later sync). If the WAL cannot be
 * synced, the commits it covered are reported as failed (callers fail closed).
 */
import { statSync } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import type BetterSqlite3 from "better-sqlite3";

export interface WalSync {
  /** Resolves once every commit made before the call is on disk; rejects when it could not be synced. */
  durable(): Promise<void>;
  /**
   * Commits that nobody waits for (the admission webhook's denials): on disk within
   * `DEFERRED_SYNC_MS`, by one sync shared with every such commit of that time and with any
   * durable() meanwhile. A failure is left to the next durable() to meet.
   */
  durableSoon(): void;
  /** Syncs what durableSoon() left pending, then closes the log's descriptor. */
  close(): Promise<void>;
}

/**
 * How long a commit nobody waits for may stay unsynced. Only a power cut or a kernel crash in that
 * time loses it (a killed process does not: the commit is in the kernel's page cache). Syncing
 * each of them instead cost the admission webhook one fdatasync per denial: at 200 requests/s, a
 * thread pool thread busy in the kernel beside the event loop on a 2-CPU machine.
 */
export const DEFERRED_SYNC_MS = 100;

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

/**
 * One `sync` for every request() made within `ms` of the first (timer started by the first).
 * flush() runs the pending one now (on close). A failure is not reported: the next durable() meets it.
 */
export function deferredSync(
  sync: () => Promise<void>,
  ms = DEFERRED_SYNC_MS,
): { request: () => void; flush: () => void } {
  let timer: NodeJS.Timeout | null = null;
  const run = () => {
    timer = null;
    sync().catch(() => undefined);
  };
  return {
    request: () => {
      if (timer === null) timer = setTimeout(run, ms);
    },
    flush: () => {
      if (timer === null) return;
      clearTimeout(timer);
      run();
    },
  };
}

/**
 * fdatasync of `file` through a descriptor kept open (opened at the first sync: SQLite creates the
 * log at the first write). While the database is open SQLite never replaces its log, so a file at
 * the path that is not the one first opened (or none at all) means the catalog was deleted or
 * replaced under the server: SQLite goes on writing to the files it holds, which nothing will ever
 * read again. Every later sync then fails, so nothing is reported on disk.
 */
export function fileSyncer(
  file: string,
  /** Other files (path → inode when opened) that must still be there, the same files. */
  unchanged: ReadonlyMap<string, number> = new Map(),
): SyncFile & { close: () => Promise<void> } {
  let handle: { fh: FileHandle; ino: number } | null = null;
  let gone: string | null = null;
  const sync = async () => {
    if (gone !== null) throw new Error(gone);
    if (handle === null) {
      const fh = await open(file, "r");
      handle = { fh, ino: (await fh.stat()).ino };
    }
    for (const [path, ino] of [[file, handle.ino] as const, ...unchanged]) {
      const now = await stat(path).catch(() => null);
      if (now === null || now.ino !== ino) {
        gone = `${path} was deleted or replaced while lifeline had the catalog open: what it writes goes to a file nobody will read; restart lifeline serve`;
        throw new Error(gone);
      }
    }
    await handle.fh.datasync();
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
 * durable off the event loop; null (and FULL kept) when the database is not in WAL mode. A failed
 * sync fails the commits it covered, and each later commit tries again: there is no falling back
 * to SQLite's own syncing (after an fdatasync error the kernel may have dropped the pages, and a
 * deleted catalog would be synced in vain), so callers keep failing closed until it works.
 */
export function walSyncFor(database: BetterSqlite3.Database, file: string): WalSync | null {
  const mode = String(database.pragma("journal_mode", { simple: true })).toLowerCase();
  if (mode !== "wal") return null;
  const syncer = fileSyncer(`${file}-wal`, new Map([[file, statSync(file).ino]]));
  const coalesced = coalescedSync(async () => {
    try {
      await syncer();
    } catch (error) {
      throw new Error(
        `the catalog's write-ahead log ${file}-wal could not be synced to disk: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  });
  database.pragma("synchronous = NORMAL");
  const soon = deferredSync(coalesced);
  return {
    durable: () => coalesced(),
    durableSoon: soon.request,
    close: async () => {
      soon.flush();
      await coalesced.idle();
      await syncer.close();
    },
  };
}
