/**
 * copies: and retention, attacked (real PostgreSQL, real local directories): a copy must not lose a
 * restore point its rules keep because of what happened to the source. A drill that failed on the
 * source's own rotten bytes (ARTIFACT_CORRUPT) is not brought into the copy (its bytes are intact);
 * the source's drill reports of restore points the source prunes in the same run still reach the
 * copy that keeps them (they were read before the source's removals deleted them).
 */
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import type { AppContext, CopyTarget } from "../../src/app/context.js";
import { copyRepository, copyVerified } from "../../src/app/copy.js";
import { drill } from "../../src/app/drill.js";
import { prune } from "../../src/app/prune.js";
import { openCatalog } from "../../src/catalog/index.js";
import type { Catalog } from "../../src/ports/catalog.js";
import { silentProgress } from "../../src/ports/engine.js";
import type { Repository } from "../../src/ports/repository.js";
import { LocalRepository } from "../../src/repository/local-fs/index.js";
import { testAsset, testContext } from "../support/context.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

const target = (repository: Repository): CopyTarget => ({ repository, refuse: async () => undefined });
const ids = async (repository: Repository) =>
  (await repository.overview("shop")).restorePoints.map((p) => p.id).sort();
const options = { dryRun: false, identity: "test", host: "here" };

describe("copies: and retention, attacked (local directories)", () => {
  let db: TestDatabase;
  let catalog: Catalog;
  const tmp = tempDir("lifeline-copies-retention-attacks-");

  before(async () => {
    db = await createDatabase("lifeline_copies_attacks");
    await query(db.url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)");
    catalog = await openCatalog(path.join(tmp.dir, "catalog.sqlite"));
  });
  after(async () => {
    await catalog.close();
    await db.drop();
    tmp.remove();
  });
  const asset = () => testAsset("shop", db.url, { scratch: { url: ADMIN_URL }, drillJobs: 1 });

  it("a drill that failed on the source's corrupt artifacts does not make the copy's intact restore point go", async () => {
    const base = testContext(path.join(tmp.dir, "rot-source"));
    const copy = new LocalRepository(path.join(tmp.dir, "rot-copy"));
    const ctx: AppContext = { ...base, copies: () => [target(copy)] };
    const point: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await backup(base, asset());
      point.push(m.id);
      assert.equal((await drill(base, asset(), m.id)).result, "passed");
      await copyVerified(ctx, "shop", m.id);
    }
    const [p0] = point as [string];
    // Bit rot in the source: p0's dump no longer matches its manifest there; a drill of it fails.
    const dump = path.join(tmp.dir, "rot-source", "restore-points", "shop", p0, "dump");
    const file = readdirSync(dump).find((n) => n.endsWith(".dat") || n.endsWith(".gz")) ?? "toc.dat";
    writeFileSync(path.join(dump, file), "rotten");
    const failed = await drill(base, asset(), p0);
    assert.equal(failed.result, "failed");
    assert.equal(failed.failure?.code, "ARTIFACT_CORRUPT");

    // `repository copy` does not bring that report over either.
    const copied = await copyRepository(base.repository, copy, {
      asset: "shop",
      signal: base.signal,
      progress: silentProgress,
    });
    assert.equal(copied.drillReports, 0);

    const policy = { keepLast: 3, daily: 0, weekly: 0 };
    const result = await prune(ctx, catalog, "shop", policy, options);
    const [inCopy] = result.copies;
    assert.ok(inCopy);
    assert.equal(inCopy.error, undefined);
    assert.deepEqual(inCopy.removed, [], JSON.stringify(inCopy.decisions));
    assert.deepEqual(await ids(copy), [...point].sort(), "the copy keeps its intact, verified p0");
    assert.ok(
      !(await copy.listDrillReports("shop")).some((r) => r.result === "failed"),
      "the source's ARTIFACT_CORRUPT report is not written into the copy",
    );
  });

  it("the copy gets the drill reports of restore points the source prunes in the same run", async () => {
    const base = testContext(path.join(tmp.dir, "lag-source"));
    const copy = new LocalRepository(path.join(tmp.dir, "lag-copy"));
    const ctx: AppContext = { ...base, copies: () => [target(copy)] };
    // A: copied before its drill (repository copy); drilled while the copy was unreachable.
    const a = await backup(base, asset());
    await copyRepository(base.repository, copy, {
      asset: "shop",
      restorePointId: a.id,
      signal: base.signal,
      progress: silentProgress,
    });
    assert.equal((await drill(base, asset(), a.id)).result, "passed");
    // B, C: verified; the copy was unreachable then.
    const b = await backup(base, asset());
    assert.equal((await drill(base, asset(), b.id)).result, "passed");
    const c = await backup(base, asset());
    assert.equal((await drill(base, asset(), c.id)).result, "passed");

    const policy = { keepLast: 2, daily: 0, weekly: 0 };
    const first = await prune(ctx, catalog, "shop", policy, options);
    assert.deepEqual(first.removed, [a.id], "the source keeps B and C");
    assert.deepEqual(await ids(copy), [a.id], "the copy keeps A, its only verified restore point");
    assert.equal(first.copies[0]?.drillReports, 1, JSON.stringify(first.copies[0]));
    assert.ok(
      (await copy.listDrillReports("shop")).some((r) => r.restorePointId === a.id && r.result === "passed"),
      "A's drill report is in the copy",
    );

    // The copy is reachable again: C goes there. Two verified in the copy: both stay (keepLast 2).
    await copyVerified(ctx, "shop", c.id);
    const second = await prune(ctx, catalog, "shop", policy, options);
    assert.deepEqual(second.copies[0]?.removed, [], JSON.stringify(second.copies[0]?.decisions));
    assert.deepEqual(await ids(copy), [a.id, c.id].sort());
  });
});
