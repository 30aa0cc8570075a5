import type pg from "pg";
import { isLifelineError } from "../../../core/errors.js";
import type { Target } from "../../../ports/engine.js";
import { connect, databaseName, withDatabase } from "../connection.js";

/** Every session lifeline opens to restore into a live server is named so (pg_stat_activity). */
export const RECOVERY_APPLICATION = "lifeline restore";

/** The databases lifeline connects to when the one it works on does not exist or is being replaced. */
const MAINTENANCE = ["postgres", "template1"] as const;

/** The database name at the end of the target's URL, decoded once (see databaseName). */
export function databaseOf(target: Target): string {
  return databaseName(target.url);
}

/**
 * A session on the server's maintenance database (postgres, else template1), never one of `avoid`
 * (a database being renamed or dropped cannot be the session's own). Connection errors are mapped
 * like every other connection's (DB_UNREACHABLE, DB_AUTH_FAILED…): the password never shows.
 */
export async function connectMaintenance(target: Target, avoid: readonly string[] = []): Promise<pg.Client> {
  const candidates = MAINTENANCE.filter((name) => !avoid.includes(name));
  let last: unknown = null;
  for (const name of candidates) {
    try {
      return await connect(withDatabase(target, name), RECOVERY_APPLICATION);
    } catch (error) {
      if (isLifelineError(error) && error.code === "DB_NOT_FOUND") {
        last = error;
        continue;
      }
      throw error;
    }
  }
  throw last ?? new Error(`no maintenance database to connect to on ${target.display}`);
}

export async function withMaintenance<T>(
  target: Target,
  fn: (client: pg.Client) => Promise<T>,
  avoid: readonly string[] = [],
): Promise<T> {
  const client = await connectMaintenance(target, avoid);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function serverMajor(client: pg.Client): Promise<number> {
  const r = await client.query<{ num: string }>("SELECT current_setting('server_version_num') AS num");
  return Math.floor(Number(r.rows[0]?.num ?? "0") / 10000);
}

/**
 * Advisory lock keys (advisory locks are per database: every lifeline takes them on the same
 * maintenance database, postgres or else template1). The target's key serialises recoveries into one
 * database; a staging database's key is held as long as the restore that fills it runs.
 */
export const TARGET_KEY_SQL = "hashtextextended('lifeline-recovery:' || $1, 0)";
export const STAGING_KEY_SQL = "hashtextextended('lifeline-staging:' || $1, 0)";
