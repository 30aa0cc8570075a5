/**
 * The `jobs` component of `lifeline serve`: the assets' schedules from lifeline.yaml, run by
 * graphile-worker when the catalog is PostgreSQL (shared by every replica), in-process otherwise.
 */
import { assetRetention, assetSchedule, resolveAsset, type LoadedConfig } from "../../config/load.js";
import { parseDuration } from "../../core/duration.js";
import { parseCron } from "../../core/schedule/cron.js";
import type { AssetJobs, ScheduledDeps } from "../../app/scheduled.js";
import type { JobEvent, RunningJobs } from "./runner.js";
import type { Schedule } from "./schedule.js";

export type { JobEvent, RunningJobs } from "./runner.js";

/** The assets with a schedule in lifeline.yaml. */
export function scheduledAssets(loaded: LoadedConfig): string[] {
  return Object.keys(loaded.config.assets).filter((name) => {
    const s = assetSchedule(loaded, name);
    return s.backup !== null || (s.drill !== null && s.drill !== "after-backup");
  });
}

export interface StartJobsOptions {
  loaded: LoadedConfig;
  /** postgres://… (graphile-worker) or a SQLite path (in-process). */
  catalogLocation: string;
  deps: (signal: AbortSignal) => ScheduledDeps;
  log: ScheduledDeps["log"];
  observe: (event: JobEvent) => void;
  env?: NodeJS.ProcessEnv;
  /** Tests: shorter backoff and polling. */
  backoffMs?: (attempt: number) => number;
  pollIntervalMs?: number;
}

export async function startJobs(options: StartJobsOptions): Promise<RunningJobs> {
  const { loaded } = options;
  const assets = new Map<string, AssetJobs>();
  const schedules: Schedule[] = [];
  for (const name of scheduledAssets(loaded)) {
    const s = assetSchedule(loaded, name);
    assets.set(name, {
      asset: resolveAsset(loaded, name, options.env ?? process.env),
      retention: assetRetention(loaded, name),
      drillAfterBackup: s.drill === "after-backup",
    });
    if (s.backup) schedules.push({ asset: name, kind: "backup", cron: parseCron(s.backup) });
    if (s.drill && s.drill !== "after-backup")
      schedules.push({ asset: name, kind: "drill", cron: parseCron(s.drill) });
  }
  const settings = loaded.config.serve?.jobs ?? { concurrency: 1, attempts: 3, deadAfter: "60s" };
  const common = {
    assets,
    schedules,
    deps: options.deps,
    concurrency: settings.concurrency,
    attempts: settings.attempts,
    deadAfterSeconds: parseDuration(settings.deadAfter) ?? 60,
    observe: options.observe,
    ...(options.backoffMs ? { backoffMs: options.backoffMs } : {}),
  };
  if (/^postgres(ql)?:\/\//.test(options.catalogLocation)) {
    const { startGraphileJobs } = await import("./graphile.js");
    return startGraphileJobs({
      ...common,
      connectionString: options.catalogLocation,
      log: options.log,
      ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
    });
  }
  const { startInProcessJobs } = await import("./in-process.js");
  return startInProcessJobs(common);
}
