/**
 * The workload controllers: StatefulSets create their pods and claims (and delete them on scale
 * down by `whenScaled`), Deployments roll ReplicaSets, ReplicaSets keep their pod count, and each
 * workload's status follows its pods.
 */
import { applyDefaults } from "../admission.js";
import {
  canonicalJson,
  clone,
  deterministicUid,
  hashText,
  isObj,
  ownerRef,
  spec,
  status,
  storeKey,
  str,
  timestamp,
  type Json,
  type K8sObject,
} from "../model.js";
import type { ObjectStore } from "../store.js";
import { deleteWithEffects, statefulSetClaims } from "./deletion.js";
import { createPod } from "./pods.js";

export function ownedBy(store: ObjectStore, owner: K8sObject, kind: string): K8sObject[] {
  return store
    .all(kind, owner.metadata.namespace)
    .filter((o) =>
      (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid && r.controller),
    );
}

export function syncStatefulSet(store: ObjectStore, sts: K8sObject): boolean {
  const s = spec(sts);
  const replicas = typeof s.replicas === "number" ? s.replicas : 1;
  const name = sts.metadata.name;
  const ns = sts.metadata.namespace!;
  let changed = false;
  for (let ordinal = 0; ordinal < replicas; ordinal++) {
    const podName = `${name}-${ordinal}`;
    if (store.find("Pod", podName, ns)) continue;
    const claimNames: Array<{ volume: string; claim: string }> = [];
    for (const t of Array.isArray(s.volumeClaimTemplates) ? s.volumeClaimTemplates : []) {
      if (!isObj(t) || !isObj(t.metadata)) continue;
      const tplName = str(t.metadata.name)!;
      const claimName = `${tplName}-${name}-${ordinal}`;
      claimNames.push({ volume: tplName, claim: claimName });
      if (!store.find("PersistentVolumeClaim", claimName, ns))
        createClaimFromTemplate(store, sts, t, claimName);
    }
    createPod(store, sts, podName, ordinal, claimNames);
    changed = true;
  }
  const policy = isObj(s.persistentVolumeClaimRetentionPolicy) ? s.persistentVolumeClaimRetentionPolicy : {};
  for (const pod of ownedBy(store, sts, "Pod")) {
    const ordinal = Number(pod.metadata.name.slice(name.length + 1));
    if (!(ordinal >= replicas)) continue;
    const at = timestamp(store.now());
    deleteWithEffects(store, pod, "Background", at);
    if (policy.whenScaled === "Delete") {
      for (const claim of statefulSetClaims(store, sts, ordinal))
        deleteWithEffects(store, claim, "Background", at);
    }
    changed = true;
  }
  return changed;
}

export function createClaimFromTemplate(
  store: ObjectStore,
  sts: K8sObject,
  template: Json,
  claimName: string,
): void {
  const tplMeta = isObj(template.metadata) ? template.metadata : {};
  const selector = isObj(spec(sts).selector) ? (spec(sts).selector as Json) : {};
  const matchLabels = isObj(selector.matchLabels) ? (selector.matchLabels as Record<string, string>) : {};
  const claimSpec = clone(isObj(template.spec) ? template.spec : {});
  const claim: K8sObject = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: claimName,
      namespace: sts.metadata.namespace!,
      labels: { ...(tplMeta.labels as Record<string, string> | undefined), ...matchLabels },
      ...(isObj(tplMeta.annotations)
        ? { annotations: clone(tplMeta.annotations as Record<string, string>) }
        : {}),
      uid: deterministicUid(
        `PersistentVolumeClaim/${sts.metadata.namespace}/${claimName}/${store.counter++}/${store.rv}`,
      ),
      creationTimestamp: timestamp(store.now()),
    },
    spec: claimSpec,
  };
  const policy = spec(sts).persistentVolumeClaimRetentionPolicy;
  if (isObj(policy) && policy.whenDeleted === "Delete")
    claim.metadata.ownerReferences = [{ ...ownerRef(sts), controller: true }];
  applyDefaults(store, claim);
  store.touch(claim);
  store.objects.set(storeKey(store.requireType("pvc"), claim.metadata.namespace, claimName), claim);
}

