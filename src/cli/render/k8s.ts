import type { ProtectChange, ProtectPlan, ScanResult } from "../../app/k8s.js";
import type { UnprotectResult } from "../../app/k8s-unprotect.js";
import type { RunOutcome } from "../../app/run.js";
import { displayCommand } from "../../core/kubernetes/command/index.js";
import { runJson } from "./run.js";

export function scanJson(result: ScanResult) {
  return {
    context: result.context,
    server: result.server,
    namespace: result.namespace,
    summary: {
      high: result.findings.filter((f) => f.severity === "high").length,
      medium: result.findings.filter((f) => f.severity === "medium").length,
      low: result.findings.filter((f) => f.severity === "low").length,
    },
    findings: result.findings,
  };
}

export function renderScan(result: ScanResult): string {
  const scope = result.namespace ? `namespace ${result.namespace}` : "all namespaces";
  const lines = [`Scan of context ${result.context} (${result.server}), ${scope}`];
  if (result.findings.length === 0) {
    lines.push(
      "",
      "No findings: no claim's data goes with a single delete, and every bound asset has a fresh verified restore point.",
    );
    return lines.join("\n");
  }
  const byNamespace = new Map<string, typeof result.findings>();
  for (const f of result.findings) {
    const key = f.namespace ?? "(cluster)";
    byNamespace.set(key, [...(byNamespace.get(key) ?? []), f]);
  }
  for (const [ns, findings] of [...byNamespace].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push("", ns);
    for (const f of findings) {
      lines.push(`  ${f.severity.toUpperCase().padEnd(6)} ${f.message}`);
      if (f.fix) lines.push(`         → ${f.fix}`);
    }
  }
  const high = result.findings.filter((f) => f.severity === "high").length;
  lines.push("", `${result.findings.length} finding${result.findings.length === 1 ? "" : "s"}, ${high} high`);
  return lines.join("\n");
}

export function renderProtectPlan(plan: ProtectPlan): string {
  const lines = [
    `${plan.undo ? "Undo protection of" : "Protect"} asset ${plan.asset} on context ${plan.context} (${plan.server})`,
  ];
  for (const k of plan.kept) lines.push(`  keep pv ${k.volume}: ${k.why}`);
  if (plan.changes.length === 0) {
    lines.push(
      plan.undo
        ? "  nothing to undo: no volume is still as protect left it"
        : `  nothing to change: every volume of ${plan.asset} already reclaims with Retain`,
    );
    return lines.join("\n");
  }
  for (const c of plan.changes) {
    lines.push(
      `  patch pv ${c.volume} (claim ${c.claim}): persistentVolumeReclaimPolicy ${c.from} → ${c.to}`,
    );
  }
  lines.push(
    plan.undo
      ? "  Afterwards, deleting these claims deletes their volumes and data again."
      : "  Afterwards, deleting these claims leaves the volumes Released, with their data, until someone deletes them.",
  );
  return lines.join("\n");
}

export function renderProtectDone(plan: ProtectPlan, done: readonly ProtectChange[]): string {
  if (done.length === plan.changes.length) {
    return `Protected ${done.length} volume${done.length === 1 ? "" : "s"} of ${plan.asset}; undo with: lifeline k8s protect ${plan.asset} --undo (through the gate)`;
  }
  return `Stopped after ${done.length} of ${plan.changes.length} volumes; what was changed is recorded (lifeline k8s protect ${plan.asset} --undo puts it back, through the gate)`;
}

/** What another person (or the runner, under break-glass) can do about a plan the gate stopped. */
export function unprotectNextSteps(
  asset: string,
  outcome: RunOutcome | null,
): { approve: string | null; breakGlass: string | null } {
  const approvals =
    outcome !== null &&
    (outcome.status === "blocked" || outcome.status === "drift") &&
    outcome.decision.verdict === "require" &&
    outcome.decision.requirements.some((r) => r.kind === "approvals" && !r.met);
  return {
    approve: approvals && outcome ? `lifeline approve ${outcome.plan.planId.slice(0, 12)}` : null,
    // A grant waives approvals only, and never for data no asset is bound to.
    breakGlass:
      approvals && outcome?.plan.unbound !== true
        ? `lifeline break-glass --asset ${asset} --for 30m --reason "…"`
        : null,
  };
}

export function unprotectJson(result: UnprotectResult) {
  return {
    ...result.protect,
    status: result.status,
    applied: result.status === "executed",
    done: result.done,
    byAnother: result.byAnother,
    plans: result.volumes.map((v) => ({
      volume: v.change.volume,
      claim: v.change.claim,
      from: v.change.from,
      to: v.change.to,
      command: displayCommand(v.argv),
      byAnother: v.byAnother,
      ...(v.byAnother
        ? { approve: null, breakGlass: null }
        : unprotectNextSteps(result.protect.asset, v.outcome)),
      run: v.outcome ? runJson(v.outcome) : null,
    })),
  };
}

