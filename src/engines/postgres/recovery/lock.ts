import type pg from "pg";
import type { RecoveryLock, Target } from "../../../ports/engine.js";
import { STAGING_KEY_SQL, TARGET_KEY_SQL, connectMaintenance, databaseOf } from "./server.js";

/**
 * The sessions holding recovery locks in this process, by server and database: stage() takes the
 * staging database's lock in the same session, so that both end together (release, or the process
 * killed: the server ends the session and frees both).
 */
const held = new Map<string, pg.Client>();

function lockKey(target: Target): string {
  const url = new URL(target.url);
  return `${url.hostname}:${url.port || "5432"}/${databaseOf(target)}`;
}

/** The session holding `target`'s recovery lock in this process, or undefined. */
export function lockSession(target: Target): pg.Client | undefined {
  return held.get(lockKey(target));
}

/**
 * Holds `target`'s staging database's lock in the session that holds the target's lock, so
 * leftovers() (in any process) tells a staging database being filled from one a killed restore left.
 */
export async function holdStagingLock(target: Target, staging: string): Promise<void> {
  const session = lockSession(target);
  if (!session) {
    throw new Error(
      `creating a staging database for ${target.display} needs its recovery lock (lock() first)`,
    );
  }
  await session.query(`SELECT pg_advisory_lock(${STAGING_KEY_SQL})`, [staging]);
}

/** See Recovery.lock. */
export async function lock(target: Target): Promise<RecoveryLock | null> {
  const database = databaseOf(target);
  const client = await connectMaintenance(target);
  let ok = false;
  try {
    const r = await client.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(${TARGET_KEY_SQL}) AS locked`,
      [database],
    );
    ok = r.rows[0]?.locked === true;
  } finally {
    if (!ok) await client.end().catch(() => undefined);
  }
  if (!ok) return null;
  const key = lockKey(target);
  held.set(key, client);
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      if (held.get(key) === client) held.delete(key);
      // Ending the session frees every advisory lock it holds (the target's and its staging databases').
      await client.query("SELECT pg_advisory_unlock_all()").catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}
