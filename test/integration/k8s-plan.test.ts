import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { planCommand } from "../../src/app/plan-command.js";
import { applyProtect, planProtect, scan } from "../../src/app/k8s.js";
import { unprotect } from "../../src/app/k8s-unprotect.js";
import type { GateDeps } from "../../src/app/gate.js";
import { openCatalog } from "../../src/catalog/index.js";
import { DEFAULT_POLICY } from "../../src/core/plan/policy.js";
import { KubernetesCluster } from "../../src/kubernetes/cluster.js";
import { readManifests } from "../../src/kubernetes/manifests.js";
import type { ResolvedAsset } from "../../src/config/load.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";

/**
 * The kubernetes adapter (@kubernetes/client-node 1.x over real HTTP) against the simulated
 * cluster, and command plans on top of it. No restore points here (no ctx): see the e2e scenario.
 */
let cluster: FakeCluster;
let dir: string;
let kubeconfig: string;

const shop: ResolvedAsset = {
  name: "shop",
  engine: "postgres",
  url: "postgres://127.0.0.1:5432/unused",
  tier: "production",
  rpoSeconds: 86400,
  scratch: "embedded",
  drillJobs: 1,
  kubernetes: { namespace: "shop", release: "postgresql", pvcSelector: null, context: null },
};

const settings = () => ({ kubeconfig, context: null, clusterDomain: "cluster.local" });
const deps = () => ({
  ctx: null,
  cluster: (s: { kubeconfig: string | null; context: string | null }) => new KubernetesCluster(s, {}),
  readManifests: (files: readonly string[], recursive: boolean) => readManifests(files, recursive, dir),
  signal: new AbortController().signal,
  stateDir: path.join(dir, "state"),
});

/** The gate on a SQLite catalog of this test's directory, as "alice". */
async function withGate<T>(fn: (gate: GateDeps) => Promise<T>): Promise<T> {
  const catalog = await openCatalog(path.join(dir, "catalog.db"));
  try {
    return await fn({
      catalog,
      identity: { id: "alice", source: "env", host: "test", authenticated: false },
      clock: { now: () => new Date() },
      notify: async () => [],
      warn: () => {},
    });
  } finally {
    await catalog.close();
  }
}

const undoRequest = (asset: ResolvedAsset) => ({
  assets: [asset],
  kubernetes: settings(),
  asset: asset.name,
  policy: DEFAULT_POLICY,
  dryRun: false,
  document: () => ({}),
});

function plan(argv: string[], assets: ResolvedAsset[] = [shop]) {
  return planCommand(deps(), argv, { assets, policy: DEFAULT_POLICY, kubernetes: settings() });
}

before(async () => {
  cluster = await startFakeCluster();
  dir = await mkdtemp(path.join(os.tmpdir(), "lifeline-k8s-"));
  kubeconfig = path.join(dir, "kubeconfig");
  await writeFile(kubeconfig, cluster.kubeconfig, { mode: 0o600 });
});

