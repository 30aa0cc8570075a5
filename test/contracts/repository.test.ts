/**
 * The Repository contract (repository.contract.ts) run against every adapter: a local directory
 * and S3-compatible object storage (a real s3rver on loopback, spoken to over HTTP by the SDK).
 */
import { spawn } from "node:child_process";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { LocalRepository } from "../../src/repository/local-fs/index.js";
import {
  S3Repository,
  type ObjectLockSettings,
  type S3RepositoryOptions,
} from "../../src/repository/s3/index.js";
import { startMoto, type TestMoto } from "../support/moto.js";
import { ObjectCipher, keyFileSchema, unwrapKey } from "../../src/repository/encryption.js";
import { startS3, type TestS3 } from "../support/s3.js";
import { tempDir } from "../support/pg.js";
import { manifestPath } from "../support/repository.js";
import { repositoryContract, type RepositorySubject } from "./repository.contract.js";
import { inRepo } from "../support/repo.js";

const localFs = inRepo("src/repository/local-fs/index.ts");

/** Stages a restore point in another process, writes an artifact, and kills it (SIGKILL) before it commits. */
function killedBackup(root: string, asset: string, id: string): Promise<void> {
  const script =
    `import { writeFileSync } from "node:fs"; import path from "node:path";` +
    `import { LocalRepository } from ${JSON.stringify(localFs)};` +
    `const staged = await new LocalRepository(${JSON.stringify(root)}).stage(${JSON.stringify(asset)}, ${JSON.stringify(id)});` +
    `writeFileSync(path.join(staged.directory, "toc.dat"), "half a dump");` +
    `process.stdout.write("staged\\n"); setInterval(() => undefined, 1000);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("staged")) child.kill("SIGKILL");
    });
    child.on("exit", (code, signal) =>
      signal === "SIGKILL" ? resolve() : reject(new Error(`exit ${code}: ${stderr}`)),
    );
  });
}

repositoryContract("local directory", async () => {
  const dir = tempDir("lifeline-repository-contract-");
  const root = path.join(dir.dir, "repository");
  return {
    repository: new LocalRepository(root),
    reopen: () => new LocalRepository(root),
    editManifest: async (asset, id, edit) => {
      const file = manifestPath(root, asset, id);
      await writeFile(file, edit(await readFile(file, "utf8")));
    },
    editDrillReport: async (asset, restorePointId, drillId, edit) => {
      const file = path.join(root, "drills", asset, restorePointId, `${drillId}.json`);
      await writeFile(file, edit(await readFile(file, "utf8")));
    },
    damageArtifact: async (manifest: Manifest) => {
      const artifact = manifest.artifacts[0];
      if (!artifact) throw new Error("a restore point without artifacts");
      await appendFile(path.join(root, "restore-points", manifest.asset, manifest.id, artifact.path), "x");
    },
    killedBackup: (asset, id) => killedBackup(root, asset, id),
    cleanup: async () => dir.remove(),
  };
});

// --- S3-compatible object storage ----------------------------------------------------------------

// The S3 adapter's temporary space (and its cleanup of killed processes' leftovers) stays in this
// test's own directory, not the shared one.
const privateTmp = tempDir("lifeline-repository-contract-tmp-");
process.env.TMPDIR = privateTmp.dir;

const s3Module = inRepo("src/repository/s3/index.ts");
let server: TestS3 | undefined;
let repositories = 0;
after(async () => {
  await server?.stop();
  privateTmp.remove();
});

/** Stages in another process, uploads part of an artifact, and is killed (SIGKILL) before it commits. */
function killedS3Backup(
  s3: Store,
  prefix: string,
  asset: string,
  id: string,
  options: S3RepositoryOptions = {},
): Promise<void> {
  const where = JSON.stringify({
    bucket: s3.buckets[0],
    prefix,
    endpoint: s3.endpoint,
    forcePathStyle: true,
  });
  const script =
    `import { S3Repository } from ${JSON.stringify(s3Module)};` +
    `const repo = new S3Repository(${where}, ${JSON.stringify(options)});` +
    `await repo.stage(${JSON.stringify(asset)}, ${JSON.stringify(id)});` +
    `await repo.store.putText("restore-points/${asset}/${id}/dump/toc.dat", "half a dump");` +
    `process.stdout.write("staged\\n"); setInterval(() => undefined, 1000);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...s3.env },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("staged")) child.kill("SIGKILL");
    });
    child.on("exit", (code, signal) =>
      signal === "SIGKILL" ? resolve() : reject(new Error(`exit ${code}: ${stderr}`)),
    );
  });
}

/** The master key of an encrypted test repository, unwrapped as lifeline does (to tamper like an insider). */
async function cipherOf(repository: S3Repository, passphrase: string): Promise<ObjectCipher> {
  for (const o of await repository.store.list("keys/")) {
    const key = await unwrapKey(
      keyFileSchema.parse(JSON.parse((await repository.store.getText(o.key)) ?? "")),
      passphrase,
    );
    if (key) return new ObjectCipher(key);
  }
  throw new Error("no key opens with the passphrase");
}

