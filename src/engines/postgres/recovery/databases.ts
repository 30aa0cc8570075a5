import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { LifelineError, isLifelineError } from "../../../core/errors.js";
import {
  STAGING_MARK,
  isStagingDatabase,
  previousDatabaseName,
  stagingDatabaseName,
} from "../../../core/restore/restore.js";
import type { DatabaseLocale } from "../../../core/restore-point/restore-point.js";
import type { InterruptedSwap, RecoveryRemains, Target } from "../../../ports/engine.js";
import { connect, createDatabaseSql, quoteLiteral, sqlIdent, withDatabase } from "../connection.js";
import { holdStagingLock } from "./lock.js";
import { RECOVERY_APPLICATION, STAGING_KEY_SQL, databaseOf, serverMajor, withMaintenance } from "./server.js";
import { alterSettingSql, grantSql } from "./settings.js";

/** Is `name` a staging database of `database` (stagingDatabaseName(database, some nonce))? */
export function isStagingOf(database: string, name: string): boolean {
  if (!isStagingDatabase(name)) return false;
  const nonce = name.slice(name.lastIndexOf(STAGING_MARK) + STAGING_MARK.length);
  return /^[a-z0-9]*$/.test(nonce) && stagingDatabaseName(database, nonce) === name;
}

/** Is `name` previousDatabaseName(database, some restore point id)? */
export function isPreviousOf(database: string, name: string): boolean {
  const infix = "_before_";
  for (let at = name.indexOf(infix); at >= 0; at = name.indexOf(infix, at + 1)) {
    if (previousDatabaseName(database, name.slice(at + infix.length)) === name) return true;
  }
  return false;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The mark a staging database carries until the swap gives it the target's name (and comment). */
export function stagingComment(database: string): string {
  return `lifeline staging copy of ${database}; safe to drop when no lifeline restore runs`;
}

const STAGING_COMMENT_HEAD = "lifeline staging copy of ";
const STAGING_COMMENT_TAIL = "; safe to drop when no lifeline restore runs";

/**
 * Staging databases on the server whose lock no session holds: named as stage() names them AND
 * carrying the comment stage() (or the swap, for the database it replaces) gives them, for the
 * database the comment names, so that a database of someone else's that merely has such a name is
 * never taken for one. Any target's on the server (a killed `restore --to` leaves one beside its
 * target, not the asset's database).
 *
 * stage() creates the database refusing connections and then comments it (CREATE DATABASE cannot
 * run in a transaction): one a restore killed between the two has no comment and still refuses
 * connections, which a database someone made with such a name does not.
 */
async function leftoversOn(client: pg.Client): Promise<string[]> {
  const r = await client.query<{ datname: string; comment: string | null; allowconn: boolean }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS comment, datallowconn AS allowconn
       FROM pg_database
      WHERE strpos(datname, $1) > 0
        AND (starts_with(shobj_description(oid, 'pg_database'), $2)
             OR (shobj_description(oid, 'pg_database') IS NULL AND NOT datallowconn))
      ORDER BY 1`,
    [STAGING_MARK, STAGING_COMMENT_HEAD],
  );
  const found: string[] = [];
  for (const { datname, comment, allowconn } of r.rows) {
    if (comment === null) {
      if (allowconn || !isStagingOf(datname.slice(0, datname.lastIndexOf(STAGING_MARK)), datname)) continue;
    } else {
      if (!comment.endsWith(STAGING_COMMENT_TAIL)) continue;
      const of = comment.slice(STAGING_COMMENT_HEAD.length, comment.length - STAGING_COMMENT_TAIL.length);
      if (stagingComment(of) !== comment || !isStagingOf(of, datname)) continue;
    }
    const free = await client.query<{ free: boolean }>(
      `SELECT pg_try_advisory_lock(${STAGING_KEY_SQL}) AS free`,
      [datname],
    );
    if (free.rows[0]?.free !== true) continue;
    await client.query(`SELECT pg_advisory_unlock(${STAGING_KEY_SQL})`, [datname]);
    found.push(datname);
  }
  return found;
}

/** See Recovery.leftovers: staging copies of target's database whose lock no session holds. */
export async function leftovers(target: Target): Promise<string[]> {
  const database = databaseOf(target);
  // The same maintenance database as lock(): advisory locks are per database.
  const all = await withMaintenance(target, (client) => leftoversOn(client));
  return all.filter((name) => isStagingOf(database, name));
}

/** See Recovery.remains: what killed restores left beside target's database; changes nothing. */
export async function remains(target: Target): Promise<RecoveryRemains> {
  const database = databaseOf(target);
  return withMaintenance(target, (client) => remainsOn(client, database));
}

/** remains on a session to the server's maintenance database (status shares one per server). */
export async function remainsOn(client: pg.Client, database: string): Promise<RecoveryRemains> {
  return {
    interrupted: await interruptedSwaps(client, database),
    leftovers: await leftoversOn(client),
  };
}

/** Settings a staging database must not have while it is filled; the caller sets them after (setReadOnly). */
const NOT_STAGED = new Set(["default_transaction_read_only"]);

/** Gives `name` the owner, privileges, connection limit and settings (ALTER DATABASE … SET) of `like`. */
async function copyDatabaseAttributes(client: pg.Client, like: string, name: string): Promise<void> {
  const d = await client.query<{ owner: string; connlimit: number; acl: boolean }>(
    `SELECT pg_get_userbyid(datdba) AS owner, datconnlimit AS connlimit, datacl IS NOT NULL AS acl
       FROM pg_database WHERE datname = $1`,
    [like],
  );
  const row = d.rows[0];
  if (!row) return;
  // The same tablespace (a database on its own disk stays there). SET TABLESPACE runs outside a
  // transaction and moves nothing yet: the staging database is empty.
  const space = await client.query<{ spcname: string }>(
    `SELECT t.spcname FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace
      WHERE d.datname = $1 AND t.spcname <> 'pg_default'`,
    [like],
  );
  const tablespace = space.rows[0]?.spcname;
  if (tablespace)
    await client.query(`ALTER DATABASE ${sqlIdent(name)} SET TABLESPACE ${sqlIdent(tablespace)}`);
  const statements = [`ALTER DATABASE ${sqlIdent(name)} OWNER TO ${sqlIdent(row.owner)}`];
  if (row.acl) {
    // An explicit ACL replaces the defaults (PUBLIC: CONNECT, TEMPORARY; owner: all): start from none.
    statements.push(`REVOKE ALL ON DATABASE ${sqlIdent(name)} FROM PUBLIC`);
    statements.push(`REVOKE ALL ON DATABASE ${sqlIdent(name)} FROM ${sqlIdent(row.owner)}`);
    const acl = await client.query<{ grantee: string | null; privilege: string; grantable: boolean }>(
      `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee,
              a.privilege_type AS privilege, a.is_grantable AS grantable
         FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a WHERE d.datname = $1
        ORDER BY 1 NULLS FIRST, 2`,
      [like],
    );
    for (const entry of acl.rows) statements.push(grantSql(name, entry));
  }
  if (row.connlimit !== -1)
    statements.push(`ALTER DATABASE ${sqlIdent(name)} CONNECTION LIMIT ${row.connlimit}`);
  const settings = await client.query<{ role: string | null; config: string[] }>(
    `SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END AS role, s.setconfig AS config
       FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = $1
      ORDER BY 1 NULLS FIRST`,
    [like],
  );
  for (const { role, config } of settings.rows) {
    for (const setting of config) {
      const variable = setting.slice(0, Math.max(0, setting.indexOf("="))).toLowerCase();
      if (!NOT_STAGED.has(variable)) statements.push(alterSettingSql(name, role, setting));
    }
  }
  for (const sql of statements) await client.query(sql);
}

/**
 * See Recovery.stage. The staging database's advisory lock is taken (in the session holding the
 * target's recovery lock, which the caller must hold) before the database exists, so leftovers()
 * never mistakes it for a killed restore's. default_transaction_read_only is not copied from `like`:
 * the restore must write; the caller marks the copy read-only after it is verified.
 */
export async function stage(
  target: Target,
  options: { nonce: string; encoding: string; locale: DatabaseLocale | null; like: Target | null },
): Promise<Target> {
  const database = databaseOf(target);
  const name = stagingDatabaseName(database, options.nonce);
  const like = options.like ? databaseOf(options.like) : null;
  await holdStagingLock(target, name);
  await withMaintenance(
    target,
    async (client) => {
      // Refusing connections until it carries lifeline's comment: the mark a kill between the two
      // statements leaves (leftoversOn).
      await client
        .query(`${createDatabaseSql(name, options.encoding, options.locale)} ALLOW_CONNECTIONS false`)
        .catch((error: unknown) => {
          if ((error as { code?: unknown }).code === "42501")
            throw new LifelineError({
              code: "RESTORE_CANNOT_CREATE",
              kind: "runtime",
              message: `cannot create the database to restore into (${name}) on ${target.display}: ${message(error)}; a standby, a --replace and an --in-place restore are always restored into a new database beside the target, then swapped in`,
              fix: "connect as a role that may create databases (ALTER ROLE … CREATEDB, or a superuser)",
            });
          throw new LifelineError({
            code: "RESTORE_FAILED",
            kind: "runtime",
            message: `cannot create the database to restore into (${name}) on ${target.display}: ${message(error)}`,
            fix: `the connecting role needs CREATEDB, and the server the restore point's encoding ${options.encoding} and locale ${options.locale?.provider === "icu" ? (options.locale.icuLocale ?? "") : (options.locale?.collate ?? "C")} (install it, e.g. locale-gen)`,
          });
        });
      try {
        await client.query(
          `COMMENT ON DATABASE ${sqlIdent(name)} IS ${quoteLiteral(stagingComment(database))}`,
        );
        await client.query(`ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS true`);
        const likeExists =
          like !== null &&
          (await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [like])).rows.length > 0;
        if (like !== null && likeExists) await copyDatabaseAttributes(client, like, name);
      } catch (error) {
        await client.query(`DROP DATABASE IF EXISTS ${sqlIdent(name)}`).catch(() => undefined);
        throw new LifelineError({
          code: "RESTORE_FAILED",
          kind: "runtime",
          message: `cannot give the database to restore into the owner, privileges and settings of ${like ?? database} on ${target.display}: ${message(error)}`,
          fix: "connect as a superuser (or as the database's owner with CREATEDB): the restored database must keep what the current one has",
        });
      }
    },
    [name, ...(like ? [like] : [])],
  );
  return withDatabase(target, name);
}

