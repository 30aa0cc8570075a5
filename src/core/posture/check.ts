/**
 * `lifeline status --check`: does any asset need a person now? An asset breaches when its newest
 * verified restore point is older than its RPO (or there is none), its last drill failed, or an
 * alert about it is open (a drop the watch detected, a scheduled backup or drill that failed its
 * last attempt). Pure: the caller passes postures and the audit log's `alert` entries (all of them,
 * or the latest of each alert: the catalog's latestAlerts).
 */
import type { AuditEntry } from "../audit/chain.js";
import { formatDuration } from "../duration.js";
import type { Posture } from "./posture.js";

export interface OpenAlert {
  asset: string | null;
  /** What the alert is about, stable while the condition lasts (de-duplication key), e.g. "shop:backup-failed". */
  key: string;
  alert: string;
  message: string;
  /**
   * When the alert opened: the entry's data.openedAt (carried forward by every repeat of a job
   * that keeps failing, and written by the watch), else the time of the latest open entry.
   */
  since: string;
  seq: number;
}

/** data.openedAt when it is a time, else the entry's own time (entries written before openedAt). */
export function alertOpenedAt(entry: Pick<AuditEntry, "at" | "data">): string {
  const openedAt = entry.data.openedAt;
  return typeof openedAt === "string" && !Number.isNaN(Date.parse(openedAt)) ? openedAt : entry.at;
}

/**
 * What a new `open` entry of an alert records: whether it repeats one open already (the channel
 * heard it then: no new message), and when the alert opened (the open one's time, kept across
 * repeats, so "open since" says when the failures began, not the last one).
 */
export function alertOpening(
  open: Pick<OpenAlert, "since"> | undefined,
  now: string,
): { repeated: boolean; openedAt: string } {
  return open ? { repeated: true, openedAt: open.since } : { repeated: false, openedAt: now };
}

/**
 * Which alert an `alert` entry is about: its data's key, else `<asset>:<alert>` (the catalog's
 * latestAlerts groups the entries by it, in SQL as here: migration 4).
 */
export function alertKey(entry: Pick<AuditEntry, "asset" | "data">): string {
  const alert = typeof entry.data.alert === "string" ? entry.data.alert : "alert";
  return typeof entry.data.key === "string" ? entry.data.key : `${entry.asset ?? ""}:${alert}`;
}

/**
 * Alerts whose latest `alert` entry (per key) has state "open". Entries of kind `alert` carry
 * data { alert, key, state: "open" | "resolved", message, openedAt? }; entries without a key count
 * by their alert name and asset.
 */
export function openAlerts(entries: readonly AuditEntry[]): OpenAlert[] {
  const latest = new Map<string, { entry: AuditEntry; state: unknown }>();
  for (const entry of [...entries].sort((a, b) => a.seq - b.seq)) {
    if (entry.kind !== "alert" || entry.damaged) continue;
    latest.set(alertKey(entry), { entry, state: entry.data.state });
  }
  const open: OpenAlert[] = [];
  for (const [key, { entry, state }] of latest) {
    if (state !== "open") continue;
    open.push({
      asset: entry.asset,
      key,
      alert: typeof entry.data.alert === "string" ? entry.data.alert : "alert",
      message: typeof entry.data.message === "string" ? entry.data.message : "",
      since: alertOpenedAt(entry),
      seq: entry.seq,
    });
  }
  return open;
}

export interface Breach {
  asset: string;
  kind: "rpo" | "drill-failed" | "alert";
  message: string;
}

export function postureBreaches(postures: readonly Posture[], alerts: readonly OpenAlert[]): Breach[] {
  const breaches: Breach[] = [];
  for (const p of postures) {
    if (!p.rpoMet)
      breaches.push({
        asset: p.name,
        kind: "rpo",
        message:
          p.rpoSeconds === null
            ? `${p.name} has no verified restore point (RPO target ${p.rpoTargetSeconds}s): run lifeline backup ${p.name} && lifeline drill ${p.name}`
            : `${p.name}'s newest verified restore point is ${formatDuration(p.rpoSeconds)} old, over its RPO of ${formatDuration(p.rpoTargetSeconds)}: run lifeline backup ${p.name} && lifeline drill ${p.name}`,
      });
    if (p.lastDrill?.result === "failed")
      breaches.push({
        asset: p.name,
        kind: "drill-failed",
        message: `${p.name}'s last drill (of ${p.lastDrill.restorePointId}, ${p.lastDrill.finishedAt}) FAILED: see lifeline drill ${p.name} --restore-point ${p.lastDrill.restorePointId}`,
      });
    for (const a of alerts.filter((x) => x.asset === p.name))
      breaches.push({
        asset: p.name,
        kind: "alert",
        message: `alert ${a.alert} open since ${a.since}: ${a.message}`,
      });
  }
  return breaches;
}
