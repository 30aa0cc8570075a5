/**
 * Through the built CLI, with real PostgreSQL and a real S3 server (s3rver on loopback):
 * - `lifeline prune` on a repository that is not there (a directory that does not exist or holds no
 *   repository, an empty S3 prefix) says so and exits 2, where it used to exit 0 without a word (a
 *   typo in repository.path looked like "nothing to prune"); a repository created by
 *   `lifeline repository init` and still empty is pruned as before (exit 0, nothing removed).
 * - a copies: entry in object storage names its own endpoint (and region, forcePathStyle) when the
 *   repository is a local directory, and so does `repository copy --to-endpoint`: the copy lands on
 *   that server instead of going to AWS.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, type CliResult } from "../support/cli.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";
import { TEST_SECRET, startS3, type TestS3 } from "../support/s3.js";

function filesBelow(dir: string): string[] {
  try {
    return readdirSync(dir).flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? filesBelow(full) : [full];
    });
  } catch {
    return [];
  }
}

describe("prune on a repository that is not there; copies with an endpoint of their own (real CLI, s3rver)", () => {
  let s3: TestS3;
  let db: TestDatabase;
  const work = tempDir("lifeline-e2e-copies-config-");
  const outputs: string[] = [];
  const run = async (args: string[], dir = work.dir): Promise<CliResult> => {
    const result = await cli(args, { cwd: dir, env: s3.env });
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const objectsUnder = (prefix: string) =>
    filesBelow(path.join(s3.directory, "lifeline-test", prefix)).filter((f) => f.endsWith("._S3rver_object"));

  before(async () => {
    s3 = await startS3(["lifeline-test"]);
    db = await createDatabase("lifeline_e2e_copies_config");
    await query(db.url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)");
  });
  after(async () => {
    try {
      for (const text of outputs) assert.ok(!text.includes(TEST_SECRET), `secret in output: ${text}`);
      for (const file of filesBelow(work.dir))
        assert.ok(!readFileSync(file).includes(TEST_SECRET), `secret found in ${file}`);
    } finally {
      await db.drop();
      await s3.stop();
      work.remove();
    }
  });

  const asset = () =>
    `assets:\n  shop:\n    url: ${db.url}\n    drill: { scratch: { url: ${ADMIN_URL} }, jobs: 1 }\n    retention: { keepLast: 1, daily: 0, weekly: 0 }\n`;

  it("prune on a local repository that does not exist is an error naming it; an initialised empty one is fine", async () => {
    const dir = path.join(work.dir, "local-missing");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "lifeline.yaml"), `repository:\n  path: ./repositry-typo\n${asset()}`);
    const missing = await run(["prune", "shop"], dir);
    assert.equal(missing.code, 2, missing.stdout + missing.stderr);
    assert.match(missing.stderr, /no lifeline repository at .*repositry-typo.*nothing to prune/);
    assert.match(missing.stderr, /repository\.path/);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
    const json = await run(["prune", "shop", "--dry-run", "--json"], dir);
    assert.equal(json.code, 2, json.stdout + json.stderr);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, "REPOSITORY_MISSING");

    // A directory that exists but holds no repository (the parent of the real one, say).
    mkdirSync(path.join(dir, "repositry-typo"));
    writeFileSync(path.join(dir, "repositry-typo", "notes.txt"), "not a repository\n");
    const notOne = await run(["prune", "shop"], dir);
    assert.equal(notOne.code, 2, notOne.stdout + notOne.stderr);
    assert.match(notOne.stderr, /no lifeline repository at .*repositry-typo/);

    // A new repository, created and still empty: nothing to prune, no error.
    writeFileSync(path.join(dir, "lifeline.yaml"), `repository:\n  path: ./repository\n${asset()}`);
    assert.equal((await run(["repository", "init"], dir)).code, 0);
    const empty = await run(["prune", "shop", "--json"], dir);
    assert.equal(empty.code, 0, empty.stdout + empty.stderr);
    assert.deepEqual((JSON.parse(empty.stdout) as { removed: string[] }).removed, []);
  });

  it("prune on an empty S3 prefix is an error naming it; an initialised empty one is fine", async () => {
    const dir = path.join(work.dir, "s3-missing");
    mkdirSync(dir);
    const config = (prefix: string) =>
      writeFileSync(
        path.join(dir, "lifeline.yaml"),
        `repository:\n  url: s3://lifeline-test/${prefix}\n  endpoint: ${s3.endpoint}\n  forcePathStyle: true\n${asset()}`,
      );
    config("no-such-prefix");
    const missing = await run(["prune", "shop"], dir);
    assert.equal(missing.code, 2, missing.stdout + missing.stderr);
    assert.match(
      missing.stderr,
      /no lifeline repository at s3:\/\/lifeline-test\/no-such-prefix.*nothing to prune/,
    );
    assert.match(missing.stderr, /repository\.url/);

    config("fresh");
    assert.equal((await run(["repository", "init"], dir)).code, 0);
    const empty = await run(["prune", "shop"], dir);
    assert.equal(empty.code, 0, empty.stdout + empty.stderr);
    assert.match(empty.stdout, /removed 0 restore points/);
  });

  it("a copies: entry in object storage reaches its own endpoint from a local repository; so does repository copy --to-endpoint", async () => {
    const dir = path.join(work.dir, "local-source");
    mkdirSync(dir);
    writeFileSync(
      path.join(dir, "lifeline.yaml"),
      `repository:\n  path: ./repository\ncopies:\n  - url: s3://lifeline-test/offsite\n    endpoint: ${s3.endpoint}\n    region: us-east-1\n    forcePathStyle: true\n${asset()}`,
    );
    const backup = await run(["backup", "shop", "--json"], dir);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const id = (JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id;
    const drill = await run(["drill", "shop", "--json"], dir);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    const drilled = JSON.parse(drill.stdout) as {
      copies: { to: string; result?: { copied: string[] }; error?: string }[];
    };
    assert.deepEqual(
      drilled.copies.map((c) => [c.to, c.result?.copied, c.error]),
      [["s3://lifeline-test/offsite", [`shop/${id}`], undefined]],
    );
    assert.ok(
      objectsUnder("offsite").some((f) => f.includes(`${id}/manifest.json`)),
      "the manifest is on the copy's server",
    );
    // Prune reaches the copy the same way.
    const pruned = await run(["prune", "shop", "--json"], dir);
    assert.equal(pruned.code, 0, pruned.stdout + pruned.stderr);
    const result = JSON.parse(pruned.stdout) as { copies: { to: string; error?: string }[] };
    assert.deepEqual(result.copies, [{ ...result.copies[0], to: "s3://lifeline-test/offsite" }]);
    assert.equal(result.copies[0]?.error, undefined);

    // repository copy --to s3://… --to-endpoint: the same, from the command line.
    const copy = await run(
      [
        "repository",
        "copy",
        "--to",
        "s3://lifeline-test/by-hand",
        "--to-endpoint",
        s3.endpoint,
        "--to-region",
        "us-east-1",
        "--json",
      ],
      dir,
    );
    assert.equal(copy.code, 0, copy.stdout + copy.stderr);
    assert.deepEqual((JSON.parse(copy.stdout) as { copied: string[] }).copied, [`shop/${id}`]);
    assert.ok(objectsUnder("by-hand").some((f) => f.includes(`${id}/manifest.json`)));

    // An endpoint is for object storage: a local copy with one is a config error.
    writeFileSync(
      path.join(dir, "lifeline.yaml"),
      `repository:\n  path: ./repository\ncopies:\n  - url: ./second\n    endpoint: ${s3.endpoint}\n${asset()}`,
    );
    const wrong = await run(["status", "shop"], dir);
    assert.equal(wrong.code, 2, wrong.stdout + wrong.stderr);
    assert.match(wrong.stderr, /copies\.0\.endpoint: .*object storage/);
    writeFileSync(path.join(dir, "lifeline.yaml"), `repository:\n  path: ./repository\n${asset()}`);
    const flag = await run(["repository", "copy", "--to", "./elsewhere", "--to-endpoint", s3.endpoint], dir);
    assert.equal(flag.code, 2, flag.stdout + flag.stderr);
    assert.match(flag.stderr, /--to-endpoint .*s3:\/\//);
  });
});
