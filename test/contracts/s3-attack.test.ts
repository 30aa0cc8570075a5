/**
 * Adversarial review of the S3 repository and its encryption (failing cases that demonstrate bugs;
 * see the attack-s3 report). Real s3rver on loopback, no mocks.
 */
import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, it } from "node:test";
import { S3Repository } from "../../src/repository/s3/index.js";
import { keyFileSchema, newMasterKey, unwrapKey, wrapKey } from "../../src/repository/encryption.js";
import { isLifelineError } from "../../src/core/errors.js";
import { startS3, type TestS3 } from "../support/s3.js";
import os from "node:os";
import { backup } from "../../src/app/backup.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir } from "../support/pg.js";

const privateTmp = tempDir("lifeline-s3-attack-tmp-");
process.env.TMPDIR = privateTmp.dir;

let server: TestS3 | undefined;
let prefixes = 0;
after(async () => {
  await server?.stop();
  privateTmp.remove();
});

async function open(passphrase: string, prefix?: string) {
  server ??= await startS3();
  Object.assign(process.env, server.env);
  const where = {
    bucket: server.buckets[0] ?? "",
    prefix: prefix ?? `attack-${process.pid}-${++prefixes}`,
    endpoint: server.endpoint,
    forcePathStyle: true,
  };
  return { where, repo: () => new S3Repository(where, { passphrase }) };
}

/** The distinct master keys that the passphrase unwraps from keys/ (must be exactly one). */
async function mastersFor(repo: S3Repository, passphrase: string): Promise<Set<string>> {
  const masters = new Set<string>();
  for (const o of await repo.store.list("keys/")) {
    const file = keyFileSchema.parse(JSON.parse((await repo.store.getText(o.key)) ?? ""));
    const key = await unwrapKey(file, passphrase);
    if (key) masters.add(key.toString("hex"));
  }
  return masters;
}

describe("S3 encryption: one master key per repository", () => {
  it("two processes creating the same encrypted repository at once end with ONE master key", async () => {
    const passphrase = "correct horse battery staple";
    const { repo } = await open(passphrase);
    // Two backups (two processes, e.g. two cron jobs of two assets) on a fresh prefix.
    await Promise.all([repo().init(), repo().init()].map((p) => p.catch(() => undefined)));
    const masters = await mastersFor(repo(), passphrase);
    // Actual: 2 — objects written by the loser are encrypted with a key lifeline never picks again
    // (reported as "fails authentication", the restore point lost).
    assert.equal(masters.size, 1, `${masters.size} master keys unwrap with the passphrase`);
  });

  it("a creation killed between the key file and the marker: the next backup does not add a second master key", async () => {
    const passphrase = "correct horse battery staple";
    const { repo } = await open(passphrase);
    // The state a kill -9 leaves after `keys/<hex>.json` is written and before lifeline-repository.json.
    const orphan = await wrapKey(newMasterKey(), passphrase);
    await repo().store.putText("keys/0000000000000000.json", JSON.stringify(orphan));
    await repo().init();
    const masters = await mastersFor(repo(), passphrase);
    // Actual: 2; the orphan sorts first, so every later command opens the repository with the
    // orphan's key and the first backup's objects all fail authentication.
    assert.equal(masters.size, 1, `${masters.size} master keys unwrap with the passphrase`);
  });

  it("after a passphrase change, the old passphrase no longer opens the repository (even after an earlier interrupted change)", async () => {
    const [first, second, third] = ["passphrase-one-111", "passphrase-two-222", "passphrase-three-333"];
    const { repo } = await open(first);
    await repo().init();
    // An interrupted change first→second: the new key file is written, the old one not yet deleted.
    const master = [...(await mastersFor(repo(), first))][0] ?? "";
    await repo().store.putText(
      "keys/ffffffffffffffff.json",
      JSON.stringify(await wrapKey(Buffer.from(master, "hex"), second)),
    );
    // The operator runs the change again from `second` (now in lifeline.yaml) to `third`.
    const { where } = await open(second, repo().store.where.prefix);
    await new S3Repository(where, { passphrase: second }).changePassphrase(third);
    // Actual: `first` still unwraps the master key (its key file is never removed, check says nothing).
    assert.equal(
      (await mastersFor(repo(), first)).size,
      0,
      "the first passphrase still opens the repository",
    );
  });
});

