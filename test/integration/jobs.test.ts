/**
 * Scheduled jobs of `lifeline serve` against the real PostgreSQL, with cron expressions in seconds:
 * in-process on the SQLite catalog (a backup, then its drill, then retention; status --check breaks
 * when the RPO passes and heals with the next verified backup; /metrics matches status --json), and
 * graphile-worker on a PostgreSQL catalog shared by two servers (each scheduled job runs once, an
 * asset's jobs never overlap).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { jobGaveUp, type JobRequest, type ScheduledDeps } from "../../src/app/scheduled.js";
import { openAlerts } from "../../src/core/posture/check.js";
import { drill } from "../../src/app/drill.js";
import { openCatalogFor, withCatalog } from "../../src/cli/catalog.js";
import { prune } from "../../src/app/prune.js";
import { assetRetention, loadConfig, resolveAsset, type LoadedConfig } from "../../src/config/load.js";
import type { Catalog } from "../../src/ports/catalog.js";
import { startJobsComponent, type JobsComponent } from "../../src/serve/jobs-component.js";
import type { Logger } from "../../src/serve/log.js";
import { sharedCatalog } from "../../src/serve/serve.js";
import { startServer } from "../../src/serve/server.js";
import { notify } from "../../src/notify/webhook.js";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cli, startCli } from "../support/cli.js";
import { testContext } from "../support/context.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface LogLine {
  level: string;
  event: string;
  fields: Record<string, unknown>;
  at: number;
}

function memoryLog(lines: LogLine[], tag = ""): Logger {
  return {
    log: (level, event, fields = {}) =>
      lines.push({ level, event, fields: { server: tag, ...fields }, at: Date.now() }),
  };
}

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 90_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function writeConfig(
  dir: string,
  db: TestDatabase,
  extra: { catalog?: string; rpo?: string; backup?: string; repository?: string },
): LoadedConfig {
  const file = path.join(dir, "lifeline.yaml");
  writeFileSync(
    file,
    `${extra.catalog ? `catalog: ${extra.catalog}\n` : ""}${extra.repository ? `repository: { path: ${extra.repository} }\n` : ""}assets:
  shop:
    url: ${db.url}
    rpo: ${extra.rpo ?? "24h"}
    drill: { scratch: { url: ${ADMIN_URL} }, jobs: 1 }
    schedule: { backup: "${extra.backup ?? "*/2 * * * * *"}", drill: after-backup }
    retention: { keepLast: 1, daily: 0, weekly: 0 }
serve:
  jobs: { concurrency: 1, attempts: 2, deadAfter: 3s }
