/**
 * Drop detection: two samples of an asset compared, and the alerts that are open checked against
 * the newest one. Pure. A loss is seen between two samples (the table is there, then it is not);
 * the alert it opens stays open while the loss lasts (the table is not back with its rows), so that
 * it is sent once and a "resolved" message follows when it clears.
 */
import { formatDuration } from "../duration.js";
import type { Dependent } from "../plan/policy.js";
import type { AssetSample, ClaimSample, DatabaseSample, TableSample } from "./sample.js";

export const ALERT_KINDS = [
  "table-dropped",
  "table-truncated",
  "rows-fell",
  "database-missing",
  "database-unreachable",
  "claim-deleted",
  "volume-deleted",
  "reclaim-delete",
  "rpo-breached",
  "standby-behind",
] as const;

export type AlertKind = (typeof ALERT_KINDS)[number];

export interface WatchThresholds {
  /** Rows must fall by more than this share of the previous estimate (0.5: 50 %) … */
  fallRatio: number;
  /** … and by at least this many rows. */
  fallRows: number;
}

export const DEFAULT_THRESHOLDS: WatchThresholds = { fallRatio: 0.5, fallRows: 1000 };

/** What an alert remembers of the state before the loss, to tell when it is over. */
export interface Baseline {
  table?: { identity: string; name: string; rows: number };
  claim?: { name: string; volume: string | null };
}

/** A condition found in one round, before it becomes (or matches) an open alert. */
export interface Condition {
  /** Stable while the condition lasts: the same key is one alert (deduplicated). */
  key: string;
  kind: AlertKind;
  /** The object, as a person names it: "table public.products", "database shop", "claim data/pg-0". */
  object: string;
  before: string;
  after: string;
  dependents: Dependent[];
  baseline: Baseline;
}

export interface OpenAlert extends Condition {
  asset: string;
  openedAt: string;
}

export interface ResolvedAlert extends OpenAlert {
  resolvedAt: string;
  /** What cleared it, for the message. */
  reason: string;
}

const rows = (n: number) => `${Math.round(n).toLocaleString("en-US")} row${Math.round(n) === 1 ? "" : "s"}`;

/** Rows fell by more than the threshold (both the share and the count). */
export function rowsFell(before: number, after: number, t: WatchThresholds): boolean {
  const lost = before - after;
  return lost > before * t.fallRatio && lost >= t.fallRows;
}

/** The rows are back (at least the share the threshold allows to lose), whatever their number. */
function rowsBack(before: number, after: number, t: WatchThresholds): boolean {
  return after >= before * (1 - t.fallRatio);
}

function countersReset(before: TableSample, after: TableSample): boolean {
  if (!before.changes || !after.changes) return false;
  const b = before.changes;
  const a = after.changes;
  return a.inserts < b.inserts || a.updates < b.updates || a.deletes < b.deletes;
}

function tableKey(kind: AlertKind, name: string): string {
  return `${kind}:${name}`;
}

/** Losses of data between two samples of the database that both read it. */
function tableLosses(before: TableSample[], after: TableSample[], t: WatchThresholds): Condition[] {
  const byIdentity = new Map(after.map((x) => [x.identity, x]));
  const byName = new Map(after.map((x) => [x.name, x]));
  const found: Condition[] = [];
  for (const old of before) {
    if (old.rows <= 0) continue;
    const baseline: Baseline = { table: { identity: old.identity, name: old.name, rows: old.rows } };
    const now = byIdentity.get(old.identity);
    if (!now) {
      const again = byName.get(old.name);
      // Dropped and created again with its rows (a swap by rename, a reload): nothing was lost.
      if (again && rowsBack(old.rows, again.rows, t)) continue;
      found.push({
        key: tableKey("table-dropped", old.name),
        kind: "table-dropped",
        object: `table ${old.name}`,
        before: rows(old.rows),
        after: again ? `dropped and created again, ${rows(again.rows)}` : "dropped",
        dependents: old.dependents,
        baseline,
      });
      continue;
    }
    const renamed = now.name === old.name ? "" : ` (now named ${now.name})`;
    if (now.storage !== old.storage && !rowsBack(old.rows, now.rows, t)) {
      found.push({
        key: tableKey("table-truncated", old.name),
        kind: "table-truncated",
        object: `table ${old.name}`,
        before: rows(old.rows),
        after: `truncated, ${rows(now.rows)}${renamed}`,
        dependents: old.dependents,
        baseline,
      });
      continue;
    }
    // Reset statistics say nothing about the rows (n_live_tup starts again from zero).
    if (countersReset(old, now)) continue;
    if (rowsFell(old.rows, now.rows, t)) {
      const lost = Math.round(((old.rows - now.rows) / old.rows) * 100);
      found.push({
        key: tableKey("rows-fell", old.name),
        kind: "rows-fell",
        object: `table ${old.name}`,
        before: rows(old.rows),
        after: `${rows(now.rows)} (−${lost} %)${renamed}`,
        dependents: old.dependents,
        baseline,
      });
    }
  }
  return found;
}