describe("S3 store: an endpoint that accepts connections and never answers", () => {
  it("fails with STORE_UNREACHABLE within a bounded time instead of hanging", async () => {
    const sockets: net.Socket[] = [];
    const hole = net.createServer((s) => void sockets.push(s));
    await new Promise<void>((resolve) => hole.listen(0, "127.0.0.1", resolve));
    const port = (hole.address() as net.AddressInfo).port;
    // Credentials of some kind (this case may run alone, before any other set them).
    process.env.AWS_ACCESS_KEY_ID ??= "S3RVER";
    process.env.AWS_SECRET_ACCESS_KEY ??= "S3RVER";
    try {
      const repo = new S3Repository(
        {
          bucket: "lifeline-test",
          prefix: "hang",
          endpoint: `http://127.0.0.1:${port}`,
          forcePathStyle: true,
        },
        { timeouts: { connectMs: 500, requestMs: 500 } },
      );
      const started = Date.now();
      const outcome = await Promise.race([
        repo.overview("app").then(
          () => "answered",
          (error: unknown) => (isLifelineError(error) ? error.code : String(error)),
        ),
        new Promise<string>((resolve) =>
          setTimeout(() => resolve("still waiting after 20 s"), 20_000).unref(),
        ),
      ]);
      // Actual: "still waiting after 20 s" (the CLI waited > 12 minutes, and ignored the first SIGTERM).
      assert.equal(outcome, "STORE_UNREACHABLE");
      assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
    } finally {
      for (const s of sockets) s.destroy();
      hole.close();
    }
  });
});

describe("S3 backup killed between its manifest and the deletion of its staging marker", () => {
  it("the committed restore point is listed, and check does not call it leftovers", async () => {
    const db = await createDatabase("lifeline_s3_attack");
    const work = tempDir();
    try {
      await query(db.url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)");
      const { repo } = await open("correct horse battery staple");
      const repository = repo();
      const manifest = await backup({ ...testContext(work.dir), repository }, testAsset("app", db.url));
      // The state kill -9 leaves after PUT manifest.json and before DELETE staging/app/<id>.json.
      await repository.store.putText(
        `staging/app/${manifest.id}.json`,
        JSON.stringify({
          host: os.hostname(),
          pid: 999_999_999,
          startedAt: manifest.createdAt,
          at: manifest.createdAt,
        }),
      );
      const fresh = repo();
      // Actual: [] — a complete restore point is invisible to status, plan, restore and prune until
      // the next backup of the asset (15 minutes for another host).
      assert.deepEqual(
        (await fresh.listRestorePoints("app")).map((m) => m.id),
        [manifest.id],
      );
      // Actual: "leftovers of an interrupted backup …; not a restore point, removed by the next backup".
      assert.doesNotMatch((await fresh.check()).notes.join("\n"), /not a restore point/);
    } finally {
      work.remove();
      await db.drop();
    }
  });
});

describe("S3 keys: damaged, missing, more than one", () => {
  const passphrase = "correct horse battery staple";
  const code = async (promise: Promise<unknown>) =>
    promise.then(
      () => "ok",
      (error: unknown) =>
        isLifelineError(error) ? `${error.code}: ${error.message} — ${error.fix}` : String(error),
    );

  it("a damaged key file or an empty keys/ is named as such, not called a wrong passphrase", async () => {
    const { repo } = await open(passphrase);
    await repo().init();
    const [key] = await repo().store.list("keys/");
    assert.ok(key);
    await repo().store.putText(key.key, '{"kind": "lifeline-key", "wrapp');
    const damaged = await code(repo().overview("app"));
    assert.match(damaged, /^REPOSITORY_ENCRYPTION: .*keys\/.*\.json is damaged/);
    assert.match(damaged, /restore keys\/ from your copy/);
    await repo().store.delete(key.key);
    const empty = await code(repo().overview("app"));
    assert.match(
      empty,
      /^REPOSITORY_ENCRYPTION: .*keys\/ is empty: the repository cannot be opened without its key file/,
    );
    // Never a new key for an existing repository, whatever a backup asks.
    assert.match(await code(repo().init()), /REPOSITORY_EXISTS/);
    assert.deepEqual(await repo().store.list("keys/"), []);
  });

  it("two master keys for one passphrase stop every command; check reports more than one key file", async () => {
    const { repo } = await open(passphrase);
    await repo().init();
    const master = [...(await mastersFor(repo(), passphrase))][0] ?? "";
    // A second key file for the same master (an interrupted change): allowed, but check says so.
    await repo().store.putText(
      "keys/zzzz-other.json",
      JSON.stringify(await wrapKey(Buffer.from(master, "hex"), "another-passphrase")),
    );
    const notes = (await repo().check()).notes.join("\n");
    assert.match(notes, /2 key files/);
    // A second master for the same passphrase: which one encrypts the data is unknowable; stop.
    await repo().store.putText(
      "keys/zzzz-second.json",
      JSON.stringify(await wrapKey(newMasterKey(), passphrase)),
    );
    assert.match(await code(repo().overview("app")), /unwraps 2 different master keys/);
  });

  it("a prefix with lifeline objects but neither marker nor keys is not made a new repository", async () => {
    const { repo } = await open(passphrase);
    await repo().store.putText("restore-points/app/20261101T100000Z-abcdef/manifest.json", "LLE1…");
    const refused = await code(repo().init());
    assert.match(refused, /neither lifeline-repository\.json nor a key in keys\//);
    assert.deepEqual(await repo().store.list("keys/"), []);
  });
});
