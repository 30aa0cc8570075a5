import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { LifelineError } from "../../../core/errors.js";
import { STAGING_MARK, isStagingDatabase, stagingDatabaseName } from "../../../core/restore/restore.js";
import type { DatabaseLocale } from "../../../core/restore-point/restore-point.js";
import type { Target } from "../../../ports/engine.js";
import { createDatabaseSql, quoteLiteral, sqlIdent, withDatabase } from "../connection.js";
import { holdStagingLock } from "./lock.js";
import { STAGING_KEY_SQL, databaseOf, serverMajor, withMaintenance } from "./server.js";
import { alterSettingSql, grantSql } from "./settings.js";

/** Is `name` a staging database of `database` (stagingDatabaseName(database, some nonce))? */
export function isStagingOf(database: string, name: string): boolean {
  if (!isStagingDatabase(name)) return false;
  const nonce = name.slice(name.lastIndexOf(STAGING_MARK) + STAGING_MARK.length);
  return /^[a-z0-9]*$/.test(nonce) && stagingDatabaseName(database, nonce) === name;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The mark a staging database carries until the swap gives it the target's name (and comment). */
export function stagingComment(database: string): string {
  return `lifeline staging copy of ${database}; safe to drop when no lifeline restore runs`;
}

/** See Recovery.leftovers: staging databases of target's database whose lock no session holds. */
export async function leftovers(target: Target): Promise<string[]> {
  const database = databaseOf(target);
  // The same maintenance database as lock(): advisory locks are per database.
  return withMaintenance(target, async (client) => {
    const r = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE strpos(datname, $1) > 0 ORDER BY 1",
      [STAGING_MARK],
    );
    const found: string[] = [];
    for (const { datname } of r.rows) {
      if (!isStagingOf(database, datname)) continue;
      const free = await client.query<{ free: boolean }>(
        `SELECT pg_try_advisory_lock(${STAGING_KEY_SQL}) AS free`,
        [datname],
      );
      if (free.rows[0]?.free !== true) continue;
      await client.query(`SELECT pg_advisory_unlock(${STAGING_KEY_SQL})`, [datname]);
      found.push(datname);
    }
    return found;
  });
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
      await client
        .query(createDatabaseSql(name, options.encoding, options.locale))
        .catch((error: unknown) => {
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
          throw error;
        }
        await client.query(`ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS true`);
        return { terminated: 0, unavailableMs: 0 };
      }
      const started = performance.now();
      let committed = false;
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
        terminated = await endSessions(client, name, 5_000);
        await client.query("BEGIN");
        await client.query(`ALTER DATABASE ${sqlIdent(name)} RENAME TO ${sqlIdent(away)}`);
        await client.query(`ALTER DATABASE ${sqlIdent(from)} RENAME TO ${sqlIdent(name)}`);
        await client.query(`COMMENT ON DATABASE ${sqlIdent(name)} IS ${comment}`);
        await client.query("COMMIT");
        committed = true;
      } catch (error) {
        if (!committed) {
          await client.query("ROLLBACK").catch(() => undefined);
          await client
            .query(`ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS ${was.allow ? "true" : "false"}`)
            .catch(() => undefined);
          await client.query(`ALTER DATABASE ${sqlIdent(name)} RESET ${SWAP_MARK}`).catch(() => undefined);
        }
        throw error;
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
        const force = (await serverMajor(client)) >= 13 ? " WITH (FORCE)" : "";
        await attempt(
          `DROP DATABASE IF EXISTS ${sqlIdent(away)}${force}`,
          `dropping the replaced database (now ${away})`,
        );
      }
      if (after.length > 0) {
        throw new LifelineError({
          code: "RESTORE_FAILED",
          kind: "runtime",
          message: `the restored database is now ${name} on ${target.display}${previousName ? ` and the previous one ${previousName}` : ""}, but ${after.join("; ")}`,
          fix: `run that step by hand as a superuser${previousName ? "" : `; a database named ${away} is a staging leftover the next restore removes`}`,
        });
      }
      return { terminated, unavailableMs };
    },
    [name, from, away],
  );
}

/** The database setting a swap in progress carries (its value: whether the database allowed connections). */
const SWAP_MARK = "lifeline.swapping";

/**
 * See Recovery.repair: a target that a killed swap left refusing connections (it carries the swap's
 * mark) gets its connections back, and the mark goes. The caller holds the recovery lock.
 */
export async function repairSwap(target: Target): Promise<string[]> {
  const name = databaseOf(target);
  return withMaintenance(
    target,
    async (client) => {
      const r = await client.query<{ allow: boolean; mark: string | null }>(
        `SELECT d.datallowconn AS allow,
                (SELECT substr(c, length($2) + 2) FROM pg_db_role_setting s, unnest(s.setconfig) c
                  WHERE s.setdatabase = d.oid AND s.setrole = 0 AND c LIKE $2 || '=%') AS mark
           FROM pg_database d WHERE d.datname = $1`,
        [name, SWAP_MARK],
      );
      const row = r.rows[0];
      if (!row || row.mark === null) return [];
      const done: string[] = [];
      if (!row.allow && row.mark === "allow") {
        await client.query(`ALTER DATABASE ${sqlIdent(name)} ALLOW_CONNECTIONS true`);
        done.push(`${name} accepts connections again (a lifeline killed while swapping had refused them)`);
      }
      await client.query(`ALTER DATABASE ${sqlIdent(name)} RESET ${SWAP_MARK}`);
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
