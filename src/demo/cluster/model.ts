/**
 * The object model of the simulated API server: objects as JSON, the resource types it serves,
 * uids, names and the small accessors every part of the server shares.
 */
import { createHash } from "node:crypto";

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [key: string]: unknown;
}

/** A Kubernetes object as the API returns it (JSON). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface ResourceType {
  /** API group, "" for core. */
  group: string;
  version: string;
  /** Resource name in paths. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Discovery categories: kubectl resolves `all` (`kubectl get all`) to the types in "all". */
  categories?: string[];
  /** Served by a CustomResourceDefinition (list items keep apiVersion/kind, deletion returns Status). */
  custom?: boolean;
  /** `scale` subresource (autoscaling/v1 Scale). */
  scalable?: boolean;
  /** A create-only review (SelfSubjectReview, SelfSubjectAccessReview): answered, never stored. */
  review?: boolean;
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    group: "",
    version: "v1",
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    shortNames: ["ns"],
  },
  {
    group: "",
    version: "v1",
    plural: "nodes",
    singular: "node",
    kind: "Node",
    namespaced: false,
    shortNames: ["no"],
  },
  {
    group: "",
    version: "v1",
    plural: "persistentvolumes",
    singular: "persistentvolume",
    kind: "PersistentVolume",
    namespaced: false,
    shortNames: ["pv"],
  },
  {
    group: "",
    version: "v1",
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    kind: "PersistentVolumeClaim",
    namespaced: true,
    shortNames: ["pvc"],
  },
  {
    group: "",
    version: "v1",
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    namespaced: true,
    categories: ["all"],
    shortNames: ["po"],
  },
  {
    group: "",
    version: "v1",
    plural: "services",
    singular: "service",
    kind: "Service",
    namespaced: true,
    categories: ["all"],
    shortNames: ["svc"],
  },
  { group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret", namespaced: true },
  {
    group: "",
    version: "v1",
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    namespaced: true,
    shortNames: ["cm"],
  },
  {
    group: "",
    version: "v1",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    kind: "ServiceAccount",
    namespaced: true,
    shortNames: ["sa"],
  },
  {
    group: "apps",
    version: "v1",
    plural: "statefulsets",
    singular: "statefulset",
    kind: "StatefulSet",
    namespaced: true,
    categories: ["all"],
    shortNames: ["sts"],
    scalable: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "deployments",
    singular: "deployment",
    kind: "Deployment",
    namespaced: true,
    categories: ["all"],
    shortNames: ["deploy"],
    scalable: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "replicasets",
    singular: "replicaset",
    kind: "ReplicaSet",
    namespaced: true,
    categories: ["all"],
    shortNames: ["rs"],
    scalable: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "daemonsets",
    singular: "daemonset",
    kind: "DaemonSet",
    namespaced: true,
    categories: ["all"],
    shortNames: ["ds"],
  },
  {
    group: "batch",
    version: "v1",
    plural: "jobs",
    singular: "job",
    kind: "Job",
    namespaced: true,
    categories: ["all"],
  },
  {
    group: "batch",
    version: "v1",
    plural: "cronjobs",
    singular: "cronjob",
    kind: "CronJob",
    namespaced: true,
    categories: ["all"],
    shortNames: ["cj"],
  },
  {
    group: "storage.k8s.io",
    version: "v1",
    plural: "storageclasses",
    singular: "storageclass",
    kind: "StorageClass",
    namespaced: false,
    shortNames: ["sc"],
  },
  {
    group: "snapshot.storage.k8s.io",
    version: "v1",
    plural: "volumesnapshots",
    singular: "volumesnapshot",
    kind: "VolumeSnapshot",
    namespaced: true,
    shortNames: ["vs"],
    custom: true,
  },
  {
    group: "snapshot.storage.k8s.io",
    version: "v1",
    plural: "volumesnapshotclasses",
    singular: "volumesnapshotclass",
    kind: "VolumeSnapshotClass",
    namespaced: false,
    shortNames: ["vsclass", "vsclasses"],
    custom: true,
  },
  {
    group: "snapshot.storage.k8s.io",
    version: "v1",
    plural: "volumesnapshotcontents",
    singular: "volumesnapshotcontent",
    kind: "VolumeSnapshotContent",
    namespaced: false,
    shortNames: ["vsc", "vscs"],
    custom: true,
  },
  {
    group: "admissionregistration.k8s.io",
    version: "v1",
    plural: "validatingwebhookconfigurations",
    singular: "validatingwebhookconfiguration",
    kind: "ValidatingWebhookConfiguration",
    namespaced: false,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "clusterroles",
    singular: "clusterrole",
    kind: "ClusterRole",
    namespaced: false,
  },
  {
    group: "rbac.authorization.k8s.io",
    version: "v1",
    plural: "clusterrolebindings",
    singular: "clusterrolebinding",
    kind: "ClusterRoleBinding",
    namespaced: false,
  },
  {
    group: "authentication.k8s.io",
    version: "v1",
    plural: "selfsubjectreviews",
    singular: "selfsubjectreview",
    kind: "SelfSubjectReview",
    namespaced: false,
    review: true,
  },
  {
    group: "authorization.k8s.io",
    version: "v1",
    plural: "selfsubjectaccessreviews",
    singular: "selfsubjectaccessreview",
    kind: "SelfSubjectAccessReview",
    namespaced: false,
    review: true,
  },
];

