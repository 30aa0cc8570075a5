import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
  existsSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { LifelineError } from "../../src/core/errors.js";
import {
  findConfig,
  interpolate,
  loadConfig,
  parseConfig,
  resolveAsset,
  type LoadedConfig,
} from "../../src/config/load.js";
import { inRepo } from "../support/repo.js";

const FILE = "/srv/app/lifeline.yaml";

function configFailure(text: string): LifelineError {
  try {
    parseConfig(text, FILE);
  } catch (error) {
    assert.ok(error instanceof LifelineError, `expected a LifelineError, got ${String(error)}`);
    assert.equal(error.kind, "config");
    assert.equal(error.code, "CONFIG_INVALID");
    assert.ok(error.fix && error.fix.length > 0, "a fix is given");
    assert.ok(error.message.startsWith(`${FILE}: `), `the message names the file: ${error.message}`);
    return error;
  }
  assert.fail("expected parseConfig to throw");
}

const MINIMAL = `
assets:
  shop:
    url: postgres://app:\${SHOP_DB_PASSWORD}@db:5432/shop
`;

describe("parseConfig", () => {
  it("fills defaults for a minimal file", () => {
    const config = parseConfig(MINIMAL, FILE);
    assert.deepEqual(config, {
      repository: { path: ".lifeline/repository" },
      tools: {},
      backup: { jobs: 2, compression: 1 },
      catalog: ".lifeline/catalog.sqlite",
      approvals: { ttl: "1h", maxTtl: "24h" },
      breakGlass: { max: "1h" },
      notifications: { webhooks: [] },
      identities: {},
      assets: {
        shop: {
          engine: "postgres",
          url: "postgres://app:${SHOP_DB_PASSWORD}@db:5432/shop",
          tier: "production",
          rpo: "24h",
          drill: { scratch: "embedded", jobs: 2 },
        },
      },
    });
  });

  it("keeps given values", () => {
    const config = parseConfig(
      `
repository:
  path: /var/lib/lifeline
tools:
  pgBin: /usr/lib/postgresql/16/bin
backup:
  jobs: 4
  compression: 0
assets:
  billing-db:
    engine: postgres
    url: postgresql://billing@db/billing
    tier: staging
    rpo: 1d12h
    drill:
      scratch:
        url: postgres://scratch:\${SCRATCH_PW}@scratch:5432/postgres
      jobs: 8
  dev_1:
    url: \${DEV_URL}
    tier: development
`,
      FILE,
    );
    assert.equal(config.repository.path, "/var/lib/lifeline");
    assert.equal(config.tools.pgBin, "/usr/lib/postgresql/16/bin");
    assert.deepEqual(config.backup, { jobs: 4, compression: 0 });
    assert.deepEqual(config.assets["billing-db"], {
      engine: "postgres",
      url: "postgresql://billing@db/billing",
      tier: "staging",
      rpo: "1d12h",
      drill: { scratch: { url: "postgres://scratch:${SCRATCH_PW}@scratch:5432/postgres" }, jobs: 8 },
    });
    assert.equal(config.assets.dev_1?.url, "${DEV_URL}");
    assert.equal(config.assets.dev_1?.tier, "development");
  });

  it("names an unknown key with its path and suggests checking the spelling", () => {
    const error = configFailure(`${MINIMAL}    tierr: production\n`);
    assert.equal(error.message, `${FILE}: assets.shop: unknown key "tierr"`);
    assert.match(error.fix ?? "", /"tierr"/);
    assert.match(error.fix ?? "", /spelling/);
  });

  it("names an unknown top-level key", () => {
    const error = configFailure(`${MINIMAL}repo:\n  path: x\n`);
    assert.equal(error.message, `${FILE}: (top level): unknown key "repo"`);
  });

  it("rejects a bad tier, listing the valid ones", () => {
    const error = configFailure(`${MINIMAL}    tier: prod\n`);
    assert.equal(
      error.message,
      `${FILE}: assets.shop.tier: must be one of: production, staging, development`,
    );
  });

  it('rejects an rpo written as "24 hours"', () => {
    const error = configFailure(`${MINIMAL}    rpo: 24 hours\n`);
    assert.match(error.message, /assets\.shop\.rpo: is not a duration/);
    assert.match(error.message, /24h/);
  });

  it("rejects a URL with another scheme", () => {
    const error = configFailure("assets:\n  shop:\n    url: mysql://app@db/shop\n");
    assert.match(error.message, /assets\.shop\.url: is not a PostgreSQL URL/);
  });

  it("rejects a bad scratch URL with its full path", () => {
    const error = configFailure(`${MINIMAL}    drill:\n      scratch:\n        url: http://scratch/\n`);
    assert.match(error.message, /assets\.shop\.drill\.scratch/);
  });

  it("rejects an unsupported engine", () => {
    const error = configFailure(`${MINIMAL}    engine: mysql\n`);
    assert.match(
      error.message,
      /assets\.shop\.engine: is not a supported engine; today lifeline supports: postgres/,
    );
  });

  it("accepts no assets (the starter config of lifeline k8s install); naming one then says how to add it", () => {
    assert.deepEqual(parseConfig("assets: {}\n", FILE).assets, {});
    assert.deepEqual(parseConfig("repository:\n  path: x\n", FILE).assets, {});
    const loaded: LoadedConfig = {
      file: FILE,
      dir: "/srv/app",
      config: parseConfig("", FILE),
      repositoryPath: "/srv/app/.lifeline/repository",
    };
    assert.throws(
      () => resolveAsset(loaded, "shop", {}),
      (e: unknown) =>
        e instanceof LifelineError && e.code === "ASSET_UNKNOWN" && /add one under assets:/.test(e.fix ?? ""),
    );
  });

  it("maps identities to Kubernetes users and groups; a bad mapping names its path and the fix", () => {
    const config = parseConfig(
      `identities:\n  alice@acme.com:\n    kubernetes: { users: [alice@acme.com], groups: [sre] }\n  bob:\n    kubernetes:\n      groups: [dba]\n${MINIMAL}`,
      FILE,
    );
    assert.deepEqual(config.identities["alice@acme.com"], {
      kubernetes: { users: ["alice@acme.com"], groups: ["sre"] },
    });
    assert.deepEqual(config.identities.bob, { kubernetes: { users: [], groups: ["dba"] } });
    assert.deepEqual(parseConfig(MINIMAL, FILE).identities, {});
    const empty = configFailure(`identities:\n  alice:\n    kubernetes: {}\n${MINIMAL}`);
    assert.match(empty.message, /identities\.alice\.kubernetes: lists no users and no groups/);
    assert.match(empty.fix ?? "", /users: \[alice@acme\.com\]/);
    const everyone = configFailure(
      `identities:\n  alice:\n    kubernetes: { groups: [system:authenticated] }\n${MINIMAL}`,
    );
    assert.match(everyone.message, /identities\.alice\.kubernetes\.groups\.0: names a group everybody is in/);
    const typo = configFailure(`identities:\n  alice:\n    kubernetes: { user: [alice] }\n${MINIMAL}`);
    assert.match(typo.message, /identities\.alice\.kubernetes: unknown key "user"/);
    const controllers = parseConfig(
      `serve:\n  controllers: [system:serviceaccount:kube-system:ebs-csi-controller-sa]\n${MINIMAL}`,
      FILE,
    );
    assert.deepEqual(controllers.serve?.controllers, [
      "system:serviceaccount:kube-system:ebs-csi-controller-sa",
    ]);
    assert.match(
      configFailure(`serve:\n  controllers: [alice@acme.com]\n${MINIMAL}`).message,
      /serve\.controllers\.0: is not a controller's username/,
    );
    const bare = configFailure(`identities:\n  alice:\n    users: [alice]\n${MINIMAL}`);
    assert.match(
      [bare.message, ...(bare.details ?? [])].join("\n"),
      /identities\.alice: unknown key "users"/,
    );
  });

  it("rejects a wrong type with a fix saying what to give", () => {
    const error = configFailure(`backup:\n  jobs: two\n${MINIMAL}`);
    assert.match(error.message, /backup\.jobs: /);
    assert.match(error.fix ?? "", /give a number here/);
    assert.match(configFailure(`policy: []\n${MINIMAL}`).fix ?? "", /give an object here/);
  });

  it("rejects out-of-range numbers", () => {
    assert.match(configFailure(`backup:\n  compression: 10\n${MINIMAL}`).message, /backup\.compression: /);
    assert.match(configFailure(`backup:\n  jobs: 0\n${MINIMAL}`).message, /backup\.jobs: /);
  });

  it("rejects invalid YAML with its line number", () => {
    const error = configFailure("assets:\n  shop:\n    url: postgres://db/shop\n   tier: staging\n");
    assert.match(error.message, /not valid YAML \(line 4, column \d+\)/);
    assert.match(error.fix ?? "", /YAML syntax/);
  });

  it("rejects a bad asset name, saying what a name may contain", () => {
    const error = configFailure("assets:\n  Shop:\n    url: postgres://db/shop\n");
    assert.equal(
      error.message,
      `${FILE}: assets.Shop: asset names use lowercase letters, digits, - and _, starting with a letter or digit`,
    );
  });

  it("reports further problems as details", () => {
    const error = configFailure(`${MINIMAL}    tier: prod\n    rpo: soon\n`);
    assert.equal(error.details.length, 1);
    assert.match(error.message + error.details.join("\n"), /assets\.shop\.tier/);
    assert.match(error.message + error.details.join("\n"), /assets\.shop\.rpo/);
  });
});

