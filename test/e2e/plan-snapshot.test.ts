import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import * as prettier from "prettier";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import { cli, type CliResult } from "../support/cli.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { FIXTURES, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/**
 * `lifeline plan --json` for the demo's cases and a representative set of the tests' cases (SQL
 * and kubectl/helm against the simulated cluster), compared with a committed snapshot: a
 * restructuring must not change a byte of it. Only what differs between runs is normalized: the
 * test database's name, OIDs and relfilenodes (numbered in order of appearance, so "the same
 * object twice" still shows), the simulated cluster's port, the planning time, how often a table was
 * read (pg_stat_user_tables: the plans running alongside read tables too), and plan ids that
 * embed those OIDs (their stability is checked apart: the same input planned twice gives the same
 * id). Plan ids that embed nothing volatile (Kubernetes plans: the simulated cluster's uids are
 * fixed; SQL that resolves no object) are kept as they are, with a fixed installation key.
 *
 * After a deliberate change of plan output: LIFELINE_UPDATE_SNAPSHOT=1 rewrites the snapshot.
 */
const SNAPSHOT = path.join(FIXTURES, "plan-snapshot.json");

type Config = "default-policy" | "custom-policy" | "no-config";

interface Case {
  name: string;
  config: Config;
  args: string[];
}

const pvc = SIMULATED.primaryPvc;

