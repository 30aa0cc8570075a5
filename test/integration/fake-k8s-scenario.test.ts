/**
 * The incident scenario the simulated cluster serves (src/demo/cluster/scenarios/): Helm release
 * records as Helm 3 stores them, chart labels, the dependent workloads and the volume snapshots.
 * Driven through @kubernetes/client-node 1.x over HTTP.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import type { V1Secret } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { SIMULATED, names, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";

const NS = SIMULATED.namespace;

describe("the incident scenario of the simulated cluster, through @kubernetes/client-node", () => {
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
});