describe("interpolate", () => {
  const env = { PW: "s3cret", HOST: "db.internal", EMPTY: "" };

  it("replaces ${VAR}", () => {
    assert.equal(
      interpolate("postgres://app:${PW}@${HOST}/shop", "x", env),
      "postgres://app:s3cret@db.internal/shop",
    );
  });

  it("uses ${VAR:-default} only when the variable is unset or empty", () => {
    assert.equal(interpolate("${HOST:-localhost}", "x", env), "db.internal");
    assert.equal(interpolate("${MISSING:-localhost}", "x", env), "localhost");
    assert.equal(interpolate("${EMPTY:-fallback}", "x", env), "fallback");
    assert.equal(interpolate("${MISSING:-}", "x", env), "");
  });

  it("turns $$ into a literal $, so $${VAR} stays unexpanded", () => {
    assert.equal(interpolate("pa$$word", "x", env), "pa$word");
    assert.equal(interpolate("$${PW}", "x", env), "${PW}");
  });

  it("leaves text without references alone", () => {
    assert.equal(interpolate("postgres://app@db/shop $x", "x", env), "postgres://app@db/shop $x");
  });

  it("fails on a missing variable naming the path and the variable, never the values", () => {
    let error: unknown;
    try {
      interpolate("postgres://app:${PW}@${DB_HOST}/shop", "assets.shop.url", env);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof LifelineError);
    assert.equal(error.kind, "config");
    assert.equal(error.message, "assets.shop.url: environment variable DB_HOST is not set");
    assert.match(error.fix ?? "", /export DB_HOST=/);
    const all = `${error.message} ${error.fix ?? ""} ${error.details.join(" ")}`;
    assert.ok(!all.includes("s3cret"), all);
    assert.ok(!all.includes("postgres://"), all);
  });

  it("treats an empty variable without default as missing", () => {
    assert.throws(
      () => interpolate("${EMPTY}", "assets.shop.url", env),
      /environment variable EMPTY is not set/,
    );
  });
});

