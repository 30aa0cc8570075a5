/** The resource kinds the planner knows: their names in plans, their manifest kinds, their scope. */
import type { ResourceKind } from "./command/index.js";

/** The names a plan shows for resource kinds. */
export const DISPLAY: Record<ResourceKind, string> = {
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

export const CLUSTER_SCOPED = new Set<ResourceKind>([
  "persistentvolumes",
  "namespaces",
  "nodes",
  "storageclasses",
]);

export function resourceOfKind(kind: string): ResourceKind | null {
  return KIND_TO_RESOURCE[kind] ?? null;
}
