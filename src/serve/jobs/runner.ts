/** What both job engines share: the job a schedule asks for, and how the outcome is reported. */
import {
  jobGaveUp,
  runJob,
  type AssetJobs,
  type JobOutcome,
  type JobRequest,
  type ScheduledDeps,
} from "../../app/scheduled.js";
import type { Schedule } from "./schedule.js";

export interface JobsOptions {
  /** The assets that have a schedule, with their schedules. */
  assets: ReadonlyMap<string, AssetJobs>;
  schedules: readonly Schedule[];
  /** The dependencies of one job, whose context stops with `signal`. */
  deps: (signal: AbortSignal) => ScheduledDeps;
  /** Jobs this server runs at once (different assets; an asset's jobs never overlap). */
  concurrency: number;
  /** Attempts per job before it gives up and alerts. */
  attempts: number;
  /** A server silent for this long is dead: its jobs are unlocked for the others (PostgreSQL). */
  deadAfterSeconds: number;
  /** Delay before attempt n+1 (default: e^n seconds, as graphile-worker). */
  backoffMs?: (attempt: number) => number;
  /** Every finished attempt, for metrics and logs. */
  observe: (event: JobEvent) => void;
}

export type JobEvent =
  | { type: "succeeded"; request: JobRequest; outcome: JobOutcome }
  | { type: "failed"; request: JobRequest; attempt: number; maxAttempts: number; error: string };

export interface RunningJobs {
  engine: "graphile-worker" | "in-process";
  /** Jobs waiting or running, per asset. */
  queueDepth(): Promise<Map<string, number>>;
  /** Stops the schedules, interrupts running jobs (their engine retries them) and waits for them. */
  stop(): Promise<void>;
}

export function defaultBackoffMs(attempt: number): number {
  return Math.exp(Math.min(attempt, 10)) * 1000;
}

/**
 * Runs one attempt of a job. Returns the outcome; on failure reports it, alerts when it was the
 * last attempt, and rethrows so that the engine retries it.
 */
export async function attempt(
  options: JobsOptions,
  request: JobRequest,
  signal: AbortSignal,
  attemptNo: number,
  maxAttempts: number,
): Promise<JobOutcome | null> {
  const jobs = options.assets.get(request.asset);
  const deps = options.deps(signal);
  if (!jobs) {
    deps.log("warn", "job-skipped", {
      ...request,
      reason: "the asset has no schedule in lifeline.yaml any more",
    });
    return null;
  }
  deps.log("info", "job-started", { ...request, attempt: attemptNo, maxAttempts });
  try {
    const outcome = await runJob(deps, jobs, request);
    deps.log(outcome.kind === "drill" && outcome.result === "failed" ? "error" : "info", "job-finished", {
      ...outcome,
      attempt: attemptNo,
    });
    options.observe({ type: "succeeded", request, outcome });
    return outcome;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    deps.log("error", "job-failed", { ...request, attempt: attemptNo, maxAttempts, reason });
    options.observe({ type: "failed", request, attempt: attemptNo, maxAttempts, error: reason });
    if (attemptNo >= maxAttempts && !signal.aborted) {
      await jobGaveUp(deps, request, attemptNo, error).catch((alertError: unknown) =>
        deps.log("error", "alert-failed", {
          ...request,
          reason: alertError instanceof Error ? alertError.message : String(alertError),
        }),
      );
    }
    throw error;
  }
}
