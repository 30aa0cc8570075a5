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
  // to_jsonb: the locale provider columns exist from PostgreSQL 15 on.
  const l = await client.query<{ d: Record<string, unknown> }>(
    "SELECT to_jsonb(d) AS d FROM pg_database d WHERE datname = current_database()",
  );
  const d = l.rows[0]?.d ?? {};
  const locale = {
    collate: String(d.datcollate ?? "C"),
    ctype: String(d.datctype ?? "C"),
    provider: d.datlocprovider === "i" ? ("icu" as const) : ("libc" as const),
    icuLocale: typeof d.daticulocale === "string" ? d.daticulocale : null,
  };
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
    locale,
    roles: [],
    serverVersion: row.version,
    serverMajor: serverMajorFromNum(Number(row.num)),
    systemIdentifier,
    databaseBytes: Number(row.bytes),
  };
}
