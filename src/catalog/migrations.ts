/**
 * Versioned schema changes, applied in order when a catalog is opened, each recorded in
 * lifeline_catalog_migrations in the same transaction as the change. A catalog that records a
 * version this lifeline does not know was written by a newer lifeline: it is refused rather than
 * written with assumptions that no longer hold.
 */
import { sql, type Kysely, type Transaction } from "kysely";
import { GENESIS_HASH, auditRef } from "../core/audit/chain.js";
import { LifelineError } from "../core/errors.js";
import { sha256hex, type CatalogBackend } from "./store.js";
import type { CatalogDatabase } from "./schema.js";

export interface Migration {
  version: number;
  name: string;
  /** `backend`: for what only raw SQL says (a trigger). */
  up(trx: Transaction<CatalogDatabase>, backend: CatalogBackend["name"]): Promise<void>;
}

/** Append only: a released migration is never edited, a change is a new version. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "gate: plans, approvals, executions, break-glass, audit log and its head",
    async up(trx) {
      await trx.schema
        .createTable("lifeline_plans")
        .addColumn("plan_id", "text", (c) => c.primaryKey())
        .addColumn("assets", "text", (c) => c.notNull())
        .addColumn("command", "text", (c) => c.notNull())
        .addColumn("verdict", "text", (c) => c.notNull())
        .addColumn("requested_by", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("document", "text", (c) => c.notNull())
        .execute();

      await trx.schema
        .createTable("lifeline_approvals")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("plan_id", "text", (c) => c.notNull())
        .addColumn("approver", "text", (c) => c.notNull())
        .addColumn("comment", "text")
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .addColumn("revoked_at", "text")
        .addColumn("revoked_by", "text")
        .execute();
      await trx.schema
        .createIndex("lifeline_approvals_plan_id")
        .on("lifeline_approvals")
        .column("plan_id")
        .execute();

      await trx.schema
        .createTable("lifeline_executions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("plan_id", "text", (c) => c.notNull())
        .addColumn("identity", "text", (c) => c.notNull())
        .addColumn("started_at", "text", (c) => c.notNull())
        .addColumn("finished_at", "text", (c) => c.notNull())
        .addColumn("result", "text", (c) => c.notNull())
        .addColumn("exit_code", "integer")
        .addColumn("duration_ms", "bigint", (c) => c.notNull())
        .addColumn("command", "text", (c) => c.notNull())
        .addColumn("requirements", "text", (c) => c.notNull())
        .addColumn("approvals", "text", (c) => c.notNull())
        .addColumn("break_glass", "text")
        .addColumn("detail", "text")
        .execute();
      await trx.schema
        .createIndex("lifeline_executions_plan_id")
        .on("lifeline_executions")
        .column("plan_id")
        .execute();

      await trx.schema
        .createTable("lifeline_break_glass")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("asset", "text", (c) => c.notNull())
        .addColumn("identity", "text", (c) => c.notNull())
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("granted_at", "text", (c) => c.notNull())
        .addColumn("expires_at", "text", (c) => c.notNull())
        .addColumn("granted_by", "text", (c) => c.notNull())
        .addColumn("revoked_at", "text")
        .execute();
      await trx.schema
        .createIndex("lifeline_break_glass_asset")
        .on("lifeline_break_glass")
        .column("asset")
        .execute();

      await trx.schema
        .createTable("lifeline_audit")
        .addColumn("seq", "bigint", (c) => c.primaryKey())
        .addColumn("at", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("identity", "text", (c) => c.notNull())
        .addColumn("host", "text", (c) => c.notNull())
        .addColumn("asset", "text")
        .addColumn("plan_id", "text")
        .addColumn("data", "text", (c) => c.notNull())
        .addColumn("prev_hash", "text", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .execute();
      for (const column of ["asset", "identity", "at"] as const) {
        await trx.schema
          .createIndex(`lifeline_audit_${column}`)
          .on("lifeline_audit")
          .column(column)
          .execute();
      }

      // Created with the table so that every append finds a row to lock (SELECT … FOR UPDATE).
      await trx.schema
        .createTable("lifeline_audit_head")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addColumn("hash", "text", (c) => c.notNull())
        .addCheckConstraint("lifeline_audit_head_single_row", sql`id = 1`)
        .execute();
      await trx.insertInto("lifeline_audit_head").values({ id: 1, seq: 0, hash: GENESIS_HASH }).execute();
    },
  },
  {
    version: 2,
    name: "gate: indexed audit lookups (kind + ref, kind + plan), approval uses, command digest, statement results",
    async up(trx) {
      await trx.schema.alterTable("lifeline_audit").addColumn("ref", "text").execute();
      await trx.schema.alterTable("lifeline_approvals").addColumn("uses", "integer").execute();
      await trx.schema.alterTable("lifeline_executions").addColumn("statements", "text").execute();
      await trx.schema.alterTable("lifeline_plans").addColumn("command_digest", "text").execute();
      // Existing entries get their ref; an entry whose data cannot be read keeps none (it counts
      // for nothing anyway, and `audit verify` reports it).
      const entries = await trx
        .selectFrom("lifeline_audit")
        .select(["seq", "kind", "data"])
        .where("kind", "in", ["approve", "revoke", "use", "break-glass", "break-glass-revoke"])
        .execute();
      for (const e of entries) {
        const ref = refOf(e.kind, e.data);
        if (ref !== null)
          await trx.updateTable("lifeline_audit").set({ ref }).where("seq", "=", Number(e.seq)).execute();
      }
      const plans = await trx.selectFrom("lifeline_plans").select(["plan_id", "command"]).execute();
      for (const p of plans) {
        const text = commandText(p.command);
        if (text !== null)
          await trx
            .updateTable("lifeline_plans")
            .set({ command_digest: sha256hex(text) })
            .where("plan_id", "=", p.plan_id)
            .execute();
      }
      await trx.schema
        .createIndex("lifeline_audit_kind_ref")
        .on("lifeline_audit")
        .columns(["kind", "ref"])
        .execute();
      await trx.schema
        .createIndex("lifeline_audit_kind_plan_id")
        .on("lifeline_audit")
        .columns(["kind", "plan_id"])
        .execute();
      await trx.schema
        .createIndex("lifeline_plans_command_digest")
        .on("lifeline_plans")
        .column("command_digest")
        .execute();
    },
  },
  {
    version: 3,
    name: "admission: the objects each allowed decision destroys, indexed by uid",
    async up(trx, backend) {
      await trx.schema
        .createTable("lifeline_audit_destroys")
        .addColumn("uid", "text", (c) => c.notNull())
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("lifeline_audit_destroys_pkey", ["uid", "seq"])
        .execute();
      // Kept by a trigger, not by lifeline's append: a lifeline of the version before (v2) that
      // still has the catalog open (the other replica of a rolling Deployment) appends allowed
      // decisions too, and a control-plane deletion must find them. Existing entries are indexed
      // by the same statement, in the database (a log of a busy cluster's decisions is not read
      // into memory). An entry that cannot be read gets no rows: it counts for nothing anyway.
      for (const statement of DESTROYS_INDEX[backend]) await sql.raw(statement).execute(trx);
    },
  },
  {
    version: 4,
    name: "alerts: each alert entry indexed by the alert it is about",
    async up(trx, backend) {
      await trx.schema
        .createTable("lifeline_audit_alerts")
        .addColumn("alert_key", "text", (c) => c.notNull())
        .addColumn("seq", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("lifeline_audit_alerts_pkey", ["alert_key", "seq"])
        .execute();
      // By a trigger, as lifeline_audit_destroys (migration 3): the alerts a lifeline of the version
      // before appends (the other replica of a rolling Deployment) are indexed too. The entries
      // already there by the same statement, in the database.
      for (const statement of ALERTS_INDEX[backend]) await sql.raw(statement).execute(trx);
    },
  },
];

/**
 * The longest uid lifeline_audit_destroys holds (a Kubernetes uid is a 36-character UUID): a
 * PostgreSQL index entry cannot exceed 2704 bytes, and one too long would fail the append of the
 * decision and of every entry committed with it. A longer uid is not indexed: no control-plane
 * deletion finishes a decision about it (auditDestroying answers none).
 */
