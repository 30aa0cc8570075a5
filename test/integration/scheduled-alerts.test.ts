/**
 * Alerts of the scheduled jobs (app/scheduled) against the real catalogs, SQLite and PostgreSQL:
 * a job that keeps failing is one alert, open since its first failure (status --check says so), and
 * the channel hears it once. A catalog that is down: the alert still goes to the webhooks, saying it
 * was not recorded; nothing fails for it (a successful job is not retried because its alert could
 * not be resolved).
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { jobGaveUp, runJob, type ScheduledDeps } from "../../src/app/scheduled.js";
import { openCatalogFor } from "../../src/cli/catalog.js";
import { loadConfig, resolveAsset, type LoadedConfig } from "../../src/config/load.js";
import { notify } from "../../src/notify/webhook.js";
import { startJobsComponent } from "../../src/serve/jobs-component.js";
import { sharedCatalog } from "../../src/serve/serve.js";
import { cli } from "../support/cli.js";
import { testContext } from "../support/context.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface Logged {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

function writeConfig(
  dir: string,
  catalog: string | null,
  options: { url?: string; backup?: string; webhook?: string } = {},
): LoadedConfig {
  const file = path.join(dir, "lifeline.yaml");
  // By default a schedule that does not come round during the test: the jobs give up here.
  writeFileSync(
    file,
    `${catalog ? `catalog: ${catalog}\n` : ""}${options.webhook ? `notifications: { webhooks: ["${options.webhook}"] }\n` : ""}assets:
  shop:
    url: ${options.url ?? "postgres://app@127.0.0.1:1/shop"}
    drill: { scratch: { url: ${ADMIN_URL} }, jobs: 1 }
    schedule: { backup: "${options.backup ?? "0 0 1 1 *"}", drill: after-backup }
serve:
  jobs: { attempts: 2 }
`,
  );
  return loadConfig(file, dir, {});
}

/** A webhook receiver on a free port: the bodies it received. */
async function receiver(): Promise<{ url: string; received: string[]; close(): void }> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      received.push(body);
      res.end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T0/B0/secret-path`,
    received,
    close: () => server.close(),
  };
}

async function until<T>(what: string, check: () => T | undefined, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function scheduledDeps(
  loaded: LoadedConfig,
  catalog: ScheduledDeps["catalog"],
  clock: { at: Date },
  notified: string[],
  lines: Logged[],
): ScheduledDeps {
  return {
    ctx: { ...testContext(loaded.repositoryPath), clock: { now: () => clock.at } },
    catalog,
    notify: async (message) => {
      notified.push(message.text);
      return [];
    },
    identity: "lifeline serve",
    host: "test",
    log: (level, event, fields) => lines.push({ level, event, fields }),
  };
}

interface CheckJson {
  check: { breaches: { kind: string; message: string }[]; alerts: { key: string; since: string }[] };
}

async function checkAlerts(dir: string): Promise<CheckJson["check"]> {
  const check = await cli(["status", "--check", "--json"], { cwd: dir });
  assert.equal(check.code, 5, check.stderr);
  return (JSON.parse(check.stdout) as CheckJson).check;
}

const minutes = (from: string, n: number) => new Date(Date.parse(from) + n * 60_000);

for (const kind of ["sqlite", "postgres"] as const) {
  describe(`a scheduled job that keeps failing (${kind} catalog)`, () => {
    let tmp: { dir: string; remove(): void };
    let catalogDb: TestDatabase | null = null;
    before(async () => {
      tmp = tempDir("lifeline-scheduled-alerts-");
      if (kind === "postgres") catalogDb = await createDatabase("lifeline_alerts_catalog");
    });
    after(async () => {
      tmp.remove();
      await catalogDb?.drop();
    });

    it("is one alert, open since its first failure, sent once; a new failure after it resolved opens anew", async () => {
      const loaded = writeConfig(tmp.dir, catalogDb?.url ?? null);
      const shared = sharedCatalog(() => openCatalogFor(loaded));
      const notified: string[] = [];
      const lines: Logged[] = [];
      const first = "2026-11-27T03:00:00.000Z";
      const clock = { at: new Date(first) };
      const deps = scheduledDeps(loaded, () => shared.get(), clock, notified, lines);
      const failed = new Error("connection refused");
      try {
        for (let n = 0; n < 3; n++) {
          clock.at = minutes(first, 5 * n);
          await jobGaveUp(deps, { kind: "backup", asset: "shop" }, 2, failed);
        }
        assert.equal(notified.length, 1, notified.join("\n"));
        const check = await checkAlerts(tmp.dir);
        assert.deepEqual(
          check.alerts.map((a) => [a.key, a.since]),
          [["shop:backup-failed", first]],
        );
        const breach = check.breaches.find((b) => b.kind === "alert");
        assert.match(breach?.message ?? "", new RegExp(`backup-failed open since ${first}`));
        // Each repeat is in the audit log, with the time the alert opened.
        const entries = await (await shared.get()).audit({ kind: "alert" });
        assert.deepEqual(
          entries.map((e) => [e.at, e.data.openedAt, e.data.repeated ?? false]),
          [
            [first, first, false],
            [minutes(first, 5).toISOString(), first, true],
            [minutes(first, 10).toISOString(), first, true],
          ],
        );

        // Resolved (what the next successful backup records), then failing again: a new alert.
        await (
          await shared.get()
        ).appendAudit({
          at: minutes(first, 20).toISOString(),
          kind: "alert",
          identity: "lifeline serve",
          host: "test",
          asset: "shop",
          planId: null,
          data: { alert: "backup-failed", key: "shop:backup-failed", state: "resolved", message: "works" },
        });
        clock.at = minutes(first, 30);
        await jobGaveUp(deps, { kind: "backup", asset: "shop" }, 2, failed);
        assert.equal(notified.length, 2);
        assert.deepEqual(
          (await checkAlerts(tmp.dir)).alerts.map((a) => a.since),
          [minutes(first, 30).toISOString()],
        );
      } finally {
        await shared.close();
      }
    });
  });
}

/** Catalogs that are down: a SQLite file that cannot be created, a PostgreSQL database that is not there. */
const downCatalogs = {
  sqlite: (dir: string) => {
    writeFileSync(path.join(dir, "not-a-dir"), "");
    return "./not-a-dir/catalog.sqlite";
  },
  postgres: () =>
    `postgres://postgres:catalog-pw-5521@127.0.0.1:5432/lifeline_no_such_catalog_${process.pid}`,
};

