/**
 * The blast radius of a kubectl or helm command, decided from an inventory of the cluster. Pure:
 * the kubernetes adapter reads the cluster, this decides what goes, whether it can come back, and
 * who depends on it. Every decision that lacks a fact fails closed (`unknown`).
 */
import type { DataLoss } from "../plan/operation.js";
import { worstLoss } from "../plan/operation.js";
import type { AffectedObject, Dependent, PlannedOperation } from "../plan/policy.js";
import type { HelmCommand, KubectlCommand, ParsedCommand, ResourceKind } from "../k8s-command.js";
import { canonicalCommand, displayCommand, isUnknown } from "../k8s-command.js";
import { bindingCovers, bindingTouches } from "./binding.js";
import { findDependents } from "./dependents.js";
import type {
  ConfigData,
  HelmRelease,
  Inventory,
  Meta,
  PersistentVolumeClaim,
  Pod,
  ReleaseResource,
  Service,
  Workload,
} from "./inventory.js";
import { qualified } from "./inventory.js";
import { SelectorError, matchesSelector, parseSelector, matchesRequirements } from "./selector.js";

/** How lifeline.yaml binds an asset to Kubernetes resources. */
export interface AssetBinding {
  asset: string;
  namespace: string;
  release: string | null;
  pvcSelector: string | null;
}

/** A resource named in a manifest given with `kubectl delete -f`. */
export interface ManifestResource {
  kind: string;
  name: string;
  namespace: string | null;
  file: string;
}

export interface K8sAnalysis {
  operations: PlannedOperation[];
  dependents: Dependent[];
  /** Asset name → indexes of the operations that touch its resources. */
  assets: Record<string, number[]>;
  /** Indexes of operations that touch data no asset is bound to. */
  unbound: number[];
  /** Facts that could not be read and that the verdict depends on. */
  gaps: string[];
}

const READ_VERBS = new Set([
  "get",
  "describe",
  "logs",
  "top",
  "explain",
  "version",
  "api-resources",
  "api-versions",
  "cluster-info",
  "diff",
  "auth",
  "config",
  "events",
  "wait",
]);

const HELM_READS = new Set([
  "list",
  "ls",
  "status",
  "history",
  "hist",
  "get",
  "show",
  "inspect",
  "template",
  "search",
  "repo",
  "version",
  "env",
  "lint",
  "verify",
  "dependency",
  "dep",
  "completion",
  "help",
]);

/** The names a plan shows for resource kinds. */
const DISPLAY: Record<ResourceKind, string> = {
  persistentvolumeclaims: "pvc",
  persistentvolumes: "pv",
  statefulsets: "statefulset",
  deployments: "deployment",
  pods: "pod",
  namespaces: "namespace",
  secrets: "secret",
  configmaps: "configmap",
  services: "service",
  jobs: "job",
  cronjobs: "cronjob",
  nodes: "node",
  storageclasses: "storageclass",
  volumesnapshots: "volumesnapshot",
  replicasets: "replicaset",
  daemonsets: "daemonset",
};

const KIND_TO_RESOURCE: Record<string, ResourceKind> = {
  PersistentVolumeClaim: "persistentvolumeclaims",
  PersistentVolume: "persistentvolumes",
  StatefulSet: "statefulsets",
  Deployment: "deployments",
  Pod: "pods",
  Namespace: "namespaces",
  Secret: "secrets",
  ConfigMap: "configmaps",
  Service: "services",
  Job: "jobs",
  CronJob: "cronjobs",
  Node: "nodes",
  StorageClass: "storageclasses",
  VolumeSnapshot: "volumesnapshots",
  ReplicaSet: "replicasets",
  DaemonSet: "daemonsets",
};

const CLUSTER_SCOPED = new Set<ResourceKind>(["persistentvolumes", "namespaces", "nodes", "storageclasses"]);

export function resourceOfKind(kind: string): ResourceKind | null {
  return KIND_TO_RESOURCE[kind] ?? null;
}

interface Outcome {
  dataLoss: DataLoss;
  reason: string;
  resolved: AffectedObject | null;
  cascade: AffectedObject[];
  notes: string[];
  /** Objects whose loss or deletion reaches dependents. */
  pods: Pod[];
  services: Service[];
  configs: ConfigData[];
  /** Objects (uids) the command itself deletes: not reported as dependents. */
  deleted: string[];
  /** Metas the outcome touches, for binding to assets. */
  touches: Meta[];
}

function outcome(partial: Partial<Outcome> & Pick<Outcome, "dataLoss" | "reason">): Outcome {
  return {
    resolved: null,
    cascade: [],
    notes: [],
    pods: [],
    services: [],
    configs: [],
    deleted: [],
    touches: [],
    ...partial,
  };
}

function affected(
  type: string,
  meta: Pick<Meta, "name" | "namespace" | "uid">,
  dataLoss: DataLoss,
  how: string,
  bytes: number | null = null,
  identity: string = meta.uid,
): AffectedObject {
  return { type, name: qualified(meta), identity, rows: null, rowsExact: false, bytes, dataLoss, how };
}

class Analyzer {
  /** Snapshots the command itself deletes: they cannot bring a claim back. */
  doomedSnapshots = new Set<string>();

  constructor(
    readonly inv: Inventory,
    readonly gaps: string[],
  ) {}

  gapFor(resource: string, namespace: string | null): string | null {
    const g = this.inv.gaps.find(
      (x) =>
        x.resource === resource && (x.namespace === null || namespace === null || x.namespace === namespace),
    );
    return g ? `${resource}${g.namespace ? ` in ${g.namespace}` : ""} could not be read: ${g.reason}` : null;
  }

  // ---------------------------------------------------------------- claims and volumes

