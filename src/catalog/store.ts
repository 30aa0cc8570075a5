/**
 * What every part of the catalog shares: the database, which backend it is (as flags, not
 * branches), where it is, the guard that turns database errors into LifelineErrors, and the lookup
 * of a plan or approval by id or prefix.
 */
import { createHash } from "node:crypto";
import type { Kysely, Transaction } from "kysely";
import { LifelineError, isLifelineError } from "../core/errors.js";
import { secrets } from "../core/redact.js";
import type { CatalogDatabase } from "./schema.js";

/** What differs between the backends, as flags the one query layer consults. */
export interface CatalogBackend {
  readonly name: "sqlite" | "postgres";
  /**
   * Appends lock the head row with SELECT … FOR UPDATE. SQLite has no row locks; its write
   * transactions begin IMMEDIATE (see index.ts) and so already exclude each other.
   */
  readonly rowLocks: boolean;
  /** Runs first in the migration transaction, so that two processes do not migrate at once. */
  lockForMigration?(trx: Transaction<CatalogDatabase>): Promise<void>;
  /**
   * Resolves once every transaction committed before the call is on disk (a long-running SQLite
   * catalog commits without syncing on the event loop: sqlite-wal-sync.ts). Absent: a commit is
   * durable when it returns.
   */
  durable?(): Promise<void>;
  /**
   * For commits nobody waits for: on disk soon (within sqlite-wal-sync.ts's DEFERRED_SYNC_MS), by a
   * sync shared with others. Absent: nothing to do (a commit is durable when it returns).
   */
  durableSoon?(): void;
}

/** The shortest prefix accepted for a plan or approval id. */
export const MIN_ID_PREFIX = 8;
const MAX_CANDIDATES = 10;

export function sha256hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The database a KyselyCatalog works on, with what its parts share. */
export class CatalogStore {
  constructor(
    readonly db: Kysely<CatalogDatabase>,
    readonly backend: CatalogBackend,
    readonly location: string,
  ) {}

  async byIdOrPrefix<Row>(
    what: "plan" | "approval",
    idOrPrefix: string,
    rowsFor: (ids: string[]) => Promise<Row[]>,
  ): Promise<Row | null> {
    const exact = await rowsFor([idOrPrefix]);
    if (exact[0]) return exact[0];
    // Ids are lower-case hex: an id typed or copied in capitals (or with blanks around it) is the same id.
    const typed = idOrPrefix;
    idOrPrefix = idOrPrefix.trim().toLowerCase();
    if (idOrPrefix !== typed) {
      const again = await rowsFor([idOrPrefix]);
      if (again[0]) return again[0];
    }
    if (idOrPrefix.length < MIN_ID_PREFIX) {
      throw new LifelineError({
        code: "ID_PREFIX_TOO_SHORT",
        kind: "usage",
        message: `"${idOrPrefix}" is too short to name ${what === "plan" ? "a plan" : "an approval"}: give its full id or at least ${MIN_ID_PREFIX} characters of it`,
        fix: `copy the ${what} id as lifeline printed it`,
      });
    }
    const ids = await this.idsWithPrefix(what, idOrPrefix);
    if (ids.length === 0) return null;
    if (ids.length > 1) {
      const shown = ids.slice(0, MAX_CANDIDATES);
      throw new LifelineError({
        code: "ID_PREFIX_AMBIGUOUS",
        kind: "usage",
        // The ids are the details (one a line on the terminal, a list in --json), not in the message too.
        message: `"${idOrPrefix}" matches ${ids.length > MAX_CANDIDATES ? `more than ${MAX_CANDIDATES}` : ids.length} ${what}s${ids.length > MAX_CANDIDATES ? `; the first ${MAX_CANDIDATES}` : ""}:`,
        fix: `give more characters of the ${what} id`,
        details: shown,
      });
    }
    const found = await rowsFor(ids);
    return found[0] ?? null;
  }

  /** Ids starting with `prefix` (exactly, in both backends: substr, not LIKE with its wildcards). */
  private async idsWithPrefix(what: "plan" | "approval", prefix: string): Promise<string[]> {
    const limit = MAX_CANDIDATES + 1;
    if (what === "plan") {
      const rows = await this.db
        .selectFrom("lifeline_plans")
        .select("plan_id")
        .where((eb) =>
          eb(eb.fn<string>("substr", ["plan_id", eb.lit(1), eb.lit(prefix.length)]), "=", prefix),
        )
        .orderBy("plan_id")
        .limit(limit)
        .execute();
      return rows.map((r) => r.plan_id);
    }
    const rows = await this.db
      .selectFrom("lifeline_approvals")
      .select("id")
      .where((eb) => eb(eb.fn<string>("substr", ["id", eb.lit(1), eb.lit(prefix.length)]), "=", prefix))
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Database errors reach the user as LifelineErrors that say which catalog and what was being done. */
  async guard<T>(doing: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isLifelineError(error)) throw error;
      const e = error as { code?: unknown; message?: unknown };
      const message = secrets.redact(typeof e.message === "string" ? e.message : String(error));
      if (e.code === "SQLITE_BUSY") {
        throw new LifelineError({
          code: "CATALOG_BUSY",
          kind: "runtime",
          message: `catalog ${this.location}: ${doing}: another process kept it locked for too long (${message})`,
          fix: "try again; if it persists, look for a lifeline process that hangs while holding the catalog",
        });
      }
      throw new LifelineError({
        code: "CATALOG_FAILED",
        kind: "runtime",
        message: `catalog ${this.location}: ${doing}: ${message}`,
      });
    }
  }
}

export function timeOf(text: string, name: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `${name} "${text}" is not a time`,
      fix: "give an ISO-8601 time such as 2026-11-26T10:00:00Z",
    });
  }
  return t;
}
