import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCommand } from "../../src/core/kubernetes/command/index.js";
import { analyzeCommand } from "../../src/core/kubernetes/analyze.js";
import type { AssetBinding } from "../../src/core/kubernetes/binding.js";
import { protectionChanges, scanInventory } from "../../src/core/kubernetes/scan.js";
import { matchesSelector, parseSelector } from "../../src/core/kubernetes/selector.js";
import { quantityBytes } from "../../src/core/kubernetes/inventory.js";
import { InventoryBuilder, container } from "../support/inventory.js";

const shopBinding: AssetBinding = {
  asset: "shop",
  namespace: "shop",
  release: "postgresql",
  pvcSelector: null,
};
const pgLabels = { "app.kubernetes.io/instance": "postgresql", "app.kubernetes.io/name": "postgresql" };

/** The incident, small: a database StatefulSet on a Delete volume and two workloads that use it. */
function incident(reclaim = "Delete") {
  const b = new InventoryBuilder();
  b.namespace("shop").namespace("feeds").namespace("marketing");
  b.storageClass("standard", "Delete", true);
  const db = b.statefulSet("shop", "postgresql", {
    claimTemplate: "data",
    labels: pgLabels,
    reclaim,
    serviceName: "postgresql-hl",
  });
  b.service("shop", "postgresql", pgLabels);
  b.service("shop", "postgresql-hl", pgLabels, true);
  b.deployment("feeds", "feed-generator", [
    container("feed", { DATABASE_URL: "postgres://feed@postgresql.shop.svc.cluster.local:5432/shop" }),
  ]);
  b.config("ConfigMap", "marketing", "export-db", { PGHOST: "postgresql.shop.svc" });
  b.cronJob("marketing", "nightly-export", [
    { ...container("export"), envFrom: [{ kind: "configMap", name: "export-db" }] },
  ]);
  // Same bare name in another namespace does not resolve to shop's service: not a dependent.
  b.deployment("other", "lookalike", [container("x", { DB_HOST: "postgresql" })]);
  b.release("shop", "postgresql", 1, [
    { kind: "StatefulSet", name: "postgresql", namespace: null },
    { kind: "Service", name: "postgresql", namespace: null },
    { kind: "Service", name: "postgresql-hl", namespace: null },
    { kind: "Secret", name: "postgresql", namespace: null },
  ]);
  b.config("Secret", "shop", "postgresql", { "postgres-password": "s3cr3t-value" }, pgLabels);
  return { b, db };
}

function plan(argv: string, b: InventoryBuilder, bindings: AssetBinding[] = [shopBinding]) {
  return analyzeCommand(parseCommand(argv.split(" ")), b.inv, { bindings });
}