/** Ends every session of `name` but this one; returns how many client sessions were ended. */
async function endSessions(client: pg.Client, name: string, withinMs: number): Promise<number> {
  const terminated = new Set<number>();
  const until = performance.now() + withinMs;
  for (;;) {
    const r = await client.query<{ pid: number; client: boolean; ended: boolean }>(
      `SELECT pid, backend_type = 'client backend' AS client, pg_terminate_backend(pid) AS ended
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [name],
    );
    if (r.rows.length === 0) return terminated.size;
    for (const row of r.rows) if (row.ended && row.client) terminated.add(row.pid);
    if (performance.now() > until) {
      throw new LifelineError({
        code: "RESTORE_FAILED",
        kind: "runtime",
        message: `${r.rows.length} session(s) of ${name} did not end within ${withinMs / 1000} s`,
        fix: "connect as a superuser (or a role with pg_signal_backend) so lifeline can end them, or stop those clients and retry",
      });
    }
    await sleep(5);
  }
}

/** See Recovery.drop. */
export async function dropDatabase(target: Target): Promise<void> {
  const name = databaseOf(target);
  await withMaintenance(
    target,
    async (client) => {
      if ((await serverMajor(client)) >= 13) {
        await client.query(`DROP DATABASE IF EXISTS ${sqlIdent(name)} WITH (FORCE)`);
        return;
      }
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
      if (exists.rows.length === 0) return;
      await client.query(`ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS false`);
      await endSessions(client, name, 10_000);
      await client.query(`DROP DATABASE IF EXISTS ${sqlIdent(name)}`);
    },
    [name],
  );
}

/**
 * See Recovery.swap. Connected to the maintenance database: refuse new connections to the target,
 * end its sessions, then in one transaction rename the target away (to previousName, or to a staging
 * name dropped after the commit when previousName is null: DROP DATABASE cannot run in a
 * transaction) and give the replacement its name and its comment. unavailableMs runs from refusing
 * connections to the commit. Before the commit any failure puts both back as they were.
 */
export async function swap(
  target: Target,
  replacement: Target,
  previousName: string | null,
  options: { unchangedSince?: string | null; absent?: boolean } = {},
): Promise<{ terminated: number; unavailableMs: number }> {
  const name = databaseOf(target);
  const from = databaseOf(replacement);
  const away = previousName ?? stagingDatabaseName(name, `old${randomBytes(4).toString("hex")}`);
  return withMaintenance(
    target,
    async (client) => {
      const current = await client.query<{ allow: boolean; comment: string | null }>(
        "SELECT datallowconn AS allow, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
        [name],
      );
      const was = current.rows[0];
      if (was && options.absent === true) throw createdMeanwhile(target, name, from);
      const force = (await serverMajor(client)) >= 13 ? " WITH (FORCE)" : "";
      const comment = was?.comment ? quoteLiteral(was.comment) : "NULL";
      // The replacement's sessions are lifeline's own (restore, verify) and already ended; make sure.
      await endSessions(client, from, 5_000);
      if (!was) {
        await client.query("BEGIN");
        try {
          await client.query(`ALTER DATABASE ${sqlIdent(from)} RENAME TO ${sqlIdent(name)}`);
          await client.query(`COMMENT ON DATABASE ${sqlIdent(name)} IS NULL`);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          // 42P04 duplicate_database: created by someone else since it was looked up just above.
          if ((error as { code?: unknown }).code === "42P04") throw createdMeanwhile(target, name, from);
          throw error;
        }
        await client.query(`ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS true`);
        return { terminated: 0, unavailableMs: 0 };
      }
      const started = performance.now();
      let step: SwapStep = "refusing";
      let terminated = 0;
      try {
        // Refusing connections is committed at once (new sessions must not slip in before the rename)
        // together with lifeline's mark: a lifeline killed before the renames commit leaves a database
        // that refuses connections, and the mark lets the next restore (repairSwap) put it right.
        await client.query("BEGIN");
        await client.query(
          `ALTER DATABASE ${sqlIdent(name)} SET ${SWAP_MARK} = ${quoteLiteral(was.allow ? "allow" : "refuse")}`,
        );
        await client.query(`ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS false`);
        await client.query("COMMIT");
        step = "ending sessions";
        terminated = await endSessions(client, name, 5_000);
        if (options.unchangedSince !== undefined && options.unchangedSince !== null) {
          // Every session of the target has ended and reported what it wrote: nothing can slip in now.
          step = "checking";
          await client.query("SELECT pg_stat_clear_snapshot()");
          const now = await writesOn(client, name);
          if (now !== options.unchangedSince) throw targetChanged(target, name);
        }
        step = "renaming";
        await client.query("BEGIN");
        await client.query(`ALTER DATABASE ${sqlIdent(name)} RENAME TO ${sqlIdent(away)}`);
        await client.query(`ALTER DATABASE ${sqlIdent(from)} RENAME TO ${sqlIdent(name)}`);
        await client.query(`COMMENT ON DATABASE ${sqlIdent(name)} IS ${comment}`);
        // The database to drop after the commit is marked as a staging copy in the same transaction:
        // when that drop fails (or lifeline is killed before it), leftovers() still recognises it.
        if (previousName === null)
          await client.query(
            `COMMENT ON DATABASE ${sqlIdent(away)} IS ${quoteLiteral(stagingComment(name))}`,
          );
        step = "committing";
        await client.query("COMMIT");
      } catch (error) {
        throw await swapFailed(client, target, {
          name,
          from,
          away,
          previousName,
          allow: was.allow,
          step,
          error,
        });
      }
      const unavailableMs = Math.round(performance.now() - started);
      const after: string[] = [];
      const attempt = (sql: string, what: string) =>
        client.query(sql).catch((error: unknown) => after.push(`${what}: ${message(error)}`));
      await attempt(
        `ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS true`,
        `allowing connections to ${name}`,
      );
      if (previousName !== null) {
        await attempt(
          `ALTER DATABASE ${sqlIdent(away)} ALLOW_CONNECTIONS ${was.allow ? "true" : "false"}`,
          `allowing connections to ${away} again`,
        );
        await attempt(
          `ALTER DATABASE ${sqlIdent(away)} RESET ${SWAP_MARK}`,
          `removing lifeline's mark from ${away}`,
        );
      } else {
        await attempt(
          `DROP DATABASE IF EXISTS ${sqlIdent(away)}${force}`,
          `dropping the replaced database (now ${away})`,
        );
      }
      if (after.length > 0) {
        throw new LifelineError({
          code: "RESTORE_FAILED",
          kind: "runtime",
          message: `the renames committed: the restored database is now ${name} on ${target.display} and ${name} as it was is ${away}${previousName ? "" : " (to be dropped)"}, but ${after.join("; ")}`,
          fix: `the next lifeline restore or standby of ${name} finishes it${previousName ? ` (${away} is not recorded: drop it by hand when you no longer need it, DROP DATABASE ${sqlIdent(away)})` : ` (it removes ${away}, a staging leftover)`}; or by hand as a superuser: ${[
            `ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS true`,
            ...(previousName
              ? [
                  `ALTER DATABASE ${sqlIdent(away)} ALLOW_CONNECTIONS true`,
                  `ALTER DATABASE ${sqlIdent(away)} RESET ${SWAP_MARK}`,
                ]
              : [`DROP DATABASE ${sqlIdent(away)}`]),
          ].join("; ")}`,
        });
      }
      return { terminated, unavailableMs };
    },
    [name, from, away],
  );
}

