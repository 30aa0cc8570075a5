/**
 * Benchmark (not a test): `lifeline restore --to` vs plain `createdb` + `pg_restore -j2 --no-owner`
 * of the same archive into a fresh database followed by count(*) of every table, on a
 * `pgbench -i -s N` database, in the same run; and the time an in-place restore leaves the asset's
 * database unavailable (the swap). Prints medians, ranges and the ratio.
 *
 *   npm run build && npm run bench:restore              # scale 20 (~300 MB), 3 rounds
 *   npm run bench:restore -- --rounds 5
 *   BENCH_SCALE=5 npm run bench:restore
 *
 * lifeline's side is the built CLI's wall time, its verification (fingerprints compared with the
 * manifest) included. The asset is in tier `staging`, so the in-place restore needs no approval.
 * The unavailable time is measured twice: as lifeline reports it (`restore.swap.unavailableMs`),
 * and as a client sees it (the longest run of failed connections of a loop connecting every 10 ms).
 * Ratios are computed per round (both sides under the same load) and reported as median and range;
 * the order of the two sides alternates, and each starts after a CHECKPOINT with no autovacuum running.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";

const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const { values: args } = parseArgs({
  options: { rounds: { type: "string" }, scale: { type: "string" } },
  allowPositionals: false,
});
const SCALE = Number(args.scale ?? process.env.BENCH_SCALE ?? 20);
const ROUNDS = Number(args.rounds ?? process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer`);
const CLI = path.resolve(import.meta.dirname, "../dist/cli/main.js");

function urlFor(db: string): string {
  const u = new URL(ADMIN);
  u.pathname = "/" + db;
  return u.toString();
}

function sh(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Asynchronous, so that a connection loop can run while it does. */
function shAsync(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new Error(`${cmd} ${args.join(" ")} failed (exit ${code}): ${stderr}${stdout}`)),
    );
  });
}