describe("kubectl delete pvc", () => {
  it("is destructive when the volume reclaims with Delete and no snapshot is ready; lists the volume and the dependents", () => {
    const { b } = incident();
    const a = plan("kubectl delete pvc data-postgresql-0 -n shop", b);
    assert.equal(a.operations.length, 1);
    const op = a.operations[0]!;
    assert.equal(op.kind, "delete-pvc");
    assert.equal(op.dataLoss, "destructive");
    assert.match(op.reason, /reclaim policy Delete/);
    assert.equal(op.resolved?.name, "shop/data-postgresql-0");
    assert.equal(op.cascade[0]?.type, "pv");
    assert.equal(op.cascade[0]?.name, "pvc-data-postgresql-0");
    assert.ok(
      op.notes.some((n) => /new, empty volume/.test(n)),
      op.notes.join("\n"),
    );
    assert.deepEqual(a.assets, { shop: [0] });
    const names = a.dependents.map((d) => `${d.kind} ${d.name}`);
    assert.ok(names.includes("deployment feeds/feed-generator"), names.join(", "));
    assert.ok(names.includes("cronjob marketing/nightly-export"), names.join(", "));
    assert.ok(
      !names.includes("deployment other/lookalike"),
      "bare service names only resolve in their own namespace",
    );
    const cron = a.dependents.find((d) => d.name === "marketing/nightly-export");
    assert.match(
      cron?.how ?? "",
      /ConfigMap marketing\/export-db key PGHOST \(envFrom\) names postgresql\.shop\.svc/,
    );
  });

  it("the same workloads with another list of configs (an informer event) are read anew, not remembered", () => {
    const { b } = incident();
    const dependents = () =>
      plan("kubectl delete pvc data-postgresql-0 -n shop", b).dependents.map((d) => d.name);
    assert.ok(dependents().includes("marketing/nightly-export"));
    assert.ok(dependents().includes("marketing/nightly-export"));
    b.inv.configs = b.inv.configs.map((c) =>
      c.name === "export-db" ? { ...c, data: { PGHOST: "elsewhere.example.com" } } : c,
    );
    assert.ok(!dependents().includes("marketing/nightly-export"));
  });

  it("is recoverable with reclaim policy Retain, and says how to rebind", () => {
    const { b } = incident("Retain");
    const op = plan("kubectl delete pvc data-postgresql-0 -n shop", b).operations[0]!;
    assert.equal(op.dataLoss, "recoverable");
    assert.ok(op.notes.some((n) => n.includes("spec.volumeName: pvc-data-postgresql-0")));
  });

  it("is recoverable when a ready VolumeSnapshot of the claim exists, not when it is not ready", () => {
    const { b } = incident();
    b.snapshot("shop", "snap-1", "data-postgresql-0", false);
    assert.equal(
      plan("kubectl delete pvc data-postgresql-0 -n shop", b).operations[0]!.dataLoss,
      "destructive",
    );
    b.snapshot("shop", "snap-2", "data-postgresql-0", true);
    const op = plan("kubectl delete pvc data-postgresql-0 -n shop", b).operations[0]!;
    assert.equal(op.dataLoss, "recoverable");
    assert.match(op.reason, /snap-2/);
  });

  it("fails closed when volumes could not be read", () => {
    const { b } = incident();
    b.inv.volumes = [];
    b.inv.gaps.push({
      resource: "persistentvolumes",
      namespace: null,
      reason: "forbidden (403)",
      required: true,
    });
    const a = plan("kubectl delete pvc data-postgresql-0 -n shop", b);
    assert.equal(a.operations[0]!.dataLoss, "unknown");
    assert.ok(a.gaps.some((g) => g.includes("forbidden")));
  });

  it("says a missing claim changes nothing, and --ignore-not-found too", () => {
    const { b } = incident();
    const op = plan("kubectl delete pvc nope -n shop", b).operations[0]!;
    assert.equal(op.dataLoss, "none");
    assert.match(op.reason, /does not exist/);
  });

  it("expands selectors and resource lists: pvc,sts -l", () => {
    const { b } = incident();
    const a = plan("kubectl delete pvc,sts -l app.kubernetes.io/instance=postgresql -nshop", b);
    assert.deepEqual(
      a.operations.map((o) => `${o.kind} ${o.resolved?.name}`),
      ["delete-pvc shop/data-postgresql-0", "delete-statefulset shop/postgresql"],
    );
    // The StatefulSet keeps its claims, but the claim itself is deleted by the same command.
    assert.equal(a.operations[1]!.dataLoss, "recoverable");
  });

  it("an unbound claim is reported as not covered by any asset", () => {
    const { b } = incident();
    b.claim("shop", "scratch", { labels: { "app.kubernetes.io/instance": "other" } });
    const a = plan("kubectl delete pvc scratch -n shop", b);
    assert.deepEqual(a.unbound, [0]);
    assert.deepEqual(a.assets, {});
    assert.ok(
      a.operations[0]!.notes.some((n) => n.includes("no asset in lifeline.yaml covers pvc shop/scratch")),
    );
  });
});

