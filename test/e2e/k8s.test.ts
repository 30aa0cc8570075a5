import assert from "node:assert/strict";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import { cli } from "../support/cli.js";
import { expectedDigest } from "../support/repository.js";
import { SIMULATED, SIMULATED_TOKEN, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface PlanDoc {
  planId: string;
  asset: string | null;
  verdict: string;
  command: { kind: string; text: string };
  operations: { kind: string; dataLoss: string; target: string; reason: string; notes: string[] }[];
  dependents: { kind: string; name: string; on: string; how: string }[];
  recoverability: { restorePoint: { id: string } | null; summary: string };
  requirements: { kind: string; met: boolean; detail: string; fix: string | null }[];
}

/**
 * The incident lifeline comes from, end to end, with the built CLI as a process: a PostgreSQL
 * release on Kubernetes (the simulated cluster: an in-process fake of the API that
 * @kubernetes/client-node talks to over HTTP), whose database is the real PostgreSQL here.
 */
describe("lifeline plan -- kubectl/helm and lifeline k8s, run as a process", () => {
  let db: TestDatabase;
  let cluster: FakeCluster;
  const work = tempDir("lifeline-k8s-e2e-");
  const kubeconfig = path.join(work.dir, "kubeconfig");
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    cli(args, { cwd: work.dir, env: { KUBECONFIG: kubeconfig, ...env } });
  const pvcPlan = ["plan", "--json", "--", "kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"];

  before(async () => {
    db = await createDatabase("lifeline_k8s_e2e");
    await query(db.url, SHOP_SCHEMA);
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:
  shop:
    url: ${db.url}
    tier: production
    rpo: 24h
    kubernetes:
      namespace: shop
      release: postgresql
policy:
  rules:
    - name: production-destructive
      match: { tier: production, dataLoss: [destructive, unknown] }
      require: { verifiedRestorePoint: rpo, approvals: 1 }
    - name: production-volumes
      match: { tier: production, dataLoss: recoverable, kind: [delete-pvc, delete-pv, delete-namespace, helm-uninstall] }
      require: { verifiedRestorePoint: rpo }
    - name: unbound-destructive
      match: { tier: unbound, dataLoss: [destructive, unknown] }
      require: { approvals: 1 }
`,
    );
  });

  after(async () => {
    await cluster.close();
    await db.drop();
    work.remove();
  });

  it("the incident: require, naming the reclaim policy, the old unverified restore point and the dependents; protect + backup + drill make it recoverable", async () => {
    // An old restore point that nobody ever drilled.
    const backup = await run(["backup", "shop"]);
    assert.equal(backup.code, 0, backup.stderr);
    const rpDir = path.join(work.dir, ".lifeline/repository/restore-points/shop");
    const [id] = readdirSync(rpDir).filter((e) => !e.startsWith("."));
    const manifestFile = path.join(rpDir, id ?? "", "manifest.json");
    // Re-sealed with the manifest's digest (an unsealed edit makes the restore point damaged).
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Record<string, unknown>;
    manifest.snapshotTime = new Date(Date.now() - 3 * 86400_000).toISOString();
    manifest.digest = expectedDigest(manifest);
    writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + "\n");

    const first = await run(pvcPlan);
    assert.equal(first.code, 3, first.stderr);
    const doc = JSON.parse(first.stdout) as PlanDoc;
    assert.equal(doc.command.kind, "kubectl");
    assert.equal(doc.asset, "shop");
    assert.equal(doc.verdict, "require");
    const op = doc.operations[0]!;
    assert.equal(op.dataLoss, "destructive");
    assert.equal(op.target, `shop/${SIMULATED.primaryPvc}`);
    assert.match(op.reason, /reclaim policy Delete/);
    assert.match(doc.recoverability.summary, /no verified restore point of shop.*3d old, was never drilled/);
    const rp = doc.requirements.find((r) => r.kind === "verified-restore-point");
    assert.equal(rp?.met, false);
    assert.equal(rp?.fix, "lifeline backup shop && lifeline drill shop");
    const workloads = doc.dependents.filter((d) => d.kind !== "service" && !d.name.startsWith("shop/"));
    assert.deepEqual(workloads.map((d) => `${d.kind} ${d.name}`).sort(), [
      "cronjob marketing/nightly-export",
      "deployment feeds/feed-generator",
    ]);

    // The human output says the same in words.
    const human = await run(pvcPlan.filter((a) => a !== "--json"));
    assert.equal(human.code, 3);
    assert.match(human.stdout, /DESTRUCTIVE pvc shop\/data-postgresql-primary-0 \(8 GiB\)/);
    assert.match(human.stdout, /deployment feeds\/feed-generator → service shop\/postgresql-primary/);

    // protect refuses without a terminal and without --yes, and changes nothing.
    const refused = await run(["k8s", "protect", "shop"]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /no terminal to ask on/);
    assert.match(refused.stderr, /--yes/);
    assert.match(refused.stdout, new RegExp(`patch pv ${SIMULATED.primaryPv} .*Delete → Retain`));
    const untouched = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(untouched.spec?.persistentVolumeReclaimPolicy, "Delete");

    // --dry-run shows the same plan and says that nothing changed, and how to apply it.
    const dry = await run(["k8s", "protect", "shop", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`patch pv ${SIMULATED.primaryPv} .*Delete → Retain`));
    assert.match(dry.stdout, /DRY RUN: nothing changed; to apply: lifeline k8s protect shop --yes/);
    const stillDelete = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(stillDelete.spec?.persistentVolumeReclaimPolicy, "Delete");

    const protect = await run(["k8s", "protect", "shop", "--yes", "--json"]);
    assert.equal(protect.code, 0, protect.stderr);
    const protectDoc = JSON.parse(protect.stdout) as { applied: boolean; done: { volume: string }[] };
    assert.equal(protectDoc.applied, true);
    assert.equal(protectDoc.done.length, 2);
    const retained = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(retained.spec?.persistentVolumeReclaimPolicy, "Retain");

    assert.equal((await run(["backup", "shop"])).code, 0);
    const drill = await run(["drill", "shop"]);
    assert.equal(drill.code, 0, drill.stderr);

    const second = await run(pvcPlan);
    const after = JSON.parse(second.stdout) as PlanDoc;
    assert.equal(after.operations[0]?.dataLoss, "recoverable");
    assert.equal(after.requirements.find((r) => r.kind === "verified-restore-point")?.met, true);
    assert.equal(after.verdict, "allow");
    assert.equal(second.code, 0, second.stdout);
    assert.notEqual(after.planId, doc.planId);

    // Undo puts back exactly what protect changed.
    const undo = await run(["k8s", "protect", "shop", "--undo", "--yes"]);
    assert.equal(undo.code, 0, undo.stderr);
    const back = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(back.spec?.persistentVolumeReclaimPolicy, "Delete");
  });

  it("helm uninstall, selectors, namespaces: the same plan format and exit codes", async () => {
    const helm = await run(["plan", "--json", "--", "helm", "uninstall", "postgresql", "-n", "shop"]);
    assert.equal(helm.code, 3, helm.stderr);
    const h = JSON.parse(helm.stdout) as PlanDoc;
    assert.equal(h.operations[0]?.kind, "helm-uninstall");
    assert.ok(
      h.operations[0]?.notes.some((n) =>
        n.includes("helm does not delete claims created from volumeClaimTemplates"),
      ),
    );

    const sel = await run([
      "plan",
      "--json",
      "--",
      "kubectl",
      "delete",
      "pvc,sts",
      "-l",
      "app.kubernetes.io/instance=postgresql",
      "-nshop",
    ]);
    const s = JSON.parse(sel.stdout) as PlanDoc;
    assert.equal(s.operations.length, 4);

    const read = await run(["plan", "--", "kubectl", "get", "pvc", "-A"]);
    assert.equal(read.code, 0, read.stdout);
    assert.match(read.stdout, /ALLOW/);
  });

  it("fails closed when the cluster cannot be reached; usage errors are clear; secrets stay out", async () => {
    const down = path.join(work.dir, "down.kubeconfig");
    writeFileSync(down, readFileSync(kubeconfig, "utf8").replace(cluster.url, "http://127.0.0.1:9"));
    const result = await run(["plan", "--", "kubectl", "delete", "pvc", "x", "-n", "shop"], {
      KUBECONFIG: down,
    });
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stdout, /cannot reach the Kubernetes API of context "simulated"/);
    assert.doesNotMatch(result.stdout + result.stderr, new RegExp(SIMULATED_TOKEN));

    const missing = await run(["plan", "--", "kubectl", "delete", "pvc", "x"], {
      KUBECONFIG: path.join(work.dir, "nope"),
    });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no kubeconfig/);
    assert.doesNotMatch(missing.stderr, /at .*\.js:\d+/, "no stack trace");

    const both = await run([
      "plan",
      "shop",
      "--sql",
      "DROP TABLE orders",
      "--",
      "kubectl",
      "delete",
      "ns",
      "shop",
    ]);
    assert.equal(both.code, 2);

    const secret = await run([
      "plan",
      "--json",
      "--",
      "helm",
      "upgrade",
      "postgresql",
      "bitnami/postgresql",
      "-n",
      "shop",
      "--set",
      "auth.postgresPassword=Hunter2Secret",
    ]);
    assert.equal(secret.code, 3);
    assert.doesNotMatch(secret.stdout + secret.stderr, /Hunter2Secret/);
    assert.equal((JSON.parse(secret.stdout) as PlanDoc).operations[0]?.dataLoss, "unknown");
  });

  it("k8s scan: findings per namespace, JSON, exit 4 on high findings", async () => {
    const result = await run(["k8s", "scan", "--json"]);
    assert.equal(result.code, 4, result.stderr);
    const doc = JSON.parse(result.stdout) as {
      findings: { code: string; namespace: string | null; message: string; asset: string | null }[];
    };
    assert.ok(doc.findings.some((f) => f.code === "reclaim-delete" && f.asset === "shop"));
    assert.ok(doc.findings.some((f) => f.code === "orphaned-claims" && f.message.includes("legacy-redis")));
    const human = await run(["k8s", "scan", "-n", "shop"]);
    assert.match(human.stdout, /^shop$/m);
    assert.match(human.stdout, /HIGH +PV .* reclaims with Delete/);
  });

  it("every new command has --help with an example", async () => {
    for (const args of [
      ["plan", "--help"],
      ["k8s", "scan", "--help"],
      ["k8s", "protect", "--help"],
    ]) {
      const result = await run(args);
      assert.equal(result.code, 0);
      assert.match(result.stdout, /Example/);
    }
  });
});
