/**
 * The jobs `lifeline serve` runs on a schedule: a backup, a drill, the copies: of a verified
 * restore point and retention (here and in each copy) after a verified backup; alerts when a job fails its last attempt or a drill fails, resolved when the next one
 * succeeds. Independent of the job engine that runs them (graphile-worker on a PostgreSQL catalog,
 * in-process with SQLite): the engine retries a job that throws.
 */
import type { ResolvedAsset } from "../config/load.js";
import { alertOpening, openAlerts, type OpenAlert } from "../core/posture/check.js";
import type { RetentionPolicy } from "../core/retention/retention.js";
import type { Notification, NotifyFailure } from "../notify/webhook.js";
import type { Catalog } from "../ports/catalog.js";
import { backup } from "./backup.js";
import type { AppContext } from "./context.js";
import { copyVerified } from "./copy.js";
import { drill } from "./drill.js";
import { prune } from "./prune.js";

export type JobKind = "backup" | "drill";

export interface JobRequest {
  kind: JobKind;
  asset: string;
  /** A drill after a backup drills that restore point; otherwise the newest. */
  restorePointId?: string;
}

export interface AssetJobs {
  asset: ResolvedAsset;
  retention: RetentionPolicy | null;
  /** schedule.drill is "after-backup": each scheduled backup is drilled right after it is taken. */
  drillAfterBackup: boolean;
}