`,
  );
  return loadConfig(file, dir, {});
}

function startComponent(
  loaded: LoadedConfig,
  catalog: () => Promise<Catalog>,
  log: Logger,
  location: string,
  webhooks: string[] = [],
) {
  return startJobsComponent({
    loaded,
    catalogLocation: location,
    catalog,
    context: (signal) => testContext(loaded.repositoryPath, { signal }),
    notify: (message) => notify(webhooks, message, { backoffMs: 10 }),
    log,
    backoffMs: () => 200,
    pollIntervalMs: 200,
  });
}

describe("scheduled jobs, in-process on the SQLite catalog", () => {
  let db: TestDatabase;
  let tmp: { dir: string; remove(): void };
  before(async () => {
    db = await createDatabase("lifeline_jobs");
    tmp = tempDir("lifeline-jobs-");
    await query(
      db.url,
      "CREATE TABLE products (id int PRIMARY KEY, name text); INSERT INTO products SELECT g, 'p' || g FROM generate_series(1, 100) g",
    );
  });
  after(async () => {
    await db.drop();
    tmp.remove();
  });

  it("backs up, drills that restore point, prunes; status --check follows the RPO; /metrics matches status --json", async () => {
    const loaded = writeConfig(tmp.dir, db, { rpo: "6s" });
    const lines: LogLine[] = [];
    const catalog = sharedCatalog(() => openCatalogFor(loaded));
    const jobs: JobsComponent = await startComponent(
      loaded,
      () => catalog.get(),
      memoryLog(lines),
      path.join(tmp.dir, ".lifeline/catalog.sqlite"),
    );
    assert.equal(jobs.engine, "in-process");
    const server = await startServer({
      host: "127.0.0.1",
      port: 0,
      tls: null,
      readiness: async () => ({ ready: true, reason: null }),
      log: memoryLog([]),
      registries: [jobs.registry],
    });
    try {
      // Two scheduled backups, each followed by the drill of its own restore point.
      const drills = await until("two drills", () => {
        const done = lines.filter((l) => l.event === "job-finished" && l.fields.kind === "drill");
        return done.length >= 2 ? done : undefined;
      }).catch((error: unknown) => {
        console.log(JSON.stringify(lines, null, 1));
        throw error;
      });
      const backups = lines.filter((l) => l.event === "job-finished" && l.fields.kind === "backup");
      assert.equal(
        drills[0]?.fields.restorePointId,
        backups[0]?.fields.restorePointId,
        "the drill drills the backup just taken",
      );
      assert.equal(drills[0]?.fields.result, "passed");
      // The backup comes before its drill, and they never overlap.
      const started = lines.filter((l) => l.event === "job-started");
      const finished = lines.filter((l) => l.event === "job-finished" || l.event === "job-failed");
      for (let i = 0; i < Math.min(started.length, finished.length) - 1; i++)
        assert.ok(
          (started[i + 1]?.at ?? 0) >= (finished[i]?.at ?? 0),
          "an asset's jobs run one after the other",
        );
      // Retention keepLast 1: after the second verified backup the first one is gone.
      assert.deepEqual(drills[1]?.fields.pruned, [backups[0]?.fields.restorePointId]);

      const readStarted = Date.now();
      const metricsText = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      const status = await cli(["status", "--json"], { cwd: tmp.dir });
      // The ages are read a CLI start apart (seconds on a loaded machine), /metrics' reading may be
      // up to 1 s old, and both are rounded: that much may separate them.
      const apart = (Date.now() - readStarted) / 1000 + 2;
      assert.equal(status.code, 0, status.stderr);
      const shop = (
        JSON.parse(status.stdout) as {
          assets: {
            name: string;
            rpoSeconds: number;
            rpoTargetSeconds: number;
            newestRestorePoint: { ageSeconds: number };
            lastDrill: { result: string };
            changesNotCovered: { rows: number };
          }[];
        }
      ).assets[0];
      const metric = (name: string) => {
        const m = new RegExp(`^${name}\\{asset="shop"\\} (\\S+)$`, "m").exec(metricsText);
        assert.ok(m, `${name} in /metrics:\n${metricsText.slice(0, 2000)}`);
        return Number(m[1]);
      };
      // Every sample line parses as Prometheus text: name{labels} value.
      for (const line of metricsText.split("\n").filter((l) => l !== "" && !l.startsWith("#")))
        assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/, line);
      assert.ok(shop);
      const verifiedAge = metric("lifeline_verified_restore_point_age_seconds");
      assert.ok(
        verifiedAge >= 0 && verifiedAge <= shop.rpoSeconds + 1,
        `${verifiedAge} vs ${shop.rpoSeconds}`,
      );
      assert.ok(
        shop.rpoSeconds - verifiedAge < apart,
        `${verifiedAge} vs ${shop.rpoSeconds} (${apart} s apart)`,
      );
      const newestAge = metric("lifeline_restore_point_age_seconds");
      const newest = shop.newestRestorePoint.ageSeconds;
      assert.ok(
        newestAge <= newest + 1 && newest - newestAge < apart,
        `${newestAge} vs ${newest} (${apart} s apart)`,
      );
      assert.equal(metric("lifeline_rpo_target_seconds"), shop.rpoTargetSeconds);
      assert.equal(metric("lifeline_last_drill_passed"), shop.lastDrill.result === "passed" ? 1 : 0);
      assert.equal(metric("lifeline_changes_not_covered"), shop.changesNotCovered.rows);
      assert.match(metricsText, /lifeline_jobs_total\{asset="shop",job="backup",result="succeeded"\} [1-9]/);
      assert.match(metricsText, /^lifeline_job_queue_depth\{asset="shop"\} \d+$/m);
    } finally {
      await jobs.stop();
      await server.close();
      await catalog.close();
    }

    // The schedule stopped: once the RPO (6 s) passes, status --check fails, with a stable code.
    // The RPO counts from the newest snapshot, so wait 6.5 s from it (the drill since took part).
    const ctx = testContext(loaded.repositoryPath);
    const snapshots = (await ctx.repository.listRestorePoints("shop")).map((m) => Date.parse(m.snapshotTime));
    assert.ok(snapshots.length > 0);
    await new Promise((r) => setTimeout(r, Math.max(0, Math.max(...snapshots) + 6_500 - Date.now())));
    const breached = await cli(["status", "--check", "--json"], { cwd: tmp.dir });
    assert.equal(breached.code, 5, breached.stderr);
    const check = (JSON.parse(breached.stdout) as { check: { ok: boolean; breaches: { kind: string }[] } })
      .check;
    assert.equal(check.ok, false);
    assert.deepEqual(
      check.breaches.map((b) => b.kind),
      ["rpo"],
    );
    // The next verified backup heals it.
    const asset = resolveAsset(loaded, "shop", {});
    const manifest = await backup(ctx, asset);
    assert.equal((await drill(ctx, asset, manifest.id)).result, "passed");
    const healed = await cli(["status", "--check"], { cwd: tmp.dir });
    assert.equal(healed.code, 0, healed.stderr);
  });
});

describe("a scheduled job that fails its last attempt", () => {
  let tmp: { dir: string; remove(): void };
  before(() => {
    tmp = tempDir("lifeline-jobs-fail-");
  });
  after(() => tmp.remove());

  it("alerts once to the webhook (no secret in it), records an open alert; status --check fails", async () => {
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString("utf8")));
      req.on("end", () => {
        received.push(body);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/T0/B0/secret-path`;
    process.env.LIFELINE_JOBS_TEST_PW = "s3cret-pw-9731";
    const file = path.join(tmp.dir, "lifeline.yaml");
    writeFileSync(
      file,
      `assets:
  shop:
    url: postgres://app:\${LIFELINE_JOBS_TEST_PW}@127.0.0.1:1/shop
    schedule: { backup: "* * * * * *", drill: after-backup }
serve:
  jobs: { attempts: 2 }
`,
    );
    const loaded = loadConfig(file, tmp.dir, process.env);
    const lines: LogLine[] = [];
    const catalog = sharedCatalog(() => openCatalogFor(loaded));
    const jobs = await startComponent(
      loaded,
      () => catalog.get(),
      memoryLog(lines),
      path.join(tmp.dir, ".lifeline/catalog.sqlite"),
      [hook],
    );
    try {
      // Two jobs give up (two attempts each); the channel hears the first only: de-duplicated.
      await until("two alerts", () =>
        lines.filter((l) => l.event === "alert").length >= 2 ? true : undefined,
      );
      assert.equal(lines.filter((l) => l.event === "job-failed").length >= 4, true);
    } finally {
      await jobs.stop();
      await catalog.close();
      receiver.close();
    }
    assert.equal(received.length, 1, received.join("\n"));
    const message = JSON.parse(received[0] ?? "{}") as { text: string; lifeline: { kind: string } };
    assert.match(message.text, /the scheduled backup of shop FAILED 2 times/);
    assert.equal(message.lifeline.kind, "backup-failed");
    assert.doesNotMatch(received[0] ?? "", /s3cret-pw-9731/);
    const check = await cli(["status", "--check", "--json"], { cwd: tmp.dir });
    assert.equal(check.code, 5, check.stderr);
    const kinds = (
      JSON.parse(check.stdout) as { check: { breaches: { kind: string }[] } }
    ).check.breaches.map((b) => b.kind);
    assert.deepEqual(kinds.sort(), ["alert", "rpo"]);
    assert.doesNotMatch(check.stdout + check.stderr, /s3cret-pw-9731/);
  });
});

