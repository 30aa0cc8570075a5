/**
 * What the webhook says in kubectl's output: a denial in a few lines (what would be destroyed and
 * why, the asset and its restore points, what is required, the commands to go through lifeline),
 * and a dry run's plan summary as warnings. Pure.
 */
import { displayCommand } from "../kubernetes/command/index.js";
import { formatBinaryBytes } from "../duration.js";
import type { Plan } from "../plan/plan.js";
import type { Requirement } from "../plan/policy.js";

/** kubectl prints every line; the API server limits each warning's length. */
const MAX_WARNING = 250;
const MAX_OPERATIONS = 3;

function clip(line: string, max: number): string {
  const flat = line.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

type Operation = Plan["operations"][number];

function operationLine(op: Operation): string {
  const target = op.resolved?.name ?? op.target?.name ?? "(unknown)";
  const type = op.resolved?.type ?? op.target?.type ?? "object";
  const size = op.bytes !== null ? ` (${formatBinaryBytes(op.bytes)})` : "";
  const gone = op.cascade
    .filter((c) => c.dataLoss === "destructive" && (c.type === "pv" || c.type === "pvc"))
    .map((c) => `${c.type} ${c.name}${c.bytes !== null ? ` (${formatBinaryBytes(c.bytes)})` : ""}`);
  const withIt =
    gone.length > 0
      ? `; with it ${gone.slice(0, 3).join(", ")}${gone.length > 3 ? ` and ${gone.length - 3} more` : ""}`
      : "";
  return `${op.dataLoss.toUpperCase()} ${type} ${target}${size}: ${op.reason}${withIt}`;
}

/** The operations worth naming first: those that lose data. */
function shownOperations(plan: Plan): Operation[] {
  const losing = plan.operations.filter((o) => o.dataLoss === "destructive" || o.dataLoss === "unknown");
  return (losing.length > 0 ? losing : plan.operations).slice(0, MAX_OPERATIONS);
}

function assetLines(plan: Plan): string[] {
  if (plan.assets.length === 0) {
    return plan.unbound
      ? ["no asset in lifeline.yaml covers this data: lifeline has no restore point of it"]
      : [];
  }
  return plan.assets.map((a) => `asset ${a.name} (${a.tier}): ${a.recoverability.summary}`);
}

function requirementLine(r: Requirement): string {
  // An approval counts for `lifeline run`, which uses it: the plan id is approvable once
  // `lifeline plan` (or `run`) has recorded it, not from the webhook's answer alone.
  const fix =
    r.kind === "approvals" && !r.met
      ? "lifeline plan records the plan, another person approves it, lifeline run runs it"
      : r.fix;
  return `${r.detail}${fix ? ` (${fix})` : ""}`;
}

export interface DenialInput {
  plan: Plan;
  /** The kubectl command the request amounts to. */
  argv: readonly string[];
  /** The requirements still unmet after approvals and break-glass were counted. */
  unmet: readonly Requirement[];
  /** Set when the plan is approved: approvals are used by `lifeline run`, not by a plain request. */
  approvedPlan?: string | null;
}

/** The denial a person reads in kubectl's output. */
export function denialMessage(input: DenialInput): string {
  const { plan } = input;
  const command = displayCommand(input.argv);
  const head =
    plan.verdict === "deny" ? "lifeline denies this change" : "lifeline requires more before this change";
  const lines = [`${head} (plan ${plan.planId.slice(0, 12)}):`];
  for (const op of shownOperations(plan)) lines.push(`  ${clip(operationLine(op), 400)}`);
  if (plan.operations.length > MAX_OPERATIONS)
    lines.push(`  … ${plan.operations.length - MAX_OPERATIONS} more`);
  for (const a of assetLines(plan)) lines.push(`  ${clip(a, 300)}`);
  if (input.approvedPlan) {
    lines.push(
      `  plan ${input.approvedPlan.slice(0, 12)} is approved, but an approval is used by the execution it authorises: run it through lifeline`,
    );
  } else {
    const unmet = input.unmet.filter((r) => !r.met);
    if (unmet.length > 0) lines.push(`  required: ${clip(unmet.map(requirementLine).join("; "), 500)}`);
  }
  lines.push(`  see the plan: lifeline plan -- ${command}`);
  lines.push(`  run it through lifeline: lifeline run -- ${command}`);
  return lines.join("\n");
}

/** A dry run's plan summary, one warning a line. */
export function planWarnings(plan: Plan, verdict: string): string[] {
  const lines = [`lifeline: verdict ${verdict} (plan ${plan.planId.slice(0, 12)})`];
  for (const op of shownOperations(plan)) lines.push(`lifeline: ${operationLine(op)}`);
  for (const a of assetLines(plan)) lines.push(`lifeline: ${a}`);
  // One workload can depend on several of the objects (each pod of a StatefulSet): named once.
  const dependents = [...new Set(plan.dependents.map((d) => `${d.kind} ${d.name}`))];
  if (dependents.length > 0) {
    lines.push(
      `lifeline: depends on it: ${dependents.slice(0, 5).join(", ")}${dependents.length > 5 ? ` and ${dependents.length - 5} more` : ""}`,
    );
  }
  for (const r of plan.requirements.filter((x) => !x.met))
    lines.push(`lifeline: required: ${requirementLine(r)}`);
  return lines.map((l) => clip(l, MAX_WARNING));
}
