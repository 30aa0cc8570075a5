import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type pg from "pg";
import { LifelineError } from "../../../core/errors.js";
import type { GuardApproval, GuardSettings, GuardState, Target } from "../../../ports/engine.js";
import { connect, withClient } from "../connection.js";

/** The version of lifeline-guard.sql; `guard status` says when a database runs another. */
export const GUARD_VERSION = 2;
export const GUARD_SCHEMA = "lifeline_guard";
/** The SQLSTATE of a refusal by the guard. */
export const GUARD_SQLSTATE = "LG001";
/** Names of the guard's table and event triggers (restores leave them out). */
export const GUARD_TRIGGER_PREFIX = "lifeline_guard_";
const EVENT_TRIGGERS = ["lifeline_guard_drop", "lifeline_guard_ddl", "lifeline_guard_rewrite"];

let script: string | null = null;

/**
 * The install script (lifeline-guard.sql): beside this module in the source tree, and beside the
 * bundle in dist/cli (scripts/bundle.mjs copies it there).
 */
export function guardInstallSql(): string {
  if (script === null) script = readFileSync(new URL("./lifeline-guard.sql", import.meta.url), "utf8");
  return script;
}

/** Keeps the statements of the install transaction (the key among them) out of the server log. */
export const HIDE_FROM_LOG_SQL = `SET LOCAL log_statement = 'none';
SET LOCAL log_min_duration_statement = -1;
SET LOCAL log_min_duration_sample = -1;
SET LOCAL log_transaction_sample_rate = 0;
SET LOCAL log_parameter_max_length = 0;
SET LOCAL log_parameter_max_length_on_error = 0;
SET LOCAL log_min_error_statement = panic;`;

/** What install runs after the script; the key is a parameter, never in the text shown. */
export const CONFIGURE_SQL = "SELECT lifeline_guard.configure($1, $2, $3, $4, $5, $6)";

export const UNINSTALL_SQL = `DROP EVENT TRIGGER IF EXISTS lifeline_guard_drop;
DROP EVENT TRIGGER IF EXISTS lifeline_guard_ddl;
DROP EVENT TRIGGER IF EXISTS lifeline_guard_rewrite;
DROP SCHEMA IF EXISTS lifeline_guard CASCADE;`;

/** A fingerprint of a key, as lifeline_guard.key_id() computes it in the database. */
export function guardKeyId(key: Buffer): string {
  return createHash("sha256")
    .update(Buffer.concat([Buffer.from("lifeline-guard-key-id:", "utf8"), key]))
    .digest("hex");
}

async function privileges(client: pg.Client): Promise<{ superuser: boolean; user: string }> {
  const r = await client.query<{ superuser: boolean; user: string }>(
    `SELECT current_user AS user,
            rolsuper OR EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolname = 'rds_superuser'
                                   AND pg_has_role(current_user, s.oid, 'member')) AS superuser
       FROM pg_roles WHERE rolname = current_user`,
  );
  return r.rows[0] ?? { superuser: false, user: "?" };
}

function needsSuperuser(user: string, target: Target, what: string): LifelineError {
  return new LifelineError({
    code: "GUARD_NEEDS_SUPERUSER",
    kind: "usage",
    message: `${what} needs a superuser (event triggers can only be created and dropped by one); ${user} on ${target.display} is not`,
    fix: `give a superuser's connection for this step only: --admin-url postgres://postgres@host:5432/<database> (the asset's own URL stays as it is)`,
  });
}