describe("other kubectl commands", () => {
  it("deleting a StatefulSet leaves its claims unless its retention policy deletes them", () => {
    const { b } = incident();
    let op = plan("kubectl delete sts postgresql -n shop", b).operations[0]!;
    assert.equal(op.dataLoss, "recoverable");
    assert.ok(op.notes.some((n) => n.startsWith("claims data-postgresql-0 stay")));
    b.inv.workloads[0]!.retention = { whenDeleted: "Delete", whenScaled: "Retain" };
    op = plan("kubectl delete sts postgresql -n shop", b).operations[0]!;
    assert.equal(op.dataLoss, "destructive");
    assert.ok(op.cascade.some((c) => c.type === "pvc" && c.name === "shop/data-postgresql-0"));
  });

  it("namespace deletion takes every claim in it, decided once", () => {
    const { b } = incident();
    b.claim("shop", "uploads", { reclaim: "Retain" });
    const a = plan("kubectl delete namespace shop", b);
    assert.equal(a.operations.length, 1);
    const op = a.operations[0]!;
    assert.equal(op.dataLoss, "destructive");
    const claims = op.cascade.filter((c) => c.type === "pvc").map((c) => `${c.name}:${c.dataLoss}`);
    assert.deepEqual(claims.sort(), ["shop/data-postgresql-0:destructive", "shop/uploads:recoverable"]);
    assert.ok(op.cascade.some((c) => c.type === "statefulset"));
    assert.deepEqual(a.assets, { shop: [0] });
  });

  it("scale to zero stops pods; whenScaled Delete deletes the claims", () => {
    const { b } = incident();
    const op = plan("kubectl scale sts postgresql --replicas=0 -n shop", b).operations[0]!;
    assert.equal(op.dataLoss, "recoverable");
    b.inv.workloads[0]!.retention = { whenDeleted: "Retain", whenScaled: "Delete" };
    assert.equal(
      plan("kubectl scale sts postgresql --replicas=0 -n shop", b).operations[0]!.dataLoss,
      "destructive",
    );
    assert.equal(
      plan("kubectl scale sts postgresql --replicas=3 -n shop", b).operations[0]!.dataLoss,
      "none",
    );
  });

  it("patching a volume to Retain protects; to Delete warns; other patches are unknown", () => {
    const { b } = incident();
    const retain = analyzeCommand(
      parseCommand([
        "kubectl",
        "patch",
        "pv",
        "pvc-data-postgresql-0",
        "-p",
        '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}',
      ]),
      b.inv,
      { bindings: [shopBinding] },
    ).operations[0]!;
    assert.equal(retain.dataLoss, "none");
    assert.match(retain.reason, /protects/);
    const other = analyzeCommand(
      parseCommand([
        "kubectl",
        "patch",
        "pv",
        "pvc-data-postgresql-0",
        "-p",
        '{"spec":{"capacity":{"storage":"1Gi"}}}',
      ]),
      b.inv,
      { bindings: [shopBinding] },
    ).operations[0]!;
    assert.equal(other.dataLoss, "unknown");
  });

  it("dry runs and reads change nothing; unmodelled verbs are unknown", () => {
    const { b } = incident();
    assert.equal(
      plan("kubectl delete pvc data-postgresql-0 -n shop --dry-run=server", b).operations[0]!.dataLoss,
      "none",
    );
    assert.equal(plan("kubectl get pvc -n shop", b).operations[0]!.dataLoss, "none");
    assert.equal(plan("kubectl apply -f x.yaml", b).operations[0]!.dataLoss, "unknown");
    assert.equal(plan("rm -rf /var/lib/postgresql", b).operations[0]!.dataLoss, "unknown");
  });

  it("deleting a secret no release renders is destructive; one a release renders is recoverable", () => {
    const { b } = incident();
    b.config("Secret", "feeds", "feed-db", { password: "x" });
    const lone = plan("kubectl delete secret feed-db -n feeds", b).operations[0]!;
    assert.equal(lone.dataLoss, "destructive");
    const rendered = plan("kubectl delete secret postgresql -n shop", b).operations[0]!;
    assert.equal(rendered.dataLoss, "recoverable");
  });
});