function databaseConditions(sample: DatabaseSample): Condition[] {
  if (sample.state === "missing") {
    return [
      {
        key: "database-missing",
        kind: "database-missing",
        object: `database ${sample.database}`,
        before: "exists",
        after: "does not exist",
        dependents: [],
        baseline: {},
      },
    ];
  }
  if (sample.state === "unreachable") {
    return [
      {
        key: "database-unreachable",
        kind: "database-unreachable",
        object: `database ${sample.database}`,
        before: "reachable",
        after: `unreachable: ${sample.error}`,
        dependents: [],
        baseline: {},
      },
    ];
  }
  return [];
}

function claimLosses(before: ClaimSample[], after: ClaimSample[]): Condition[] {
  const now = new Map(after.map((c) => [c.name, c]));
  const found: Condition[] = [];
  for (const old of before) {
    const c = now.get(old.name);
    const baseline: Baseline = { claim: { name: old.name, volume: old.volume } };
    if (!c || c.uid !== old.uid) {
      found.push({
        key: `claim-deleted:${old.name}`,
        kind: "claim-deleted",
        object: `claim ${old.name}`,
        before: `bound to ${old.volume ?? "no volume"}${old.reclaimPolicy ? ` (reclaim ${old.reclaimPolicy})` : ""}`,
        after: c ? "deleted and created again (new volume)" : "deleted",
        dependents: old.dependents,
        baseline,
      });
      continue;
    }
    if (old.volumeExists && !c.volumeExists) {
      found.push({
        key: `volume-deleted:${old.name}`,
        kind: "volume-deleted",
        object: `volume ${old.volume ?? "?"} of claim ${old.name}`,
        before: `exists (reclaim ${old.reclaimPolicy ?? "?"})`,
        after: "deleted",
        dependents: old.dependents,
        baseline,
      });
      continue;
    }
    if (old.reclaimPolicy !== "Delete" && c.reclaimPolicy === "Delete") {
      found.push({
        key: `reclaim-delete:${old.name}`,
        kind: "reclaim-delete",
        object: `volume ${c.volume ?? "?"} of claim ${old.name}`,
        before: `reclaim ${old.reclaimPolicy ?? "?"}`,
        after: "reclaim Delete (deleting the claim now deletes the data)",
        dependents: c.dependents,
        baseline,
      });
    }
  }
  return found;
}

function postureConditions(sample: AssetSample): Condition[] {
  const p = sample.posture;
  const found: Condition[] = [];
  if (p && !p.rpoMet) {
    found.push({
      key: "rpo-breached",
      kind: "rpo-breached",
      object: `restore points of ${sample.asset}`,
      before: `RPO ${formatDuration(p.rpoTargetSeconds)}`,
      after:
        p.rpoSeconds === null
          ? "no verified restore point"
          : `newest verified restore point is ${formatDuration(p.rpoSeconds)} old`,
      dependents: [],
      baseline: {},
    });
  }
  const newest = p?.verified;
  if (newest) {
    for (const s of sample.standbys) {
      // Restore point ids start with their snapshot time: a smaller id is an older restore point.
      if (s.restorePointId < newest.id) {
        found.push({
          key: `standby-behind:${s.target}`,
          kind: "standby-behind",
          object: `standby ${s.target}`,
          before: `serves ${s.restorePointId}`,
          after: `a newer verified restore point exists: ${newest.id}`,
          dependents: [],
          baseline: {},
        });
      }
    }
  }
  return found;
}

/** Conditions that hold as long as the sample says so (not losses between two samples). */
function standing(sample: AssetSample): Condition[] {
  return [...databaseConditions(sample.database), ...postureConditions(sample)];
}

