import pg from "pg";
import { parse as parseConnectionString } from "pg-connection-string";
import { LifelineError, isLifelineError } from "../../core/errors.js";
import { redactUrl, secrets } from "../../core/redact.js";
import type { DatabaseLocale } from "../../core/restore-point/restore-point.js";
import type { Target } from "../../ports/engine.js";

/** Builds a Target from a connection URL, registering its password as a secret. */
export function targetFromUrl(url: string): Target {
  const parsed = parseUrl(url);
  const password = passwordOf(parsed);
  if (password) secrets.add(password);
  // The database name is decoded once, here and wherever it is read (databaseName): a '%' that is
  // not a percent-encoding would mean one name to lifeline and another to the server.
  databaseName(url);
  return { url, display: redactUrl(url) };
}

/**
 * The database a URL names, percent-decoded exactly once (as libpq does: `a%2Fb` is the database
 * `a/b`); "" when the URL names none. withDatabase is its inverse.
 */
export function databaseName(url: string): string {
  const path = parseUrl(url).pathname.replace(/^\//, "");
  try {
    return decodeURIComponent(path);
  } catch {
    throw new LifelineError({
      code: "URL_INVALID",
      kind: "config",
      message: `the database name in ${redactUrl(url)} has a '%' that is not a valid percent-encoding`,
      fix: "percent-encode special characters in the database name (% as %25, / as %2F, ? as %3F, # as %23)",
    });
  }
}

const PASSWORD_PARAMS = ["password", "sslpassword"];

/** The password, whether in the user info or as a ?password= parameter. */
function passwordOf(parsed: URL): string | undefined {
  for (const param of PASSWORD_PARAMS) {
    const value = parsed.searchParams.get(param);
    if (value) secrets.add(value);
  }
  if (parsed.password) return decode(parsed.password);
  return parsed.searchParams.get("password") ?? undefined;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new LifelineError({
      code: "URL_INVALID",
      kind: "config",
      message: "the password in the connection URL has a '%' that is not a valid percent-encoding",
      fix: "percent-encode special characters in the password (% as %25, @ as %40, / as %2F, : as %3A)",
    });
  }
}

function parseUrl(url: string): URL {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") throw new Error("scheme");
    return parsed;
  } catch {
    throw new LifelineError({
      code: "URL_INVALID",
      kind: "config",
      message: `not a PostgreSQL connection URL: ${redactUrl(url)}`,
      fix: "write it as postgres://user:password@host:5432/database (percent-encode special characters in the password)",
    });
  }
}

/**
 * Same server and credentials, another database: `database` is the name as the server knows it,
 * percent-encoded exactly once (databaseName(withDatabase(t, name).url) === name, for any name).
 */
export function withDatabase(target: Target, database: string): Target {
  const parsed = parseUrl(target.url);
  parsed.pathname = "/" + encodeURIComponent(database);
  return { url: parsed.toString(), display: redactUrl(parsed.toString()) };
}

/**
 * How a child tool (pg_dump, pg_restore) gets the connection: the URL without its password on the
 * command line (visible in `ps`), the password in the environment.
 */
export function toolConnection(target: Target): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = parseUrl(target.url);
  const password = passwordOf(parsed);
  parsed.password = "";
  for (const param of PASSWORD_PARAMS) parsed.searchParams.delete(param);
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? "10" };
  if (password !== undefined) env.PGPASSWORD = password;
  return { dbname: parsed.toString(), env };
}

/**
 * Session settings that change how values print as text. Fingerprints are text digests, so they are
 * pinned identically at backup and after restore.
 */
export const PINNED_SETTINGS: readonly [string, string][] = [
  ["TimeZone", "UTC"],
  ["DateStyle", "ISO, YMD"],
  ["IntervalStyle", "postgres"],
  ["extra_float_digits", "1"],
  ["bytea_output", "hex"],
  ["lc_monetary", "C"],
  ["lc_numeric", "C"],
  // Deparsed definitions and reg* values print schema names relative to search_path: empty, every
  // name is printed qualified, the same way at backup and after restore.
  ["search_path", ""],
];

