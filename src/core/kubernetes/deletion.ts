/**
 * What deleting each kind of object does to the data: a claim and its volume, a workload and its
 * pods, a Secret or ConfigMap, a Service, a whole namespace. Shared by `kubectl delete`, scale-downs
 * and `helm uninstall`.
 */
import type { DataLoss } from "../plan/operation.js";
import { worstLoss } from "../plan/operation.js";
import type { Analyzer } from "./context.js";
import type { ConfigData, Meta, PersistentVolumeClaim, Pod, Service, Workload } from "./inventory.js";
import { qualified } from "./inventory.js";
import { claimNamed, inNamespace, podsMounting, volumeNamed } from "./lookup.js";
import { affected, merge, missing, outcome, type Outcome } from "./outcome.js";

/** What deleting a claim does to its data: the heart of the incident. */
export function deleteClaim(a: Analyzer, claim: PersistentVolumeClaim, how: string): Outcome {
  const touches: Meta[] = [claim];
  const mounting = podsMounting(a.inv.pods, claim.namespace, claim.name);
  const notes: string[] = [];
  for (const pod of mounting) {
    const owner = pod.owners.find((o) => o.controller);
    notes.push(
      `in use by pod ${qualified(pod)}${owner ? ` (${owner.kind} ${owner.name})` : ""}: Kubernetes removes the claim only after the pod stops (pvc-protection)` +
        (owner?.kind === "StatefulSet"
          ? `; the StatefulSet then recreates the pod with a new, empty volume`
          : ""),
    );
  }
  if (!claim.volumeName) {
    return outcome({
      dataLoss: "none",
      reason: "the claim is not bound to a volume: it holds no data",
      resolved: affected("pvc", claim, "none", how, claim.bytes),
      notes,
      pods: mounting,
      deleted: [claim.uid],
      touches,
    });
  }
  const pv = volumeNamed(a.inv.volumes, claim.volumeName);
  if (!pv) {
    const gap = a.gapFor("persistentvolumes", null) ?? `volume ${claim.volumeName} was not found`;
    a.gaps.push(gap);
    return outcome({
      dataLoss: "unknown",
      reason: `bound to volume ${claim.volumeName}, whose reclaim policy is unknown (${gap}): treated as destructive`,
      resolved: affected("pvc", claim, "unknown", how, claim.bytes),
      notes,
      pods: mounting,
      deleted: [claim.uid],
      touches,
    });
  }
  touches.push(pv);
  const sc = a.inv.storageClasses.find((s) => s.name === (pv.storageClassName ?? claim.storageClassName));
  const scNote = sc
    ? sc.reclaimPolicy === pv.reclaimPolicy
      ? `StorageClass ${sc.name} reclaims with ${sc.reclaimPolicy}`
      : `StorageClass ${sc.name} reclaims with ${sc.reclaimPolicy}, but this volume was set to ${pv.reclaimPolicy}`
    : null;
  const snapshots = a.inv.snapshots
    .filter((s) => s.namespace === claim.namespace && s.claim === claim.name && s.ready)
    .filter((s) => !a.doomedSnapshots.has(s.uid))
    .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""));
  if (!snapshots.length && a.inv.gaps.some((g) => g.resource === "volumesnapshots" && g.required)) {
    const gap = a.gapFor("volumesnapshots", claim.namespace);
    if (gap) notes.push(gap);
  }
  const bytes = pv.bytes ?? claim.bytes;
  let identity = `${pv.uid}/reclaim=${pv.reclaimPolicy}`;
  let dataLoss: DataLoss;
  let pvHow: string;
  let reason: string;
  if (pv.reclaimPolicy === "Retain") {
    dataLoss = "recoverable";
    pvHow = `reclaim policy Retain: the volume stays (Released) with its data`;
    reason = `volume ${pv.name} is kept (reclaim policy Retain${scNote ? `; ${scNote}` : ""})`;
    notes.push(
      `to get it back: kubectl patch pv ${pv.name} --type json -p '[{"op":"remove","path":"/spec/claimRef"}]', then create the claim again with spec.volumeName: ${pv.name}`,
    );
  } else if (snapshots[0]) {
    const snap = snapshots[0];
    identity = `${identity}/snapshot=${snap.uid}`;
    dataLoss = "recoverable";
    pvHow = `reclaim policy ${pv.reclaimPolicy}: the volume and its disk are deleted with the claim`;
    reason = `volume ${pv.name} is deleted (reclaim policy ${pv.reclaimPolicy}), but VolumeSnapshot ${snap.name} is ready${snap.createdAt ? ` (taken ${snap.createdAt})` : ""}`;
    notes.push(
      `to get it back: create a claim with dataSource {kind: VolumeSnapshot, apiGroup: snapshot.storage.k8s.io, name: ${snap.name}}; writes after the snapshot are lost`,
    );
  } else {
    dataLoss = "destructive";
    pvHow = `reclaim policy ${pv.reclaimPolicy}: the volume and its data are deleted with the claim`;
    reason = `volume ${pv.name} and its data are deleted with the claim (reclaim policy ${pv.reclaimPolicy}${scNote ? `; ${scNote}` : ""}) and no ready VolumeSnapshot of it exists`;
  }
  return outcome({
    dataLoss,
    reason,
    resolved: affected("pvc", claim, dataLoss, how, bytes),
    cascade: [affected("pv", pv, dataLoss, `${pvHow} (${pv.source})`, bytes, identity)],
    notes,
    pods: mounting,
    deleted: [claim.uid],
    touches,
  });
}

