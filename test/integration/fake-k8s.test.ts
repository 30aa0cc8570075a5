/**
 * The simulated Kubernetes API server, driven through @kubernetes/client-node 1.x over HTTPS.
 *
 * How to send a merge patch with client-node 1.x: the generated `patch*` methods pick the first
 * JSON-like type of the OpenAPI list, which is `application/json-patch+json` (RFC 6902, the body
 * must be an array of operations). For a JSON merge patch pass per-call options that set the
 * header through a middleware:
 *
 *   import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
 *   await core.patchPersistentVolume(
 *     { name, body: { spec: { persistentVolumeReclaimPolicy: "Retain" } } },
 *     setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
 *   );
 *
 * (`mergePatch` in test/support/fake-k8s.ts is exactly that.) Errors come back as `ApiException`
 * with `code` = HTTP status and `body` = the response text (a JSON Status, still a string).
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  SIMULATED,
  SIMULATED_VERSION,
  apiError,
  clientsFor,
  matchesLabelSelector,
  names,
  parseLabelSelector,
  rawRequest,
  simulatedUid,
  startFakeCluster,
  type FakeCluster,
} from "../support/fake-k8s.js";

const NS = SIMULATED.namespace;

describe("simulated Kubernetes API server through @kubernetes/client-node", () => {
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

  it("serves version and discovery", async () => {
    const res = await rawRequest(k8s, "/version");
    const version = res.json() as { gitVersion: string };
    assert.equal(version.gitVersion, SIMULATED_VERSION.gitVersion);
    assert.match(version.gitVersion, /simulated/);
    const groups = (await rawRequest(k8s, "/apis")).json();
    assert.ok(
      (groups as { groups: Array<{ name: string }> }).groups.some(
        (g) => g.name === "snapshot.storage.k8s.io",
      ),
    );
  });

  it("lists PVCs with label selectors in every syntax", async () => {
    const list = async (labelSelector: string) =>
      names((await k8s.core.listNamespacedPersistentVolumeClaim({ namespace: NS, labelSelector })).items);

    assert.deepEqual(await list("app.kubernetes.io/instance=postgresql"), [
      SIMULATED.primaryPvc,
      SIMULATED.readPvc,
    ]);
    assert.deepEqual(
      await list("app.kubernetes.io/instance==postgresql,app.kubernetes.io/component!=primary"),
      [SIMULATED.readPvc],
    );
    assert.deepEqual(
      await list("app.kubernetes.io/instance in (postgresql, mongodb)"),
      [...SIMULATED.mongoPvcs, SIMULATED.primaryPvc, SIMULATED.readPvc].sort(),
    );
    assert.deepEqual(await list("app.kubernetes.io/instance notin (postgresql,mongodb)"), [
      SIMULATED.legacyPvc,
      SIMULATED.uploadsPvc,
    ]);
    assert.deepEqual(await list("!app.kubernetes.io/instance"), [SIMULATED.uploadsPvc]);
    assert.deepEqual(await list("app.kubernetes.io/instance,app.kubernetes.io/name=redis"), [
      SIMULATED.legacyPvc,
    ]);

    const all = await k8s.core.listPersistentVolumeClaimForAllNamespaces({
      labelSelector: "app.kubernetes.io/instance",
    });
    assert.equal(all.items.length, 5);
    // Like the real API server, list items carry no kind/apiVersion; the list does.
    assert.equal(all.kind, "PersistentVolumeClaimList");
    assert.equal(all.items[0]!.kind, undefined);

    const bad = await apiError(
      k8s.core.listNamespacedPersistentVolumeClaim({ namespace: NS, labelSelector: "a in b" }),
    );
    assert.equal(bad.code, 400);
    assert.equal(bad.status.reason, "BadRequest");
  });

  it("parses selectors like kubectl (unit level)", () => {
    assert.deepEqual(parseLabelSelector("a in (x, y),!b"), [
      { key: "a", operator: "in", values: ["x", "y"] },
      { key: "b", operator: "!", values: [] },
    ]);
    assert.equal(matchesLabelSelector({ a: "x" }, "a!=y"), true);
    assert.equal(matchesLabelSelector({}, "a!=y"), true);
    assert.equal(matchesLabelSelector({}, "a in (y)"), false);
    assert.equal(matchesLabelSelector({ n: "3" }, "n>2"), true);
    assert.throws(() => parseLabelSelector("a b"));
  });

  it("filters pods with field selectors", async () => {
    const onB = await k8s.core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-b" });
    assert.ok(onB.items.length > 0);
    assert.ok(onB.items.every((p) => p.spec?.nodeName === "node-b"));
    assert.ok(names(onB.items).includes(SIMULATED.readPod));
    const one = await k8s.core.listNamespacedPod({
      namespace: NS,
      fieldSelector: `metadata.name=${SIMULATED.primaryPod}`,
    });
    assert.deepEqual(names(one.items), [SIMULATED.primaryPod]);
  });

  it("gets a PV with its claim, reclaim policy and CSI volume", async () => {
    const pv = await k8s.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Delete");
    assert.equal(pv.spec?.claimRef?.name, SIMULATED.primaryPvc);
    assert.equal(pv.spec?.claimRef?.uid, simulatedUid("PersistentVolumeClaim", NS, SIMULATED.primaryPvc));
    assert.equal(pv.spec?.csi?.driver, "ebs.csi.aws.com");
    assert.match(pv.spec?.csi?.volumeHandle ?? "", /^vol-[0-9a-f]{17}$/);
    assert.equal(pv.status?.phase, "Bound");
    const sc = await k8s.storage.readStorageClass({ name: SIMULATED.storageClass });
    assert.equal(sc.reclaimPolicy, "Delete");
    assert.equal(sc.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"], "true");
  });

  it("answers a missing object with a 404 Status", async () => {
    const { code, status } = await apiError(
      k8s.core.readNamespacedPersistentVolumeClaim({ namespace: NS, name: "nope" }),
    );
    assert.equal(code, 404);
    assert.deepEqual(
      {
        kind: status.kind,
        apiVersion: status.apiVersion,
        status: status.status,
        reason: status.reason,
        code: status.code,
      },
      { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 },
    );
    assert.equal(status.message, 'persistentvolumeclaims "nope" not found');
  });

  it("rejects an object body sent with client-node's default patch content type", async () => {
    const rejected = await apiError(
      k8s.core.patchPersistentVolume({
        name: SIMULATED.primaryPv,
        body: { spec: { persistentVolumeReclaimPolicy: "Retain" } },
      }),
    );
    assert.equal(rejected.code, 400);
    const last = k8s.server.requests.at(-1)!;
    assert.equal(last.contentType, "application/json-patch+json");
    // A JSON patch (array of operations) is what that default content type expects.
    const pv = await k8s.core.patchPersistentVolume({
      name: SIMULATED.primaryPv,
      body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Retain" }],
    });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Retain");
  });

  it("injects 403 Forbidden by resource or path prefix, and lifts it", async () => {
    const lift = k8s.server.forbid("secrets");
    const denied = await apiError(k8s.core.listNamespacedSecret({ namespace: NS }));
    assert.equal(denied.code, 403);
    assert.equal(denied.status.reason, "Forbidden");
    assert.match(
      String(denied.status.message),
      /cannot list resource "secrets" in API group "" in the namespace "shop"/,
    );
    await k8s.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
    lift();
    await k8s.core.listNamespacedSecret({ namespace: NS });

    k8s.server.forbid("/api/v1/persistentvolumes");
    assert.equal((await apiError(k8s.core.readPersistentVolume({ name: SIMULATED.primaryPv }))).code, 403);
    assert.equal((await apiError(k8s.core.listPersistentVolume())).code, 403);
    k8s.server.forbid((r) => r.verb === "delete" && r.resource === "persistentvolumeclaims");
    assert.equal(
      (
        await apiError(
          k8s.core.deleteNamespacedPersistentVolumeClaim({ namespace: NS, name: SIMULATED.primaryPvc }),
        )
      ).code,
      403,
    );
    assert.ok(k8s.server.has("pvc", SIMULATED.primaryPvc, NS));
  });

  it("refuses a wrong token with 401 and counts requests", async () => {
    const stranger = clientsFor(k8s.kubeconfig.replace("simulated-cluster-token", "wrong-token"));
    assert.equal((await apiError(stranger.core.listNamespace())).code, 401);
    const raw = await rawRequest(k8s, "/api/v1/namespaces", { token: "wrong-token" });
    assert.equal(raw.status, 401);
    assert.equal((raw.json() as { reason: string }).reason, "Unauthorized");
    const before = k8s.server.requestCount((r) => r.resource === "namespaces");
    await k8s.core.listNamespace();
    assert.equal(
      k8s.server.requestCount((r) => r.resource === "namespaces"),
      before + 1,
    );
  });

  it("creates a claim that binds when a pod uses it (WaitForFirstConsumer, default StorageClass)", async () => {
    const created = await k8s.core.createNamespacedPersistentVolumeClaim({
      namespace: SIMULATED.feedsNamespace,
      body: {
        metadata: { name: "cache" },
        spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
      },
    });
    assert.equal(created.spec?.storageClassName, SIMULATED.storageClass);
    assert.equal(created.status?.phase, "Pending");
    await k8s.core.createNamespacedPod({
      namespace: SIMULATED.feedsNamespace,
      body: {
        metadata: { name: "cache-user" },
        spec: {
          nodeName: "node-b",
          containers: [{ name: "c", image: "busybox" }],
          volumes: [{ name: "cache", persistentVolumeClaim: { claimName: "cache" } }],
        },
      },
    });
    const bound = await k8s.core.readNamespacedPersistentVolumeClaim({
      namespace: SIMULATED.feedsNamespace,
      name: "cache",
    });
    assert.equal(bound.status?.phase, "Bound");
    assert.equal(bound.spec?.volumeName, `pvc-${bound.metadata?.uid}`);
    const pv = await k8s.core.readPersistentVolume({ name: bound.spec!.volumeName! });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Delete");
    const dup = await apiError(
      k8s.core.createNamespacedPersistentVolumeClaim({
        namespace: SIMULATED.feedsNamespace,
        body: { metadata: { name: "cache" } },
      }),
    );
    assert.equal(dup.code, 409);
    assert.equal(dup.status.reason, "AlreadyExists");
  });

  it("reset() brings the fixtures back; close() makes the cluster unreachable", async () => {
    await k8s.core.deleteNamespace({ name: NS });
    k8s.reset();
    const pvcs = await k8s.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
    assert.equal(pvcs.items.length, 6);

    const other = await startFakeCluster({ fixtures: [] });
    assert.deepEqual((await other.core.listNamespace()).items, []);
    await other.close();
    await assert.rejects(other.core.listNamespace(), (e: Error) =>
      /ECONNREFUSED/.test(String(e.message) + String(e.cause ?? "")),
    );
  });
});