/**
 * Production databases often set these; lifeline's long-running reads (fingerprints, the snapshot
 * held open during pg_dump) must not be cancelled by them. pg_dump does the same on its connections.
 */
const SESSION_TIMEOUTS_OFF =
  "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0";

/**
 * How the server reads SQL text must match how lifeline's parser (libpg-query) read it when it
 * planned: the parser assumes standard_conforming_strings = on. With it off (a database or role
 * setting), 'x\\'' ends somewhere else and a "comment" can become a statement. Pinned on the
 * planning and the execution connections.
 */
export const SQL_READING_PINNED = "SET standard_conforming_strings = on; SET backslash_quote = off";

/**
 * Pins how SQL is read on a connection that plans or runs user SQL, and returns its search_path:
 * the session default of the asset's connection, the same on the planning and the execution
 * connection (nothing else sets it), so unqualified names resolve to the objects the plan names.
 */
export async function pinSqlSession(client: pg.Client): Promise<string> {
  await client.query(SQL_READING_PINNED);
  const r = await client.query<{ search_path: string }>(
    "SELECT current_setting('search_path') AS search_path",
  );
  return r.rows[0]?.search_path ?? "";
}

/**
 * `sslmode` as libpq reads it (pg_dump, pg_restore and psql read the same URL): node-postgres 8 takes
 * `require` as `verify-full` and prints a multi-line SECURITY WARNING unless told to read it as
 * libpq does (`uselibpqcompat=true`, added only for node-postgres; the URL itself is unchanged).
 */
function libpqSemantics(url: string): string {
  try {
    const u = new URL(url);
    if (!u.searchParams.has("sslmode") || u.searchParams.has("uselibpqcompat")) return url;
    return `${url}${url.includes("?") ? "&" : "?"}uselibpqcompat=true`;
  } catch {
    return url;
  }
}

/**
 * node-postgres's options for a URL. Its own URL reading decodes the database name with decodeURI,
 * which leaves `%2F`, `%3B`, `%24`, `%23`… encoded (it would connect to `a%3Bb`, not `a;b`): the
 * database is given as databaseName reads it, as libpq (pg_dump, pg_restore, psql) reads it too.
 */
function clientConfig(target: Target): pg.ClientConfig {
  const database = databaseName(target.url);
  const parsed = parseConnectionString(libpqSemantics(target.url)) as pg.ClientConfig;
  return { ...parsed, ...(database === "" ? {} : { database }) };
}

export async function connect(
  target: Target,
  applicationName = "lifeline",
  /**
   * short: a few catalog reads (the watch) that must rather fail than wait: a statement timeout in
   * the startup packet instead of the timeouts turned off (one round trip less).
   */
  options: { short?: { timeoutMs: number } } = {},
): Promise<pg.Client> {
  try {
    return await connectUnmapped(target, applicationName, options);
  } catch (error) {
    throw connectionError(target, error);
  }
}

/** connect() whose failure is the driver's own error (see connectionError, serverUnreachable). */
export async function connectUnmapped(
  target: Target,
  applicationName = "lifeline",
  options: { short?: { timeoutMs: number } } = {},
): Promise<pg.Client> {
  const short = options.short;
  const client = new pg.Client({
    application_name: applicationName,
    connectionTimeoutMillis: short ? short.timeoutMs : 10_000,
    ...(short ? { statement_timeout: short.timeoutMs, lock_timeout: short.timeoutMs } : {}),
    ...clientConfig(target),
  });
  // An idle client that loses its server must not crash the process.
  client.on("error", () => undefined);
  try {
    await client.connect();
    if (!short) await client.query(SESSION_TIMEOUTS_OFF);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}

/**
 * A connection error that is the server's (host and port), not the database's or the role's: no
 * other database on that host and port can be reached either (see connectionError).
 */
export function serverUnreachable(error: unknown): boolean {
  const e = (error ?? {}) as PgLikeError;
  if (isLifelineError(error)) return error.code === "DB_UNREACHABLE";
  return (
    ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"].includes(
      e.code ?? "",
    ) ||
    (e.code === undefined && /timeout/i.test(e.message ?? ""))
  );
}

