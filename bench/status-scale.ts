/**
 * Benchmark (not a test): `status --json` over 1,000 assets with 100 restore points each (100,000
 * restore points in the repository). Target: under 1 s.
 *
 *   npm run bench:status-scale                      # BENCH_ASSETS=1000 BENCH_POINTS=100 BENCH_ROUNDS=5
 *   BENCH_LIVE=absent npm run bench:status-scale    # no live database read at all
 *   BENCH_KEEP=1 …                                  # keep the temp dir (printed) for profiling
 *
 * How the repository is built (cheaply): one real backup of a small database is taken, and its
 * manifest is written under every asset and id (re-sealed: asset, id, snapshotTime and createdAt
 * changed). Only the manifests are written, not the artifacts: status reads manifests and the
 * index, never artifacts. Every asset but each 10th has drill reports written directly: a passed
 * drill of its 4th newest restore point and a failed one of its newest, so that posture reads two
 * manifests per asset (the newest, and the newest verified).
 *
 * The live databases: with BENCH_LIVE=refused (default) every asset's URL points at a loopback
 * port nothing listens on, so status tries each asset's database and shows it unreachable (the
 * connection is refused at once: the cost measured is lifeline's, not a network timeout's). With
 * BENCH_LIVE=absent the URLs carry a ${…} reference to an unset variable, so that no connection is
 * attempted (as bench/status.ts, whose status input has no URL).
 *
 * Measured: in-process (config load, the status use case and its JSON, as the CLI action does
 * minus the catalog which does not exist here), and the built CLI as a process
 * (`node dist/cli/main.js status --json`; run `npm run build` first). The first run after the
 * repository was written rebuilds every asset's index (reads the 100,000 manifests): it is shown
 * apart ("cold"), the rest are the steady state.
 */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expectedDigest } from "../test/support/repository.js";
import { LocalRepository } from "../src/repository/local-fs/index.js";
import { backup } from "../src/app/backup.js";
import { status, statusInputs } from "../src/app/status.js";
import { engineFor } from "../src/engines/index.js";
import { silentProgress } from "../src/ports/engine.js";
import { systemClock } from "../src/ports/clock.js";
import { loadConfig } from "../src/config/load.js";
import { contextFor, stateDirectory } from "../src/cli/wiring.js";
import { readGuardKey } from "../src/app/guard.js";
import { statusJson } from "../src/cli/render/restore-points.js";

const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const ASSETS = Number(process.env.BENCH_ASSETS ?? 1000);
const POINTS = Number(process.env.BENCH_POINTS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LIVE = process.env.BENCH_LIVE ?? "refused";
const ROOT = path.resolve(import.meta.dirname, "..");

function psql(url: string, sql: string): void {
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
}
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)] ?? 0;
const fmt = (xs: number[]) =>
  `median ${median(xs).toFixed(0)} ms, range ${sorted(xs)[0]?.toFixed(0)}–${sorted(xs).at(-1)?.toFixed(0)} ms (${xs.length} runs)`;

