/**
 * WAL checkpoints of an SQLite catalog off the event loop, for a long-running process.
 *
 * better-sqlite3 is synchronous: with SQLite's default, the commit that takes the WAL past 1,000
 * pages runs the checkpoint itself — it copies the log into the database file and syncs it, which on
 * a virtual disk blocks the process for tens to hundreds of milliseconds. In `lifeline serve` every
 * admission request waiting meanwhile waited with it (bench/admission.ts: p99 90–355 ms for
 * protected requests, 6 ms without those stalls). A long-running process therefore turns the
 * automatic checkpoint off on its own connection and a worker thread, on a connection of its own,
 * runs a PASSIVE checkpoint every `intervalMs` (it never waits for readers or writers: commits go on
 * meanwhile). Short-lived CLI processes keep SQLite's default.
 *
 * If the worker cannot start or dies, the connection's automatic checkpoint is turned back on, so
 * the log never grows without bound.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type BetterSqlite3 from "better-sqlite3";

export interface Checkpointer {
  stop(): Promise<void>;
}

/** The worker: a connection of its own; a PASSIVE checkpoint every interval and one on the way out. */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.module);
const db = new Database(workerData.file, { timeout: 0 });
const checkpoint = (mode) => { try { db.pragma("wal_checkpoint(" + mode + ")"); } catch {} };
const timer = setInterval(() => checkpoint("PASSIVE"), workerData.intervalMs);
parentPort.on("message", (message) => {
  if (message !== "stop") return;
  clearInterval(timer);
  checkpoint("PASSIVE");
  db.close();
  parentPort.close();
});
parentPort.postMessage("ready");
`;

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1_000;

export async function checkpointInBackground(
  database: BetterSqlite3.Database,
  file: string,
  intervalMs = DEFAULT_CHECKPOINT_INTERVAL_MS,
): Promise<Checkpointer> {
  const automatic = () => {
    try {
      if (database.open) database.pragma("wal_autocheckpoint = 1000");
    } catch {
      // closed meanwhile: nothing to checkpoint
    }
  };
  let worker: Worker;
  try {
    const module = createRequire(import.meta.url).resolve("better-sqlite3");
    worker = new Worker(WORKER, { eval: true, workerData: { module, file, intervalMs } });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`the checkpoint worker exited (${code})`)));
    });
  } catch {
    return { stop: async () => {} };
  }
  database.pragma("wal_autocheckpoint = 0");
  let stopping = false;
  worker.on("error", () => undefined);
  worker.once("exit", () => {
    if (!stopping) automatic();
  });
  worker.unref();
  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.ref(); // until it has exited: the process waits for the last checkpoint
      worker.postMessage("stop");
      await Promise.race([exited, new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref())]);
      await worker.terminate();
      automatic();
    },
  };
}