export const DESTROYS_UID_MAX = 256;

/**
 * The trigger that indexes what each `admission` or `run` entry destroys (core/audit auditDestroys:
 * the strings of `destroys`, not empty), and the statement that indexes the entries already there.
 */
const DESTROYS_INDEX: Readonly<Record<CatalogBackend["name"], readonly string[]>> = {
  // Replacing what a catalog whose tables were dropped by hand (or by a test) may have left.
  sqlite: [
    `DROP TRIGGER IF EXISTS lifeline_audit_destroys_index`,
    `CREATE TRIGGER lifeline_audit_destroys_index AFTER INSERT ON lifeline_audit
     WHEN NEW.kind IN ('admission', 'run') AND json_valid(NEW.data) AND json_type(NEW.data, '$.destroys') = 'array'
     BEGIN
       INSERT OR IGNORE INTO lifeline_audit_destroys (uid, seq)
       SELECT value, NEW.seq FROM json_each(NEW.data, '$.destroys')
       WHERE type = 'text' AND value <> '' AND length(value) <= ${DESTROYS_UID_MAX};
     END`,
    `INSERT OR IGNORE INTO lifeline_audit_destroys (uid, seq)
     SELECT d.value, a.seq FROM lifeline_audit a, json_each(a.data, '$.destroys') d
     WHERE a.kind IN ('admission', 'run') AND a.data LIKE '%"destroys"%' AND json_valid(a.data)
       AND json_type(a.data, '$.destroys') = 'array'
       AND d.type = 'text' AND d.value <> '' AND length(d.value) <= ${DESTROYS_UID_MAX}`,
  ],
  postgres: [
    // jsonb: the last of duplicate keys, as JSON.parse. Data that is no JSON (or that jsonb refuses,
    // e.g. \u0000) is indexed with nothing rather than failing the append.
    `CREATE OR REPLACE FUNCTION lifeline_audit_destroys_of(kind text, data text) RETURNS SETOF text
     LANGUAGE plpgsql IMMUTABLE AS $$
     DECLARE d jsonb;
     BEGIN
       IF kind NOT IN ('admission', 'run') OR position('"destroys"' in data) = 0 THEN RETURN; END IF;
       BEGIN
         d := data::jsonb -> 'destroys';
       EXCEPTION WHEN others THEN
         RETURN;
       END;
       IF jsonb_typeof(d) = 'array' THEN
         RETURN QUERY SELECT DISTINCT e #>> '{}' FROM jsonb_array_elements(d) e
           WHERE jsonb_typeof(e) = 'string' AND e #>> '{}' <> '' AND length(e #>> '{}') <= ${DESTROYS_UID_MAX};
       END IF;
     END $$`,
    // Its names resolve in the catalog's schema whatever the appending session's search_path.
    `CREATE OR REPLACE FUNCTION lifeline_audit_destroys_index() RETURNS trigger LANGUAGE plpgsql
     SET search_path FROM CURRENT AS $$
     BEGIN
       INSERT INTO lifeline_audit_destroys (uid, seq)
       SELECT u, NEW.seq FROM lifeline_audit_destroys_of(NEW.kind, NEW.data) u
       ON CONFLICT DO NOTHING;
       RETURN NULL;
     END $$`,
    `DROP TRIGGER IF EXISTS lifeline_audit_destroys_index ON lifeline_audit`,
    `CREATE TRIGGER lifeline_audit_destroys_index AFTER INSERT ON lifeline_audit
     FOR EACH ROW EXECUTE FUNCTION lifeline_audit_destroys_index()`,
    `INSERT INTO lifeline_audit_destroys (uid, seq)
     SELECT u, a.seq FROM lifeline_audit a, lifeline_audit_destroys_of(a.kind, a.data) u
     WHERE a.kind IN ('admission', 'run') AND a.data LIKE '%"destroys"%'
     ON CONFLICT DO NOTHING`,
  ],
};

