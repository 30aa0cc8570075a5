/**
 * Kubernetes API objects (client-node 1.x types) → the facts a plan needs (core/kubernetes/inventory.ts),
 * one object at a time, so that the list path (cluster.ts: list calls per plan) and the informer
 * cache (informer-cache.ts: converted once per watch event) build the very same Inventory.
 */
import type {
  V1ConfigMap,
  V1Container,
  V1CronJob,
  V1DaemonSet,
  V1Deployment,
  V1Job,
  V1LabelSelector,
  V1Namespace,
  V1Node,
  V1ObjectMeta,
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1PodSpec,
  V1PodTemplateSpec,
  V1ReplicaSet,
  V1Secret,
  V1Service,
  V1StatefulSet,
  V1StorageClass,
} from "@kubernetes/client-node";
import type {
  ConfigData,
  Container,
  HelmRelease,
  Inventory,
  InventoryGap,
  Meta,
  Namespace,
  Node,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodTemplate,
  Service,
  StorageClass,
  VolumeSnapshot,
  Workload,
  WorkloadKind,
} from "../core/kubernetes/inventory.js";
import { quantityBytes } from "../core/kubernetes/inventory.js";
import { HELM_RELEASE_TYPE, releaseFromSecret } from "./helm.js";

export function meta(m: V1ObjectMeta | undefined): Meta {
  return {
    name: m?.name ?? "",
    namespace: m?.namespace ?? null,
    uid: m?.uid ?? `${m?.namespace ?? ""}/${m?.name ?? ""}`,
    labels: { ...(m?.labels ?? {}) },
    annotations: { ...(m?.annotations ?? {}) },
    owners: (m?.ownerReferences ?? []).map((o) => ({
      kind: o.kind,
      name: o.name,
      uid: o.uid,
      controller: o.controller ?? false,
    })),
  };
}

function container(c: V1Container): Container {
  return {
    name: c.name,
    env: (c.env ?? []).map((e) => ({
      name: e.name,
      value: e.value ?? null,
      from: e.valueFrom?.configMapKeyRef
        ? {
            kind: "configMap",
            name: e.valueFrom.configMapKeyRef.name ?? "",
            key: e.valueFrom.configMapKeyRef.key,
          }
        : e.valueFrom?.secretKeyRef
          ? { kind: "secret", name: e.valueFrom.secretKeyRef.name ?? "", key: e.valueFrom.secretKeyRef.key }
          : null,
    })),
    envFrom: (c.envFrom ?? []).flatMap((e): Container["envFrom"] =>
      e.configMapRef
        ? [{ kind: "configMap" as const, name: e.configMapRef.name ?? "" }]
        : e.secretRef
          ? [{ kind: "secret" as const, name: e.secretRef.name ?? "" }]
          : [],
    ),
    command: c.command ?? [],
    args: c.args ?? [],
  };
}

function podTemplate(spec: V1PodSpec | undefined, labels: Record<string, string> | undefined): PodTemplate {
  const volumes = spec?.volumes ?? [];
  return {
    labels: { ...(labels ?? {}) },
    claims: volumes.flatMap((v) => (v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [])),
    emptyDirs: volumes.flatMap((v) => (v.emptyDir ? [v.name] : [])),
    volumeRefs: volumes.flatMap((v): PodTemplate["volumeRefs"] =>
      v.configMap
        ? [{ kind: "configMap" as const, name: v.configMap.name ?? "" }]
        : v.secret
          ? [{ kind: "secret" as const, name: v.secret.secretName ?? "" }]
          : [],
    ),
    containers: [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map(container),
  };
}

function selectorString(s: V1LabelSelector | undefined): string | null {
  if (!s) return null;
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === "in" || op === "notin") parts.push(`${e.key} ${op} (${(e.values ?? []).join(",")})`);
    else if (op === "exists") parts.push(e.key);
    else if (op === "doesnotexist") parts.push(`!${e.key}`);
  }
  return parts.length > 0 ? parts.join(",") : null;
}

