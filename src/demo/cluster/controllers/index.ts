/** The controllers, run to a fixed point after every change. */
import type { ObjectStore } from "../store.js";
import { bindClaims, reclaimReleased } from "./volumes.js";
import { syncDeployment, syncReplicaSet, syncStatefulSet, syncWorkloadStatus } from "./workloads.js";

export function reconcile(store: ObjectStore): void {
  for (let i = 0; i < 20; i++) {
    let changed = false;
    for (const d of store.all("Deployment")) changed = syncDeployment(store, d) || changed;
    for (const rs of store.all("ReplicaSet")) changed = syncReplicaSet(store, rs) || changed;
    for (const sts of store.all("StatefulSet")) changed = syncStatefulSet(store, sts) || changed;
    changed = bindClaims(store) || changed;
    changed = reclaimReleased(store) || changed;
    for (const w of [...store.all("StatefulSet"), ...store.all("ReplicaSet"), ...store.all("Deployment")]) {
      changed = syncWorkloadStatus(store, w) || changed;
    }
    if (!changed) return;
  }
}
