/**
 * Benchmark (not a test): what the database guard costs ordinary traffic. pgbench's default
 * TPC-B-like script (three single-row UPDATEs, a SELECT and an INSERT per transaction), 2 clients,
 * on one database, alternating in each round:
 *
 *   off    no guard
 *   guard  the whole guard: event triggers, TRUNCATE triggers, mass DELETE/UPDATE triggers
 *   drop   the guard without its mass-change check (guard.massChange: false)
 *
 * The guard is installed and removed between runs on the same database (the way lifeline guard
 * install does, one transaction). Prints each run's throughput, the ratio guard/off (target ≥ 0.9)
 * and the cost of the mass-change check alone (guard against drop).
 *
 *   npm run bench:guard                              # 30 s per run, 2 rounds
 *   BENCH_SECONDS=5 BENCH_ROUNDS=1 npm run bench:guard   # a quick check
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { installGuard, uninstallGuard } from "../src/engines/postgres/guard/index.js";
import { targetFromUrl } from "../src/engines/postgres/connection.js";

const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CLIENTS = 2;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error("BENCH_ROUNDS must be a positive integer");
if (!(SECONDS > 0)) throw new Error("BENCH_SECONDS must be a positive number");

function urlFor(db: string): string {
  const u = new URL(ADMIN);
  u.pathname = "/" + db;
  return u.toString();
}

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

function pgbench(url: string, args: string[]): string {
  const r = spawnSync("pgbench", [...args, url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`pgbench ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout + r.stderr;
}

type Mode = "off" | "guard" | "drop";

/**
 * Milliseconds for `n` single-row UPDATEs of pgbench_accounts, in transactions of 500 (each rolled
 * back): the guard counts a transaction's rows, and more than its threshold in one would be refused.
 */
async function updates(url: string, n: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const batch = 500;
    let ms = 0;
    for (let done = 0; done < n; done += batch) {
      await client.query("BEGIN");
      const started = performance.now();
      await client.query(
        `DO $$ BEGIN FOR i IN ${done + 1}..${done + batch} LOOP UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = i % 100000 + 1; END LOOP; END $$`,
      );
      ms += performance.now() - started;
      await client.query("ROLLBACK");
    }
    return ms;
  } finally {
    await client.end();
  }
}

async function setMode(url: string, mode: Mode): Promise<void> {
  const target = targetFromUrl(url);
  await uninstallGuard(target);
  if (mode === "off") return;
  await installGuard(
    target,
    {
      asset: "bench",
      tier: "production",
      massChange: mode === "guard" ? { rows: 1000, percent: 10, minRows: 100 } : null,
    },
    randomBytes(32),
  );
}

async function main(): Promise<void> {
  const db = `lifeline_bench_guard_${randomBytes(3).toString("hex")}`;
  await sql(ADMIN, `CREATE DATABASE ${db}`);
  const url = urlFor(db);
  try {
    pgbench(url, ["-i", "-q", "-s", String(SCALE)]);
    const tps: Record<Mode, number[]> = { off: [], guard: [], drop: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      // The order alternates between rounds, so no mode always runs on a warmer cache.
      const order: Mode[] = round % 2 === 1 ? ["off", "guard", "drop"] : ["drop", "guard", "off"];
      for (const mode of order) {
        await setMode(url, mode);
        await sql(url, "VACUUM ANALYZE");
        await sql(url, "CHECKPOINT");
        const output = pgbench(url, [
          "-n",
          "-c",
          String(CLIENTS),
          "-j",
          String(CLIENTS),
          "-T",
          String(SECONDS),
        ]);
        const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(output);
        const value = Number(m?.[1] ?? NaN);
        tps[mode].push(value);
        console.log(`round ${round} ${mode.padEnd(5)} ${value.toFixed(1)} tps`);
      }
    }
    // Ratios per round (the three runs of a round are adjacent: the same load on a shared machine),
    // reported as median and range.
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((x, y) => x - y);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
    };
    const ratios = (a: number[], b: number[]) => a.map((x, i) => x / (b[i] ?? NaN));
    const show = (xs: number[]) =>
      `${median(xs).toFixed(3)} (range ${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;
    const guardOff = ratios(tps.guard, tps.off);
    const dropOff = ratios(tps.drop, tps.off);
    const guardDrop = ratios(tps.guard, tps.drop);
    const guard = median(guardOff);
    console.log("");
    console.log(
      `pgbench default script, ${CLIENTS} clients, ${SECONDS} s per run, ${ROUNDS} round(s), scale ${SCALE}`,
    );
    console.log(
      `  median tps: without guard ${median(tps.off).toFixed(1)}, with guard ${median(tps.guard).toFixed(1)}, with guard but no mass-change check ${median(tps.drop).toFixed(1)}`,
    );
    console.log(`  throughput with guard / without:                  ${show(guardOff)}   target ≥ 0.9`);
    console.log(`  throughput with guard, no mass check / without:   ${show(dropOff)}`);
    console.log(`  the mass-change check alone (guard / no mass check): ${show(guardDrop)}`);
    // The mass-change check's own cost, without pgbench's commits (fsync) or the machine's other
    // load in the way: single-row UPDATEs in one session, in a transaction rolled back, best of 3.
    const statements = 20000;
    const perStatement: Partial<Record<Mode, number>> = {};
    for (const mode of ["off", "drop", "guard"] as const) {
      await setMode(url, mode);
      let best = Infinity;
      for (let i = 0; i < 3; i++) best = Math.min(best, await updates(url, statements));
      perStatement[mode] = (best * 1000) / statements;
    }
    const us = (m: Mode) => (perStatement[m] ?? NaN).toFixed(1);
    console.log(
      `  one single-row UPDATE (${statements} in a loop, best of 3): without guard ${us("off")} µs, guard without mass check ${us("drop")} µs, whole guard ${us("guard")} µs`,
    );
    console.log(
      `  the mass-change check costs ${((perStatement.guard ?? NaN) - (perStatement.drop ?? NaN)).toFixed(1)} µs per UPDATE/DELETE statement`,
    );
    if (guard < 0.9) process.exitCode = 1;
  } finally {
    await sql(ADMIN, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  }
}

await main();
