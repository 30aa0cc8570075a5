import { LifelineError } from "./errors.js";

/** Parses the first line of `pg_dump --version`: "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)". */
export function parseToolVersion(output: string): { version: string; major: number } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?\S*/.exec(output);
  if (!match) return undefined;
  const major = Number(match[1]);
  // Before 10 the major version had two parts (9.6); those servers are long out of support.
  const version = match[0].replace(/^\(PostgreSQL\)\s+/, "");
  return { version, major };
}

/** server_version_num 150020 → 15; 90624 → 9. */
export function serverMajorFromNum(versionNum: number): number {
  return Math.floor(versionNum / 10000);
}

/**
 * A pg_dump older than the server may "succeed" and write an archive that cannot be restored or is
 * missing data (a real incident). Refuse instead.
 */
export function assertDumpToolFits(
  tool: string,
  toolMajor: number,
  toolVersion: string,
  serverMajor: number,
): void {
  if (toolMajor < serverMajor) {
    throw new LifelineError({
      code: "TOOL_TOO_OLD",
      kind: "config",
      message: `${tool} ${toolVersion} is older than the server (PostgreSQL ${serverMajor}); an older ${tool} can write an archive that does not restore`,
      fix: `install PostgreSQL ${serverMajor} client tools (e.g. apt-get install postgresql-client-${serverMajor}) and point lifeline at them with \`tools.pgBin\` in lifeline.yaml or LIFELINE_PG_BIN`,
    });
  }
}

/** The restore tool must be able to read the archive: not older than the pg_dump that wrote it. */
export function assertRestoreToolFits(toolMajor: number, toolVersion: string, dumpMajor: number): void {
  if (toolMajor < dumpMajor) {
    throw new LifelineError({
      code: "TOOL_TOO_OLD",
      kind: "config",
      message: `pg_restore ${toolVersion} is older than the pg_dump (${dumpMajor}) that wrote this restore point`,
      fix: `install PostgreSQL ${dumpMajor} client tools and point lifeline at them with \`tools.pgBin\` in lifeline.yaml or LIFELINE_PG_BIN`,
    });
  }
}
