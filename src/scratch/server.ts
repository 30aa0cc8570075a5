import { randomBytes } from "node:crypto";
import { LifelineError } from "../core/errors.js";
import { serverMajorFromNum } from "../core/versions.js";
import type { Scratch, ScratchInstance } from "../ports/scratch.js";
import {
  connectionError,
  createDatabaseSql,
  localeError,
  sqlIdent,
  targetFromUrl,
  withClient,
  withDatabase,
} from "../engines/postgres/connection.js";

/**
 * A configured PostgreSQL server where lifeline may create and drop databases. Each drill gets a
 * new, uniquely named database, dropped afterwards; the source database is never touched.
 */
export function serverScratch(url: string): Scratch {
  const admin = targetFromUrl(url);
  return {
    kind: "server",
    async provision({ minMajor, encoding, locale }): Promise<ScratchInstance> {
      const name = `lifeline_drill_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
      const version = await withClient(admin, async (client) => {
        const r = await client.query<{ num: string; version: string }>(
          "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
        );
        const row = r.rows[0] ?? { num: "0", version: "unknown" };
        if (serverMajorFromNum(Number(row.num)) < minMajor) {
          throw new LifelineError({
            code: "SCRATCH_TOO_OLD",
            kind: "runtime",
            message: `scratch server ${admin.display} runs PostgreSQL ${row.version}, older than the restore point's server (${minMajor})`,
            fix: `point \`drill.scratch.url\` at a PostgreSQL ${minMajor} (or newer) server`,
          });
        }
        await client.query(createDatabaseSql(name, encoding, locale)).catch((error: unknown) => {
          throw localeError(error, admin.display);
        });
        return row.version;
      });
      const target = withDatabase(admin, name);
      let dropped = false;
      return {
        kind: "server",
        target,
        serverVersion: version,
        teardown: async () => {
          if (dropped) return;
          dropped = true;
          await withClient(admin, (client) =>
            client.query(`DROP DATABASE IF EXISTS ${sqlIdent(name)} WITH (FORCE)`),
          ).catch((error: unknown) => {
            throw connectionError(admin, error);
          });
        },
      };
    },
  };
}
