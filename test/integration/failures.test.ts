import assert from "node:assert/strict";
import { chmodSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { status } from "../../src/app/status.js";
import { LifelineError, isLifelineError } from "../../src/core/errors.js";
import { secrets } from "../../src/core/redact.js";
import { embeddedScratch } from "../../src/scratch/embedded-postgres/index.js";
import type { ScratchInstance } from "../../src/ports/scratch.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<LifelineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isLifelineError(error), `expected a LifelineError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

function allText(error: LifelineError): string {
  return [error.message, error.fix ?? "", ...error.details].join("\n");
}

describe("failures leave nothing behind and say what to do", () => {
  let db: TestDatabase;
  let repo: ReturnType<typeof tempDir>;

  before(async () => {
    db = await createDatabase("lifeline_fail");
    await query(
      db.url,
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 1000) i",
    );
    repo = tempDir();
  });
  after(async () => {
    await db.drop();
    repo.remove();
  });

  function repositoryEntries(): string[] {
    const dir = path.join(repo.dir, "restore-points", "app");
    return existsSync(dir) ? readdirSync(dir) : [];
  }

  it("refuses a pg_dump older than the server, and takes no restore point", async () => {
    const bin = tempDir("lifeline-fakebin-");
    try {
      writeFileSync(path.join(bin.dir, "pg_dump"), "#!/bin/sh\necho 'pg_dump (PostgreSQL) 12.9'\nexit 0\n");
      writeFileSync(path.join(bin.dir, "pg_restore"), '#!/bin/sh\nexec pg_restore "$@"\n');
      chmodSync(path.join(bin.dir, "pg_dump"), 0o755);
      chmodSync(path.join(bin.dir, "pg_restore"), 0o755);
      const ctx = testContext(repo.dir, { pgBin: bin.dir });
      const error = await rejectsWith(backup(ctx, testAsset("app", db.url)), "TOOL_TOO_OLD");
      assert.match(error.message, /pg_dump 12\.9 is older than the server \(PostgreSQL 1\d\)/);
      assert.match(error.fix ?? "", /pgBin|LIFELINE_PG_BIN/);
      assert.deepEqual(repositoryEntries(), []);
      assert.deepEqual(await ctx.repository.listRestorePoints(), []);
    } finally {
      bin.remove();
    }
  });

  it("an unreachable server is a clear error, and nothing is staged", async () => {
    const ctx = testContext(repo.dir);
    const error = await rejectsWith(
      backup(ctx, testAsset("app", "postgres://app:pw-unreach@127.0.0.1:1/shop")),
      "DB_UNREACHABLE",
    );
    assert.match(error.message, /connection refused/);
    assert.ok(!allText(error).includes("pw-unreach"));
    assert.deepEqual(repositoryEntries(), []);
  });

  it("an unknown host is a clear error", async () => {
    const ctx = testContext(repo.dir);
    const error = await rejectsWith(
      backup(ctx, testAsset("app", "postgres://app@no-such-host.invalid:5432/shop")),
      "DB_UNREACHABLE",
    );
    assert.match(error.message, /host not found/);
  });

  it("an interrupted backup (abort mid-dump) leaves no restore point and no staging files", async () => {
    const controller = new AbortController();
    const ctx = testContext(repo.dir, { signal: controller.signal });
    ctx.progress = {
      phase: (m) => (m.startsWith("dumping") ? controller.abort() : undefined),
      warn: () => undefined,
    };
    await rejectsWith(backup(ctx, testAsset("app", db.url)), "INTERRUPTED");
    assert.deepEqual(repositoryEntries(), []);
    const check = await ctx.repository.check();
    assert.deepEqual(check.findings, []);
    // The next backup works.
    const manifest = await backup(testContext(repo.dir), testAsset("app", db.url));
    assert.deepEqual(repositoryEntries(), [manifest.id]);
  });

  it("status counts changes since the restore point, and notices a counter reset", async () => {
    const ctx = testContext(repo.dir);
    const asset = testAsset("app", db.url);
    const { drill } = await import("../../src/app/drill.js");
    const report = await drill(ctx, asset);
    assert.equal(report.result, "passed");
    await query(
      db.url,
      "INSERT INTO t SELECT i, 'new' FROM generate_series(1001, 1010) i; UPDATE t SET v = 'x' WHERE id <= 5; DELETE FROM t WHERE id = 1000",
    );
    const input = { name: "app", asset, tier: "production", rpoSeconds: 3600, resolveError: null };
    // Statistics are flushed by backends on a timer; wait until they show up.
    let posture = (await status(ctx, [input]))[0];
    for (let i = 0; i < 50 && (posture?.changesNotCovered?.rows ?? 0) < 16; i++) {
      await new Promise((r) => setTimeout(r, 100));
      posture = (await status(ctx, [input]))[0];
    }
    assert.equal(posture?.changesNotCovered?.rows, 16);
    assert.equal(posture?.changesNotCovered?.countersReset, false);
    assert.equal(posture?.rpoMet, true);
    assert.ok((posture?.rtoSeconds ?? 0) > 0);

    await query(db.url, "SELECT pg_stat_reset()");
    posture = (await status(ctx, [input]))[0];
    assert.equal(posture?.changesNotCovered?.countersReset, true);
    assert.ok(posture?.risks.some((r) => /reset/.test(r)));
  });

  describe("against a server that checks passwords (embedded, scram-sha-256)", () => {
    let server: ScratchInstance;
    before(async () => {
      server = await embeddedScratch().provision({
        minMajor: 0,
        encoding: "UTF8",
        signal: new AbortController().signal,
        database: "shop",
      });
    });
    after(async () => server.teardown());

    it("a wrong password is a clear error that does not contain the password", async () => {
      const wrong = "Wr0ng-Pa55word-xyz";
      const url = new URL(server.target.url);
      url.password = wrong;
      const ctx = testContext(repo.dir);
      const error = await rejectsWith(backup(ctx, testAsset("app", url.toString())), "DB_AUTH_FAILED");
      assert.match(error.message, /authentication failed/);
      assert.ok(!allText(error).includes(wrong), allText(error));
      assert.ok(!secrets.redact(allText(error)).includes(wrong));
    });

    it("the right password works, and never reaches the manifest", async () => {
      const ctx = testContext(repo.dir);
      const password = decodeURIComponent(new URL(server.target.url).password);
      const manifest = await backup(ctx, testAsset("secure", server.target.url));
      const text = JSON.stringify(manifest);
      assert.ok(!text.includes(password));
      assert.match(manifest.source.url, /\*\*\*\*\*@127\.0\.0\.1/);
    });
  });
});