describe("resolveAsset", () => {
  const loaded: LoadedConfig = {
    file: FILE,
    dir: "/srv/app",
    repositoryPath: "/srv/app/.lifeline/repository",
    config: parseConfig(
      `
assets:
  shop:
    url: postgres://app:\${PW}@db/shop
    rpo: 15m
  billing:
    url: postgres://billing@db/billing
    tier: staging
    drill:
      scratch:
        url: postgres://scratch:\${SCRATCH_PW:-dev}@scratch/postgres
      jobs: 4
`,
      FILE,
    ),
  };

  it("resolves an asset with its URL interpolated and rpo in seconds", () => {
    assert.deepEqual(resolveAsset(loaded, "shop", { PW: "s3cret" }), {
      name: "shop",
      engine: "postgres",
      url: "postgres://app:s3cret@db/shop",
      tier: "production",
      rpoSeconds: 900,
      scratch: "embedded",
      drillJobs: 2,
      kubernetes: null,
    });
  });

  it("interpolates a scratch server URL", () => {
    const asset = resolveAsset(loaded, "billing", {});
    assert.deepEqual(asset.scratch, { url: "postgres://scratch:dev@scratch/postgres" });
    assert.equal(asset.rpoSeconds, 86400);
    assert.equal(asset.drillJobs, 4);
  });

  it("names the asset's url path when its variable is missing", () => {
    assert.throws(() => resolveAsset(loaded, "shop", {}), {
      message: "assets.shop.url: environment variable PW is not set",
    });
  });

  it("rejects an unknown asset listing the known names", () => {
    let error: unknown;
    try {
      resolveAsset(loaded, "shopp", {});
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof LifelineError);
    assert.equal(error.code, "ASSET_UNKNOWN");
    assert.equal(error.message, `no asset named "shopp" in ${FILE}`);
    assert.equal(error.fix, "use one of: shop, billing");
  });
});

