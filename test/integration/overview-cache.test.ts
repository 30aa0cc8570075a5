import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { LocalRepository } from "../../src/repository/local-fs/index.js";
import { CachedOverviewRepository, withOverviewCache } from "../../src/repository/local-fs/overview-cache.js";
import { tempDir } from "../support/pg.js";
import { passedDrill } from "../support/repository.js";
import { REPO } from "../support/repo.js";

const SETTLE_MS = 150;
const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS + 50));
const A = "20261120T100000Z-aaaaaa";
const B = "20261121T100000Z-bbbbbb";
const C = "20261122T100000Z-cccccc";

/** Another process: a plain node child, so that nothing in this process's memory is shared. */
function inAnotherProcess(script: string): void {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    cwd: REPO,
  });
  assert.equal(r.status, 0, r.stderr);
}

describe("the remembered asset overview (lifeline serve) is never staler than a fresh read", () => {
  let work: ReturnType<typeof tempDir>;
  let n = 0;
  before(() => (work = tempDir("lifeline-overview-cache-")));
  after(() => work.remove());

  /** A repository with restore point directories (no manifest: listed as damaged, enough here). */
  async function repository(ids: string[]): Promise<{ dir: string; cached: CachedOverviewRepository }> {
    const dir = path.join(work.dir, `repo-${n++}`);
    for (const id of ids) mkdirSync(path.join(dir, "restore-points", "app", id), { recursive: true });
    await new LocalRepository(dir).overview("app"); // writes the index
    await settle();
    return { dir, cached: new CachedOverviewRepository(dir, { settleMs: SETTLE_MS }) };
  }

  /** The cached answer, checked against a fresh read by a new handle. */
  async function read(cached: CachedOverviewRepository) {
    const got = await cached.overview("app");
    assert.deepEqual(got, await new LocalRepository(cached.root).overview("app"));
    return got;
  }

  it("answers from memory while the files are unchanged, and gives fresh objects", async () => {
    const { cached } = await repository([A]);
    const first = await read(cached);
    const second = await read(cached);
    assert.deepEqual(cached.counts, { remembered: 1, read: 1 });
    assert.deepEqual(
      second.restorePoints.map((p) => p.id),
      [A],
    );
    second.restorePoints.pop();
    assert.equal((await cached.overview("app")).restorePoints.length, 1);
    assert.notEqual(first, second);
  });

  it("sees a backup and a prune by another process at the next request", async () => {
    const { dir, cached } = await repository([A, B]);
    await read(cached);
    await read(cached);
    assert.equal(cached.counts.remembered, 1);
    // A backup's commit: the restore point directory appears (renamed from staging).
    inAnotherProcess(
      `import { mkdirSync } from "node:fs"; mkdirSync(${JSON.stringify(path.join(dir, "restore-points", "app", C))});`,
    );
    assert.deepEqual(
      (await read(cached)).restorePoints.map((p) => p.id),
      [A, B, C],
    );
    await settle();
    await read(cached);
    const remembered = cached.counts.remembered;
    // A prune: the repository's own removal, in another process.
    inAnotherProcess(
      `import { LocalRepository } from "./src/repository/local-fs/index.ts";
       await new LocalRepository(${JSON.stringify(dir)}).removeRestorePoint("app", ${JSON.stringify(A)});`,
    );
    assert.deepEqual(
      (await read(cached)).restorePoints.map((p) => p.id),
      [B, C],
    );
    assert.equal(cached.counts.remembered, remembered);
  });

  it("sees a drill report added beside an older one by another handle (only the index changes)", async () => {
    const { dir, cached } = await repository([A]);
    await new LocalRepository(dir).writeDrillReport(passedDrill("app", A, "2026-11-26T10:00:00.000Z"));
    await settle();
    await read(cached);
    assert.equal((await read(cached)).drills.length, 1);
    assert.equal(cached.counts.remembered, 1);
    // drills/app/<A>/ exists already: drills/app itself does not change, the index does.
    await new LocalRepository(dir).writeDrillReport(passedDrill("app", A, "2026-11-27T10:00:00.000Z"));
    assert.equal((await read(cached)).drills.length, 2);
    assert.equal(cached.counts.remembered, 1);
  });

  it("sees a change whose directory mtime was set back (the ctime still moved)", async () => {
    const { dir, cached } = await repository([A]);
    await read(cached);
    await read(cached);
    const assetDir = path.join(dir, "restore-points", "app");
    const { mtimeNs } = statSync(assetDir, { bigint: true });
    mkdirSync(path.join(assetDir, B));
    // To the nanosecond (touch -d @seconds.nanoseconds), as rsync -t or a same-tick change would.
    const at = `@${mtimeNs / 1_000_000_000n}.${String(mtimeNs % 1_000_000_000n).padStart(9, "0")}`;
    assert.equal(spawnSync("touch", ["-m", "-d", at, assetDir]).status, 0);
    assert.equal(statSync(assetDir, { bigint: true }).mtimeNs, mtimeNs);
    assert.deepEqual(
      (await read(cached)).restorePoints.map((p) => p.id),
      [A, B],
    );
  });

  it("remembers nothing while a writer's marker or the index lock is there, or a change is young", async () => {
    const { dir, cached } = await repository([A]);
    writeFileSync(path.join(dir, "index", `app.pending-${process.pid}-abc`), "");
    await settle();
    await read(cached);
    await read(cached);
    assert.deepEqual(cached.counts, { remembered: 0, read: 2 });
    writeFileSync(path.join(dir, "index", "app.lock"), String(process.pid));
    const { rmSync } = await import("node:fs");
    rmSync(path.join(dir, "index", `app.pending-${process.pid}-abc`));
    await settle();
    await read(cached);
    await read(cached);
    assert.deepEqual(cached.counts, { remembered: 0, read: 4 });
    rmSync(path.join(dir, "index", "app.lock"));
    // Young: the index directory changed just now.
    await read(cached);
    await read(cached);
    assert.deepEqual(cached.counts, { remembered: 0, read: 6 });
    await settle();
    await read(cached);
    await read(cached);
    assert.deepEqual(cached.counts, { remembered: 1, read: 7 });
  });

  it("an empty repository is remembered; a repository that is no local one is left as it is", async () => {
    const dir = path.join(work.dir, `repo-${n++}`);
    const cached = new CachedOverviewRepository(dir, { settleMs: SETTLE_MS });
    await read(cached);
    await read(cached);
    assert.deepEqual(cached.counts, { remembered: 1, read: 1 });
    assert.ok(withOverviewCache(new LocalRepository(dir)) instanceof CachedOverviewRepository);
    assert.equal(withOverviewCache(cached), cached);
    const other = { location: "s3://x" } as unknown as LocalRepository;
    assert.equal(withOverviewCache(other), other);
  });
});
