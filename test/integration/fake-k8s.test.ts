/**
 * The simulated Kubernetes API server, driven through @kubernetes/client-node 1.x over HTTP.
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
import { gunzipSync } from "node:zlib";
import { ApiException, type V1Secret } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import {
  SIMULATED,
  SIMULATED_VERSION,
  clientsFor,
  matchesLabelSelector,
  mergePatch,
  parseLabelSelector,
  simulatedUid,
  startFakeCluster,
  type FakeCluster,
} from "../support/fake-k8s.js";

const NS = SIMULATED.namespace;

/** Awaits a rejected client-node call and returns the ApiException's code and parsed Status body. */
async function apiError(call: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ApiException, `expected an ApiException, got ${String(error)}`);
    const e = error as ApiException<unknown>;
    // client-node drops the body of a 401 (ApiException(401, "Unauthorized", undefined)).
    const status =
      typeof e.body === "string" && e.body !== "" ? (JSON.parse(e.body) as Record<string, unknown>) : {};
    return { code: e.code, status };
  }
  assert.fail("the call succeeded but should have failed");
}

function names(items: Array<{ metadata?: { name?: string } }>): string[] {
  return items.map((i) => i.metadata?.name ?? "").sort();
}

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
    const res = await fetch(`${k8s.url}/version`, {
      headers: { authorization: "Bearer simulated-cluster-token" },
    });
    const version = (await res.json()) as { gitVersion: string };
    assert.equal(version.gitVersion, SIMULATED_VERSION.gitVersion);
    assert.match(version.gitVersion, /simulated/);
    const groups = await (
      await fetch(`${k8s.url}/apis`, { headers: { authorization: "Bearer simulated-cluster-token" } })
    ).json();
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
    const raw = await fetch(`${k8s.url}/api/v1/namespaces`, {
      headers: { authorization: "Bearer wrong-token" },
    });
    assert.equal(raw.status, 401);
    assert.equal(((await raw.json()) as { reason: string }).reason, "Unauthorized");
    const before = k8s.server.requestCount((r) => r.resource === "namespaces");
    await k8s.core.listNamespace();
    assert.equal(
      k8s.server.requestCount((r) => r.resource === "namespaces"),
      before + 1,
    );
  });

  it("stores Helm releases exactly as Helm 3 does (base64 of base64 of gzipped JSON)", async () => {
    const secrets = await k8s.core.listNamespacedSecret({
      namespace: NS,
      labelSelector: "owner=helm,name=postgresql",
    });
    assert.deepEqual(names(secrets.items), [...SIMULATED.postgresReleaseSecrets]);
    const decode = (secret: V1Secret): Record<string, unknown> => {
      assert.equal(secret.type, "helm.sh/release.v1");
      const helmEncoded = Buffer.from(secret.data!.release!, "base64").toString("utf8");
      assert.match(helmEncoded, /^H4sI/); // Helm's base64 of a gzip stream
      return JSON.parse(gunzipSync(Buffer.from(helmEncoded, "base64")).toString("utf8")) as Record<
        string,
        unknown
      >;
    };
    const v1 = secrets.items.find((s) => s.metadata?.labels?.version === "1")!;
    const v2 = secrets.items.find((s) => s.metadata?.labels?.version === "2")!;
    assert.equal(v1.metadata?.labels?.status, "superseded");
    assert.equal(v2.metadata?.labels?.status, "deployed");

    const release = decode(v2) as {
      name: string;
      namespace: string;
      version: number;
      info: { status: string };
      chart: { metadata: { name: string; version: string; appVersion: string } };
      config: Record<string, unknown>;
      manifest: string;
    };
    assert.equal(release.name, "postgresql");
    assert.equal(release.namespace, NS);
    assert.equal(release.version, 2);
    assert.equal(release.info.status, "deployed");
    assert.deepEqual(release.chart.metadata.name, "postgresql");
    assert.equal(release.chart.metadata.version, "12.12.10");
    assert.equal(release.chart.metadata.appVersion, "15.4.0");
    assert.equal(release.config.architecture, "replication");
    assert.doesNotMatch(JSON.stringify(release.config), /password/i);

    const docs = parseAllDocuments(release.manifest).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string } },
    );
    const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`);
    assert.ok(kinds.includes("StatefulSet/postgresql-primary"), kinds.join(", "));
    assert.ok(kinds.includes("StatefulSet/postgresql-read"));
    assert.ok(kinds.includes("Service/postgresql-primary-hl"));
    assert.ok(kinds.includes("Secret/postgresql"));
    assert.ok(kinds.includes(`ConfigMap/${SIMULATED.postgresExtendedConfigMap}`));
    assert.ok(!docs.some((d) => d.kind === "PersistentVolumeClaim"), "claims come from volumeClaimTemplates");
    assert.match(release.manifest, /^---\n# Source: postgresql\/templates\/secrets\.yaml\n/);
    assert.match(release.manifest, /# Source: postgresql\/templates\/primary\/statefulset\.yaml/);

    // Revision 1 had no extended configuration.
    const first = decode(v1) as { manifest: string; info: { status: string } };
    assert.equal(first.info.status, "superseded");
    assert.doesNotMatch(first.manifest, /extended-configuration/);
  });

  it("labels chart resources like Helm; claims from volumeClaimTemplates carry selector labels only", async () => {
    const sts = await k8s.apps.readNamespacedStatefulSet({
      namespace: NS,
      name: SIMULATED.primaryStatefulSet,
    });
    assert.equal(sts.metadata?.labels?.["app.kubernetes.io/managed-by"], "Helm");
    assert.equal(sts.metadata?.labels?.["helm.sh/chart"], "postgresql-12.12.10");
    assert.equal(sts.metadata?.annotations?.["meta.helm.sh/release-name"], "postgresql");
    const claim = await k8s.core.readNamespacedPersistentVolumeClaim({
      namespace: NS,
      name: SIMULATED.primaryPvc,
    });
    assert.deepEqual(claim.metadata?.labels, {
      "app.kubernetes.io/component": "primary",
      "app.kubernetes.io/instance": "postgresql",
      "app.kubernetes.io/name": "postgresql",
    });
    assert.equal(claim.metadata?.annotations?.["meta.helm.sh/release-name"], undefined);
    const pod = await k8s.core.readNamespacedPod({ namespace: NS, name: SIMULATED.primaryPod });
    assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, "StatefulSet");
    assert.equal(pod.metadata?.ownerReferences?.[0]?.uid, sts.metadata?.uid);
  });

  it("serves the dependents: a feed Deployment, a CronJob with its Job, an analytics Deployment", async () => {
    const feed = await k8s.apps.readNamespacedDeployment({
      namespace: SIMULATED.feedsNamespace,
      name: SIMULATED.feedGenerator,
    });
    const env = feed.spec?.template.spec?.containers[0]?.env ?? [];
    assert.match(
      env.find((e) => e.name === "DATABASE_URL")?.value ?? "",
      /postgresql-primary\.shop\.svc\.cluster\.local/,
    );
    assert.equal(
      env.find((e) => e.name === "DB_PASSWORD")?.valueFrom?.secretKeyRef?.name,
      SIMULATED.feedSecret,
    );

    const cron = await k8s.batch.readNamespacedCronJob({
      namespace: SIMULATED.marketingNamespace,
      name: SIMULATED.exportCronJob,
    });
    assert.equal(cron.spec?.schedule, "0 3 * * *");
    assert.equal(
      cron.spec?.jobTemplate.spec?.template.spec?.containers[0]?.envFrom?.[0]?.configMapRef?.name,
      SIMULATED.exportConfigMap,
    );
    const jobs = await k8s.batch.listNamespacedJob({ namespace: SIMULATED.marketingNamespace });
    assert.deepEqual(names(jobs.items), [SIMULATED.exportJob]);
    assert.equal(jobs.items[0]!.metadata?.ownerReferences?.[0]?.uid, cron.metadata?.uid);
    const cm = await k8s.core.readNamespacedConfigMap({
      namespace: SIMULATED.marketingNamespace,
      name: SIMULATED.exportConfigMap,
    });
    assert.equal(cm.data?.PGHOST, "postgresql-primary.shop.svc");

    const reports = await k8s.apps.readNamespacedDeployment({
      namespace: SIMULATED.analyticsNamespace,
      name: SIMULATED.reports,
    });
    assert.match(
      reports.spec?.template.spec?.containers[0]?.args?.join(" ") ?? "",
      /mongodb-0\.mongodb-headless\.shop\.svc/,
    );
  });

  it("lists VolumeSnapshots through CustomObjectsApi", async () => {
    const list = (await k8s.custom.listNamespacedCustomObject({
      group: "snapshot.storage.k8s.io",
      version: "v1",
      namespace: NS,
      plural: "volumesnapshots",
    })) as {
      kind: string;
      items: Array<{
        kind: string;
        metadata: { name: string };
        spec: { source: { persistentVolumeClaimName: string } };
        status: { readyToUse: boolean; restoreSize?: string };
      }>;
    };
    assert.equal(list.kind, "VolumeSnapshotList");
    const byName = Object.fromEntries(list.items.map((i) => [i.metadata.name, i]));
    const ready = byName[SIMULATED.mongoReadySnapshot]!;
    assert.equal(ready.kind, "VolumeSnapshot"); // custom resource list items keep their kind
    assert.equal(ready.spec.source.persistentVolumeClaimName, "datadir-mongodb-0");
    assert.equal(ready.status.readyToUse, true);
    assert.equal(ready.status.restoreSize, "8Gi");
    assert.equal(byName[SIMULATED.mongoPendingSnapshot]!.status.readyToUse, false);

    const filtered = (await k8s.custom.listNamespacedCustomObject({
      group: "snapshot.storage.k8s.io",
      version: "v1",
      namespace: SIMULATED.feedsNamespace,
      plural: "volumesnapshots",
    })) as { items: unknown[] };
    assert.deepEqual(filtered.items, []);
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