describe("helm", () => {
  it("uninstall leaves the claims created from volumeClaimTemplates and warns about credentials", () => {
    const { b } = incident();
    const a = plan("helm uninstall postgresql -n shop", b);
    const op = a.operations[0]!;
    assert.equal(op.kind, "helm-uninstall");
    assert.ok(op.notes[0]?.startsWith("claims data-postgresql-0 stay"), op.notes.join("\n"));
    assert.ok(op.notes.some((n) => n.includes("kubectl get secret postgresql -n shop -o yaml")));
    assert.ok(!op.cascade.some((c) => c.type === "pvc"), "helm does not delete template claims");
    assert.deepEqual(a.assets, { shop: [0] });
  });

  it("upgrade is unknown (charts are not rendered) and names the credential trap", () => {
    const { b } = incident();
    const op = plan("helm upgrade postgresql bitnami/postgresql -n shop --set auth.postgresPassword=new", b)
      .operations[0]!;
    assert.equal(op.dataLoss, "unknown");
    assert.ok(
      op.notes.some((n) => /auth\.postgresPassword change credentials/.test(n)),
      op.notes.join("\n"),
    );
    assert.ok(!JSON.stringify(op).includes("=new"), "the new password is not in the plan");
  });

  it("rollback deletes what only the current revision has", () => {
    const { b } = incident();
    b.inv.releases[0]!.status = "superseded";
    b.release("shop", "postgresql", 2, [
      ...b.inv.releases[0]!.resources,
      { kind: "PersistentVolumeClaim", name: "data-postgresql-0", namespace: null },
    ]);
    const op = plan("helm rollback postgresql 1 -n shop", b).operations[0]!;
    assert.equal(op.dataLoss, "destructive");
    assert.match(op.reason, /1 resource\(s\) only in revision 2/);
  });
});

describe("secrets in plans", () => {
  it("never carries secret values, even when a dependent is found through a secret", () => {
    const { b } = incident();
    b.config("Secret", "feeds", "db-url", { url: "postgres://u:hunter2@postgresql.shop.svc:5432/shop" });
    b.deployment("feeds", "reader", [{ ...container("r"), envFrom: [{ kind: "secret", name: "db-url" }] }]);
    const a = plan("kubectl delete pvc data-postgresql-0 -n shop", b);
    const text = JSON.stringify(a);
    assert.ok(a.dependents.some((d) => d.name === "feeds/reader"));
    assert.ok(!text.includes("hunter2") && !text.includes("s3cr3t-value"));
  });
});

describe("scan and protect", () => {
  it("finds Delete volumes, claims left by uninstalled releases, and empty bindings", () => {
    const { b } = incident();
    b.claim("shop", "data-legacy-redis-master-0", {
      labels: { "app.kubernetes.io/instance": "legacy-redis" },
    });
    const findings = scanInventory(
      b.inv,
      [shopBinding, { asset: "ghost", namespace: "shop", release: "nope", pvcSelector: null }],
      null,
    );
    const codes = findings.map((f) => f.code);
    assert.ok(codes.includes("reclaim-delete"));
    assert.ok(codes.includes("orphaned-claims"));
    assert.ok(codes.includes("binding-empty"));
    assert.ok(codes.includes("default-class-delete"));
    const pg = findings.find((f) => f.code === "reclaim-delete" && f.asset === "shop");
    assert.match(
      pg?.message ?? "",
      /PV pvc-data-postgresql-0 bound to data-postgresql-0 \(asset shop\) reclaims with Delete/,
    );
    assert.equal(pg?.fix, "lifeline k8s protect shop");
  });

  it("protect changes only the asset's volumes that do not already retain", () => {
    const { b } = incident();
    b.claim("shop", "other", { labels: { "app.kubernetes.io/instance": "other" } });
    const changes = protectionChanges(b.inv, shopBinding);
    assert.deepEqual(
      changes.map((c) => `${c.volume}:${c.from}->${c.to}`),
      ["pvc-data-postgresql-0:Delete->Retain"],
    );
    b.inv.volumes.forEach((v) => (v.reclaimPolicy = "Retain"));
    assert.deepEqual(protectionChanges(b.inv, shopBinding), []);
  });
});

