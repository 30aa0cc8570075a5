/**
 * The catalog's tables as Kysely sees them: one description for SQLite and PostgreSQL. Nested
 * values (identities, commands, plan documents, audit data) are JSON text in both, so what is read
 * back is exactly what was written and the two backends store the same bytes. Times are ISO-8601
 * text as the domain passes them.
 *
 * bigint columns come back from node-postgres as strings (from better-sqlite3 as numbers): their
 * select type says so, and every read goes through Number().
 */
import type { ColumnType } from "kysely";

export type BigintColumn = ColumnType<number | string, number, number>;

export interface PlansTable {
  plan_id: string;
  /** JSON array of asset names. */
  assets: string;
  /** JSON {kind, text}. */
  command: string;
  verdict: string;
  /** JSON Identity. */
  requested_by: string;
  created_at: string;
  /** JSON: the plan document as `plan --json` prints it. */
  document: string;
  /** sha256 of the command text (indexed: other plans of the same command, for drift). v2. */
  command_digest: string | null;
}

export interface ApprovalsTable {
  id: string;
  plan_id: string;
  /** JSON Identity. */
  approver: string;
  comment: string | null;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  revoked_by: string | null;
  /** Executions it authorises (null: 1, as before v2). */
  uses: number | null;
}

export interface ExecutionsTable {
  id: string;
  plan_id: string;
  /** JSON Identity. */
  identity: string;
  started_at: string;
  finished_at: string;
  result: string;
  exit_code: number | null;
  duration_ms: BigintColumn;
  /** JSON {kind, text}. */
  command: string;
  /** JSON Requirement[]. */
  requirements: string;
  /** JSON array of approval ids. */
  approvals: string;
  break_glass: string | null;
  detail: string | null;
  /** JSON StatementResult[]: what each SQL statement did (v2). */
  statements: string | null;
}

export interface BreakGlassTable {
  id: string;
  asset: string;
  identity: string;
  reason: string;
  granted_at: string;
  expires_at: string;
  /** JSON Identity. */
  granted_by: string;
  revoked_at: string | null;
}

export interface AuditTable {
  seq: BigintColumn;
  at: string;
  kind: string;
  identity: string;
  host: string;
  asset: string | null;
  plan_id: string | null;
  /** Canonical JSON (keys sorted), the text the hash covers. */
  data: string;
  prev_hash: string;
  hash: string;
  /**
   * The approval or grant id the entry is about (auditRef), derived from data and indexed with
   * kind; not covered by the hash (v2).
   */
  ref: string | null;
}

/** One row (id = 1): the last appended (seq, hash); seq 0 and the genesis hash for an empty log. */
export interface AuditHeadTable {
  id: number;
  seq: BigintColumn;
  hash: string;
}

/**
 * Which entries destroy which object (v3): one row per uid in an `admission` or `run` entry's
 * `destroys` (an allowed decision's objects), so that a control-plane deletion finds the decision
 * it finishes without reading the day's audit log. Derived from the entries, written in the same
 * transaction; an entry counts only for what its own data says.
 */
export interface AuditDestroysTable {
  uid: string;
  seq: BigintColumn;
}

/**
 * Which alert each `alert` entry is about (v4): one row per entry, by its alert key
 * (core/posture/check alertKey), so that the latest entry of each alert is found without reading
 * the history of alerts that fired and resolved a thousand times. The key itself in SQLite; in
 * PostgreSQL its SHA-256 (hex), which fits any index entry (alertKeyId). Derived from the entries by
 * a trigger, in the same transaction; an entry counts only for what its own data says.
 */
export interface AuditAlertsTable {
  alert_key: string;
  seq: BigintColumn;
}

export interface MigrationsTable {
  version: number;
  name: string;
  applied_at: ColumnType<string, string, never>;
}

export interface CatalogDatabase {
  lifeline_plans: PlansTable;
  lifeline_approvals: ApprovalsTable;
  lifeline_executions: ExecutionsTable;
  lifeline_break_glass: BreakGlassTable;
  lifeline_audit: AuditTable;
  lifeline_audit_head: AuditHeadTable;
  lifeline_audit_destroys: AuditDestroysTable;
  lifeline_audit_alerts: AuditAlertsTable;
  lifeline_catalog_migrations: MigrationsTable;
}
