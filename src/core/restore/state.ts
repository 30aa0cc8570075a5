/**
 * What recoveries left behind, read back from the audit log (kinds "restore", "standby", "discard"):
 * the previous databases in-place restores kept, the standbys that serve, and the last restores'
 * durations (the RTO a real restore measured). Pure: the caller passes the entries in chain order.
 */
import type { AuditEntry } from "../audit/chain.js";
import type { RestoredTables } from "../posture/posture.js";
import { withoutPassword } from "../redact.js";
import type { Activity } from "../restore-point/restore-point.js";
import type { DiscardAudit, RestoreAudit, StandbyAudit } from "./restore.js";

export interface PreviousDatabase {
  asset: string;
  database: string;
  /** URL of the previous database, without password. */
  target: string;
  restorePointId: string;
  /** When the in-place restore that kept it finished. */
  at: string;
}

export interface Standby {
  asset: string;
  /** URL without password. */
  target: string;
  database: string;
  restorePointId: string;
  /** When it was last created or refreshed. */
  at: string;
  /** What lifeline left (see StandbyAudit): a refresh refuses when it changed. Absent in older entries. */
  tableWrites?: string | null;
  userObjects?: number;
}

export interface LastRestore {
  asset: string;
  at: string;
  mode: RestoreAudit["mode"];
  restoreSeconds: number;
  verifySeconds: number;
  verified: boolean;
}

export interface RecoveryState {
  previous: PreviousDatabase[];
  standbys: Standby[];
  /** The newest succeeded, verified whole-database restore per asset (its duration is a measured RTO). */
  lastRestores: LastRestore[];
  /**
   * Tables restored (--tables) into an asset's own database, oldest first, with their counters right
   * after the restore (RestoreAudit.activity): what status counts their changes from. Absent in
   * states made before it was recorded.
   */
  restoredTables?: (RestoredTables & { asset: string })[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asRestore(data: Record<string, unknown>): RestoreAudit | null {
  return typeof data.restorePointId === "string" &&
    typeof data.mode === "string" &&
    typeof data.result === "string"
    ? (data as unknown as RestoreAudit)
    : null;
}

/** A recorded activity that reads as one (the audit log is data: checked, never trusted). */
function asActivity(value: unknown): Activity | null {
  if (!isObject(value) || !Array.isArray(value.tables)) return null;
  if (value.statsReset !== null && typeof value.statsReset !== "string") return null;
  if (typeof value.database !== "string") return null;
  const count = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  const tables = value.tables.filter(
    (t): t is Activity["tables"][number] =>
      isObject(t) &&
      typeof t.table === "string" &&
      count(t.inserts) &&
      count(t.updates) &&
      count(t.deletes) &&
      count(t.oid),
  );
  return tables.length === value.tables.length
    ? { statsReset: value.statsReset, database: value.database, tables }
    : null;
}

function asStandby(data: Record<string, unknown>): StandbyAudit | null {
  return typeof data.restorePointId === "string" &&
    typeof data.database === "string" &&
    typeof data.result === "string"
    ? (data as unknown as StandbyAudit)
    : null;
}

function asDiscard(data: Record<string, unknown>): DiscardAudit | null {
  return typeof data.database === "string" && typeof data.target === "string"
    ? (data as unknown as DiscardAudit)
    : null;
}

export function recoveryState(entries: readonly AuditEntry[]): RecoveryState {
  const previous = new Map<string, PreviousDatabase>();
  const standbys = new Map<string, Standby>();
  const lastRestores = new Map<string, LastRestore>();
  const restoredTables: (RestoredTables & { asset: string })[] = [];
  for (const entry of entries) {
    if (!isObject(entry.data) || entry.asset === null) continue;
    if (entry.kind === "restore") {
      const r = asRestore(entry.data);
      if (!r || r.result !== "succeeded") continue;
      if (r.previous && isObject(r.previous)) {
        previous.set(r.previous.target, {
          asset: entry.asset,
          database: r.previous.database,
          target: r.previous.target,
          restorePointId: r.restorePointId,
          at: entry.at,
        });
      }
      const activity = r.mode === "tables" && r.verified ? asActivity(entry.data.activity) : null;
      if (activity)
        restoredTables.push({ asset: entry.asset, restorePointId: r.restorePointId, at: entry.at, activity });
      if (r.verified && r.mode !== "tables") {
        lastRestores.set(entry.asset, {
          asset: entry.asset,
          at: entry.at,
          mode: r.mode,
          restoreSeconds: r.restoreSeconds,
          verifySeconds: r.verifySeconds,
          verified: r.verified,
        });
      }
    } else if (entry.kind === "discard") {
      const d = asDiscard(entry.data);
      if (d) previous.delete(d.target);
    } else if (entry.kind === "standby") {
      const s = asStandby(entry.data);
      // A failed refresh leaves the previous standby serving.
      if (!s || s.result !== "succeeded") continue;
      // Keyed without the password: a standby recorded before its URL was shown masked (no
      // password at all) is the same standby as one recorded since (`*****`).
      standbys.set(withoutPassword(s.target), {
        asset: entry.asset,
        target: s.target,
        database: s.database,
        restorePointId: s.restorePointId,
        at: entry.at,
        ...(typeof s.tableWrites === "string" ? { tableWrites: s.tableWrites } : {}),
        ...(typeof s.userObjects === "number" ? { userObjects: s.userObjects } : {}),
      });
    }
  }
  return {
    previous: [...previous.values()],
    standbys: [...standbys.values()],
    lastRestores: [...lastRestores.values()],
    restoredTables,
  };
}
