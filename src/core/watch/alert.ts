/**
 * An alert as people read it (a Slack-compatible message) and as the audit log records it (kind
 * "alert", state open or resolved). Pure.
 */
import type { AuditEntry } from "../audit/chain.js";
import { formatDuration } from "../duration.js";
import { alertOpenedAt } from "../posture/check.js";
import type { Dependent } from "../plan/policy.js";
import { ALERT_KINDS, type AlertKind, type Baseline, type OpenAlert, type ResolvedAlert } from "./detect.js";
import type { PostureSample } from "./sample.js";

/** Where the commands an alert gives point (URLs without password). */
export interface AlertTargets {
  /** A database beside the asset's to restore a copy into (for a table that still exists). */
  recoverTo: string;
  /** Where a standby would go. */
  standbyTo: string;
}

/** The way back the alert names: the newest verified restore point and the exact commands. */
export interface WayBack {
  restorePoint: { id: string; snapshotTime: string; drilledAt: string } | null;
  /** The lost table is not in that restore point (created after it). */
  notContained: boolean;
  commands: string[];
}

function tableOf(baseline: Baseline): string | null {
  return baseline.table?.name ?? null;
}

/** The exact `lifeline restore …` / `lifeline standby …` commands for this alert. */
export function wayBack(
  asset: string,
  alert: Pick<OpenAlert, "kind" | "baseline">,
  posture: PostureSample | null,
  targets: AlertTargets,
): WayBack {
  const verified = posture?.verified ?? null;
  const point = verified ? ` --restore-point ${verified.id}` : "";
  const standby = `lifeline standby ${asset} --to ${targets.standbyTo}`;
  const table = tableOf(alert.baseline);
  const notContained =
    table !== null && verified !== null && verified.tables !== null && !verified.tables.includes(table);
  const commands: string[] = [];
  const kind: AlertKind = alert.kind;
  if (verified === null && kind !== "rpo-breached") {
    commands.push(`lifeline backup ${asset} && lifeline drill ${asset}`);
    return { restorePoint: null, notContained, commands };
  }
  switch (kind) {
    case "table-dropped":
      if (!notContained) commands.push(`lifeline restore ${asset} --tables ${table}${point}`, standby);
      break;
    case "table-truncated":
    case "rows-fell":
      // restore --tables never overwrites a table that exists: a copy beside it, to compare and copy rows back.
      if (!notContained)
        commands.push(`lifeline restore ${asset} --tables ${table} --to ${targets.recoverTo}${point}`);
      commands.push(`lifeline restore ${asset} --in-place${point}`);
      break;
    case "database-missing":
    case "claim-deleted":
    case "volume-deleted":
      commands.push(`lifeline restore ${asset} --in-place${point}`, standby);
      break;
    case "database-unreachable":
      commands.push(standby);
      break;
    case "reclaim-delete":
      commands.push(`lifeline k8s protect ${asset}`);
      break;
    case "rpo-breached":
      commands.push(`lifeline backup ${asset} && lifeline drill ${asset}`);
      break;
    case "standby-behind":
      commands.push(`lifeline standby ${asset} --refresh`);
      break;
  }
  return {
    restorePoint: verified
      ? { id: verified.id, snapshotTime: verified.snapshotTime, drilledAt: verified.drilledAt }
      : null,
    notContained,
    commands,
  };
}

const TITLES: Record<AlertKind, string> = {
  "table-dropped": "was dropped",
  "table-truncated": "was truncated",
  "rows-fell": "lost most of its rows",
  "database-missing": "no longer exists",
  "database-unreachable": "cannot be reached",
  "claim-deleted": "was deleted",
  "volume-deleted": "was deleted",
  "reclaim-delete": "now reclaims with Delete",
  "rpo-breached": "passed the RPO",
  "standby-behind": "fell behind",
};

function dependentLine(d: Dependent): string {
  // "foreign key public.orders (orders_product_id_fkey)" says how already; a view says it through pg_depend.
  return d.how.startsWith(d.kind) ? `${d.kind} ${d.name}` : `${d.kind} ${d.name} via ${d.how}`;
}

const ago = (now: Date, iso: string) =>
  `${formatDuration(Math.max(0, (now.getTime() - Date.parse(iso)) / 1000))} ago`;

