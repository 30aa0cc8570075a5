import type { RunOutcome } from "../../app/run.js";
import type { StatementResult } from "../../core/approval/approval.js";
import { planJson, renderPlan } from "./plan.js";

export function runJson(outcome: RunOutcome) {
  return {
    status: outcome.status,
    planId: outcome.plan.planId,
    asset: outcome.plan.asset,
    command: outcome.plan.command,
    verdict: outcome.decision.verdict,
    requirements: outcome.decision.requirements,
    approvals: outcome.decision.approvals.map((a) => ({
      id: a.id,
      by: a.approver.id,
      comment: a.comment,
      expiresAt: a.expiresAt,
    })),
    ignoredApprovals: outcome.decision.ignored.map((x) => ({
      id: x.approval.id,
      by: x.approval.approver.id,
      why: x.why,
    })),
    breakGlass: outcome.decision.breakGlass,
    execution: outcome.execution,
    exitCode: outcome.exitCode,
    detail: outcome.detail,
    statements: outcome.execution.statements ?? null,
    plan: planJson(outcome.plan),
  };
}

export function renderRun(outcome: RunOutcome): string {
  const id = outcome.plan.planId.slice(0, 12);
  const lines: string[] = [];
  if (outcome.status === "blocked" || outcome.status === "drift") {
    lines.push(
      renderPlan({
        ...outcome.plan,
        verdict: outcome.decision.verdict,
        requirements: outcome.decision.requirements,
      }),
      "",
    );
    lines.push(`BLOCKED: nothing was run. ${outcome.detail ?? ""}`.trim());
    for (const x of outcome.decision.ignored)
      lines.push(`  approval ${x.approval.id} by ${x.approval.approver.id} does not count: ${x.why}`);
    const approval = outcome.decision.requirements.find((r) => r.kind === "approvals" && !r.met);
    if (approval && outcome.decision.verdict === "require") {
      lines.push(`  Ask another person to review and approve it: lifeline approve ${id}`);
      lines.push(`  (lifeline show ${id} prints the plan, its approvals and their uses)`);
      lines.push(`  Then run the same command again.`);
    }
    return lines.join("\n");
  }
  const how = outcome.decision.breakGlass
    ? `under break-glass ${outcome.decision.breakGlass.id} (${outcome.decision.breakGlass.reason})`
    : outcome.decision.approvals.length > 0
      ? `approved by ${outcome.decision.approvals.map((a) => a.approver.id).join(", ")}`
      : "allowed by the policy";
  if (outcome.status === "dry-run") {
    lines.push(`DRY RUN: plan ${id} is ${how}; lifeline would now run: ${outcome.plan.command.text}`);
  } else if (outcome.status === "executed") {
    lines.push(
      `EXECUTED plan ${id} (${how}) in ${(outcome.execution.durationMs / 1000).toFixed(1)}s; recorded as ${outcome.execution.id}`,
    );
    lines.push(...renderStatements(outcome.execution.statements));
  } else {
    lines.push(
      `FAILED plan ${id} (${how})${outcome.exitCode !== null ? `: exit code ${outcome.exitCode}` : ""}; recorded as ${outcome.execution.id}`,
    );
    if (outcome.detail) lines.push(`  ${outcome.detail}`);
  }
  return lines.join("\n");
}

/** What each SQL statement did, one line each. */
export function renderStatements(statements: readonly StatementResult[] | undefined): string[] {
  if (!statements || statements.length === 0) return [];
  const total = statements.reduce((sum, x) => sum + (x.rows ?? 0), 0);
  const counted = statements.some((x) => x.rows !== null);
  return [
    ...statements.map(
      (x, i) =>
        `  ${i + 1}. ${x.command}${x.rows === null ? "" : `: ${x.rows.toLocaleString("en-US")} row${x.rows === 1 ? "" : "s"} affected`}`,
    ),
    ...(counted && statements.length > 1
      ? [`  ${total.toLocaleString("en-US")} row${total === 1 ? "" : "s"} affected in all`]
      : []),
  ];
}
