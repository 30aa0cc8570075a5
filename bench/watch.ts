/**
 * Benchmark (not a test): what one round of the watch costs with many assets: 200 databases on the
 * local server × 100 tables each (with views and foreign keys, so that dependents are read too),
 * sampled the way `lifeline serve` does every watch.interval (catalog and statistics, the posture
 * from the repository's index, the standbys from the catalog). Target: under 5 % of one core at the
 * default 30 s interval, lifeline and the database server together.
 *
 *   npm run bench:watch                      # BENCH_DATABASES=200 BENCH_TABLES=100 BENCH_ROUNDS=5
 *
 * lifeline's CPU is the process's own (process.cpuUsage). The server's is read from the postmaster's
 * reaped-children CPU (/proc/<postmaster>/stat cutime + cstime): each round's connections end with
 * the round, so their backends' CPU lands there. Other clients of the same server count too; the
 * same measurement over an idle period of the same length is printed beside it (noise); for a
 * figure without them, point LIFELINE_TEST_PG_URL at a server of its own (initdb, pg_ctl start).
 *
 * The databases get unique names (lifeline_watchbench_<id>_<n>) and are dropped at the end, also
 * after an error or Ctrl-C.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { watcher } from "../src/app/watch.js";
import { openCatalog } from "../src/catalog/index.js";
import type { ResolvedAsset } from "../src/config/load.js";
import { DEFAULT_THRESHOLDS } from "../src/core/watch/detect.js";
import { engineFor } from "../src/engines/index.js";
import { systemClock } from "../src/ports/clock.js";
import { silentProgress } from "../src/ports/engine.js";
import { LocalRepository } from "../src/repository/local-fs/index.js";
import { embeddedScratch } from "../src/scratch/embedded-postgres/index.js";

const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const DATABASES = Number(process.env.BENCH_DATABASES ?? 200);
const TABLES = Number(process.env.BENCH_TABLES ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const INTERVAL_S = 30;

const id = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`;
const template = `lifeline_watchbench_${id}_tpl`;
const names = Array.from({ length: DATABASES }, (_, i) => `lifeline_watchbench_${id}_${i}`);
const created: string[] = [];
const urlFor = (db: string) => {
  const u = new URL(ADMIN);
  u.pathname = "/" + db;
  return u.toString();
};

function psql(url: string, sql: string): void {
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
}

async function admin<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: ADMIN });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

let cleaning = false;
async function cleanup(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  for (const db of [...created].reverse()) {
    try {
      await admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    } catch (error) {
      process.stderr.write(`could not drop ${db}: ${String(error)}\n`);
    }
  }
}
process.on("SIGINT", () => {
  void cleanup().then(() => process.exit(130));
});

/** CPU (ms) the server's ended backends used: the postmaster's reaped children. */
function serverChildrenCpuMs(postmaster: number): number | null {
  try {
    const stat = readFileSync(`/proc/${postmaster}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 16 and 17 (cutime, cstime) are the 14th and 15th after the command name.
    const ticks = Number(fields[13]) + Number(fields[14]);
    return (ticks * 1000) / 100;
  } catch {
    return null;
  }
}

async function postmasterPid(): Promise<number | null> {
  const rows = await admin<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'",
  );
  const pid = rows[0]?.pid;
  if (!pid) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-watchbench-"));
try {
  process.stderr.write(`creating ${DATABASES} databases × ${TABLES} tables …\n`);
  await admin(`CREATE DATABASE "${template}"`);
  created.push(template);
  const ddl: string[] = [];
  for (let t = 0; t < TABLES; t++) {
    const fk = t > 0 && t % 5 === 0 ? ", parent int REFERENCES t0(id)" : "";
    ddl.push(
      `CREATE TABLE t${t} (id int PRIMARY KEY, v text${fk}); INSERT INTO t${t} (id, v) SELECT g, 'x' FROM generate_series(1, 20) g;`,
    );
    if (t % 10 === 0) ddl.push(`CREATE VIEW v${t} AS SELECT id, v FROM t${t};`);
  }
  psql(urlFor(template), `${ddl.join("\n")}\nANALYZE;`);
  const started = performance.now();
  for (const db of names) {
    await admin(`CREATE DATABASE "${db}" TEMPLATE "${template}"`);
    created.push(db);
  }
  process.stderr.write(`created in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  const engine = engineFor("postgres", {});
  const ctx = {
    engine: () => engine,
    repository: new LocalRepository(path.join(work, "repository")),
    scratch: () => embeddedScratch(),
    clock: systemClock,
    progress: silentProgress,
    signal: new AbortController().signal,
    backup: { jobs: 1, compression: 1 },
  };
  const catalog = await openCatalog(path.join(work, "catalog.sqlite"));
  const assets: ResolvedAsset[] = names.map((db, i) => ({
    name: `a${i}`,
    engine: "postgres",
    url: urlFor(db),
    tier: "production",
    rpoSeconds: 86400,
    scratch: "embedded",
    drillJobs: 1,
    kubernetes: null,
  }));
  const postmaster = await postmasterPid();
  const measure = async (label: string, withChanges: boolean): Promise<string[]> => {
    // Without Engine.changes every database is sampled every round: the figure when every one of
    // them was written to since the previous round (the worst case).
    const used = withChanges ? engine : { ...engine, changes: undefined };
    const w = watcher(
      {
        ctx: { ...ctx, engine: () => used },
        catalog: async () => catalog,
        cluster: null,
        notify: async () => [],
        host: "bench",
        log: (level, event, fields) => {
          if (level === "error") process.stderr.write(`${event} ${JSON.stringify(fields)}\n`);
        },
      },
      assets,
      { thresholds: DEFAULT_THRESHOLDS },
    );
    // The first round reads every database's dependents and opens the RPO alerts (no restore point).
    const warm = await w.round(AbortSignal.timeout(300_000));
    process.stderr.write(`${label}: first round ${fmt(warm.ms)}, ${warm.sent.length} alerts opened\n`);
    const wall: number[] = [];
    const cpu: number[] = [];
    const server: number[] = [];
    const idle: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const s0 = postmaster ? serverChildrenCpuMs(postmaster) : null;
      const c0 = process.cpuUsage();
      const round = await w.round(AbortSignal.timeout(300_000));
      const c1 = process.cpuUsage(c0);
      // Backends are reaped just after their connections end.
      await new Promise((res) => setTimeout(res, 100));
      const s1 = postmaster ? serverChildrenCpuMs(postmaster) : null;
      if (round.sent.length > 0)
        process.stderr.write(`round ${r}: ${round.sent.length} alerts (unexpected)\n`);
      wall.push(round.ms);
      cpu.push((c1.user + c1.system) / 1000);
      if (s0 !== null && s1 !== null) server.push(s1 - s0);
      // The same length of time without a round: what other clients of the server cost meanwhile.
      const i0 = postmaster ? serverChildrenCpuMs(postmaster) : null;
      await new Promise((res) => setTimeout(res, round.ms + 100));
      const i1 = postmaster ? serverChildrenCpuMs(postmaster) : null;
      if (i0 !== null && i1 !== null) idle.push(i1 - i0);
    }
    const serverMs = server.length > 0 ? Math.max(0, median(server) - median(idle)) : null;
    const total = median(cpu) + (serverMs ?? 0);
    return [
      `${label} (median of ${ROUNDS} rounds):`,
      `  wall time                ${fmt(median(wall))} (min ${fmt(Math.min(...wall))}, max ${fmt(Math.max(...wall))})`,
      `  lifeline CPU             ${fmt(median(cpu))}`,
      server.length > 0
        ? `  database server CPU      ${fmt(median(server))} (idle period of the same length: ${fmt(median(idle))}; net ${fmt(serverMs ?? 0)})`
        : "  database server CPU      not measured (/proc of the postmaster not readable)",
      `  share of one core at a ${INTERVAL_S} s interval: ${((total / (INTERVAL_S * 1000)) * 100).toFixed(2)} % (target < 5 %)`,
    ];
  };
  const quiet = await measure(
    "databases not written since the previous round (one pg_stat_database read per server)",
    true,
  );
  const busy = await measure("every database written since the previous round (each one sampled)", false);
  await catalog.close();

  // Sampling alone (the engine's part), one database after another, dependents included.
  const one: number[] = [];
  for (const a of assets.slice(0, 50)) {
    const t0 = performance.now();
    await engine.sample?.(engine.target(a.url), AbortSignal.timeout(30_000));
    one.push(performance.now() - t0);
  }
  const lines = [
    `watch round over ${DATABASES} databases × ${TABLES} tables:`,
    ...quiet,
    ...busy,
    `one database's first sample: ${fmt(median(one))} median (connect, catalog and statistics, dependents)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  await cleanup();
  rmSync(work, { recursive: true, force: true });
}