/** The database setting a swap in progress carries (its value: whether the database allowed connections). */
const SWAP_MARK = "lifeline.swapping";

type SwapStep = "refusing" | "ending sessions" | "checking" | "renaming" | "committing";

/** pg_stat_database's write counters of `name` (system catalogs included: DDL writes them). */
async function writesOn(client: pg.Client, name: string): Promise<string | null> {
  const r = await client.query<{ writes: string | null }>(
    `SELECT (tup_inserted + tup_updated + tup_deleted)::text AS writes FROM pg_stat_database WHERE datname = $1`,
    [name],
  );
  return r.rows[0]?.writes ?? null;
}

/** See Recovery.writes. */
export async function writes(target: Target): Promise<string | null> {
  const name = databaseOf(target);
  return withMaintenance(
    target,
    async (client) => {
      await client.query("SELECT pg_stat_clear_snapshot()");
      return writesOn(client, name);
    },
    [name],
  );
}

/** The target was written into after the plan that replaces it was checked. */
/** The target was absent when the restore began and exists now: someone else created it meanwhile. */
function createdMeanwhile(target: Target, name: string, from: string): LifelineError {
  return new LifelineError({
    code: "RESTORE_TARGET_NOT_EMPTY",
    kind: "usage",
    message: `${name} on ${target.display} did not exist when this restore began and was created by someone else while this restore ran: it was not replaced (the restored copy ${from} is removed)`,
    fix: "find out who created it and whether it is in use; restore into another new database, or add --replace to replace it (a destructive plan through the gate)",
  });
}

