import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, openSync, readdirSync, writeSync, closeSync, existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { drill } from "../../src/app/drill.js";
import { isLifelineError, type LifelineError } from "../../src/core/errors.js";
import { writeFileAtomic } from "../../src/support/files.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

async function rejection(promise: Promise<unknown>): Promise<LifelineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isLifelineError(error), `expected a LifelineError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected an error");
}

/** Every file below dir, relative. */
function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

/** Fills the file system holding dir until it refuses another byte. */
function fill(dir: string): void {
  const fd = openSync(path.join(dir, "filler"), "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  }
  // Whatever is left below one chunk.
  try {
    for (;;) writeSync(fd, Buffer.alloc(512, 1));
  } catch {
    // full
  }
  closeSync(fd);
}

/** A 4 MB tmpfs of its own (needs root; the tests skip without it). */
function mountTmpfs(dir: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("a full disk is a clear error with a fix, and leaves no temporary file (real tmpfs)", () => {
  let db: TestDatabase;
  let work: ReturnType<typeof tempDir>;
  let disk: string;
  let mounted = false;

  before(async () => {
    db = await createDatabase("lifeline_full");
    await query(
      db.url,
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' FROM generate_series(1, 100) i",
    );
    work = tempDir();
    disk = path.join(work.dir, "disk");
    mkdirSync(disk);
    mounted = mountTmpfs(disk);
  });
  after(async () => {
    if (mounted) execFileSync("umount", [disk]);
    await db.drop();
    work.remove();
  });

  it("writeFileAtomic on a full disk says so (DISK_FULL) and removes its temporary file", async (t) => {
    if (!mounted) return t.skip("cannot mount a tmpfs here (not root)");
    const dir = path.join(disk, "atomic");
    mkdirSync(dir);
    fill(dir);
    await assert.rejects(writeFileAtomic(path.join(dir, "x.json"), "y".repeat(100_000)), (error: unknown) => {
      assert.ok(isLifelineError(error));
      assert.equal(error.code, "DISK_FULL");
      assert.ok(error.message.includes(`the disk holding ${dir} is full`), error.message);
      return true;
    });
    assert.deepEqual(allFiles(dir), ["filler"]);
    execFileSync("rm", ["-f", path.join(dir, "filler")]);
  });

  it("a drill whose report does not fit: DISK_FULL naming the disk, with a fix; no .tmp- file left", async (t) => {
    if (!mounted) return t.skip("cannot mount a tmpfs here (not root)");
    const repo = path.join(disk, "repo");
    const manifest = await backup(testContext(repo), testAsset("app", db.url));
    fill(disk);
    const error = await rejection(drill(testContext(repo), testAsset("app", db.url)));
    assert.equal(error.code, "DISK_FULL");
    assert.match(error.message, /the disk holding .* is full/);
    assert.match(error.fix ?? "", /free space/);
    assert.deepEqual(
      allFiles(repo).filter((f) => /\.tmp-|\.pending-/.test(f)),
      [],
    );
    assert.ok(existsSync(path.join(repo, "restore-points", "app", manifest.id)));
    execFileSync("rm", ["-f", path.join(disk, "filler")]);
  });

  it("a backup onto a full disk fails with a fix, and stages nothing", async (t) => {
    if (!mounted) return t.skip("cannot mount a tmpfs here (not root)");
    const repo = path.join(disk, "repo2");
    mkdirSync(repo);
    await backup(testContext(repo), testAsset("app", db.url));
    fill(disk);
    const error = await rejection(backup(testContext(repo), testAsset("app", db.url)));
    assert.ok(error.fix, `a fix for: ${error.code} ${error.message}`);
    assert.match(error.fix, /free space|disk/);
    assert.deepEqual(
      readdirSync(path.join(repo, "restore-points", "app")).filter((n) => n.startsWith(".")),
      [],
    );
    execFileSync("rm", ["-f", path.join(disk, "filler")]);
  });
});

describe("the server dying mid-backup", () => {
  let db: TestDatabase;
  let repo: ReturnType<typeof tempDir>;

  before(async () => {
    db = await createDatabase("lifeline_dying");
    await query(
      db.url,
      "CREATE TABLE big (id int, v text); INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 600000) i",
    );
    repo = tempDir();
  });
  after(async () => {
    await db.drop();
    repo.remove();
  });

  it("a terminated backend mid-dump is an error with a fix, and stages nothing", async () => {
    const ctx = testContext(repo.dir);
    let killed: Promise<unknown> | undefined;
    ctx.progress = {
      phase: (m) => {
        if (m.startsWith("dumping"))
          killed = new Promise((r) => setTimeout(r, 300)).then(() =>
            query(
              db.url.replace(/\/[^/]*$/, "/postgres"),
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
              [db.name],
            ),
          );
      },
      warn: () => undefined,
    };
    const error = await rejection(backup(ctx, testAsset("app", db.url)));
    await killed;
    assert.ok(error.fix, `a fix for: ${error.code} ${error.message}`);
    assert.match(error.fix, /lifeline backup app/);
    const dir = path.join(repo.dir, "restore-points", "app");
    assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
  });
});