describe("findConfig", () => {
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), "lifeline-config-")));
  after(() => rmSync(root, { recursive: true, force: true }));

  function notFound(fn: () => unknown): LifelineError {
    try {
      fn();
    } catch (error) {
      assert.ok(error instanceof LifelineError);
      assert.equal(error.code, "CONFIG_NOT_FOUND");
      assert.equal(error.kind, "config");
      return error;
    }
    assert.fail("expected CONFIG_NOT_FOUND");
  }

  it("resolves an explicit path against the working directory", () => {
    const dir = path.join(root, "explicit");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "custom.yaml"), MINIMAL);
    assert.equal(findConfig("custom.yaml", dir, {}), path.join(dir, "custom.yaml"));
  });

  it("fails for an explicit path that does not exist, pointing at --config", () => {
    const error = notFound(() => findConfig("nope.yaml", root, {}));
    assert.equal(error.message, `config file ${path.join(root, "nope.yaml")} does not exist`);
    assert.match(error.fix ?? "", /--config/);
  });

  it("uses LIFELINE_CONFIG when no explicit path is given, and names it when missing", () => {
    const dir = path.join(root, "env");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "from-env.yaml"), MINIMAL);
    assert.equal(
      findConfig(undefined, root, { LIFELINE_CONFIG: "env/from-env.yaml" }),
      path.join(dir, "from-env.yaml"),
    );
    const error = notFound(() => findConfig(undefined, root, { LIFELINE_CONFIG: "env/missing.yaml" }));
    assert.match(error.fix ?? "", /LIFELINE_CONFIG/);
  });

  it("prefers an explicit path over LIFELINE_CONFIG", () => {
    notFound(() => findConfig("missing.yaml", root, { LIFELINE_CONFIG: "env/from-env.yaml" }));
  });

  it("finds lifeline.yaml in a parent directory, the nearest first", () => {
    const project = path.join(root, "project");
    const deep = path.join(project, "services", "api", "src");
    mkdirSync(deep, { recursive: true });
    writeFileSync(path.join(project, "lifeline.yaml"), MINIMAL);
    assert.equal(findConfig(undefined, deep, {}), path.join(project, "lifeline.yaml"));
    writeFileSync(path.join(project, "services", "lifeline.yml"), MINIMAL);
    assert.equal(findConfig(undefined, deep, {}), path.join(project, "services", "lifeline.yml"));
  });

  it("prefers lifeline.yaml over lifeline.yml in the same directory", () => {
    const dir = path.join(root, "both");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "lifeline.yml"), MINIMAL);
    writeFileSync(path.join(dir, "lifeline.yaml"), MINIMAL);
    assert.equal(findConfig(undefined, dir, {}), path.join(dir, "lifeline.yaml"));
  });

  it("fails when no directory up to the root has one", (t) => {
    const dir = path.join(root, "empty", "deeper");
    mkdirSync(dir, { recursive: true });
    const ancestors: string[] = [];
    for (let d = dir; ; d = path.dirname(d)) {
      ancestors.push(d);
      if (path.dirname(d) === d) break;
    }
    if (
      ancestors.some(
        (d) => existsSync(path.join(d, "lifeline.yaml")) || existsSync(path.join(d, "lifeline.yml")),
      )
    ) {
      t.skip("a lifeline.yaml exists above the temporary directory");
      return;
    }
    const error = notFound(() => findConfig(undefined, dir, {}));
    assert.equal(error.message, `no lifeline.yaml in ${dir} or any parent directory`);
    assert.match(error.fix ?? "", /lifeline init/);
  });
});

