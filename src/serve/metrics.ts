/** /metrics: admission decisions by verdict, resource and operation, their latency, and the process. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface ServeMetrics {
  registry: Registry;
  observe(labels: { verdict: string; resource: string; operation: string }, seconds: number): void;
}

export function serveMetrics(): ServeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
