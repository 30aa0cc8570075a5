/**
 * Object lock on a real S3 HTTP server that implements it (moto_server on loopback): restore points
 * written retained, a compromised host's deletes (plain: delete markers; versioned: refused), check
 * naming what was hidden and --undelete bringing it back, prune keeping what is locked and removing
 * every version once retention passed; a bucket without object lock (moto's, s3rver's) refused.
 * moto simulates the store in memory: this checks what lifeline asks of S3, not S3's durability.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
} from "@aws-sdk/client-s3";
import { backup } from "../../src/app/backup.js";
import { prune } from "../../src/app/prune.js";
import { openCatalog } from "../../src/catalog/index.js";
import { isLifelineError } from "../../src/core/errors.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { S3Repository, type ObjectLockSettings } from "../../src/repository/s3/index.js";
import { testAsset, testContext } from "../support/context.js";
import { startMoto, type TestMoto } from "../support/moto.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";
import { passedDrill } from "../support/repository.js";
import { TEST_ACCESS_KEY, TEST_SECRET, startS3 } from "../support/s3.js";

const PASSPHRASE = "objlock-passphrase-never-printed-5d1e";
const LOCKED = "locked-bucket";
const PLAIN = "plain-bucket";

describe("object lock (moto_server: a real S3 HTTP server with object lock)", () => {
  let moto: TestMoto;
  let source: TestDatabase;
  const tmp = tempDir("lifeline-objlock-tmp-");
  const said: string[] = [];
  let prefixes = 0;

  before(async () => {
    // The adapter's temporary space stays in this test's own directory.
    process.env.TMPDIR = tmp.dir;
    moto = await startMoto();
    Object.assign(process.env, moto.env);
    await moto.createBucket(LOCKED, true);
    await moto.createBucket(PLAIN, false);
    source = await createDatabase("lifeline_objlock");
    await query(
      source.url,
      "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 50)",
    );
  });
  after(async () => {
    try {
      for (const text of said)
        for (const secret of [TEST_SECRET, TEST_ACCESS_KEY, PASSPHRASE])
          assert.ok(!text.includes(secret), `a secret in: ${text}`);
    } finally {
      await source?.drop();
      await moto?.stop();
      tmp.remove();
    }
  });

  const open = (bucket: string, objectLock?: ObjectLockSettings, prefix = `p${++prefixes}`) =>
    new S3Repository(
      { bucket, prefix, endpoint: moto.endpoint, forcePathStyle: true },
      { passphrase: PASSPHRASE, objectLock },
    );
  const takeBackup = async (repo: S3Repository): Promise<Manifest> => {
    const work = tempDir();
    try {
      return await backup({ ...testContext(work.dir), repository: repo }, testAsset("app", source.url));
    } finally {
      work.remove();
    }
  };
  const fullKey = (repo: S3Repository, name: string) => repo.store.key(name);
  const versionsOf = async (repo: S3Repository, name: string) => {
    const out = await moto.client.send(
      new ListObjectVersionsCommand({ Bucket: repo.store.where.bucket, Prefix: fullKey(repo, name) }),
    );
    return { versions: out.Versions ?? [], markers: out.DeleteMarkers ?? [] };
  };
  const refusedLock = (error: unknown) => {
    assert.ok(isLifelineError(error), String(error));
    said.push(error.message, error.fix ?? "");
    assert.equal(error.code, "REPOSITORY_OBJECT_LOCK");
    assert.equal(error.exitCode, 2);
    assert.match(error.message, /has no object lock/);
    assert.match(error.fix ?? "", /--object-lock-enabled-for-bucket/);
    return true;
  };

  it("a bucket without object lock (moto's, and s3rver, which does not implement it) is refused by init and backup; check says anyone may delete", async () => {
    const plain = open(PLAIN, { mode: "governance", days: 1 });
    await assert.rejects(plain.init(), refusedLock);
    await assert.rejects(takeBackup(plain), refusedLock);
    assert.deepEqual(await plain.store.list(""), [], "nothing was written");
    // Without objectLock, a backup works as before and check says what that means.
    const unlocked = open(PLAIN);
    await takeBackup(unlocked);
    const check = await unlocked.check();
    said.push(...check.notes);
    assert.deepEqual(check.findings, []);
    assert.match(
      check.notes.join("\n"),
      /bucket plain-bucket has no object lock .*can delete restore points/,
    );

    const s3rver = await startS3(["no-lock"]);
    try {
      const repo = new S3Repository(
        { bucket: "no-lock", prefix: "x", endpoint: s3rver.endpoint, forcePathStyle: true },
        { objectLock: { mode: "compliance", days: 1 } },
      );
      await assert.rejects(repo.init(), (error: unknown) => {
        refusedLock(error);
        assert.match((error as Error).message, /does not implement object lock/);
        return true;
      });
    } finally {
      await s3rver.stop();
    }
  });

  it("a locked backup retains its artifacts, manifest, marker and key file; a versioned delete is refused by the store", async () => {
    const repo = open(LOCKED, { mode: "compliance", days: 2 });
    const init = await repo.init();
    assert.equal(init.encrypted, true);
    const before = Date.now();
    const manifest = await takeBackup(repo);
    const prefix = `restore-points/app/${manifest.id}/`;
    const names = [
      ...manifest.artifacts.map((a) => prefix + a.path),
      prefix + "manifest.json",
      "lifeline-repository.json",
      ...(await repo.store.list("keys/")).map((o) => o.key),
    ];
    for (const name of names) {
      // Read back with HeadObject (moto 5.2.1 answers GetObjectRetention with an empty body).
      const head = await moto.client.send(
        new HeadObjectCommand({ Bucket: LOCKED, Key: fullKey(repo, name) }),
      );
      assert.equal(head.ObjectLockMode, "COMPLIANCE", name);
      const until = head.ObjectLockRetainUntilDate?.getTime() ?? 0;
      assert.ok(until >= before + 2 * 86_400_000 - 5000 && until <= Date.now() + 2 * 86_400_000 + 5000, name);
    }
    const check = await repo.check();
    said.push(...check.notes);
    assert.match(check.notes.join("\n"), /bucket locked-bucket has object lock enabled/);

    // A compromised host with the same credentials: deleting the version itself is refused.
    const { versions } = await versionsOf(repo, prefix + "manifest.json");
    await assert.rejects(
      moto.client.send(
        new DeleteObjectCommand({
          Bucket: LOCKED,
          Key: fullKey(repo, prefix + "manifest.json"),
          VersionId: versions[0]?.VersionId,
          BypassGovernanceRetention: true,
        }),
      ),
      (error: Error) => error.name === "AccessDenied",
    );
    assert.equal((await repo.listRestorePoints("app")).length, 1);
  });

  it("an artifact above 8 MiB (a multipart upload) is retained too", async () => {
    const repo = open(LOCKED);
    const file = path.join(tmp.dir, "big.bin");
    const body = Buffer.alloc(9 * 1024 * 1024, 7);
    writeFileSync(file, body);
    const until = new Date(Date.now() + 3_600_000);
    await repo.store.upload("big.bin", file, createHash("sha256").update(body).digest("hex"), {
      retention: { mode: "GOVERNANCE", until },
    });
    const head = await moto.client.send(
      new HeadObjectCommand({ Bucket: LOCKED, Key: fullKey(repo, "big.bin") }),
    );
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ObjectLockMode, "GOVERNANCE");
    assert.equal(
      head.ObjectLockRetainUntilDate?.toISOString().slice(0, 19),
      until.toISOString().slice(0, 19),
    );
    assert.equal((await repo.store.retention("big.bin"))?.mode, "GOVERNANCE");
  });

  it("plain deletes only hide a locked restore point: check names it, check --undelete brings it back with intact artifacts", async () => {
    const repo = open(LOCKED, { mode: "governance", days: 1 });
    const manifest = await takeBackup(repo);
    await repo.writeDrillReport(passedDrill("app", manifest.id, new Date().toISOString()));
    // Everything a compromised host can list, deleted without a version: delete markers.
    for (const o of await repo.store.list("")) await repo.store.delete(o.key);
    assert.deepEqual(await repo.store.list(""), []);

    const fresh = open(LOCKED, { mode: "governance", days: 1 }, repo.store.where.prefix);
    assert.deepEqual(await fresh.listRestorePoints("app"), []);
    const found = await fresh.check();
    said.push(...found.findings.map((f) => f.message), ...found.notes);
    const hidden = found.findings.filter((f) => f.kind === "hidden-by-delete-marker").map((f) => f.message);
    assert.equal(hidden.length, 3, hidden.join("\n")); // the restore point, the marker, the key file
    assert.match(
      hidden.join("\n"),
      new RegExp(
        `restore point ${manifest.id} of app was deleted .*locked until .*lifeline check --undelete`,
      ),
    );
    assert.match(hidden.join("\n"), /lifeline-repository\.json/);
    assert.match(hidden.join("\n"), /keys\/: every key file of the repository was deleted .*locked until/);

    const repaired = await open(LOCKED, { mode: "governance", days: 1 }, repo.store.where.prefix).check({
      undelete: true,
    });
    said.push(...repaired.findings.map((f) => f.message), ...repaired.notes);
    assert.match(
      repaired.notes.join("\n"),
      new RegExp(`restore point ${manifest.id} of app was deleted .*brought back`),
    );
    assert.deepEqual(repaired.findings, []);
    assert.equal(repaired.restorePoints, 1);
    assert.equal(repaired.drillReports, 1);

    const back = open(LOCKED, { mode: "governance", days: 1 }, repo.store.where.prefix);
    const got = await back.getRestorePoint("app", manifest.id);
    assert.ok(got, "the restore point reads again");
    assert.deepEqual(got.artifacts, manifest.artifacts);
    const local = await back.localArtifacts(got);
    assert.deepEqual(local.findings, [], "every artifact's sha256 matches the manifest");
    await local.release();
    assert.equal((await back.check({ readData: true })).findings.length, 0);
  });

  it("prune keeps a restore point still locked (locked until …) and removes every version of one past its retention", async () => {
    const repo = open(LOCKED, { mode: "governance", days: 1 });
    const older = await takeBackup(repo);
    const newer = await takeBackup(repo);
    await repo.writeDrillReport(passedDrill("app", newer.id, new Date().toISOString()));
    const work = tempDir();
    const catalog = await openCatalog(`${work.dir}/catalog.sqlite`);
    try {
      const ctx = { ...testContext(work.dir), repository: repo };
      const policy = { keepLast: 1, daily: 0, weekly: 0 };
      const options = { dryRun: false, identity: "test", host: "here" };
      // A dry run says what the real run will do: the locked one stays.
      const dry = await prune(ctx, catalog, "app", policy, { ...options, dryRun: true });
      assert.deepEqual(
        dry.locked.map((l) => l.id),
        [older.id],
        "a dry run names the locked restore point",
      );
      const first = await prune(ctx, catalog, "app", policy, options);
      assert.deepEqual(first.removed, []);
      assert.deepEqual(first.failures, []);
      assert.equal(first.locked.length, 1);
      assert.equal(first.locked[0]?.id, older.id);
      assert.ok(Date.parse(first.locked[0]?.until ?? "") > Date.now() + 86_000_000);
      assert.deepEqual(
        (await repo.listRestorePoints("app")).map((m) => m.id),
        [older.id, newer.id],
        "kept whole",
      );

      // Its retention ends (governance: shortened by an account allowed to bypass it).
      const prefix = `restore-points/app/${older.id}/`;
      const { versions } = await versionsOf(repo, prefix);
      for (const v of versions)
        await moto.client.send(
          new PutObjectRetentionCommand({
            Bucket: LOCKED,
            Key: v.Key,
            VersionId: v.VersionId,
            BypassGovernanceRetention: true,
            Retention: { Mode: "GOVERNANCE", RetainUntilDate: new Date(Date.now() + 1000) },
          }),
        );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const second = await prune(ctx, catalog, "app", policy, options);
      assert.deepEqual(second.removed, [older.id]);
      assert.deepEqual(second.locked, []);
      const left = await versionsOf(repo, prefix);
      assert.deepEqual([...left.versions, ...left.markers], [], "no version left: the space is freed");
      assert.deepEqual(
        (await repo.listRestorePoints("app")).map((m) => m.id),
        [newer.id],
      );
    } finally {
      await catalog.close();
      work.remove();
    }
  });
});
