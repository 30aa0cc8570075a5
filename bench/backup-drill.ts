/**
 * Benchmark (not a test): lifeline backup vs plain `pg_dump -Fc`, and lifeline drill vs plain
 * `pg_restore` into a fresh database followed by count(*) of every table, on a `pgbench -i -s N`
 * database, in the same run. Prints medians and ratios.
 *
 *   npm run build && npm run bench              # scale 20 (~300 MB), 3 rounds
 *   BENCH_SCALE=5 BENCH_ROUNDS=5 npm run bench
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SCALE = Number(process.env.BENCH_SCALE ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLI = path.resolve(import.meta.dirname, "../dist/cli/main.js");

function urlFor(db: string): string {
  const u = new URL(ADMIN);
  u.pathname = "/" + db;
  return u.toString();
}

function sh(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
}

function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return (performance.now() - start) / 1000;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

const db = `lifeline_bench_${Date.now().toString(36)}`;
const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-bench-"));
try {
  sh("psql", ["-X", "-q", "-d", ADMIN, "-c", `CREATE DATABASE ${db}`]);
  console.log(`pgbench -i -s ${SCALE} …`);
  sh("pgbench", ["-i", "-q", "-s", String(SCALE), "-d", urlFor(db)]);
  const size = execFileSync(
    "psql",
    ["-X", "-tAc", `SELECT pg_size_pretty(pg_database_size('${db}'))`, "-d", ADMIN],
    {
      encoding: "utf8",
    },
  ).trim();
  const tables = execFileSync(
    "psql",
    [
      "-X",
      "-tAc",
      "SELECT string_agg(format('%I.%I', schemaname, relname), ' ') FROM pg_stat_user_tables",
      "-d",
      urlFor(db),
    ],
    { encoding: "utf8" },
  )
    .trim()
    .split(" ");
  console.log(
    `database ${db}: ${size}, tables ${tables.join(", ")}; ${ROUNDS} rounds, node ${process.version}, ${os.cpus().length} cores`,
  );
  // The same database twice: drilled into the default embedded scratch, and into a scratch server
  // (the same server, a new database per drill), which is what the plain baseline does.
  writeFileSync(
    path.join(work, "lifeline.yaml"),
    `assets:\n  bench:\n    url: ${urlFor(db)}\n  bench-server:\n    url: ${urlFor(db)}\n    drill: { scratch: { url: ${ADMIN} } }\n`,
  );

  // The embedded scratch copies a cached template cluster; the cache starts empty, so the first
  // drill (which builds the template, as the first drill on a machine does) is reported on its own.
  process.env.LIFELINE_CACHE_DIR = path.join(work, "cache");
  sh(process.execPath, [CLI, "backup", "bench"], work);
  const firstDrill = timed(() => sh(process.execPath, [CLI, "drill", "bench"], work));
  console.log(`first drill (empty template cache: initdb runs): ${firstDrill.toFixed(2)}s`);

  const results = {
    backup: [] as number[],
    pgDump: [] as number[],
    drill: [] as number[],
    drillServer: [] as number[],
    restoreCount: [] as number[],
  };
  for (let round = 0; round < ROUNDS; round++) {
    const dump = path.join(work, "plain.dump");
    // Alternate the order so neither side always runs with a warm cache.
    const pair: [string, () => void][] = [
      ["pgDump", () => sh("pg_dump", ["-Fc", "-f", dump, "-d", urlFor(db)])],
      ["backup", () => sh(process.execPath, [CLI, "backup", "bench"], work)],
    ];
    for (const [name, fn] of round % 2 ? pair.reverse() : pair)
      results[name as "backup" | "pgDump"].push(timed(fn));

    const fresh = `${db}_restore`;
    const baseline = () => {
      sh("psql", ["-X", "-q", "-d", ADMIN, "-c", `CREATE DATABASE ${fresh}`]);
      sh("pg_restore", ["-d", urlFor(fresh), dump]);
      sh("psql", [
        "-X",
        "-q",
        "-d",
        urlFor(fresh),
        "-c",
        tables.map((t) => `SELECT count(*) FROM ${t};`).join(" "),
      ]);
    };
    const drillPair: [string, () => void][] = [
      ["restoreCount", baseline],
      ["drill", () => sh(process.execPath, [CLI, "drill", "bench"], work)],
      [
        "drillServer",
        () => {
          // The server variant drills the restore point of its own asset name.
          sh(process.execPath, [CLI, "backup", "bench-server"], work);
          const start = performance.now();
          sh(process.execPath, [CLI, "drill", "bench-server"], work);
          results.drillServer.push((performance.now() - start) / 1000);
        },
      ],
    ];
    for (const [name, fn] of round % 2 ? drillPair.reverse() : drillPair) {
      if (name === "drillServer") fn();
      else results[name as "drill" | "restoreCount"].push(timed(fn));
    }
    sh("psql", ["-X", "-q", "-d", ADMIN, "-c", `DROP DATABASE IF EXISTS ${fresh}`]);
    console.log(
      `round ${round + 1}: backup ${results.backup.at(-1)?.toFixed(2)}s, pg_dump -Fc ${results.pgDump.at(-1)?.toFixed(2)}s, ` +
        `drill ${results.drill.at(-1)?.toFixed(2)}s (scratch server ${results.drillServer.at(-1)?.toFixed(2)}s), pg_restore+count ${results.restoreCount.at(-1)?.toFixed(2)}s`,
    );
  }
  const b = median(results.backup);
  const d = median(results.pgDump);
  const dr = median(results.drill);
  const rc = median(results.restoreCount);
  const ds = median(results.drillServer);
  console.log("");
  console.log(
    `backup: lifeline ${b.toFixed(2)}s vs pg_dump -Fc ${d.toFixed(2)}s → ratio ${(b / d).toFixed(2)} (target ≤ 1.30)`,
  );
  console.log(
    `drill:  lifeline ${dr.toFixed(2)}s vs pg_restore + count(*) ${rc.toFixed(2)}s → ratio ${(dr / rc).toFixed(2)} (target ≤ 1.30)`,
  );
  console.log(
    `drill into a scratch server (no cluster to create): lifeline ${ds.toFixed(2)}s → ratio ${(ds / rc).toFixed(2)}`,
  );
  console.log(
    `first drill on a machine (builds the scratch template): ${firstDrill.toFixed(2)}s → ratio ${(firstDrill / rc).toFixed(2)}`,
  );
} finally {
  spawnSync("psql", ["-X", "-q", "-d", ADMIN, "-c", `DROP DATABASE IF EXISTS ${db}_restore WITH (FORCE)`]);
  spawnSync("psql", ["-X", "-q", "-d", ADMIN, "-c", `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`]);
  rmSync(work, { recursive: true, force: true });
}