/** The message a person reads in the channel: what, before → after, who depends on it, the way back. */
export function alertText(alert: OpenAlert, way: WayBack, now: Date): string {
  const lines = [`:rotating_light: lifeline: ${alert.asset} — ${alert.object} ${TITLES[alert.kind]}`];
  lines.push(`before → after: ${alert.before} → ${alert.after}`);
  lines.push(
    alert.dependents.length > 0
      ? `dependents: ${alert.dependents.map(dependentLine).join("; ")}`
      : "dependents: none found",
  );
  const p = way.restorePoint;
  if (p) {
    lines.push(
      `newest verified restore point: ${p.id} (taken ${ago(now, p.snapshotTime)}, drilled ${ago(now, p.drilledAt)})` +
        (way.notContained ? ` — it does not contain ${tableOf(alert.baseline) ?? "this"}` : ""),
    );
  } else {
    lines.push("newest verified restore point: none");
  }
  for (const [i, c] of way.commands.entries()) lines.push(`${i === 0 ? "way back" : "or"}: ${c}`);
  return lines.join("\n");
}

export function resolvedText(alert: ResolvedAlert): string {
  const lasted = formatDuration(
    Math.max(0, (Date.parse(alert.resolvedAt) - Date.parse(alert.openedAt)) / 1000),
  );
  return `:white_check_mark: lifeline: ${alert.asset} — resolved: ${alert.object} ${TITLES[alert.kind]} (open ${lasted}): ${alert.reason}`;
}

/** The audit entry's data for an alert that opens (kind "alert"): everything needed to check it later. */
/**
 * The audit entries of the watch follow the convention of every `alert` entry (core/posture/check:
 * data { alert, key, state, message }, key stable while the condition lasts, `status --check` fails
 * while one is open): alert is the watch's kind (table-dropped …), key `<asset>:<kind>:<object>`.
 */
function auditKey(alert: Pick<OpenAlert, "asset" | "key">): string {
  return `${alert.asset}:${alert.key}`;
}

export function openedAuditData(alert: OpenAlert, way: WayBack, text: string): Record<string, unknown> {
  return {
    state: "open",
    alert: alert.kind,
    key: auditKey(alert),
    message: text,
    object: alert.object,
    before: alert.before,
    after: alert.after,
    openedAt: alert.openedAt,
    baseline: alert.baseline as Record<string, unknown>,
    dependents: alert.dependents.map((d) => ({ ...d })),
    restorePoint: way.restorePoint,
    commands: way.commands,
  };
}

export function resolvedAuditData(alert: ResolvedAlert): Record<string, unknown> {
  return {
    state: "resolved",
    alert: alert.kind,
    key: auditKey(alert),
    message: resolvedText(alert),
    object: alert.object,
    openedAt: alert.openedAt,
    resolvedAt: alert.resolvedAt,
    reason: alert.reason,
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function baselineFrom(v: unknown): Baseline {
  if (!isRecord(v)) return {};
  const out: Baseline = {};
  const t = v.table;
  if (
    isRecord(t) &&
    typeof t.identity === "string" &&
    typeof t.name === "string" &&
    typeof t.rows === "number"
  )
    out.table = { identity: t.identity, name: t.name, rows: t.rows };
  const c = v.claim;
  if (isRecord(c) && typeof c.name === "string")
    out.claim = { name: c.name, volume: typeof c.volume === "string" ? c.volume : null };
  return out;
}

function dependentsFrom(v: unknown): Dependent[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((d) =>
    isRecord(d) &&
    typeof d.kind === "string" &&
    typeof d.name === "string" &&
    typeof d.on === "string" &&
    typeof d.how === "string"
      ? [{ kind: d.kind, name: d.name, on: d.on, how: d.how }]
      : [],
  );
}

/**
 * The watch's alerts still open according to the audit log (entries of kind "alert" in chain
 * order; the last entry per key says open), with what they remember of the state before the loss:
 * what a restarted server carries on with. (`status --check` reads every open alert, the watch's
 * and the scheduled jobs', with core/posture/check's openAlerts.)
 */
export function openWatchAlerts(entries: readonly AuditEntry[]): OpenAlert[] {
  const last = new Map<string, AuditEntry>();
  for (const e of entries) {
    if (e.kind !== "alert" || e.damaged !== undefined || typeof e.data.key !== "string") continue;
    last.set(e.data.key, e);
  }
  const open: OpenAlert[] = [];
  for (const e of last.values()) {
    const d = e.data;
    const kind = ALERT_KINDS.find((k) => k === d.alert);
    const prefix = `${e.asset ?? ""}:`;
    if (d.state !== "open" || !kind || typeof d.key !== "string" || !d.key.startsWith(prefix)) continue;
    open.push({
      key: d.key.slice(prefix.length),
      kind,
      asset: e.asset ?? "",
      object: typeof d.object === "string" ? d.object : d.key,
      before: typeof d.before === "string" ? d.before : "",
      after: typeof d.after === "string" ? d.after : "",
      dependents: dependentsFrom(d.dependents),
      baseline: baselineFrom(d.baseline),
      openedAt: alertOpenedAt(e),
    });
  }
  return open;
}