describe("parseConfig: policy", () => {
  const base = "assets:\n  shop:\n    url: postgres://db/shop\n";

  it("accepts rules with a single value or a list, and the built-in policy applies without them", async () => {
    const { policyRules } = await import("../../src/config/load.js");
    const config = parseConfig(
      base +
        "policy:\n  rules:\n    - name: strict\n      match: { tier: production, dataLoss: [destructive, unknown] }\n      require: { verifiedRestorePoint: 6h, approvals: 2 }\n    - name: no-drop\n      match: { kind: drop-database }\n      deny: never\n",
      "lifeline.yaml",
    );
    const rules = policyRules({ file: "x", dir: ".", config, repositoryPath: "." });
    assert.deepEqual(rules[0], {
      name: "strict",
      match: { tier: ["production"], dataLoss: ["destructive", "unknown"] },
      require: { verifiedRestorePointMaxAgeSeconds: 21600, approvals: 2 },
    });
    assert.equal(rules[1]?.deny, "never");
    const defaults = policyRules({
      file: "x",
      dir: ".",
      config: parseConfig(base, "lifeline.yaml"),
      repositoryPath: ".",
    });
    assert.equal(defaults[0]?.name, "production-destructive");
  });

  it("a rule with neither require nor deny, or a bad dataLoss, names the path", () => {
    assert.throws(
      () =>
        parseConfig(
          base + "policy:\n  rules:\n    - name: empty\n      match: { tier: production }\n",
          "lifeline.yaml",
        ),
      /policy\.rules\.0: a rule needs `require:` or `deny:`/,
    );
    assert.throws(
      () =>
        parseConfig(
          base + "policy:\n  rules:\n    - name: bad\n      match: { dataLoss: gone }\n      deny: x\n",
          "lifeline.yaml",
        ),
      /policy\.rules\.0\.match\.dataLoss: must be one or a list of: none, recoverable, destructive, unknown/,
    );
  });

  it("a misspelt kind or tier is a config error naming the valid values, not a rule that never matches", () => {
    const rule = (match: string, then = "deny: platform team only") =>
      base + `policy:\n  rules:\n    - name: r\n      match: ${match}\n      ${then}\n`;
    const kind = configFailure(rule("{ kind: drop-databse }"));
    assert.match(kind.message, /policy\.rules\.0\.match\.kind: "drop-databse" is not an operation kind/);
    assert.match(kind.message, /did you mean drop-database\?/);
    const inList = configFailure(rule("{ kind: [delete-pvc, helm-uninstal] }"));
    assert.match(inList.message, /"helm-uninstal" is not an operation kind.*did you mean helm-uninstall\?/);
    const tier = configFailure(rule("{ tier: prod, dataLoss: destructive }", "require: { approvals: 1 }"));
    assert.match(
      tier.message,
      /policy\.rules\.0\.match\.tier: must be one or a list of: production, staging, development, unbound/,
    );
    // Every kind lifeline plans can be named, also the psql meta-commands and the unbound tier.
    const config = parseConfig(
      rule(
        "{ tier: [production, unbound], kind: [drop-database, drop-table, truncate, delete, update, alter-table-drop-column, alter-column-type, delete-pvc, delete-pv, delete-namespace, delete-statefulset, helm-uninstall, helm-upgrade, patch-pv-reclaim-policy-delete, scale-statefulset, drain-node, psql-i, unknown] }",
      ),
      "lifeline.yaml",
    );
    assert.equal(config.policy?.rules[0]?.match.kind?.length, 18);
  });

  it("every operation kind in the plan snapshot and in the built-in policies is in the registry", async () => {
    const { isOperationKind } = await import("../../src/core/plan/kinds.js");
    const { DEFAULT_POLICY } = await import("../../src/core/plan/policy.js");
    const snapshot = JSON.parse(readFileSync(inRepo("test/fixtures/plan-snapshot.json"), "utf8")) as {
      plan: { operations: { kind: string }[] };
    }[];
    const kinds = new Set([
      ...snapshot.flatMap((c) => c.plan.operations.map((o) => o.kind)),
      ...DEFAULT_POLICY.flatMap((r) => r.match.kind ?? []),
      "delete-pvc",
      "delete-pv",
      "delete-namespace",
      "helm-uninstall",
    ]);
    assert.ok(kinds.size > 25, `${kinds.size} kinds`);
    assert.deepEqual(
      [...kinds].filter((k) => !isOperationKind(k)),
      [],
    );
  });
});