const psql = (url: string, sql: string) =>
  sh("psql", ["-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]);

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
const describe = (xs: number[], digits = 2, unit = "") =>
  `median ${median(xs).toFixed(digits)}${unit} (range ${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}${unit})`;

/**
 * Connects to `url` every 10 ms until stopped; returns the longest time between the start of a
 * failed attempt (after a success) and the next success: what a client saw of the swap.
 */
function connectionLoop(url: string): {
  stop(): Promise<{ attempts: number; failures: number; longestMs: number }>;
} {
  let running = true;
  let attempts = 0;
  let failures = 0;
  let longestMs = 0;
  let failingSince: number | null = null;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      attempts++;
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      // The swap terminates the connections of the database it replaces: this one's, too.
      client.on("error", () => undefined);
      try {
        await client.connect();
        await client.query("SELECT 1");
        if (failingSince !== null) longestMs = Math.max(longestMs, performance.now() - failingSince);
        failingSince = null;
      } catch {
        failures++;
        failingSince ??= started;
      } finally {
        await client.end().catch(() => undefined);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      if (failingSince !== null) longestMs = Math.max(longestMs, performance.now() - failingSince);
      return { attempts, failures, longestMs };
    },
  };
}

/**
 * Each timed side starts on a quiet server: what the side before it left (dirty buffers, the
 * autovacuum of the 2 M rows it just restored) is not charged to the next one. CHECKPOINT, then wait
 * (at most 30 s) until no autovacuum worker runs.
 */
function settle(): void {
  psql(ADMIN, "CHECKPOINT");
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const busy = Number(
      psql(ADMIN, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'").trim(),
    );
    if (busy === 0) return;
    spawnSync("sleep", ["0.2"]);
  }
}

const db = `llbr_${Date.now().toString(36)}`;
const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-bench-restore-"));
function dropAll(): void {
  // Every database this run made: the source, the targets, previous databases an in-place restore
  // kept, staging copies a failed restore left.
  const names = spawnSync(
    "psql",
    ["-X", "-tA", "-d", ADMIN, "-c", `SELECT datname FROM pg_database WHERE datname LIKE '${db}%'`],
    { encoding: "utf8" },
  ).stdout;
  for (const name of names.split("\n").filter(Boolean)) {
    spawnSync("psql", ["-X", "-q", "-d", ADMIN, "-c", `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]);
  }
}

try {
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: run npm run build first`);
  // `lifeline restore --help` of a build without it prints the general help: look for the command.
  const hasRestore = /^ {2}restore \[options\]/m.test(sh(process.execPath, [CLI, "--help"]));
  psql(ADMIN, `CREATE DATABASE ${db}`);
  console.log(`pgbench -i -s ${SCALE} …`);
  sh("pgbench", ["-i", "-q", "-s", String(SCALE), "-d", urlFor(db)]);
  const size = psql(ADMIN, `SELECT pg_size_pretty(pg_database_size('${db}'))`).trim();
  const tables = psql(
    urlFor(db),
    "SELECT string_agg(format('%I.%I', schemaname, relname), ' ' ORDER BY relname) FROM pg_stat_user_tables",
  )
    .trim()
    .split(" ");
  console.log(
    `database ${db}: ${size}, tables ${tables.join(", ")}; ${ROUNDS} rounds, node ${process.version}, ${os.cpus().length} cores`,
  );

  // Tier staging: the in-place restore goes through the gate, and the default policy allows it.
  writeFileSync(
    path.join(work, "lifeline.yaml"),
    `assets:\n  shop:\n    url: ${urlFor(db)}\n    tier: staging\n    drill: { scratch: { url: ${ADMIN} } }\n`,
  );
  process.env.LIFELINE_CACHE_DIR = path.join(work, "cache");
  const backup = JSON.parse(sh(process.execPath, [CLI, "backup", "shop", "--json"], work)) as {
    restorePoint: { id: string };
  };
  const id = backup.restorePoint.id;
  sh(process.execPath, [CLI, "drill", "shop"], work);
  const dump = path.join(work, ".lifeline/repository/restore-points/shop", id, "dump");
  if (!existsSync(dump)) throw new Error(`no archive at ${dump}`);
  console.log(`restore point ${id}, drilled; archive ${dump}`);
  if (!hasRestore) console.log("this build has no `lifeline restore`: the baseline only");

  const times = new Map<string, number[]>();
  const record = (name: string, seconds: number) => times.set(name, [...(times.get(name) ?? []), seconds]);
  const last = (name: string) => times.get(name)?.at(-1) ?? NaN;
  const ratios: number[] = [];
  const swapReported: number[] = [];
  const swapSeen: number[] = [];
  const inPlaceTotal: number[] = [];

  for (let round = 0; round < ROUNDS; round++) {
    const rotate = <T>(xs: T[]): T[] => xs.map((_, i) => xs[(i + round) % xs.length] as T);
    const baselineDb = `${db}_base`;
    const lifelineDb = `${db}_to`;
    const sides: [string, () => void][] = [
      [
        "pg_restore -j2 + count",
        () => {
          record(
            "pg_restore -j2 + count",
            timed(() => {
              sh("createdb", [`--maintenance-db=${ADMIN}`, baselineDb]);
              sh("pg_restore", ["-j2", "--no-owner", "-d", urlFor(baselineDb), dump]);
              psql(urlFor(baselineDb), tables.map((t) => `SELECT count(*) FROM ${t};`).join(" "));
            }),
          );
          psql(ADMIN, `DROP DATABASE ${baselineDb} WITH (FORCE)`);
        },
      ],
      ...(hasRestore
        ? ([
            [
              "lifeline restore --to",
              () => {
                let out = "";
                record(
                  "lifeline restore --to",
                  timed(() => {
                    out = sh(
                      process.execPath,
                      [CLI, "restore", "shop", "--to", urlFor(lifelineDb), "--json"],
                      work,
                    );
                  }),
                );
                const doc = JSON.parse(out) as {
                  restore: { verified: boolean; restoreSeconds: number; verifySeconds: number };
                };
                if (!doc.restore.verified) throw new Error("lifeline restore --to was not verified");
                // Where lifeline's time goes: the restore (pg_restore), the proof, and the rest
                // (starting node, checks, creating and renaming the database).
                record("  of which restore", doc.restore.restoreSeconds);
                record("  of which verify", doc.restore.verifySeconds);
                psql(ADMIN, `DROP DATABASE ${lifelineDb} WITH (FORCE)`);
              },
            ],
          ] as [string, () => void][])
        : []),
    ];
    for (const [, fn] of rotate(sides)) {
      settle();
      fn();
    }
    if (hasRestore) ratios.push(last("lifeline restore --to") / last("pg_restore -j2 + count"));

    if (hasRestore) {
      // In place: the asset's own database is restored beside, verified, and swapped in.
      settle();
      const probe = connectionLoop(urlFor(db));
      const started = performance.now();
      const ran = await shAsync(
        process.execPath,
        [CLI, "restore", "shop", "--in-place", "--json"],
        work,
      ).then(
        (stdout) => ({ stdout, error: null }),
        (error: unknown) => ({ stdout: "", error }),
      );
      const seen = await probe.stop();
      if (ran.error) throw ran.error;
      const out = ran.stdout;
      inPlaceTotal.push((performance.now() - started) / 1000);
      const doc = JSON.parse(out) as {
        restore: {
          verified: boolean;
          swap: { unavailableMs: number; terminated: number } | null;
          previous: { database: string } | null;
        };
      };
      if (!doc.restore.verified) throw new Error("lifeline restore --in-place was not verified");
      swapReported.push(doc.restore.swap?.unavailableMs ?? NaN);
      swapSeen.push(seen.longestMs);
      // The previous database the restore kept: the next round's restore of the same restore point
      // would keep it under the same name.
      if (doc.restore.previous) psql(ADMIN, `DROP DATABASE "${doc.restore.previous.database}" WITH (FORCE)`);
      console.log(
        `  in place: ${inPlaceTotal.at(-1)?.toFixed(2)}s in all; swap ${swapReported.at(-1)} ms as reported, ` +
          `${seen.longestMs.toFixed(0)} ms as a client saw it (${seen.failures} of ${seen.attempts} connections failed)`,
      );
    }
    console.log(
      `round ${round + 1}: ` +
        [...times.keys()].map((name) => `${name.trim()} ${last(name).toFixed(2)}s`).join(", ") +
        (hasRestore ? `; ratio ${(ratios.at(-1) ?? NaN).toFixed(2)}` : "") +
        `; load average ${os.loadavg()[0]?.toFixed(1)}`,
    );
  }

  console.log("");
  const base = times.get("pg_restore -j2 + count") ?? [];
  console.log(`pg_restore -j2 --no-owner + count(*): ${describe(base, 2, "s")}`);
  if (hasRestore) {
    const ours = times.get("lifeline restore --to") ?? [];
    console.log(`lifeline restore --to (verified): ${describe(ours, 2, "s")}`);
    console.log(
      `  of which restore ${describe(times.get("  of which restore") ?? [], 2, "s")}, ` +
        `verify ${describe(times.get("  of which verify") ?? [], 2, "s")}`,
    );
    console.log(
      `lifeline restore --to / pg_restore -j2 + count(*): ${describe(ratios)}; medians ${median(ours).toFixed(2)}s / ${median(base).toFixed(2)}s (target ≤ 1.30)`,
    );
    console.log(`in-place restore, in all: ${describe(inPlaceTotal, 2, "s")}`);
    console.log(
      `in-place restore, database unavailable (swap.unavailableMs): ${describe(swapReported, 0, " ms")} (target < 1000 ms)`,
    );
    console.log(
      `in-place restore, as a client connecting every 10 ms saw it: ${describe(swapSeen, 0, " ms")}`,
    );
  }
} finally {
  dropAll();
  rmSync(work, { recursive: true, force: true });
}