/** What deleting a volume does: its reclaim policy decides whether the disk goes too. */
export function deleteVolume(a: Analyzer, name: string, how: string): Outcome {
  const pv = volumeNamed(a.inv.volumes, name);
  if (!pv) return missing("pv", null, name);
  const identity = `${pv.uid}/reclaim=${pv.reclaimPolicy}`;
  const claim = pv.claim ? claimNamed(a.inv.claims, pv.claim.namespace, pv.claim.name) : undefined;
  const notes =
    pv.phase === "Bound" && pv.claim
      ? [
          `bound to claim ${pv.claim.namespace}/${pv.claim.name}: Kubernetes deletes the volume only after the claim is gone (pv-protection)`,
        ]
      : [];
  const retain = pv.reclaimPolicy === "Retain";
  const dataLoss: DataLoss = retain ? "recoverable" : "destructive";
  return outcome({
    dataLoss,
    reason: retain
      ? `reclaim policy Retain: the disk stays with the storage provider (${pv.source}); a new PersistentVolume pointing at it brings the data back`
      : `reclaim policy ${pv.reclaimPolicy}: the provisioner deletes the disk (${pv.source}) with the volume`,
    resolved: affected("pv", pv, dataLoss, how, pv.bytes, identity),
    notes,
    deleted: [pv.uid],
    touches: claim ? [pv, claim] : [pv],
  });
}

export function deleteWorkload(
  a: Analyzer,
  w: Workload,
  how: string,
  orphan: boolean,
  by = "the command",
): Outcome {
  const pods = orphan ? [] : a.podsOf(w);
  const cascade = pods.map((p) => affected("pod", p, "recoverable", `deleted with ${w.kind} ${w.name}`));
  const notes: string[] = [];
  const result = outcome({
    dataLoss: "recoverable",
    reason: `its pods stop; re-creating the ${w.kind} brings them back`,
    resolved: affected(w.kind.toLowerCase(), w, "recoverable", how),
    cascade,
    notes,
    pods,
    deleted: [w.uid, ...pods.map((p) => p.uid)],
    touches: [w],
  });
  if (orphan) {
    notes.push("--cascade=orphan: its pods (and claims) are left behind without a controller");
    result.reason = `the ${w.kind} object is removed; its pods keep running without a controller`;
  }
  if (w.kind === "StatefulSet") {
    const claims = a.claimsOf(w);
    if (claims.length > 0 && w.retention?.whenDeleted === "Delete" && !orphan) {
      for (const { claim } of claims) {
        merge(
          result,
          deleteClaim(
            a,
            claim,
            `deleted with StatefulSet ${w.name} (persistentVolumeClaimRetentionPolicy.whenDeleted: Delete)`,
          ),
        );
      }
      result.reason = `its pods stop and its claims are deleted with it (persistentVolumeClaimRetentionPolicy.whenDeleted: Delete)`;
    } else if (claims.length > 0) {
      notes.push(
        `claims ${claims.map((c) => c.claim.name).join(", ")} stay (persistentVolumeClaimRetentionPolicy.whenDeleted: ${w.retention?.whenDeleted ?? "Retain"}): ${by === "the command" ? "re-creating the StatefulSet reattaches them" : by}`,
      );
      result.touches.push(...claims.map((c) => c.claim));
    }
  }
  return result;
}

export function deletePod(a: Analyzer, pod: Pod, how: string): Outcome {
  const owner = pod.owners.find((o) => o.controller);
  const loss: DataLoss = owner ? "recoverable" : "destructive";
  const result = outcome({
    dataLoss: loss,
    reason: owner
      ? `${owner.kind} ${owner.name} recreates it`
      : `no controller recreates it: the pod${pod.spec.emptyDirs.length > 0 ? " and its emptyDir data are" : " is"} gone for good`,
    resolved: affected("pod", pod, loss, how),
    pods: [pod],
    deleted: [pod.uid],
    touches: [pod],
  });
  return result;
}

