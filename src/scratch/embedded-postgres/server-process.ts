/**
 * The scratch server process: postgres started and stopped directly (no pg_ctl), on a free port,
 * in a private directory under the system temp directory; and the cleanup of instances whose
 * lifeline process was killed.
 */
import { closeSync, openSync } from "node:fs";
import { lstat, readFile, readdir, readlink, realpath, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import pg from "pg";
import { LifelineError, interrupted } from "../../core/errors.js";
import { isPidAlive } from "../../support/files.js";
import { serverUser, type Binaries } from "./binaries.js";

/** Every scratch directory (an instance, or a template being built) is a private temp directory named so. */
export const SCRATCH_PREFIX = "lifeline-scratch-";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Scratch instances left by a lifeline process that was killed (SIGKILL skips every cleanup):
 * stop their server and remove their directory.
 */
export async function reapAbandonedScratch(): Promise<number> {
  let reaped = 0;
  const expectedUid = serverUser()?.uid ?? process.getuid?.();
  for (const entry of await readdir(os.tmpdir(), { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(SCRATCH_PREFIX)) continue;
    const dir = path.join(os.tmpdir(), entry.name);
    // Only directories lifeline made: private (0700) and owned by the server user.
    const info = await lstat(dir).catch(() => undefined);
    if (!info?.isDirectory() || info.uid !== expectedUid || (info.mode & 0o077) !== 0) continue;
    const owner = Number(await readFile(path.join(dir, "owner.pid"), "utf8").catch(() => "0"));
    if (!owner || isPidAlive(owner)) continue;
    const data = path.join(dir, "data");
    const postmaster = Number(
      (await readFile(path.join(data, "postmaster.pid"), "utf8").catch(() => "0")).split("\n")[0],
    );
    if (postmaster && isPidAlive(postmaster)) {
      // Signal it only if that process really is this data directory's server (pids get reused).
      const cwd = await readlink(`/proc/${postmaster}/cwd`).catch(() => "");
      if (cwd !== (await realpath(data).catch(() => data))) continue;
      process.kill(postmaster, "SIGQUIT");
      for (let i = 0; i < 50 && isPidAlive(postmaster); i++) await new Promise((r) => setTimeout(r, 100));
      if (isPidAlive(postmaster)) continue;
    }
    await rm(dir, { recursive: true, force: true });
    reaped++;
  }
  return reaped;
}

/** Shared by every instance: the settings of a throwaway server that lives for one drill. */
export const THROWAWAY_SETTINGS = [
  "fsync=off",
  "synchronous_commit=off",
  "full_page_writes=off",
  "max_wal_size=8GB",
  "checkpoint_timeout=1h",
  "maintenance_work_mem=256MB",
  "max_parallel_maintenance_workers=2",
  "autovacuum=off",
  "wal_level=minimal",
  "max_wal_senders=0",
];

export interface RunningServer {
  pid: number;
  exited: () => boolean;
  /** Resolves when the server process has exited. */
  done: Promise<void>;
  /** Whether the server keeps this process alive (only while lifeline waits for it). */
  hold: (on: boolean) => void;
}

/**
 * Starts `postgres` itself, detached like pg_ctl would (Ctrl-C in the terminal reaches lifeline,
 * which then stops it), and waits for it by connecting over its private socket every 10 ms rather
 * than pg_ctl's 100 ms polling. Returns the server and a superuser session on the socket.
 */
export async function startServer(
  bin: Binaries,
  data: string,
  socketDir: string,
  port: number,
  settings: string[],
  database: string,
  asUser: { uid?: number; gid?: number },
  signal: AbortSignal,
): Promise<{ server: RunningServer; client: pg.Client }> {
  const logFile = path.join(socketDir, "server.log");
  const log = openSync(logFile, "a", 0o600);
  let exited = false;
  let server: RunningServer;
  try {
    const child = spawn(
      bin.postgres,
      [
        "-D",
        data,
        "-p",
        String(port),
        "-c",
        `unix_socket_directories=${socketDir}`,
        ...settings.flatMap((s) => ["-c", s]),
      ],
      { detached: true, stdio: ["ignore", log, log], ...asUser },
    );
    const done = new Promise<void>((resolve) => {
      child.once("exit", () => {
        exited = true;
        resolve();
      });
      child.once("error", () => {
        exited = true;
        resolve();
      });
    });
    child.unref();
    server = {
      pid: child.pid ?? 0,
      exited: () => exited,
      done,
      hold: (on) => (on ? child.ref() : child.unref()),
    };
  } finally {
    closeSync(log);
  }
  const failed = async (why: string) => {
    const text = await readFile(logFile, "utf8").catch(() => "");
    return new LifelineError({
      code: "SCRATCH_FAILED",
      kind: "runtime",
      message: `starting the embedded scratch: postgres ${why}`,
      details: text.trimEnd().split("\n").slice(-12),
    });
  };
  const deadline = performance.now() + 60_000;
  try {
    for (;;) {
      if (signal.aborted) throw interrupted();
      if (server.exited()) throw await failed("exited during start-up");
      const client = new pg.Client({
        host: socketDir,
        port,
        user: "lifeline",
        database,
        application_name: "lifeline",
      });
      client.on("error", () => undefined);
      try {
        await client.connect();
        return { server, client };
      } catch (error) {
        await client.end().catch(() => undefined);
        const code = (error as { code?: string }).code;
        // Not there yet: no socket, refused, or "the database system is starting up".
        if (code !== "ENOENT" && code !== "ECONNREFUSED" && code !== "57P03") throw error;
        if (performance.now() > deadline) throw await failed("was not ready after 60 seconds");
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  } catch (error) {
    await stopServer(server, "SIGQUIT");
    throw error;
  }
}

/** SIGQUIT: immediate shutdown (throwaway data); SIGINT: fast shutdown with a final checkpoint. */
export async function stopServer(server: RunningServer, how: "SIGQUIT" | "SIGINT"): Promise<void> {
  // pid 0 would signal lifeline's own process group.
  if (server.exited() || server.pid <= 0) return;
  try {
    process.kill(server.pid, how);
  } catch {
    return;
  }
  server.hold(true);
  await server.done;
  server.hold(false);
}
