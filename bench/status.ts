/**
 * Benchmark (not a test): what `status` and `plan` spend on the repository, with 1 and with 200
 * restore points of a 500-table database. Both should cost the same: posture comes from the
 * repository's index and reads only the manifests it relies on (v0.1 read and validated every
 * manifest, ~5–7 ms each).
 *
 *   node --import tsx bench/status.ts              # BENCH_ROUNDS=20, BENCH_POINTS=200
 *   BENCH_SRC=/path/to/other/src node --import tsx bench/status.ts   # the same against another source tree
 *
 * The restore points beyond the first are copies of a real backup under new ids (same artifacts,
 * manifest re-sealed), and one of them carries a passing drill report written directly: the
 * benchmark measures reading the repository, not drills. The live database is not read (status is
 * given no asset URL, plan is given a live state), so the figures are the repository's alone.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { cloneRestorePoint } from "../test/support/repository.js";

const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const POINTS = Number(process.env.BENCH_POINTS ?? 200);
const SRC = path.resolve(process.env.BENCH_SRC ?? path.join(import.meta.dirname, "../src"));

type Mod = Record<string, unknown>;
const load = async (file: string) => (await import(path.join(SRC, file))) as Mod;

function psql(url: string, sql: string): void {
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const db = `lifeline_statusbench_${Date.now().toString(36)}`;
const url = (() => {
  const u = new URL(ADMIN);
  u.pathname = "/" + db;
  return u.toString();
})();
const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-statusbench-"));
try {
  psql(ADMIN, `CREATE DATABASE ${db}`);
  const ddl: string[] = [];
  for (let g = 0; g < 100; g++)
    for (const t of ["p", "c", "gc", "log", "extra"])
      ddl.push(`CREATE TABLE ${t}${g} (id int PRIMARY KEY, v text); INSERT INTO ${t}${g} VALUES (1, 'x');`);
  psql(url, ddl.join("\n"));

  const { LocalRepository } = (await load("repository/local-fs/index.ts")) as {
    LocalRepository: new (root: string) => {
      writeDrillReport(r: unknown): Promise<void>;
    };
  };
  const { backup } = (await load("app/backup.ts")) as {
    backup: (ctx: unknown, a: unknown) => Promise<{ id: string }>;
  };
  const { status } = (await load("app/status.ts")) as {
    status: (ctx: unknown, i: unknown[]) => Promise<unknown[]>;
  };
  const { assessRecoverability } = (await load("app/plan.ts")) as {
    assessRecoverability: (ctx: unknown, a: unknown, d: string[], l: Promise<unknown>) => Promise<unknown>;
  };
  const { engineFor } = (await load("engines/index.ts")) as { engineFor: (n: string, o: unknown) => unknown };
  const { silentProgress } = (await load("ports/engine.ts")) as { silentProgress: unknown };
  const { systemClock } = (await load("ports/clock.ts")) as { systemClock: unknown };

  const repoDir = path.join(work, "repository");
  const ctx = {
    engine: (name: string) => engineFor(name, { postgres: {} }),
    repository: new LocalRepository(repoDir),
    scratch: () => {
      throw new Error("no scratch in this benchmark");
    },
    clock: systemClock,
    progress: silentProgress,
    signal: new AbortController().signal,
    backup: { jobs: 2, compression: 1 },
  };
  const asset = {
    name: "bench",
    engine: "postgres",
    url,
    tier: "production",
    rpoSeconds: 86400,
    scratch: "embedded",
    drillJobs: 2,
    kubernetes: null,
  };
  const first = await backup(ctx, asset);
  const drilled = (id: string) => {
    const at = new Date().toISOString();
    return {
      format: 1,
      id: at.replace(/[-:]/g, "").replace(/\.(\d{3})Z$/, "$1Z"),
      asset: "bench",
      restorePointId: id,
      startedAt: at,
      finishedAt: at,
      result: "passed",
      failure: null,
      scratch: { kind: "embedded", serverVersion: null },
      tools: {},
      restoreSeconds: 1,
      verifySeconds: 1,
      mismatches: [],
    };
  };
  await ctx.repository.writeDrillReport(drilled(first.id));
  const statusInput = {
    name: "bench",
    asset: null,
    tier: "production",
    rpoSeconds: 86400,
    resolveError: "not read",
  };
  const live = { databaseBytes: 1, activity: { statsReset: null, tables: [] } };

  const measure = async () => {
    const s: number[] = [];
    const p: number[] = [];
    for (let round = 0; round < ROUNDS + 1; round++) {
      let t = performance.now();
      await status(ctx, [statusInput]);
      const ms = performance.now() - t;
      t = performance.now();
      await assessRecoverability(ctx, asset, [], Promise.resolve(live));
      const pm = performance.now() - t;
      if (round > 0) {
        // The first round may rebuild the index after the restore points were copied in.
        s.push(ms);
        p.push(pm);
      }
    }
    return { status: median(s), plan: median(p) };
  };

  const one = await measure();
  const base = new Date("2026-01-01T00:00:00Z").getTime();
  for (let i = 1; i < POINTS; i++) {
    const at = new Date(base + i * 3600_000);
    const id = `${at
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z")
      .replace(/[-:]/g, "")}-${i.toString(16).padStart(6, "0")}`;
    // Older than the real one: posture still counts from the newest verified restore point.
    cloneRestorePoint(repoDir, "bench", first.id, id, at.toISOString());
  }
  const many = await measure();
  console.log(`source: ${SRC}`);
  console.log(`500-table database; median of ${ROUNDS} rounds (repository side only)`);
  console.log(`                 1 restore point   ${POINTS} restore points`);
  console.log(
    `status           ${one.status.toFixed(1).padStart(8)} ms   ${many.status.toFixed(1).padStart(10)} ms`,
  );
  console.log(
    `plan (recovery)  ${one.plan.toFixed(1).padStart(8)} ms   ${many.plan.toFixed(1).padStart(10)} ms`,
  );
} finally {
  spawnSync("psql", ["-X", "-q", "-d", ADMIN, "-c", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
  rmSync(work, { recursive: true, force: true });
}