/**
 * The trigger that indexes each `alert` entry by its alert key (core/posture/check alertKey: the
 * data's key when it is a string, else `<asset>:<alert>`, alert "alert" when it is no string), and
 * the statement that indexes the entries already there. An entry whose data is no JSON object is
 * not indexed: it counts for nothing anyway. PostgreSQL indexes the key's SHA-256 (a key of any
 * length fits an index entry, and fails no append).
 */
const ALERTS_INDEX: Readonly<Record<CatalogBackend["name"], readonly string[]>> = {
  sqlite: [
    `DROP TRIGGER IF EXISTS lifeline_audit_alerts_index`,
    `CREATE TRIGGER lifeline_audit_alerts_index AFTER INSERT ON lifeline_audit
     WHEN NEW.kind = 'alert' AND json_valid(NEW.data) AND json_type(NEW.data) = 'object'
     BEGIN
       INSERT OR IGNORE INTO lifeline_audit_alerts (alert_key, seq) VALUES (${sqliteAlertKey("NEW")}, NEW.seq);
     END`,
    `INSERT OR IGNORE INTO lifeline_audit_alerts (alert_key, seq)
     SELECT ${sqliteAlertKey("a")}, a.seq FROM lifeline_audit a
     WHERE a.kind = 'alert' AND json_valid(a.data) AND json_type(a.data) = 'object'`,
  ],
  postgres: [
    // jsonb: the last of duplicate keys, as JSON.parse. Data that is no JSON (or that jsonb refuses,
    // e.g. \u0000) is indexed with nothing rather than failing the append.
    `CREATE OR REPLACE FUNCTION lifeline_audit_alert_key(kind text, asset text, data text) RETURNS text
     LANGUAGE plpgsql IMMUTABLE AS $$
     DECLARE d jsonb; k text;
     BEGIN
       IF kind <> 'alert' THEN RETURN NULL; END IF;
       BEGIN
         d := data::jsonb;
       EXCEPTION WHEN others THEN
         RETURN NULL;
       END;
       IF jsonb_typeof(d) <> 'object' THEN RETURN NULL; END IF;
       IF jsonb_typeof(d -> 'key') = 'string' THEN
         k := d ->> 'key';
       ELSE
         k := coalesce(asset, '') || ':' || CASE WHEN jsonb_typeof(d -> 'alert') = 'string' THEN d ->> 'alert' ELSE 'alert' END;
       END IF;
       RETURN encode(sha256(convert_to(k, 'UTF8')), 'hex');
     END $$`,
    `CREATE OR REPLACE FUNCTION lifeline_audit_alerts_index() RETURNS trigger LANGUAGE plpgsql
     SET search_path FROM CURRENT AS $$
     BEGIN
       INSERT INTO lifeline_audit_alerts (alert_key, seq)
       SELECT k, NEW.seq FROM lifeline_audit_alert_key(NEW.kind, NEW.asset, NEW.data) k
       WHERE k IS NOT NULL
       ON CONFLICT DO NOTHING;
       RETURN NULL;
     END $$`,
    `DROP TRIGGER IF EXISTS lifeline_audit_alerts_index ON lifeline_audit`,
    `CREATE TRIGGER lifeline_audit_alerts_index AFTER INSERT ON lifeline_audit
     FOR EACH ROW WHEN (NEW.kind = 'alert') EXECUTE FUNCTION lifeline_audit_alerts_index()`,
    `INSERT INTO lifeline_audit_alerts (alert_key, seq)
     SELECT k, a.seq FROM lifeline_audit a, lifeline_audit_alert_key(a.kind, a.asset, a.data) k
     WHERE a.kind = 'alert' AND k IS NOT NULL
     ON CONFLICT DO NOTHING`,
  ],
};

