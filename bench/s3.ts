/**
 * Benchmark (not a test): lifeline backup and drill of a `pgbench -i -s N` database to a local
 * directory, to S3-compatible storage (s3rver on loopback, in this process) and to the same
 * storage encrypted, in the same run. Prints medians and the ratios S3/local (target ≤ 1.3× with
 * encryption off) and encrypted/plain (the cost of encryption).
 *
 *   npm run build && npm run bench:s3             # scale 20 (~300 MB), 2 rounds
 *   BENCH_SCALE=5 BENCH_ROUNDS=3 npm run bench:s3
 *
 * s3rver writes every object to its own directory on this disk: the S3 side pays for the HTTP
 * transfer and s3rver's own writes, not for a network; a real store's throughput differs.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { startS3 } from "../test/support/s3.js";

const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SCALE = Number(process.env.BENCH_SCALE ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CLI = path.resolve(import.meta.dirname, "../dist/cli/main.js");

function urlFor(db: string): string {
  const u = new URL(ADMIN);
  u.pathname = "/" + db;
  return u.toString();
}

/** Asynchronously (s3rver answers from this process's event loop). */
function sh(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) =>
      code === 0
        ? resolve((performance.now() - start) / 1000)
        : reject(new Error(`${cmd} ${args.join(" ")} failed (${code}): ${stderr.slice(-2000)}`)),
    );
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const db = `lifeline_bench_s3_${process.pid}`;
const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-bench-s3-"));
// The CLI's TMPDIR (embedded scratch instances may run as the postgres user: like /tmp).
const tmp = path.join(work, "tmp");
mkdirSync(tmp);
chmodSync(work, 0o755);
chmodSync(tmp, 0o1777);
const s3 = await startS3(["lifeline-bench"]);
try {
  await admin(`CREATE DATABASE ${db}`);
  console.log(`pgbench -i -s ${SCALE} …`);
  await sh("pgbench", ["-i", "-q", "-s", String(SCALE), urlFor(db)]);
  const kinds = {
    local: `repository:\n  path: ${path.join(work, "local")}\n`,
    s3: `repository:\n  url: s3://lifeline-bench/plain\n  endpoint: ${s3.endpoint}\n  forcePathStyle: true\n`,
    "s3 encrypted": `repository:\n  url: s3://lifeline-bench/encrypted\n  endpoint: ${s3.endpoint}\n  forcePathStyle: true\n  encryption:\n    passphrase: bench-passphrase-0123\n`,
  } as const;
  const times: Record<string, { backup: number[]; drill: number[] }> = {};
  for (const [kind, repository] of Object.entries(kinds)) {
    const dir = path.join(work, kind.replace(" ", "-"));
    rmSync(dir, { recursive: true, force: true });
    await sh("mkdir", ["-p", dir]);
    writeFileSync(
      path.join(dir, "lifeline.yaml"),
      `${repository}assets:\n  bench:\n    url: ${urlFor(db)}\n`,
    );
    times[kind] = { backup: [], drill: [] };
  }
  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of Object.keys(kinds)) {
      const cwd = path.join(work, kind.replace(" ", "-"));
      const t = times[kind];
      if (!t) continue;
      const env = { ...s3.env, TMPDIR: tmp };
      t.backup.push(await sh("node", [CLI, "backup", "bench"], { cwd, env }));
      t.drill.push(await sh("node", [CLI, "drill", "bench"], { cwd, env }));
      console.log(
        `round ${round} ${kind.padEnd(12)} backup ${t.backup.at(-1)?.toFixed(2)}s  drill ${t.drill.at(-1)?.toFixed(2)}s`,
      );
    }
  }
  const m = (kind: string, what: "backup" | "drill") => median(times[kind]?.[what] ?? []);
  console.log("");
  for (const what of ["backup", "drill"] as const) {
    console.log(
      `${what.padEnd(6)} median: local ${m("local", what).toFixed(2)}s, s3 ${m("s3", what).toFixed(2)}s (${(m("s3", what) / m("local", what)).toFixed(2)}× local), s3 encrypted ${m("s3 encrypted", what).toFixed(2)}s (${(m("s3 encrypted", what) / m("s3", what)).toFixed(2)}× s3)`,
    );
  }
} finally {
  await admin(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`).catch(() => undefined);
  await s3.stop();
  rmSync(work, { recursive: true, force: true });
}