function workload(
  kind: WorkloadKind,
  m: V1ObjectMeta | undefined,
  spec: {
    replicas?: number;
    selector?: V1LabelSelector;
    template?: V1PodTemplateSpec;
  },
  extra: Partial<Workload> = {},
): Workload {
  return {
    ...meta(m),
    kind,
    replicas: spec.replicas ?? null,
    selector: selectorString(spec.selector),
    template: podTemplate(spec.template?.spec, spec.template?.metadata?.labels),
    claimTemplates: [],
    retention: null,
    serviceName: null,
    ...extra,
  };
}

function decode(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, "base64").toString("utf8");
  return out;
}

export const toNamespace = (n: V1Namespace): Namespace => ({
  ...meta(n.metadata),
  phase: n.status?.phase ?? "Active",
});

export const toNode = (n: V1Node): Node => ({
  ...meta(n.metadata),
  unschedulable: n.spec?.unschedulable ?? false,
});

export const toClaim = (c: V1PersistentVolumeClaim): PersistentVolumeClaim => ({
  ...meta(c.metadata),
  volumeName: c.spec?.volumeName ?? null,
  storageClassName: c.spec?.storageClassName ?? null,
  bytes: quantityBytes(String(c.status?.capacity?.storage ?? c.spec?.resources?.requests?.storage ?? "")),
  phase: c.status?.phase ?? "Pending",
});

export function toVolume(v: V1PersistentVolume): PersistentVolume {
  const s = v.spec;
  const source = s?.csi
    ? `csi ${s.csi.driver} ${s.csi.volumeHandle}`
    : s?.hostPath
      ? `hostPath ${s.hostPath.path}`
      : s?.local
        ? `local ${s.local.path}`
        : s?.nfs
          ? `nfs ${s.nfs.server}:${s.nfs.path}`
          : s?.awsElasticBlockStore
            ? `awsElasticBlockStore ${s.awsElasticBlockStore.volumeID}`
            : s?.gcePersistentDisk
              ? `gcePersistentDisk ${s.gcePersistentDisk.pdName}`
              : "unknown source";
  return {
    ...meta(v.metadata),
    reclaimPolicy: s?.persistentVolumeReclaimPolicy ?? "Delete",
    storageClassName: s?.storageClassName ?? null,
    bytes: quantityBytes(String(s?.capacity?.storage ?? "")),
    claim: s?.claimRef?.name ? { namespace: s.claimRef.namespace ?? "default", name: s.claimRef.name } : null,
    phase: v.status?.phase ?? "Available",
    source,
  };
}

export const toStorageClass = (c: V1StorageClass): StorageClass => ({
  ...meta(c.metadata),
  reclaimPolicy: c.reclaimPolicy ?? "Delete",
  provisioner: c.provisioner,
  isDefault:
    c.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true" ||
    c.metadata?.annotations?.["storageclass.beta.kubernetes.io/is-default-class"] === "true",
});

export const toPod = (p: V1Pod): Pod => ({
  ...meta(p.metadata),
  nodeName: p.spec?.nodeName ?? null,
  phase: p.status?.phase ?? "Unknown",
  spec: podTemplate(p.spec, p.metadata?.labels),
});

export const toStatefulSet = (s: V1StatefulSet): Workload =>
  workload("StatefulSet", s.metadata, s.spec ?? {}, {
    claimTemplates: (s.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? "").filter(Boolean),
    retention: {
      whenDeleted: s.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? "Retain",
      whenScaled: s.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? "Retain",
    },
    serviceName: s.spec?.serviceName ?? null,
  });

export const toDeployment = (d: V1Deployment): Workload => workload("Deployment", d.metadata, d.spec ?? {});
export const toDaemonSet = (d: V1DaemonSet): Workload => workload("DaemonSet", d.metadata, d.spec ?? {});
export const toReplicaSet = (r: V1ReplicaSet): Workload => workload("ReplicaSet", r.metadata, r.spec ?? {});
export const toJob = (j: V1Job): Workload =>
  workload("Job", j.metadata, { template: j.spec?.template, selector: j.spec?.selector });
