/**
 * Object lock through the real CLI, PostgreSQL and moto_server (a real S3 HTTP server with object
 * lock, its store simulated): a bucket without lock refused; restore points hidden by a compromised
 * host's plain deletes found by check, brought back by check --undelete and drilled; prune keeps the
 * locked ones and says until when. No secret in any output or file.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DeleteObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { cli, type CliResult } from "../support/cli.js";
import { startMoto, type TestMoto } from "../support/moto.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";
import { TEST_ACCESS_KEY, TEST_SECRET } from "../support/s3.js";

const PASSPHRASE = "e2e-objlock-passphrase-never-shown-22b";

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesBelow(full) : [full];
  });
}

describe("object lock through the CLI (moto_server, PostgreSQL)", () => {
  let moto: TestMoto;
  let db: TestDatabase;
  const work = tempDir("lifeline-e2e-objlock-");
  const outputs: string[] = [];

  const config = (bucket: string) =>
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `repository:\n  url: s3://${bucket}/team\n  endpoint: ${moto.endpoint}\n  forcePathStyle: true\n  encryption:\n    passphrase: \${LIFELINE_REPO_PASSPHRASE}\n  objectLock: { mode: governance, days: 1 }\nassets:\n  shop:\n    url: ${db.url}\n    retention: { keepLast: 1, daily: 0, weekly: 0 }\n`,
    );
  const run = async (args: string[]): Promise<CliResult> => {
    const result = await cli(args, {
      cwd: work.dir,
      env: { ...moto.env, LIFELINE_REPO_PASSPHRASE: PASSPHRASE },
    });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  before(async () => {
    moto = await startMoto();
    await moto.createBucket("no-lock", false);
    await moto.createBucket("with-lock", true);
    db = await createDatabase("lifeline_e2e_objlock");
    await query(
      db.url,
      "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 500)",
    );
  });
  after(async () => {
    try {
      for (const text of outputs)
        for (const secret of [TEST_SECRET, TEST_ACCESS_KEY, PASSPHRASE])
          assert.ok(!text.includes(secret), `a secret in output: ${text}`);
      for (const file of filesBelow(work.dir))
        for (const secret of [TEST_SECRET, TEST_ACCESS_KEY, PASSPHRASE])
          assert.ok(!readFileSync(file).includes(secret), `a secret in ${file}`);
    } finally {
      await db?.drop();
      await moto?.stop();
      work.remove();
    }
  });

  it("objectLock on a bucket without it: init and backup refuse, naming the fix; nothing is written", async () => {
    config("no-lock");
    for (const args of [
      ["repository", "init"],
      ["backup", "shop"],
    ]) {
      const refused = await run(args);
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /repository\.objectLock is set, but bucket no-lock has no object lock/);
      assert.match(refused.stderr, /aws s3api create-bucket --bucket NAME --object-lock-enabled-for-bucket/);
      assert.doesNotMatch(refused.stderr, /\n\s+at /);
    }
    const listed = await moto.client.send(new ListObjectsV2Command({ Bucket: "no-lock" }));
    assert.equal(listed.KeyCount ?? 0, 0);
  });

  it("deleted by a compromised host, brought back by check --undelete, drilled; prune keeps the locked one", async () => {
    config("with-lock");
    const init = await run(["repository", "init", "--json"]);
    assert.equal(init.code, 0, init.stderr);
    const created = JSON.parse(init.stdout) as { objectLock: unknown; bucketLock: string };
    assert.deepEqual(created.objectLock, { mode: "governance", days: 1 });
    assert.match(created.bucketLock, /bucket with-lock has object lock enabled/);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const backup = await run(["backup", "shop", "--json"]);
      assert.equal(backup.code, 0, backup.stderr);
      ids.push(String((JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id));
    }
    const [older, newer] = ids as [string, string];

    // The newest restore point's objects, deleted with the same credentials, without a version.
    const prefix = `team/restore-points/shop/${newer}/`;
    const objects = await moto.client.send(new ListObjectsV2Command({ Bucket: "with-lock", Prefix: prefix }));
    assert.ok((objects.Contents ?? []).length >= 2);
    for (const o of objects.Contents ?? [])
      await moto.client.send(new DeleteObjectCommand({ Bucket: "with-lock", Key: o.Key }));

    const status = await run(["status", "shop", "--json"]);
    // Status no longer offers it, and sends the user to check.
    const asset = (
      JSON.parse(status.stdout) as {
        assets: { newestRestorePoint: { id: string } | null; risks: string[] }[];
      }
    ).assets[0];
    assert.equal(asset?.newestRestorePoint?.id, older);
    assert.match(asset?.risks.join("\n") ?? "", new RegExp(`${newer} .*run \`lifeline check\``));
    const check = await run(["check"]);
    assert.equal(check.code, 4, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      new RegExp(`restore point ${newer} of shop was deleted .*locked until .*lifeline check --undelete`),
    );
    const undelete = await run(["check", "--undelete"]);
    assert.equal(undelete.code, 0, undelete.stdout + undelete.stderr);
    assert.match(undelete.stdout, new RegExp(`restore point ${newer} of shop was deleted .*brought back`));

    const drill = await run(["drill", "shop", "--restore-point", newer, "--json"]);
    assert.equal(drill.code, 0, drill.stderr);
    assert.equal((JSON.parse(drill.stdout) as { drill: { result: string } }).drill.result, "passed");

    const dry = await run(["prune", "shop", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, new RegExp(`locked\\s+${older} .* — kept: locked until \\d{4}-`));
    assert.match(dry.stdout, /would remove 0 restore points/);
    const prune = await run(["prune", "shop"]);
    assert.equal(prune.code, 0, prune.stdout + prune.stderr);
    assert.match(prune.stdout, new RegExp(`locked\\s+${older} .* — kept: locked until \\d{4}-`));
    const again = await run(["prune", "shop", "--json"]);
    const pruned = JSON.parse(again.stdout) as { removed: string[]; locked: { id: string }[] };
    assert.deepEqual(pruned.removed, []);
    assert.deepEqual(
      pruned.locked.map((l) => l.id),
      [older],
    );
  });
});
