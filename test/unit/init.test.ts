import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { starterConfig, urlForFile } from "../../src/app/init.js";
import { parseConfig, resolveAsset } from "../../src/config/load.js";

describe("urlForFile", () => {
  it("replaces a literal password with an ${ENV} reference named after the asset", () => {
    assert.deepEqual(urlForFile("postgres://app:s3cret@db:5432/shop", "shop"), {
      url: "postgres://app:${SHOP_DB_PASSWORD}@db:5432/shop",
      passwordVariable: "SHOP_DB_PASSWORD",
    });
  });

  it("derives a valid variable name from an asset name with - and _", () => {
    assert.deepEqual(urlForFile("postgresql://billing:pw123@db/billing?sslmode=require", "billing-db_2"), {
      url: "postgresql://billing:${BILLING_DB_2_DB_PASSWORD}@db/billing?sslmode=require",
      passwordVariable: "BILLING_DB_2_DB_PASSWORD",
    });
  });

  it("replaces a percent-encoded password whole", () => {
    const written = urlForFile("postgres://app:p%40ss%3Aw@db/shop", "shop");
    assert.equal(written.url, "postgres://app:${SHOP_DB_PASSWORD}@db/shop");
  });

  it("keeps an ${ENV} reference", () => {
    assert.deepEqual(urlForFile("postgres://app:${PGPASSWORD}@db/shop", "shop"), {
      url: "postgres://app:${PGPASSWORD}@db/shop",
      passwordVariable: null,
    });
  });

  it("leaves a URL without password unchanged", () => {
    assert.deepEqual(urlForFile("postgres://app@db:5432/shop", "shop"), {
      url: "postgres://app@db:5432/shop",
      passwordVariable: null,
    });
    assert.deepEqual(urlForFile("postgres://app:@db/shop", "shop"), {
      url: "postgres://app:@db/shop",
      passwordVariable: null,
    });
  });

  it("leaves a whole-URL reference unchanged", () => {
    assert.deepEqual(urlForFile("${SHOP_URL}", "shop"), { url: "${SHOP_URL}", passwordVariable: null });
  });

  // Known bugs in src/app/init.ts (outside what this suite may change): the password is located with
  // the first "@" and the last ":" before it, unlike the URL parser, so part of the secret is written.
  it("does not write any part of a password containing ':'", () => {
    const written = urlForFile("postgres://app:pa:ss@db/shop", "shop");
    assert.equal(written.url, "postgres://app:${SHOP_DB_PASSWORD}@db/shop");
  });

  it("does not write any part of a password containing a raw '@'", () => {
    const written = urlForFile("postgres://app:p@ss@db/shop", "shop");
    assert.equal(written.url, "postgres://app:${SHOP_DB_PASSWORD}@db/shop");
  });

  it("does not throw for a password with a raw '%'", () => {
    const written = urlForFile("postgres://app:100%@db/shop", "shop");
    assert.equal(written.url, "postgres://app:${SHOP_DB_PASSWORD}@db/shop");
  });
});

describe("starterConfig", () => {
  const options = {
    asset: "shop",
    url: "postgres://app:${SHOP_DB_PASSWORD}@db:5432/shop",
    tier: "staging",
    rpo: "12h",
    repository: ".lifeline/repository",
  };

  it("writes a file that parseConfig accepts with the given values", () => {
    const config = parseConfig(starterConfig(options), "lifeline.yaml");
    assert.deepEqual(config, {
      repository: { path: ".lifeline/repository" },
      tools: {},
      backup: { jobs: 2, compression: 1 },
      catalog: ".lifeline/catalog.sqlite",
      identities: {},
      approvals: { ttl: "1h", maxTtl: "24h" },
      breakGlass: { max: "1h" },
      notifications: { webhooks: [] },
      assets: {
        shop: {
          engine: "postgres",
          url: "postgres://app:${SHOP_DB_PASSWORD}@db:5432/shop",
          tier: "staging",
          rpo: "12h",
          drill: { scratch: "embedded", jobs: 2 },
        },
      },
    });
  });

  it("resolves to the live URL once the password variable is exported", () => {
    const config = parseConfig(starterConfig(options), "/srv/lifeline.yaml");
    const asset = resolveAsset(
      { file: "/srv/lifeline.yaml", dir: "/srv", repositoryPath: "/srv/.lifeline/repository", config },
      "shop",
      { SHOP_DB_PASSWORD: "s3cret" },
    );
    assert.equal(asset.url, "postgres://app:s3cret@db:5432/shop");
    assert.equal(asset.rpoSeconds, 12 * 3600);
  });

  it("round-trips an asset name, URL and repository path that need YAML care", () => {
    const tricky = {
      asset: "billing-db_2",
      url: 'postgres://billing@db:5432/bill?application_name=a "b" #c&options=-c%20x=1',
      tier: "production",
      rpo: "1d12h",
      repository: "/var/lib/lifeline repos",
    };
    const config = parseConfig(starterConfig(tricky), "lifeline.yaml");
    assert.equal(config.repository.path, "/var/lib/lifeline repos");
    assert.equal(config.assets["billing-db_2"]?.url, tricky.url);
    assert.equal(config.assets["billing-db_2"]?.rpo, "1d12h");
  });

  it("round-trips a repository path containing ' #'", () => {
    const config = parseConfig(starterConfig({ ...options, repository: "backups #1" }), "lifeline.yaml");
    assert.equal(config.repository.path, "backups #1");
  });

  it("documents the ${ENV} syntax and never contains the password", () => {
    const text = starterConfig({ ...options, url: urlForFile("postgres://app:s3cret@db/shop", "shop").url });
    assert.ok(!text.includes("s3cret"));
    assert.match(text, /\$\{SHOP_DB_PASSWORD\}/);
  });
});