export const toCronJob = (c: V1CronJob): Workload =>
  workload("CronJob", c.metadata, {
    template: c.spec?.jobTemplate.spec?.template,
    selector: c.spec?.jobTemplate.spec?.selector,
  });

export const toService = (s: V1Service): Service => ({
  ...meta(s.metadata),
  selector: s.spec?.selector && Object.keys(s.spec.selector).length > 0 ? { ...s.spec.selector } : null,
  headless: s.spec?.clusterIP === "None",
});

export const toConfigMap = (c: V1ConfigMap): ConfigData => ({
  ...meta(c.metadata),
  kind: "ConfigMap",
  type: null,
  data: { ...(c.data ?? {}) },
});

/** A Secret: its data to search, or, for a helm release record, the release (or why it cannot be read). */
export interface SecretFacts {
  config: ConfigData;
  release: HelmRelease | null;
  gap: InventoryGap | null;
}

export function toSecret(s: V1Secret): SecretFacts {
  const m = meta(s.metadata);
  if (s.type === HELM_RELEASE_TYPE) {
    // The record itself is not searched for hosts; it is decoded into a release.
    const release = releaseFromSecret({
      name: m.name,
      namespace: m.namespace ?? "default",
      labels: m.labels,
      release: Buffer.from(s.data?.release ?? "", "base64").toString("utf8"),
    });
    return {
      config: { ...m, kind: "Secret", type: s.type, data: {} },
      release,
      gap: release
        ? null
        : {
            resource: `helm release record ${m.namespace}/${m.name}`,
            namespace: m.namespace,
            reason: "cannot be decoded",
            required: false,
          },
    };
  }
  return {
    config: { ...m, kind: "Secret", type: s.type ?? null, data: decode(s.data) },
    release: null,
    gap: null,
  };
}

export function toSnapshot(raw: unknown): VolumeSnapshot {
  const o = raw as {
    metadata?: V1ObjectMeta;
    spec?: { source?: { persistentVolumeClaimName?: string } };
    status?: { readyToUse?: boolean; restoreSize?: string; creationTime?: string };
  };
  return {
    ...meta(o.metadata),
    claim: o.spec?.source?.persistentVolumeClaimName ?? null,
    ready: o.status?.readyToUse === true,
    restoreSize: quantityBytes(o.status?.restoreSize ?? null),
    createdAt: o.status?.creationTime ?? null,
  };
}

/** The converted objects of every resource an inventory holds. */
export interface InventoryParts {
  namespaces: readonly Namespace[];
  nodes: readonly Node[];
  claims: readonly PersistentVolumeClaim[];
  volumes: readonly PersistentVolume[];
  storageClasses: readonly StorageClass[];
  pods: readonly Pod[];
  workloads: readonly Workload[];
  services: readonly Service[];
  configMaps: readonly ConfigData[];
  secrets: readonly SecretFacts[];
  snapshots: readonly VolumeSnapshot[];
}

/** Fills an (empty) inventory with the converted objects; `gaps` are the resources that could not be read. */
export function assembleInventory(inv: Inventory, gaps: InventoryGap[], parts: InventoryParts): Inventory {
  inv.namespaces = [...parts.namespaces];
  inv.nodes = [...parts.nodes];
  inv.claims = [...parts.claims];
  inv.volumes = [...parts.volumes];
  inv.storageClasses = [...parts.storageClasses];
  inv.pods = [...parts.pods];
  inv.workloads = [...parts.workloads];
  inv.services = [...parts.services];
  inv.configs = [...parts.configMaps];
  for (const s of parts.secrets) {
    if (s.release) inv.releases.push(s.release);
    if (s.gap) gaps.push(s.gap);
    inv.configs.push(s.config);
  }
  inv.releases.sort((a, b) => a.name.localeCompare(b.name) || a.revision - b.revision);
  inv.snapshots = [...parts.snapshots];
  inv.gaps = gaps;
  return inv;
}
