/**
 * `lifeline repository passphrase --json`, like every reporting command: one JSON document on
 * stdout, the result or the error, never the passphrase (real CLI, s3rver on loopback).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, type CliResult } from "../support/cli.js";
import { tempDir } from "../support/pg.js";
import { TEST_SECRET, startS3, type TestS3 } from "../support/s3.js";

const PASSPHRASE = "first-Passphrase-0a1b2c";
const NEXT = "second-Passphrase-3d4e5f";

describe("repository passphrase --json", () => {
  let s3: TestS3;
  const work = tempDir("lifeline-e2e-passphrase-");
  const local = tempDir("lifeline-e2e-passphrase-local-");
  const outputs: string[] = [];
  const run = async (args: string[], env: NodeJS.ProcessEnv, cwd = work.dir): Promise<CliResult> => {
    const result = await cli(args, { cwd, env: { ...s3.env, ...env } });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  before(async () => {
    s3 = await startS3(["lifeline-test"]);
    const asset = "assets:\n  shop:\n    url: postgres://postgres@127.0.0.1:5432/postgres\n";
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `repository:\n  url: s3://lifeline-test/pp\n  endpoint: ${s3.endpoint}\n  forcePathStyle: true\n  encryption:\n    passphrase: \${LIFELINE_REPO_PASSPHRASE}\n${asset}`,
    );
    writeFileSync(path.join(local.dir, "lifeline.yaml"), asset);
  });

  after(async () => {
    try {
      for (const text of outputs)
        for (const secret of [PASSPHRASE, NEXT, TEST_SECRET])
          assert.ok(!text.includes(secret), `a secret in output: ${text}`);
    } finally {
      await s3.stop();
      work.remove();
      local.remove();
    }
  });

  it("prints the repository, that it is encrypted, the new key file and how many old ones were removed", async () => {
    const init = await run(["repository", "init"], { LIFELINE_REPO_PASSPHRASE: PASSPHRASE });
    assert.equal(init.code, 0, init.stderr);
    const changed = await run(["repository", "passphrase", "--new-from-env", "NEXT_PASSPHRASE", "--json"], {
      LIFELINE_REPO_PASSPHRASE: PASSPHRASE,
      NEXT_PASSPHRASE: NEXT,
    });
    assert.equal(changed.code, 0, changed.stdout + changed.stderr);
    const doc = JSON.parse(changed.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(doc), ["location", "encrypted", "keyFile", "removedKeyFiles"]);
    assert.equal(doc.location, "s3://lifeline-test/pp");
    assert.equal(doc.encrypted, true);
    assert.match(String(doc.keyFile), /^keys\/[0-9a-z]+-[0-9a-f]{12}\.json$/);
    assert.equal(doc.removedKeyFiles, 1);
    // The new passphrase opens it, the old one no longer does.
    assert.equal((await run(["status", "shop"], { LIFELINE_REPO_PASSPHRASE: NEXT })).code, 0);
    assert.equal((await run(["status", "shop"], { LIFELINE_REPO_PASSPHRASE: PASSPHRASE })).code, 2);
  });

  it("a refusal is one JSON error document too, with the fix", async () => {
    const short = await run(["repository", "passphrase", "--new-from-env", "SHORT", "--json"], {
      LIFELINE_REPO_PASSPHRASE: NEXT,
      SHORT: "short",
    });
    assert.equal(short.code, 2, short.stderr);
    const shortDoc = JSON.parse(short.stdout) as { error: { code: string; message: string; fix: string } };
    assert.equal(shortDoc.error.code, "USAGE");
    assert.match(shortDoc.error.message, /SHORT is not set or shorter than 8 characters/);

    const plain = await run(
      ["repository", "passphrase", "--new-from-env", "NEXT_PASSPHRASE", "--json"],
      {
        NEXT_PASSPHRASE: NEXT,
      },
      local.dir,
    );
    assert.equal(plain.code, 2, plain.stderr);
    const plainDoc = JSON.parse(plain.stdout) as { error: { code: string; message: string; fix: string } };
    assert.equal(plainDoc.error.code, "REPOSITORY_ENCRYPTION");
    assert.match(plainDoc.error.message, /is not encrypted/);
    assert.match(plainDoc.error.fix, /has no passphrase/);
  });
});
