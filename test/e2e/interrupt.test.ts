import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, cliTmpDir, startCli } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function scratchDirsOf(pid: number | undefined): string[] {
  return readdirSync(cliTmpDir())
    .filter((n) => n.startsWith("lifeline-scratch-"))
    .filter((n) => {
      try {
        return readFileSync(path.join(cliTmpDir(), n, "owner.pid"), "utf8") === String(pid);
      } catch {
        return false;
      }
    });
}

describe("interrupting lifeline loses nothing and leaves nothing", () => {
  let db: TestDatabase;
  const dirs: ReturnType<typeof tempDir>[] = [];
  /** A directory with its own lifeline.yaml and (empty) repository for the database. */
  const project = () => {
    const work = tempDir("lifeline-kill-");
    dirs.push(work);
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `backup: { jobs: 1, compression: 6 }\nassets:\n  big:\n    url: ${db.url}\n    drill: { jobs: 1 }\n`,
    );
    return { dir: work.dir, assetDir: path.join(work.dir, ".lifeline/repository/restore-points/big") };
  };

  before(async () => {
    db = await createDatabase("lifeline_kill");
    // Big enough that a backup and a restore take a noticeable moment.
    await query(
      db.url,
      `CREATE TABLE events (id bigint PRIMARY KEY, payload text, at timestamptz);
       INSERT INTO events SELECT i, repeat(md5(i::text), 4), timestamptz '2026-01-01' + i * interval '1 second'
         FROM generate_series(1, 400000) i;`,
    );
  });
  after(async () => {
    await db.drop();
    for (const dir of dirs) dir.remove();
  });

  it("SIGKILL during a backup: no restore point, check clean, the next backup works", async () => {
    const { dir, assetDir } = project();
    const work = { dir };
    const { child, done } = startCli(["backup", "big"], { cwd: work.dir });
    await waitFor(
      () =>
        existsSync(assetDir) &&
        readdirSync(assetDir).some(
          (n) => n.startsWith(".staging-") && existsSync(path.join(assetDir, n, "dump", "toc.dat")),
        ),
      30_000,
      "pg_dump to start writing",
    );
    child.kill("SIGKILL");
    const killed = await done;
    assert.equal(killed.signal, "SIGKILL");

    const check = await cli(["check", "--json"], { cwd: work.dir });
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const report = JSON.parse(check.stdout) as { ok: boolean; restorePoints: number; notes: string[] };
    assert.equal(report.ok, true);
    assert.equal(report.restorePoints, 0);

    const status = await cli(["status", "--json"], { cwd: work.dir });
    const posture = (JSON.parse(status.stdout) as { assets: { newestRestorePoint: unknown }[] }).assets[0];
    assert.equal(posture?.newestRestorePoint, null);

    const next = await cli(["backup", "big", "--json"], { cwd: work.dir });
    assert.equal(next.code, 0, next.stderr);
    const id = (JSON.parse(next.stdout) as { restorePoint: { id: string } }).restorePoint.id;
    // Only the new restore point: the killed backup's staging directory was removed.
    assert.deepEqual(readdirSync(assetDir), [id]);
    const after = await cli(["check"], { cwd: work.dir });
    assert.equal(after.code, 0, after.stdout);
  });

  describe("with a restore point", () => {
    let work: { dir: string };
    let assetDir: string;
    before(async () => {
      const created = project();
      work = { dir: created.dir };
      assetDir = created.assetDir;
      const backup = await cli(["backup", "big"], { cwd: work.dir });
      assert.equal(backup.code, 0, backup.stderr);
    });

    it("Ctrl-C during a backup removes what was staged and exits 130", async () => {
      const before = readdirSync(assetDir);
      const { child, done } = startCli(["backup", "big"], { cwd: work.dir });
      await waitFor(() => readdirSync(assetDir).some((n) => n.startsWith(".staging-")), 30_000, "staging");
      child.kill("SIGINT");
      const result = await done;
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stderr, /interrupted/);
      assert.deepEqual(readdirSync(assetDir), before);
    });

    it("Ctrl-C during a drill tears the scratch instance down and records no drill", async () => {
      const drills = path.join(work.dir, ".lifeline/repository/drills");
      const reports = () =>
        existsSync(drills)
          ? readdirSync(drills, { recursive: true }).filter((f) => String(f).endsWith(".json")).length
          : 0;
      const before = reports();
      const { child, done } = startCli(["drill", "big"], { cwd: work.dir });
      await waitFor(() => scratchDirsOf(child.pid).length > 0, 30_000, "the scratch instance");
      await sleep(300);
      child.kill("SIGINT");
      const result = await done;
      assert.equal(result.code, 130, result.stderr + result.stdout);
      assert.deepEqual(scratchDirsOf(child.pid), []);
      assert.equal(reports(), before, "no drill recorded");
      const check = await cli(["check"], { cwd: work.dir });
      assert.equal(check.code, 0, check.stdout);
    });

    it("SIGKILL during a drill: the orphaned scratch server is stopped and removed by the next drill", async () => {
      const { child, done } = startCli(["drill", "big"], { cwd: work.dir });
      await waitFor(
        () =>
          scratchDirsOf(child.pid).some((d) =>
            existsSync(path.join(cliTmpDir(), d, "data", "postmaster.pid")),
          ),
        30_000,
        "the scratch server to run",
      );
      child.kill("SIGKILL");
      await done;
      const orphans = scratchDirsOf(child.pid);
      assert.equal(orphans.length, 1, "SIGKILL skips all cleanup: the scratch is left");
      const next = await cli(["drill", "big"], { cwd: work.dir });
      assert.equal(next.code, 0, next.stderr + next.stdout);
      assert.deepEqual(scratchDirsOf(child.pid), [], "the next drill reaped it");
    });
  });
});
