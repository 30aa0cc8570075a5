/**
 * Benchmark (not a test): lifeline backup vs plain `pg_dump -Fc`, and lifeline drill vs plain
 * `pg_restore` into a fresh database followed by count(*) of every table, on a `pgbench -i -s N`
 * database, in the same run. Prints medians and ratios.
 *
 *   npm run build && npm run bench              # scale 20 (~300 MB), 3 rounds
 *   BENCH_SCALE=5 BENCH_ROUNDS=5 npm run bench
 *   BENCH_BASELINE=/path/to/other/dist/cli/main.js npm run bench   # that build too, in the same rounds
 *
 * Ratios are computed per round (both sides under the same load) and reported as median and range.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect, sqlIdent, targetFromUrl } from "../src/engines/postgres/connection.js";
import { chooseRecipe, listTables, rowHash } from "../src/engines/postgres/fingerprint.js";

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

/**
 * The proof's CPU, free of the machine's load: the server backend's CPU time (from /proc, so only
 * when the server runs on this machine) for fingerprinting the biggest table on one core, with the
 * text recipe and with the recipe this build chooses.
 */
async function proofCpu(url: string): Promise<void> {
  const client = await connect(targetFromUrl(url), "lifeline bench");
  try {
    await client.query("SET max_parallel_workers_per_gather = 0");
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
    const cpu = () => {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
    };
    if (!pid || !existsSync(`/proc/${pid}/stat`)) return;
    const [table] = (await listTables(client)).sort((a, b) => b.bytes - a.bytes);
    if (!table) return;
    for (const [name, recipe] of [
      ["text recipe", null],
      ["this build's recipe", chooseRecipe(table)],
    ] as const) {
      const seconds: number[] = [];
      for (let i = 0; i < 3; i++) {
        const before = cpu();
        await client.query(
          `SELECT count(*), sum(${rowHash(table, recipe).sql}) FROM ONLY ${sqlIdent(table.schema)}.${sqlIdent(table.name)}`,
        );
        seconds.push(cpu() - before);
      }
      console.log(
        `proof CPU of ${table.schema}.${table.name} on one core, ${name}: ${median(seconds).toFixed(2)}s (${seconds.map((x) => x.toFixed(2)).join(", ")})`,
      );
    }
  } finally {
    await client.end();
  }
}

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
  await proofCpu(urlFor(db));

  // The same database twice: drilled into the default embedded scratch, and into a scratch server
  // (the same server, a new database per drill), which is what the plain baseline does.
  const config = `assets:\n  bench:\n    url: ${urlFor(db)}\n  bench-server:\n    url: ${urlFor(db)}\n    drill: { scratch: { url: ${ADMIN} } }\n`;
  // BENCH_BASELINE: another build, run in the same rounds (its own repository), so that both see the
  // same machine load.
  const builds = [
    { name: "lifeline", cli: CLI, dir: work },
    ...(process.env.BENCH_BASELINE
      ? [
          {
            name: "baseline",
            cli: path.resolve(process.env.BENCH_BASELINE),
            dir: path.join(work, "baseline"),
          },
        ]
      : []),
  ];
  for (const build of builds) {
    mkdirSync(build.dir, { recursive: true });
    writeFileSync(path.join(build.dir, "lifeline.yaml"), config);
  }

  // The embedded scratch copies a cached template cluster; the cache starts empty, so the first
  // drill (which builds the template, as the first drill on a machine does) is reported on its own.
  process.env.LIFELINE_CACHE_DIR = path.join(work, "cache");
  for (const build of builds) sh(process.execPath, [build.cli, "backup", "bench"], build.dir);
  const firstDrill = timed(() => sh(process.execPath, [CLI, "drill", "bench"], work));
  console.log(`first drill (empty template cache: initdb runs): ${firstDrill.toFixed(2)}s`);

  const times = new Map<string, number[]>();
  const record = (name: string, seconds: number) => times.set(name, [...(times.get(name) ?? []), seconds]);
  const last = (name: string) => times.get(name)?.at(-1) ?? NaN;
  const ratios = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    const dump = path.join(work, "plain.dump");
    // Rotate the order so that no side always runs first (or with a warm cache).
    const rotate = <T>(xs: T[]): T[] => xs.map((_, i) => xs[(i + round) % xs.length] as T);
    const backups: [string, () => void][] = [
      ["pg_dump", () => sh("pg_dump", ["-Fc", "-f", dump, "-d", urlFor(db)])],
      ...builds.map((b): [string, () => void] => [
        `${b.name} backup`,
        () => sh(process.execPath, [b.cli, "backup", "bench"], b.dir),
      ]),
    ];
    for (const [name, fn] of rotate(backups)) record(name, timed(fn));

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
      sh("psql", ["-X", "-q", "-d", ADMIN, "-c", `DROP DATABASE IF EXISTS ${fresh}`]);
    };
    const drills: [string, () => void][] = [
      ["pg_restore+count", () => record("pg_restore+count", timed(baseline))],
      ...builds.map((b): [string, () => void] => [
        `${b.name} drill`,
        () =>
          record(
            `${b.name} drill`,
            timed(() => sh(process.execPath, [b.cli, "drill", "bench"], b.dir)),
          ),
      ]),
      [
        "drill into a scratch server",
        () => {
          // The server variant drills the restore point of its own asset name.
          sh(process.execPath, [CLI, "backup", "bench-server"], work);
          record(
            "drill into a scratch server",
            timed(() => sh(process.execPath, [CLI, "drill", "bench-server"], work)),
          );
        },
      ],
    ];
    for (const [, fn] of rotate(drills)) fn();
    for (const b of builds) {
      ratios.set(`${b.name} backup`, [
        ...(ratios.get(`${b.name} backup`) ?? []),
        last(`${b.name} backup`) / last("pg_dump"),
      ]);
      ratios.set(`${b.name} drill`, [
        ...(ratios.get(`${b.name} drill`) ?? []),
        last(`${b.name} drill`) / last("pg_restore+count"),
      ]);
    }
    console.log(
      `round ${round + 1}: ` +
        [...times.keys()].map((name) => `${name} ${last(name).toFixed(2)}s`).join(", ") +
        "; ratios " +
        [...ratios.entries()].map(([name, xs]) => `${name} ${(xs.at(-1) ?? NaN).toFixed(2)}`).join(", ") +
        // How busy the machine was (other jobs make every figure noisy).
        `; load average ${os.loadavg()[0]?.toFixed(1)}`,
    );
  }
  console.log("");
  const describe = (xs: number[]) =>
    `median ${median(xs).toFixed(2)} (range ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  for (const b of builds) {
    const backupTimes = times.get(`${b.name} backup`) ?? [];
    const drillTimes = times.get(`${b.name} drill`) ?? [];
    console.log(
      `${b.name} backup / pg_dump -Fc: ${describe(ratios.get(`${b.name} backup`) ?? [])}; ` +
        `medians ${median(backupTimes).toFixed(2)}s / ${median(times.get("pg_dump") ?? []).toFixed(2)}s (target ≤ 1.50)`,
    );
    console.log(
      `${b.name} drill / pg_restore + count(*): ${describe(ratios.get(`${b.name} drill`) ?? [])}; ` +
        `medians ${median(drillTimes).toFixed(2)}s / ${median(times.get("pg_restore+count") ?? []).toFixed(2)}s (target ≤ 1.30)`,
    );
  }
  const ds = median(times.get("drill into a scratch server") ?? []);
  const rc = median(times.get("pg_restore+count") ?? []);
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