/** An S3 server the subject talks to: s3rver, or moto_server (object lock). */
interface Store {
  buckets: string[];
  endpoint: string;
  env: Record<string, string>;
}

async function s3Subject(
  passphrase?: string,
  on: () => Promise<Store> = async () => (server ??= await startS3()),
  objectLock?: ObjectLockSettings,
): Promise<RepositorySubject> {
  const s3 = await on();
  Object.assign(process.env, s3.env);
  const prefix = `contract-${process.pid}-${++repositories}`;
  const options: S3RepositoryOptions = {
    ...(passphrase === undefined ? {} : { passphrase }),
    ...(objectLock ? { objectLock } : {}),
  };
  const open = () =>
    new S3Repository(
      { bucket: s3.buckets[0] ?? "", prefix, endpoint: s3.endpoint, forcePathStyle: true },
      options,
    );
  const repository = open();
  const bucket = s3.buckets[0] ?? "";
  const rewrite = async (key: string, edit: (body: Buffer) => Buffer | string) => {
    const { client } = await repository.store.connect();
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
    const body = Buffer.from(await (got.Body?.transformToByteArray() ?? new Uint8Array()));
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `${prefix}/${key}`,
        Body: edit(body),
        Metadata: got.Metadata ?? {},
      }),
    );
  };
  return {
    repository,
    reopen: open,
    editManifest: async (asset, id, edit) => {
      const key = `restore-points/${asset}/${id}/manifest.json`;
      if (passphrase === undefined) return rewrite(key, (body) => edit(body.toString("utf8")));
      // Encrypted: edited by someone holding the key (re-encrypted, the digest not following).
      const cipher = await cipherOf(repository, passphrase);
      return rewrite(key, (body) =>
        cipher.seal(key, Buffer.from(edit(cipher.open(key, body).toString("utf8")))),
      );
    },
    editDrillReport: async (asset, restorePointId, drillId, edit) => {
      const key = `drills/${asset}/${restorePointId}/${drillId}.json`;
      if (passphrase === undefined) return rewrite(key, (body) => edit(body.toString("utf8")));
      const cipher = await cipherOf(repository, passphrase);
      return rewrite(key, (body) =>
        cipher.seal(key, Buffer.from(edit(cipher.open(key, body).toString("utf8")))),
      );
    },
    damageArtifact: async (manifest: Manifest) => {
      const artifact = manifest.artifacts[0];
      if (!artifact) throw new Error("a restore point without artifacts");
      await rewrite(`restore-points/${manifest.asset}/${manifest.id}/${artifact.path}`, (body) =>
        Buffer.concat([body, Buffer.from("x")]),
      );
    },
    killedBackup: (asset, id) => killedS3Backup(s3, prefix, asset, id, options),
    cleanup: async () => undefined,
  };
}

repositoryContract("S3-compatible object storage", () => s3Subject());
repositoryContract("S3-compatible object storage, encrypted", () =>
  s3Subject("correct horse battery staple"),
);

// The same contract on a bucket with object lock (moto_server), every restore point written locked.
let moto: Promise<TestMoto> | undefined;
after(async () => {
  await (await moto)?.stop();
});
const lockedStore = async (): Promise<Store> => {
  moto ??= startMoto().then(async (m) => {
    await m.createBucket("locked-contract", true);
    return m;
  });
  const m = await moto;
  return { buckets: ["locked-contract"], endpoint: m.endpoint, env: m.env };
};
repositoryContract(
  "S3-compatible object storage with object lock (moto_server), encrypted",
  () => s3Subject("correct horse battery staple", lockedStore, { mode: "governance", days: 1 }),
  {
    retains:
      "every restore point is retained for a day: removal while locked and past retention is tested in s3-object-lock.test.ts",
  },
);

describe("S3 repository specifics", () => {
  it("a backup killed mid-upload: check reports its partial objects, the next backup removes them", async () => {
    server ??= await startS3();
    const s3 = server;
    Object.assign(process.env, s3.env);
    const prefix = `specifics-${process.pid}`;
    const repo = new S3Repository({
      bucket: s3.buckets[0] ?? "",
      prefix,
      endpoint: s3.endpoint,
      forcePathStyle: true,
    });
    const id = "20261124T100000Z-eeeeee";
    await killedS3Backup(s3, prefix, "app", id);
    const partial = `restore-points/app/${id}/dump/toc.dat`;
    assert.deepEqual(
      (await repo.store.list(`restore-points/app/${id}/`)).map((o) => o.key),
      [partial],
    );
    const check = await repo.check();
    assert.deepEqual(check.findings, []);
    assert.match(
      check.notes.join("\n"),
      new RegExp(`restore-points/app/${id}/: leftovers of an interrupted backup`),
    );
    assert.equal(await repo.getRestorePoint("app", id), undefined);

    const next = await repo.stage("app", "20261125T100000Z-ffffff");
    await next.abort();
    assert.deepEqual(await repo.store.list(`restore-points/app/`), []);
    assert.deepEqual(await repo.store.list(`staging/`), []);
    assert.doesNotMatch((await repo.check()).notes.join("\n"), /leftovers/);
  });
});
