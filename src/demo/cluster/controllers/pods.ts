/** Pods the workload controllers create: placed on a node near their volumes, and running at once. */
import { createHash } from "node:crypto";
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

export function createPod(
  store: ObjectStore,
  owner: K8sObject,
  podName: string,
  ordinal: number | undefined,
  claims: Array<{ volume: string; claim: string }>,
): void {
  const template = isObj(spec(owner).template) ? (spec(owner).template as Json) : {};
  const tplMeta = isObj(template.metadata) ? template.metadata : {};
  const podSpec = clone(isObj(template.spec) ? template.spec : {});
  const ns = owner.metadata.namespace!;
  const labels: Record<string, string> = { ...(tplMeta.labels as Record<string, string> | undefined) };
  if (owner.kind === "StatefulSet") {
    labels["apps.kubernetes.io/pod-index"] = String(ordinal);
    labels["controller-revision-hash"] =
      str(status(owner).updateRevision) ?? `${owner.metadata.name}-${hashText(canonicalJson(template), 10)}`;
    labels["statefulset.kubernetes.io/pod-name"] = podName;
    podSpec.hostname = podName;
    if (spec(owner).serviceName) podSpec.subdomain = spec(owner).serviceName;
  }
  const volumes = Array.isArray(podSpec.volumes) ? (podSpec.volumes as unknown[]) : [];
  podSpec.volumes = [
    ...claims.map((c) => ({ name: c.volume, persistentVolumeClaim: { claimName: c.claim } })),
    ...volumes,
  ];
  podSpec.restartPolicy ??= "Always";
  podSpec.schedulerName ??= "default-scheduler";
  podSpec.serviceAccountName ??= "default";
  podSpec.nodeName = chooseNode(
    store,
    ns,
    claims.map((c) => c.claim),
    podName,
  );
  const pod: K8sObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podName,
      generateName: owner.kind === "StatefulSet" ? `${owner.metadata.name}-` : `${owner.metadata.name}-`,
      namespace: ns,
      uid: deterministicUid(`Pod/${ns}/${podName}/${store.counter++}/${store.rv}`),
      creationTimestamp: timestamp(store.now()),
      labels,
      ...(isObj(tplMeta.annotations)
        ? { annotations: clone(tplMeta.annotations as Record<string, string>) }
        : {}),
      ownerReferences: [ownerRef(owner)],
    },
    spec: podSpec,
    status: {},
  };
  if (!podSpec.nodeName) delete podSpec.nodeName;
  pod.status = runningStatus(store, pod);
  store.touch(pod);
  store.objects.set(storeKey(store.requireType("pod"), ns, podName), pod);
}

export function chooseNode(
  store: ObjectStore,
  namespace: string,
  claims: string[],
  seed: string,
): string | undefined {
  const nodes = store.all("Node").filter((n) => !spec(n).unschedulable);
  if (nodes.length === 0) return undefined;
  for (const claimName of claims) {
    const claim = store.find("PersistentVolumeClaim", claimName, namespace);
    const selected = claim?.metadata.annotations?.["volume.kubernetes.io/selected-node"];
    if (selected && nodes.some((n) => n.metadata.name === selected)) return selected;
    const pv =
      claim && str(spec(claim).volumeName)
        ? store.find("PersistentVolume", str(spec(claim).volumeName)!)
        : undefined;
    const zone = pv ? volumeZone(pv) : undefined;
    const inZone = zone
      ? nodes.find((n) => n.metadata.labels?.["topology.kubernetes.io/zone"] === zone)
      : undefined;
    if (inZone) return inZone.metadata.name;
  }
  const index = createHash("sha256").update(seed).digest()[0]! % nodes.length;
  return nodes[index]!.metadata.name;
}

export function runningStatus(store: ObjectStore, pod: K8sObject): Json {
  const at = timestamp(store.now());
  const nodeName = str(spec(pod).nodeName);
  if (!nodeName) {
    return {
      phase: "Pending",
      conditions: [
        { type: "PodScheduled", status: "False", reason: "Unschedulable", lastTransitionTime: at },
      ],
      qosClass: "BestEffort",
    };
  }
  const node = store.find("Node", nodeName);
  const addresses = node && Array.isArray(status(node).addresses) ? (status(node).addresses as Json[]) : [];
  const hostIP = str(addresses.find((a) => a.type === "InternalIP")?.address) ?? "10.0.0.1";
  const nodeIndex = store.all("Node").findIndex((n) => n.metadata.name === nodeName);
  const podIP = `10.244.${nodeIndex + 1}.${20 + (store.counter++ % 200)}`;
  const containers = Array.isArray(spec(pod).containers) ? (spec(pod).containers as Json[]) : [];
  return {
    phase: "Running",
    conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map(
      (type) => ({
        type,
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: at,
      }),
    ),
    hostIP,
    hostIPs: [{ ip: hostIP }],
    podIP,
    podIPs: [{ ip: podIP }],
    startTime: at,
    qosClass: "BestEffort",
    containerStatuses: containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: "",
      containerID: `containerd://${createHash("sha256")
        .update(`${pod.metadata.uid}/${String(c.name)}`)
        .digest("hex")}`,
      ready: true,
      restartCount: 0,
      started: true,
      state: { running: { startedAt: at } },
    })),
  };
}

function volumeZone(pv: K8sObject): string | undefined {
  const affinity = spec(pv).nodeAffinity;
  const terms =
    isObj(affinity) && isObj(affinity.required) && Array.isArray(affinity.required.nodeSelectorTerms)
      ? (affinity.required.nodeSelectorTerms as Json[])
      : [];
  for (const term of terms) {
    for (const expr of Array.isArray(term.matchExpressions) ? (term.matchExpressions as Json[]) : []) {
      if (String(expr.key).endsWith("/zone") && Array.isArray(expr.values)) return str(expr.values[0]);
    }
  }
  return undefined;
}
