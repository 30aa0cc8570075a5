/**
 * Every command on a repository in S3-compatible object storage: the real CLI, real PostgreSQL and
 * a real S3 server (s3rver on loopback). Backup → drill → restore → status → check; a flipped byte
 * in an object is named by `check --read-data` and fails the drill; a missing bucket, denied access
 * and an unreachable endpoint are clear errors; the secret access key never appears anywhere.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, cliTmpDir, startCli, type CliResult } from "../support/cli.js";
import { createDatabase, query, tempDir, urlFor, type TestDatabase } from "../support/pg.js";
import { TEST_SECRET, startS3, type TestS3 } from "../support/s3.js";

function filesBelow(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesBelow(full) : [full];
  });
}

describe("lifeline on an S3 repository (real CLI, PostgreSQL and s3rver)", () => {
  let s3: TestS3;
  let db: TestDatabase;
  const work = tempDir("lifeline-e2e-s3-");
  const outputs: string[] = [];
  const restored = `lifeline_e2e_s3_restored_${process.pid}`;

  const config = (dir: string, repository: string) => {
    writeFileSync(
      path.join(dir, "lifeline.yaml"),
      `repository:\n${repository}\nassets:\n  shop:\n    url: ${db.url}\n    tier: production\n    rpo: 6h\n`,
    );
  };
  const run = async (args: string[], env: NodeJS.ProcessEnv = s3.env): Promise<CliResult> => {
    const result = await cli(args, { cwd: work.dir, env });
    outputs.push(result.stdout, result.stderr);
    return result;
  };

  before(async () => {
    s3 = await startS3(["lifeline-test"]);
    db = await createDatabase("lifeline_e2e_s3");
    await query(
      db.url,
      "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 3000) g",
    );
    config(
      work.dir,
      `  url: s3://lifeline-test/team/shop\n  endpoint: ${s3.endpoint}\n  region: us-east-1\n  forcePathStyle: true`,
    );
  });
  after(async () => {
    try {
      for (const text of outputs) assert.ok(!text.includes(TEST_SECRET), `secret in output: ${text}`);
      for (const file of [...filesBelow(work.dir), ...filesBelow(s3.directory)])
        assert.ok(!readFileSync(file).includes(TEST_SECRET), `secret found in ${file}`);
    } finally {
      await query(urlFor("postgres"), `DROP DATABASE IF EXISTS "${restored}" WITH (FORCE)`);
      await db.drop();
      await s3.stop();
      work.remove();
    }
  });

  it("backup → drill → restore → status → check through object storage", async () => {
    const backup = await run(["backup", "shop", "--json"]);
    assert.equal(backup.code, 0, backup.stderr);
    const id = String((JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id);
    const objects = filesBelow(path.join(s3.directory, "lifeline-test")).map((f) => f.replaceAll("%2F", "/"));
    assert.ok(
      objects.some((f) => f.includes(`team/shop/restore-points/shop/${id}/manifest.json`)),
      objects.join("\n"),
    );

    const drill = await run(["drill", "shop", "--json"]);
    assert.equal(drill.code, 0, drill.stderr);
    assert.equal((JSON.parse(drill.stdout) as { drill: { result: string } }).drill.result, "passed");

    const restore = await run(["restore", "shop", "--to", urlFor(restored), "--json"]);
    assert.equal(restore.code, 0, restore.stderr + restore.stdout);
    const rows = await query<{ n: string }>(urlFor(restored), "SELECT count(*)::text AS n FROM items");
    assert.equal(rows[0]?.n, "3000");

    const status = await run(["status", "shop", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(id));

    const check = await run(["check", "--json"]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const deep = await run(["check", "--read-data", "--json"]);
    assert.equal(deep.code, 0, deep.stdout + deep.stderr);
    const repaired = await run(["check", "--repair-index"]);
    assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    assert.match(repaired.stdout, /index\/shop\.json: rebuilt/);
  });

  it("one flipped byte in an object: check --read-data and the drill name it", async () => {
    const data = filesBelow(path.join(s3.directory, "lifeline-test"))
      .filter((f) => /\.dat(\.gz)?\._S3rver_object$/.test(f) && !f.includes("toc.dat"))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    assert.ok(data, "a data object");
    const bytes = readFileSync(data);
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8((bytes.readUInt8(middle) ^ 0xff) & 0xff, middle);
    writeFileSync(data, bytes);
    const name = path.basename(data).replace("._S3rver_object", "");

    // Sizes and recorded checksums still agree: only reading the data finds it.
    assert.equal((await run(["check"])).code, 0);
    const deep = await run(["check", "--read-data", "--json"]);
    assert.equal(deep.code, 4, deep.stdout);
    assert.match(deep.stdout, new RegExp(`${name.replace(/\./g, "\\.")}.*sha256`));

    const drill = await run(["drill", "shop", "--json"]);
    assert.notEqual(drill.code, 0);
    assert.match(drill.stdout + drill.stderr, new RegExp(name.replace(/\./g, "\\.")));
    bytes.writeUInt8((bytes.readUInt8(middle) ^ 0xff) & 0xff, middle);
    writeFileSync(data, bytes);
  });

  it("repository copy to a local directory verifies and copies restore points and drill reports; the copy drills", async () => {
    const copy = path.join(work.dir, "copy");
    const copied = await run(["repository", "copy", "--to", copy, "--json"]);
    assert.equal(copied.code, 0, copied.stdout + copied.stderr);
    const doc = JSON.parse(copied.stdout) as { copied: string[]; drillReports: number; skipped: unknown[] };
    assert.equal(doc.copied.length, 1);
    assert.ok(doc.drillReports >= 1);
    const again = JSON.parse((await run(["repository", "copy", "--to", copy, "--json"])).stdout) as {
      copied: string[];
      present: string[];
    };
    assert.deepEqual([again.copied.length, again.present.length], [0, 1]);

    const fromCopy = tempDir("lifeline-e2e-s3-copy-");
    try {
      writeFileSync(
        path.join(fromCopy.dir, "lifeline.yaml"),
        `repository:\n  path: ${copy}\nassets:\n  shop:\n    url: ${db.url}\n`,
      );
      const drill = await cli(["drill", "shop", "--json"], { cwd: fromCopy.dir, env: {} });
      outputs.push(drill.stdout, drill.stderr);
      assert.equal(drill.code, 0, drill.stderr);
      const check = await cli(["check"], { cwd: fromCopy.dir, env: {} });
      assert.equal(check.code, 0, check.stdout);
    } finally {
      fromCopy.remove();
    }
  });

  it("SIGKILL during a backup: no restore point; check notes the leftovers; the next backup removes them", async () => {
    const bucket = path.join(s3.directory, "lifeline-test");
    const manifests = () =>
      filesBelow(bucket).filter((f) => f.endsWith("manifest.json._S3rver_object")).length;
    const staging = () => filesBelow(bucket).filter((f) => f.includes("/staging/"));
    const before = manifests();
    const killed = startCli(["backup", "shop"], { cwd: work.dir, env: s3.env });
    const deadline = Date.now() + 60_000;
    while (staging().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(staging().length > 0, "the backup started");
    killed.child.kill("SIGKILL");
    await killed.done;
    assert.equal(manifests(), before);
    const check = await run(["check", "--json"]);
    assert.equal(check.code, 0, check.stdout);
    assert.match(check.stdout, /leftovers of an interrupted backup/);

    assert.equal((await run(["backup", "shop"])).code, 0);
    assert.equal(manifests(), before + 1);
    assert.deepEqual(staging(), []);
    assert.deepEqual(
      readdirSync(cliTmpDir()).filter((n) => n.startsWith("lifeline-upload-")),
      [],
      "the killed backup's local temporary space is removed too",
    );
    assert.doesNotMatch((await run(["check"])).stdout, /leftovers/);
  });

  it("a missing bucket, denied access and an unreachable endpoint are errors that name the fix", async () => {
    const other = tempDir("lifeline-e2e-s3-errors-");
    try {
      const at = async (repository: string, env: NodeJS.ProcessEnv = s3.env) => {
        config(other.dir, repository);
        const result = await cli(["status", "shop"], { cwd: other.dir, env });
        outputs.push(result.stdout, result.stderr);
        return result;
      };
      const missing = await at(`  url: s3://no-such-bucket/x\n  endpoint: ${s3.endpoint}`);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /bucket no-such-bucket does not exist/);
      assert.match(missing.stderr, /create it/);

      const denied = await at(`  url: s3://lifeline-test/x\n  endpoint: ${s3.endpoint}`, {
        ...s3.env,
        AWS_ACCESS_KEY_ID: "NOT-A-KEY-OF-THIS-STORE",
      });
      assert.notEqual(denied.code, 0);
      assert.match(denied.stderr, /access to s3:\/\/lifeline-test\/x .*was denied \(InvalidAccessKeyId\)/);
      assert.match(denied.stderr, /check the credentials/);

      const unreachable = await at(`  url: s3://lifeline-test/x\n  endpoint: http://127.0.0.1:9`);
      assert.notEqual(unreachable.code, 0);
      assert.match(unreachable.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
      assert.match(unreachable.stderr, /repository\.endpoint/);
      for (const r of [missing, denied, unreachable])
        assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    } finally {
      other.remove();
    }
  });
});

describe("lifeline on an encrypted S3 repository (real CLI, PostgreSQL and s3rver)", () => {
  const PASSPHRASE = "tr0ub4dor-LIFELINE-passphrase-91c2";
  const NEXT = "another-LIFELINE-passphrase-55e1";
  let s3: TestS3;
  let db: TestDatabase;
  const work = tempDir("lifeline-e2e-s3enc-");
  const outputs: string[] = [];
  const run = async (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> => {
    const result = await cli(args, {
      cwd: work.dir,
      env: { ...s3.env, LIFELINE_REPO_PASSPHRASE: PASSPHRASE, ...extra },
    });
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const objects = () =>
    filesBelow(path.join(s3.directory, "lifeline-test")).filter((f) => f.endsWith("._S3rver_object"));

  before(async () => {
    s3 = await startS3(["lifeline-test"]);
    db = await createDatabase("lifeline_e2e_s3enc");
    await query(
      db.url,
      "CREATE TABLE secrets_table (id int PRIMARY KEY, note text); INSERT INTO secrets_table SELECT g, 'note ' || g FROM generate_series(1, 2000) g",
    );
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `repository:\n  url: s3://lifeline-test/enc\n  endpoint: ${s3.endpoint}\n  forcePathStyle: true\n  encryption:\n    passphrase: \${LIFELINE_REPO_PASSPHRASE}\ncopies:\n  - url: second-copy\n    allowPlaintext: true\nassets:\n  shop:\n    url: ${db.url}\n`,
    );
  });
  after(async () => {
    try {
      for (const text of outputs) {
        assert.ok(!text.includes(PASSPHRASE) && !text.includes(NEXT), `passphrase in output: ${text}`);
        assert.ok(!text.includes(TEST_SECRET), `secret in output: ${text}`);
      }
      for (const file of [...filesBelow(work.dir), ...filesBelow(s3.directory)]) {
        const content = readFileSync(file);
        for (const secret of [PASSPHRASE, NEXT, TEST_SECRET])
          assert.ok(!content.includes(secret), `a secret found in ${file}`);
      }
    } finally {
      await db.drop();
      await s3.stop();
      work.remove();
    }
  });

  it("init creates the keys and refuses to overwrite; backup and drill through encryption; nothing readable", async () => {
    const init = await run(["repository", "init", "--json"]);
    assert.equal(init.code, 0, init.stderr);
    const created = JSON.parse(init.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { location: created.location, encrypted: created.encrypted, objectLock: created.objectLock },
      { location: "s3://lifeline-test/enc", encrypted: true, objectLock: null },
    );
    // s3rver has no object lock: init says what that means.
    assert.match(String(created.bucketLock), /has no object lock .*can delete restore points/);
    const again = await run(["repository", "init"]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /is a lifeline repository already: nothing was changed/);

    assert.equal((await run(["backup", "shop"])).code, 0);
    const drill = await run(["drill", "shop", "--json"]);
    assert.equal(drill.code, 0, drill.stderr);
    const drilled = JSON.parse(drill.stdout) as {
      drill: { result: string; restorePointId: string };
      copies: { to: string; result: { copied: string[]; drillReports: number } }[];
    };
    assert.equal(drilled.drill.result, "passed");
    assert.equal((await run(["check", "--read-data"])).code, 0);
    // copies: the verified restore point and its drill report went to the second repository.
    assert.deepEqual(
      drilled.copies.map((c) => [c.to, c.result.copied, c.result.drillReports]),
      [[path.join(work.dir, "second-copy"), [`shop/${drilled.drill.restorePointId}`], 1]],
    );

    // Only the marker and the wrapped key are plaintext: no manifest, report or index reads.
    for (const file of objects()) {
      const content = readFileSync(file);
      if (file.includes("lifeline-repository.json") || file.includes("/keys/")) continue;
      for (const word of ["secrets_table", db.name, "fingerprints", "passed"])
        assert.ok(!content.includes(word), `${word} readable in ${file}`);
    }
  });

  it("a wrong passphrase is a clear error; changing it rewraps the key only", async () => {
    const wrong = await run(["status", "shop"], { LIFELINE_REPO_PASSPHRASE: "not-the-passphrase" });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /the passphrase does not open s3:\/\/lifeline-test\/enc/);
    assert.doesNotMatch(wrong.stderr, /\n\s+at /);

    const before = new Map(
      objects()
        .filter((f) => f.includes("/restore-points/"))
        .map((f) => [f, readFileSync(f)]),
    );
    const changed = await run(["repository", "passphrase", "--new-from-env", "NEXT_PASSPHRASE"], {
      NEXT_PASSPHRASE: NEXT,
    });
    assert.equal(changed.code, 0, changed.stderr);
    for (const [file, content] of before)
      assert.ok(readFileSync(file).equals(content), `${file} was rewritten`);
    assert.equal((await run(["status", "shop"])).code, 2);
    assert.equal((await run(["status", "shop"], { LIFELINE_REPO_PASSPHRASE: NEXT })).code, 0);
  });

  it("repository copy to object storage never writes plaintext or a weak passphrase by mistake", async () => {
    const pass = { LIFELINE_REPO_PASSPHRASE: NEXT };
    const copyObjects = () => objects().filter((f) => f.includes("/copy-target/"));
    const copy = (extra: string[], env: NodeJS.ProcessEnv = {}) =>
      run(["repository", "copy", "--to", "s3://lifeline-test/copy-target", ...extra], { ...pass, ...env });
    const unset = await copy(["--to-passphrase-env", "LIFELINE_COPY_UNSET"]);
    assert.equal(unset.code, 2, unset.stdout + unset.stderr);
    assert.match(unset.stderr, /LIFELINE_COPY_UNSET is not set/);
    const empty = await copy(["--to-passphrase-env", "LIFELINE_COPY_PASS"], { LIFELINE_COPY_PASS: "" });
    assert.equal(empty.code, 2, empty.stdout + empty.stderr);
    assert.match(empty.stderr, /at least 8 characters/);
    const plain = await copy([]);
    assert.equal(plain.code, 2, plain.stdout + plain.stderr);
    assert.match(plain.stderr, /--allow-plaintext/);
    assert.deepEqual(copyObjects(), []);
    const good = await copy(["--to-passphrase-env", "LIFELINE_COPY_PASS", "--json"], {
      LIFELINE_COPY_PASS: "copy-target-passphrase-7",
    });
    assert.equal(good.code, 0, good.stderr);
    assert.ok(copyObjects().some((f) => f.includes("/keys/")));
  });

  it("copies: to object storage refuses plaintext copies of the encrypted repository unless allowPlaintext", async () => {
    const file = path.join(work.dir, "lifeline.yaml");
    const original = readFileSync(file, "utf8");
    writeFileSync(
      file,
      original.replace(
        "copies:\n  - url: second-copy\n    allowPlaintext: true\n",
        "copies:\n  - url: s3://lifeline-test/plain-refused\n  - url: s3://lifeline-test/plain-allowed\n    allowPlaintext: true\n",
      ),
    );
    try {
      const drill = await run(["drill", "shop", "--json"], { LIFELINE_REPO_PASSPHRASE: NEXT });
      const drilled = JSON.parse(drill.stdout) as {
        drill: { result: string; restorePointId: string };
        copies: { to: string; result?: { copied: string[] }; error?: string }[];
      };
      assert.equal(drilled.drill.result, "passed", drill.stderr);
      assert.equal(drill.code, 1, "a copy not made is a failure");
      const [refused, allowed] = drilled.copies;
      assert.equal(refused?.to, "s3://lifeline-test/plain-refused");
      assert.match(
        refused?.error ?? "",
        /enc is encrypted and s3:\/\/lifeline-test\/plain-refused would not be: nothing was copied/,
      );
      assert.match(refused?.error ?? "", /encryption: \{ passphrase: .*allowPlaintext: true/);
      assert.deepEqual(
        objects().filter((f) => f.includes("/plain-refused/")),
        [],
      );
      assert.deepEqual(allowed?.result?.copied, [`shop/${drilled.drill.restorePointId}`]);
    } finally {
      writeFileSync(file, original);
    }
  });

  it("a copy to a directory (never encrypted) of the encrypted repository is refused unless allowPlaintext / --allow-plaintext", async () => {
    const pass = { LIFELINE_REPO_PASSPHRASE: NEXT };
    const file = path.join(work.dir, "lifeline.yaml");
    const original = readFileSync(file, "utf8");
    const exists = (name: string) => readdirSync(work.dir).includes(name);
    const withCopies = (copies: string) =>
      writeFileSync(
        file,
        original.replace("copies:\n  - url: second-copy\n    allowPlaintext: true\n", copies),
      );
    try {
      // copies: a directory without allowPlaintext: refused, naming the entry and the fix.
      withCopies("copies:\n  - url: plain-dir-refused\n");
      const drill = await run(["drill", "shop", "--json"], pass);
      assert.equal(drill.code, 1, drill.stdout + drill.stderr);
      const drilled = JSON.parse(drill.stdout) as {
        drill: { result: string };
        copies: { to: string; result?: unknown; error?: string }[];
      };
      assert.equal(drilled.drill.result, "passed");
      const [refused] = drilled.copies;
      assert.equal(refused?.to, path.join(work.dir, "plain-dir-refused"));
      assert.equal(refused?.result, undefined);
      assert.match(
        refused?.error ?? "",
        /enc is encrypted and .*plain-dir-refused would not be \(a directory: lifeline does not encrypt one\): nothing was copied/,
      );
      assert.match(
        refused?.error ?? "",
        /copies\[0\] \(plain-dir-refused\).*s3:\/\/bucket\/prefix with encryption.*allowPlaintext: true/,
      );
      assert.match(drill.stderr, /could not copy .* to .*plain-dir-refused/);
      assert.ok(!exists("plain-dir-refused"), "nothing written to the directory");

      // A passphrase on a directory would be ignored (a plaintext copy thought encrypted): a config error.
      withCopies(
        "copies:\n  - url: plain-dir-refused\n    encryption:\n      passphrase: some-long-passphrase\n",
      );
      const config = await run(["status", "shop"], pass);
      assert.equal(config.code, 2, config.stdout + config.stderr);
      assert.match(config.stderr, /copies\.0\.encryption: is for a copy in object storage/);
      assert.doesNotMatch(config.stderr, /some-long-passphrase/);
    } finally {
      writeFileSync(file, original);
    }

    // repository copy --to DIR: the same, unless --allow-plaintext; a passphrase for a directory is refused.
    const plain = await run(["repository", "copy", "--to", "plain-by-hand"], pass);
    assert.equal(plain.code, 2, plain.stdout + plain.stderr);
    assert.match(
      plain.stderr,
      /would not be \(a directory: lifeline does not encrypt one\): nothing was copied/,
    );
    assert.match(plain.stderr, /--allow-plaintext/);
    const withPassphrase = await run(
      ["repository", "copy", "--to", "plain-by-hand", "--to-passphrase-env", "LIFELINE_COPY_PASS"],
      { ...pass, LIFELINE_COPY_PASS: "copy-target-passphrase-7" },
    );
    assert.equal(withPassphrase.code, 2, withPassphrase.stdout + withPassphrase.stderr);
    assert.match(withPassphrase.stderr, /--to-passphrase-env is for a copy in object storage/);
    assert.ok(!exists("plain-by-hand"), "nothing written to the directory");
    const allowed = await run(
      ["repository", "copy", "--to", "plain-by-hand", "--allow-plaintext", "--json"],
      pass,
    );
    assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
    assert.ok((JSON.parse(allowed.stdout) as { copied: string[] }).copied.length > 0);
  });

  it("a tampered chunk is detected, naming the object", async () => {
    const data = objects()
      .filter(
        (f) =>
          f.includes("/dump/") &&
          !f.includes("toc.dat") &&
          !f.includes("/copy-target/") &&
          !f.includes("/plain-allowed/"),
      )
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    assert.ok(data);
    const bytes = readFileSync(data);
    bytes.writeUInt8(bytes.readUInt8(40) ^ 0x01, 40);
    writeFileSync(data, bytes);
    const name = path.basename(data).replace("._S3rver_object", "").replace(/\./g, "\\.");
    const deep = await run(["check", "--read-data"], { LIFELINE_REPO_PASSPHRASE: NEXT });
    assert.equal(deep.code, 4, deep.stdout + deep.stderr);
    assert.match(deep.stdout, new RegExp(`${name}: fails authentication \\(chunk 0\\)`));
    const drill = await run(["drill", "shop", "--json"], { LIFELINE_REPO_PASSPHRASE: NEXT });
    assert.notEqual(drill.code, 0);
    assert.match(drill.stdout + drill.stderr, new RegExp(`${name}: fails authentication`));
  });
});
