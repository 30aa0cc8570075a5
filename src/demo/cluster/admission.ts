/**
 * Admission as the simulated API server does it: the defaults the real one adds on create (a
 * default StorageClass, finalizers, a ClusterIP, a StatefulSet's retention policy …) and the
 * changes it refuses on update.
 */
import { canonicalJson, isObj, spec, type K8sObject } from "./model.js";
import type { ObjectStore } from "./store.js";

/** What admission and defaulting would add on create. */
export function applyDefaults(store: ObjectStore, obj: K8sObject): void {
  const s = spec(obj);
  switch (obj.kind) {
    case "Namespace":
      obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name };
      s.finalizers ??= ["kubernetes"];
      obj.status = { phase: "Active" };
      break;
    case "PersistentVolumeClaim": {
      if (s.storageClassName === undefined && s.volumeName === undefined) {
        const def = store.defaultStorageClass();
        if (def) s.storageClassName = def.metadata.name;
      }
      s.volumeMode ??= "Filesystem";
      obj.metadata.finalizers ??= ["kubernetes.io/pvc-protection"];
      obj.status = { phase: "Pending" };
      break;
    }
    case "PersistentVolume":
      s.persistentVolumeReclaimPolicy ??= "Retain";
      s.volumeMode ??= "Filesystem";
      obj.metadata.finalizers ??= ["kubernetes.io/pv-protection"];
      obj.status = { phase: s.claimRef ? "Bound" : "Available" };
      break;
    case "StatefulSet":
      s.replicas ??= 1;
      s.podManagementPolicy ??= "OrderedReady";
      s.revisionHistoryLimit ??= 10;
      s.updateStrategy ??= { type: "RollingUpdate", rollingUpdate: { partition: 0 } };
      s.persistentVolumeClaimRetentionPolicy = {
        whenDeleted: "Retain",
        whenScaled: "Retain",
        ...(isObj(s.persistentVolumeClaimRetentionPolicy) ? s.persistentVolumeClaimRetentionPolicy : {}),
      };
      obj.status = { replicas: 0, availableReplicas: 0 };
      break;
    case "Deployment":
    case "ReplicaSet":
      s.replicas ??= 1;
      s.revisionHistoryLimit ??= 10;
      obj.status = {};
      break;
    case "Pod":
      s.restartPolicy ??= "Always";
      s.schedulerName ??= "default-scheduler";
      s.serviceAccountName ??= "default";
      obj.status = { phase: "Pending" };
      break;
    case "Service":
      s.type ??= "ClusterIP";
      if (s.clusterIP === undefined) {
        s.clusterIP = `10.96.${100 + (store.counter % 150)}.${10 + (store.rv % 240)}`;
        s.clusterIPs = [s.clusterIP];
      }
      s.sessionAffinity ??= "None";
      s.ipFamilies ??= ["IPv4"];
      s.ipFamilyPolicy ??= "SingleStack";
      s.internalTrafficPolicy ??= "Cluster";
      obj.status = { loadBalancer: {} };
      break;
    case "Secret":
      delete obj.spec;
      obj.type ??= "Opaque";
      break;
    case "ConfigMap":
    case "ServiceAccount":
    case "StorageClass":
    case "VolumeSnapshotClass":
      delete obj.spec;
      if (obj.kind === "StorageClass") {
        obj.reclaimPolicy ??= "Delete";
        obj.volumeBindingMode ??= "Immediate";
      }
      break;
  }
}

/** Changes the real API server refuses on update; returns the message, or undefined. */
export function immutableChange(current: K8sObject, next: K8sObject): string | undefined {
  const a = isObj(current.spec) ? current.spec : {};
  const b = isObj(next.spec) ? next.spec : {};
  const same = (field: string): boolean => canonicalJson(a[field]) === canonicalJson(b[field]);
  if (current.kind === "StatefulSet") {
    for (const field of ["selector", "volumeClaimTemplates", "serviceName", "podManagementPolicy"]) {
      if (!same(field)) {
        return `spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`;
      }
    }
  }
  if (current.kind === "PersistentVolumeClaim" && a.volumeName !== undefined) {
    for (const field of ["storageClassName", "volumeName", "accessModes", "volumeMode"]) {
      if (!same(field))
        return `spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims`;
    }
  }
  if (current.kind === "Deployment" && !same("selector"))
    return "spec.selector: Invalid value: field is immutable";
  return undefined;
}