function targetChanged(target: Target, name: string): LifelineError {
  return new LifelineError({
    code: "RESTORE_TARGET_CHANGED",
    kind: "runtime",
    message: `${name} on ${target.display} was written into after the plan to replace it was checked: what was written is in no plan, so it was not replaced`,
    fix: "plan again (run the same command: it shows what the database holds now), and stop what writes into it before replacing it",
  });
}

/** The SQL that puts right by hand a database a swap left refusing connections. */
function unrefuseSql(name: string): string {
  return `ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS true; ALTER DATABASE ${sqlIdent(name)} RESET ${SWAP_MARK}`;
}

/**
 * A swap failed before its renames were known to commit: roll back, find out (on this session, or a
 * new one when it was lost) whether the renames committed, give the database back its connections
 * when they did not, and say exactly that.
 */
async function swapFailed(
  client: pg.Client,
  target: Target,
  s: {
    name: string;
    from: string;
    away: string;
    previousName: string | null;
    allow: boolean;
    step: SwapStep;
    error: unknown;
  },
): Promise<LifelineError> {
  await client.query("ROLLBACK").catch(() => undefined);
  type Settled = { committed: boolean | null; restored: boolean; why: string | null };
  const settle = async (c: pg.Client): Promise<Settled> => {
    const present = new Set(
      (
        await c.query<{ datname: string }>(
          "SELECT datname FROM pg_database WHERE datname = ANY($1::text[])",
          [[s.name, s.from, s.away]],
        )
      ).rows.map((r) => r.datname),
    );
    if (!present.has(s.from)) {
      return present.has(s.away) && present.has(s.name)
        ? { committed: true, restored: false, why: null }
        : { committed: null, restored: false, why: `neither ${s.from} nor ${s.away} is as expected` };
    }
    try {
      await c.query(`ALTER DATABASE ${sqlIdent(s.name)} ALLOW_CONNECTIONS ${s.allow ? "true" : "false"}`);
      await c.query(`ALTER DATABASE ${sqlIdent(s.name)} RESET ${SWAP_MARK}`);
      return { committed: false, restored: true, why: null };
    } catch (error) {
      return { committed: false, restored: false, why: message(error) };
    }
  };
  let settled: Settled;
  try {
    settled = await settle(client);
  } catch {
    // This session is lost (killed, network): ask the server on a new one.
    settled = await withMaintenance(target, settle, [s.name, s.from, s.away]).catch(
      (error: unknown): Settled => ({ committed: null, restored: false, why: message(error) }),
    );
  }
  const cause = message(s.error);
  const failed = `swapping the restored copy in as ${s.name} on ${target.display} failed while ${s.step} (${cause})`;
  const again = `the next lifeline restore or lifeline standby of ${s.name} gives them back`;
  const keepFix = isLifelineError(s.error) ? s.error.fix : undefined;
  if (settled.committed === false && settled.restored) {
    if (isLifelineError(s.error) && s.error.code === "RESTORE_TARGET_CHANGED")
      return new LifelineError({
        code: s.error.code,
        kind: s.error.kind,
        message: `${s.error.message}; ${s.name} is as it was${s.allow ? " and accepts connections again" : ""}; the restored copy was removed`,
        fix: s.error.fix ?? "plan again",
      });
    return new LifelineError({
      code: "RESTORE_FAILED",
      kind: "runtime",
      message: `${failed}: the renames did not commit, ${s.name} is as it was${s.allow ? " and accepts connections again" : ""}`,
      fix: keepFix ?? "see the cause above, then run the restore again",
    });
  }
  if (settled.committed === false) {
    return new LifelineError({
      code: "RESTORE_FAILED",
      kind: "runtime",
      message: `${failed}: the renames did not commit, ${s.name} holds the data it had but REFUSES CONNECTIONS (lifeline refused them for the swap and could not allow them again: ${settled.why ?? "unknown"})`,
      fix: `${again}; or by hand as a superuser: ${unrefuseSql(s.name)}`,
    });
  }
  if (settled.committed === true) {
    return new LifelineError({
      code: "RESTORE_FAILED",
      kind: "runtime",
      message: `${failed}, after the renames committed: the restored copy is now ${s.name}, and ${s.name} as it was is ${s.away}${s.previousName ? "" : " (to be dropped)"}, which may still refuse connections`,
      fix: `${again}${s.previousName ? ` (${s.away} is not recorded: drop it by hand when you no longer need it, DROP DATABASE ${sqlIdent(s.away)})` : ` and removes ${s.away}`}; or by hand as a superuser: ${unrefuseSql(s.away)}`,
    });
  }
  return new LifelineError({
    code: "RESTORE_FAILED",
    kind: "runtime",
    message: `${failed}; whether the renames committed is unknown (the server could not be asked: ${settled.why ?? "unknown"}); ${s.name} may refuse connections`,
    fix: `${again} and says where each database is; by hand as a superuser: if ${s.from} still exists the renames did not commit and ${s.name} is as it was: ${unrefuseSql(s.name)}; otherwise ${s.name} is the restored copy and ${s.away} what it was: ${unrefuseSql(s.away)}`,
  });
}

