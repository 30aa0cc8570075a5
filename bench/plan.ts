/**
 * Benchmark (not a test): `lifeline plan` latency for a 20-statement migration against a database
 * with 500 tables. Prints median and p95 of the whole CLI process and of the planning itself
 * (classification + impact + policy, from the JSON's planningMs).
 *
 *   npm run build && node --import tsx bench/plan.ts      # BENCH_ROUNDS=30 by default
 *
 * BENCH_BASELINE=/path/to/other/checkout/dist/cli/main.js runs that build too, alternating with this
 * one round by round, so that both see the same machine load.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const CLI = path.resolve(import.meta.dirname, "../dist/cli/main.js");

function psql(url: string, sql: string): void {
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

const db = `lifeline_planbench_${Date.now().toString(36)}`;
const url = (() => {
  const u = new URL(ADMIN);
  u.pathname = "/" + db;
  return u.toString();
})();
const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-planbench-"));
try {
  psql(ADMIN, `CREATE DATABASE ${db}`);
  // 500 tables: 100 groups of parent, child (FK with ON DELETE CASCADE), grandchild, log, and a view.
  const ddl: string[] = [];
  for (let g = 0; g < 100; g++) {
    ddl.push(
      `CREATE TABLE p${g} (id int PRIMARY KEY, v text);`,
      `CREATE TABLE c${g} (id int PRIMARY KEY, p int REFERENCES p${g}(id) ON DELETE CASCADE);`,
      `CREATE TABLE gc${g} (id int PRIMARY KEY, c int REFERENCES c${g}(id) ON DELETE CASCADE);`,
      `CREATE TABLE log${g} (id bigserial PRIMARY KEY, at timestamptz, msg text);`,
      `CREATE TABLE extra${g} (id int, note text);`,
      `CREATE VIEW v${g} AS SELECT p.id, c.id AS cid FROM p${g} p JOIN c${g} c ON c.p = p.id;`,
      `INSERT INTO p${g} SELECT i, 'x' FROM generate_series(1, 200) i;`,
      `INSERT INTO c${g} SELECT i, 1 + i % 200 FROM generate_series(1, 400) i;`,
    );
  }
  psql(url, ddl.join("\n"));
  psql(url, "ANALYZE");
  const statements: string[] = [];
  for (let i = 0; i < 20; i++) {
    const g = i * 5;
    statements.push(
      [
        `ALTER TABLE extra${g} ADD COLUMN flag boolean`,
        `DELETE FROM p${g} WHERE id < 50`,
        `DROP TABLE log${g}`,
        `UPDATE c${g} SET p = 1 WHERE id = 7`,
        `TRUNCATE p${g} CASCADE`,
      ][i % 5] + ";",
    );
  }
  writeFileSync(path.join(work, "migration.sql"), statements.join("\n") + "\n");
  writeFileSync(path.join(work, "lifeline.yaml"), `assets:\n  bench:\n    url: ${url}\n`);

  const builds = [
    { name: "", cli: CLI, wall: [] as number[], planning: [] as number[] },
    ...(process.env.BENCH_BASELINE
      ? [{ name: "baseline ", cli: path.resolve(process.env.BENCH_BASELINE), wall: [], planning: [] }]
      : []),
  ];
  for (let round = 0; round < ROUNDS + 2; round++) {
    for (const build of builds) {
      const start = performance.now();
      const r = spawnSync(process.execPath, [build.cli, "plan", "bench", "-f", "migration.sql", "--json"], {
        cwd: work,
        encoding: "utf8",
      });
      const ms = performance.now() - start;
      if (r.status !== 3 && r.status !== 0) throw new Error(r.stderr);
      if (round < 2) continue; // warm-up
      build.wall.push(ms);
      build.planning.push((JSON.parse(r.stdout) as { planningMs: number }).planningMs);
    }
  }
  // The planning itself, in one long-lived process (as the server will run it): classification,
  // impact against the live database, recoverability and policy.
  const { plan } = await import("../src/app/plan.js");
  const { DEFAULT_POLICY } = await import("../src/core/plan/policy.js");
  const { testContext, testAsset } = await import("../test/support/context.js");
  const sql = statements.join("\n");
  const inProcess: number[] = [];
  for (let round = 0; round < ROUNDS + 2; round++) {
    const start = performance.now();
    await plan(testContext(path.join(work, ".lifeline/repository")), testAsset("bench", url), sql, {
      exact: false,
      policy: DEFAULT_POLICY,
    });
    if (round >= 2) inProcess.push(performance.now() - start);
  }
  const tables = spawnSync(
    "psql",
    ["-X", "-tAc", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", "-d", url],
    {
      encoding: "utf8",
    },
  ).stdout.trim();
  console.log(
    `database: ${tables} tables; migration: ${statements.length} statements; ${ROUNDS} runs; node ${process.version}`,
  );
  for (const { name, cli, wall, planning } of builds) {
    console.log(
      `${name}CLI process end to end: median ${percentile(wall, 50).toFixed(0)} ms, p95 ${percentile(wall, 95).toFixed(0)} ms (target < 300 ms)${name ? `: ${cli}` : ""}`,
    );
    console.log(
      `${name}planning in a fresh CLI process (planningMs, includes loading the parser and cold code): median ${percentile(planning, 50).toFixed(0)} ms, p95 ${percentile(planning, 95).toFixed(0)} ms`,
    );
  }
  console.log(
    `planning itself, in a warm process: median ${percentile(inProcess, 50).toFixed(0)} ms, p95 ${percentile(inProcess, 95).toFixed(0)} ms (target < 50 ms)`,
  );
} finally {
  spawnSync("psql", ["-X", "-q", "-d", ADMIN, "-c", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
  rmSync(work, { recursive: true, force: true });
}