const CASES: Case[] = [
  // The demo's cases.
  {
    name: "demo: DROP TABLE … CASCADE",
    config: "default-policy",
    args: ["shop", "--sql", "DROP TABLE products CASCADE"],
  },
  {
    name: "demo: DELETE with WHERE",
    config: "default-policy",
    args: ["shop", "--sql", "DELETE FROM orders WHERE status = 'cancelled'"],
  },
  {
    name: "demo: kubectl delete pvc",
    config: "custom-policy",
    args: ["--", "kubectl", "delete", "pvc", pvc, "-n", "shop"],
  },
  // SQL.
  {
    name: "DROP TABLE without CASCADE",
    config: "default-policy",
    args: ["shop", "--sql", "DROP TABLE products"],
  },
  {
    name: "DROP TABLE IF EXISTS (missing)",
    config: "default-policy",
    args: ["shop", "--sql", "DROP TABLE IF EXISTS nope"],
  },
  { name: "TRUNCATE", config: "custom-policy", args: ["shop", "--sql", "TRUNCATE order_items"] },
  {
    name: "TRUNCATE … CASCADE",
    config: "default-policy",
    args: ["shop", "--sql", "TRUNCATE orders CASCADE"],
  },
  {
    name: "DELETE without WHERE",
    config: "default-policy",
    args: ["shop", "--sql", "DELETE FROM order_items"],
  },
  {
    name: "UPDATE without WHERE",
    config: "default-policy",
    args: ["shop", "--sql", "UPDATE products SET price = 0"],
  },
  {
    name: "ALTER COLUMN TYPE lossless",
    config: "default-policy",
    args: ["shop", "--sql", "ALTER TABLE orders ALTER COLUMN customer_email TYPE varchar"],
  },
  {
    name: "ALTER COLUMN TYPE lossless with rewrite",
    config: "default-policy",
    args: ["shop", "--sql", "ALTER TABLE order_items ALTER COLUMN quantity TYPE bigint"],
  },
  {
    name: "ALTER COLUMN TYPE lossy",
    config: "default-policy",
    args: ["shop", "--sql", "ALTER TABLE orders ALTER COLUMN status TYPE varchar(3)"],
  },
  {
    name: "DROP COLUMN",
    config: "default-policy",
    args: ["shop", "--sql", "ALTER TABLE products DROP COLUMN attributes"],
  },
  {
    name: "multi-statement migration file",
    config: "custom-policy",
    args: ["shop", "-f", "0042_cleanup.sql"],
  },
  {
    name: "multi-statement --sql",
    config: "default-policy",
    args: [
      "shop",
      "--sql",
      "DROP TABLE products CASCADE; TRUNCATE orders CASCADE; DELETE FROM order_items WHERE quantity > 1; UPDATE products SET price = 0; DROP SCHEMA public CASCADE",
    ],
  },
  {
    name: "CREATE VIEW",
    config: "default-policy",
    args: ["shop", "--sql", "CREATE VIEW v AS SELECT 1 AS one"],
  },
  {
    name: "unknown DO block",
    config: "default-policy",
    args: ["shop", "--sql", "DO $$ BEGIN DELETE FROM orders; END $$"],
  },
  {
    name: "psql meta-command file, staging",
    config: "custom-policy",
    args: ["shop-staging", "-f", "0043_psql.sql"],
  },
  {
    name: "deny rule: DROP DATABASE",
    config: "custom-policy",
    args: ["shop-staging", "--sql", "DROP DATABASE shop"],
  },
  {
    name: "DROP DATABASE, default policy",
    config: "default-policy",
    args: ["shop", "--sql", "DROP DATABASE shop"],
  },
  {
    name: "password literal",
    config: "default-policy",
    args: ["shop", "--sql", "ALTER ROLE app PASSWORD 'Hunter2Secret'"],
  },
  // Commands against the simulated cluster.
  {
    name: "kubectl delete pvc, default policy",
    config: "default-policy",
    args: ["--", "kubectl", "delete", "pvc", pvc, "-n", "shop"],
  },
  {
    name: "kubectl delete pvc/name",
    config: "custom-policy",
    args: ["--", "kubectl", "delete", "-nshop", `pvc/${pvc}`],
  },
  {
    name: "kubectl delete namespace",
    config: "custom-policy",
    args: ["--", "kubectl", "delete", "namespace", "shop"],
  },
  {
    name: "kubectl delete sts",
    config: "custom-policy",
    args: ["--", "kubectl", "delete", "sts", SIMULATED.primaryStatefulSet, "-n", "shop"],
  },
  {
    name: "kubectl delete pvc,sts by selector",
    config: "custom-policy",
    args: ["--", "kubectl", "delete", "pvc,sts", "-l", SIMULATED.postgresSelector, "-nshop"],
  },
  {
    name: "kubectl delete pv",
    config: "custom-policy",
    args: ["--", "kubectl", "delete", "pv", SIMULATED.primaryPv],
  },
  {
    name: "helm uninstall",
    config: "custom-policy",
    args: ["--", "helm", "uninstall", "postgresql", "-n", "shop"],
  },
  {
    name: "helm upgrade with a secret --set",
    config: "custom-policy",
    args: [
      "--",
      "helm",
      "upgrade",
      "postgresql",
      "bitnami/postgresql",
      "-n",
      "shop",
      "--set",
      "auth.postgresPassword=Hunter2Secret",
    ],
  },
  {
    name: "kubectl scale to zero",
    config: "custom-policy",
    args: ["--", "kubectl", "scale", "sts", SIMULATED.primaryStatefulSet, "--replicas=0", "-n", "shop"],
  },
  {
    name: "kubectl patch pv reclaim Delete",
    config: "default-policy",
    args: [
      "--",
      "kubectl",
      "patch",
      "pv",
      SIMULATED.primaryPv,
      "-p",
      '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}',
    ],
  },
  {
    name: "kubectl patch pv reclaim Retain",
    config: "custom-policy",
    args: [
      "--",
      "kubectl",
      "patch",
      "pv",
      SIMULATED.primaryPv,
      "-p",
      '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}',
    ],
  },
  {
    name: "kubectl drain",
    config: "custom-policy",
    args: ["--", "kubectl", "drain", SIMULATED.nodes[0] ?? "node-a", "--ignore-daemonsets"],
  },
  { name: "kubectl get (read)", config: "custom-policy", args: ["--", "kubectl", "get", "pvc", "-A"] },
  {
    name: "kubectl dry run",
    config: "custom-policy",
    args: ["--", "kubectl", "delete", "pvc", pvc, "-n", "shop", "--dry-run=client"],
  },
  { name: "unknown program", config: "custom-policy", args: ["--", "rm", "-rf", "/var/lib/postgresql"] },
  {
    name: "no lifeline.yaml: kubectl delete pvc",
    config: "no-config",
    args: ["--", "kubectl", "delete", "pvc", pvc, "-n", "shop"],
  },
  {
    name: "no lifeline.yaml: kubectl delete namespace",
    config: "no-config",
    args: ["--", "kubectl", "delete", "ns", "legacy"],
  },
];