/** The host and port a target connects to (as node-postgres reads the URL): the key of serverUnreachable. */
export function serverOf(target: Target): string {
  const parsed = parseConnectionString(target.url);
  return `${parsed.host ?? ""}:${parsed.port ?? ""}`;
}

export async function withClient<T>(target: Target, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(target);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface PgLikeError {
  code?: string;
  message?: string;
}

export function connectionError(target: Target, error: unknown): LifelineError {
  const e = (error ?? {}) as PgLikeError;
  const where = target.display;
  const raw = secrets.redact(e.message ?? String(error));
  switch (e.code) {
    case "ECONNREFUSED":
      return new LifelineError({
        code: "DB_UNREACHABLE",
        kind: "runtime",
        message: `cannot connect to ${where}: connection refused`,
        fix: "check that the server is running and that host and port in the URL are right",
      });
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new LifelineError({
        code: "DB_UNREACHABLE",
        kind: "runtime",
        message: `cannot connect to ${where}: host not found`,
        fix: "check the host name in the URL",
      });
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new LifelineError({
        code: "DB_UNREACHABLE",
        kind: "runtime",
        message: `cannot connect to ${where}: ${e.code === "ETIMEDOUT" ? "timed out" : "host unreachable"}`,
        fix: "check the host, port, firewall and network path to the server",
      });
    case "28P01":
    case "28000":
      return new LifelineError({
        code: "DB_AUTH_FAILED",
        kind: "runtime",
        message: `cannot connect to ${where}: authentication failed (${raw})`,
        fix: "check the user and password; if the URL uses ${VAR}, check that the variable holds the current password",
      });
    case "3D000":
      return new LifelineError({
        code: "DB_NOT_FOUND",
        kind: "runtime",
        message: `cannot connect to ${where}: ${raw}`,
        fix: "check the database name at the end of the URL",
      });
    default:
      if (/does not support SSL/i.test(raw)) {
        return new LifelineError({
          code: "DB_UNREACHABLE",
          kind: "runtime",
          message: `cannot connect to ${where}: the server does not accept SSL connections, and the URL asks for them (sslmode)`,
          fix: "enable SSL on the server (ssl = on in postgresql.conf), or connect without it: sslmode=disable (or no sslmode) in the URL",
        });
      }
      if (/timeout/i.test(raw)) {
        return new LifelineError({
          code: "DB_UNREACHABLE",
          kind: "runtime",
          message: `cannot connect to ${where}: timed out`,
          fix: "check the host, port, firewall and network path to the server",
        });
      }
      return new LifelineError({
        code: "DB_ERROR",
        kind: "runtime",
        message: `cannot connect to ${where}: ${raw}`,
      });
  }
}

/** Quotes an identifier the way lifeline names objects in manifests: only when needed. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

export function qualifiedName(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** A new database for a restore, from template0 with the source's encoding and locale. */
export function createDatabaseSql(
  name: string,
  encoding: string,
  locale: DatabaseLocale | null | undefined,
): string {
  const parts = [`CREATE DATABASE ${sqlIdent(name)} TEMPLATE template0 ENCODING ${quoteLiteral(encoding)}`];
  parts.push(
    `LC_COLLATE ${quoteLiteral(locale?.collate ?? "C")} LC_CTYPE ${quoteLiteral(locale?.ctype ?? "C")}`,
  );
  if (locale?.provider === "icu" && locale.icuLocale) {
    parts.push(`LOCALE_PROVIDER icu ICU_LOCALE ${quoteLiteral(locale.icuLocale)}`);
  }
  return parts.join(" ");
}

export function localeError(error: unknown, where: string): LifelineError {
  const message = error instanceof Error ? error.message : String(error);
  return new LifelineError({
    code: "SCRATCH_LOCALE",
    kind: "runtime",
    message: `cannot create the scratch database with the source's locale on ${where}: ${message}`,
    fix: "install that locale on the scratch machine (e.g. locale-gen, or the ICU/glibc locales package), or point `drill.scratch.url` at a server that has it",
  });
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Always-quoted form, safe to splice into SQL. */
export function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
