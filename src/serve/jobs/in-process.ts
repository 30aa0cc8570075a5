/**
 * The in-process job engine, for a single server on the default SQLite catalog: the schedules
 * fire into a queue per asset (an asset's jobs run one after the other: a backup and a drill never
 * overlap), at most `concurrency` jobs run at once, a failed job is retried after a backoff and
 * alerts after its last attempt. Nothing is shared between servers: run one `lifeline serve`, or
 * move the catalog to PostgreSQL (graphile-worker then shares the jobs between servers).
 */
import type { JobRequest } from "../../app/scheduled.js";
import { attempt, defaultBackoffMs, type JobsOptions, type RunningJobs } from "./runner.js";
import { startSchedules } from "./schedule.js";

export function startInProcessJobs(options: JobsOptions): RunningJobs {
  const stopping = new AbortController();
  const queues = new Map<string, JobRequest[]>();
  const busy = new Set<string>();
  const running = new Set<Promise<void>>();
  const backoff = options.backoffMs ?? defaultBackoffMs;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      stopping.signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });

  const enqueue = (request: JobRequest) => {
    if (stopping.signal.aborted) return;
    const queue = queues.get(request.asset) ?? [];
    // One waiting job of a kind per asset: a second fire while one waits adds nothing.
    const waiting = queue.findIndex((q) => q.kind === request.kind);
    if (waiting >= 0) queue[waiting] = request;
    else queue.push(request);
    queues.set(request.asset, queue);
    pump();
  };

  const runAll = async (request: JobRequest) => {
    for (let n = 1; n <= options.attempts; n++) {
      try {
        const outcome = await attempt(options, request, stopping.signal, n, options.attempts);
        if (outcome?.kind === "backup" && outcome.drillNext)
          (queues.get(request.asset) ?? []).unshift({
            kind: "drill",
            asset: request.asset,
            restorePointId: outcome.restorePointId,
          });
        return;
      } catch {
        if (stopping.signal.aborted || n === options.attempts) return;
        await sleep(backoff(n));
        if (stopping.signal.aborted) return;
      }
    }
  };

  const pump = () => {
    for (const [asset, queue] of queues) {
      if (busy.size >= options.concurrency) return;
      if (busy.has(asset) || queue.length === 0) continue;
      const request = queue.shift();
      if (!request) continue;
      busy.add(asset);
      const run = runAll(request).finally(() => {
        busy.delete(asset);
        running.delete(run);
        if (!stopping.signal.aborted) pump();
      });
      running.add(run);
    }
  };

  const stopSchedules = startSchedules(options.schedules, (s) => enqueue({ kind: s.kind, asset: s.asset }));
  return {
    engine: "in-process",
    queueDepth: () => {
      const depth = new Map<string, number>();
      for (const name of options.assets.keys())
        depth.set(name, (queues.get(name)?.length ?? 0) + (busy.has(name) ? 1 : 0));
      return Promise.resolve(depth);
    },
    async stop() {
      stopSchedules();
      stopping.abort();
      await Promise.allSettled([...running]);
    },
  };
}
