/**
 * The schedules `lifeline serve` keeps: a timer per (asset, job) that fires at each time its cron
 * expression gives (UTC) and hands the fire time to the job engine, which de-duplicates it across
 * servers. A server that was down does not catch up on missed fire times: the next one comes.
 */
import type { CronSchedule } from "../../core/schedule/cron.js";
import type { JobKind } from "../../app/scheduled.js";

export interface Schedule {
  asset: string;
  kind: JobKind;
  cron: CronSchedule;
}

/** setTimeout takes at most 2^31-1 ms; longer waits are taken in steps. */
const MAX_WAIT_MS = 3_600_000;

export function startSchedules(
  schedules: readonly Schedule[],
  fire: (schedule: Schedule, at: Date) => void,
  now: () => Date = () => new Date(),
): () => void {
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const arm = (s: Schedule, after: Date) => {
    if (stopped) return;
    const at = s.cron.next(after);
    const wait = () => {
      const ms = at.getTime() - now().getTime();
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          if (stopped) return;
          if (now().getTime() < at.getTime()) return wait();
          fire(s, at);
          arm(s, at);
        },
        Math.max(0, Math.min(ms, MAX_WAIT_MS)),
      );
      timers.add(timer);
    };
    wait();
  };
  for (const s of schedules) arm(s, now());
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
  };
}
