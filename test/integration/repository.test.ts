import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { drill } from "../../src/app/drill.js";
import { assessRecoverability } from "../../src/app/plan.js";
import { status } from "../../src/app/status.js";
import { isLifelineError, type LifelineError } from "../../src/core/errors.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { LocalRepository } from "../../src/repository/local-fs/index.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";
import {
  cloneRestorePoint,
  editManifest,
  expectedDigest,
  indexDigest,
  manifestPath,
  passedDrill,
} from "../support/repository.js";
import { inRepo } from "../support/repo.js";

async function rejection(promise: Promise<unknown>): Promise<LifelineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isLifelineError(error), `expected a LifelineError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected an error");
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
    rmSync(path.join(dir, "index", "app.json"), { force: true });
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
    // check reports the manifest, and does not call its drill report an orphan.
    const findings = (await repo.check()).findings;
    assert.deepEqual(
      findings.map((f) => f.kind),
      ["manifest-invalid"],
      JSON.stringify(findings),
    );
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

describe("the per-asset index (status and plan cost does not grow with restore points)", () => {
  let db: TestDatabase;
  let work: ReturnType<typeof tempDir>;
  let seed: Manifest;
  let n = 0;
  const ids = ["20261120T100000Z-aaaaaa", "20261121T100000Z-bbbbbb", "20261122T100000Z-cccccc"];

  before(async () => {
    db = await createDatabase("lifeline_index");
    await query(db.url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");
    work = tempDir();
    seed = await backup(testContext(path.join(work.dir, "seed")), testAsset("app", db.url));
  });
  after(async () => {
    await db.drop();
    work.remove();
  });

  function repository(): string {
    const dir = path.join(work.dir, `repo-${n++}`);
    cpSync(path.join(work.dir, "seed"), dir, { recursive: true });
    for (const [i, id] of ids.entries())
      cloneRestorePoint(dir, "app", seed.id, id, `2026-11-2${i}T10:00:00.000Z`);
    return dir;
  }
  const indexFile = (dir: string) => path.join(dir, "index", "app.json");
  const readIndex = (dir: string) =>
    JSON.parse(readFileSync(indexFile(dir), "utf8")) as {
      restorePoints: { id: string; damaged: string | null; manifestDigest: string | null }[];
      drills: { id: string }[];
    };

  it("a backup writes the index; a missing index is rebuilt from the manifests", async () => {
    assert.deepEqual(
      readIndex(path.join(work.dir, "seed")).restorePoints.map((p) => p.id),
      [seed.id],
    );
    // The restore point directory holds restore points only; the index lives in index/.
    assert.deepEqual(readdirSync(path.join(work.dir, "seed", "restore-points", "app")), [seed.id]);
    const dir = repository();
    const overview = await new LocalRepository(dir).overview("app");
    assert.deepEqual(
      overview.restorePoints.map((p) => p.id),
      [...ids, seed.id],
    );
    assert.ok(overview.restorePoints.every((p) => p.damaged === null && p.protected));
    assert.equal(readIndex(dir).restorePoints.length, 4, "the rebuilt index is stored");
  });

  it("a restore point the index does not list (crash after the manifest, before the index) is seen", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    await repo.overview("app");
    cloneRestorePoint(dir, "app", seed.id, "20261125T100000Z-dddddd", "2026-11-25T10:00:00.000Z");
    const overview = await repo.overview("app");
    assert.ok(overview.restorePoints.some((p) => p.id === "20261125T100000Z-dddddd"));
  });

  it("a drill report whose index update was interrupted is seen (the writer's marker outlives it)", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    await repo.writeDrillReport(passedDrill("app", ids[0] ?? "", "2026-11-26T10:00:00.000Z"));
    // A second drill of the same restore point by a process that died before updating the index.
    const report = passedDrill("app", ids[0] ?? "", "2026-11-26T11:00:00.000Z");
    writeFileSync(
      path.join(dir, "drills", "app", report.restorePointId, `${report.id}.json`),
      JSON.stringify({ ...report, result: "failed" }),
    );
    const marker = path.join(dir, "index", "app.pending-999999999-abc");
    writeFileSync(marker, "");
    const overview = await repo.overview("app");
    assert.deepEqual(overview.drills.map((d) => d.result).sort(), ["failed", "passed"]);
    assert.ok(!existsSync(marker), "the marker is removed once the index is rebuilt");
    const [posture] = await status(testContext(dir), [
      { name: "app", asset: null, tier: "production", rpoSeconds: 86400, resolveError: "x" },
    ]);
    assert.equal(posture?.newestVerifiedRestorePoint, null, "the later failed drill takes the proof back");
  });

  it("a damaged index is rebuilt; a tampered one is a finding of check", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    await repo.overview("app");
    writeFileSync(indexFile(dir), "{ garbage");
    assert.match((await repo.check()).findings.map((f) => f.message).join("\n"), /index\/app\.json: damaged/);
    assert.equal((await repo.overview("app")).restorePoints.length, 4);
    assert.deepEqual((await repo.check()).findings, []);
    // An index that parses and is sealed but disagrees with a manifest.
    const raw = JSON.parse(readFileSync(indexFile(dir), "utf8")) as Record<string, unknown> & {
      restorePoints: { bytes: number }[];
    };
    const first = raw.restorePoints[0];
    if (first) first.bytes += 1;
    raw.digest = indexDigest(raw);
    writeFileSync(indexFile(dir), JSON.stringify(raw));
    const findings = (await repo.check()).findings;
    assert.ok(
      findings.some((f) => f.kind === "index-invalid" && /does not match the manifest/.test(f.message)),
      JSON.stringify(findings),
    );
  });

  it("an index is checked against its digest as written, or as its JSON when written otherwise; a changed one is rebuilt", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    await repo.overview("app");
    const written = readFileSync(indexFile(dir), "utf8");
    // Indented (the same JSON): still the index, read as it is (not rebuilt, so not rewritten).
    const indented = JSON.stringify(JSON.parse(written), null, 2) + "\n";
    writeFileSync(indexFile(dir), indented);
    assert.equal((await new LocalRepository(dir).overview("app")).restorePoints.length, 4);
    assert.equal(readFileSync(indexFile(dir), "utf8"), indented);
    // Its text changed, the digest left as it was: rebuilt from the manifests.
    writeFileSync(
      indexFile(dir),
      written.replace(/"bytes":(\d+)/, (_m, n: string) => `"bytes":${Number(n) + 1}`),
    );
    assert.equal((await new LocalRepository(dir).overview("app")).restorePoints.length, 4);
    assert.equal(readFileSync(indexFile(dir), "utf8"), written);
  });

  it("an index of the previous format (1) is rebuilt, and stored in the current one", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    await repo.overview("app");
    // As lifeline 0.1 wrote it: format 1, no text digests, sealed over the canonical JSON.
    const raw = JSON.parse(readFileSync(indexFile(dir), "utf8")) as Record<string, unknown> & {
      restorePoints: Record<string, unknown>[];
    };
    raw.format = 1;
    for (const p of raw.restorePoints) delete p.textDigest;
    raw.restorePoints.pop();
    raw.digest = expectedDigest(raw);
    writeFileSync(indexFile(dir), JSON.stringify(raw));
    assert.equal((await new LocalRepository(dir).overview("app")).restorePoints.length, 4);
    const stored = JSON.parse(readFileSync(indexFile(dir), "utf8")) as {
      format: number;
      restorePoints: unknown[];
    };
    assert.equal(stored.format, 3);
    assert.equal(stored.restorePoints.length, 4);
    assert.deepEqual((await repo.check()).findings, []);
  });

  it("an index of format 2 (without the damaged drill reports) is rebuilt, and stored in the current one", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    await repo.overview("app");
    const raw = JSON.parse(readFileSync(indexFile(dir), "utf8")) as Record<string, unknown> & {
      restorePoints: Record<string, unknown>[];
    };
    raw.format = 2;
    delete raw.damagedDrills;
    raw.restorePoints.pop();
    delete raw.digest;
    raw.digest = indexDigest(raw);
    writeFileSync(indexFile(dir), JSON.stringify(raw));
    assert.equal((await new LocalRepository(dir).overview("app")).restorePoints.length, 4);
    const stored = JSON.parse(readFileSync(indexFile(dir), "utf8")) as {
      format: number;
      damagedDrills: unknown[];
    };
    assert.equal(stored.format, 3);
    assert.deepEqual(stored.damagedDrills, []);
  });

  it("a manifest changed after it was indexed is checked against its digest again (not trusted from the index)", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    const newest = ids.at(-1) ?? "";
    await repo.writeDrillReport(passedDrill("app", newest, "2026-11-26T10:00:00.000Z"));
    await repo.overview("app");
    assert.equal((await repo.getRestorePoint("app", newest))?.id, newest, "unchanged: read");
    // Still valid JSON and a valid manifest, but its digest no longer matches: damaged.
    editManifest(dir, "app", newest, (m) => (m.snapshotTime = "2026-11-27T10:00:00.000Z"), { reseal: false });
    await assert.rejects(repo.getRestorePoint("app", newest), /does not match its digest/);
    // Changed and re-sealed (as a rewrite would): read as it now is.
    editManifest(dir, "app", newest, (m) => (m.snapshotTime = "2026-11-27T11:00:00.000Z"));
    assert.equal((await repo.getRestorePoint("app", newest))?.snapshotTime, "2026-11-27T11:00:00.000Z");
  });

  it("a manifest damaged after it was indexed is damaged when status relies on it", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    await repo.writeDrillReport(passedDrill("app", seed.id, "2026-11-26T10:00:00.000Z"));
    await repo.overview("app");
    writeFileSync(manifestPath(dir, "app", seed.id), "{}");
    const [posture] = await status(testContext(dir), [
      { name: "app", asset: null, tier: "production", rpoSeconds: 86400, resolveError: "x" },
    ]);
    assert.deepEqual(
      posture?.damagedRestorePoints.map((d) => d.id),
      [seed.id],
    );
  });

  it("status compares the bytes of the manifests it relies on with the index: one rewritten since is read as it now is", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    // The seed is the newest restore point, and the verified one.
    await repo.writeDrillReport(passedDrill("app", seed.id, "2026-11-26T10:00:00.000Z"));
    await repo.overview("app");
    assert.equal(await repo.manifestUnchanged("app", seed.id), true);
    assert.equal(await repo.manifestUnchanged("app", "20261101T100000Z-ffffff"), false, "not indexed");
    assert.equal(await new LocalRepository(dir).manifestUnchanged("app", seed.id), false, "no overview read");
    // Rewritten and re-sealed after it was indexed (the index's stored copy is not rebuilt: the
    // same directories): the index's snapshot time is no longer the manifest's.
    editManifest(dir, "app", seed.id, (m) => (m.snapshotTime = "2026-11-29T10:00:00.000Z"));
    assert.equal(await repo.manifestUnchanged("app", seed.id), false);
    const [posture] = await status(testContext(dir), [
      { name: "app", asset: null, tier: "production", rpoSeconds: 86400, resolveError: "x" },
    ]);
    assert.equal(posture?.newestVerifiedRestorePoint?.snapshotTime, "2026-11-29T10:00:00.000Z");
    assert.equal(posture?.newestRestorePoint?.snapshotTime, "2026-11-29T10:00:00.000Z");
  });

  it("concurrent drill reports (in one process and from several) lose no index entry", async () => {
    const dir = repository();
    const repo = new LocalRepository(dir);
    await repo.overview("app");
    const at = (i: number) => new Date(Date.UTC(2026, 10, 26, 10, 0, 0, i)).toISOString();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        repo.writeDrillReport(passedDrill("app", ids[i % 3] ?? "", at(i))),
      ),
    );
    const script = (k: number) =>
      `import { LocalRepository } from ${JSON.stringify(inRepo("src/repository/local-fs/index.ts"))};` +
      `const r = new LocalRepository(${JSON.stringify(dir)});` +
      `for (let i = 0; i < 5; i++) { const t = new Date(Date.UTC(2026, 10, 27, 10, 0, ${k}, i)).toISOString();` +
      ` await r.writeDrillReport({ format: 1, id: t.replace(/[-:]/g, "").replace(/\\.(\\d{3})Z$/, "$1Z"), asset: "app", restorePointId: ${JSON.stringify(ids[k % 3])}, startedAt: t, finishedAt: t, result: "passed", failure: null, scratch: { kind: "embedded", serverVersion: null }, tools: {}, restoreSeconds: 1, verifySeconds: 1, mismatches: [] }); }`;
    await Promise.all(
      [0, 1, 2].map(
        (k) =>
          new Promise<void>((resolve, reject) => {
            const child = spawn(
              process.execPath,
              ["--import", "tsx", "--input-type=module", "-e", script(k)],
              {
                stdio: ["ignore", "ignore", "pipe"],
              },
            );
            let stderr = "";
            child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
            child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(stderr))));
          }),
      ),
    );
    // Read the stored index as it is: no rebuild may paper over a lost entry.
    assert.equal(readIndex(dir).drills.length, 35);
    assert.equal((await repo.overview("app")).drills.length, 35);
    assert.deepEqual((await repo.check()).findings, []);
  });
});

describe("a repository path that is a file", () => {
  for (const file of ["/dev/null", "regular"]) {
    it(`${file}: every command gets a config error naming the path and the fix`, async () => {
      const dir = tempDir();
      try {
        const root = file === "regular" ? path.join(dir.dir, "repo") : file;
        if (file === "regular") writeFileSync(root, "not a directory");
        const repo = new LocalRepository(root);
        for (const attempt of [
          () => repo.stage("app", "20261120T100000Z-aaaaaa"),
          () => repo.overview("app"),
          () => repo.check(),
          () =>
            repo.writeDrillReport(passedDrill("app", "20261120T100000Z-aaaaaa", "2026-11-26T10:00:00.000Z")),
        ]) {
          const error = await rejection(attempt());
          assert.equal(error.code, "REPOSITORY_NOT_A_DIRECTORY");
          assert.equal(error.kind, "config");
          assert.ok(error.message.includes(root), error.message);
          assert.match(error.fix ?? "", /repository\.path/);
        }
      } finally {
        dir.remove();
      }
    });
  }
});
