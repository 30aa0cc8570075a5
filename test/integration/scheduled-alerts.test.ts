/**
 * Alerts of the scheduled jobs (app/scheduled) against the real catalogs, SQLite and PostgreSQL:
 * a job that keeps failing is one alert, open since its first failure (status --check says so), and
 * the channel hears it once.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { jobGaveUp, type ScheduledDeps } from "../../src/app/scheduled.js";
import { openCatalogFor } from "../../src/cli/catalog.js";
import { loadConfig, type LoadedConfig } from "../../src/config/load.js";
import { sharedCatalog } from "../../src/serve/serve.js";
import { cli } from "../support/cli.js";
import { testContext } from "../support/context.js";
import { createDatabase, tempDir, type TestDatabase } from "../support/pg.js";

interface Logged {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

function writeConfig(dir: string, catalog: string | null): LoadedConfig {
  const file = path.join(dir, "lifeline.yaml");
  // A schedule that does not come round during the test: the jobs give up here.
  writeFileSync(
    file,
    `${catalog ? `catalog: ${catalog}\n` : ""}assets:
  shop:
    url: postgres://app@127.0.0.1:1/shop
    schedule: { backup: "0 0 1 1 *", drill: after-backup }
`,
  );
  return loadConfig(file, dir, {});
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