for (const kind of ["sqlite", "postgres"] as const) {
  describe(`a scheduled job that gives up while the ${kind} catalog is down`, () => {
    let tmp: { dir: string; remove(): void };
    before(() => {
      tmp = tempDir("lifeline-scheduled-alerts-down-");
    });
    after(() => tmp.remove());

    it("still alerts the webhooks, saying the alert was not recorded; the log says so; nothing throws", async () => {
      const loaded = writeConfig(tmp.dir, downCatalogs[kind](tmp.dir));
      const hook = await receiver();
      const lines: Logged[] = [];
      const deps: ScheduledDeps = {
        ctx: testContext(loaded.repositoryPath),
        catalog: () => openCatalogFor(loaded),
        notify: (message) => notify([hook.url], message, { backoffMs: 10 }),
        identity: "lifeline serve",
        host: "test",
        log: (level, event, fields) => lines.push({ level, event, fields }),
      };
      try {
        await jobGaveUp(deps, { kind: "backup", asset: "shop" }, 2, new Error("connection refused"));
      } finally {
        hook.close();
      }
      assert.equal(hook.received.length, 1);
      const body = hook.received[0] ?? "";
      const sent = JSON.parse(body) as { text: string; lifeline: { kind: string; recorded: boolean } };
      assert.match(sent.text, /the scheduled backup of shop FAILED 2 times/);
      assert.match(sent.text, /could not record this alert: its catalog failed: .+status --check/s);
      assert.equal(sent.lifeline.kind, "backup-failed");
      assert.equal(sent.lifeline.recorded, false);
      assert.doesNotMatch(body, /catalog-pw-5521/);
      const notRecorded = lines.find((l) => l.event === "alert-not-recorded");
      assert.ok(notRecorded, JSON.stringify(lines));
      assert.equal(notRecorded.level, "error");
      assert.match(String(notRecorded.fields.reason), /the catalog could not record it in the audit log: ./);
      assert.doesNotMatch(JSON.stringify(lines), /catalog-pw-5521/);
    });
  });
}

