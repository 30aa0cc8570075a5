/**
 * Opens the catalog a location names: a postgres:// or postgresql:// URL is a PostgreSQL database
 * (tables prefixed lifeline_ in its default schema), anything else is an SQLite file. Both are
 * migrated to the current schema on open and served by the same KyselyCatalog.
 *
 * The drivers are loaded only for the backend in use, so a command that never opens a catalog,
 * or opens an SQLite one, does not pay for the other.
 */
import { mkdirSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import {
  CompiledQuery,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from "kysely";
import type BetterSqlite3 from "better-sqlite3";
import { LifelineError } from "../core/errors.js";
import { redactUrl, secrets } from "../core/redact.js";
import type { Catalog } from "../ports/catalog.js";
import { KyselyCatalog } from "./kysely-catalog.js";
import type { CatalogBackend } from "./store.js";
import { migrate } from "./migrations.js";
import type { CatalogDatabase } from "./schema.js";

export { KyselyCatalog } from "./kysely-catalog.js";
export { MIN_ID_PREFIX, sha256hex, type CatalogBackend } from "./store.js";
export { LATEST_VERSION, MIGRATIONS } from "./migrations.js";
export type { CatalogDatabase } from "./schema.js";

export interface OpenCatalogOptions {
  /** SQLite: how long a writer waits for another process's write transaction (default 10 s). */
  busyTimeoutMs?: number;
  /** PostgreSQL: how long to wait for a connection (default 10 s). */
  connectTimeoutMs?: number;
  /** PostgreSQL: connections kept in the pool (default 4). */
  poolSize?: number;
  /**
   * SQLite, a long-running process (`lifeline serve`): WAL checkpoints run in a worker thread, never
   * inside a commit on the event loop (sqlite-checkpointer.ts), and commits are synced to disk on
   * libuv's thread pool, each still returning only once it is on disk (sqlite-wal-sync.ts).
   */
  backgroundCheckpoints?: boolean;
}

const DEFAULT_BUSY_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_POOL_SIZE = 4;

export function isPostgresLocation(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/** Opens (creating and migrating when needed) the catalog at `location`. */
export async function openCatalog(location: string, options: OpenCatalogOptions = {}): Promise<Catalog> {
  return isPostgresLocation(location) ? openPostgres(location, options) : openSqlite(location, options);
}

// --- PostgreSQL ------------------------------------------------------------------------------

/** Migrations from two processes at once wait for each other on this advisory lock. */
const MIGRATION_LOCK_KEY = 0x6c69_6665; // "life"

const postgresBackend: CatalogBackend = {
  name: "postgres",
  rowLocks: true,
  async lockForMigration(trx) {
    await sql`SELECT pg_advisory_xact_lock(${sql.lit(MIGRATION_LOCK_KEY)})`.execute(trx);
  },
};

async function openPostgres(url: string, options: OpenCatalogOptions): Promise<Catalog> {
  const shown = redactUrl(url);
  rememberPassword(url);
  const { default: pg } = await import("pg");
  let db: Kysely<CatalogDatabase> | undefined;
  try {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
    // An idle connection that breaks (server restart) must not crash the process; the next query
    // gets a fresh connection or reports the failure.
    pool.on("error", () => {});
    db = new Kysely<CatalogDatabase>({ dialect: new PostgresDialect({ pool }) });
    await sql`SELECT 1`.execute(db);
  } catch (error) {
    await db?.destroy().catch(() => {});
    throw new LifelineError({
      code: "CATALOG_UNREACHABLE",
      kind: "runtime",
      message: `cannot reach the catalog ${shown}: ${reason(error)}`,
      fix: "check that the PostgreSQL server is running and that the URL, user, password and database in `catalog:` are right (the database must exist)",
    });
  }
  return opened(db, postgresBackend, shown);
}

function rememberPassword(url: string): void {
  try {
    const password = new URL(url).password;
    if (password) secrets.add(decodeURIComponent(password));
  } catch {
    // An unparsable URL is reported by the driver; redactUrl still masks what looks like a password.
  }
}

// --- SQLite ----------------------------------------------------------------------------------

const sqliteBackend: CatalogBackend = { name: "sqlite", rowLocks: false };

async function openSqlite(location: string, options: OpenCatalogOptions): Promise<Catalog> {
  const file = path.resolve(location);
  if (isDirectory(file)) {
    throw new LifelineError({
      code: "CATALOG_UNAVAILABLE",
      kind: "runtime",
      message: `the catalog ${file} is a directory; an SQLite catalog is a file`,
      fix: `point \`catalog:\` in lifeline.yaml at a file, e.g. ${path.join(file, "catalog.db")}`,
    });
  }
  const { default: Database } = await import("better-sqlite3");
  let database: BetterSqlite3.Database | undefined;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    // `timeout` is SQLite's busy_timeout: a writer waits for another process's write transaction.
    database = new Database(file, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    // WAL: readers never wait for the writer, and a commit is one append to the log.
    database.pragma("journal_mode = WAL");
    // better-sqlite3 builds SQLite with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1: in WAL mode a commit is
    // not synced to disk unless FULL is asked for (PRAGMA synchronous still reads 2 meanwhile), so
    // an approval or an audit entry could be lost with the machine's power after lifeline reported
    // it recorded. Asked for explicitly (a long-running process syncs off the event loop instead).
    database.pragma("synchronous = FULL");
  } catch (error) {
    database?.close();
    throw sqliteOpenError(file, error);
  }
  const db = new Kysely<CatalogDatabase>({
    dialect: new ImmediateSqliteDialect(
      { database: preparedOnce(database) },
      database,
      writeLockFor(realpathSync(file)),
    ),
  });
  // Its own copy: a long-running process's catalog gives it durable() below.
  const backend: { -readonly [K in keyof CatalogBackend]: CatalogBackend[K] } = { ...sqliteBackend };
  const catalog = await opened(db, backend, file);
  if (!options.backgroundCheckpoints) return catalog;
  const { checkpointInBackground } = await import("./sqlite-checkpointer.js");
  const { walSyncFor } = await import("./sqlite-wal-sync.js");
  const checkpointer = await checkpointInBackground(database, file);
  // Commits synced off the event loop (sqlite-wal-sync.ts); each still returns only once on disk.
  // SQLite keeps the log beside the file a symlink points to: that is the file to sync.
  const walSync = walSyncFor(database, realpathSync(file));
  if (walSync) {
    backend.durable = walSync.durable;
    backend.durableSoon = walSync.durableSoon;
  }
  const close = catalog.close.bind(catalog);
  catalog.close = async () => {
    await walSync?.close();
    await checkpointer.stop();
    await close();
  };
  return catalog;
}

/** How many distinct statements stay prepared (the catalog issues a few dozen). */
const PREPARED_MAX = 256;

/**
 * The database as Kysely's SQLite driver sees it, each SQL text prepared once and its statement
 * reused (better-sqlite3 prepares on every call otherwise: a good part of a catalog read's cost in
 * `lifeline serve`, which reads the catalog on every protected admission request). Statements run
 * synchronously one at a time, and the catalog never streams, so a statement is never busy twice.
 */
function preparedOnce(database: BetterSqlite3.Database): SqliteDialectConfig["database"] {
  const prepared = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      prepared.clear();
      database.close();
    },
    prepare: (sql: string) => {
      let statement = prepared.get(sql);
      if (statement === undefined) {
        statement = database.prepare(sql);
        if (prepared.size >= PREPARED_MAX) prepared.delete(prepared.keys().next().value as string);
        prepared.set(sql, statement);
      }
      return statement;
    },
  };
}

function isDirectory(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false; // missing, or under a file: creating it reports the problem
  }
}

