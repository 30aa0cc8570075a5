import path from "node:path";
import { assertRestoreToolFits, parseToolVersion } from "../../core/versions.js";
import type { RestoreOptions, Target } from "../../ports/engine.js";
import { run } from "../../support/process.js";
import { sqlIdent, toolConnection, withClient } from "./connection.js";
import { DUMP_DIRECTORY } from "./backup.js";
import type { PgTools } from "./tools.js";

/**
 * Restores a restore point with pg_restore. --exit-on-error: a restore that "succeeds" with errors is
 * a failed drill. No owners, privileges or tablespaces: scratch has none of the source's roles or
 * tablespaces, and they are not what a drill proves. No subscriptions: a scratch copy must never
 * start replicating from production.
 */
export async function restore(
  tools: PgTools,
  into: Target,
  options: RestoreOptions,
): Promise<Record<string, string>> {
  const pgRestore = await tools.info("pg_restore");
  const dumpMajor = parseToolVersion(`(PostgreSQL) ${options.manifest.tools.pg_dump ?? ""}`)?.major ?? 0;
  assertRestoreToolFits(pgRestore.major, pgRestore.version, dumpMajor);
  // Policies and user mappings name roles; without them the restore fails on a scratch instance
  // that has none of the source's roles. They are created without login and without privileges.
  if (options.manifest.source.roles.length > 0) {
    await withClient(into, async (client) => {
      for (const role of options.manifest.source.roles) {
        const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
        if (exists.rowCount === 0) await client.query(`CREATE ROLE ${sqlIdent(role)} NOLOGIN`);
      }
    });
  }
  const connection = toolConnection(into);
  options.progress.phase(`restoring with pg_restore ${pgRestore.version} (${options.jobs} jobs)`);
  await run(
    pgRestore.path,
    [
      "--exit-on-error",
      "--no-owner",
      "--no-privileges",
      "--no-tablespaces",
      "--no-subscriptions",
      "--no-password",
      `--jobs=${options.jobs}`,
      `--dbname=${connection.dbname}`,
      path.join(options.directory, DUMP_DIRECTORY),
    ],
    {
      env: connection.env,
      signal: options.signal,
      errorCode: "RESTORE_FAILED",
      purpose: "pg_restore into scratch",
    },
  );
  return { pg_restore: pgRestore.version };
}