/** Databases of `database` (itself, or what a swap renamed it to) that carry the swap's mark. */
async function interruptedSwaps(client: pg.Client, database: string): Promise<InterruptedSwap[]> {
  const r = await client.query<{ datname: string; allow: boolean; mark: string }>(
    `SELECT d.datname, d.datallowconn AS allow, substr(c, length($1) + 2) AS mark
       FROM pg_database d
       JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0
      CROSS JOIN LATERAL unnest(s.setconfig) c
      WHERE starts_with(c, $1 || '=')
      ORDER BY 1`,
    [SWAP_MARK],
  );
  const found: InterruptedSwap[] = [];
  for (const row of r.rows) {
    const role =
      row.datname === database
        ? "target"
        : isPreviousOf(database, row.datname)
          ? "previous"
          : isStagingOf(database, row.datname)
            ? "replaced"
            : null;
    if (role) found.push({ database: row.datname, role, refusing: !row.allow && row.mark === "allow" });
  }
  return found;
}

/**
 * See Recovery.repair: a database that a killed swap left refusing connections (it carries the
 * swap's mark) gets its connections back, and the mark goes: the target when the renames never
 * committed, or what it was renamed to when they had (the kill came before the connections were
 * given back). The caller holds the recovery lock.
 */
export async function repairSwap(target: Target): Promise<string[]> {
  const name = databaseOf(target);
  return withMaintenance(
    target,
    async (client) => {
      const done: string[] = [];
      for (const found of await interruptedSwaps(client, name)) {
        const db = sqlIdent(found.database);
        if (found.refusing) await client.query(`ALTER DATABASE ${db} ALLOW_CONNECTIONS true`);
        await client.query(`ALTER DATABASE ${db} RESET ${SWAP_MARK}`);
        if (found.role === "target") {
          if (found.refusing)
            done.push(
              `${name} accepts connections again (a lifeline killed while swapping had refused them; the swap had not happened, ${name} holds the data it had)`,
            );
        } else if (found.role === "previous") {
          done.push(
            `${found.database} is ${name} as it was before an in-place restore that was killed right after its swap (${name} holds the restored copy)${found.refusing ? "; it accepts connections again" : ""}. That restore was not recorded, so neither status nor restore --discard-previous knows ${found.database}: when you no longer need it, drop it by hand: DROP DATABASE ${db}`,
          );
        } else {
          done.push(
            `${found.database} is ${name} as it was before a restore that was killed right after its swap (${name} holds the restored copy; ${found.database} was to be dropped)${found.refusing ? "; it accepts connections again" : ""}. The next restore into ${name} removes it, or drop it by hand: DROP DATABASE ${db}`,
          );
        }
      }
      return done;
    },
    [name],
  );
}

/** See Recovery.setReadOnly. */
export async function setReadOnly(target: Target, readOnly: boolean): Promise<void> {
  const name = databaseOf(target);
  await withMaintenance(
    target,
    (client) =>
      client.query(
        readOnly
          ? `ALTER DATABASE ${sqlIdent(name)} SET default_transaction_read_only = on`
          : `ALTER DATABASE ${sqlIdent(name)} RESET default_transaction_read_only`,
      ),
    [name],
  );
}

/** See Recovery.empty. */
export async function emptyDatabase(target: Target): Promise<void> {
  const client = await connect(target, RECOVERY_APPLICATION);
  try {
    await client.query("DROP OWNED BY CURRENT_USER");
  } finally {
    await client.end().catch(() => undefined);
  }
}