describe("/metrics' open alerts after many fire/resolve cycles", () => {
  let tmp: { dir: string; remove(): void };
  before(() => {
    tmp = tempDir("lifeline-jobs-alerts-");
  });
  after(() => tmp.remove());

  it("counts the alerts open now, reading the latest entry of each alert rather than their history", async () => {
    const file = path.join(tmp.dir, "lifeline.yaml");
    // Schedules that do not come round during the test: the alerts are raised here.
    writeFileSync(
      file,
      `assets:
  shop:
    url: postgres://app@127.0.0.1:1/shop
    schedule: { backup: "0 0 1 1 *", drill: after-backup }
  billing:
    url: postgres://app@127.0.0.1:1/billing
    schedule: { backup: "0 0 1 1 *", drill: after-backup }
`,
    );
    const loaded = loadConfig(file, tmp.dir, {});
    const shared = sharedCatalog(() => openCatalogFor(loaded));
    // The entries each read returns: what a scrape costs.
    let read = 0;
    const counting = async (): Promise<Catalog> => {
      const c = await shared.get();
      return new Proxy(c, {
        get(target, property, receiver) {
          const value: unknown = Reflect.get(target, property, receiver);
          if (typeof value !== "function") return value;
          return async (...args: unknown[]) => {
            const result: unknown = await (value as (...a: unknown[]) => Promise<unknown>).apply(
              target,
              args,
            );
            if (Array.isArray(result)) read += result.length;
            return result;
          };
        },
      });
    };
    const notified: string[] = [];
    const lines: LogLine[] = [];
    const deps: ScheduledDeps = {
      ctx: testContext(loaded.repositoryPath),
      catalog: () => shared.get(),
      notify: async (message) => {
        notified.push(message.text);
        return [];
      },
      identity: "lifeline serve",
      host: "test",
      log: (level, event, fields) => lines.push({ level, event, fields, at: Date.now() }),
    };
    const resolved = async (asset: string, alert: string) =>
      (await shared.get()).appendAudit({
        at: new Date().toISOString(),
        kind: "alert",
        identity: "lifeline serve",
        host: "test",
        asset,
        planId: null,
        // What the scheduled jobs record when the job works again (app/scheduled resolveAlert).
        data: { alert, key: `${asset}:${alert}`, state: "resolved", message: `${alert} works again` },
      });
    const jobs = await startComponent(
      loaded,
      counting,
      memoryLog(lines),
      path.join(tmp.dir, ".lifeline/catalog.sqlite"),
    );
    const scrape = async () => {
      read = 0;
      const text = await jobs.registry.metrics();
      const open = Object.fromEntries(
        [...text.matchAll(/^lifeline_alerts_open\{asset="(\w+)"\} (\d+)$/gm)].map((m) => [
          m[1],
          Number(m[2]),
        ]),
      );
      return { open, read };
    };
    try {
      const failed = new Error("connection refused");
      const CYCLES = 40;
      for (let i = 0; i < CYCLES; i++) {
        // The drill of shop fails three times in a row (once alerted), then passes; billing's backup
        // fails and recovers every other cycle; a watch alert of billing opens and resolves.
        for (let n = 0; n < 3; n++) await jobGaveUp(deps, { kind: "drill", asset: "shop" }, 2, failed);
        await resolved("shop", "drill-failed");
        if (i % 2 === 0) await jobGaveUp(deps, { kind: "backup", asset: "billing" }, 2, failed);
        else await resolved("billing", "backup-failed");
      }
      assert.equal(notified.length, CYCLES + CYCLES / 2, "each failure alerted once while it lasted");
      assert.deepEqual((await scrape()).open, { shop: 0, billing: 0 });

      await jobGaveUp(deps, { kind: "drill", asset: "shop" }, 2, failed);
      await jobGaveUp(deps, { kind: "drill", asset: "shop" }, 2, failed);
      await jobGaveUp(deps, { kind: "backup", asset: "billing" }, 2, failed);
      await jobGaveUp(deps, { kind: "copy", asset: "billing" } as unknown as JobRequest, 2, failed);
      // The metrics are cached for a second.
      await new Promise((r) => setTimeout(r, 1_100));
      const now = await scrape();
      assert.deepEqual(now.open, { shop: 1, billing: 2 });
      // The history holds 200-odd alert entries; a scrape reads the latest of each alert (4 here).
      const history = await (await shared.get()).audit({ kind: "alert" });
      assert.ok(history.length > 200, String(history.length));
      assert.ok(now.read <= 8, `a scrape read ${now.read} entries`);
      // As status --check counts them, from the whole log.
      assert.deepEqual(
        openAlerts(history)
          .map((a) => a.key)
          .sort(),
        ["billing:backup-failed", "billing:copy-failed", "shop:drill-failed"],
      );
    } finally {
      await jobs.stop();
      await shared.close();
    }
  });
});