const ASSETS = (url: string) => `assets:
  shop:
    url: ${url}
    tier: production
    rpo: 24h
    kubernetes:
      namespace: shop
      release: postgresql
  shop-staging:
    url: ${url}
    tier: staging
`;

const CUSTOM_POLICY = `policy:
  rules:
    - name: production-destructive
      match: { tier: production, dataLoss: [destructive, unknown] }
      require: { verifiedRestorePoint: rpo, approvals: 1 }
    - name: production-volumes
      match: { tier: production, dataLoss: recoverable, kind: [delete-pvc, delete-pv, delete-namespace, helm-uninstall] }
      require: { verifiedRestorePoint: rpo }
    - name: no-drop-database
      match: { kind: drop-database }
      deny: dropping a database is done by the platform team, not in a migration
    - name: unbound-destructive
      match: { tier: unbound, dataLoss: [destructive, unknown] }
      require: { approvals: 1 }
`;

interface Outcome {
  name: string;
  args: string[];
  code: number | null;
  plan: unknown;
}

/** Replaces what differs between runs (see above). */
function normalize(
  stdout: string,
  volatile: { database: string; clusterUrl: string },
): Record<string, unknown> {
  const numbers = new Map<string, string>();
  const text = stdout
    .replaceAll(volatile.database, "<database>")
    .replaceAll(volatile.clusterUrl, "<cluster>")
    .replace(/read [\d,]+ times \(table scans\)/g, "read <n> times (table scans)")
    .replace(/\b(oid|relfilenode|objid)=(\d+)/g, (_, key: string, n: string) => {
      if (!numbers.has(n)) numbers.set(n, `#${numbers.size + 1}`);
      return `${key}=${numbers.get(n)}`;
    });
  const doc = JSON.parse(text) as Record<string, unknown>;
  assert.equal(typeof doc.planningMs, "number");
  doc.planningMs = "<ms>";
  // A plan id hashes the identities of the objects: with OIDs in them, it differs between runs.
  if (numbers.size > 0) {
    assert.match(String(doc.planId), /^[0-9a-f]{64}$/);
    const id = String(doc.planId);
    return JSON.parse(
      JSON.stringify(doc).replaceAll(id, "<planId>").replaceAll(id.slice(0, 12), "<planId:12>"),
    ) as Record<string, unknown>;
  }
  return doc;
}

