import type { AuditEntry } from "../../core/audit/chain.js";

function auditWhat(e: AuditEntry): string {
  if (e.damaged !== undefined) return `DAMAGED: ${e.damaged}`;
  const data = e.data;
  if (e.kind === "admission" && typeof data.command === "string" && typeof data.reason === "string") {
    // The webhook's decisions: what was asked and why it passed or not (the grant and its reason, the run).
    return `${data.command}: ${data.reason}`.replace(/\s+/g, " ").slice(0, 200);
  }
  const what =
    typeof data.command === "string"
      ? data.command
      : typeof data.reason === "string"
        ? data.reason
        : typeof data.approval === "string"
          ? data.approval
          : recoveryWhat(e);
  return what.replace(/\s+/g, " ").slice(0, 80);
}

/** restore / standby / discard entries: what was restored where. */
function recoveryWhat(e: AuditEntry): string {
  const d = e.data;
  const target = typeof d.target === "string" ? d.target : "";
  if (e.kind === "discard") return `dropped ${typeof d.database === "string" ? d.database : "?"} (${target})`;
  if (e.kind !== "restore" && e.kind !== "standby") return "";
  const point = typeof d.restorePointId === "string" ? d.restorePointId : "?";
  const mode = typeof d.mode === "string" ? ` ${d.mode}` : "";
  return `${e.kind}${mode} ${point} → ${target}${d.verified === true ? " (verified)" : ""}`;
}

/** The audit log as a table: a header, and columns as wide as their widest value. */
export function renderAuditTable(entries: readonly AuditEntry[]): string {
  const rows = entries.map((e) => [
    String(e.seq),
    e.at.slice(0, 19).replace("T", " "),
    e.kind,
    e.identity,
    e.asset ?? "-",
    e.planId ? e.planId.slice(0, 12) : "-",
    e.damaged !== undefined
      ? "?"
      : typeof e.data.result === "string"
        ? // A webhook decision on `kubectl … --dry-run=server`: nothing was going to change.
          `${e.data.result}${e.kind === "admission" && e.data.dryRun === true ? " (dry run)" : ""}`
        : typeof e.data.status === "string"
          ? e.data.status
          : "-",
    auditWhat(e),
  ]);
  const header = ["SEQ", "AT (UTC)", "KIND", "IDENTITY", "ASSET", "PLAN", "RESULT", "WHAT"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === 0 ? c.padStart(widths[0] ?? 0) : i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0),
      )
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