describe("scheduled jobs on graphile-worker, two servers on one PostgreSQL catalog", () => {
  let db: TestDatabase;
  let catalogDb: TestDatabase;
  let tmp: { dir: string; remove(): void };
  before(async () => {
    db = await createDatabase("lifeline_jobs");
    catalogDb = await createDatabase("lifeline_jobs_catalog");
    tmp = tempDir("lifeline-jobs-pg-");
    await query(
      db.url,
      "CREATE TABLE products (id int PRIMARY KEY, name text); INSERT INTO products SELECT g, 'p' || g FROM generate_series(1, 20000) g",
    );
  });
  after(async () => {
    await db.drop();
    await catalogDb.drop();
    tmp.remove();
  });

  it("runs each scheduled job once across both servers, an asset's jobs one at a time", async () => {
    const loaded = writeConfig(tmp.dir, db, { catalog: catalogDb.url });
    const servers: { jobs: JobsComponent; close(): Promise<void>; lines: LogLine[] }[] = [];
    for (const tag of ["a", "b"]) {
      const lines: LogLine[] = [];
      const catalog = sharedCatalog(() => openCatalogFor(loaded));
      const jobs = await startComponent(loaded, () => catalog.get(), memoryLog(lines, tag), catalogDb.url);
      assert.equal(jobs.engine, "graphile-worker");
      servers.push({ jobs, lines, close: () => catalog.close() });
    }
    const all = () => servers.flatMap((s) => s.lines).sort((x, y) => x.at - y.at);
    try {
      await until("three drills", () =>
        all().filter((l) => l.event === "job-finished" && l.fields.kind === "drill").length >= 3
          ? true
          : undefined,
      );
    } finally {
      for (const s of servers) await s.jobs.stop();
      for (const s of servers) await s.close();
    }
    const lines = all();
    const scheduled = lines.filter((l) => l.event === "job-scheduled");
    const fireTimes = scheduled.map((l) => String(l.fields.fireAt));
    assert.equal(
      new Set(fireTimes).size,
      fireTimes.length,
      `each fire time is scheduled by one server: ${fireTimes.join(", ")}`,
    );
    const backups = lines.filter((l) => l.event === "job-finished" && l.fields.kind === "backup");
    const drills = lines.filter((l) => l.event === "job-finished" && l.fields.kind === "drill");
    const backedUp = backups.map((l) => String(l.fields.restorePointId));
    const drilled = drills.map((l) => String(l.fields.restorePointId));
    assert.equal(new Set(drilled).size, drilled.length, "each restore point is drilled once");
    for (const id of drilled) assert.ok(backedUp.includes(id), `${id} was drilled after its backup`);
    assert.ok(backups.length <= scheduled.length, "no backup ran without its scheduled fire time");
    assert.ok(drills.every((l) => l.fields.result === "passed"));
    // An asset's jobs never overlap, whichever server runs them.
    let running = 0;
    for (const l of lines) {
      if (l.event === "job-started") running++;
      if (l.event === "job-finished" || l.event === "job-failed") running--;
      assert.ok(running <= 1, `two jobs of shop ran at once (${l.fields.server} at ${l.at})`);
    }
    const { rows } = {
      rows: await query<{ n: string }>(catalogDb.url, "SELECT count(*) AS n FROM lifeline_jobs.servers"),
    };
    assert.equal(rows[0]?.n, "0", "stopped servers leave no heartbeat behind");
  });
});

