/**
 * Benchmark (not a test): what the open alerts cost `lifeline serve`'s /metrics (the jobs
 * component's lifeline_alerts_open, read on every scrape) once the audit log holds a long history of
 * alerts: a scheduled drill that fails and recovers every few minutes for weeks, a watch whose
 * tables come and go.
 *
 *   npm run bench:alerts                        # 100,000 alert entries in an SQLite catalog
 *   BENCH_CATALOG=postgres npm run bench:alerts # in a new database on 127.0.0.1:5432 (dropped after)
 *   BENCH_ENTRIES=20000 npm run bench:alerts    # another history length
 *   BENCH_ROUNDS=5                              # rounds per path (median and range)
 *
 * The entries are appended through the catalog's own append (appendAudit, group commits), with the
 * data the server writes: the scheduled jobs' `<asset>:<kind>-failed` alerts (open, repeated
 * opens while the job keeps failing, resolved) and the watch's `<asset>:<kind>:<object>` alerts
 * (core/watch openedAuditData / resolvedAuditData). Then, after one warm-up each, both paths compute
 * the open alerts, ROUNDS times each:
 * - "all entries": openAlerts over every `alert` entry (catalog.audit({ kind: "alert" })), what
 *   /metrics read before;
 * - "latest per key": openAlerts over catalog.latestAlerts(), the indexed read.
 * Both must find the same open alerts.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { openCatalog } from "../src/catalog/index.js";
import type { AuditInput } from "../src/core/audit/chain.js";
import { openAlerts, type OpenAlert } from "../src/core/posture/check.js";
import { openedAuditData, resolvedAuditData } from "../src/core/watch/alert.js";
import type { Catalog } from "../src/ports/catalog.js";

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ASSETS = ["shop", "billing", "search", "crm", "ledger"];
const ADMIN = process.env.BENCH_PG_ADMIN ?? "postgres://postgres@127.0.0.1:5432/postgres";

const start = Date.parse("2026-01-01T00:00:00Z");
const at = (i: number) => new Date(start + i * 60_000).toISOString();

/** The i-th alert entry: cycles of open, repeated opens, resolved, over a few keys. */
function entry(i: number): AuditInput {
  const asset = ASSETS[i % ASSETS.length] as string;
  const cycle = Math.floor(i / ASSETS.length);
  const base = {
    at: at(i),
    kind: "alert" as const,
    identity: "lifeline serve",
    host: "bench",
    asset,
    planId: null,
  };
  if (cycle % 3 === 0) {
    // The watch: a table dropped and back, its key naming the object.
    const object = `public.orders_${cycle % 4}`;
    const alert = {
      key: `table-dropped:${object}`,
      kind: "table-dropped" as const,
      asset,
      object,
      before: "12000 rows",
      after: "missing",
      openedAt: at(i),
      baseline: {},
      dependents: [],
    };
    const opens = Math.floor(cycle / 3) % 2 === 0;
    return {
      ...base,
      identity: "lifeline watch",
      data: opens
        ? openedAuditData(
            alert,
            {
              restorePoint: null,
              notContained: false,
              commands: [`lifeline restore ${asset} --table ${object}`],
            },
            `lifeline: ${asset} — ${object} was dropped`,
          )
        : resolvedAuditData({ ...alert, resolvedAt: at(i), reason: "it is back" }),
    };
  }
  // A scheduled drill (or backup) that fails a few times, then succeeds.
  const kind = cycle % 2 === 0 ? "drill" : "backup";
  const alert = `${kind}-failed`;
  const step = Math.floor(cycle / 2) % 4;
  if (step === 3)
    return { ...base, data: { alert, key: `${asset}:${alert}`, state: "resolved", message: `${kind} ok` } };
  return {
    ...base,
    data: {
      alert,
      key: `${asset}:${alert}`,
      state: "open",
      message: `lifeline: the scheduled ${kind} of ${asset} FAILED 3 times`,
      ...(step > 0 ? { repeated: true } : {}),
    },
  };
}

async function fill(catalog: Catalog): Promise<void> {
  const started = performance.now();
  const BATCH = 512;
  for (let i = 0; i < ENTRIES; i += BATCH) {
    const batch = [];
    for (let j = i; j < Math.min(ENTRIES, i + BATCH); j++) batch.push(catalog.appendAudit(entry(j)));
    // Some entries of other kinds in between, as a real log has.
    batch.push(
      catalog.appendAudit({
        at: at(i),
        kind: "notify-failed",
        identity: "lifeline serve",
        host: "bench",
        asset: "shop",
        planId: null,
        data: { webhook: "https://hooks.example/x", error: "timeout", text: "…" },
      }),
    );
    await Promise.all(batch);
  }
  console.log(`filled ${ENTRIES} alert entries in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

interface Path {
  name: string;
  run: (catalog: Catalog) => Promise<OpenAlert[]>;
}

const PATHS: Path[] = [
  { name: "all entries   ", run: async (c) => openAlerts(await c.audit({ kind: "alert" })) },
  { name: "latest per key", run: async (c) => openAlerts(await c.latestAlerts()) },
];

const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] as number;
  return `median ${median.toFixed(2)} ms, range ${(sorted[0] as number).toFixed(2)}–${(sorted.at(-1) as number).toFixed(2)} ms`;
};

const canonical = (alerts: OpenAlert[]) =>
  JSON.stringify([...alerts].sort((a, b) => a.key.localeCompare(b.key)));

async function main(): Promise<void> {
  let location: string;
  let cleanup: () => void;
  if (process.env.BENCH_CATALOG === "postgres") {
    const db = `lifeline_bench_alerts_${process.pid}_${Date.now()}`;
    const psql = (sql: string) => {
      const r = spawnSync("psql", ["-X", "-q", "-d", ADMIN, "-c", sql], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`psql: ${r.stderr}`);
    };
    psql(`CREATE DATABASE ${db}`);
    const url = new URL(ADMIN);
    url.pathname = `/${db}`;
    location = url.toString();
    cleanup = () => psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  } else {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-bench-alerts-"));
    location = path.join(dir, "catalog.db");
    cleanup = () => rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `catalog: ${process.env.BENCH_CATALOG === "postgres" ? "PostgreSQL" : "SQLite"}, ${ENTRIES} alert entries, ${ROUNDS} rounds`,
  );
  try {
    const catalog = await openCatalog(location, { backgroundCheckpoints: true });
    try {
      await fill(catalog);
      const results = new Map<string, string>();
      for (const p of PATHS) results.set(p.name, canonical(await p.run(catalog))); // warm-up
      const expected = [...results.values()][0];
      for (const [name, r] of results)
        if (r !== expected) throw new Error(`${name.trim()} finds other open alerts than the old path`);
      console.log(
        `open alerts: ${(JSON.parse(expected ?? "[]") as OpenAlert[]).map((a) => a.key).join(", ")}`,
      );
      // Each path's rounds one after the other (the old path's garbage is not the new one's pause).
      for (const p of PATHS) {
        const times: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const t = performance.now();
          await p.run(catalog);
          times.push(performance.now() - t);
        }
        console.log(`${p.name}: ${summary(times)}`);
      }
    } finally {
      await catalog.close();
    }
  } finally {
    cleanup();
  }
}

await main();