function sqliteOpenError(file: string, error: unknown): LifelineError {
  const code = (error as { code?: unknown }).code;
  if (code === "SQLITE_NOTADB") {
    return new LifelineError({
      code: "CATALOG_NOT_SQLITE",
      kind: "runtime",
      message: `the catalog ${file} is not an SQLite database`,
      fix: "point `catalog:` in lifeline.yaml at a new file (lifeline creates it) or at the catalog's real location",
    });
  }
  return new LifelineError({
    code: "CATALOG_UNAVAILABLE",
    kind: "runtime",
    message: `cannot create or open the catalog ${file}: ${reason(error)}`,
    fix: `make ${path.dirname(file)} a directory this user can write to, or point \`catalog:\` in lifeline.yaml at a writable path (or a postgres:// URL)`,
  });
}

/**
 * SQLite's plain BEGIN takes the write lock only at the first write, after the head was read: two
 * processes could read the same head. BEGIN IMMEDIATE takes it at once (waiting up to busy_timeout),
 * so appends are serialised across processes.
 *
 * better-sqlite3 waits synchronously, so two connections to one file inside one process would block
 * the very event loop that has to finish the other's transaction: write transactions on the same
 * file in one process take turns on a mutex first.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly database: BetterSqlite3.Database,
    private readonly writeLock: Mutex,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.config, this.database, this.writeLock);
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  private release: (() => void) | null = null;

  constructor(
    config: SqliteDialectConfig,
    private readonly database: BetterSqlite3.Database,
    private readonly writeLock: Mutex,
  ) {
    super(config);
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const release = await this.writeLock.lock();
    try {
      await connection.executeQuery(CompiledQuery.raw("BEGIN IMMEDIATE"));
    } catch (error) {
      release();
      throw error;
    }
    this.release = release;
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    // On failure Kysely rolls back, which releases the lock.
    await connection.executeQuery(CompiledQuery.raw("COMMIT"));
    this.unlock();
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      // SQLite may have rolled back already (some errors end the transaction themselves).
      if (this.database.inTransaction) await connection.executeQuery(CompiledQuery.raw("ROLLBACK"));
    } finally {
      this.unlock();
    }
  }

  private unlock(): void {
    const release = this.release;
    this.release = null;
    release?.();
  }
}

class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Resolves, once every earlier holder has released, to the function that releases it. */
  lock(): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const acquired = this.tail.then(() => release);
    this.tail = this.tail.then(() => released);
    return acquired;
  }
}

const writeLocks = new Map<string, Mutex>();

function writeLockFor(realFile: string): Mutex {
  let lock = writeLocks.get(realFile);
  if (!lock) writeLocks.set(realFile, (lock = new Mutex()));
  return lock;
}

// --- both ------------------------------------------------------------------------------------

async function opened(
  db: Kysely<CatalogDatabase>,
  backend: CatalogBackend,
  location: string,
): Promise<Catalog> {
  try {
    await migrate(db, backend, location);
  } catch (error) {
    await db.destroy().catch(() => {});
    if (error instanceof LifelineError) throw error;
    if ((error as { code?: unknown }).code === "SQLITE_NOTADB") throw sqliteOpenError(location, error);
    throw new LifelineError({
      code: "CATALOG_MIGRATION_FAILED",
      kind: "runtime",
      message: `cannot bring the catalog ${location} to the current schema: ${reason(error)}`,
      fix: "check that the catalog's user may create tables; the migration was rolled back, nothing changed",
    });
  }
  return new KyselyCatalog(db, backend, location);
}

function reason(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown } | null;
  const message = typeof e?.message === "string" && e.message !== "" ? e.message : String(e?.code ?? error);
  return secrets.redact(message);
}