describe("a server killed during a scheduled backup", () => {
  let db: TestDatabase;
  let catalogDb: TestDatabase;
  let tmp: { dir: string; remove(): void };
  before(async () => {
    db = await createDatabase("lifeline_jobs");
    catalogDb = await createDatabase("lifeline_jobs_catalog");
    tmp = tempDir("lifeline-jobs-kill-");
    await query(
      db.url,
      "CREATE TABLE products (id int PRIMARY KEY, name text); INSERT INTO products SELECT g, repeat('p', 200) || g FROM generate_series(1, 200000) g",
    );
  });
  after(async () => {
    await db.drop();
    await catalogDb.drop();
    tmp.remove();
  });

  it("leaves its job to another server, which completes it; the restore point is valid", async () => {
    const repository = path.join(tmp.dir, "repository");
    const dirA = path.join(tmp.dir, "a");
    const dirB = path.join(tmp.dir, "b");
    mkdirSync(dirA);
    mkdirSync(dirB);
    writeConfig(dirA, db, { catalog: catalogDb.url, repository });
    // B takes no scheduled backup of its own in this test: only the one A leaves.
    const loadedB = writeConfig(dirB, db, { catalog: catalogDb.url, repository, backup: "0 0 1 1 *" });
    const a = startCli(["serve", "--listen", "127.0.0.1:0"], { cwd: dirA });
    let stderr = "";
    a.child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    try {
      await until("A to start a backup", () =>
        /"event":"job-started"[^\n]*"kind":"backup"/.test(stderr) ? true : undefined,
      );
    } finally {
      a.child.kill("SIGKILL");
    }
    const done = await a.done;
    assert.equal(done.signal, "SIGKILL");
    assert.doesNotMatch(stderr, /"event":"job-finished"/, "A was killed during its backup");

    const lines: LogLine[] = [];
    const catalog = sharedCatalog(() => openCatalogFor(loadedB));
    const b = await startComponent(loadedB, () => catalog.get(), memoryLog(lines, "b"), catalogDb.url);
    try {
      const retried = await until("B to complete the backup A left", () =>
        lines.find((l) => l.event === "job-finished" && l.fields.kind === "backup"),
      ).catch(async (e: unknown) => {
        console.log(
          JSON.stringify(lines),
          stderr,
          JSON.stringify(await query(catalogDb.url, "select * from lifeline_worker.jobs")),
          JSON.stringify(await query(catalogDb.url, "select * from lifeline_jobs.servers")),
        );
        throw e;
      });
      assert.equal(retried.fields.attempt, 2, "the second attempt of A's job");
      assert.ok(
        lines.some((l) => l.event === "server-dead"),
        "B saw A dead and unlocked its job",
      );
      const drilled = await until("the drill of that restore point", () =>
        lines.find((l) => l.event === "job-finished" && l.fields.kind === "drill"),
      );
      assert.equal(drilled.fields.restorePointId, retried.fields.restorePointId);
      assert.equal(drilled.fields.result, "passed", "the restore point restores and matches");
    } finally {
      await b.stop();
      await catalog.close();
    }
    const check = await cli(["check", "--json"], { cwd: dirB });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });
});

