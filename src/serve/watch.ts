/**
 * The watch as a component of `lifeline serve`: a round every interval (the next starts an
 * interval after the previous started, or at once when a round took longer), stopped cleanly.
 */
import type { Watcher, WatchRound } from "../app/watch.js";
import type { Logger } from "./log.js";

export interface RunningWatch {
  /** Stops after the round in progress (which is aborted); resolves when it has ended. */
  stop(): Promise<void>;
}

export function startWatch(options: {
  watcher: Watcher;
  intervalMs: number;
  log: Logger;
  onRound?: (round: WatchRound) => void;
}): RunningWatch {
  const { watcher, intervalMs, log } = options;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | null = null;
  let wake: (() => void) | null = null;
  const loop = (async () => {
    while (!controller.signal.aborted) {
      const started = Date.now();
      try {
        const round = await watcher.round(controller.signal);
        options.onRound?.(round);
        if (round.ms > intervalMs)
          log.log("warn", "watch-slow", { ms: Math.round(round.ms), intervalMs, assets: round.assets });
      } catch (error) {
        log.log("error", "watch-failed", { error: error instanceof Error ? error.message : String(error) });
      }
      if (controller.signal.aborted) break;
      const wait = Math.max(0, intervalMs - (Date.now() - started));
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, wait);
      });
    }
  })();
  log.log("info", "watch-started", { intervalMs });
  return {
    async stop() {
      controller.abort();
      if (timer) clearTimeout(timer);
      wake?.();
      await loop;
      log.log("info", "watch-stopped", {});
    },
  };
}