/** Installs (or reinstalls) the guard in one transaction: everything or nothing. */
export async function installGuard(admin: Target, settings: GuardSettings, key: Buffer): Promise<void> {
  const client = await connect(admin, "lifeline guard install");
  try {
    const who = await privileges(client);
    if (!who.superuser) throw needsSuperuser(who.user, admin, "installing the guard");
    await client.query("BEGIN");
    try {
      await client.query("SET LOCAL client_min_messages = warning");
      // The key travels in this transaction (a bind parameter of configure): no server log may
      // record it, whatever log_statement, log_min_duration_statement or auto_explain say.
      await client.query(HIDE_FROM_LOG_SQL);
      await client.query(guardInstallSql());
      const mass = settings.massChange;
      await client.query(CONFIGURE_SQL, [
        settings.asset,
        settings.tier,
        key,
        mass ? mass.rows : null,
        mass ? mass.percent : null,
        mass ? mass.minRows : null,
      ]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      if (error instanceof LifelineError) throw error;
      throw new LifelineError({
        code: "GUARD_INSTALL_FAILED",
        kind: "runtime",
        message: `installing the guard on ${admin.display} failed and was rolled back, nothing changed: ${(error as Error).message}`,
        fix: "fix the cause above and run lifeline guard install again (the guard needs PostgreSQL 13 or later)",
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Removes the guard (its event triggers, then its schema with every table trigger). */
export async function uninstallGuard(admin: Target): Promise<void> {
  const client = await connect(admin, "lifeline guard uninstall");
  try {
    const who = await privileges(client);
    if (!who.superuser) throw needsSuperuser(who.user, admin, "removing the guard");
    await client.query("BEGIN");
    await client.query("SET LOCAL client_min_messages = warning");
    await client.query(UNINSTALL_SQL);
    await client.query("COMMIT");
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * What the guard does not stop, by design (lifeline guard status lists them; README "limits").
 * `lifeline plan` still classifies these; only lifeline's own path (plan, approve, run) is judged.
 */
export const GUARD_NOT_COVERED: readonly string[] = [
  "large objects: lo_unlink(), lo_put(), lo_truncate(), lo_import() and writes through lo_open() are not checked",
  "mass DELETE/UPDATE split over separate transactions (the count is per transaction and per table): a job that deletes a batch per transaction is not stopped",
  "DELETE/UPDATE of up to guard.massChange rows per transaction and table, by design",
  "a superuser, or a role that owns the database, can remove the guard (event triggers run only for what PostgreSQL reports to them)",
];

/** What the guard in a database is, and what it does not cover; read-only, any role. */
export async function guardStatus(target: Target, key: Buffer | null): Promise<GuardState> {
  return withClient(target, (client) => guardStatusOn(client, key));
}

/** guardStatus on a session to the guarded database (status reads more on the same session). */
export async function guardStatusOn(client: pg.Client, key: Buffer | null): Promise<GuardState> {
  const schema = await client.query<{ present: boolean }>(
    "SELECT to_regnamespace($1) IS NOT NULL AS present",
    [GUARD_SCHEMA],
  );
  const events = await client.query<{ name: string; enabled: string }>(
    "SELECT evtname AS name, evtenabled AS enabled FROM pg_event_trigger WHERE evtname = ANY($1::text[]) ORDER BY evtname",
    [EVENT_TRIGGERS],
  );
  const droppers = await client.query<{ role: string; why: string }>(
    `SELECT r.rolname AS role,
            CASE WHEN r.oid = d.datdba THEN 'owner of the database'
                 WHEN r.rolsuper THEN 'superuser'
                 ELSE 'member of the owner role ' || pg_get_userbyid(d.datdba) END AS why
       FROM pg_database d, pg_roles r
      WHERE d.datname = current_database()
        AND (r.oid = d.datdba OR r.rolsuper OR pg_has_role(r.oid, d.datdba, 'member'))
      ORDER BY r.rolname`,
  );
  const canDropDatabase = droppers.rows.map((r) => ({ role: r.role, why: r.why }));
  if (!schema.rows[0]?.present) {
    return {
      installed: false,
      version: null,
      asset: null,
      tier: null,
      massChange: null,
      eventTriggers: events.rows.map((e) => ({ name: e.name, enabled: e.enabled !== "D" })),
      keyMatches: null,
      disabledTriggers: [],
      tablesWithoutTruncateTrigger: [],
      tablesWithoutMassTriggers: [],
      canDropDatabase,
      problems: events.rows.length > 0 ? ["the guard's event triggers exist without its schema"] : [],
      notCovered: [...GUARD_NOT_COVERED],
    };
  }
  const settings = await client.query<{
    version: number;
    asset: string;
    tier: string;
    mass_rows: string | null;
    mass_percent: string | null;
    mass_min_rows: string | null;
  }>("SELECT version, asset, tier, mass_rows, mass_percent, mass_min_rows FROM lifeline_guard.settings");
  const s = settings.rows[0];
  const keyId = await client
    .query<{ id: string | null }>("SELECT lifeline_guard.key_id() AS id")
    .then((r) => r.rows[0]?.id ?? null)
    .catch(() => null);
  // The guard's triggers are recognised by their function, whatever they are called now.
  const triggers = await client.query<{ table: string; name: string; enabled: string; fn: string }>(
    `SELECT t.tgrelid::regclass::text AS table, t.tgname AS name, t.tgenabled AS enabled, p.proname AS fn
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE p.pronamespace = 'lifeline_guard'::regnamespace AND NOT t.tgisinternal`,
  );
  const tables = await client.query<{ table: string }>(
    `SELECT c.oid::regclass::text AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'lifeline_guard')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
      ORDER BY 1`,
  );
  // Whatever in the guard's schema a superuser did not put there (or did not own): another role
  // could read the key through it, or run its code as the superuser the event triggers run as.
  const foreign = await client.query<{ what: string }>(
    `SELECT format('schema lifeline_guard is owned by %s', n.nspowner::regrole) AS what
       FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
      WHERE n.nspname = 'lifeline_guard' AND NOT r.rolsuper
     UNION ALL
     SELECT format('%s is owned by %s', c.oid::regclass, c.relowner::regrole)
       FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
      WHERE c.relnamespace = 'lifeline_guard'::regnamespace AND NOT r.rolsuper
     UNION ALL
     SELECT format('function %s is owned by %s', p.oid::regprocedure, p.proowner::regrole)
       FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
      WHERE p.pronamespace = 'lifeline_guard'::regnamespace AND NOT r.rolsuper
     UNION ALL
     SELECT format('function %s runs as its owner without a fixed search_path', p.oid::regprocedure)
       FROM pg_proc p
      WHERE p.pronamespace = 'lifeline_guard'::regnamespace AND p.prosecdef
        AND NOT EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%')
     UNION ALL
     SELECT format('type %s is owned by %s', t.oid::regtype, t.typowner::regrole)
       FROM pg_type t JOIN pg_roles r ON r.oid = t.typowner
      WHERE t.typnamespace = 'lifeline_guard'::regnamespace AND NOT r.rolsuper
     UNION ALL
     SELECT format('trigger %s on %s', t.tgname, t.tgrelid::regclass)
       FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
      WHERE c.relnamespace = 'lifeline_guard'::regnamespace
     UNION ALL
     SELECT format('rule %s on %s', w.rulename, w.ev_class::regclass)
       FROM pg_rewrite w JOIN pg_class c ON c.oid = w.ev_class
      WHERE c.relnamespace = 'lifeline_guard'::regnamespace
     UNION ALL
     SELECT format('policy %s on %s', y.polname, y.polrelid::regclass)
       FROM pg_policy y JOIN pg_class c ON c.oid = y.polrelid
      WHERE c.relnamespace = 'lifeline_guard'::regnamespace
     ORDER BY 1`,
  );
  const trackCounts = await client.query<{ on: boolean }>(
    "SELECT current_setting('track_counts')::boolean AS on",
  );
  const massOn = s?.mass_rows !== null && s?.mass_rows !== undefined;
  const has = (table: string, fn: string, name?: string) =>
    triggers.rows.some((t) => t.table === table && t.fn === fn && (name === undefined || t.name === name));
  const tablesWithoutTruncateTrigger = tables.rows.map((t) => t.table).filter((t) => !has(t, "on_truncate"));
  const tablesWithoutMassTriggers = massOn
    ? tables.rows
        .map((t) => t.table)
        .filter(
          (t) =>
            !has(t, "on_mass_change", "lifeline_guard_delete") ||
            !has(t, "on_mass_change", "lifeline_guard_update"),
        )
    : [];
  const disabledTriggers = triggers.rows
    .filter((t) => t.enabled === "D" || t.enabled === "R")
    .map((t) => `${t.name} on ${t.table}`)
    .sort();
  const eventTriggers = EVENT_TRIGGERS.map((name) => {
    const found = events.rows.find((e) => e.name === name);
    return {
      name,
      enabled: found !== undefined && found.enabled !== "D" && found.enabled !== "R",
      present: !!found,
    };
  });
  const keyMatches = key === null || keyId === null ? null : keyId === guardKeyId(key);
  const problems: string[] = [];
  for (const e of eventTriggers) {
    if (!e.present) problems.push(`event trigger ${e.name} is missing`);
    else if (!e.enabled) problems.push(`event trigger ${e.name} is disabled`);
  }
  if (!s) problems.push("the guard has no settings (its install did not finish)");
  else if (s.version !== GUARD_VERSION)
    problems.push(`the guard is version ${s.version}, this lifeline installs version ${GUARD_VERSION}`);
  if (keyId === null) problems.push("the guard has no key: every approval is refused");
  else if (key === null)
    problems.push(
      "lifeline has no key for this guard (its state directory does not hold it): lifeline run cannot pass it",
    );
  else if (keyMatches === false)
    problems.push("the guard's key does not match lifeline's: lifeline run's approvals are refused");
  for (const f of foreign.rows)
    problems.push(`tampering: ${f.what} (in the guard's schema, which holds its key)`);
  if (massOn && trackCounts.rows[0]?.on === false)
    problems.push("track_counts is off: the mass DELETE/UPDATE check counts nothing");
  for (const t of disabledTriggers) problems.push(`trigger ${t} is disabled`);
  for (const t of tablesWithoutTruncateTrigger) problems.push(`table ${t} has no TRUNCATE trigger`);
  for (const t of tablesWithoutMassTriggers) problems.push(`table ${t} has no mass DELETE/UPDATE triggers`);
  return {
    installed: true,
    version: s?.version ?? null,
    asset: s?.asset ?? null,
    tier: s?.tier ?? null,
    massChange: massOn
      ? {
          rows: Number(s?.mass_rows),
          percent: s?.mass_percent === null || s?.mass_percent === undefined ? null : Number(s.mass_percent),
          minRows: Number(s?.mass_min_rows ?? 0),
        }
      : null,
    eventTriggers: eventTriggers.map((e) => ({ name: e.name, enabled: e.enabled })),
    keyMatches,
    disabledTriggers,
    tablesWithoutTruncateTrigger,
    tablesWithoutMassTriggers,
    canDropDatabase,
    problems,
    notCovered: [...GUARD_NOT_COVERED],
  };
}

/** An object lifeline run may destroy, as the plan names it (resolved again in the transaction). */
export interface ApprovedObject {
  /** "table", "materialized view", "sequence" or "column". */
  type: string;
  /** Qualified relation name (for a column: its table's). */
  relation: string;
  column?: string;
  /** The OID the plan saw, when it saw one: a different one now means the object was replaced. */
  oid?: number;
}

/**
 * Sets the approval token in the running transaction: the OIDs of the objects resolved now, the
 * transaction's id, an expiry from the server's clock and a nonce, authenticated with the key.
 * Objects that do not exist yet (created earlier in the same SQL) need no token: the guard lets a
 * transaction drop what it created.
 */
export async function setApproval(
  client: pg.Client,
  approval: GuardApproval,
): Promise<{ objects: string[] }> {
  const objects: string[] = [];
  for (const o of approval.objects) {
    const r = await client.query<{ oid: string | null; attnum: number | null }>(
      `SELECT c.oid::text AS oid,
              (SELECT attnum::int FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped) AS attnum
         FROM (SELECT to_regclass($1)::oid AS oid) c`,
      [o.relation, o.column ?? null],
    );
    const row = r.rows[0];
    if (!row?.oid) continue;
    if (o.oid !== undefined && String(o.oid) !== row.oid) {
      throw new LifelineError({
        code: "EXECUTION_FAILED",
        kind: "refused",
        message: `${o.type} ${o.relation} is not the object the plan was approved for (OID ${o.oid}, now ${row.oid}); nothing was run`,
        fix: "plan again and have the new plan approved",
      });
    }
    if (o.type === "column") {
      if (row.attnum !== null) objects.push(`${row.oid}.${row.attnum}`);
    } else objects.push(row.oid);
  }
  const now = await client.query<{ xid: string; epoch: string }>(
    "SELECT pg_current_xact_id()::text AS xid, floor(extract(epoch FROM now()))::bigint::text AS epoch",
  );
  const { xid, epoch } = now.rows[0] ?? { xid: "0", epoch: "0" };
  const unique = [...new Set(objects)];
  const payload = [
    "lifeline1",
    approval.grant,
    xid,
    String(Number(epoch) + approval.ttlSeconds),
    randomBytes(12).toString("hex"),
    unique.join(","),
  ].join(":");
  const token = `${payload}:${createHmac("sha256", approval.key).update(payload, "utf8").digest("hex")}`;
  await client.query("SELECT set_config('lifeline.approval', $1, true)", [token]);
  return { objects: unique };
}