describe("label selectors and quantities", () => {
  it("matches like the API server", () => {
    const labels = { app: "db", tier: "backend", env: "prod" };
    assert.ok(matchesSelector("app=db,tier==backend", labels));
    assert.ok(matchesSelector("env in (prod, staging),!missing", labels));
    assert.ok(!matchesSelector("env notin (prod)", labels));
    assert.ok(matchesSelector("app!=web", labels));
    assert.ok(!matchesSelector("missing", labels));
    assert.throws(() => parseSelector("app=db=x"), /not a label value/);
  });

  it("parses quantities", () => {
    assert.equal(quantityBytes("8Gi"), 8 * 2 ** 30);
    assert.equal(quantityBytes("500M"), 5e8);
    assert.equal(quantityBytes("1.5Ti"), 1.5 * 2 ** 40);
    assert.equal(quantityBytes("bogus"), null);
  });
});

describe("review findings (each failed before its fix)", () => {
  const run = (argv: string[], b: InventoryBuilder) =>
    analyzeCommand(parseCommand(argv), b.inv, { bindings: [shopBinding] });

  it("a command lifeline cannot resolve is unknown, never an empty allow: scale/patch -f, delete -f URL or stdin", () => {
    const { b } = incident();
    assert.equal(
      run(["kubectl", "scale", "-f", "sts.yaml", "--replicas=0"], b).operations[0]?.dataLoss,
      "unknown",
    );
    const url = run(["kubectl", "delete", "-f", "https://example.com/pvc.yaml"], b);
    assert.equal(url.operations[0]?.dataLoss, "unknown");
    assert.match(url.operations[0]?.reason ?? "", /does not read https:\/\/example\.com\/pvc\.yaml/);
  });

  it("patching a Released volume from Retain to Delete destroys it at once; a bound one needs its own kind", () => {
    const { b } = incident("Retain");
    const pv = b.inv.volumes[0]!;
    const bound = run(
      ["kubectl", "patch", "pv", pv.name, "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}'],
      b,
    ).operations[0]!;
    assert.equal(bound.kind, "patch-pv-reclaim-policy-delete");
    assert.equal(bound.dataLoss, "none");
    pv.phase = "Released";
    b.inv.claims = b.inv.claims.filter((c) => c.volumeName !== pv.name);
    const released = run(
      ["kubectl", "patch", "pv", pv.name, "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}'],
      b,
    ).operations[0]!;
    assert.equal(released.dataLoss, "destructive");
    assert.match(released.reason, /deletes it and its disk .* at once/);
  });

  it("drain fails closed when nodes cannot be read, and follows -l", () => {
    const { b } = incident();
    b.inv.nodes.push({
      name: "node-a",
      namespace: null,
      uid: "n-a",
      labels: { pool: "db" },
      annotations: {},
      owners: [],
      unschedulable: false,
    });
    const bySelector = run(["kubectl", "drain", "-l", "pool=db", "--ignore-daemonsets"], b);
    assert.equal(bySelector.operations[0]?.resolved?.name, "node-a");
    b.inv.gaps.push({ resource: "nodes", namespace: null, reason: "forbidden (403)", required: false });
    assert.equal(
      run(["kubectl", "drain", "node-a", "--ignore-daemonsets"], b).operations[0]?.dataLoss,
      "unknown",
    );
  });

  it("a snapshot the same command deletes does not make a claim recoverable", () => {
    const { b } = incident();
    b.snapshot("shop", "snap-ready", "data-postgresql-0", true);
    assert.equal(
      run(["kubectl", "delete", "pvc", "data-postgresql-0", "-n", "shop"], b).operations[0]?.dataLoss,
      "recoverable",
    );
    const both = run(
      ["kubectl", "delete", "pvc/data-postgresql-0", "volumesnapshot/snap-ready", "-n", "shop"],
      b,
    );
    assert.equal(both.operations.find((o) => o.kind === "delete-pvc")?.dataLoss, "destructive");
    const ns = run(["kubectl", "delete", "namespace", "shop"], b);
    assert.equal(
      ns.operations[0]?.cascade.find((c) => c.name === "shop/data-postgresql-0")?.dataLoss,
      "destructive",
    );
  });

  it("the way back is part of the plan's identity: losing the snapshot changes the objects' identities", () => {
    const { b } = incident();
    const snap = b.snapshot("shop", "snap-ready", "data-postgresql-0", true);
    const ids = (a: ReturnType<typeof run>) =>
      a.operations.flatMap((o) => o.cascade.map((c) => `${c.identity}|${c.dataLoss}`));
    const before = ids(run(["kubectl", "delete", "pvc", "data-postgresql-0", "-n", "shop"], b));
    b.inv.snapshots = b.inv.snapshots.filter((s) => s !== snap);
    assert.notDeepEqual(ids(run(["kubectl", "delete", "pvc", "data-postgresql-0", "-n", "shop"], b)), before);
  });

  it("--cascade=orphan leaves the claims even with whenDeleted: Delete; a bare pod is gone for good", () => {
    const { b } = incident();
    b.inv.workloads[0]!.retention = { whenDeleted: "Delete", whenScaled: "Retain" };
    assert.equal(
      run(["kubectl", "delete", "sts", "postgresql", "-n", "shop", "--cascade=orphan"], b).operations[0]
        ?.dataLoss,
      "recoverable",
    );
    b.inv.pods.push({
      name: "debug",
      namespace: "shop",
      uid: "debug-uid",
      labels: {},
      annotations: {},
      owners: [],
      nodeName: "node-a",
      phase: "Running",
      spec: { labels: {}, claims: [], emptyDirs: ["scratch"], volumeRefs: [], containers: [] },
    });
    assert.equal(
      run(["kubectl", "delete", "pod", "debug", "-n", "shop"], b).operations[0]?.dataLoss,
      "destructive",
    );
  });

  it("a bare service name counts only in a host position; a workload does not depend on its own pods", () => {
    const { b } = incident();
    b.deployment("shop", "dialect", [
      container("a", { DB_DIALECT: "postgresql", JDBC_URL: "jdbc:postgresql://other-db:5432/x" }),
    ]);
    b.deployment("shop", "direct", [container("a", { DB_HOST: "postgresql" })]);
    b.deployment("shop", "url", [container("a", { DATABASE_URL: "postgres://u@postgresql:5432/shop" })]);
    b.inv.workloads[0]!.template.containers = [
      container("pg", { PRIMARY_HOST: "postgresql-0.postgresql-hl" }),
    ];
    const deps = run(["kubectl", "delete", "pvc", "data-postgresql-0", "-n", "shop"], b).dependents;
    const names = deps.filter((d) => d.kind !== "service").map((d) => d.name);
    assert.ok(!names.includes("shop/dialect"), names.join(", "));
    assert.ok(names.includes("shop/direct") && names.includes("shop/url"), names.join(", "));
    assert.ok(!names.includes("shop/postgresql"), "the StatefulSet owning the pod is not its own dependent");
    assert.ok(deps.some((d) => d.kind === "service" && d.name === "shop/postgresql"));
  });

  it("helm acts on the last revision, whatever its status; an uninstalled one is gone", () => {
    const { b } = incident();
    b.inv.releases[0]!.status = "superseded";
    b.release("shop", "postgresql", 2, b.inv.releases[0]!.resources, "failed");
    assert.match(
      run(["helm", "rollback", "postgresql", "-n", "shop"], b).operations[0]?.reason ?? "",
      /over revision 2/,
    );
    b.release("shop", "postgresql", 3, [], "uninstalled");
    assert.match(
      run(["helm", "uninstall", "postgresql", "-n", "shop"], b).operations[0]?.reason ?? "",
      /not installed/,
    );
  });
});