describe("plan --json snapshot: the demo's and the tests' cases give the same output", () => {
  let db: TestDatabase;
  let cluster: FakeCluster;
  const work = tempDir("lifeline-plan-snapshot-");
  const dirs: Record<Config, string> = {
    "default-policy": path.join(work.dir, "default-policy"),
    "custom-policy": path.join(work.dir, "custom-policy"),
    "no-config": path.join(work.dir, "no-config"),
  };
  const kubeconfig = path.join(work.dir, "kubeconfig");

  before(async () => {
    db = await createDatabase("lifeline_plan_snapshot");
    await query(db.url, SHOP_SCHEMA);
    // Settled statistics and visibility maps: row estimates and sizes do not move under the test.
    await query(db.url, "VACUUM ANALYZE");
    // Every table has been read: each plan names its readers (their count is normalized below, as
    // other plans running at the same time read tables too).
    for (const table of ["merchants", "products", "orders", "order_items"])
      await query(db.url, `SELECT count(*) FROM ${table}`);
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
    for (const dir of Object.values(dirs)) mkdirSync(dir);
    writeFileSync(path.join(dirs["default-policy"], "lifeline.yaml"), ASSETS(db.url));
    writeFileSync(path.join(dirs["custom-policy"], "lifeline.yaml"), ASSETS(db.url) + CUSTOM_POLICY);
    for (const dir of [dirs["default-policy"], dirs["custom-policy"]]) {
      // A fixed installation key: masked values (helm --set passwords) bind plan ids through a
      // keyed digest, so with a random key those ids would differ between runs.
      mkdirSync(path.join(dir, ".lifeline/state"), { recursive: true });
      writeFileSync(path.join(dir, ".lifeline/state/installation.key"), Buffer.alloc(32, 7), { mode: 0o600 });
      writeFileSync(
        path.join(dir, "0042_cleanup.sql"),
        "-- cleanup\nCREATE INDEX orders_at ON orders (created_at);\nDELETE FROM orders WHERE status = 'cancelled';\n",
      );
      writeFileSync(
        path.join(dir, "0043_psql.sql"),
        [
          "\\set ON_ERROR_STOP on",
          "\\echo 'migrating'",
          "\\timing on",
          "ALTER TABLE orders ALTER COLUMN customer_email TYPE varchar;",
          "CREATE VIEW recent_orders AS SELECT * FROM orders WHERE created_at > now() - interval '1 day';",
          "DELETE FROM orders WHERE status = 'cancelled';",
          "\\i 0044_more.sql",
          "UPDATE products SET stock = 0 WHERE id = 1;",
          "",
        ].join("\n"),
      );
    }
  });

  after(async () => {
    await cluster.close();
    await db.drop();
    work.remove();
  });

  const plan = (c: Case): Promise<CliResult> =>
    cli(["plan", "--json", ...c.args], { cwd: dirs[c.config], env: { KUBECONFIG: kubeconfig } });

  it("matches test/fixtures/plan-snapshot.json, and each plan id is stable", async () => {
    // A few CLI processes at a time: planning is read-only.
    const outcomes: Outcome[] = new Array<Outcome>(CASES.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < CASES.length; i = next++) {
        const c = CASES[i] as Case;
        const result = await plan(c);
        assert.ok(result.code === 0 || result.code === 3, `${c.name}: exit ${result.code}: ${result.stderr}`);
        assert.equal(result.stderr, "", c.name);
        const normalized = normalize(result.stdout, { database: db.name, clusterUrl: cluster.url });
        if (normalized.planId === "<planId>") {
          // Not in the snapshot: the same input planned again must give the same id.
          const again = await plan(c);
          assert.equal(again.code, result.code, c.name);
          assert.equal(
            (JSON.parse(again.stdout) as { planId: string }).planId,
            (JSON.parse(result.stdout) as { planId: string }).planId,
            `${c.name}: the same input planned twice gives the same id`,
          );
        }
        outcomes[i] = { name: c.name, args: c.args, code: result.code, plan: normalized };
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    assert.ok(
      outcomes.some((o) => (o.plan as { planId: string }).planId === "<planId>") &&
        outcomes.some((o) => /^[0-9a-f]{64}$/.test((o.plan as { planId: string }).planId)),
      "both kinds of plan ids are exercised",
    );
    if (process.env.LIFELINE_UPDATE_SNAPSHOT === "1") {
      // Written as prettier would (the format check covers test/fixtures/).
      const options = { ...(await prettier.resolveConfig(SNAPSHOT)), filepath: SNAPSHOT };
      writeFileSync(SNAPSHOT, await prettier.format(JSON.stringify(outcomes), options));
    }
    assert.ok(existsSync(SNAPSHOT), `${SNAPSHOT} is missing: LIFELINE_UPDATE_SNAPSHOT=1 writes it`);
    const expected = JSON.parse(readFileSync(SNAPSHOT, "utf8")) as Outcome[];
    assert.deepEqual(
      outcomes.map((o) => o.name),
      expected.map((o) => o.name),
    );
    for (const [i, outcome] of outcomes.entries()) assert.deepEqual(outcome, expected[i], outcome.name);
  });
});
