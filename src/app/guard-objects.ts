import type { Plan } from "../core/plan/plan.js";
import type { GuardApproval, GuardState } from "../ports/engine.js";

/** How long the approval lifeline run carries into its transaction is good for. */
export const GUARD_APPROVAL_TTL_SECONDS = 3600;

const DATA_TYPES = new Set(["table", "materialized view", "sequence"]);

function oidOf(identity: string | null): number | undefined {
  const m = identity ? /(?:^|,| )oid=(\d+)/.exec(identity) : null;
  return m?.[1] ? Number(m[1]) : undefined;
}

/**
 * The objects a plan may destroy, as the database guard judges them: its tables, materialized
 * views and sequences (targets and what CASCADE takes), and columns (dropped, retyped). The
 * approval lifeline run sets covers exactly these (resolved again inside the transaction).
 */
export function guardObjects(plan: Plan): GuardApproval["objects"] {
  const out: GuardApproval["objects"] = [];
  for (const op of plan.operations) {
    for (const o of [op.resolved, ...op.cascade]) {
      if (!o) continue;
      const oid = oidOf(o.identity);
      if (DATA_TYPES.has(o.type)) out.push({ type: o.type, relation: o.name, ...(oid ? { oid } : {}) });
      else if (o.type === "column" && o.table)
        out.push({
          type: "column",
          relation: o.table,
          column: o.name.slice(o.table.length + 1),
          ...(oid ? { oid } : {}),
        });
    }
    // ALTER TABLE … DROP COLUMN / ALTER COLUMN … TYPE: the target is the column, resolved as its table.
    if (op.target?.type === "column" && op.resolved && op.resolved.type === "table") {
      const oid = oidOf(op.resolved.identity);
      out.push({
        type: "column",
        relation: op.resolved.name,
        column: op.target.name.slice(op.target.name.indexOf(".") + 1),
        ...(oid ? { oid } : {}),
      });
    }
  }
  const seen = new Set<string>();
  return out.filter((o) => {
    const key = `${o.type}|${o.relation}|${o.column ?? ""}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A one-line summary of a guard's state, for lifeline status. */
export function guardRisk(state: GuardState): string | null {
  if (!state.installed) return null;
  if (state.problems.length === 0) return null;
  return `database guard weakened: ${state.problems.slice(0, 3).join("; ")}${state.problems.length > 3 ? `; and ${state.problems.length - 3} more` : ""} (lifeline guard status)`;
}
