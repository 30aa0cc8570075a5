import { formatDuration } from "../../core/duration.js";
import type { UnfinishedExecution } from "../../core/audit/runs.js";
import type { BreakGlass, PlanRecord, StatementResult } from "../../core/approval/approval.js";
import { renderStatements } from "./run.js";
import { renderStoredPlan, type StoredPlanView } from "./stored-plan.js";

export function renderBreakGlass(grants: readonly BreakGlass[], now: Date): string[] {
  return grants.map(
    (g) =>
      `BREAK-GLASS active on ${g.asset}: ${g.identity} may run without approvals for ${formatDuration((new Date(g.expiresAt).getTime() - now.getTime()) / 1000)} more (${g.reason}; ${g.id})`,
  );
}

/**
 * Executions that started and never recorded an outcome (`status`): what ran, on what, by whom and
 * when, and what to do about it, one per line.
 */
export function renderUnfinished(
  unfinished: readonly {
    planId: string;
    asset: string | null;
    command: string;
    identity: string;
    at: string;
  }[],
): string[] {
  return unfinished.map((u) => {
    const id = u.planId.slice(0, 12);
    const command = u.command.length > 200 ? `${u.command.slice(0, 200)}…` : u.command;
    const target = u.asset ? `${u.asset}'s database or cluster` : "the database or cluster it ran on";
    return `UNFINISHED${u.asset ? ` on ${u.asset}` : ""}: \`${command}\` (plan ${id}) started by ${u.identity} at ${u.at} and recorded no outcome: it was killed, or is still running. See what it ran: lifeline show ${id}; check ${target} before running it again.`;
  });
}

/** A recorded plan with its approvals, their uses, and its executions (`lifeline show`). */
export function renderShown(
  plan: PlanRecord,
  approvals: {
    id: string;
    by: string;
    comment: string | null;
    expiresAt: string;
    uses: number;
    used: number;
    state: string;
  }[],
  executions: {
    id: string;
    identity: { id: string };
    startedAt: string;
    result: string;
    statements?: StatementResult[];
    detail: string | null;
  }[],
  unfinished: readonly UnfinishedExecution[] = [],
  view: StoredPlanView = {},
): string {
  const lines = [
    renderStoredPlan(plan, view),
    "",
    `Requested by ${plan.requestedBy.id} at ${plan.createdAt}`,
  ];
  lines.push("", "Approvals");
  if (approvals.length === 0)
    lines.push(
      plan.verdict === "allow"
        ? "  none needed: the policy allows this plan"
        : `  none yet: another person runs lifeline approve ${plan.planId.slice(0, 12)}`,
    );
  for (const a of approvals)
    lines.push(
      `  ${a.id} by ${a.by}: ${a.state} (${a.used} of ${a.uses} use${a.uses === 1 ? "" : "s"} taken), until ${a.expiresAt}${a.comment ? ` ("${a.comment}")` : ""}`,
    );
  lines.push("", "Executions");
  if (executions.length === 0 && unfinished.length === 0) lines.push("  none");
  for (const e of executions) {
    lines.push(
      `  ${e.id} ${e.startedAt} by ${e.identity.id}: ${e.result}${e.detail ? ` — ${e.detail}` : ""}`,
    );
    lines.push(...renderStatements(e.statements).map((l) => `  ${l}`));
  }
  for (const u of unfinished)
    lines.push(
      `  started ${u.at} by ${u.identity} (audit entry ${u.seq}): no outcome recorded — the process was killed or is still running; check the database or cluster`,
    );
  return lines.join("\n");
}