/** A loopback port nothing listens on (connections to it are refused at once). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

const idAt = (at: Date, n: number) =>
  `${at
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "")}-${n.toString(16).padStart(6, "0")}`;

const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-statusscale-"));
const db = `lifeline_statusscale_${Date.now().toString(36)}`;
try {
  // One real backup of a small database: its manifest is the template of the 100,000.
  const url = (() => {
    const u = new URL(ADMIN);
    u.pathname = "/" + db;
    return u.toString();
  })();
  psql(ADMIN, `CREATE DATABASE ${db}`);
  let template: Record<string, unknown>;
  const templateRepo = path.join(work, "template");
  try {
    const ddl: string[] = [];
    for (let t = 0; t < 20; t++)
      ddl.push(`CREATE TABLE t${t} (id int PRIMARY KEY, v text); INSERT INTO t${t} VALUES (1, 'x');`);
    psql(url, ddl.join("\n"));
    const ctx = {
      engine: (name: string) => engineFor(name, { postgres: {} }),
      repository: new LocalRepository(templateRepo),
      scratch: () => {
        throw new Error("no scratch in this benchmark");
      },
      clock: systemClock,
      progress: silentProgress,
      signal: new AbortController().signal,
      backup: { jobs: 2, compression: 1 },
    };
    const first = await backup(
      ctx as never,
      {
        name: "template",
        engine: "postgres",
        url,
        tier: "production",
        rpoSeconds: 86400,
        scratch: "embedded",
        drillJobs: 2,
        kubernetes: null,
      } as never,
    );
    template = JSON.parse(
      readFileSync(path.join(templateRepo, "restore-points", "template", first.id, "manifest.json"), "utf8"),
    ) as Record<string, unknown>;
  } finally {
    psql(ADMIN, `DROP DATABASE IF EXISTS ${db}`);
  }

  const project = path.join(work, "project");
  const repo = path.join(project, "repository");
  mkdirSync(repo, { recursive: true });
  writeFileSync(
    path.join(repo, "lifeline-repository.json"),
    readFileSync(path.join(templateRepo, "lifeline-repository.json")),
  );
  const names = Array.from({ length: ASSETS }, (_, i) => `a${i.toString().padStart(4, "0")}`);
  const started = performance.now();
  const now = Date.now();
  let n = 0;
  for (const [a, asset] of names.entries()) {
    const ids: string[] = [];
    for (let i = 0; i < POINTS; i++) {
      // Hourly, the newest an hour ago.
      const at = new Date(now - (POINTS - i) * 3600_000);
      const id = idAt(at, ++n);
      ids.push(id);
      const raw: Record<string, unknown> = {
        ...template,
        asset,
        id,
        snapshotTime: at.toISOString(),
        createdAt: at.toISOString(),
      };
      raw.digest = expectedDigest(raw);
      const dir = path.join(repo, "restore-points", asset, id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(raw, null, 2) + "\n");
    }
    if (a % 10 === 9 || ids.length < 4) continue;
    const drill = (rp: string, result: "passed" | "failed", finishedAt: string) => {
      const dir = path.join(repo, "drills", asset, rp);
      mkdirSync(dir, { recursive: true });
      const id = finishedAt.replace(/[-:]/g, "").replace(/\.(\d{3})Z$/, "$1Z");
      writeFileSync(
        path.join(dir, `${id}.json`),
        JSON.stringify({
          format: 1,
          id,
          asset,
          restorePointId: rp,
          startedAt: finishedAt,
          finishedAt,
          result,
          failure: result === "failed" ? { code: "RESTORE_FAILED", message: "bench" } : null,
          scratch: { kind: "embedded", serverVersion: "15" },
          tools: {},
          restoreSeconds: 12,
          verifySeconds: 3,
          mismatches: [],
        }) + "\n",
      );
    };
    drill(ids.at(-4) ?? "", "passed", new Date(now - 3 * 3600_000).toISOString());
    drill(ids.at(-1) ?? "", "failed", new Date(now - 1800_000).toISOString());
  }
  console.log(
    `repository: ${ASSETS} assets × ${POINTS} restore points written in ${((performance.now() - started) / 1000).toFixed(1)} s (${work})`,
  );

  const port = await closedPort();
  const yaml = ["repository:", "  path: ./repository", "assets:"];
  for (const asset of names) {
    const assetUrl =
      LIVE === "absent"
        ? `postgres://postgres:\${BENCH_UNSET_PASSWORD}@127.0.0.1:${port}/${asset}`
        : `postgres://postgres@127.0.0.1:${port}/${asset}`;
    yaml.push(`  ${asset}:`, `    url: ${assetUrl}`, `    tier: production`, `    rpo: 24h`);
  }
  writeFileSync(path.join(project, "lifeline.yaml"), yaml.join("\n") + "\n");
  const env = { ...process.env };
  delete env.BENCH_UNSET_PASSWORD;

  /** What `status --json` does, in this process (the catalog does not exist: nothing to read there). */
  const inProcess = async () => {
    const t = performance.now();
    const loaded = loadConfig(undefined, project, env);
    const ctx = contextFor(loaded, new AbortController().signal, silentProgress);
    const inputs = statusInputs(loaded, Object.keys(loaded.config.assets), env).map((input) =>
      input.asset ? { ...input, guardKey: readGuardKey(stateDirectory(loaded), input.name) } : input,
    );
    const postures = await status(ctx, inputs);
    const text = JSON.stringify(statusJson(postures, new Map()));
    return { ms: performance.now() - t, text };
  };
  const cli = path.join(ROOT, "dist/cli/main.js");
  const asProcess = () => {
    const t = performance.now();
    const r = spawnSync(process.execPath, [cli, "status", "--json"], {
      cwd: project,
      env,
      encoding: "utf8",
      maxBuffer: 1 << 30,
    });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`status exited ${r.status}: ${r.stderr.slice(0, 2000)}`);
    return { ms, text: r.stdout };
  };

  const cold = await inProcess();
  const parsed = JSON.parse(cold.text) as {
    assets: { name: string; newestRestorePoint: unknown; newestVerifiedRestorePoint: unknown }[];
  };
  const sample = parsed.assets[0] as Record<string, unknown> | undefined;
  console.log(
    `cold (every index rebuilt from the manifests), in-process: ${cold.ms.toFixed(0)} ms; ${parsed.assets.length} assets, ${parsed.assets.filter((a) => a.newestVerifiedRestorePoint).length} with a verified restore point`,
  );
  if (process.env.BENCH_SHOW) console.log(JSON.stringify(sample, null, 2));
  const inner: number[] = [];
  for (let r = 0; r < ROUNDS; r++) inner.push((await inProcess()).ms);
  console.log(`status --json in-process:          ${fmt(inner)}`);
  if (existsSync(cli)) {
    const outer: number[] = [];
    for (let r = 0; r < ROUNDS; r++) outer.push(asProcess().ms);
    console.log(`node dist/cli/main.js status --json: ${fmt(outer)}`);
  } else {
    console.log(`(${cli} not built: run npm run build for the process figure)`);
  }
  if (process.env.BENCH_KEEP) console.log(`kept: ${project}`);
} finally {
  if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
}
