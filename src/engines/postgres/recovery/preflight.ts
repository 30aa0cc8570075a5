import { assertRestoreToolFits, parseToolVersion } from "../../../core/versions.js";
import type { Manifest } from "../../../core/restore-point/restore-point.js";
import type { PgTools } from "../tools.js";

/** See Recovery.preflight: pg_restore is found and can read the archive's format. */
export async function preflight(tools: PgTools, manifest: Manifest): Promise<Record<string, string>> {
  const pgRestore = await tools.info("pg_restore");
  const dumpMajor = parseToolVersion(`(PostgreSQL) ${manifest.tools.pg_dump ?? ""}`)?.major ?? 0;
  assertRestoreToolFits(pgRestore.major, pgRestore.version, dumpMajor);
  return { pg_restore: pgRestore.version };
}
