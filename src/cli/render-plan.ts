import type { Plan } from "../app/plan.js";
import { formatBytes } from "../core/duration.js";
import type { AffectedObject } from "../core/plan.js";

const n = (value: number) => value.toLocaleString("en-US");

function size(rows: number | null, exact: boolean, bytes: number | null): string {
  const parts: string[] = [];
  if (rows !== null) parts.push(`${exact ? "" : "~"}${n(rows)} rows`);
  if (bytes !== null) parts.push(formatBytes(bytes));
  return parts.join(", ");
}

function cascadeLine(c: AffectedObject): string {
  const amount = size(c.rows, c.rowsExact, c.dataLoss === "destructive" ? c.bytes : null);
  return `       + ${c.type} ${c.name} — ${c.how}${amount ? `: ${amount}` : ""}`;
}

export function planJson(plan: Plan) {
  return {
    planId: plan.planId,
    asset: plan.asset,
    verdict: plan.verdict,
    operations: plan.operations.map((op) => ({
      kind: op.kind,
      statement: op.statement,
      target:
        op.resolved?.name ??
        (op.target ? [op.target.schema, op.target.name].filter(Boolean).join(".") : null),
      identity: op.resolved?.identity ?? null,
      dataLoss: op.dataLoss,
      reason: op.reason,
      rows: op.rows,
      rowsExact: op.resolved?.rowsExact ?? false,
      bytes: op.bytes,
      cascade: op.cascade,
      notes: op.notes,
    })),
    dependents: [
      ...plan.dependents,
      ...plan.consumers.map((c) => ({
        kind: "client",
        name: `${c.application} (${c.user}${c.address ? `@${c.address}` : ""}, ${c.connections} connection${c.connections > 1 ? "s" : ""})`,
        on: plan.asset,
        how: "pg_stat_activity",
      })),
    ],
    recoverability: plan.recoverability,
    requirements: plan.requirements,
    planningMs: plan.planningMs,
  };
}

export function renderPlan(plan: Plan): string {
  const unmet = plan.requirements.filter((r) => !r.met).length;
  const head =
    plan.verdict === "allow"
      ? "ALLOW"
      : plan.verdict === "deny"
        ? "DENY"
        : `REQUIRE (${unmet} requirement${unmet === 1 ? "" : "s"} not met)`;
  const lines = [`Plan ${plan.planId.slice(0, 12)} for ${plan.asset}: ${head}`, "", "What it does"];
  plan.operations.forEach((op, i) => {
    const what =
      op.resolved?.name ?? (op.target ? [op.target.schema, op.target.name].filter(Boolean).join(".") : "");
    const amount = size(op.rows, op.resolved?.rowsExact ?? false, op.bytes);
    lines.push(`  ${i + 1}. ${op.statement.replace(/\s+/g, " ").slice(0, 100)}`);
    lines.push(
      `     ${op.dataLoss.toUpperCase()}${what ? ` ${what}` : ""}${amount ? ` (${amount})` : ""}: ${op.reason}`,
    );
    for (const c of op.cascade) lines.push(cascadeLine(c));
    for (const note of op.notes) lines.push(`       ! ${note}`);
  });
  if (plan.dependents.length > 0 || plan.consumers.length > 0) {
    lines.push("", "Who depends on it");
    for (const d of plan.dependents) lines.push(`  - ${d.kind} ${d.name} → ${d.on} (${d.how})`);
    for (const c of plan.consumers) {
      lines.push(
        `  - connected now: ${c.application} as ${c.user}${c.address ? `@${c.address}` : ""} (${c.connections} connection${c.connections > 1 ? "s" : ""})`,
      );
    }
  }
  lines.push("", "How you would get it back", `  ${plan.recoverability.summary}`);
  if (plan.requirements.length > 0) {
    lines.push("", "What the policy requires");
    for (const r of plan.requirements) {
      lines.push(`  ${r.met ? "✓" : "✗"} ${r.detail}`);
      if (r.fix) lines.push(`      → ${r.fix}`);
    }
  }
  return lines.join("\n");
}
