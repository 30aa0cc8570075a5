/**
 * What the simulated cluster's controllers do after a change (src/demo/cluster/controllers/):
 * volumes follow their claim by reclaim policy, StatefulSets keep or delete their claims, pods are
 * recreated, a namespace takes its contents. Driven through @kubernetes/client-node 1.x over HTTP;
 * see fake-k8s.test.ts for how client-node sends patches and reports errors.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  SIMULATED,
  apiError,
  mergePatch,
  names,
  startFakeCluster,
  type FakeCluster,
} from "../support/fake-k8s.js";

const NS = SIMULATED.namespace;

describe("the simulated cluster's controllers, through @kubernetes/client-node", () => {
  let k8s: FakeCluster;

  before(async () => {
    k8s = await startFakeCluster();
  });
  after(async () => {
    await k8s.close();
  });
  beforeEach(() => {
    k8s.reset();
  });

  it("merge-patches a PV to Retain; deleting its claim then leaves it Released", async () => {
    const before = await k8s.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    const patched = await k8s.core.patchPersistentVolume(
      { name: SIMULATED.primaryPv, body: { spec: { persistentVolumeReclaimPolicy: "Retain" } } },
      mergePatch,
    );
    assert.equal(k8s.server.requests.at(-1)!.contentType, "application/merge-patch+json");
    assert.equal(patched.spec?.persistentVolumeReclaimPolicy, "Retain");
    assert.equal(patched.metadata?.uid, before.metadata?.uid);
    assert.ok(Number(patched.metadata?.resourceVersion) > Number(before.metadata?.resourceVersion));

    const deleted = await k8s.core.deleteNamespacedPersistentVolumeClaim({
      namespace: NS,
      name: SIMULATED.primaryPvc,
    });
    assert.equal(deleted.metadata?.name, SIMULATED.primaryPvc);
    assert.ok(deleted.metadata?.deletionTimestamp);

    const pv = await k8s.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(pv.status?.phase, "Released");
    assert.equal(pv.spec?.claimRef?.name, SIMULATED.primaryPvc);
    assert.equal(pv.spec?.claimRef?.uid, before.spec?.claimRef?.uid);
    assert.equal(pv.metadata?.uid, before.metadata?.uid);
    const gone = await apiError(
      k8s.core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: SIMULATED.primaryPvc }),
    );
    assert.equal(gone.code, 404);
  });

  it("deletes the volume with its claim when the reclaim policy is Delete", async () => {
    await k8s.core.deleteNamespacedPersistentVolumeClaim({ namespace: NS, name: SIMULATED.readPvc });
    const { code } = await apiError(k8s.core.readPersistentVolume({ name: SIMULATED.readPv }));
    assert.equal(code, 404);
    // The other volumes are untouched.
    const primary = await k8s.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(primary.status?.phase, "Bound");
  });

  it("deletes a StatefulSet's pods but keeps its claims and volumes", async () => {
    const status = await k8s.apps.deleteNamespacedStatefulSet({
      namespace: NS,
      name: SIMULATED.primaryStatefulSet,
    });
    assert.equal(status.status, "Success");
    const pods = await k8s.core.listNamespacedPod({
      namespace: NS,
      labelSelector: "app.kubernetes.io/component=primary",
    });
    assert.deepEqual(pods.items, []);
    const claim = await k8s.core.readNamespacedPersistentVolumeClaim({
      namespace: NS,
      name: SIMULATED.primaryPvc,
    });
    assert.equal(claim.status?.phase, "Bound");
    const pv = await k8s.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(pv.status?.phase, "Bound");
    // The read replica is another StatefulSet and keeps its pod.
    await k8s.core.readNamespacedPod({ namespace: NS, name: SIMULATED.readPod });
  });

  it("deletes the claims too when persistentVolumeClaimRetentionPolicy.whenDeleted is Delete", async () => {
    const sts = await k8s.apps.readNamespacedStatefulSet({ namespace: NS, name: SIMULATED.mongoStatefulSet });
    // client-node returns model class instances: compare fields, not with deepEqual against literals.
    assert.equal(sts.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted, "Retain");
    assert.equal(sts.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled, "Retain");
    await k8s.apps.patchNamespacedStatefulSet(
      {
        namespace: NS,
        name: SIMULATED.mongoStatefulSet,
        body: { spec: { persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete" } } },
      },
      mergePatch,
    );
    await k8s.apps.deleteNamespacedStatefulSet({ namespace: NS, name: SIMULATED.mongoStatefulSet });
    const claims = await k8s.core.listNamespacedPersistentVolumeClaim({
      namespace: NS,
      labelSelector: "app.kubernetes.io/instance=mongodb",
    });
    assert.deepEqual(claims.items, []);
    for (const pv of SIMULATED.mongoPvs) {
      assert.equal((await apiError(k8s.core.readPersistentVolume({ name: pv }))).code, 404);
    }
  });

  it("scales a StatefulSet down through its scale subresource; claims stay", async () => {
    const scale = await k8s.apps.readNamespacedStatefulSetScale({
      namespace: NS,
      name: SIMULATED.mongoStatefulSet,
    });
    assert.equal(scale.spec?.replicas, 2);
    assert.match(scale.status?.selector ?? "", /app.kubernetes.io\/instance=mongodb/);
    const scaled = await k8s.apps.patchNamespacedStatefulSetScale(
      { namespace: NS, name: SIMULATED.mongoStatefulSet, body: { spec: { replicas: 1 } } },
      mergePatch,
    );
    assert.equal(scaled.spec?.replicas, 1);
    const pods = await k8s.core.listNamespacedPod({
      namespace: NS,
      labelSelector: "app.kubernetes.io/component=mongodb",
    });
    assert.deepEqual(names(pods.items), ["mongodb-0"]);
    const claims = await k8s.core.listNamespacedPersistentVolumeClaim({
      namespace: NS,
      labelSelector: "app.kubernetes.io/component=mongodb",
    });
    assert.deepEqual(names(claims.items), [...SIMULATED.mongoPvcs]);
    const sts = await k8s.apps.readNamespacedStatefulSet({ namespace: NS, name: SIMULATED.mongoStatefulSet });
    assert.equal(sts.status?.replicas, 1);
  });

  it("recreates a deleted StatefulSet pod under the same name, and a Deployment pod under a new one", async () => {
    const old = await k8s.core.readNamespacedPod({ namespace: NS, name: SIMULATED.primaryPod });
    await k8s.core.deleteNamespacedPod({ namespace: NS, name: SIMULATED.primaryPod });
    const again = await k8s.core.readNamespacedPod({ namespace: NS, name: SIMULATED.primaryPod });
    assert.notEqual(again.metadata?.uid, old.metadata?.uid);
    assert.equal(again.spec?.nodeName, old.spec?.nodeName);
    assert.deepEqual(
      again.spec?.volumes
        ?.filter((v) => v.persistentVolumeClaim)
        .map((v) => v.persistentVolumeClaim?.claimName),
      [SIMULATED.primaryPvc],
    );

    const selector = "app.kubernetes.io/name=storefront";
    const before = names(
      (await k8s.core.listNamespacedPod({ namespace: NS, labelSelector: selector })).items,
    );
    await k8s.core.deleteNamespacedPod({ namespace: NS, name: before[0]! });
    const after = names((await k8s.core.listNamespacedPod({ namespace: NS, labelSelector: selector })).items);
    assert.equal(after.length, 2);
    assert.ok(!after.includes(before[0]!));
  });

  it("a StatefulSet pod recreated after its claim was deleted gets a new, empty volume", async () => {
    const oldPv = SIMULATED.primaryPv;
    await k8s.core.deleteNamespacedPersistentVolumeClaim({ namespace: NS, name: SIMULATED.primaryPvc });
    await k8s.core.deleteNamespacedPod({ namespace: NS, name: SIMULATED.primaryPod });
    const claim = await k8s.core.readNamespacedPersistentVolumeClaim({
      namespace: NS,
      name: SIMULATED.primaryPvc,
    });
    assert.equal(claim.status?.phase, "Bound");
    assert.notEqual(claim.spec?.volumeName, oldPv);
    assert.equal(claim.metadata?.labels?.["app.kubernetes.io/instance"], "postgresql");
    const pv = await k8s.core.readPersistentVolume({ name: claim.spec!.volumeName! });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Delete");
    assert.equal((await apiError(k8s.core.readPersistentVolume({ name: oldPv }))).code, 404);
  });

  it("deleting a namespace removes its contents; volumes follow their reclaim policy", async () => {
    const ns = await k8s.core.deleteNamespace({ name: NS });
    assert.equal((ns as { status?: { phase?: string } }).status?.phase, "Terminating");
    assert.equal((await apiError(k8s.core.readNamespace({ name: NS }))).code, 404);
    for (const list of [
      await k8s.core.listNamespacedPod({ namespace: NS }),
      await k8s.core.listNamespacedPersistentVolumeClaim({ namespace: NS }),
      await k8s.core.listNamespacedSecret({ namespace: NS }),
      await k8s.core.listNamespacedService({ namespace: NS }),
    ]) {
      assert.deepEqual(list.items, []);
    }
    assert.deepEqual((await k8s.apps.listNamespacedStatefulSet({ namespace: NS })).items, []);
    const pvs = await k8s.core.listPersistentVolume();
    // Only the Retain volume of `uploads` survives, Released.
    assert.deepEqual(
      pvs.items.map((pv) => [pv.metadata?.name, pv.status?.phase]),
      [[SIMULATED.uploadsPv, "Released"]],
    );
    // Other namespaces are untouched.
    const feeds = await k8s.apps.listNamespacedDeployment({ namespace: SIMULATED.feedsNamespace });
    assert.deepEqual(names(feeds.items), [SIMULATED.feedGenerator]);
  });
});

describe("the PV controller of the simulated cluster", () => {
  it("deletes a Released volume as soon as its reclaim policy becomes Delete", async () => {
    const c = await startFakeCluster();
    try {
      await c.core.patchPersistentVolume({
        name: SIMULATED.uploadsPv,
        body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Retain" }],
      });
      await c.core.deleteNamespacedPersistentVolumeClaim({ name: SIMULATED.uploadsPvc, namespace: "shop" });
      assert.equal(
        (await c.core.readPersistentVolume({ name: SIMULATED.uploadsPv })).status?.phase,
        "Released",
      );
      await c.core.patchPersistentVolume({
        name: SIMULATED.uploadsPv,
        body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Delete" }],
      });
      assert.equal(c.server.has("PersistentVolume", SIMULATED.uploadsPv), false);
    } finally {
      await c.close();
    }
  });
});
