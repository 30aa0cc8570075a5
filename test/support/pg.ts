import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { inRepo } from "./repo.js";

/** The real PostgreSQL on this machine (CI starts it); every test makes its own databases. */
export const ADMIN_URL = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function urlFor(database: string, admin = ADMIN_URL): string {
  const url = new URL(admin);
  url.pathname = "/" + database;
  return url.toString();
}

export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createDatabase(prefix = "lifeline_test"): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  await query(ADMIN_URL, `CREATE DATABASE "${name}"`);
  return {
    name,
    url: urlFor(name),
    drop: async () => {
      await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    },
  };
}

/** Loads a SQL file with psql, stopping at the first error. */
export function loadSqlFile(url: string, file: string): void {
  execFileSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", file], {
    stdio: ["ignore", "ignore", "pipe"],
  });
}

export const FIXTURES = inRepo("test/fixtures");

export function tempDir(prefix = "lifeline-test-"): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function databaseExists(name: string): Promise<boolean> {
  const rows = await query(ADMIN_URL, "SELECT 1 FROM pg_database WHERE datname = $1", [name]);
  return rows.length > 0;
}

/**
 * Staging databases starting with `prefix` that already carry lifeline's marker (the comment set
 * just after CREATE DATABASE). The kill tests wait for this, so that what they test is the marked
 * copy (a kill between the two statements leaves an unmarked, empty one: swap-safety.test.ts).
 */
export async function markedStaging(prefix: string): Promise<string[]> {
  const rows = await query<{ datname: string }>(
    ADMIN_URL,
    `SELECT datname FROM pg_database
      WHERE starts_with(datname, $1) AND shobj_description(oid, 'pg_database') LIKE 'lifeline staging copy of %'`,
    [prefix],
  );
  return rows.map((r) => r.datname);
}
