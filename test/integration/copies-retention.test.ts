/**
 * copies: and retention, against real PostgreSQL, real local directories and a real S3 server
 * (s3rver on loopback): prune applies the asset's retention to each copy, judged on what that copy
 * holds (a copy that lags behind keeps its own newest verified restore points, a hold in the copy
 * counts, the source's drill reports are brought over first); an unreachable copy is reported and
 * the others are still pruned; the server's scheduled drill copies as the drill command does.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import type { AppContext, CopyTarget } from "../../src/app/context.js";
import { copyRepository, copyVerified } from "../../src/app/copy.js";
import { drill } from "../../src/app/drill.js";
import { prune } from "../../src/app/prune.js";
import { runJob, type ScheduledDeps } from "../../src/app/scheduled.js";
import { openCatalog } from "../../src/catalog/index.js";
import type { Catalog } from "../../src/ports/catalog.js";
import { silentProgress } from "../../src/ports/engine.js";
import type { Repository } from "../../src/ports/repository.js";
import { LocalRepository } from "../../src/repository/local-fs/index.js";
import { S3Repository } from "../../src/repository/s3/index.js";
import { testAsset, testContext } from "../support/context.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";
import { startS3, type TestS3 } from "../support/s3.js";

const policy = { keepLast: 2, daily: 0, weekly: 0 };
const target = (repository: Repository): CopyTarget => ({ repository, refuse: async () => undefined });
const ids = async (repository: Repository) =>
  (await repository.overview("shop")).restorePoints.map((p) => p.id).sort();

describe("copies: and retention (local directories and s3rver)", () => {
  let db: TestDatabase;
  let s3: TestS3;
  let catalog: Catalog;
  const tmp = tempDir("lifeline-copies-retention-");
  const savedEnv = { ...process.env };

  before(async () => {
    s3 = await startS3(["lifeline-test"]);
    Object.assign(process.env, s3.env);
    db = await createDatabase("lifeline_copies_retention");
    await query(db.url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)");
    catalog = await openCatalog(path.join(tmp.dir, "catalog.sqlite"));
  });
  after(async () => {
    await catalog.close();
    await db.drop();
    await s3.stop();
    tmp.remove();
    process.env = savedEnv;
  });

  const s3Repository = (bucket: string, prefix: string) =>
    new S3Repository({ bucket, prefix, endpoint: s3.endpoint, forcePathStyle: true });

  it("prunes each copy with the same rules, judged on what it holds; an unreachable copy is reported, the others are pruned", async () => {
    const base = testContext(path.join(tmp.dir, "source"));
    const local = new LocalRepository(path.join(tmp.dir, "copy"));
    const offsite = s3Repository("lifeline-test", "offsite");
    const unreachable = s3Repository("no-such-bucket", "copy");
    const copying: AppContext = { ...base, copies: () => [target(local), target(offsite)] };
    const asset = testAsset("shop", db.url, { scratch: { url: ADMIN_URL }, drillJobs: 1 });
    const point: string[] = [];
    // B0..B2: drilled, passing, copied (with their drill reports) to both copies.
    for (let i = 0; i < 3; i++) {
      const m = await backup(base, asset);
      point.push(m.id);
      assert.equal((await drill(base, asset, m.id)).result, "passed");
      const copied = await copyVerified(copying, "shop", m.id);
      assert.deepEqual(
        copied.map((c) => [c.to, c.result?.copied, c.result?.drillReports]),
        [local, offsite].map((r) => [r.location, [`shop/${m.id}`], 1]),
      );
    }
    // B3: copied before its drill (repository copy), drilled afterwards without copying its report.
    const b3 = await backup(base, asset);
    point.push(b3.id);
    for (const to of [local, offsite])
      await copyRepository(base.repository, to, {
        asset: "shop",
        restorePointId: b3.id,
        signal: base.signal,
        progress: silentProgress,
      });
    assert.equal((await drill(base, asset, b3.id)).result, "passed");
    // B4: verified, but the copies were unreachable then: they lag behind.
    const b4 = await backup(base, asset);
    point.push(b4.id);
    assert.equal((await drill(base, asset, b4.id)).result, "passed");
    const [p0, p1, p2, p3, p4] = point as [string, string, string, string, string];
    // Someone restores B0 from the local copy: held there.
    const release = await local.holdRestorePoint("shop", p0, "a restore of shop from the copy");
    try {
      const ctx: AppContext = {
        ...base,
        copies: () => [target(local), target(unreachable), target(offsite)],
      };
      const dry = await prune(ctx, catalog, "shop", policy, { dryRun: true, identity: "test", host: "here" });
      assert.equal(dry.copies.length, 3);
      assert.deepEqual(await ids(local), [p0, p1, p2, p3].sort(), "a dry run removes nothing from a copy");

      const result = await prune(ctx, catalog, "shop", policy, {
        dryRun: false,
        identity: "test",
        host: "here",
      });
      // The source keeps its newest two verified.
      assert.deepEqual(result.removed.sort(), [p0, p1, p2].sort());
      assert.deepEqual(await ids(base.repository), [p3, p4].sort());
      const [inLocal, inUnreachable, inOffsite] = result.copies;
      // The local copy holds B0..B3: its newest two verified are B3 (verified by the source's
      // drill report, brought over) and B2 — not the source's B3 and B4; B0 is held there.
      assert.ok(inLocal && inOffsite);
      assert.equal(inLocal.error, undefined);
      assert.deepEqual(inLocal.removed, [p1]);
      assert.equal(inLocal.drillReports, 1);
      assert.match(
        inLocal.decisions.find((d) => d.id === p2)?.reasons.join() ?? "",
        /one of the last 2 verified/,
      );
      assert.match(
        inLocal.decisions.find((d) => d.id === p0)?.reasons.join() ?? "",
        /in use: a restore of shop/,
      );
      assert.deepEqual(await ids(local), [p0, p2, p3].sort());
      assert.ok(
        (await local.listDrillReports("shop")).some((r) => r.restorePointId === p3 && r.result === "passed"),
        "the source's drill report of B3 is in the copy",
      );
      // The unreachable copy: a clear error, nothing else stopped.
      assert.match(inUnreachable?.error ?? "", /no-such-bucket/);
      assert.deepEqual(inUnreachable?.removed, []);
      // The copy in object storage: no hold there, so B0 goes too.
      assert.equal(inOffsite.error, undefined);
      assert.deepEqual(inOffsite.removed.sort(), [p0, p1].sort());
      assert.deepEqual(await ids(offsite), [p2, p3].sort());
      assert.ok(inOffsite.audit, "the copy's removals are in the audit log");
      const audit = await catalog.audit({ asset: "shop", kind: "prune" });
      assert.ok(
        audit.some(
          (e) => e.data.copy === offsite.location && (JSON.stringify(e.data.removed) ?? "").includes(p0),
        ),
        "the audit entry names the copy",
      );
    } finally {
      await release();
    }
    // Again: the copies alone hold B2 now (the source removed it); their rules keep it.
    const again = await prune(
      { ...base, copies: () => [target(local), target(offsite)] },
      catalog,
      "shop",
      policy,
      {
        dryRun: false,
        identity: "test",
        host: "here",
      },
    );
    assert.deepEqual(again.removed, []);
    assert.deepEqual(again.copies[0]?.removed, [p0], "B0 is no longer held in the local copy");
    assert.deepEqual(again.copies[1]?.removed, []);
    assert.deepEqual(await ids(local), [p2, p3].sort());
    assert.deepEqual(await ids(offsite), [p2, p3].sort());
    for (const repository of [local, offsite]) {
      const check = await repository.check();
      assert.deepEqual(check.findings, [], `${repository.location}: ${JSON.stringify(check.findings)}`);
    }
  });

  it("the server's scheduled drill copies the verified restore point, then prunes the source and each copy", async () => {
    const base = testContext(path.join(tmp.dir, "served"));
    const local = new LocalRepository(path.join(tmp.dir, "served-copy"));
    const offsite = s3Repository("lifeline-test", "served-offsite");
    const ctx: AppContext = { ...base, copies: () => [target(local), target(offsite)] };
    const asset = testAsset("shop", db.url, { scratch: { url: ADMIN_URL }, drillJobs: 1 });
    const logged: { event: string; fields: Record<string, unknown> }[] = [];
    const deps: ScheduledDeps = {
      ctx,
      catalog: async () => catalog,
      notify: async () => [],
      identity: "lifeline serve",
      host: "here",
      log: (_level, event, fields) => logged.push({ event, fields }),
    };
    const jobs = { asset, retention: { keepLast: 1, daily: 0, weekly: 0 }, drillAfterBackup: true };
    const taken: string[] = [];
    for (let i = 0; i < 2; i++) {
      const b = await runJob(deps, jobs, { kind: "backup", asset: "shop" });
      taken.push(b.restorePointId);
      const d = await runJob(deps, jobs, { kind: "drill", asset: "shop", restorePointId: b.restorePointId });
      assert.equal(d.kind === "drill" ? d.result : "", "passed");
    }
    const [first, second] = taken as [string, string];
    for (const repository of [local, offsite]) {
      assert.deepEqual(
        await ids(repository),
        [second],
        `${repository.location} holds the newest, pruned the first`,
      );
      assert.ok(
        (await repository.listDrillReports("shop")).some(
          (r) => r.restorePointId === second && r.result === "passed",
        ),
        `${repository.location} has the drill report`,
      );
    }
    assert.ok(
      logged.some((l) => l.event === "pruned" && l.fields.copy === offsite.location),
      JSON.stringify(logged),
    );
    assert.ok(!logged.some((l) => l.event === "copy-failed"), JSON.stringify(logged));
    assert.deepEqual(await ids(base.repository), [second]);
    assert.notEqual(first, second);

    // A copy that cannot be reached: logged and alerted, the drill stays passed, the others get theirs.
    const unreachable = s3Repository("no-such-bucket", "served");
    deps.ctx = { ...ctx, copies: () => [target(unreachable), target(local)] };
    const third = await runJob(deps, jobs, { kind: "backup", asset: "shop" });
    const drilled = await runJob(deps, jobs, {
      kind: "drill",
      asset: "shop",
      restorePointId: third.restorePointId,
    });
    assert.equal(drilled.kind === "drill" ? drilled.result : "", "passed");
    assert.deepEqual(drilled.kind === "drill" ? drilled.copies?.map((c) => [c.to, c.copied]) : [], [
      [unreachable.location, false],
      [local.location, true],
    ]);
    assert.deepEqual(await ids(local), [third.restorePointId]);
    assert.ok(logged.some((l) => l.event === "copy-failed" && l.fields.to === unreachable.location));
    const alerts = await catalog.audit({ asset: "shop", kind: "alert" });
    assert.ok(
      alerts.some((a) => a.data.alert === "copy-failed" && a.data.state === "open"),
      JSON.stringify(alerts),
    );
  });
});
