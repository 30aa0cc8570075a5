/**
 * Plans of lifeline's own recovery commands (`restore --in-place`, `--to … --replace`, `--tables`
 * back into the asset's database, `--discard-previous`): what they set aside or destroy, bound by a
 * plan id like any SQL or kubectl plan, so that they go through the same gate (policy, approvals,
 * audit). Pure: the app reads the databases and passes what it found.
 */
import type { DataLoss } from "../plan/operation.js";
import type { Consumer, PlanParts } from "../plan/plan.js";
import type {
  AffectedObject,
  Dependent,
  PlannedOperation,
  PolicyRule,
  Recoverability,
} from "../plan/policy.js";
import type { RECOVERY_OPERATION_KINDS } from "../plan/kinds.js";
import type { RestoreMode } from "./restore.js";

export type RecoveryKind = (typeof RECOVERY_OPERATION_KINDS)[number];

/** A table of the database a recovery plan touches, as read from it. */
export interface RecoveryTable {
  name: string;
  identity: string;
  rows: number;
  bytes: number;
}

export interface RecoveryPlanInput {
  kind: RecoveryKind;
  asset: { name: string; tier: string; rpoSeconds: number };
  /** The restore point restored (for a discard: the one the previous database was set aside for). */
  restorePointId: string;
  /** The command as the person typed it, canonical and without password. */
  commandText: string;
  /** The database touched: its name and its URL without password. */
  database: { name: string; display: string };
  /**
   * replace / discard: every table of the database (destroyed). in-place: the tables that exist now
   * but not in the restore point (created since: only the previous database keeps them).
   * restore-tables: the tables created (rows and bytes from the restore point, identity "").
   */
  tables: readonly RecoveryTable[];
  consumers: readonly Consumer[];
  dependents: readonly Dependent[];
  recoverability: Recoverability;
  policy: readonly PolicyRule[];
  planningMs: number;
}

const DATA_LOSS: Record<RecoveryKind, DataLoss> = {
  "restore-replace-database": "destructive",
  // The current database is kept, renamed: what was written since the restore point is set aside.
  "restore-in-place": "recoverable",
  // Creates tables that do not exist; existing tables are never overwritten.
  "restore-tables": "none",
  "discard-previous-database": "destructive",
};

const MODES: Record<RecoveryKind, RestoreMode | "discard"> = {
  "restore-replace-database": "replace",
  "restore-in-place": "in-place",
  "restore-tables": "tables",
  "discard-previous-database": "discard",
};

function reason(input: RecoveryPlanInput): string {
  const db = input.database.display;
  switch (input.kind) {
    case "restore-replace-database":
      return `the data of ${db} is replaced by restore point ${input.restorePointId}: what it holds now is dropped`;
    case "restore-in-place": {
      const changes = input.recoverability.changesNotCovered;
      return (
        `${input.asset.name}'s database is replaced by restore point ${input.restorePointId}` +
        (changes
          ? `; ${changes.rows} row change${changes.rows === 1 ? "" : "s"} written since then${changes.countersReset ? " (at least; counters were reset)" : ""} ${changes.rows === 1 ? "is" : "are"} set aside`
          : "") +
        `; the current database is kept, renamed, until lifeline restore ${input.asset.name} --discard-previous`
      );
    }
    case "restore-tables":
      return `creates ${input.tables.length} table${input.tables.length === 1 ? "" : "s"} from restore point ${input.restorePointId} in ${db}; existing tables are never overwritten`;
    case "discard-previous-database":
      return `drops ${input.database.name}, the database as it was before an in-place restore of ${input.asset.name} (restore point ${input.restorePointId}); what only it holds is in no restore point`;
  }
}

function how(kind: RecoveryKind, restorePointId: string): string {
  switch (kind) {
    case "restore-replace-database":
      return `dropped: replaced by restore point ${restorePointId}`;
    case "restore-in-place":
      return `created since restore point ${restorePointId} (not in it): only the previous database keeps it`;
    case "restore-tables":
      return `created from restore point ${restorePointId}`;
    case "discard-previous-database":
      return "dropped with the previous database";
  }
}

/**
 * The canonical identity of a recovery's plan (see planIdentity): the mode, the restore point and
 * the database touched. The same command on the same objects gives the same plan id on the blocked
 * first attempt and on the approved second one.
 */
export function recoveryStatements(
  input: Pick<RecoveryPlanInput, "kind" | "restorePointId" | "database">,
): string[] {
  return [
    `lifeline-recovery:${input.kind}`,
    `mode:${MODES[input.kind]}`,
    `restore-point:${input.restorePointId}`,
    `database:${input.database.display}`,
  ];
}

/** The parts of a recovery's plan: one operation on the database, its tables as affected objects. */
export function recoveryPlanParts(input: RecoveryPlanInput): PlanParts {
  const dataLoss = DATA_LOSS[input.kind];
  const objectLoss: DataLoss = input.kind === "restore-tables" ? "none" : dataLoss;
  const cascade: AffectedObject[] = [...input.tables]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((t) => ({
      type: "table",
      name: t.name,
      identity: t.identity === "" ? null : t.identity,
      rows: t.rows,
      rowsExact: false,
      bytes: t.bytes,
      dataLoss: objectLoss,
      how: how(input.kind, input.restorePointId),
    }));
  // In place, the rows at stake are the changes written since the restore point (in the reason).
  const rows = input.kind === "restore-in-place" ? null : input.tables.reduce((sum, t) => sum + t.rows, 0);
  const bytes = input.kind === "restore-in-place" ? null : input.tables.reduce((sum, t) => sum + t.bytes, 0);
  const notes: string[] = [];
  if (input.kind === "restore-in-place" || input.kind === "restore-replace-database") {
    const connected = input.consumers.reduce((sum, c) => sum + c.connections, 0);
    if (connected > 0)
      notes.push(
        `${connected} client connection${connected === 1 ? " is" : "s are"} open now: the swap terminates ${connected === 1 ? "it" : "them"}`,
      );
  }
  if (input.kind === "restore-in-place" && input.recoverability.changesNotCovered === null)
    notes.push("the changes written since the restore point could not be counted");
  const operation: PlannedOperation = {
    kind: input.kind,
    statementIndex: 0,
    statement: input.commandText,
    normalized: recoveryStatements(input).join("\n"),
    target: { type: "database", schema: null, name: input.database.name },
    resolved: {
      type: "database",
      name: input.database.name,
      identity: null,
      rows,
      rowsExact: false,
      bytes,
      dataLoss,
      how: input.kind === "restore-tables" ? "tables created in it" : "replaced",
    },
    dataLoss,
    reason: reason(input),
    cascadeRequested: false,
    missingOk: false,
    filter: null,
    rows,
    bytes,
    cascade,
    notes,
  };
  return {
    command: { kind: "lifeline", text: input.commandText },
    cluster: null,
    assets: [{ name: input.asset.name, tier: input.asset.tier, recoverability: input.recoverability }],
    operations: [operation],
    dependents: [...input.dependents],
    consumers: [...input.consumers],
    identity: {
      asset: input.asset.name,
      normalizedStatements: recoveryStatements(input),
      restorePointId: input.restorePointId,
    },
    subjects: [{ asset: input.asset, operations: [operation], recoverability: input.recoverability }],
    recoverability: input.recoverability,
    policy: input.policy,
    planningMs: input.planningMs,
  };
}