describe("lifeline serve's scheduled jobs while the SQLite catalog is down", () => {
  let tmp: { dir: string; remove(): void };
  let db: TestDatabase;
  before(async () => {
    tmp = tempDir("lifeline-scheduled-alerts-serve-");
    db = await createDatabase("lifeline_alerts_shop");
    await query(db.url, "CREATE TABLE products (id int PRIMARY KEY); INSERT INTO products VALUES (1), (2)");
  });
  after(async () => {
    tmp.remove();
    await db.drop();
  });

  it("a job that gives up is alerted through the running server, which carries on", async () => {
    const hook = await receiver();
    const loaded = writeConfig(tmp.dir, downCatalogs.sqlite(tmp.dir), {
      backup: "* * * * * *",
      webhook: hook.url,
    });
    const lines: Logged[] = [];
    const shared = sharedCatalog(() => openCatalogFor(loaded));
    const jobs = await startJobsComponent({
      loaded,
      catalogLocation: path.join(tmp.dir, "not-a-dir/catalog.sqlite"),
      catalog: () => shared.get(),
      context: (signal) => testContext(loaded.repositoryPath, { signal }),
      notify: (message) => notify([hook.url], message, { backoffMs: 10 }),
      log: { log: (level, event, fields = {}) => lines.push({ level, event, fields }) },
      backoffMs: () => 100,
      pollIntervalMs: 100,
    });
    try {
      // The repository cannot be written either (its directory is a file): every backup fails.
      mkdirSync(path.dirname(loaded.repositoryPath), { recursive: true });
      writeFileSync(loaded.repositoryPath, "");
      await until("an alert at the webhook", () => (hook.received.length > 0 ? true : undefined));
      await until("another job after it", () =>
        lines.filter((l) => l.event === "job-started").length >= 3 ? true : undefined,
      );
    } finally {
      await jobs.stop();
      await shared.close();
      hook.close();
    }
    assert.match(hook.received[0] ?? "", /could not record this alert/);
    assert.ok(lines.some((l) => l.event === "alert-not-recorded"));
    assert.ok(!lines.some((l) => l.event === "alert-failed"), JSON.stringify(lines));
  });

  it("a backup that succeeds is not failed (nor retried) because its alert could not be resolved", async () => {
    const loaded = writeConfig(tmp.dir, downCatalogs.sqlite(tmp.dir), { url: db.url });
    const repoDir = tempDir("lifeline-scheduled-alerts-repo-");
    const lines: Logged[] = [];
    try {
      const outcome = await runJob(
        {
          ctx: testContext(repoDir.dir),
          catalog: () => openCatalogFor(loaded),
          notify: async () => [],
          identity: "lifeline serve",
          host: "test",
          log: (level, event, fields) => lines.push({ level, event, fields }),
        },
        { asset: resolveAsset(loaded, "shop", {}), retention: null, drillAfterBackup: false },
        { kind: "backup", asset: "shop" },
      );
      assert.equal(outcome.kind, "backup");
      const logged = lines.find((l) => l.event === "alert-not-resolved");
      assert.ok(logged, JSON.stringify(lines));
      assert.match(String(logged.fields.reason), /stays open until a later backup succeeds/);
    } finally {
      repoDir.remove();
    }
  });
});