describe("kubernetes bindings", () => {
  it("binds an asset to a namespace, release and claim selector", () => {
    const config = parseConfig(
      `
kubernetes:
  context: prod
assets:
  shop:
    url: postgres://app@db/shop
    kubernetes: {namespace: shop, release: postgresql, pvcSelector: "app.kubernetes.io/component=primary"}
`,
      "lifeline.yaml",
    );
    assert.deepEqual(config.assets.shop?.kubernetes, {
      namespace: "shop",
      release: "postgresql",
      pvcSelector: "app.kubernetes.io/component=primary",
    });
    assert.equal(config.kubernetes?.context, "prod");
    assert.equal(config.kubernetes?.clusterDomain, "cluster.local");
  });

  it("names the path and the problem for a bad namespace or an unknown key", () => {
    assert.throws(
      () =>
        parseConfig(
          "assets:\n  shop:\n    url: postgres://db/shop\n    kubernetes: {namespace: Shop_1}\n",
          "l.yaml",
        ),
      /assets\.shop\.kubernetes\.namespace: is not a Kubernetes namespace name/,
    );
    assert.throws(
      () =>
        parseConfig(
          "assets:\n  shop:\n    url: postgres://db/shop\n    kubernetes: {namespace: shop, relase: x}\n",
          "l.yaml",
        ),
      /unknown key "relase"/,
    );
  });
});

describe("config robustness and interpolation (issue 9)", () => {
  it("interpolates repository.path and other plain values at load, with ${VAR:-default}", () => {
    const config = parseConfig(
      `repository:\n  path: \${BACKUP_DIR}/repo\ntools:\n  pgBin: \${PG_BIN:-/usr/bin}\n${MINIMAL}`,
      FILE,
      { BACKUP_DIR: "/mnt/backups" },
    );
    assert.equal(config.repository.path, "/mnt/backups/repo");
    assert.equal(config.tools.pgBin, "/usr/bin");
    // Connection URLs stay templates: they are interpolated when used (secrets, percent-encoding).
    assert.equal(config.assets.shop?.url, "postgres://app:${SHOP_DB_PASSWORD}@db:5432/shop");
  });

  it("loadConfig puts the repository where the interpolated path says", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "lifeline-config-"));
    try {
      writeFileSync(path.join(dir, "lifeline.yaml"), `repository:\n  path: \${BACKUP_DIR}\n${MINIMAL}`);
      const loaded = loadConfig(undefined, dir, { BACKUP_DIR: path.join(dir, "somewhere") });
      assert.equal(loaded.repositoryPath, path.join(dir, "somewhere"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a missing variable in repository.path is a config error naming the path and the variable", () => {
    let error: unknown;
    try {
      parseConfig(`repository:\n  path: \${BACKUP_DIR}\n${MINIMAL}`, FILE, {});
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof LifelineError, String(error));
    assert.equal(error.kind, "config");
    assert.match(error.message, /repository\.path: environment variable BACKUP_DIR is not set/);
    assert.match(error.fix ?? "", /export BACKUP_DIR=/);
  });

  it("accepts a legitimate config with more than 100 aliases", () => {
    let text = "assets:\n  a0:\n    url: postgres://db/a0\n    rpo: &r 6h\n";
    for (let i = 1; i < 150; i++) text += `  a${i}:\n    url: postgres://db/a${i}\n    rpo: *r\n`;
    const config = parseConfig(text, FILE, {});
    assert.equal(Object.keys(config.assets).length, 150);
    assert.equal(config.assets.a149?.rpo, "6h");
  });

  it("stops a billion-laughs document with a config error", () => {
    const lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 10; i++) {
      const refs = Array.from({ length: 10 }, () => `*a${i - 1}`).join(", ");
      lines.push(`a${i}: &a${i} [${refs}]`);
    }
    const error = configFailure(lines.join("\n") + "\n");
    assert.match(error.message, /alias/);
  });

  it("a map nested 5,000 deep is a config error, not a crash", () => {
    let text = "";
    for (let i = 0; i < 5000; i++) text += `${" ".repeat(i)}k${i}:\n`;
    text += `${" ".repeat(5000)}v: 1\n`;
    const error = configFailure(text);
    assert.match(error.message, /nested/);
  });

  it("flow collections nested 5,000 deep are a config error, not a crash", () => {
    const error = configFailure(`assets: ${"[".repeat(5000)}${"]".repeat(5000)}\n`);
    assert.match(error.message, /nested/);
  });

  it("still rejects a duplicate key, with its line", () => {
    const error = configFailure(`${MINIMAL}  shop:\n    url: postgres://db/other\n`);
    assert.match(error.message, /not valid YAML \(line 5, column 3\): duplicate key "shop"/);
  });
});
