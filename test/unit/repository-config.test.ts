import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { loadConfig, parseConfig } from "../../src/config/load.js";

const problem = (text: string) => {
  try {
    parseConfig(text, "lifeline.yaml", {});
  } catch (error) {
    const e = error as { message: string; fix?: string };
    return `${e.message} — ${e.fix ?? ""}`;
  }
  return "accepted";
};

describe("repository: in lifeline.yaml", () => {
  it("an S3 repository: bucket and prefix from the URL, the passphrase from the environment", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-repo-config-"));
    try {
      writeFileSync(
        path.join(dir, "lifeline.yaml"),
        "repository:\n  url: s3://acme-backups/team/lifeline/\n  endpoint: https://minio.internal:9000\n  region: eu-west-1\n  forcePathStyle: true\n  encryption:\n    passphrase: ${LIFELINE_REPO_PASSPHRASE}\nassets:\n  shop:\n    url: postgres://app@db:5432/shop\n",
      );
      const loaded = loadConfig(path.join(dir, "lifeline.yaml"), dir, {
        LIFELINE_REPO_PASSPHRASE: "s3cret-passphrase",
      });
      assert.deepEqual(loaded.repository, {
        kind: "s3",
        bucket: "acme-backups",
        prefix: "team/lifeline",
        endpoint: "https://minio.internal:9000",
        region: "eu-west-1",
        forcePathStyle: true,
        passphrase: "s3cret-passphrase",
      });
      writeFileSync(
        path.join(dir, "lifeline.yaml"),
        "assets:\n  shop:\n    url: postgres://app@db:5432/shop\n",
      );
      assert.deepEqual(loadConfig(path.join(dir, "lifeline.yaml"), dir, {}).repository, {
        kind: "local",
        path: path.join(dir, ".lifeline/repository"),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("mistakes are `path: problem — fix`", () => {
    assert.match(
      problem("repository:\n  url: s3://Bad_Bucket/x\n"),
      /^lifeline\.yaml: repository\.url: is s3:\/\/bucket\/prefix/,
    );
    assert.match(
      problem("repository:\n  encryption:\n    passphrase: long-enough-passphrase\n"),
      /repository\.encryption: encryption is for a repository in object storage/,
    );
    assert.match(
      problem("repository:\n  url: s3://acme/x\n  endpoint: ftp://x\n"),
      /repository\.endpoint: is the store's http\(s\):\/\/ URL/,
    );
    assert.match(
      problem("repository:\n  url: s3://acme/x\n  encryption:\n    passphrase: short\n"),
      /passphrase: is at least 8 characters/,
    );
    assert.match(
      problem("repository:\n  objectLock: { mode: governance, days: 30 }\n"),
      /repository\.objectLock: objectLock is for a repository in object storage .*remove it for a local repository/,
    );
    assert.match(
      problem("repository:\n  url: s3://acme/x\n  objectLock: { mode: strict, days: 30 }\n"),
      /repository\.objectLock\.mode: is governance or compliance/,
    );
    assert.match(
      problem("repository:\n  url: s3://acme/x\n  objectLock: { mode: compliance, days: 0 }\n"),
      /repository\.objectLock\.days: is at least 1 day/,
    );
    assert.equal(
      problem(
        "repository:\n  url: s3://acme/x\n  objectLock: { mode: compliance, days: 30 }\ncopies:\n  - url: s3://acme/copy\n    allowPlaintext: true\nassets:\n  shop:\n    url: postgres://app@db:5432/shop\n",
      ),
      "accepted",
    );
    assert.match(problem("copies:\n  - path: /x\n"), /copies\.0/);
    // An s3:// URL that is not one (uppercase bucket, credentials in it) is refused, not taken for
    // a directory ./s3:/… that would hold a plaintext copy; the URL is not echoed.
    for (const url of ["s3://Copy_Bucket/x", "s3://AKIAEXAMPLE:topsecret@copy-bucket/x", "https://x/y"]) {
      const said = problem(
        `repository:\n  url: s3://acme/x\ncopies:\n  - url: ${url}\n    allowPlaintext: true\nassets:\n  shop:\n    url: postgres://app@db:5432/shop\n`,
      );
      assert.match(said, /copies\.0\.url: is a directory or s3:\/\/bucket\/prefix/, url);
      assert.doesNotMatch(said, /topsecret/);
    }
    assert.equal(
      problem(
        "repository:\n  url: s3://acme/x\ncopies:\n  - url: /mnt/backup\nassets:\n  shop:\n    url: postgres://app@db:5432/shop\n",
      ),
      "accepted",
    );
  });
});

describe("repository copy --to", () => {
  it("a URL that is not s3://bucket/prefix nor a directory is refused, without echoing it", async () => {
    const { repositoryAt } = await import("../../src/cli/wiring.js");
    const config = parseConfig(
      "assets:\n  shop:\n    url: postgres://app@db:5432/shop\n",
      "lifeline.yaml",
      {},
    );
    const loaded = {
      file: "/mnt/lifeline.yaml",
      dir: "/mnt",
      config,
      repositoryPath: "/mnt/.lifeline/repository",
    };
    for (const url of ["s3://Copy_Bucket/x", "s3://AKIAEXAMPLE:topsecret@copy-bucket/x"])
      assert.throws(
        () => repositoryAt(loaded, url, undefined, "/tmp"),
        (e: Error) =>
          /directory or s3:\/\/bucket\/prefix/.test(e.message) && !e.message.includes("topsecret"),
      );
    assert.equal(repositoryAt(loaded, "backup", undefined, "/mnt").location, "/mnt/backup");
  });
});

describe("copies: entries in object storage name their own store", () => {
  it("endpoint, region, forcePathStyle and encryption are for s3:// copies; a directory with them is refused", () => {
    const withCopy = (entry: string) =>
      problem(`copies:\n  - url: ${entry}\nassets:\n  shop:\n    url: postgres://app@db:5432/shop\n`);
    assert.equal(
      withCopy(
        "s3://offsite/x\n    endpoint: https://minio.internal:9000\n    region: eu-west-1\n    forcePathStyle: true",
      ),
      "accepted",
    );
    for (const key of ["endpoint: https://minio.internal:9000", "region: eu-west-1", "forcePathStyle: true"])
      assert.match(
        withCopy(`/mnt/backup\n    ${key}`),
        /copies\.0\.\w+: is for a copy in object storage/,
        key,
      );
    // A passphrase a directory would ignore: the copy would be plaintext without anyone knowing.
    const said = withCopy("/mnt/backup\n    encryption:\n      passphrase: long-enough-secret");
    assert.match(
      said,
      /copies\.0\.encryption: is for a copy in object storage .*does not encrypt a directory/,
    );
    assert.doesNotMatch(said, /long-enough-secret/);
  });

  it("a copy's own store settings replace the repository's; without them it is on the repository's store", async () => {
    const { repositoryAt } = await import("../../src/cli/wiring.js");
    const { S3Repository } = await import("../../src/repository/s3/index.js");
    const loaded = loadConfigText(
      "repository:\n  url: s3://main/x\n  endpoint: https://minio.internal:9000\n  region: eu-west-1\nassets:\n  shop:\n    url: postgres://app@db:5432/shop\n",
    );
    const where = (store?: { endpoint?: string; region?: string }) => {
      const repo = repositoryAt(loaded, "s3://copy/y", undefined, "/tmp", store);
      assert.ok(repo instanceof S3Repository);
      const { endpoint, region, forcePathStyle } = repo.store.where;
      return { endpoint, region, forcePathStyle };
    };
    assert.deepEqual(where(), {
      endpoint: "https://minio.internal:9000",
      region: "eu-west-1",
      forcePathStyle: undefined,
    });
    assert.deepEqual(where({ endpoint: "http://127.0.0.1:9999" }), {
      endpoint: "http://127.0.0.1:9999",
      region: undefined,
      forcePathStyle: undefined,
    });
    // Only a region: AWS S3 in that region, not the repository's endpoint.
    assert.deepEqual(where({ region: "us-west-2" }), {
      endpoint: undefined,
      region: "us-west-2",
      forcePathStyle: undefined,
    });
  });
});

function loadConfigText(text: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-repo-config-"));
  try {
    writeFileSync(path.join(dir, "lifeline.yaml"), text);
    return loadConfig(path.join(dir, "lifeline.yaml"), dir, {});
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
