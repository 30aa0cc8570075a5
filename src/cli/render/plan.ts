import type { Plan } from "../../core/plan/plan.js";
import { formatBinaryBytes, formatBytes, formatCount } from "../../core/duration.js";
import type { AffectedObject } from "../../core/plan/policy.js";

const n = formatCount;

function size(rows: number | null, exact: boolean, bytes: number | null, binary = false): string {
  const parts: string[] = [];
  if (rows !== null) parts.push(`${exact ? "" : "~"}${n(rows)} ${rows === 1 ? "row" : "rows"}`);
  if (bytes !== null) parts.push(binary ? formatBinaryBytes(bytes) : formatBytes(bytes));
  return parts.join(", ");
}

function cascadeLine(c: AffectedObject, sql: boolean): string {
  if (sql) {
    const amount = `${c.rowsBound && c.rows !== null ? "up to " : ""}${size(c.rows, c.rowsExact, c.dataLoss === "destructive" ? c.bytes : null)}`;
    return `       + ${c.type} ${c.name} — ${c.how}${amount ? `: ${amount}` : ""}`;
  }
  // Kubernetes: the class of every volume and claim matters (a namespace holds several).
  const amount =
    c.bytes !== null && (c.type === "pvc" || c.type === "pv") ? ` (${formatBinaryBytes(c.bytes)})` : "";
  const loss =
    c.type === "pvc" || c.type === "pv" || c.dataLoss === "destructive" ? ` ${c.dataLoss.toUpperCase()}` : "";
  return `       +${loss} ${c.type} ${c.name}${amount} — ${c.how}`;
}

function targetOf(op: Plan["operations"][number]): string | null {
  if (op.resolved) return op.resolved.name;
  if (!op.target) return null;
  // SQL objects are schema.name; Kubernetes objects namespace/name.
  const sep =
    op.target.type === "table" || op.target.type === "view" || op.kind.startsWith("drop") ? "." : "/";
  return [op.target.schema, op.target.name].filter(Boolean).join(sep);
}

export function planJson(plan: Plan) {
  return {
    planId: plan.planId,
    asset: plan.asset,
    assets: plan.assets.map((a) => a.name),
    command: plan.command,
    cluster: plan.cluster,
    verdict: plan.verdict,
    operations: plan.operations.map((op) => ({
      kind: op.kind,
      statement: op.statement,
      target: targetOf(op),
      targetType: op.resolved?.type ?? op.target?.type ?? null,
      identity: op.resolved?.identity ?? null,
      dataLoss: op.dataLoss,
      reason: op.reason,
      rows: op.rows,
      rowsExact: op.resolved?.rowsExact ?? false,
      // A lossless ALTER COLUMN … TYPE: whether PostgreSQL rewrites the table (false: catalog only).
      ...(op.rewrite !== undefined ? { rewrite: op.rewrite } : {}),
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
    recoverabilityByAsset: Object.fromEntries(plan.assets.map((a) => [a.name, a.recoverability])),
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
  const isSql = plan.command.kind === "sql";
  const lines = isSql
    ? [`Plan ${plan.planId.slice(0, 12)} for ${plan.asset}: ${head}`]
    : plan.command.kind === "lifeline"
      ? [
          `Plan ${plan.planId.slice(0, 12)} for: ${plan.command.text}`,
          `  asset ${plan.assets.map((a) => (a.tier ? `${a.name} (${a.tier})` : a.name)).join(", ")}: ${head}`,
        ]
      : [
          `Plan ${plan.planId.slice(0, 12)} for: ${plan.command.text}`,
          `  ${plan.cluster ? `context ${plan.cluster.context} (${plan.cluster.server})` : "not resolved against a cluster"}; ${plan.assets.length > 0 ? `asset${plan.assets.length > 1 ? "s" : ""} ${plan.assets.map((a) => a.name).join(", ")}` : "no asset bound"}: ${head}`,
        ];
  // Kubernetes quantities are binary (8 GiB); database sizes decimal (221 kB), as in their cascade lines.
  const database = isSql || plan.command.kind === "lifeline";
  lines.push("", "What it does");
  plan.operations.forEach((op, i) => {
    const what = targetOf(op) ?? "";
    const amount = size(op.rows, op.resolved?.rowsExact ?? false, op.bytes, !database);
    if (isSql) lines.push(`  ${i + 1}. ${op.statement.replace(/\s+/g, " ").slice(0, 100)}`);
    const object = isSql ? what : what && `${op.resolved?.type ?? op.target?.type ?? ""} ${what}`;
    lines.push(
      `${isSql ? "     " : `  ${i + 1}. `}${op.dataLoss.toUpperCase()}${object ? ` ${object}` : ""}${amount ? ` (${amount})` : ""}: ${op.reason}`,
    );
    for (const c of op.cascade) lines.push(cascadeLine(c, database));
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
  lines.push("", "How you would get it back");
  if (plan.assets.length > 1)
    for (const a of plan.assets) lines.push(`  ${a.name}: ${a.recoverability.summary}`);
  else lines.push(`  ${plan.recoverability.summary}`);
  if (plan.requirements.length > 0) {
    lines.push("", "What the policy requires");
    for (const r of plan.requirements) {
      lines.push(`  ${r.met ? "✓" : "✗"} ${r.detail}`);
      if (r.fix) lines.push(`      → ${r.fix}`);
    }
  }
  return lines.join("\n");
}
