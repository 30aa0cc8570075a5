// Runs test files the way `node --import tsx --test` would, but compiled to JavaScript first.
//
// Under tsx every test file's process compiles and resolves its TypeScript through loader hooks:
// a test that imports the demo spends about 2 s loading it, 0.9 s as plain JavaScript. With some
// 150 test files that is minutes of CPU on a 2-core machine. So the sources (src/, test/) are
// transpiled once with esbuild (what tsx does per file; tsc has already type-checked them) into
// node_modules/.cache/lifeline-test/<pid>/ (one folder per run, removed when it ends), beside a link to every original file (the .ts files that
// tests start child processes on with tsx, the SQL the guard reads, the fixtures), and the tests
// run from there without loader hooks. Tests find the checkout (README, dist/, fixtures) through
// LIFELINE_TEST_REPO (test/support/repo.ts); child processes still run in the checkout.
//
// Usage: node scripts/test.mjs [folder or file …]   (default: test/contracts test/e2e
// test/integration test/unit). Two files at a time, spec reporter, node's exit code.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import process from "node:process";
import { clearInterval, setInterval } from "node:timers";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cache = path.join(root, "node_modules/.cache/lifeline-test");
const out = path.join(cache, String(process.pid));
const SOURCES = ["src", "test"];

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === "EPERM";
  }
}

const files = (dir) =>
  readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)));

// What runs killed with SIGKILL left (their process is gone); another run's folder stays.
for (const name of existsSync(cache) ? readdirSync(cache) : []) {
  if (/^\d+$/.test(name) && !alive(Number(name)))
    rmSync(path.join(cache, name), { recursive: true, force: true });
}
rmSync(out, { recursive: true, force: true });
const all = SOURCES.flatMap(files);
const typescript = all.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"));
await build({
  entryPoints: typescript.map((f) => path.join(root, f)),
  outdir: out,
  outbase: root,
  format: "esm",
  platform: "node",
  target: "node20",
  bundle: false,
  sourcemap: "inline",
  logLevel: "error",
});
for (const f of all) {
  mkdirSync(path.dirname(path.join(out, f)), { recursive: true });
  symlinkSync(path.join(root, f), path.join(out, f));
}
// src/app/version.ts reads ../../package.json.
symlinkSync(path.join(root, "package.json"), path.join(out, "package.json"));

const asked = process.argv.slice(2);
const targets = asked.length > 0 ? asked : ["test/contracts", "test/e2e", "test/integration", "test/unit"];
const tests = targets.flatMap((t) =>
  t.endsWith(".ts")
    ? [t]
    : files(t).filter((f) => f.endsWith(".test.ts") && path.dirname(f) === path.normalize(t)),
);
// node --test sorts the files it is given: contracts, e2e, integration, then the many short unit
// files, which keep both cores busy at the end.
const child = spawn(
  process.execPath,
  [
    "--enable-source-maps",
    "--test",
    `--test-concurrency=${process.env.LIFELINE_TEST_CONCURRENCY ?? 2}`,
    // A file whose tests are done ends even if a handle it leaked would hold it open (CI once
    // waited 90 minutes with nothing printed after a file whose tests had all passed).
    "--test-force-exit",
    "--test-reporter=spec",
    ...tests.map((t) => path.join(out, t.replace(/\.ts$/, ".js"))),
  ],
  { stdio: "inherit", env: { ...process.env, LIFELINE_TEST_REPO: root } },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));

// A test file that hangs (a lock that is never granted, a child that never ends) would hold CI
// until its 90-minute limit and say nothing. Past LIFELINE_TEST_FILE_SECONDS (600 s: the slowest
// file, the repository contracts, takes about 1.5 minutes; 5 on a machine loaded 5 times over), the
// file's process is killed, so node reports it failed and goes on, after printing what it and the
// database server were doing.
const limit = Number(process.env.LIFELINE_TEST_FILE_SECONDS ?? 600);
const processes = () =>
  execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((m) => m !== null)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] }));
const subtree = (all, pid) => {
  const found = all.filter((p) => p.pid === pid);
  for (let i = 0; i < found.length; i++) found.push(...all.filter((p) => p.ppid === found[i].pid));
  return found;
};
// When this watchdog first saw each test file's process (ps's own elapsed time can be garbage for
// a process that has just started).
const seen = new Map();
const killed = new Set();
const watchdog = setInterval(() => {
  let all;
  try {
    all = processes();
  } catch {
    return;
  }
  for (const pid of seen.keys()) if (!all.some((p) => p.pid === pid)) seen.delete(pid);
  for (const file of all.filter((p) => p.ppid === child.pid && /\.test\.js\b/.test(p.args))) {
    if (!seen.has(file.pid)) seen.set(file.pid, Date.now());
    const seconds = Math.round((Date.now() - seen.get(file.pid)) / 1000);
    if (seconds < limit || killed.has(file.pid)) continue;
    killed.add(file.pid);
    const tree = subtree(all, file.pid);
    const name = path.relative(out, /\S*\.test\.js/.exec(file.args)?.[0] ?? file.args);
    const report = [`\n== ${name} has run for ${seconds} s (limit ${limit} s): killing it. Its processes:`];
    for (const p of tree) report.push(`  ${p.pid} (parent ${p.ppid}) ${p.args.slice(0, 300)}`);
    try {
      report.push(
        "== PostgreSQL sessions that are not idle, with what blocks them:",
        execFileSync(
          "psql",
          [
            "-X",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            `SELECT pid, datname, application_name AS app, state, wait_event_type || ':' || wait_event AS waits,
                    pg_blocking_pids(pid) AS blocked_by, now() - query_start AS for, left(query, 200) AS query
               FROM pg_stat_activity WHERE backend_type = 'client backend' AND state IS DISTINCT FROM 'idle' AND pid <> pg_backend_pid() ORDER BY query_start`,
          ],
          { encoding: "utf8", timeout: 15_000, stdio: ["ignore", "pipe", "pipe"] },
        ),
      );
    } catch (error) {
      report.push(`(could not read pg_stat_activity: ${error.message})`);
    }
    process.stderr.write(report.join("\n") + "\n");
    for (const p of tree.reverse()) {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}, 10_000);
watchdog.unref();

child.on("exit", (code, signal) => {
  clearInterval(watchdog);
  rmSync(out, { recursive: true, force: true });
  process.exitCode = code ?? (signal ? 1 : 0);
});
