/**
 * The volume controllers: claims bind to the volume they name or to a newly provisioned one
 * (dynamic provisioning, WaitForFirstConsumer), and Released volumes are reclaimed by policy.
 */
import { createHash } from "node:crypto";
import {
  clone,
  deterministicUid,
  isObj,
  podClaimNames,
  spec,
  status,
  storeKey,
  str,
  timestamp,
  type Json,
  type K8sObject,
} from "../model.js";
import type { ObjectStore } from "../store.js";
import { deleteWithEffects } from "./deletion.js";

/**
 * The PV controller: a Released volume whose reclaim policy becomes Delete is deleted at once
 * (with its disk); Recycle makes it Available again.
 */
export function reclaimReleased(store: ObjectStore): boolean {
  let changed = false;
  const at = timestamp(store.now());
  for (const pv of store.all("PersistentVolume")) {
    const phase = isObj(pv.status) ? pv.status.phase : undefined;
    if (phase !== "Released" && phase !== "Failed") continue;
    const policy = spec(pv).persistentVolumeReclaimPolicy;
    if (policy === "Delete") {
      deleteWithEffects(store, pv, "Background", at);
      changed = true;
    } else if (policy === "Recycle") {
      delete spec(pv).claimRef;
      pv.status = { phase: "Available", lastPhaseTransitionTime: at };
      store.touch(pv);
      changed = true;
    }
  }
  return changed;
}

/** Binds pending claims: to the volume they name, or to a newly provisioned one (dynamic provisioning). */
export function bindClaims(store: ObjectStore): boolean {
  let changed = false;
  for (const claim of store.all("PersistentVolumeClaim")) {
    if (status(claim).phase !== "Pending") continue;
    const s = spec(claim);
    const ns = claim.metadata.namespace!;
    const consumer = store.all("Pod", ns).find((p) => podClaimNames(p).includes(claim.metadata.name));
    const volumeName = str(s.volumeName);
    if (volumeName) {
      const pv = store.find("PersistentVolume", volumeName);
      if (!pv) continue;
      const ref = spec(pv).claimRef;
      const free = status(pv).phase === "Available" && !isObj(ref);
      const reserved =
        isObj(ref) &&
        ref.name === claim.metadata.name &&
        ref.namespace === ns &&
        (ref.uid === undefined || ref.uid === claim.metadata.uid);
      if (!free && !reserved) continue;
      bind(store, claim, pv, false, str(spec(consumer ?? claim).nodeName));
      changed = true;
      continue;
    }
    const scName = str(s.storageClassName);
    const sc = scName ? store.find("StorageClass", scName) : undefined;
    if (!sc || sc.provisioner === "kubernetes.io/no-provisioner") continue;
    if (sc.volumeBindingMode === "WaitForFirstConsumer" && !consumer) continue;
    const nodeName = consumer ? str(spec(consumer).nodeName) : undefined;
    const node = nodeName ? store.find("Node", nodeName) : undefined;
    const zone = node?.metadata.labels?.["topology.kubernetes.io/zone"];
    const driver = str(sc.provisioner) ?? "ebs.csi.aws.com";
    const requests = isObj(s.resources) && isObj(s.resources.requests) ? s.resources.requests : {};
    const pv: K8sObject = {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: {
        name: `pvc-${claim.metadata.uid}`,
        uid: deterministicUid(`PersistentVolume/pvc-${claim.metadata.uid}/${store.counter++}`),
        creationTimestamp: timestamp(store.now()),
        annotations: {
          "pv.kubernetes.io/provisioned-by": driver,
          "volume.kubernetes.io/provisioner-deletion-secret-name": "",
          "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
        },
        finalizers: ["external-provisioner.volume.kubernetes.io/finalizer", "kubernetes.io/pv-protection"],
      },
      spec: {
        accessModes: clone(s.accessModes ?? ["ReadWriteOnce"]),
        capacity: { storage: str(requests.storage) ?? "1Gi" },
        csi: {
          driver,
          fsType: "ext4",
          volumeAttributes: {
            "storage.kubernetes.io/csiProvisionerIdentity": `1767225600000-8081-${driver}`,
          },
          volumeHandle: `vol-${createHash("sha256").update(String(claim.metadata.uid)).digest("hex").slice(0, 17)}`,
        },
        ...(zone
          ? {
              nodeAffinity: {
                required: {
                  nodeSelectorTerms: [
                    {
                      matchExpressions: [
                        { key: "topology.kubernetes.io/zone", operator: "In", values: [zone] },
                      ],
                    },
                  ],
                },
              },
            }
          : {}),
        persistentVolumeReclaimPolicy: str(sc.reclaimPolicy) ?? "Delete",
        storageClassName: sc.metadata.name,
        volumeMode: str(s.volumeMode) ?? "Filesystem",
      },
      status: { phase: "Available" },
    };
    store.touch(pv);
    store.objects.set(storeKey(store.requireType("pv"), undefined, pv.metadata.name), pv);
    bind(store, claim, pv, true, nodeName);
    changed = true;
  }
  return changed;
}

export function bind(
  store: ObjectStore,
  claim: K8sObject,
  pv: K8sObject,
  provisioned: boolean,
  nodeName: string | undefined,
): void {
  const at = timestamp(store.now());
  spec(pv).claimRef = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    name: claim.metadata.name,
    namespace: claim.metadata.namespace,
    resourceVersion: claim.metadata.resourceVersion,
    uid: claim.metadata.uid,
  };
  pv.status = { phase: "Bound", lastPhaseTransitionTime: at };
  store.touch(pv);
  spec(claim).volumeName = pv.metadata.name;
  const annotations: Record<string, string> = {
    ...claim.metadata.annotations,
    "pv.kubernetes.io/bind-completed": "yes",
    "pv.kubernetes.io/bound-by-controller": "yes",
  };
  if (provisioned) {
    const driver = str(isObj(spec(pv).csi) ? (spec(pv).csi as Json).driver : undefined) ?? "";
    annotations["volume.beta.kubernetes.io/storage-provisioner"] = driver;
    annotations["volume.kubernetes.io/storage-provisioner"] = driver;
    if (nodeName) annotations["volume.kubernetes.io/selected-node"] = nodeName;
  }
  claim.metadata.annotations = annotations;
  claim.status = {
    phase: "Bound",
    accessModes: clone(spec(pv).accessModes),
    capacity: clone(spec(pv).capacity),
  };
  store.touch(claim);
}