export function deleteConfig(a: Analyzer, cfg: ConfigData, how: string): Outcome {
  const kindLabel = cfg.kind === "Secret" ? "secret" : "configmap";
  if (cfg.kind === "Secret" && cfg.type === "helm.sh/release.v1") {
    return outcome({
      dataLoss: "destructive",
      reason: `it is Helm's record of release ${cfg.labels.name ?? "?"} revision ${cfg.labels.version ?? "?"}: helm forgets that revision (no rollback to it, no manifest)`,
      resolved: affected(kindLabel, cfg, "destructive", how),
      deleted: [cfg.uid],
      touches: [cfg],
    });
  }
  const rel = a.releaseOf(cfg.kind, cfg);
  if (rel) {
    return outcome({
      dataLoss: "recoverable",
      reason: `rendered by Helm release ${rel.name} (revision ${rel.revision}): helm rollback ${rel.name} ${rel.revision} -n ${rel.namespace} re-creates it from the release record`,
      resolved: affected(kindLabel, cfg, "recoverable", how),
      configs: [cfg],
      deleted: [cfg.uid],
      touches: [cfg],
    });
  }
  return outcome({
    dataLoss: "destructive",
    reason: `its contents exist nowhere lifeline knows of; save them first: kubectl get ${kindLabel} ${cfg.name} -n ${cfg.namespace} -o yaml > ${cfg.name}.yaml`,
    resolved: affected(kindLabel, cfg, "destructive", how),
    configs: [cfg],
    deleted: [cfg.uid],
    touches: [cfg],
  });
}

export function deleteService(a: Analyzer, s: Service, how: string): Outcome {
  const rel = a.releaseOf("Service", s);
  return outcome({
    dataLoss: "recoverable",
    reason: rel
      ? `clients lose the address until release ${rel.name} re-creates it (helm rollback/upgrade)`
      : "clients lose the address until it is re-created",
    resolved: affected("service", s, "recoverable", how),
    services: [s],
    deleted: [s.uid],
    touches: [s],
  });
}

export function deleteNamespace(a: Analyzer, name: string): Outcome {
  const ns = a.inv.namespaces.find((n) => n.name === name);
  if (!ns) return missing("namespace", null, name);
  const result = outcome({
    dataLoss: "recoverable",
    reason: `every object in namespace ${name} is deleted`,
    resolved: affected("namespace", ns, "recoverable", "deleted"),
    deleted: [ns.uid],
    touches: [ns],
  });
  const how = `deleted with namespace ${name}`;
  for (const c of inNamespace(a.inv.claims, name)) merge(result, deleteClaim(a, c, how));
  for (const w of a.inv.workloads.filter(
    (x) => x.namespace === name && !x.owners.some((o) => o.controller),
  )) {
    const part = deleteWorkload(a, w, how, false, "they are deleted with the namespace");
    part.notes = part.notes.filter((n) => !n.startsWith("claims "));
    merge(result, part);
  }
  for (const p of inNamespace(a.inv.pods, name).filter((x) => x.owners.length === 0))
    merge(result, deletePod(a, p, how));
  for (const s of a.inv.services.filter((x) => x.namespace === name)) merge(result, deleteService(a, s, how));
  for (const c of a.inv.configs.filter((x) => x.namespace === name && x.name !== "kube-root-ca.crt")) {
    merge(result, deleteConfig(a, c, how));
  }
  for (const snap of a.inv.snapshots.filter((x) => x.namespace === name)) {
    result.cascade.push(
      affected(
        "volumesnapshot",
        snap,
        "destructive",
        `${how}: with deletionPolicy Delete its content goes too`,
        snap.restoreSize,
      ),
    );
    result.dataLoss = worstLoss([result, { dataLoss: "destructive" }]);
    result.notes.push(
      `VolumeSnapshot ${snap.name} is deleted with the namespace: it cannot restore anything afterwards`,
    );
  }
  for (const resource of ["persistentvolumeclaims", "secrets", "statefulsets", "deployments", "pods"]) {
    const gap = a.gapFor(resource, name);
    if (gap) {
      a.gaps.push(gap);
      result.dataLoss = "unknown";
    }
  }
  const pods = result.cascade.filter((c) => c.type === "pod").length;
  result.cascade = result.cascade.filter((c) => c.type !== "pod");
  result.notes.unshift(
    `namespace deletion is decided once for everything in it${pods > 0 ? ` (and its ${pods} pods)` : ""}; finalizers may keep it Terminating for a while`,
  );
  return result;
}