/** Whether an open loss is still there in the newest sample (unknown counts as still there). */
function lossLasts(alert: OpenAlert, sample: AssetSample, t: WatchThresholds): boolean {
  const table = alert.baseline.table;
  if (table) {
    if (sample.database.state !== "present") return true;
    const tables = sample.database.tables;
    const now =
      tables.find((x) => x.identity === table.identity) ?? tables.find((x) => x.name === table.name);
    return !now || !rowsBack(table.rows, now.rows, t);
  }
  const claim = alert.baseline.claim;
  if (claim) {
    if (!sample.cluster || sample.cluster.state !== "read") return true;
    const now = sample.cluster.claims.find((c) => c.name === claim.name);
    if (alert.kind === "reclaim-delete") return now?.reclaimPolicy === "Delete";
    return !now || !now.volumeExists;
  }
  return false;
}

function resolution(alert: OpenAlert, sample: AssetSample): string {
  const table = alert.baseline.table;
  if (table && sample.database.state === "present") {
    const now = sample.database.tables.find((x) => x.name === table.name);
    if (now) return `${table.name} has ${rows(now.rows)} again (before: ${rows(table.rows)})`;
  }
  const claim = alert.baseline.claim;
  if (claim && sample.cluster?.state === "read") {
    const now = sample.cluster.claims.find((c) => c.name === claim.name);
    if (now && alert.kind === "reclaim-delete") return `reclaim ${now.reclaimPolicy ?? "?"} again`;
    if (now) return `claim ${claim.name} is bound to ${now.volume ?? "a volume"} again`;
  }
  switch (alert.kind) {
    case "database-missing":
    case "database-unreachable":
      return `database ${sample.database.database} answers again`;
    case "rpo-breached":
      return "a verified restore point within the RPO exists again";
    case "standby-behind":
      return "the standby serves the newest verified restore point";
    default:
      return "the condition cleared";
  }
}

export interface WatchStep {
  /** New alerts: send them. */
  opened: OpenAlert[];
  /** Alerts whose condition cleared: send the "resolved" message. */
  resolved: ResolvedAlert[];
  /** Every alert open after this round (the new ones included). */
  open: OpenAlert[];
  /** The sample to compare the next one with: the newest that read the database (and the cluster). */
  baseline: AssetSample;
}

/**
 * One round for one asset: the losses between the baseline (the previous sample that read the
 * data) and this sample, the standing conditions, and the open alerts checked against this sample.
 * A condition whose key is already open is not opened again (deduplicated while it lasts).
 */
export function watchStep(input: {
  baseline: AssetSample | null;
  sample: AssetSample;
  open: readonly OpenAlert[];
  thresholds: WatchThresholds;
  now: string;
}): WatchStep {
  const { baseline, sample, thresholds: t, now } = input;
  const conditions: Condition[] = standing(sample);
  if (baseline?.database.state === "present" && sample.database.state === "present")
    conditions.push(...tableLosses(baseline.database.tables, sample.database.tables, t));
  if (baseline?.cluster?.state === "read" && sample.cluster?.state === "read")
    conditions.push(...claimLosses(baseline.cluster.claims, sample.cluster.claims));
  const standingKeys = new Set(standing(sample).map((c) => c.key));

  const open: OpenAlert[] = [];
  const resolved: ResolvedAlert[] = [];
  for (const alert of input.open) {
    const lasts =
      alert.baseline.table || alert.baseline.claim
        ? lossLasts(alert, sample, t)
        : standingKeys.has(alert.key) ||
          // A database that cannot be read says nothing about the restore points or standbys.
          (sample.database.state !== "present" && !alert.key.startsWith("database-"));
    if (lasts) open.push(alert);
    else resolved.push({ ...alert, resolvedAt: now, reason: resolution(alert, sample) });
  }
  const openKeys = new Set(open.map((a) => a.key));
  const opened: OpenAlert[] = [];
  for (const c of conditions) {
    if (openKeys.has(c.key)) continue;
    openKeys.add(c.key);
    opened.push({ ...c, asset: sample.asset, openedAt: now });
  }
  // The next round compares with the newest sample that read the data; what this one could not read keeps the old.
  const next: AssetSample = {
    ...sample,
    database: sample.database.state === "present" || !baseline ? sample.database : baseline.database,
    cluster: sample.cluster?.state === "read" || !baseline ? sample.cluster : baseline.cluster,
  };
  return { opened, resolved, open: [...open, ...opened], baseline: next };
}
