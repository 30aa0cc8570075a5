import type { ProtectChange, ProtectPlan, ScanResult } from "../../app/k8s.js";

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
    return `${plan.undo ? "Restored" : "Protected"} ${done.length} volume${done.length === 1 ? "" : "s"} of ${plan.asset}${plan.undo ? "" : `; undo with: lifeline k8s protect ${plan.asset} --undo`}`;
  }
  return `Stopped after ${done.length} of ${plan.changes.length} volumes; what was changed is recorded (lifeline k8s protect ${plan.asset} --undo puts it back)`;
}
