/**
 * Realistic objects for the simulated cluster: the incident lifeline comes from.
 *
 * A PostgreSQL database on Kubernetes installed by a Helm chart (Bitnami postgresql 12.12.10,
 * architecture replication: a primary and a read replica, each a StatefulSet whose
 * volumeClaimTemplates made the PVCs), a MongoDB replica set with a crash-looping arbiter, a
 * StorageClass whose reclaim policy is `Delete`, and workloads elsewhere that depend on the
 * databases: a product feed generator, a marketing CronJob, an analytics report. Plus claims left
 * behind by an uninstalled release.
 *
 * Objects are plain JSON as the API server returns them, with stable uids (derived from kind,
 * namespace and name) so tests can refer to them, built by ../builders/ (Helm release records
 * encoded exactly as Helm 3 stores them). The parts: names.ts (names, nodes, timeline),
 * postgresql.ts, mongodb.ts, storefront.ts, dependents.ts; this file assembles them.
 */
import type { Json, K8sObject } from "../model.js";
import { namespaceObject, nodeObject, storageClass } from "../builders/cluster.js";
import type { HelmReleaseRecord } from "../builders/helm.js";
import { dependentObjects } from "./dependents.js";
import { mongoObjects, mongoRelease } from "./mongodb.js";
import { NODES, SHOP, T } from "./names.js";
import { pgRelease, postgresObjects } from "./postgresql.js";
import { shopExtras } from "./storefront.js";

function buildFixtures(): K8sObject[] {
  const objects: K8sObject[] = [
    ...NODES.map((n) => nodeObject(n, T.cluster)),
    namespaceObject("default", T.cluster),
    namespaceObject("kube-node-lease", T.cluster),
    namespaceObject("kube-public", T.cluster),
    namespaceObject("kube-system", T.cluster),
    namespaceObject(SHOP, T.shop),
    namespaceObject("feeds", T.feeds),
    namespaceObject("marketing", T.marketing),
    namespaceObject("analytics", T.analytics),
    storageClass("standard", "Delete", true, T.cluster),
    storageClass("standard-retain", "Retain", false, T.cluster),
    ...shopExtras(),
    ...postgresObjects(),
    ...mongoObjects(),
    ...dependentObjects(),
  ];
  // resourceVersions in creation order, like etcd revisions.
  const ordered = [...objects].sort((a, b) =>
    (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""),
  );
  ordered.forEach((o, i) => {
    o.metadata.resourceVersion = String(41_000 + i * 7);
  });
  for (const pv of objects.filter((o) => o.kind === "PersistentVolume")) {
    const ref = (pv.spec as Json).claimRef as Json;
    const claim = objects.find(
      (o) =>
        o.kind === "PersistentVolumeClaim" &&
        o.metadata.name === ref.name &&
        o.metadata.namespace === ref.namespace,
    );
    if (claim) ref.resourceVersion = String(Number(claim.metadata.resourceVersion) - 2);
  }
  return objects;
}

const FIXTURES: readonly K8sObject[] = buildFixtures();

/** A fresh deep copy of the simulated cluster's objects. */
export function simulatedFixtures(): K8sObject[] {
  return structuredClone(FIXTURES as K8sObject[]);
}

/** The decoded Helm release records in the fixtures (for assertions; the cluster only holds the encoded secrets). */
export function simulatedHelmRelease(
  name: "postgresql" | "mongodb",
  version: number,
): HelmReleaseRecord | undefined {
  if (name === "postgresql" && (version === 1 || version === 2)) return pgRelease(version);
  if (name === "mongodb" && version === 1) return mongoRelease();
  return undefined;
}