export function syncReplicaSet(store: ObjectStore, rs: K8sObject): boolean {
  const replicas = typeof spec(rs).replicas === "number" ? (spec(rs).replicas as number) : 1;
  const pods = ownedBy(store, rs, "Pod").filter(
    (p) => status(p).phase !== "Succeeded" && status(p).phase !== "Failed",
  );
  let changed = false;
  for (let i = pods.length; i < replicas; i++) {
    let podName: string;
    do podName = `${rs.metadata.name}-${hashText(`${rs.metadata.uid}/${store.counter++}`, 5)}`;
    while (store.find("Pod", podName, rs.metadata.namespace));
    createPod(store, rs, podName, undefined, []);
    changed = true;
  }
  if (pods.length > replicas) {
    const newestFirst = [...pods].sort(
      (a, b) =>
        (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? "") ||
        b.metadata.name.localeCompare(a.metadata.name),
    );
    for (const pod of newestFirst.slice(0, pods.length - replicas)) {
      deleteWithEffects(store, pod, "Background", timestamp(store.now()));
    }
    changed = true;
  }
  return changed;
}

export function syncDeployment(store: ObjectStore, d: K8sObject): boolean {
  const replicas = typeof spec(d).replicas === "number" ? (spec(d).replicas as number) : 1;
  const template = isObj(spec(d).template) ? (spec(d).template as Json) : {};
  const owned = ownedBy(store, d, "ReplicaSet");
  const sameTemplate = (rs: K8sObject): boolean => {
    const t = clone(isObj(spec(rs).template) ? (spec(rs).template as Json) : {});
    if (isObj(t.metadata) && isObj(t.metadata.labels))
      delete (t.metadata.labels as Json)["pod-template-hash"];
    return canonicalJson(t) === canonicalJson(template);
  };
  let current = owned.find(sameTemplate);
  let changed = false;
  if (!current) {
    const hash = hashText(canonicalJson(template), 10);
    const name = `${d.metadata.name}-${hash}`;
    const tpl = clone(template);
    const meta = (isObj(tpl.metadata) ? tpl.metadata : (tpl.metadata = {})) as Json;
    meta.labels = { ...(isObj(meta.labels) ? meta.labels : {}), "pod-template-hash": hash };
    const selector = clone(isObj(spec(d).selector) ? (spec(d).selector as Json) : {});
    selector.matchLabels = {
      ...(isObj(selector.matchLabels) ? selector.matchLabels : {}),
      "pod-template-hash": hash,
    };
    current = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name,
        namespace: d.metadata.namespace!,
        uid: deterministicUid(`ReplicaSet/${d.metadata.namespace}/${name}/${store.counter++}/${store.rv}`),
        creationTimestamp: timestamp(store.now()),
        generation: 1,
        labels: meta.labels as Record<string, string>,
        annotations: { "deployment.kubernetes.io/desired-replicas": String(replicas) },
        ownerReferences: [ownerRef(d)],
      },
      spec: { replicas: 0, selector, template: tpl },
      status: { replicas: 0 },
    };
    store.touch(current);
    store.objects.set(storeKey(store.requireType("rs"), d.metadata.namespace, name), current);
    changed = true;
  }
  for (const rs of ownedBy(store, d, "ReplicaSet")) {
    const want = rs === current ? replicas : 0;
    if (spec(rs).replicas !== want) {
      spec(rs).replicas = want;
      rs.metadata.generation = (rs.metadata.generation ?? 1) + 1;
      store.touch(rs);
      changed = true;
    }
  }
  return changed;
}

export function syncWorkloadStatus(store: ObjectStore, w: K8sObject): boolean {
  const pods =
    w.kind === "Deployment"
      ? ownedBy(store, w, "ReplicaSet").flatMap((rs) => ownedBy(store, rs, "Pod"))
      : ownedBy(store, w, "Pod");
  const total = pods.length;
  const ready = pods.filter((p) =>
    (Array.isArray(status(p).conditions) ? (status(p).conditions as Json[]) : []).some(
      (c) => c.type === "Ready" && c.status === "True",
    ),
  ).length;
  const s = status(w);
  const want: Record<string, number> =
    w.kind === "StatefulSet"
      ? {
          replicas: total,
          readyReplicas: ready,
          currentReplicas: total,
          updatedReplicas: total,
          availableReplicas: ready,
        }
      : w.kind === "ReplicaSet"
        ? { replicas: total, fullyLabeledReplicas: total, readyReplicas: ready, availableReplicas: ready }
        : {
            replicas: total,
            updatedReplicas: total,
            readyReplicas: ready,
            availableReplicas: ready,
            unavailableReplicas: total - ready,
          };
  let changed = false;
  for (const [key, value] of Object.entries(want)) {
    const omitted = value === 0 && key !== "replicas" && key !== "availableReplicas";
    if (omitted ? s[key] !== undefined : s[key] !== value) {
      if (omitted) delete s[key];
      else s[key] = value;
      changed = true;
    }
  }
  if (changed) {
    s.observedGeneration = w.metadata.generation ?? 1;
    store.touch(w);
  }
  return changed;
}