  /** What deleting a claim does to its data: the heart of the incident. */
  claim(claim: PersistentVolumeClaim, how: string): Outcome {
    const touches: Meta[] = [claim];
    const mounting = this.inv.pods.filter(
      (p) => p.namespace === claim.namespace && p.spec.claims.includes(claim.name),
    );
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
    const pv = this.inv.volumes.find((v) => v.name === claim.volumeName);
    if (!pv) {
      const gap = this.gapFor("persistentvolumes", null) ?? `volume ${claim.volumeName} was not found`;
      this.gaps.push(gap);
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
    const sc = this.inv.storageClasses.find(
      (s) => s.name === (pv.storageClassName ?? claim.storageClassName),
    );
    const scNote = sc
      ? sc.reclaimPolicy === pv.reclaimPolicy
        ? `StorageClass ${sc.name} reclaims with ${sc.reclaimPolicy}`
        : `StorageClass ${sc.name} reclaims with ${sc.reclaimPolicy}, but this volume was set to ${pv.reclaimPolicy}`
      : null;
    const snapshots = this.inv.snapshots
      .filter((s) => s.namespace === claim.namespace && s.claim === claim.name && s.ready)
      .filter((s) => !this.doomedSnapshots.has(s.uid))
      .sort((a, b) => (b.createdAt ?? "").localeCompare(a.createdAt ?? ""));
    if (!snapshots.length && this.inv.gaps.some((g) => g.resource === "volumesnapshots" && g.required)) {
      const gap = this.gapFor("volumesnapshots", claim.namespace);
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

  volume(name: string, how: string): Outcome {
    const pv = this.inv.volumes.find((v) => v.name === name);
    if (!pv) return this.missing("pv", null, name);
    const identity = `${pv.uid}/reclaim=${pv.reclaimPolicy}`;
    const claim = pv.claim
      ? this.inv.claims.find((c) => c.namespace === pv.claim?.namespace && c.name === pv.claim.name)
      : undefined;
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

  // ---------------------------------------------------------------- workloads

  private podsOf(w: Workload): Pod[] {
    return this.inv.pods.filter(
      (p) =>
        p.namespace === w.namespace &&
        (p.owners.some((o) => o.uid === w.uid) ||
          (w.kind !== "StatefulSet" && w.selector !== null && this.selects(w.selector, p))),
    );
  }

  private selects(selector: string, pod: Pod): boolean {
    try {
      return matchesSelector(selector, pod.spec.labels);
    } catch {
      return false;
    }
  }

  /** Claims created from a StatefulSet's volumeClaimTemplates: <template>-<set>-<ordinal>. */
  claimsOf(sts: Workload): { claim: PersistentVolumeClaim; ordinal: number }[] {
    const out: { claim: PersistentVolumeClaim; ordinal: number }[] = [];
    for (const c of this.inv.claims) {
      if (c.namespace !== sts.namespace) continue;
      for (const t of sts.claimTemplates) {
        const prefix = `${t}-${sts.name}-`;
        if (c.name.startsWith(prefix) && /^[0-9]+$/.test(c.name.slice(prefix.length))) {
          out.push({ claim: c, ordinal: Number(c.name.slice(prefix.length)) });
        }
      }
    }
    return out.sort((a, b) => a.claim.name.localeCompare(b.claim.name));
  }

  workloadDelete(w: Workload, how: string, orphan: boolean, by = "the command"): Outcome {
    const pods = orphan ? [] : this.podsOf(w);
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
      const claims = this.claimsOf(w);
      if (claims.length > 0 && w.retention?.whenDeleted === "Delete" && !orphan) {
        for (const { claim } of claims) {
          this.merge(
            result,
            this.claim(
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

  podDelete(pod: Pod, how: string): Outcome {
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

  scale(w: Workload, replicas: number): Outcome {
    const current = w.replicas ?? 1;
    if (replicas >= current) {
      return outcome({
        dataLoss: "none",
        reason: `scales ${w.kind} ${w.name} from ${current} to ${replicas} replicas: nothing stops`,
        resolved: affected(w.kind.toLowerCase(), w, "none", "scaled"),
        touches: [w],
      });
    }
    const pods = this.podsOf(w).filter((p) => {
      if (w.kind !== "StatefulSet") return true;
      const ordinal = Number(p.name.slice(w.name.length + 1));
      return Number.isInteger(ordinal) && ordinal >= replicas;
    });
    const result = outcome({
      dataLoss: "recoverable",
      reason: `scales ${w.kind} ${w.name} from ${current} to ${replicas} replicas: ${replicas === 0 ? "every pod stops" : `${current - replicas} pod(s) stop`}; scaling back brings them back`,
      resolved: affected(w.kind.toLowerCase(), w, "recoverable", `scaled to ${replicas}`),
      cascade: (w.kind === "StatefulSet" ? pods : pods.slice(0, current - replicas)).map((p) =>
        affected("pod", p, "recoverable", "stopped by the scale-down"),
      ),
      pods,
      touches: [w],
    });
    if (w.kind === "StatefulSet") {
      const claims = this.claimsOf(w).filter((c) => c.ordinal >= replicas);
      if (claims.length > 0 && w.retention?.whenScaled === "Delete") {
        for (const { claim } of claims) {
          this.merge(
            result,
            this.claim(
              claim,
              "deleted by the scale-down (persistentVolumeClaimRetentionPolicy.whenScaled: Delete)",
            ),
          );
        }
      } else if (claims.length > 0) {
        result.notes.push(
          `claims ${claims.map((c) => c.claim.name).join(", ")} stay (persistentVolumeClaimRetentionPolicy.whenScaled: ${w.retention?.whenScaled ?? "Retain"})`,
        );
        result.touches.push(...claims.map((c) => c.claim));
      }
    }
    return result;
  }

  // ---------------------------------------------------------------- configuration

  /** The release as Helm sees it: its last revision, whatever its status; none once uninstalled. */
  currentRelease(name: string, namespace: string): HelmRelease | undefined {
    const last = this.inv.releases
      .filter((r) => r.name === name && r.namespace === namespace)
      .sort((a, b) => b.revision - a.revision)[0];
    return last && last.status !== "uninstalled" ? last : undefined;
  }

  /** The current release whose manifest renders this object, if any. */
  releaseOf(kind: string, meta: Pick<Meta, "name" | "namespace">): HelmRelease | undefined {
    const names = new Set(this.inv.releases.map((r) => `${r.namespace}/${r.name}`));
    for (const key of names) {
      const [ns, name] = key.split("/") as [string, string];
      const rel = this.currentRelease(name, ns);
      if (
        rel?.resources.some(
          (r) => r.kind === kind && r.name === meta.name && (r.namespace ?? rel.namespace) === meta.namespace,
        )
      ) {
        return rel;
      }
    }
    return undefined;
  }

  configDelete(cfg: ConfigData, how: string): Outcome {
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
    const rel = this.releaseOf(cfg.kind, cfg);
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

  serviceDelete(s: Service, how: string): Outcome {
    const rel = this.releaseOf("Service", s);
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

  // ---------------------------------------------------------------- namespaces and releases

  namespaceDelete(name: string): Outcome {
    const ns = this.inv.namespaces.find((n) => n.name === name);
    if (!ns) return this.missing("namespace", null, name);
    const result = outcome({
      dataLoss: "recoverable",
      reason: `every object in namespace ${name} is deleted`,
      resolved: affected("namespace", ns, "recoverable", "deleted"),
      deleted: [ns.uid],
      touches: [ns],
    });
    const how = `deleted with namespace ${name}`;
    for (const c of this.inv.claims.filter((x) => x.namespace === name))
      this.merge(result, this.claim(c, how));
    for (const w of this.inv.workloads.filter(
      (x) => x.namespace === name && !x.owners.some((o) => o.controller),
    )) {
      const part = this.workloadDelete(w, how, false, "they are deleted with the namespace");
      part.notes = part.notes.filter((n) => !n.startsWith("claims "));
      this.merge(result, part);
    }
    for (const p of this.inv.pods.filter((x) => x.namespace === name && x.owners.length === 0))
      this.merge(result, this.podDelete(p, how));
    for (const s of this.inv.services.filter((x) => x.namespace === name))
      this.merge(result, this.serviceDelete(s, how));
    for (const c of this.inv.configs.filter((x) => x.namespace === name && x.name !== "kube-root-ca.crt")) {
      this.merge(result, this.configDelete(c, how));
    }
    for (const snap of this.inv.snapshots.filter((x) => x.namespace === name)) {
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
      const gap = this.gapFor(resource, name);
      if (gap) {
        this.gaps.push(gap);
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

  /** Resolves a resource of a release manifest to the live object. */
  releaseObject(res: ReleaseResource, ns: string): Outcome | null {
    const namespace = res.namespace ?? ns;
    const how = "deleted with the release";
    switch (res.kind) {
      case "PersistentVolumeClaim": {
        const c = this.inv.claims.find((x) => x.namespace === namespace && x.name === res.name);
        return c ? this.claim(c, how) : null;
      }
      case "StatefulSet":
      case "Deployment":
      case "DaemonSet":
      case "CronJob":
      case "Job": {
        const w = this.inv.workloads.find(
          (x) => x.kind === res.kind && x.namespace === namespace && x.name === res.name,
        );
        return w
          ? this.workloadDelete(
              w,
              how,
              false,
              "helm does not delete claims created from volumeClaimTemplates: they stay, holding the data",
            )
          : null;
      }
      case "Secret":
      case "ConfigMap": {
        const c = this.inv.configs.find(
          (x) => x.kind === res.kind && x.namespace === namespace && x.name === res.name,
        );
        return c ? this.configDelete(c, how) : null;
      }
      case "Service": {
        const s = this.inv.services.find((x) => x.namespace === namespace && x.name === res.name);
        return s ? this.serviceDelete(s, how) : null;
      }
      default:
        return null;
    }
  }

  helmUninstall(rel: HelmRelease, keepHistory: boolean): Outcome {
    const result = outcome({
      dataLoss: "recoverable",
      reason: `the ${rel.resources.length} resources of release ${rel.name} (chart ${rel.chart}-${rel.chartVersion}) are deleted`,
      resolved: affected(
        "helm-release",
        { name: rel.name, namespace: rel.namespace, uid: `${rel.recordSecret}` },
        "recoverable",
        "uninstalled",
        null,
        `${rel.name}@${rel.revision}`,
      ),
    });
    const leftClaims: string[] = [];
    const keptByPolicy = rel.resources.filter((r) => r.keep).map((r) => `${r.kind} ${r.name}`);
    if (keptByPolicy.length > 0) {
      result.notes.push(`kept by helm.sh/resource-policy: keep: ${keptByPolicy.join(", ")}`);
    }
    for (const res of rel.resources.filter((r) => !r.keep)) {
      const part = this.releaseObject(res, rel.namespace);
      if (!part) continue;
      // Secrets the release rendered go with its record unless --keep-history.
      if (res.kind === "Secret" && part.resolved) {
        part.resolved.how = keepHistory
          ? "deleted (kept in the release history: --keep-history)"
          : "deleted with the release and its history";
        if (!keepHistory) {
          part.dataLoss = "destructive";
          part.resolved.dataLoss = "destructive";
          part.notes.push(
            `secret ${res.name} may hold credentials the data in the claims was initialised with; a new install generates new ones that will not match. Save it: kubectl get secret ${res.name} -n ${rel.namespace} -o yaml > ${res.name}-secret.yaml`,
          );
        }
      }
      if (res.kind === "StatefulSet") {
        const sts = this.inv.workloads.find(
          (w) => w.kind === "StatefulSet" && w.namespace === rel.namespace && w.name === res.name,
        );
        if (sts && sts.retention?.whenDeleted !== "Delete")
          leftClaims.push(...this.claimsOf(sts).map((c) => c.claim.name));
      }
      this.merge(result, part);
    }
    if (leftClaims.length > 0) {
      result.notes = result.notes.filter((n) => !n.startsWith("claims "));
      result.notes.unshift(
        `claims ${leftClaims.join(", ")} stay: helm does not delete claims created from volumeClaimTemplates. A later install reuses them with the data and the OLD credentials`,
      );
    }
    const destroyed = result.cascade
      .filter((c) => c.dataLoss === "destructive" && c.type === "secret")
      .map((c) => c.name);
    if (destroyed.length > 0) {
      result.reason += `; ${destroyed.map((n) => `secret ${n}`).join(", ")} and the release history are destroyed for good`;
    }
    if (leftClaims.length > 0) result.reason += `; its claims stay`;
    if (!keepHistory)
      result.notes.push(
        `the release history (${rel.recordSecret.replace(/\.v[0-9]+$/, ".v*")}) is deleted: no rollback afterwards; --keep-history keeps it`,
      );
    return result;
  }

  // ---------------------------------------------------------------- helpers

  merge(into: Outcome, part: Outcome): void {
    into.dataLoss = worstLoss([into, part]);
    if (part.resolved) into.cascade.push(part.resolved);
    into.cascade.push(...part.cascade);
    into.notes.push(...part.notes);
    into.pods.push(...part.pods);
    into.services.push(...part.services);
    into.configs.push(...part.configs);
    into.deleted.push(...part.deleted);
    into.touches.push(...part.touches);
  }

  missing(type: string, namespace: string | null, name: string): Outcome {
    return outcome({
      dataLoss: "none",
      reason: `${type} ${namespace ? `${namespace}/` : ""}${name} does not exist: the command will fail (NotFound) and change nothing`,
    });
  }
}

// ------------------------------------------------------------------ commands

interface Step {
  kind: string;
  target: { type: string; namespace: string | null; name: string } | null;
  outcome: Outcome;
  missingOk?: boolean;
}

/** A step that acts on nothing lifeline resolved: a read, a dry run, or what it cannot know. */
function unresolved(kind: string, dataLoss: DataLoss, reason: string): Step {
  return { kind, target: null, outcome: outcome({ dataLoss, reason }) };
}

function namespaceFor(cmd: KubectlCommand, inv: Inventory): string {
  return cmd.namespace ?? inv.defaultNamespace;
}

function listed(
  a: Analyzer,
  resource: ResourceKind,
  namespace: string | null,
): (Meta & { __kind?: string })[] {
  const inv = a.inv;
  const inNs = <T extends Meta>(list: T[]) =>
    namespace === null ? list : list.filter((x) => x.namespace === namespace);
  switch (resource) {
    case "persistentvolumeclaims":
      return inNs(inv.claims);
    case "persistentvolumes":
      return inv.volumes;
    case "statefulsets":
      return inNs(inv.workloads.filter((w) => w.kind === "StatefulSet"));
    case "deployments":
      return inNs(inv.workloads.filter((w) => w.kind === "Deployment"));
    case "daemonsets":
      return inNs(inv.workloads.filter((w) => w.kind === "DaemonSet"));
    case "replicasets":
      return inNs(inv.workloads.filter((w) => w.kind === "ReplicaSet"));
    case "jobs":
      return inNs(inv.workloads.filter((w) => w.kind === "Job"));
    case "cronjobs":
      return inNs(inv.workloads.filter((w) => w.kind === "CronJob"));
    case "pods":
      return inNs(inv.pods);
    case "namespaces":
      return inv.namespaces;
    case "secrets":
      return inNs(inv.configs.filter((c) => c.kind === "Secret"));
    case "configmaps":
      return inNs(inv.configs.filter((c) => c.kind === "ConfigMap"));
    case "services":
      return inNs(inv.services);
    case "nodes":
      return inv.nodes;
    case "storageclasses":
      return inv.storageClasses;
    case "volumesnapshots":
      return inNs(inv.snapshots);
  }
}

function deleteOne(a: Analyzer, resource: ResourceKind, meta: Meta, cmd: KubectlCommand): Outcome {
  const how = "deleted";
  const inv = a.inv;
  switch (resource) {
    case "persistentvolumeclaims":
      return a.claim(meta as PersistentVolumeClaim, how);
    case "persistentvolumes":
      return a.volume(meta.name, how);
    case "statefulsets":
    case "deployments":
    case "daemonsets":
    case "replicasets":
    case "jobs":
    case "cronjobs":
      return a.workloadDelete(meta as Workload, how, cmd.cascade === "orphan");
    case "pods":
      return a.podDelete(meta as Pod, how);
    case "namespaces":
      return a.namespaceDelete(meta.name);
    case "secrets":
    case "configmaps":
      return a.configDelete(meta as ConfigData, how);
    case "services":
      return a.serviceDelete(meta as Service, how);
    case "volumesnapshots":
      return outcome({
        dataLoss: "destructive",
        reason:
          "the snapshot is deleted (with its content, unless its class's deletionPolicy is Retain): it can no longer restore its claim",
        resolved: affected("volumesnapshot", meta, "destructive", how),
        deleted: [meta.uid],
        touches: [meta],
      });
    case "nodes":
    case "storageclasses":
      return outcome({
        dataLoss: "recoverable",
        reason: `the ${DISPLAY[resource]} object is removed; no data is deleted with it${resource === "nodes" ? " (its pods are rescheduled)" : ""}`,
        resolved: affected(DISPLAY[resource], meta, "recoverable", how),
        pods: resource === "nodes" ? inv.pods.filter((p) => p.nodeName === meta.name) : [],
        deleted: [meta.uid],
        touches: [meta],
      });
  }
}

function kubectlDelete(a: Analyzer, cmd: KubectlCommand, manifests: readonly ManifestResource[]): Step[] {
  const steps: Step[] = [];
  const ns = cmd.allNamespaces ? null : namespaceFor(cmd, a.inv);
  const targets: {
    resource: ResourceKind | null;
    typed: string;
    name: string | null;
    namespace: string | null;
  }[] = [
    ...cmd.targets.map((t) => ({ ...t, namespace: ns })),
    ...manifests.map((m) => ({
      resource: resourceOfKind(m.kind),
      typed: m.kind,
      name: m.name,
      namespace: m.namespace ?? namespaceFor(cmd, a.inv),
    })),
  ];
  for (const file of cmd.files.filter((f) => f === "-" || /^https?:\/\//i.test(f))) {
    steps.push(
      unresolved(
        "unknown",
        "unknown",
        `lifeline does not read ${file === "-" ? "standard input" : file}: what it deletes is unknown`,
      ),
    );
  }
  if (cmd.files.length > 0 && manifests.length === 0 && steps.length === 0) {
    steps.push(
      unresolved(
        "unknown",
        "unknown",
        `the manifests ${cmd.files.join(", ")} could not be read or name no resources: what they delete is unknown`,
      ),
    );
  }
  if (cmd.kustomize) {
    steps.push(
      unresolved(
        "unknown",
        "unknown",
        `lifeline does not render kustomizations (-k ${cmd.kustomize}): what it deletes is unknown`,
      ),
    );
  }
  let requirements: ReturnType<typeof parseSelector> | null = null;
  if (cmd.selector) {
    try {
      requirements = parseSelector(cmd.selector);
    } catch (error) {
      steps.push(
        unresolved("unknown", "unknown", error instanceof SelectorError ? error.message : String(error)),
      );
      return steps;
    }
  }
  for (const t of targets) {
    if (!t.resource) {
      steps.push({
        kind: "unknown",
        target: { type: t.typed, namespace: t.namespace, name: t.name ?? cmd.selector ?? "(all)" },
        outcome: outcome({
          dataLoss: "unknown",
          reason: `lifeline does not know what deleting a "${t.typed}" destroys: treated as destructive`,
        }),
      });
      continue;
    }
    const resource = t.resource;
    const scopedNs = CLUSTER_SCOPED.has(resource) ? null : t.namespace;
    const kind = `delete-${DISPLAY[resource]}`;
    const gap = a.gapFor(resource, scopedNs);
    if (gap) {
      a.gaps.push(gap);
      steps.push({
        kind,
        target: { type: DISPLAY[resource], namespace: scopedNs, name: t.name ?? cmd.selector ?? "(all)" },
        outcome: outcome({
          dataLoss: "unknown",
          reason: `${gap}: what this deletes is unknown, treated as destructive`,
        }),
      });
      continue;
    }
    const candidates = listed(a, resource, scopedNs);
    let matched: Meta[];
    if (t.name !== null) {
      matched = candidates.filter((m) => m.name === t.name);
      if (matched.length === 0) {
        steps.push({
          kind,
          target: { type: DISPLAY[resource], namespace: scopedNs, name: t.name },
          outcome: cmd.ignoreNotFound
            ? outcome({
                dataLoss: "none",
                reason: `${DISPLAY[resource]} ${t.name} does not exist (--ignore-not-found): nothing happens`,
              })
            : a.missing(DISPLAY[resource], scopedNs, t.name),
          missingOk: cmd.ignoreNotFound,
        });
        continue;
      }
    } else {
      matched = candidates.filter((m) =>
        requirements ? matchesRequirements(requirements, m.labels) : cmd.all,
      );
      if (cmd.fieldSelector) {
        steps.push(
          unresolved(
            "unknown",
            "unknown",
            `lifeline does not evaluate --field-selector ${cmd.fieldSelector}: what it matches is unknown`,
          ),
        );
        continue;
      }
      if (matched.length === 0) {
        steps.push({
          kind,
          target: { type: DISPLAY[resource], namespace: scopedNs, name: cmd.selector ?? "(all)" },
          outcome: outcome({
            dataLoss: "none",
            reason: `no ${DISPLAY[resource]} matches ${cmd.selector ? `-l ${cmd.selector}` : "--all"}${scopedNs ? ` in ${scopedNs}` : ""}: nothing is deleted`,
          }),
        });
        continue;
      }
    }
    for (const m of matched) {
      steps.push({
        kind,
        target: { type: DISPLAY[resource], namespace: m.namespace, name: m.name },
        outcome: deleteOne(a, resource, m, cmd),
        missingOk: cmd.ignoreNotFound,
      });
    }
  }
  return steps;
}

function findWorkload(
  a: Analyzer,
  resource: ResourceKind | null,
  namespace: string,
  name: string,
): Workload | undefined {
  const kind =
    resource === "statefulsets"
      ? "StatefulSet"
      : resource === "deployments"
        ? "Deployment"
        : resource === "replicasets"
          ? "ReplicaSet"
          : null;
  return kind
    ? a.inv.workloads.find((w) => w.kind === kind && w.namespace === namespace && w.name === name)
    : undefined;
}

function manifestsUnread(cmd: KubectlCommand): Step[] {
  return cmd.files.length > 0 || cmd.kustomize
    ? [
        unresolved(
          "unknown",
          "unknown",
          `lifeline does not read manifests for kubectl ${cmd.verb} (-f/-k): what it changes is unknown`,
        ),
      ]
    : [];
}

function kubectlScale(a: Analyzer, cmd: KubectlCommand): Step[] {
  const ns = namespaceFor(cmd, a.inv);
  if (cmd.replicas === null) {
    return [unresolved("unknown", "unknown", "scale without --replicas: kubectl will refuse it")];
  }
  const replicas = cmd.replicas;
  return cmd.targets.map((t): Step => {
    const type = t.resource ? DISPLAY[t.resource] : t.typed;
    const target = { type, namespace: ns, name: t.name ?? cmd.selector ?? "(all)" };
    const w = t.name ? findWorkload(a, t.resource, ns, t.name) : undefined;
    if (!w) {
      if (
        t.name &&
        (t.resource === "statefulsets" || t.resource === "deployments" || t.resource === "replicasets")
      ) {
        return { kind: `scale-${type}`, target, outcome: a.missing(type, ns, t.name) };
      }
      return {
        kind: "unknown",
        target,
        outcome: outcome({
          dataLoss: "unknown",
          reason: `lifeline does not model scaling ${type}${t.name ? "" : " by selector"}`,
        }),
      };
    }
    return { kind: `scale-${type}`, target, outcome: a.scale(w, replicas) };
  });
}

function reclaimChange(cmd: KubectlCommand): string | null | undefined {
  if (!cmd.patch) return undefined;
  try {
    const body: unknown = JSON.parse(cmd.patch.body);
    if (cmd.patch.type === "json") {
      if (!Array.isArray(body) || body.length !== 1) return undefined;
      const op: unknown = body[0];
      if (typeof op !== "object" || op === null) return undefined;
      const o = op as Record<string, unknown>;
      return (o.op === "replace" || o.op === "add") &&
        o.path === "/spec/persistentVolumeReclaimPolicy" &&
        typeof o.value === "string"
        ? o.value
        : undefined;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
    const keys = Object.keys(body);
    const spec = (body as Record<string, unknown>).spec;
    if (keys.length !== 1 || typeof spec !== "object" || spec === null) return undefined;
    const specKeys = Object.keys(spec);
    const policy = (spec as Record<string, unknown>).persistentVolumeReclaimPolicy;
    return specKeys.length === 1 && typeof policy === "string" ? policy : undefined;
  } catch {
    return undefined;
  }
}

function kubectlPatch(a: Analyzer, cmd: KubectlCommand): Step[] {
  return cmd.targets.map((t): Step => {
    const type = t.resource ? DISPLAY[t.resource] : t.typed;
    const target = {
      type,
      namespace: t.resource && CLUSTER_SCOPED.has(t.resource) ? null : namespaceFor(cmd, a.inv),
      name: t.name ?? "(selector)",
    };
    const policy = t.resource === "persistentvolumes" ? reclaimChange(cmd) : undefined;
    if (t.resource !== "persistentvolumes" || policy === undefined || policy === null || !t.name) {
      return {
        kind: "unknown",
        target,
        outcome: outcome({
          dataLoss: "unknown",
          reason: `lifeline models only patches of a volume's persistentVolumeReclaimPolicy; this patch of ${type} may change anything`,
        }),
      };
    }
    const pv = a.inv.volumes.find((v) => v.name === t.name);
    if (!pv) return { kind: "patch-pv-reclaim-policy", target, outcome: a.missing("pv", null, t.name) };
    const claim = pv.claim ? `${pv.claim.namespace}/${pv.claim.name}` : null;
    const touches: Meta[] = [pv];
    const c = pv.claim
      ? a.inv.claims.find((x) => x.namespace === pv.claim?.namespace && x.name === pv.claim.name)
      : undefined;
    if (c) touches.push(c);
    const released = pv.phase === "Released" || pv.phase === "Failed" || !c;
    if (policy !== "Retain" && released) {
      // The PV controller reclaims a released volume as soon as its policy allows it.
      return {
        kind: "patch-pv-reclaim-policy-delete",
        target,
        outcome: outcome({
          dataLoss: "destructive",
          reason: `volume ${pv.name} is ${pv.phase}${claim ? ` (its claim ${claim} is gone)` : ""}: with reclaim policy ${policy}, Kubernetes deletes it and its disk (${pv.source}) at once`,
          resolved: affected(
            "pv",
            pv,
            "destructive",
            `reclaim policy ${pv.reclaimPolicy} → ${policy}`,
            pv.bytes,
            `${pv.uid}/reclaim=${pv.reclaimPolicy}/phase=${pv.phase}`,
          ),
          deleted: [pv.uid],
          touches,
        }),
      };
    }
    const resolved = affected(
      "pv",
      pv,
      "none",
      `reclaim policy ${pv.reclaimPolicy} → ${policy}`,
      pv.bytes,
      `${pv.uid}/reclaim=${pv.reclaimPolicy}`,
    );
    return {
      kind: policy === "Retain" ? "patch-pv-reclaim-policy" : "patch-pv-reclaim-policy-delete",
      target,
      outcome: outcome({
        dataLoss: "none",
        reason:
          policy === "Retain"
            ? `protects the volume: deleting ${claim ? `claim ${claim}` : "its claim"} afterwards leaves the data in place`
            : `changes no data now, but afterwards deleting ${claim ? `claim ${claim}` : "its claim"} deletes the volume and its data (reclaim policy ${policy})`,
        resolved,
        notes:
          policy === "Retain"
            ? []
            : [`this removes a protection: with ${policy}, the data goes with the claim`],
        touches,
      }),
    };
  });
}

function kubectlDrain(a: Analyzer, cmd: KubectlCommand): Step[] {
  const gap = a.gapFor("nodes", null) ?? a.gapFor("pods", null);
  if (gap) {
    a.gaps.push(gap);
    return [
      unresolved("drain-node", "unknown", `${gap}: what the drain evicts is unknown, treated as destructive`),
    ];
  }
  let nodes: { name: string; node: (typeof a.inv.nodes)[number] | undefined }[];
  if (cmd.selector) {
    let requirements: ReturnType<typeof parseSelector>;
    try {
      requirements = parseSelector(cmd.selector);
    } catch (error) {
      return [unresolved("unknown", "unknown", error instanceof Error ? error.message : String(error))];
    }
    nodes = a.inv.nodes
      .filter((n) => matchesRequirements(requirements, n.labels))
      .map((n) => ({ name: n.name, node: n }));
  } else {
    nodes = cmd.targets
      .filter((t) => t.name !== null)
      .map((t) => ({ name: t.name ?? "", node: a.inv.nodes.find((n) => n.name === t.name) }));
  }
  if (nodes.length === 0) {
    return [
      {
        kind: "drain-node",
        target: { type: "node", namespace: null, name: cmd.selector ?? "(none)" },
        outcome: outcome({
          dataLoss: "none",
          reason: `no node matches${cmd.selector ? ` -l ${cmd.selector}` : ""}: nothing is drained`,
        }),
      },
    ];
  }
  return nodes.map(({ name, node }): Step => {
    const target = { type: "node", namespace: null, name };
    if (!node) return { kind: "drain-node", target, outcome: a.missing("node", null, name) };
    const pods = a.inv.pods.filter(
      (p) => p.nodeName === node.name && !p.owners.some((o) => o.kind === "DaemonSet"),
    );
    const flags = cmd.drain ?? {
      deleteEmptyDirData: false,
      ignoreDaemonsets: false,
      force: false,
      disableEviction: false,
    };
    const result = outcome({
      dataLoss: "recoverable",
      reason: `node ${node.name} is cordoned and its ${pods.length} pod(s) are evicted; their controllers reschedule them elsewhere`,
      resolved: affected("node", node, "recoverable", "drained"),
      cascade: pods.map((p) =>
        affected(
          "pod",
          p,
          "recoverable",
          p.owners.some((o) => o.controller)
            ? "evicted and rescheduled"
            : "deleted and not recreated (no controller)",
        ),
      ),
      pods,
      touches: [node, ...pods],
    });
    for (const p of pods) {
      if (!p.owners.some((o) => o.controller)) {
        result.notes.push(
          flags.force
            ? `pod ${qualified(p)} has no controller: --force deletes it for good`
            : `pod ${qualified(p)} has no controller: drain refuses without --force`,
        );
      }
      if (p.spec.emptyDirs.length > 0) {
        result.notes.push(
          flags.deleteEmptyDirData
            ? `pod ${qualified(p)} loses its emptyDir volumes (${p.spec.emptyDirs.join(", ")}) (--delete-emptydir-data)`
            : `pod ${qualified(p)} uses emptyDir volumes: drain refuses without --delete-emptydir-data`,
        );
      }
      for (const claimName of p.spec.claims) {
        const c = a.inv.claims.find((x) => x.namespace === p.namespace && x.name === claimName);
        const pv = c?.volumeName ? a.inv.volumes.find((v) => v.name === c.volumeName) : undefined;
        if (pv && /^(local|hostPath)\b/.test(pv.source)) {
          result.notes.push(
            `pod ${qualified(p)} uses ${pv.source} volume ${pv.name} on this node: it cannot run elsewhere until the node returns`,
          );
        }
      }
    }
    return { kind: "drain-node", target, outcome: result };
  });
}

function kubectlSteps(a: Analyzer, cmd: KubectlCommand, manifests: readonly ManifestResource[]): Step[] {
  if (cmd.dryRun !== "none") {
    return [
      unresolved(
        `${cmd.verb}-dry-run`,
        "none",
        `--dry-run=${cmd.dryRun}: kubectl only shows what it would do; nothing changes`,
      ),
    ];
  }
  if (READ_VERBS.has(cmd.verb)) {
    return [unresolved("read", "none", `kubectl ${cmd.verb} only reads`)];
  }
  switch (cmd.verb) {
    case "delete":
      return kubectlDelete(a, cmd, manifests);
    case "scale":
      return [...manifestsUnread(cmd), ...kubectlScale(a, cmd)];
    case "patch":
      return [...manifestsUnread(cmd), ...kubectlPatch(a, cmd)];
    case "drain":
      return kubectlDrain(a, cmd);
    default:
      return [
        unresolved(
          "unknown",
          "unknown",
          `lifeline does not model kubectl ${cmd.verb}: it may change or delete what it names, treated as destructive`,
        ),
      ];
  }
}

function helmSteps(a: Analyzer, cmd: HelmCommand): Step[] {
  const ns = cmd.namespace ?? a.inv.defaultNamespace;
  if (HELM_READS.has(cmd.verb)) {
    return [unresolved("read", "none", `helm ${cmd.verb} only reads`)];
  }
  if (cmd.dryRun) {
    return [unresolved(`helm-${cmd.verb}-dry-run`, "none", "--dry-run: helm only renders; nothing changes")];
  }
  const gap = a.gapFor("secrets", ns);
  if (gap && (cmd.verb === "uninstall" || cmd.verb === "upgrade" || cmd.verb === "rollback")) {
    a.gaps.push(gap);
    return [
      {
        kind: `helm-${cmd.verb}`,
        target: { type: "helm-release", namespace: ns, name: cmd.releases.join(",") },
        outcome: outcome({
          dataLoss: "unknown",
          reason: `Helm's release records could not be read (${gap}): what the release contains is unknown`,
        }),
      },
    ];
  }
  switch (cmd.verb) {
    case "uninstall":
      return cmd.releases.map((name): Step => {
        const target = { type: "helm-release", namespace: ns, name };
        const rel = a.currentRelease(name, ns);
        if (!rel) {
          return {
            kind: "helm-uninstall",
            target,
            outcome: outcome({
              dataLoss: "none",
              reason: `release ${name} is not installed in namespace ${ns}: helm will fail and change nothing`,
            }),
          };
        }
        return { kind: "helm-uninstall", target, outcome: a.helmUninstall(rel, cmd.keepHistory) };
      });
    case "upgrade": {
      const name = cmd.releases[0] ?? "";
      const target = { type: "helm-release", namespace: ns, name };
      const rel = a.currentRelease(name, ns);
      if (!rel) {
        return [
          {
            kind: cmd.install ? "helm-install" : "helm-upgrade",
            target,
            outcome: cmd.install
              ? outcome({
                  dataLoss: "none",
                  reason: `release ${name} is not installed: --install creates it; nothing existing is changed`,
                })
              : outcome({
                  dataLoss: "none",
                  reason: `release ${name} is not installed in ${ns}: helm will fail (use --install to create it)`,
                }),
          },
        ];
      }
      const result = outcome({
        dataLoss: "unknown",
        reason: `lifeline does not render charts: upgrading ${rel.name} (now ${rel.chart}-${rel.chartVersion}, revision ${rel.revision}) to ${cmd.chart ?? "?"}${cmd.version ? ` ${cmd.version}` : ""} may change or delete any of its ${rel.resources.length} resources`,
        resolved: affected(
          "helm-release",
          { name: rel.name, namespace: rel.namespace, uid: rel.recordSecret },
          "unknown",
          "upgraded",
          null,
          `${rel.name}@${rel.revision}`,
        ),
      });
      const claims: PersistentVolumeClaim[] = [];
      for (const res of rel.resources.filter((r) => r.kind === "StatefulSet")) {
        const sts = a.inv.workloads.find(
          (w) => w.kind === "StatefulSet" && w.namespace === rel.namespace && w.name === res.name,
        );
        if (sts) claims.push(...a.claimsOf(sts).map((c) => c.claim));
      }
      for (const c of claims) {
        const part = a.claim(
          c,
          "kept across the upgrade, with the data written under the current credentials",
        );
        if (part.resolved) part.resolved.dataLoss = "none";
        part.cascade.forEach((x) => (x.dataLoss = "none"));
        part.notes = [];
        part.deleted = [];
        a.merge(result, { ...part, dataLoss: "none" });
      }
      const credentialKeys = cmd.set
        .filter((s) => /pass|auth|secret|credential|token|key/i.test(s.key))
        .map((s) => s.key);
      if (claims.length > 0) {
        result.notes.push(
          credentialKeys.length > 0
            ? `${credentialKeys.join(", ")} change credentials, but claims ${claims.map((c) => c.name).join(", ")} keep the data initialised with the old ones: the database will not accept the new credentials (charts do not change passwords inside existing data)`
            : `claims ${claims.map((c) => c.name).join(", ")} keep their data across the upgrade; if the upgrade changes or regenerates credentials (e.g. no --reuse-values and generated passwords), the data in them will not match`,
        );
      }
      return [{ kind: "helm-upgrade", target, outcome: result }];
    }
    case "rollback": {
      const name = cmd.releases[0] ?? "";
      const target = { type: "helm-release", namespace: ns, name };
      const rel = a.currentRelease(name, ns);
      if (!rel) {
        return [
          {
            kind: "helm-rollback",
            target,
            outcome: outcome({
              dataLoss: "none",
              reason: `release ${name} is not installed in ${ns}: helm will fail`,
            }),
          },
        ];
      }
      const revision = cmd.revision && cmd.revision > 0 ? cmd.revision : rel.revision - 1;
      const to = a.inv.releases.find((r) => r.name === name && r.namespace === ns && r.revision === revision);
      if (!to) {
        return [
          {
            kind: "helm-rollback",
            target,
            outcome: outcome({
              dataLoss: "unknown",
              reason: `revision ${revision} of release ${name} was not found: what the rollback changes is unknown`,
            }),
          },
        ];
      }
      const key = (r: ReleaseResource) => `${r.kind}/${r.namespace ?? ns}/${r.name}`;
      const kept = new Set(to.resources.map(key));
      const removed = rel.resources.filter((r) => !kept.has(key(r)));
      const result = outcome({
        dataLoss: "recoverable",
        reason: `re-applies revision ${revision} (${to.chart}-${to.chartVersion}) of ${name} over revision ${rel.revision}; ${removed.length === 0 ? "no resource is removed" : `${removed.length} resource(s) only in revision ${rel.revision} are deleted`}`,
        resolved: affected(
          "helm-release",
          { name, namespace: ns, uid: rel.recordSecret },
          "recoverable",
          `rolled back to ${revision}`,
          null,
          `${name}@${rel.revision}->${revision}`,
        ),
      });
      for (const res of removed) {
        const obj = a.releaseObject(res, ns);
        if (obj) a.merge(result, obj);
      }
      return [{ kind: "helm-rollback", target, outcome: result }];
    }
    case "install":
      return [
        unresolved("helm-install", "none", "helm install creates resources; nothing existing is deleted"),
      ];
    default:
      return [
        unresolved("unknown", "unknown", `lifeline does not model helm ${cmd.verb}: treated as destructive`),
      ];
  }
}

/** The assets an outcome touches: through its claims and volumes, its namespace or its release. */
function assetsOf(a: Analyzer, bindings: readonly AssetBinding[], step: Step): string[] {
  const found = new Set<string>();
  const touches = step.outcome.touches;
  const claims = new Set<PersistentVolumeClaim>();
  for (const m of touches) {
    const claim = a.inv.claims.find((c) => c.uid === m.uid);
    if (claim) claims.add(claim);
    const pv = a.inv.volumes.find((v) => v.uid === m.uid);
    const bound = pv?.claim
      ? a.inv.claims.find((c) => c.namespace === pv.claim?.namespace && c.name === pv.claim.name)
      : undefined;
    if (bound) claims.add(bound);
  }
  for (const b of bindings) {
    const t = step.target;
    if (
      [...claims].some((c) => bindingCovers(b, c)) ||
      (t?.type === "namespace" && t.name === b.namespace) ||
      (t?.type === "helm-release" &&
        t.namespace === b.namespace &&
        (b.release === null || b.release === t.name)) ||
      touches.some(
        (m) => !claims.has(m as PersistentVolumeClaim) && m.namespace !== null && bindingTouches(b, m),
      )
    ) {
      found.add(b.asset);
    }
  }
  return [...found].sort();
}

/** Claims whose data the step destroys (or may) that no asset is bound to. */
function unboundClaims(a: Analyzer, bindings: readonly AssetBinding[], o: Outcome): string[] {
  const objects = [o.resolved, ...o.cascade].filter((x): x is AffectedObject => x !== null);
  return objects
    .filter((x) => x.type === "pvc" && (x.dataLoss === "destructive" || x.dataLoss === "unknown"))
    .filter((x) => {
      const claim = a.inv.claims.find((c) => qualified(c) === x.name);
      return !claim || !bindings.some((b) => bindingCovers(b, claim));
    })
    .map((x) => x.name);
}

/**
 * Plans a kubectl or helm command against an inventory. Operations have the same shape as SQL
 * plans: one per object the command names or selects, each with what goes with it.
 */
export function analyzeCommand(
  command: ParsedCommand,
  inv: Inventory,
  options: {
    bindings: readonly AssetBinding[];
    manifests?: readonly ManifestResource[];
    /** The canonical command with the namespace and context it resolves to (plan identity). */
    normalized?: string;
  },
): K8sAnalysis {
  const gaps: string[] = [];
  const a = new Analyzer(inv, gaps);
  const statement = displayCommand(command.argv);
  const normalized = options.normalized ?? canonicalCommand(command);
  if (
    !isUnknown(command) &&
    command.tool === "kubectl" &&
    command.verb === "delete" &&
    command.dryRun === "none"
  ) {
    a.doomedSnapshots = doomedSnapshots(a, command, options.manifests ?? []);
  }
  let steps: Step[];
  if (isUnknown(command)) {
    steps = [unresolved("unknown", "unknown", command.reason)];
  } else if (command.tool === "kubectl") {
    steps = kubectlSteps(a, command, options.manifests ?? []);
  } else {
    steps = helmSteps(a, command);
  }
  if (steps.length === 0) {
    steps = [
      unresolved(
        "unknown",
        "unknown",
        "lifeline could not tell what this command acts on: treated as destructive",
      ),
    ];
  }
  // Reads that failed but did not stop the plan: say what the plan may miss.
  const partial = inv.gaps
    .filter((g) => !g.required)
    .map(
      (g) =>
        `${g.resource} could not be read (${g.reason}): dependents or snapshots may be missing from this plan`,
    );
  for (const step of steps) if (step.outcome.dataLoss !== "none") step.outcome.notes.push(...partial);
  const assets: Record<string, number[]> = {};
  const unbound: number[] = [];
  const operations = steps.map((step, index): PlannedOperation => {
    const o = step.outcome;
    const owners = assetsOf(a, options.bindings, step);
    for (const name of owners) (assets[name] ??= []).push(index);
    const orphans = unboundClaims(a, options.bindings, o);
    if ((owners.length === 0 && o.dataLoss !== "none") || orphans.length > 0) unbound.push(index);
    if (orphans.length > 0) {
      o.notes.push(
        `no asset in lifeline.yaml covers ${orphans.map((c) => `pvc ${c}`).join(", ")}: lifeline has no restore point of that data`,
      );
    }
    return {
      kind: step.kind,
      statementIndex: 0,
      statement,
      normalized,
      target: step.target
        ? { type: step.target.type, schema: step.target.namespace, name: step.target.name }
        : null,
      dataLoss: o.dataLoss,
      reason: o.reason,
      cascadeRequested: false,
      missingOk: step.missingOk ?? false,
      filter: null,
      resolved: o.resolved,
      rows: null,
      bytes: o.resolved?.bytes ?? null,
      cascade: dedupe(o.cascade),
      notes: [...new Set(o.notes)],
    };
  });
  const deleted = new Set(steps.flatMap((s) => s.outcome.deleted));
  const dependents = findDependents(
    inv,
    {
      pods: uniqueBy(steps.flatMap((s) => s.outcome.pods)),
      services: uniqueBy(steps.flatMap((s) => s.outcome.services)),
      configs: uniqueBy(steps.flatMap((s) => s.outcome.configs)),
    },
    deleted,
  );
  return { operations, dependents, assets, unbound, gaps: [...new Set(gaps)] };
}

function uniqueBy<T extends { uid: string }>(list: T[]): T[] {
  const seen = new Set<string>();
  return list.filter((x) => (seen.has(x.uid) ? false : (seen.add(x.uid), true)));
}

function dedupe(list: AffectedObject[]): AffectedObject[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const key = `${x.type}|${x.name}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** Snapshots a `kubectl delete` removes itself: by name, by selector, or with their namespace. */
function doomedSnapshots(
  a: Analyzer,
  cmd: KubectlCommand,
  manifests: readonly ManifestResource[],
): Set<string> {
  const out = new Set<string>();
  const ns = cmd.allNamespaces ? null : namespaceFor(cmd, a.inv);
  for (const t of cmd.targets) {
    if (t.resource === "namespaces") {
      for (const s of a.inv.snapshots) if (t.name !== null ? s.namespace === t.name : cmd.all) out.add(s.uid);
    }
    if (t.resource === "volumesnapshots") {
      for (const s of a.inv.snapshots) {
        if (ns !== null && s.namespace !== ns) continue;
        if (
          t.name !== null
            ? s.name === t.name
            : cmd.all || (cmd.selector !== null && safeMatch(cmd.selector, s.labels))
        )
          out.add(s.uid);
      }
    }
  }
  for (const m of manifests) {
    if (m.kind === "Namespace") for (const s of a.inv.snapshots) if (s.namespace === m.name) out.add(s.uid);
    if (m.kind === "VolumeSnapshot") {
      for (const s of a.inv.snapshots)
        if (s.name === m.name && s.namespace === (m.namespace ?? namespaceFor(cmd, a.inv))) out.add(s.uid);
    }
  }
  return out;
}

function safeMatch(selector: string, labels: Record<string, string>): boolean {
  try {
    return matchesSelector(selector, labels);
  } catch {
    return false;
  }
}
