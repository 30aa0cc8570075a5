import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import type { GateDeps } from "../../src/app/gate.js";
import { standby } from "../../src/app/standby.js";
import { openCatalog } from "../../src/catalog/index.js";
import { isLifelineError } from "../../src/core/errors.js";
import { newRestorePointId } from "../../src/core/restore-point/restore-point.js";
import type { Catalog } from "../../src/ports/catalog.js";
import type { Engine, Recovery, Target } from "../../src/ports/engine.js";
import { testAsset, testContext } from "../support/context.js";
import { ADMIN_URL, createDatabase, query, tempDir, urlFor, type TestDatabase } from "../support/pg.js";
import { cloneRestorePoint, editManifest, passedDrill } from "../support/repository.js";

/**
 * standby through the app, against the real PostgreSQL: the paths the e2e test does not take
 * (a refresh whose copy does not match, two refreshes at once, a standby dropped by hand).
 */
describe("standby (app)", () => {
  const work = tempDir("lifeline-standby-int-");
  const repo = path.join(work.dir, "repository");
  const ctx = testContext(repo);
  let source: TestDatabase;
  let catalog: Catalog;
  let deps: GateDeps;
  let standbyName: string;
  let standbyUrl: string;
  const asset = () => testAsset("shop", source.url);
  const count = async () => (await query<{ n: string }>(standbyUrl, "SELECT count(*) AS n FROM items"))[0]?.n;
  let rp1 = "";
  /** A restore point newer than every other, with rp1's artifacts, verified. */
  let minutes = 0;
  const newer = async (edit?: (raw: Record<string, unknown>) => void): Promise<string> => {
    minutes += 10;
    const at = new Date(Date.now() + minutes * 60_000);
    const id = newRestorePointId(at, Math.random().toString(16).slice(2, 8));
    cloneRestorePoint(repo, "shop", rp1, id, at.toISOString());
    if (edit) editManifest(repo, "shop", id, edit);
    await ctx.repository.writeDrillReport(
      passedDrill("shop", id, new Date(at.getTime() + 1000).toISOString()),
    );
    return id;
  };
  const leftovers = async () =>
    (
      await query<{ datname: string }>(
        ADMIN_URL,
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1",
        [standbyName],
      )
    ).map((r) => r.datname);

  before(async () => {
    source = await createDatabase("lifeline_sb_int");
    standbyName = `${source.name}_standby`;
    standbyUrl = urlFor(standbyName);
    await query(
      source.url,
      "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100);",
    );
    catalog = await openCatalog(path.join(work.dir, "catalog.sqlite"));
    deps = {
      catalog,
      identity: { id: "ops@example.com", source: "env", host: "test", authenticated: false },
      clock: { now: () => new Date() },
      notify: async () => [],
      warn: () => undefined,
    };
    const manifest = await backup(ctx, asset());
    rp1 = manifest.id;
    await ctx.repository.writeDrillReport(passedDrill("shop", rp1, new Date().toISOString()));
  });

  after(async () => {
    await catalog.close();
    for (const name of await leftovers())
      await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await source.drop();
    work.remove();
  });

  it("creates the standby from the verified restore point", async () => {
    const outcome = await standby(ctx, deps, { asset: asset(), to: standbyUrl, refresh: false, jobs: 2 });
    assert.equal(outcome.standby.restorePointId, rp1);
    assert.equal(outcome.standby.unchanged, false);
    assert.equal(await count(), "100");
  });

  it("a refresh whose copy does not match the restore point fails (exit 4) and the previous standby keeps serving", async () => {
    const bad = await newer((raw) => {
      const fingerprints = raw.fingerprints as { tables: { rows: number }[] };
      const first = fingerprints.tables[0];
      if (first) first.rows += 1;
    });
    await assert.rejects(
      standby(ctx, deps, { asset: asset(), to: null, refresh: true, jobs: 2 }),
      (error: unknown) => {
        assert.ok(isLifelineError(error));
        assert.equal(error.code, "RESTORE_VERIFY_FAILED");
        assert.equal(error.exitCode, 4);
        assert.match(error.message, new RegExp(`still serves ${rp1}`));
        return true;
      },
    );
    assert.equal(await count(), "100");
    assert.deepEqual(await leftovers(), [standbyName], "the mismatching copy was dropped");
    const entries = await catalog.audit({ kind: "standby" });
    const last = entries.at(-1)?.data as { result: string; restorePointId: string; error: string };
    assert.equal(last.result, "failed");
    assert.equal(last.restorePointId, bad);
    assert.match(last.error, /RESTORE_VERIFY_FAILED/);
    // A standby of a damaged newest verified restore point is not quietly an older one.
    editManifest(repo, "shop", bad, (raw) => (raw.asset = "tampered"), { reseal: false });
    await assert.rejects(standby(ctx, deps, { asset: asset(), to: null, refresh: true, jobs: 2 }), /damaged/);
    assert.equal(await count(), "100");
  });

  it("two refreshes at once: one replaces the standby, the other is refused or finds it unchanged", async () => {
    const good = await newer();
    const results = await Promise.allSettled([
      standby(ctx, deps, { asset: asset(), to: null, refresh: true, jobs: 2 }),
      standby(ctx, deps, { asset: asset(), to: null, refresh: true, jobs: 2 }),
    ]);
    const done = results.filter((r) => r.status === "fulfilled").map((r) => r.value.standby);
    const refused = results.filter((r) => r.status === "rejected").map((r) => r.reason as unknown);
    assert.ok(
      done.some((s) => s.restorePointId === good && !s.unchanged),
      JSON.stringify(results.map((r) => (r.status === "fulfilled" ? r.value.standby : String(r.reason)))),
    );
    for (const error of refused)
      assert.ok(isLifelineError(error) && error.code === "RESTORE_BUSY", String(error));
    assert.equal(await count(), "100");
    assert.deepEqual(await leftovers(), [standbyName]);
  });

  it("a standby dropped by hand is created again by a refresh, even with nothing newer", async () => {
    await query(ADMIN_URL, `DROP DATABASE "${standbyName}" WITH (FORCE)`);
    const outcome = await standby(ctx, deps, { asset: asset(), to: null, refresh: true, jobs: 2 });
    assert.equal(outcome.standby.unchanged, false);
    assert.equal(await count(), "100");
    const again = await standby(ctx, deps, { asset: asset(), to: null, refresh: true, jobs: 2 });
    assert.equal(again.standby.unchanged, true);
  });
  it("a refresh that lost the race to another one, with more rows: never STANDBY_WRITTEN for the standby the other left", async () => {
    await query(source.url, "INSERT INTO items SELECT generate_series(1001, 1050)");
    const grown = await backup(ctx, asset());
    // Newer than the clones made above (their snapshot times are in the future).
    minutes += 10;
    const at = new Date(Date.now() + minutes * 60_000);
    const id = newRestorePointId(at, Math.random().toString(16).slice(2, 8));
    cloneRestorePoint(repo, "shop", grown.id, id, at.toISOString());
    await ctx.repository.writeDrillReport(
      passedDrill("shop", id, new Date(at.getTime() + 1000).toISOString()),
    );
    const other: { outcome?: unknown } = {};
    let inspected = false;
    // Deterministic: once this refresh has read the recorded standby and inspected it, another refresh
    // runs to its end before this one takes the recovery lock.
    const engineOf = (name: string): Engine => {
      const engine = ctx.engine(name);
      const real = engine.recovery as Recovery;
      const recovery: Recovery = {
        ...real,
        inspect: async (t: Target) => {
          const state = await real.inspect(t);
          if (engine.database(t) === standbyName) inspected = true;
          return state;
        },
        lock: async (t: Target) => {
          if (inspected && !("outcome" in other) && engine.database(t) === standbyName)
            other.outcome = await standby(ctx, deps, {
              asset: asset(),
              to: null,
              refresh: true,
              jobs: 2,
            }).then(
              (o) => o.standby,
              (e: unknown) => e,
            );
          return real.lock(t);
        },
      };
      return { ...engine, recovery };
    };
    const mine = await standby({ ...ctx, engine: engineOf }, deps, {
      asset: asset(),
      to: null,
      refresh: true,
      jobs: 2,
    }).then(
      (o) => o.standby,
      (e: unknown) => e,
    );
    assert.ok("outcome" in other, "the other refresh ran");
    assert.ok(!(other.outcome instanceof Error), String(other.outcome));
    // Before: STANDBY_WRITTEN "50 row(s) were inserted … since lifeline created it" (the rows of the
    // other refresh's restore), and a fix telling to pg_dump it and replace it through the gate.
    assert.ok(!(mine instanceof Error), String(mine));
    assert.equal(await count(), "150");
  });
});