describe("lifeline prune", () => {
  let db: TestDatabase;
  let tmp: { dir: string; remove(): void };
  before(async () => {
    db = await createDatabase("lifeline_prune");
    tmp = tempDir("lifeline-prune-");
    await query(db.url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");
  });
  after(async () => {
    await db.drop();
    tmp.remove();
  });

  it("says what it would remove and why, removes it, keeps what is in use, and records it", async () => {
    const loaded = writeConfig(tmp.dir, db, {});
    const ctx = testContext(loaded.repositoryPath);
    const asset = resolveAsset(loaded, "shop", {});
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const m = await backup(ctx, asset);
      assert.equal((await drill(ctx, asset, m.id)).result, "passed");
      ids.push(m.id);
    }
    // The oldest is being restored somewhere (a hold), so it stays whatever the policy says.
    const release = await ctx.repository.holdRestorePoint("shop", ids[0] ?? "", "a restore of shop");
    try {
      const dry = await cli(["prune", "shop", "--dry-run", "--json"], { cwd: tmp.dir });
      assert.equal(dry.code, 0, dry.stderr);
      const planned = JSON.parse(dry.stdout) as {
        removed: string[];
        decisions: { id: string; reasons: string[] }[];
      };
      assert.deepEqual(planned.removed.sort(), [ids[1], ids[2]].sort());
      assert.match(
        planned.decisions.find((d) => d.id === ids[0])?.reasons.join() ?? "",
        /in use: a restore of shop/,
      );
      assert.match(planned.decisions.find((d) => d.id === ids[3])?.reasons.join() ?? "", /newest verified/);
      assert.equal(
        (await ctx.repository.overview("shop")).restorePoints.length,
        4,
        "a dry run removes nothing",
      );

      const human = await cli(["prune", "shop"], { cwd: tmp.dir });
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /removed 2 restore points, keeps 2/);
      assert.match(
        human.stdout,
        new RegExp(
          `removed ${ids[1]}  verified, but outside the retention policy \\(keepLast 1, daily 0, weekly 0\\)`,
        ),
      );
    } finally {
      await release();
    }
    const left = (await ctx.repository.overview("shop")).restorePoints.map((p) => p.id);
    assert.deepEqual(left, [ids[0], ids[3]]);
    const audit = await cli(["audit", "--kind", "prune", "--json"], { cwd: tmp.dir });
    assert.match(audit.stdout, new RegExp(ids[1] ?? "none"));
    // The index, the drill reports and the files agree: nothing orphaned.
    const check = await cli(["check"], { cwd: tmp.dir });
    assert.equal(check.code, 0, check.stdout + check.stderr);

    // A removal killed after its first step (the rename): the restore point is gone for readers,
    // check explains the leftovers, and the next backup finishes the removal (drill reports too).
    const assetDir = path.join(loaded.repositoryPath, "restore-points", "shop");
    const removing = path.join(assetDir, `.removing-${ids[0]}-99999999`);
    renameSync(path.join(assetDir, ids[0] ?? ""), removing);
    assert.deepEqual(
      (await ctx.repository.overview("shop")).restorePoints.map((p) => p.id),
      [ids[3]],
    );
    const interrupted = await cli(["check", "--json"], { cwd: tmp.dir });
    assert.equal(interrupted.code, 0, interrupted.stdout);
    assert.match(interrupted.stdout, /an interrupted removal of restore point/);
    await backup(ctx, asset);
    assert.equal(existsSync(removing), false);
    assert.equal(existsSync(path.join(loaded.repositoryPath, "drills", "shop", ids[0] ?? "")), false);
    const finished = await cli(["check"], { cwd: tmp.dir });
    assert.equal(finished.code, 0, finished.stdout + finished.stderr);

    // Two prunes at once: each removal is counted (and audited as done) once; the intended
    // removals are in the audit log before anything is deleted (a killed prune leaves its trace).
    for (let i = 0; i < 2; i++)
      assert.equal((await drill(ctx, asset, (await backup(ctx, asset)).id)).result, "passed");
    const policy = assetRetention(loaded, "shop");
    assert.ok(policy);
    const results = await withCatalog(loaded, (catalog) =>
      Promise.all(
        [1, 2].map(() =>
          prune(ctx, catalog, "shop", policy, { dryRun: false, identity: "test", host: "here" }),
        ),
      ),
    );
    const removedTwice = results.flatMap((r) => r.removed);
    assert.equal(
      removedTwice.length,
      new Set(removedTwice).size,
      `counted twice: ${removedTwice.join(", ")}`,
    );
    assert.ok(removedTwice.length >= 2, removedTwice.join(", "));
    const { entries } = JSON.parse(
      (await cli(["audit", "--kind", "prune", "--json"], { cwd: tmp.dir })).stdout,
    ) as {
      entries: {
        seq: number;
        data: { intended?: { restorePointId: string }[]; removed?: { restorePointId: string }[] };
      }[];
    };
    const done = entries.flatMap((e) => (e.data.removed ?? []).map((r) => r.restorePointId));
    assert.equal(done.length, new Set(done).size, "an audit entry claims a removal another did");
    for (const id of removedTwice) {
      const intent = entries.find((e) => e.data.intended?.some((r) => r.restorePointId === id));
      const record = entries.find((e) => e.data.removed?.some((r) => r.restorePointId === id));
      assert.ok(intent && record && intent.seq < record.seq, `no intent recorded before removing ${id}`);
    }
  });
});