export interface ScheduledDeps {
  /** A context whose signal stops this job (server stopping). */
  ctx: AppContext;
  catalog: () => Promise<Catalog>;
  notify: (message: Notification) => Promise<NotifyFailure[]>;
  /** Who acts in the audit log: "lifeline serve". */
  identity: string;
  host: string;
  log: (level: "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => void;
}

export type JobOutcome =
  | { kind: "backup"; asset: string; restorePointId: string; seconds: number; drillNext: boolean }
  | {
      kind: "drill";
      asset: string;
      restorePointId: string;
      result: "passed" | "failed";
      seconds: number;
      pruned: string[];
      /** copies: where the verified restore point went (or why not), and what retention removed there. */
      copies?: { to: string; copied: boolean; error?: string; pruned?: string[] }[];
    };

/** Runs one job; throws when it should be retried (a failed drill is a result, not an error). */
export async function runJob(deps: ScheduledDeps, jobs: AssetJobs, request: JobRequest): Promise<JobOutcome> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 10) / 100;
  const name = jobs.asset.name;
  if (request.kind === "backup") {
    const manifest = await backup(deps.ctx, jobs.asset);
    await resolveAlert(
      deps,
      name,
      "backup-failed",
      `scheduled backups of ${name} work again (${manifest.id})`,
    );
    return {
      kind: "backup",
      asset: name,
      restorePointId: manifest.id,
      seconds: seconds(),
      drillNext: jobs.drillAfterBackup,
    };
  }
  const report = await drill(deps.ctx, jobs.asset, request.restorePointId);
  if (report.result === "failed") {
    await raiseAlert(deps, name, "drill-failed", {
      text: `lifeline: the drill of ${name}'s restore point ${report.restorePointId} FAILED${report.failure ? `: ${report.failure.message}` : ` (${report.mismatches.length} mismatches)`}; it is not verified — see lifeline drill ${name} --restore-point ${report.restorePointId}`,
      event: { kind: "drill-failed", asset: name, restorePointId: report.restorePointId, drill: report.id },
    });
    return {
      kind: "drill",
      asset: name,
      restorePointId: report.restorePointId,
      result: "failed",
      seconds: seconds(),
      pruned: [],
    };
  }
  await resolveAlert(
    deps,
    name,
    "drill-failed",
    `the drill of ${name}'s restore point ${report.restorePointId} passed`,
  );
  // copies: as the drill command does; a copy that fails is logged and alerted, the drill stays passed.
  const copies: NonNullable<Extract<JobOutcome, { kind: "drill" }>["copies"]> = [];
  const copied = await copyVerified(deps.ctx, name, report.restorePointId);
  for (const c of copied) {
    const ok = c.error === undefined && (c.result?.skipped.length ?? 0) === 0;
    copies.push({ to: c.to, copied: ok, ...(c.error !== undefined ? { error: c.error } : {}) });
    if (!ok)
      deps.log("error", "copy-failed", {
        asset: name,
        restorePointId: report.restorePointId,
        to: c.to,
        reason: c.error ?? `its artifacts do not match: ${JSON.stringify(c.result?.skipped ?? [])}`,
      });
  }
  const notCopied = copies.filter((c) => !c.copied);
  if (notCopied.length > 0)
    await raiseAlert(deps, name, "copy-failed", {
      text: `lifeline: ${name}'s verified restore point ${report.restorePointId} was NOT copied to ${notCopied.map((c) => `${c.to}${c.error ? ` (${c.error})` : ""}`).join(", ")}; the copy lags behind — see lifeline drill ${name} --restore-point ${report.restorePointId}`,
      event: {
        kind: "copy-failed",
        asset: name,
        restorePointId: report.restorePointId,
        to: notCopied.map((c) => c.to),
      },
    });
  else if (copies.length > 0)
    await resolveAlert(
      deps,
      name,
      "copy-failed",
      `${name}'s restore point ${report.restorePointId} was copied to every copy`,
    );
  let pruned: string[] = [];
  if (jobs.retention) {
    // Retention after each verified backup; a failure to prune is logged, the drill stays passed.
    try {
      const result = await prune(deps.ctx, await deps.catalog(), name, jobs.retention, {
        dryRun: false,
        identity: deps.identity,
        host: deps.host,
      });
      pruned = result.removed;
      if (result.removed.length > 0 || result.failures.length > 0 || result.locked.length > 0)
        deps.log(result.failures.length > 0 ? "warn" : "info", "pruned", {
          asset: name,
          removed: result.removed,
          failures: result.failures,
          ...(result.locked.length > 0 ? { locked: result.locked } : {}),
        });
      for (const c of result.copies) {
        const entry = copies.find((x) => x.to === c.to);
        if (entry && c.error === undefined) entry.pruned = c.removed;
        if (c.error !== undefined)
          deps.log("error", "prune-failed", { asset: name, copy: c.to, reason: c.error });
        else if (c.removed.length > 0 || c.failures.length > 0 || c.locked.length > 0)
          deps.log(c.failures.length > 0 ? "warn" : "info", "pruned", {
            asset: name,
            copy: c.to,
            removed: c.removed,
            failures: c.failures,
            ...(c.locked.length > 0 ? { locked: c.locked } : {}),
          });
      }
    } catch (error) {
      deps.log("error", "prune-failed", {
        asset: name,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return {
    kind: "drill",
    asset: name,
    restorePointId: report.restorePointId,
    result: "passed",
    seconds: seconds(),
    pruned,
    ...(copies.length > 0 ? { copies } : {}),
  };
}

/** A job failed its last attempt: an alert (audit log and webhooks) until the next one succeeds. */
export async function jobGaveUp(
  deps: ScheduledDeps,
  request: JobRequest,
  attempts: number,
  error: unknown,
): Promise<void> {
  const reason = error instanceof Error ? error.message : String(error);
  const fix =
    error instanceof Error && "fix" in error && typeof error.fix === "string" ? ` Fix: ${error.fix}` : "";
  await raiseAlert(deps, request.asset, `${request.kind}-failed`, {
    text: `lifeline: the scheduled ${request.kind} of ${request.asset} FAILED ${attempts} time${attempts === 1 ? "" : "s"} and will not be retried until its next schedule: ${reason}.${fix}`,
    event: { kind: `${request.kind}-failed`, asset: request.asset, attempts, reason },
  });
}

/**
 * Records the alert (kind "alert", state "open") and sends it, once while it lasts. The webhooks
 * come from lifeline.yaml, not from the catalog: when the catalog cannot be read or written, the
 * alert is still sent, saying it was not recorded (and may repeat one sent before), and the log
 * says `alert-not-recorded`. Never throws for the catalog.
 */
async function raiseAlert(
  deps: ScheduledDeps,
  asset: string,
  alert: string,
  message: Notification,
): Promise<void> {
  const key = `${asset}:${alert}`;
  const now = deps.ctx.clock.now().toISOString();
  let notRecorded: string | null = null;
  let catalog: Catalog | null = null;
  let open: OpenAlert | undefined;
  try {
    catalog = await deps.catalog();
    open = await openAlert(catalog, asset, key);
  } catch (error) {
    notRecorded = reasonOf(error);
  }
  // A repeat (the job keeps failing) is recorded with the time the alert opened, and not sent again.
  const { repeated, openedAt } = alertOpening(open, now);
  if (catalog && notRecorded === null) {
    try {
      await catalog.appendAudit({
        at: now,
        kind: "alert",
        identity: deps.identity,
        host: deps.host,
        asset,
        planId: null,
        data: {
          alert,
          key,
          state: "open",
          message: message.text,
          openedAt,
          ...(repeated ? { repeated: true } : {}),
        },
      });
    } catch (error) {
      notRecorded = reasonOf(error);
    }
  }
  deps.log("error", "alert", {
    asset,
    alert,
    message: message.text,
    openedAt,
    ...(repeated ? { repeated } : {}),
  });
  if (notRecorded !== null)
    deps.log("error", "alert-not-recorded", {
      asset,
      alert,
      reason: `the catalog could not record it in the audit log: ${notRecorded}`,
    });
  // De-duplicated while the condition lasts: the channel hears it once.
  if (repeated) return;
  const failures = await deps.notify(
    notRecorded === null
      ? message
      : {
          text: `${message.text}
(lifeline could not record this alert: its catalog failed: ${notRecorded}. \`lifeline status --check\` does not show it until the catalog works again, and this may repeat an alert sent before.)`,
          event: { ...message.event, recorded: false },
        },
  );
  for (const f of failures) deps.log("warn", "notify-failed", { webhook: f.webhook, error: f.error });
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** This alert of the asset if it is open (the latest entry of each alert: not the whole history). */
async function openAlert(catalog: Catalog, asset: string, key: string): Promise<OpenAlert | undefined> {
  return openAlerts(await catalog.latestAlerts()).find((a) => a.key === key && a.asset === asset);
}

async function isOpen(catalog: Catalog, asset: string, key: string): Promise<boolean> {
  return (await openAlert(catalog, asset, key)) !== undefined;
}

/**
 * Resolves the alert when it is open. A catalog that fails leaves it open (the next successful job
 * resolves it) and is logged: the job that succeeded is not failed, nor retried, for it.
 */
async function resolveAlert(deps: ScheduledDeps, asset: string, alert: string, text: string): Promise<void> {
  const key = `${asset}:${alert}`;
  try {
    const catalog = await deps.catalog();
    if (!(await isOpen(catalog, asset, key))) return;
    await catalog.appendAudit({
      at: deps.ctx.clock.now().toISOString(),
      kind: "alert",
      identity: deps.identity,
      host: deps.host,
      asset,
      planId: null,
      data: { alert, key, state: "resolved", message: text },
    });
  } catch (error) {
    deps.log("error", "alert-not-resolved", {
      asset,
      alert,
      reason: `the catalog could not record it in the audit log: ${reasonOf(error)}; the alert stays open until a later ${alert.replace(/-failed$/, "")} succeeds with the catalog working`,
    });
    return;
  }
  deps.log("info", "alert-resolved", { asset, alert });
  const failures = await deps.notify({
    text: `lifeline: resolved: ${text}`,
    event: { kind: `${alert}-resolved`, asset },
  });
  for (const f of failures) deps.log("warn", "notify-failed", { webhook: f.webhook, error: f.error });
}
