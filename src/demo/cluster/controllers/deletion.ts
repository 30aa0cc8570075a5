/**
 * What deletion does after the object is gone, as Kubernetes' controllers would do it at once:
 * a claim's volume follows its reclaim policy (Delete, Retain, Recycle), a volume's claim is Lost,
 * a StatefulSet takes its claims when its retention policy says `whenDeleted: Delete`, a namespace
 * takes its contents, a VolumeSnapshot its content (deletionPolicy Delete), and dependents are
 * garbage-collected by ownerReferences (or orphaned).
 */
import {
  isObj,
  spec,
  status,
  str,
  storeKey,
  typeOfObject,
  type Json,
  type K8sObject,
  type Propagation,
} from "../model.js";
import type { ObjectStore } from "../store.js";

/**
 * Deletions refused by admission (object uids), per store, while one request is applied: the
 * simulated controllers leave these objects in place, as a real controller whose DELETE a
 * validating webhook denied would.
 */
export const DENIED_DELETIONS = new WeakMap<ObjectStore, ReadonlySet<string>>();

/**
 * Removes an object and applies what Kubernetes does after it: volumes follow their claim by
 * reclaim policy, StatefulSet claims follow `whenDeleted`, a namespace takes its contents,
 * dependents are garbage-collected (or orphaned).
 */
export function deleteWithEffects(
  store: ObjectStore,
  obj: K8sObject,
  propagation: Propagation,
  deletedAt: string,
): void {
  const type = typeOfObject(obj);
  if (!type) return;
  const key = storeKey(type, obj.metadata.namespace, obj.metadata.name);
  if (store.objects.get(key) !== obj) return;
  // A deletion a controller would make but a validating webhook refused (webhooks.ts): it stays.
  if (obj.metadata.uid !== undefined && DENIED_DELETIONS.get(store)?.has(obj.metadata.uid)) return;
  store.objects.delete(key);
  store.touch(obj);

  switch (obj.kind) {
    case "PersistentVolumeClaim":
      releaseVolume(store, obj, deletedAt);
      break;
    case "PersistentVolume": {
      const ref = isObj(spec(obj).claimRef) ? (spec(obj).claimRef as Json) : undefined;
      const claim = ref
        ? store.find("PersistentVolumeClaim", str(ref.name) ?? "", str(ref.namespace))
        : undefined;
      if (claim && (ref?.uid === undefined || ref.uid === claim.metadata.uid)) {
        status(claim).phase = "Lost";
        store.touch(claim);
      }
      break;
    }
    case "StatefulSet": {
      const policy = spec(obj).persistentVolumeClaimRetentionPolicy;
      if (propagation !== "Orphan" && isObj(policy) && policy.whenDeleted === "Delete") {
        for (const claim of statefulSetClaims(store, obj))
          deleteWithEffects(store, claim, "Background", deletedAt);
      }
      break;
    }
    case "Namespace":
      for (const o of [...store.objects.values()]) {
        if (o.metadata.namespace === obj.metadata.name) deleteWithEffects(store, o, "Background", deletedAt);
      }
      if ([...store.objects.values()].some((o) => o.metadata.namespace === obj.metadata.name)) {
        // Content the namespace controller could not delete: the namespace stays Terminating.
        obj.metadata.deletionTimestamp ??= deletedAt;
        status(obj).phase = "Terminating";
        store.objects.set(key, obj);
        store.touch(obj);
        return;
      }
      break;
    case "VolumeSnapshot": {
      const contentName = str(status(obj).boundVolumeSnapshotContentName);
      const content = contentName ? store.find("VolumeSnapshotContent", contentName) : undefined;
      if (content && spec(content).deletionPolicy === "Delete")
        deleteWithEffects(store, content, "Background", deletedAt);
      break;
    }
  }

  const uid = obj.metadata.uid;
  for (const dependent of [...store.objects.values()]) {
    const refs = dependent.metadata.ownerReferences ?? [];
    if (!refs.some((r) => r.uid === uid)) continue;
    const othersAlive = refs.some((r) => r.uid !== uid && store.findByUid(r.uid) !== undefined);
    if (propagation === "Orphan" || othersAlive) {
      const rest = refs.filter((r) => r.uid !== uid);
      if (rest.length > 0) dependent.metadata.ownerReferences = rest;
      else delete dependent.metadata.ownerReferences;
      store.touch(dependent);
    } else {
      deleteWithEffects(store, dependent, "Background", deletedAt);
    }
  }
}

/** The claim is gone: its volume is deleted (Delete), kept Released (Retain) or made Available (Recycle). */
export function releaseVolume(store: ObjectStore, claim: K8sObject, at: string): void {
  const volumeName = str(spec(claim).volumeName);
  const pv =
    (volumeName ? store.find("PersistentVolume", volumeName) : undefined) ??
    store.all("PersistentVolume").find((v) => {
      const ref = spec(v).claimRef;
      return isObj(ref) && ref.uid === claim.metadata.uid;
    });
  if (!pv) return;
  const ref = spec(pv).claimRef;
  if (!isObj(ref) || ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace) return;
  if (ref.uid !== undefined && ref.uid !== claim.metadata.uid) return;
  const policy = spec(pv).persistentVolumeReclaimPolicy ?? "Retain";
  if (policy === "Delete") {
    deleteWithEffects(store, pv, "Background", at);
  } else if (policy === "Recycle") {
    delete spec(pv).claimRef;
    pv.status = { phase: "Available", lastPhaseTransitionTime: at };
    store.touch(pv);
  } else {
    pv.status = { phase: "Released", lastPhaseTransitionTime: at };
    store.touch(pv);
  }
}

export function statefulSetClaims(store: ObjectStore, sts: K8sObject, ordinal?: number): K8sObject[] {
  const templates = spec(sts).volumeClaimTemplates;
  if (!Array.isArray(templates)) return [];
  const claims: K8sObject[] = [];
  for (const t of templates) {
    const tplName = isObj(t) && isObj(t.metadata) ? str(t.metadata.name) : undefined;
    if (!tplName) continue;
    const prefix = `${tplName}-${sts.metadata.name}-`;
    for (const c of store.all("PersistentVolumeClaim", sts.metadata.namespace)) {
      const rest = c.metadata.name.slice(prefix.length);
      if (
        c.metadata.name.startsWith(prefix) &&
        /^\d+$/.test(rest) &&
        (ordinal === undefined || Number(rest) === ordinal)
      ) {
        claims.push(c);
      }
    }
  }
  return claims;
}