after(async () => {
  await cluster.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => cluster.reset());

describe("the kubernetes adapter", () => {
  it("reads the cluster into an inventory: claims, volumes, Helm releases decoded, snapshots", async () => {
    const c = new KubernetesCluster({ kubeconfig, context: null }, {});
    assert.equal(c.context, SIMULATED.context);
    const inv = await c.inventory(new AbortController().signal);
    assert.deepEqual(inv.gaps, []);
    const pvc = inv.claims.find((x) => x.name === SIMULATED.primaryPvc);
    assert.equal(pvc?.volumeName, SIMULATED.primaryPv);
    assert.equal(pvc?.bytes, 8 * 2 ** 30);
    const pv = inv.volumes.find((v) => v.name === SIMULATED.primaryPv);
    assert.equal(pv?.reclaimPolicy, "Delete");
    assert.match(pv?.source ?? "", /^csi ebs\.csi\.aws\.com /);
    const rel = inv.releases.filter((r) => r.name === "postgresql").map((r) => `${r.revision}:${r.status}`);
    assert.deepEqual(rel, ["1:superseded", "2:deployed"]);
    const current = inv.releases.find((r) => r.name === "postgresql" && r.revision === 2);
    assert.equal(current?.chart, "postgresql");
    assert.equal(current?.chartVersion, "12.12.10");
    assert.ok(
      current?.resources.some((r) => r.kind === "StatefulSet" && r.name === SIMULATED.primaryStatefulSet),
    );
    assert.ok(
      !current?.resources.some((r) => r.kind === "PersistentVolumeClaim"),
      "template claims are not in the manifest",
    );
    assert.ok(inv.snapshots.some((s) => s.ready && s.claim === "datadir-mongodb-0"));
    const sts = inv.workloads.find((w) => w.name === SIMULATED.primaryStatefulSet);
    assert.deepEqual(sts?.claimTemplates, ["data"]);
    assert.deepEqual(sts?.retention, { whenDeleted: "Retain", whenScaled: "Retain" });
    // Helm records are decoded, not kept as searchable data.
    const record = inv.configs.find((x) => x.name === "sh.helm.release.v1.postgresql.v2");
    assert.deepEqual(record?.data, {});
  });

  it("says clearly when the kubeconfig or the context is missing", async () => {
    assert.throws(
      () => new KubernetesCluster({ kubeconfig: path.join(dir, "nope"), context: null }, {}),
      /kubeconfig .*nope does not exist/,
    );
    assert.throws(
      () => new KubernetesCluster({ kubeconfig, context: "prod" }, {}),
      /context "prod" is not in the kubeconfig/,
    );
    assert.throws(
      () =>
        new KubernetesCluster({ kubeconfig: null, context: null }, { KUBECONFIG: path.join(dir, "missing") }),
      /no kubeconfig/,
    );
  });
});

describe("plan -- kubectl / helm", () => {
  it("kubectl delete pvc: destructive (reclaim Delete), the volume, the dependents, the asset", async () => {
    const p = await plan(["kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"]);
    assert.equal(p.command.kind, "kubectl");
    assert.equal(p.asset, "shop");
    const op = p.operations[0]!;
    assert.equal(op.dataLoss, "destructive");
    assert.match(op.reason, /reclaim policy Delete/);
    assert.equal(op.cascade[0]?.name, SIMULATED.primaryPv);
    const names = p.dependents.map((d) => d.name);
    assert.ok(names.includes("feeds/feed-generator"), names.join(", "));
    assert.ok(names.includes("marketing/nightly-export"), names.join(", "));
    assert.ok(names.includes("shop/postgresql-primary"), "the service selecting the pod");
    assert.equal(p.verdict, "require");
    assert.ok(p.requirements.some((r) => r.kind === "approvals" && !r.met));
  });

  it("the plan id is stable, and changes when the volume's reclaim policy changes", async () => {
    const argv = ["kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"];
    const a = await plan(argv);
    const b = await plan(["kubectl", "delete", "-nshop", `pvc/${SIMULATED.primaryPvc}`]);
    assert.equal(a.planId, b.planId, "same command in another spelling, same cluster: same plan");
    await cluster.core.patchPersistentVolume({
      name: SIMULATED.primaryPv,
      body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Retain" }],
    });
    const c = await plan(argv);
    assert.notEqual(a.planId, c.planId);
    assert.equal(c.operations[0]?.dataLoss, "recoverable");
  });

  it("selectors across kinds, namespaces, helm uninstall, and -f manifests", async () => {
    const sel = await plan([
      "kubectl",
      "delete",
      "pvc,sts",
      "-l",
      "app.kubernetes.io/instance=postgresql",
      "-nshop",
    ]);
    assert.deepEqual(sel.operations.map((o) => o.resolved?.name).sort(), [
      "shop/data-postgresql-primary-0",
      "shop/data-postgresql-read-0",
      "shop/postgresql-primary",
      "shop/postgresql-read",
    ]);
    const ns = await plan(["kubectl", "delete", "namespace", "shop"]);
    const claims = ns.operations[0]!.cascade.filter((c) => c.type === "pvc").map((c) => c.name);
    assert.ok(
      claims.includes("shop/datadir-mongodb-0") && claims.includes("shop/data-legacy-redis-master-0"),
    );
    assert.equal(ns.operations[0]!.dataLoss, "destructive");
    const helm = await plan(["helm", "uninstall", "postgresql", "-n", "shop"]);
    assert.ok(helm.operations[0]!.notes[0]?.includes("stay: helm does not delete claims"));
    const manifest = path.join(dir, "pvc.yaml");
    await writeFile(
      manifest,
      `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: ${SIMULATED.primaryPvc}\n  namespace: shop\n`,
    );
    const fromFile = await plan(["kubectl", "delete", "-f", "pvc.yaml"]);
    assert.equal(fromFile.operations[0]!.dataLoss, "destructive");
  });

  it("a ready VolumeSnapshot makes the MongoDB claim recoverable; the other one is not", async () => {
    const p = await plan([
      "kubectl",
      "delete",
      "pvc",
      "datadir-mongodb-0",
      "datadir-mongodb-1",
      "-n",
      "shop",
    ]);
    assert.deepEqual(
      p.operations.map((o) => o.dataLoss),
      ["recoverable", "destructive"],
    );
    assert.equal(p.asset, null, "mongodb is not an asset");
    assert.ok(
      p.requirements.some((r) => r.kind === "approvals"),
      "unbound destructive data needs an approval",
    );
  });

  it("fails closed when a resource cannot be read, and when the cluster cannot be reached", async () => {
    const lift = cluster.server.forbid("/api/v1/persistentvolumes");
    const p = await plan(["kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"]);
    lift();
    assert.equal(p.operations[0]!.dataLoss, "unknown");
    const view = p.requirements.find((r) => r.kind === "complete-view");
    assert.equal(view?.met, false);
    assert.match(view?.detail ?? "", /persistentvolumes.*forbidden/);
    assert.notEqual(p.verdict, "allow");
    // Even for a tier whose policy would allow anything.
    const dev = { ...shop, tier: "development" };
    const down = path.join(dir, "down.kubeconfig");
    await writeFile(down, cluster.kubeconfig.replace(cluster.url, "http://127.0.0.1:9"));
    const unreachable = await planCommand(deps(), ["kubectl", "delete", "pvc", "x", "-n", "shop"], {
      assets: [dev],
      policy: DEFAULT_POLICY,
      kubernetes: { ...settings(), kubeconfig: down },
    });
    assert.equal(unreachable.verdict, "require");
    assert.match(
      unreachable.requirements.find((r) => r.kind === "complete-view")?.detail ?? "",
      /cannot reach the Kubernetes API/,
    );
  });

  it("planning changes nothing in the cluster", async () => {
    const before = cluster.server.resourceVersion;
    await plan(["kubectl", "delete", "namespace", "shop"]);
    await plan(["helm", "uninstall", "postgresql", "mongodb", "-n", "shop"]);
    assert.equal(cluster.server.resourceVersion, before);
    assert.equal(cluster.server.requests.filter((r) => r.method !== "GET").length, 0);
  });
});

describe("k8s scan and protect", () => {
  it("scan reports the Delete volumes, the leftover claims, per namespace", async () => {
    const result = await scan(deps(), { assets: [shop], kubernetes: settings(), namespace: null });
    const messages = result.findings.map((f) => f.message);
    assert.ok(
      messages.some((m) =>
        m.startsWith(
          `PV ${SIMULATED.primaryPv} bound to ${SIMULATED.primaryPvc} (asset shop) reclaims with Delete`,
        ),
      ),
      messages.join("\n"),
    );
    assert.ok(
      messages.some((m) => m.startsWith("PVCs left by uninstalled release legacy-redis")),
      messages.join("\n"),
    );
  });

  it("protect patches the asset's volumes to Retain, records them, and --undo puts them back through the gate", async () => {
    const d = deps();
    const { plan: p, cluster: c } = await planProtect(d, {
      assets: [shop],
      kubernetes: settings(),
      asset: "shop",
      undo: false,
    });
    assert.deepEqual(p.changes.map((x) => x.volume).sort(), [SIMULATED.primaryPv, SIMULATED.readPv].sort());
    await applyProtect(d, p, c);
    const pv = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Retain");
    const again = await planProtect(d, {
      assets: [shop],
      kubernetes: settings(),
      asset: "shop",
      undo: false,
    });
    assert.equal(again.plan.changes.length, 0);
    // Someone sets one volume back by hand: undo leaves that one alone.
    await cluster.core.patchPersistentVolume({
      name: SIMULATED.readPv,
      body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Delete" }],
    });
    // A staging asset: the policy allows removing its protection without an approval.
    const staging = { ...shop, tier: "staging" };
    const undo = await withGate((gate) => unprotect({ k8s: d, plan: d, gate }, undoRequest(staging)));
    assert.equal(undo.status, "executed");
    assert.deepEqual(
      undo.protect.changes.map((x) => `${x.volume}:${x.from}->${x.to}`),
      [`${SIMULATED.primaryPv}:Retain->Delete`],
    );
    assert.equal(undo.volumes[0]?.outcome?.plan.operations[0]?.kind, "patch-pv-reclaim-policy-delete");
    const back = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(back.spec?.persistentVolumeReclaimPolicy, "Delete");
  });

  it("protect --undo of a production asset is blocked without an approval, and changes nothing", async () => {
    const d = deps();
    const { plan: p, cluster: c } = await planProtect(d, {
      assets: [shop],
      kubernetes: settings(),
      asset: "shop",
      undo: false,
    });
    await applyProtect(d, p, c);
    const undo = await withGate((gate) => unprotect({ k8s: d, plan: d, gate }, undoRequest(shop)));
    assert.equal(undo.status, "blocked");
    assert.deepEqual(undo.done, []);
    assert.deepEqual(
      undo.volumes.map((v) => v.outcome?.status),
      ["blocked", "blocked"],
    );
    for (const name of [SIMULATED.primaryPv, SIMULATED.readPv]) {
      const pv = await cluster.core.readPersistentVolume({ name });
      assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Retain", name);
    }
    // Nor can the old direct path put a volume back.
    const direct = await planProtect(d, {
      assets: [shop],
      kubernetes: settings(),
      asset: "shop",
      undo: true,
    });
    await assert.rejects(applyProtect(d, direct.plan, direct.cluster), /goes through the gate/);
    const pv = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Retain");
  });

  it("protect --undo never sets Delete on a volume whose claim is gone (that would delete it at once)", async () => {
    const d = deps();
    const { plan: p, cluster: c } = await planProtect(d, {
      assets: [shop],
      kubernetes: settings(),
      asset: "shop",
      undo: false,
    });
    await applyProtect(d, p, c);
    await cluster.core.deleteNamespacedPersistentVolumeClaim({ name: SIMULATED.readPvc, namespace: "shop" });
    const staging = { ...shop, tier: "staging" };
    const undo = await withGate((gate) => unprotect({ k8s: d, plan: d, gate }, undoRequest(staging)));
    assert.equal(undo.status, "executed");
    assert.deepEqual(
      undo.done.map((x) => x.volume),
      [SIMULATED.primaryPv],
    );
    assert.match(
      undo.protect.kept.find((k) => k.volume === SIMULATED.readPv)?.why ?? "",
      /claim .* is gone .* would delete the data at once/,
    );
    assert.equal(
      (await cluster.core.readPersistentVolume({ name: SIMULATED.readPv })).status?.phase,
      "Released",
    );
  });

  it("a Released volume is attributed to the asset of its gone claim, and judged at least as strictly", async () => {
    const d = deps();
    const { plan: p, cluster: c } = await planProtect(d, {
      assets: [shop],
      kubernetes: settings(),
      asset: "shop",
      undo: false,
    });
    await applyProtect(d, p, c);
    await cluster.core.deleteNamespacedPersistentVolumeClaim({ name: SIMULATED.readPvc, namespace: "shop" });
    const released = await plan([
      "kubectl",
      "patch",
      "pv",
      SIMULATED.readPv,
      "-p",
      '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}',
    ]);
    assert.equal(released.operations[0]?.dataLoss, "destructive");
    assert.deepEqual(
      released.assets.map((a) => a.name),
      ["shop"],
    );
    assert.equal(released.unbound, true, "still judged as data no asset is bound to");
    assert.equal(released.verdict, "require");
    assert.deepEqual(released.requirements.map((r) => r.kind).sort(), [
      "approvals",
      "verified-restore-point",
    ]);
    assert.ok(released.operations[0]?.notes.some((n) => n.includes("is released")));
  });

  it("protect does not overwrite a policy changed since its plan", async () => {
    const d = deps();
    const { plan: p, cluster: c } = await planProtect(d, {
      assets: [shop],
      kubernetes: settings(),
      asset: "shop",
      undo: false,
    });
    await cluster.core.patchPersistentVolume({
      name: p.changes[0]!.volume,
      body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Recycle" }],
    });
    await assert.rejects(applyProtect(d, p, c), /no longer Delete/);
  });
});
