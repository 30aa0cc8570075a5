import type { ServiceRedirect, StandbyOutcome } from "../../app/standby.js";
import { formatDuration } from "../../core/duration.js";
import { displayCommand } from "../../core/kubernetes/command/index.js";
import type { Plan } from "../../core/plan/plan.js";
import { count } from "../io.js";
import { planJson, renderPlan } from "./plan.js";

/** What `standby` found about sending the asset's dependents to the standby (Kubernetes only). */
export type Redirection =
  | { kind: "none" }
  | { kind: "unavailable"; reason: string }
  | { kind: "patch"; redirect: ServiceRedirect; plan: Plan | null; planError: string | null };

function age(seconds: number | null): string {
  return seconds === null ? "age unknown" : `${formatDuration(seconds)} old`;
}

export function standbyJson(outcome: StandbyOutcome, redirection: Redirection) {
  return {
    standby: outcome.standby,
    dependents: {
      url: outcome.url,
      readOnly: true,
      snapshotTime: outcome.snapshotTime,
      ageSeconds: outcome.ageSeconds === null ? null : Math.round(outcome.ageSeconds),
      kubernetes:
        redirection.kind === "patch"
          ? {
              command: displayCommand(redirection.redirect.argv),
              undo: displayCommand(redirection.redirect.undo),
              notes: redirection.redirect.notes,
              applied: false,
              plan: redirection.plan ? planJson(redirection.plan) : null,
              planError: redirection.planError,
            }
          : redirection.kind === "unavailable"
            ? { command: null, unavailable: redirection.reason, applied: false }
            : null,
    },
  };
}

function indent(text: string, by = "    "): string {
  return text
    .split("\n")
    .map((line) => (line === "" ? line : by + line))
    .join("\n");
}

export function renderStandby(outcome: StandbyOutcome, redirection: Redirection): string {
  const s = outcome.standby;
  const served = `restore point ${s.restorePointId} (snapshot ${age(outcome.ageSeconds)})`;
  const lines = s.unchanged
    ? [
        `= standby of ${s.asset} unchanged: it already serves ${served}, the newest verified one`,
        `  where      ${outcome.url}`,
        `  read-only  yes: writes fail (default_transaction_read_only)`,
      ]
    : [
        `✓ standby of ${s.asset} ${s.replaced ? "refreshed" : "ready"}: ${served}, verified`,
        `  where      ${outcome.url}`,
        `  read-only  yes: writes fail (default_transaction_read_only)`,
        `  contents   ${count(s.tables, "table")} (${count(s.rows, "row")}), identical to the restore point`,
        `  took       restore ${s.restoreSeconds}s, verify ${s.verifySeconds}s${s.swap ? `; swapped in by rename in ${s.swap.unavailableMs} ms${s.swap.terminated > 0 ? ` (${count(s.swap.terminated, "reader")} disconnected)` : ""}` : ""}`,
        ...(s.replaced ? [`  replaced   the standby of restore point ${s.replaced} (dropped)`] : []),
      ];
  lines.push(
    "",
    `Dependents can read from ${outcome.url} (give them its password yourself; lifeline never prints it).`,
  );
  if (redirection.kind === "unavailable") {
    lines.push(`  no kubectl patch to send them there: ${redirection.reason}`);
  } else if (redirection.kind === "patch") {
    const r = redirection.redirect;
    lines.push(
      `To send the dependents of Service ${r.service} (namespace ${r.namespace}) there, NOT applied by lifeline:`,
      `  ${displayCommand(r.argv)}`,
      ...r.notes.map((n) => `  ! ${n}`),
      `  to send them back: ${displayCommand(r.undo)}`,
    );
    if (redirection.plan) {
      lines.push(
        "",
        "  Its plan (as `lifeline plan -- kubectl patch …` shows it):",
        indent(renderPlan(redirection.plan)),
      );
    } else {
      lines.push(`  its plan could not be made: ${redirection.planError ?? "unknown reason"}`);
    }
  }
  return lines.join("\n");
}
