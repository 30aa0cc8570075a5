/**
 * The watch as a component of `lifeline serve`: a round every interval (the next starts an
 * interval after the previous started, or at once when a round took longer), stopped cleanly.
 */
import { Counter, Gauge, Registry } from "prom-client";
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

/** /metrics of the watch: alerts sent by kind and state, and what a round costs. */
export function watchMetrics(): { registry: Registry; observe(round: WatchRound): void } {
  const registry = new Registry();
  const alerts = new Counter({
    name: "lifeline_watch_alerts_total",
    help: "Alerts the watch sent, by asset, kind (table-dropped, rows-fell, database-missing …) and state (open, resolved).",
    labelNames: ["asset", "kind", "state"] as const,
    registers: [registry],
  });
  const duration = new Gauge({
    name: "lifeline_watch_round_duration_seconds",
    help: "Wall-clock time the last watch round took (every asset sampled).",
    registers: [registry],
  });
  const rounds = new Counter({
    name: "lifeline_watch_rounds_total",
    help: "Watch rounds run.",
    registers: [registry],
  });
  return {
    registry,
    observe(round) {
      rounds.inc();
      duration.set(round.ms / 1000);
      for (const s of round.sent) alerts.inc({ asset: s.asset, kind: s.kind, state: s.state });
    },
  };
}