/** alertKey in SQLite's SQL, of the row `row` (an entry whose data is a JSON object). */
function sqliteAlertKey(row: string): string {
  return `CASE WHEN json_type(${row}.data, '$.key') = 'text' THEN json_extract(${row}.data, '$.key')
     ELSE coalesce(${row}.asset, '') || ':' ||
       CASE WHEN json_type(${row}.data, '$.alert') = 'text' THEN json_extract(${row}.data, '$.alert') ELSE 'alert' END END`;
}

function refOf(kind: string, data: string): string | null {
  try {
    const parsed: unknown = JSON.parse(data);
    return parsed !== null && typeof parsed === "object"
      ? auditRef(kind, parsed as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

function commandText(command: string): string | null {
  try {
    const parsed = JSON.parse(command) as { text?: unknown } | null;
    return typeof parsed?.text === "string" ? parsed.text : null;
  } catch {
    return null;
  }
}

export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * Brings the catalog to the latest version. A catalog that is current costs one read; otherwise the
 * pending migrations run in one write transaction that excludes other lifelines doing the same.
 */
export async function migrate(
  db: Kysely<CatalogDatabase>,
  backend: CatalogBackend,
  location: string,
): Promise<{ applied: number[] }> {
  const recorded = await appliedVersions(db).catch((error: unknown) => {
    if (isMissingTable(error)) return null;
    throw error;
  });
  if (recorded !== null && pendingMigrations(recorded, location).length === 0) return { applied: [] };

  return db.transaction().execute(async (trx) => {
    await backend.lockForMigration?.(trx);
    await trx.schema
      .createTable("lifeline_catalog_migrations")
      .ifNotExists()
      .addColumn("version", "integer", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("applied_at", "text", (c) => c.notNull())
      .execute();
    // Read again under the lock: another process may have migrated in the meantime.
    const pending = pendingMigrations(await appliedVersions(trx), location);
    for (const migration of pending) {
      await migration.up(trx, backend.name);
      await trx
        .insertInto("lifeline_catalog_migrations")
        .values({ version: migration.version, name: migration.name, applied_at: new Date().toISOString() })
        .execute();
    }
    return { applied: pending.map((m) => m.version) };
  });
}

async function appliedVersions(db: Kysely<CatalogDatabase>): Promise<number[]> {
  const rows = await db.selectFrom("lifeline_catalog_migrations").select("version").execute();
  return rows.map((r) => Number(r.version));
}

/** A new catalog: PostgreSQL's undefined_table, SQLite's "no such table". */
function isMissingTable(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e?.code === "42P01" || (typeof e?.message === "string" && e.message.startsWith("no such table"));
}

function pendingMigrations(applied: readonly number[], location: string): Migration[] {
  const known = new Set(MIGRATIONS.map((m) => m.version));
  const unknown = applied.filter((v) => !known.has(v)).sort((a, b) => a - b);
  if (unknown.length > 0) {
    throw new LifelineError({
      code: "CATALOG_TOO_NEW",
      kind: "runtime",
      message: `the catalog ${location} was written by a newer lifeline: it has schema version${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}, this lifeline knows versions up to ${LATEST_VERSION}`,
      fix: "upgrade lifeline to the version the rest of the team uses (or newer); an older lifeline must not write to a newer catalog",
    });
  }
  const done = new Set(applied);
  return MIGRATIONS.filter((m) => !done.has(m.version)).sort((a, b) => a.version - b.version);
}
