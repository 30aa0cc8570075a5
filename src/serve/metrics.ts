/**
 * /metrics: admission decisions by verdict, resource and operation, their latency, the informer
 * cache (age, synced, objects per resource), and the process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** One watched resource of the informer cache, as /metrics shows it. */
export interface CacheStatus {
  resource: string;
  synced: boolean;
  /** When the last event or (re)sync arrived (ms since the epoch), null before the first. */
  lastEventAt: number | null;
  objects: number;
}

export interface ServeMetrics {
  registry: Registry;
  observe(labels: { verdict: string; resource: string; operation: string }, seconds: number): void;
}

export function serveMetrics(cache?: () => readonly CacheStatus[]): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  if (cache) {
    new Gauge({
      name: "lifeline_cache_age_seconds",
      help: "Seconds since the informer cache of a resource last got an event or (re)synced (-1: never).",
      labelNames: ["resource"] as const,
      registers: [registry],
      collect() {
        const now = Date.now();
        for (const s of cache())
          this.set({ resource: s.resource }, s.lastEventAt === null ? -1 : (now - s.lastEventAt) / 1000);
      },
    });
    new Gauge({
      name: "lifeline_cache_synced",
      help: "1 when the informer of a resource is synced (listed and watching), else 0: plans that need it are denied.",
      labelNames: ["resource"] as const,
      registers: [registry],
      collect() {
        for (const s of cache()) this.set({ resource: s.resource }, s.synced ? 1 : 0);
      },
    });
    new Gauge({
      name: "lifeline_cache_objects",
      help: "Objects held by the informer cache, by resource.",
      labelNames: ["resource"] as const,
      registers: [registry],
      collect() {
        for (const s of cache()) this.set({ resource: s.resource }, s.objects);
      },
    });
  }
  const requests = new Counter({
    name: "lifeline_admission_requests_total",
    help: "Admission requests answered, by verdict (allowed, denied, ignored, invalid), resource and operation.",
    labelNames: ["verdict", "resource", "operation"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "lifeline_admission_duration_seconds",
    help: "Time to answer an admission request.",
    labelNames: ["verdict"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return {
    registry,
    observe(labels, seconds) {
      requests.inc(labels);
      duration.observe({ verdict: labels.verdict }, seconds);
    },
  };
}
