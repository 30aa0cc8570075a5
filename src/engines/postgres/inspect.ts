import type pg from "pg";
import type { SourceInfo } from "../../ports/engine.js";
import { serverMajorFromNum } from "../../core/versions.js";

export async function describeSource(client: pg.Client): Promise<SourceInfo> {
  const r = await client.query<{
    database: string;
    encoding: string;
    version: string;
    num: string;
    bytes: string;
  }>(
    `SELECT current_database() AS database, pg_encoding_to_char(encoding) AS encoding, current_setting('server_version') AS version,
            current_setting('server_version_num') AS num, pg_database_size(current_database())::text AS bytes
       FROM pg_database WHERE datname = current_database()`,
  );
  const row = r.rows[0];
  if (!row) throw new Error("server returned no row");
  let systemIdentifier: string | null = null;
  try {
    // Needs superuser or pg_monitor-like rights on some setups; the restore point is still valid without it.
    const s = await client.query<{ id: string }>(
      "SELECT system_identifier::text AS id FROM pg_control_system()",
    );
    systemIdentifier = s.rows[0]?.id ?? null;
  } catch {
    systemIdentifier = null;
  }
  return {
    database: row.database,
    encoding: row.encoding,
    serverVersion: row.version,
    serverMajor: serverMajorFromNum(Number(row.num)),
    systemIdentifier,
    databaseBytes: Number(row.bytes),
  };
}
