/**
 * What lifeline knows about a Kubernetes cluster, reduced to the facts a plan needs. The
 * kubernetes adapter reads the API and fills these; everything that decides is pure and works on
 * them. Secret values are held only to find references to a service; they are never reported.
 */

export interface OwnerRef {
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
}

export interface Meta {
  name: string;
  /** null for cluster-scoped objects. */
  namespace: string | null;
  uid: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  owners: OwnerRef[];
}

export interface PersistentVolumeClaim extends Meta {
  volumeName: string | null;
  storageClassName: string | null;
  /** Bytes requested (spec) or provisioned (status), whichever is known. */
  bytes: number | null;
  phase: string;
}

export interface PersistentVolume extends Meta {
  reclaimPolicy: string;
  storageClassName: string | null;
  bytes: number | null;
  claim: { namespace: string; name: string } | null;
  phase: string;
  /** Where the data lives, for humans: "csi ebs.csi.aws.com vol-0a1b…", "hostPath /data". */
  source: string;
}

export interface StorageClass extends Meta {
  reclaimPolicy: string;
  provisioner: string;
  isDefault: boolean;
}

export interface EnvVar {
  name: string;
  value: string | null;
  from: { kind: "configMap" | "secret"; name: string; key: string } | null;
}

export interface Container {
  name: string;
  env: EnvVar[];
  envFrom: { kind: "configMap" | "secret"; name: string }[];
  command: string[];
  args: string[];
}

export interface PodTemplate {
  labels: Record<string, string>;
  /** Claim names from volumes[].persistentVolumeClaim. */
  claims: string[];
  /** Names of emptyDir volumes (their data goes with the pod). */
  emptyDirs: string[];
  /** configMap / secret volumes. */
  volumeRefs: { kind: "configMap" | "secret"; name: string }[];
  containers: Container[];
}

export interface Pod extends Meta {
  nodeName: string | null;
  phase: string;
  spec: PodTemplate;
}

export type WorkloadKind = "StatefulSet" | "Deployment" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob";

export interface Workload extends Meta {
  kind: WorkloadKind;
  replicas: number | null;
  /** spec.selector.matchLabels (matchExpressions are folded in as a selector string). */
  selector: string | null;
  template: PodTemplate;
  /** StatefulSet volumeClaimTemplates names. */
  claimTemplates: string[];
  /** StatefulSet persistentVolumeClaimRetentionPolicy (API default Retain/Retain). */
  retention: { whenDeleted: string; whenScaled: string } | null;
  /** StatefulSet spec.serviceName (the headless service giving pods DNS names). */
  serviceName: string | null;
}

export interface Service extends Meta {
  selector: Record<string, string> | null;
  headless: boolean;
}

export interface ConfigData extends Meta {
  kind: "ConfigMap" | "Secret";
  type: string | null;
  /** Decoded values. Secret values never leave the process: they are only searched. */
  data: Record<string, string>;
}

export interface ReleaseResource {
  kind: string;
  name: string;
  namespace: string | null;
  /** helm.sh/resource-policy: keep — helm leaves it in place on uninstall. */
  keep?: boolean;
}

export interface HelmRelease {
  name: string;
  namespace: string;
  revision: number;
  status: string;
  chart: string;
  chartVersion: string;
  appVersion: string | null;
  /** Resources rendered by this revision's manifest. */
  resources: ReleaseResource[];
  /** The secret holding this revision's record. */
  recordSecret: string;
}

export interface VolumeSnapshot extends Meta {
  claim: string | null;
  ready: boolean;
  restoreSize: number | null;
  createdAt: string | null;
}

export interface Namespace extends Meta {
  phase: string;
}

export interface Node extends Meta {
  unschedulable: boolean;
}

export interface Inventory {
  /** The context the inventory was read from, and its default namespace. */
  context: string;
  defaultNamespace: string;
  clusterDomain: string;
  namespaces: Namespace[];
  nodes: Node[];
  claims: PersistentVolumeClaim[];
  volumes: PersistentVolume[];
  storageClasses: StorageClass[];
  pods: Pod[];
  workloads: Workload[];
  services: Service[];
  configs: ConfigData[];
  /** Every revision of every release found (newest last per release). */
  releases: HelmRelease[];
  snapshots: VolumeSnapshot[];
  /** What could not be read, e.g. "volumesnapshots: the API does not serve them". */
  gaps: InventoryGap[];
}

export interface InventoryGap {
  resource: string;
  namespace: string | null;
  reason: string;
  /** Whether a decision depends on it: required reads fail the plan closed. */
  required: boolean;
}

export function emptyInventory(context = "test", defaultNamespace = "default"): Inventory {
  return {
    context,
    defaultNamespace,
    clusterDomain: "cluster.local",
    namespaces: [],
    nodes: [],
    claims: [],
    volumes: [],
    storageClasses: [],
    pods: [],
    workloads: [],
    services: [],
    configs: [],
    releases: [],
    snapshots: [],
    gaps: [],
  };
}

/** "ns/name" for namespaced objects, "name" for cluster-scoped ones. */
export function qualified(meta: Pick<Meta, "name" | "namespace">): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

/** Parses Kubernetes quantities ("8Gi", "500M", "1.5Ti", "1e9") to bytes; null when unreadable. */
export function quantityBytes(quantity: string | null | undefined): number | null {
  if (!quantity) return null;
  const m = /^([0-9]+(?:\.[0-9]+)?)(?:e([0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/.exec(quantity.trim());
  if (!m) return null;
  const binary: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    Pi: 2 ** 50,
    Ei: 2 ** 60,
  };
  const decimal: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  const unit = m[3] ?? "";
  const factor = binary[unit] ?? decimal[unit] ?? 1;
  return Math.round(Number(m[1]) * 10 ** Number(m[2] ?? 0) * factor);
}
