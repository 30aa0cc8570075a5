import assert from "node:assert/strict";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { drill } from "../../src/app/drill.js";
import { assessRecoverability } from "../../src/app/plan.js";
import { status } from "../../src/app/status.js";
import { isLifelineError, type LifelineError } from "../../src/core/errors.js";
import type { DrillReport } from "../../src/core/drill.js";
import type { Manifest } from "../../src/core/restore-point.js";
import { LocalRepository } from "../../src/repository/local-fs/index.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";
import { cloneRestorePoint, editManifest, manifestPath } from "../support/repository.js";

async function rejection(promise: Promise<unknown>): Promise<LifelineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isLifelineError(error), `expected a LifelineError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected an error");
}

/** A drill report recorded as if a drill had passed (drills are slow; the repository is what is tested). */
function passedDrill(asset: string, restorePointId: string, finishedAt: string): DrillReport {
  return {
    format: 1,
    id: finishedAt.replace(/[-:]/g, "").replace(/\.(\d{3})Z$/, "$1Z"),
    asset,
    restorePointId,
    startedAt: finishedAt,
    finishedAt,
    result: "passed",
    failure: null,
    scratch: { kind: "embedded", serverVersion: "15" },
    tools: {},
    restoreSeconds: 1,
    verifySeconds: 1,
    mismatches: [],
  };
}

describe("damaged restore points are reported, never skipped (real backups)", () => {
  let db: TestDatabase;
  let work: ReturnType<typeof tempDir>;
  let original: Manifest;
  let n = 0;

  before(async () => {
    db = await createDatabase("lifeline_repo");
    await query(
      db.url,
      "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 100) i",
    );
    work = tempDir();
    original = await backup(testContext(path.join(work.dir, "seed")), testAsset("app", db.url));
  });
  after(async () => {
    await db.drop();
    work.remove();
  });

  /** A fresh repository holding copies of the seed restore point under the given ids (oldest first). */
  function repository(ids: string[]): string {
    const dir = path.join(work.dir, `repo-${n++}`);
    cpSync(path.join(work.dir, "seed"), dir, { recursive: true });
    for (const [i, id] of ids.entries())
      cloneRestorePoint(dir, "app", original.id, id, `2026-11-2${i}T10:00:00.000Z`);
    rmSync(path.join(dir, "restore-points", "app", original.id), { recursive: true, force: true });
    rmSync(path.join(dir, "restore-points", "app", "index.json"), { force: true });
    return dir;
  }

  const A = "20261120T100000Z-aaaaaa";
  const B = "20261121T100000Z-bbbbbb";
  const input = () => ({
    name: "app",
    asset: testAsset("app", db.url),
    tier: "production",
    rpoSeconds: 86400 * 365,
    resolveError: null,
  });

  it("status shows a verified restore point with a corrupt manifest as DAMAGED, not as missing", async () => {
    const dir = repository([A]);
    const repo = new LocalRepository(dir);
    await repo.writeDrillReport(passedDrill("app", A, "2026-11-26T10:00:00.000Z"));
    writeFileSync(
      manifestPath(dir, "app", A),
      readFileSync(manifestPath(dir, "app", A), "utf8").slice(0, 200),
    );
    const [posture] = await status(testContext(dir), [input()]);
    assert.ok(posture);
    assert.deepEqual(
      posture.damagedRestorePoints.map((d) => [d.id, d.verified]),
      [[A, true]],
    );
    assert.ok(
      !posture.risks.some((r) => r.startsWith("no restore point: take one")),
      posture.risks.join("\n"),
    );
    assert.ok(
      posture.risks.some((r) => r.includes(`restore point ${A} is DAMAGED`) && /lifeline check/.test(r)),
    );
    assert.equal(posture.newestVerifiedRestorePoint, null);
  });

  it("drill --restore-point of a damaged restore point: exit 4 naming it, what is damaged and the fix", async () => {
    const dir = repository([A]);
    writeFileSync(manifestPath(dir, "app", A), "{ not json");
    const error = await rejection(drill(testContext(dir), testAsset("app", db.url), A));
    assert.equal(error.code, "RESTORE_POINT_DAMAGED");
    assert.equal(error.exitCode, 4);
    assert.match(
      error.message,
      new RegExp(`restore point ${A} of app is damaged: .*manifest\\.json: not valid JSON`),
    );
    assert.match(error.fix ?? "", /lifeline check/);
  });

  it("drill without --restore-point does not fall back past a damaged newest restore point", async () => {
    const dir = repository([A, B]);
    writeFileSync(manifestPath(dir, "app", B), "");
    const error = await rejection(drill(testContext(dir), testAsset("app", db.url)));
    assert.equal(error.code, "RESTORE_POINT_DAMAGED");
    assert.match(error.message, new RegExp(B));
  });

  it("two flipped bytes in the schema detail are caught by check and stop a drill", async () => {
    const dir = repository([A]);
    const file = manifestPath(dir, "app", A);
    const text = readFileSync(file, "utf8");
    const manifest = JSON.parse(text) as Manifest;
    const digest = manifest.fingerprints.schema.objects[0]?.digest ?? "";
    assert.ok(digest.length > 4);
    const flipped =
      digest.slice(0, 2) +
      (digest[2] === "0" ? "1" : "0") +
      (digest[3] === "0" ? "1" : "0") +
      digest.slice(4);
    writeFileSync(file, text.replace(digest, flipped));
    const result = await new LocalRepository(dir).check();
    assert.ok(
      result.findings.some(
        (f) => f.kind === "manifest-invalid" && /does not match its digest/.test(f.message),
      ),
      JSON.stringify(result.findings),
    );
    const error = await rejection(drill(testContext(dir), testAsset("app", db.url), A));
    assert.equal(error.code, "RESTORE_POINT_DAMAGED");
  });

  it("a manifest of lifeline 0.1 (no digest) still reads; check says it is not protected", async () => {
    const dir = repository([A]);
    editManifest(dir, "app", A, (raw) => delete raw.digest, { reseal: false });
    const repo = new LocalRepository(dir);
    assert.equal((await repo.getRestorePoint("app", A))?.id, A);
    const result = await repo.check();
    assert.deepEqual(result.findings, []);
    assert.ok(
      result.notes.some((n) => /not protected by a digest/.test(n)),
      result.notes.join("\n"),
    );
    // A corrupted "digest" key does not pass for an old manifest.
    editManifest(dir, "app", A, (raw) => (raw.digezt = "x"), { reseal: false });
    await assert.rejects(repo.getRestorePoint("app", A), /damaged/);
  });

  it("the posture does not fall back silently to an older verified restore point; plan stops with exit 4", async () => {
    const dir = repository([A, B]);
    const repo = new LocalRepository(dir);
    await repo.writeDrillReport(passedDrill("app", A, "2026-11-26T10:00:00.000Z"));
    await repo.writeDrillReport(passedDrill("app", B, "2026-11-26T11:00:00.000Z"));
    editManifest(dir, "app", B, (raw) => (raw.snapshotTime = "2026-11-21T10:00:01.000Z"), { reseal: false });
    const [posture] = await status(testContext(dir), [input()]);
    assert.equal(posture?.newestVerifiedRestorePoint?.id, A);
    assert.ok(
      posture?.risks.some(
        (r) => r.includes(`newest verified restore point (${B}) is damaged`) && r.includes(A),
      ),
      posture?.risks.join("\n"),
    );
    const error = await rejection(assessRecoverability(testContext(dir), testAsset("app", db.url), [], null));
    assert.equal(error.code, "RESTORE_POINT_DAMAGED");
    assert.equal(error.exitCode, 4);
    assert.match(error.message, new RegExp(B));
  });
});
