/**
 * The `jobs` component `lifeline serve` starts when lifeline.yaml has schedules: the job engine
 * (graphile-worker on a PostgreSQL catalog, in-process on SQLite) and the per-asset metrics.
 */
import { hostname } from "node:os";
import { restoredInto, status, statusInputs } from "../app/status.js";
import type { LoadedConfig } from "../config/load.js";
import { openAlerts } from "../core/posture/check.js";
import { recoveryState } from "../core/restore/state.js";
import type { AppContext } from "../app/context.js";
import type { Notification, NotifyFailure } from "../notify/webhook.js";
import type { Catalog } from "../ports/catalog.js";
import { assetMetrics } from "./asset-metrics.js";
import type { Logger } from "./log.js";
import { startJobs, type RunningJobs } from "./jobs/index.js";
import type { Registry } from "prom-client";

export interface JobsComponentOptions {
  loaded: LoadedConfig;
  catalogLocation: string;
  catalog: () => Promise<Catalog>;
  context: (signal: AbortSignal) => AppContext;
  notify: (message: Notification) => Promise<NotifyFailure[]>;
  log: Logger;
  /** Tests: shorter retries. */
  backoffMs?: (attempt: number) => number;
  pollIntervalMs?: number;
}

export interface JobsComponent {
  engine: RunningJobs["engine"];
  registry: Registry;
  stop(): Promise<void>;
}

export async function startJobsComponent(options: JobsComponentOptions): Promise<JobsComponent> {
  const { loaded, log } = options;
  const host = hostname();
  let jobs: RunningJobs | null = null;
  const metrics = assetMetrics(
    async () => {
      const ctx = options.context(AbortSignal.timeout(30_000));
      const names = Object.keys(loaded.config.assets);
      // Tables restored (--tables) count their changes from the restore, as in status.
      const recorded = options
        .catalog()
        .then(async (c) => recoveryState(await c.audit({ kind: "restore" })))
        .catch(() => null);
      const inputs = statusInputs(loaded, names).map((input) => ({
        ...input,
        restored: restoredInto(recorded, input.name),
      }));
      const [postures, alerts, queueDepth] = await Promise.all([
        status(ctx, inputs),
        options
          .catalog()
          .then(async (c) => openAlerts(await c.latestAlerts()))
          .catch(() => []),
        jobs ? jobs.queueDepth().catch(() => new Map<string, number>()) : new Map<string, number>(),
      ]);
      return { postures, alerts, queueDepth };
    },
    undefined,
    (error) =>
      log.log("error", "status-unreadable", {
        error: error instanceof Error ? error.message : String(error),
      }),
  );
  jobs = await startJobs({
    loaded,
    catalogLocation: options.catalogLocation,
    deps: (signal) => ({
      ctx: options.context(signal),
      catalog: options.catalog,
      notify: options.notify,
      identity: "lifeline serve",
      host,
      log: (level, event, fields) => log.log(level, event, fields),
    }),
    log: (level, event, fields) => log.log(level, event, fields),
    observe: (event) => metrics.observe(event),
    ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
  });
  log.log("info", "jobs-started", { engine: jobs.engine });
  const running = jobs;
  return {
    engine: running.engine,
    registry: metrics.registry,
    stop: () => running.stop(),
  };
}