function how(outcome: RunOutcome): string {
  const d = outcome.decision;
  return d.breakGlass
    ? `under break-glass ${d.breakGlass.id}`
    : d.approvals.length > 0
      ? `approved by ${d.approvals.map((a) => a.approver.id).join(", ")}`
      : "allowed by the policy";
}

/** The plans of `k8s protect --undo`, one per volume, and what the gate said of each. */
export function renderUnprotectPlans(result: UnprotectResult): string {
  const lines = [renderProtectPlan(result.protect)];
  if (result.volumes.length === 0) return lines[0] ?? "";
  lines.push("", "Each volume is planned as its kubectl command and goes through the gate:");
  for (const v of result.volumes) {
    const o = v.outcome;
    if (!o) {
      lines.push(`  pv ${v.change.volume}: not planned`);
      continue;
    }
    const id = o.plan.planId.slice(0, 12);
    if (v.byAnother) {
      lines.push(
        `  pv ${v.change.volume}: already ${v.change.to}: another run put it back meanwhile; nothing left to do (plan ${id})`,
      );
      continue;
    }
    const verdict =
      o.status === "blocked" || o.status === "drift"
        ? `BLOCKED (${o.decision.verdict})`
        : o.status === "failed"
          ? "FAILED"
          : `${o.decision.verdict.toUpperCase()} (${how(o)})`;
    lines.push(`  pv ${v.change.volume}: plan ${id} ${verdict}`, `    ${o.plan.command.text}`);
    for (const r of o.decision.requirements) {
      lines.push(`    ${r.met ? "met    " : "NOT MET"} ${r.detail}`);
      if (!r.met && r.fix && r.kind !== "approvals") lines.push(`            → ${r.fix}`);
    }
    for (const x of o.decision.ignored)
      lines.push(`    approval ${x.approval.id} by ${x.approval.approver.id} does not count: ${x.why}`);
    // A plain block is said by the requirements above; a deny, drift or failure by the detail.
    if (o.detail && (o.status === "drift" || o.status === "failed" || o.decision.verdict === "deny"))
      lines.push(`    ${o.detail}`);
    const next = unprotectNextSteps(result.protect.asset, o);
    if (next.approve)
      lines.push(`    another person reviews (lifeline show ${id}) and approves: ${next.approve}`);
    if (next.breakGlass)
      lines.push(
        `    or, in an emergency, waive approvals for yourself on ${result.protect.asset}: ${next.breakGlass}`,
      );
  }
  return lines.join("\n");
}

/** What happened, after the plans (see renderUnprotectPlans). */
export function renderUnprotectResult(result: UnprotectResult): string {
  const asset = result.protect.asset;
  const again = `lifeline k8s protect ${asset} --undo --yes`;
  const n = (count: number) => `${count} volume${count === 1 ? "" : "s"}`;
  const others = result.byAnother.length;
  const byAnother =
    others > 0
      ? `; another run at the same time put back ${others === 1 ? "the other" : `the other ${others}`}`
      : "";
  switch (result.status) {
    case "nothing":
      return "";
    case "done-by-another":
      return `Nothing to undo: another run at the same time already put every volume of ${asset} back to its policy before protect (${n(others)}); this one changed nothing.`;
    case "blocked":
      if (result.done.length > 0)
        return `Stopped after ${result.done.length} of ${n(result.volumes.length)}: the gate blocked the next (see above); what was put back is recorded (${again} continues)`;
      return `BLOCKED: nothing was changed. ${result.volumes.filter((v) => !v.byAnother && v.outcome?.status !== "dry-run" && v.outcome?.status !== "executed").length} of ${result.volumes.length - others} plans are not allowed yet; once each is, run again: ${again}`;
    case "dry-run":
      return `DRY RUN: nothing changed; every plan is allowed now; to apply: ${again}`;
    case "not-confirmed":
      return "nothing changed";
    case "executed":
      return `Restored ${n(result.done.length)} of ${asset}${byAnother}: deleting their claims deletes the volumes and their data again; protect again with: lifeline k8s protect ${asset}`;
    case "failed":
    case "interrupted":
      return `Stopped after ${result.done.length} of ${n(result.volumes.length)}${result.status === "interrupted" ? " (interrupted)" : ""}; what was put back is recorded (${again} continues)`;
  }
}
