/**
 * Per-asset metrics on /metrics: computed at scrape time from the same posture `lifeline status
 * --json` shows (one computation per scrape, shared by every gauge), the job engine's queue, and
 * counters of job outcomes. Names follow Prometheus conventions (`lifeline_…_seconds`, `…_total`).
 */
import { Counter, Gauge, Registry } from "prom-client";
import type { Posture } from "../core/posture/posture.js";
import type { OpenAlert } from "../core/posture/check.js";
import type { JobEvent } from "./jobs/runner.js";

export interface AssetSnapshot {
  postures: Posture[];
  alerts: OpenAlert[];
  queueDepth: Map<string, number>;
}

export interface AssetMetrics {
  registry: Registry;
  observe(event: JobEvent): void;
}

/**
 * `snapshot` failing (a repository that cannot be read at all, say) leaves the per-asset gauges out
 * of that scrape and sets lifeline_status_readable to 0, with `onError` told why: the rest of
 * /metrics (the webhook's, the job counters) is still served, and the failure is not cached.
 */
export function assetMetrics(
  snapshot: () => Promise<AssetSnapshot>,
  cacheMs = 1_000,
  onError: (error: unknown) => void = () => {},
): AssetMetrics {
  const registry = new Registry();
  let last: { at: number; value: Promise<AssetSnapshot | null> } | null = null;
  const current = () => {
    if (!last || Date.now() - last.at > cacheMs) {
      const value: Promise<AssetSnapshot | null> = snapshot().catch((error: unknown) => {
        if (last?.value === value) last = null;
        onError(error);
        return null;
      });
      last = { at: Date.now(), value };
    }
    return last.value;
  };
  new Gauge({
    name: "lifeline_status_readable",
    help: "1 when this scrape could compute the assets' status (the per-asset gauges are there), 0 when it could not (see the server's log: status-unreadable).",
    registers: [registry],
    async collect() {
      this.set((await current()) ? 1 : 0);
    },
  });
  const gauge = (name: string, help: string, value: (s: AssetSnapshot, p: Posture) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ["asset"] as const,
      registers: [registry],
      async collect() {
        const s = await current();
        this.reset();
        if (!s) return;
        for (const p of s.postures) {
          const v = value(s, p);
          if (v !== null) this.set({ asset: p.name }, v);
        }
      },
    });
  gauge(
    "lifeline_restore_point_age_seconds",
    "Age of the newest usable restore point (status: newestRestorePoint.ageSeconds); absent without one.",
    (_s, p) => p.newestRestorePoint?.ageSeconds ?? null,
  );
  gauge(
    "lifeline_verified_restore_point_age_seconds",
    "Age of the newest verified restore point: the data lost if restored now (status: rpoSeconds); absent without one.",
    (_s, p) => p.rpoSeconds,
  );
  gauge(
    "lifeline_rpo_target_seconds",
    "The asset's RPO target (status: rpoTargetSeconds).",
    (_s, p) => p.rpoTargetSeconds,
  );
  gauge(
    "lifeline_rpo_met",
    "1 when the newest verified restore point is within the RPO (status: rpoMet), else 0.",
    (_s, p) => (p.rpoMet ? 1 : 0),
  );
  gauge(
    "lifeline_last_drill_passed",
    "1 when the last drill passed, 0 when it failed (status: lastDrill.result); absent before the first drill.",
    (_s, p) => (p.lastDrill ? (p.lastDrill.result === "passed" ? 1 : 0) : null),
  );
  gauge(
    "lifeline_last_drill_timestamp_seconds",
    "When the last drill finished, Unix time (status: lastDrill.finishedAt).",
    (_s, p) => (p.lastDrill ? Date.parse(p.lastDrill.finishedAt) / 1000 : null),
  );
  gauge(
    "lifeline_rto_seconds",
    "Restore + verify time of the newest verified restore point's passing drill (status: rtoSeconds).",
    (_s, p) => p.rtoSeconds,
  );
  gauge(
    "lifeline_changes_not_covered",
    "Row changes since the newest verified restore point (status: changesNotCovered.rows); absent when the database cannot be read.",
    (_s, p) => p.changesNotCovered?.rows ?? null,
  );
  gauge(
    "lifeline_damaged_restore_points",
    "Restore points that exist but cannot be used (status: damagedRestorePoints).",
    (_s, p) => p.damagedRestorePoints.length,
  );
  gauge(
    "lifeline_alerts_open",
    "Alerts open in the audit log (status --check: check.alerts).",
    (s, p) => s.alerts.filter((a) => a.asset === p.name).length,
  );
  gauge(
    "lifeline_job_queue_depth",
    "Scheduled jobs waiting or running (all servers with a PostgreSQL catalog).",
    (s, p) => s.queueDepth.get(p.name) ?? 0,
  );
  const backupFailures = new Counter({
    name: "lifeline_backup_failures_total",
    help: "Failed attempts of scheduled backups in this server.",
    labelNames: ["asset"] as const,
    registers: [registry],
  });
  const drillFailures = new Counter({
    name: "lifeline_drill_failures_total",
    help: "Scheduled drills in this server that failed (an error, or a restore that did not match).",
    labelNames: ["asset"] as const,
    registers: [registry],
  });
  const jobs = new Counter({
    name: "lifeline_jobs_total",
    help: "Scheduled job attempts in this server, by job and result (succeeded, failed).",
    labelNames: ["asset", "job", "result"] as const,
    registers: [registry],
  });
  const duration = new Gauge({
    name: "lifeline_last_job_duration_seconds",
    help: "How long the last successful scheduled job of each kind took in this server.",
    labelNames: ["asset", "job"] as const,
    registers: [registry],
  });
  return {
    registry,
    observe(event) {
      const { asset, kind } = event.request;
      if (event.type === "failed") {
        jobs.inc({ asset, job: kind, result: "failed" });
        (kind === "backup" ? backupFailures : drillFailures).inc({ asset });
        return;
      }
      const failedDrill = event.outcome.kind === "drill" && event.outcome.result === "failed";
      jobs.inc({ asset, job: kind, result: failedDrill ? "failed" : "succeeded" });
      if (failedDrill) drillFailures.inc({ asset });
      duration.set({ asset, job: kind }, event.outcome.seconds);
    },
  };
}