export function groupVersion(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** The resource type for a kind, plural, singular or short name ("PersistentVolumeClaim", "pvc", ...). */
export function resourceTypeFor(name: string): ResourceType | undefined {
  const lower = name.toLowerCase();
  return RESOURCE_TYPES.find(
    (t) =>
      t.kind.toLowerCase() === lower ||
      t.plural === lower ||
      t.singular === lower ||
      (t.shortNames ?? []).includes(lower),
  );
}

export function typeOfObject(obj: K8sObject): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.kind === obj.kind && groupVersion(t) === obj.apiVersion);
}

export type Json = Record<string, unknown>;

export function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function clone<T>(v: T): T {
  return structuredClone(v);
}

/** JSON with sorted keys and without undefined members: equal documents give equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

export type Propagation = "Background" | "Foreground" | "Orphan";

const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

export function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function hashText(text: string, length: number): string {
  const digest = createHash("sha256").update(text).digest();
  let out = "";
  for (let i = 0; out.length < length; i++)
    out += SUFFIX_ALPHABET[digest[i % digest.length]! % SUFFIX_ALPHABET.length];
  return out;
}

export function deterministicUid(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function ownerRef(owner: K8sObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function spec(obj: K8sObject): Json {
  if (!isObj(obj.spec)) obj.spec = {};
  return obj.spec as Json;
}

export function status(obj: K8sObject): Json {
  if (!isObj(obj.status)) obj.status = {};
  return obj.status as Json;
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function podClaimNames(pod: K8sObject): string[] {
  const volumes = spec(pod).volumes;
  if (!Array.isArray(volumes)) return [];
  return volumes.flatMap((v) => {
    const claim =
      isObj(v) && isObj(v.persistentVolumeClaim) ? str(v.persistentVolumeClaim.claimName) : undefined;
    return claim ? [claim] : [];
  });
}

/** Kinds whose DELETE returns the deleted object (the others return a Status). */
export const RETURNS_DELETED_OBJECT = new Set([
  "Pod",
  "PersistentVolumeClaim",
  "PersistentVolume",
  "Service",
  "Namespace",
  "Node",
]);
/** Kinds with a `metadata.generation` that follows spec changes. */
export const HAS_GENERATION = new Set([
  "StatefulSet",
  "Deployment",
  "ReplicaSet",
  "DaemonSet",
  "Job",
  "CronJob",
  "Pod",
  "VolumeSnapshot",
]);
/** Kinds without a status subresource (a patch of the main resource may change everything). */
export const NO_STATUS_SUBRESOURCE = new Set([
  "SelfSubjectReview",
  "SelfSubjectAccessReview",
  "Secret",
  "ConfigMap",
  "ServiceAccount",
  "StorageClass",
  "VolumeSnapshotClass",
  "ValidatingWebhookConfiguration",
]);

export function storeKey(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.group}/${type.plural}/${type.namespaced ? (namespace ?? "") : ""}/${name}`;
}

/** Byte order of namespace then name, like the etcd keys the real API server lists from. */
export function compareObjects(a: K8sObject, b: K8sObject): number {
  const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return (
    cmp(a.metadata.namespace ?? "", b.metadata.namespace ?? "") ||
    cmp(a.metadata.name, b.metadata.name) ||
    cmp(a.kind, b.kind)
  );
}
