import type {
  ConfigData,
  HelmRelease,
  Inventory,
  Meta,
  PersistentVolume,
  PersistentVolumeClaim,
  Pod,
  PodTemplate,
  Service,
  StorageClass,
  VolumeSnapshot,
  Workload,
} from "../../src/core/kubernetes/inventory.js";
import { emptyInventory } from "../../src/core/kubernetes/inventory.js";

/** Builds small inventories for core tests, the way the kubernetes adapter fills them. */
let counter = 0;
const uid = (name: string) => `${name}-uid-${++counter}`;

function meta(name: string, namespace: string | null, extra: Partial<Meta> = {}): Meta {
  return { name, namespace, uid: uid(name), labels: {}, annotations: {}, owners: [], ...extra };
}

export function template(extra: Partial<PodTemplate> = {}): PodTemplate {
  return { labels: {}, claims: [], emptyDirs: [], volumeRefs: [], containers: [], ...extra };
}

export class InventoryBuilder {
  readonly inv: Inventory = emptyInventory("test", "default");

  namespace(name: string): this {
    this.inv.namespaces.push({ ...meta(name, null), phase: "Active" });
    return this;
  }

  storageClass(name: string, reclaimPolicy: string, isDefault = false): StorageClass {
    const sc = { ...meta(name, null), reclaimPolicy, provisioner: "ebs.csi.aws.com", isDefault };
    this.inv.storageClasses.push(sc);
    return sc;
  }

  /** A claim bound to a new volume with the given reclaim policy. */
  claim(
    namespace: string,
    name: string,
    options: {
      reclaim?: string;
      labels?: Record<string, string>;
      gib?: number;
      storageClass?: string;
      bound?: boolean;
    } = {},
  ): { claim: PersistentVolumeClaim; volume: PersistentVolume | null } {
    const bytes = (options.gib ?? 8) * 2 ** 30;
    const bound = options.bound ?? true;
    const pvName = `pvc-${name}`;
    const claim: PersistentVolumeClaim = {
      ...meta(name, namespace, { labels: options.labels ?? {} }),
      volumeName: bound ? pvName : null,
      storageClassName: options.storageClass ?? "standard",
      bytes,
      phase: bound ? "Bound" : "Pending",
    };
    this.inv.claims.push(claim);
    if (!bound) return { claim, volume: null };
    const volume: PersistentVolume = {
      ...meta(pvName, null),
      reclaimPolicy: options.reclaim ?? "Delete",
      storageClassName: options.storageClass ?? "standard",
      bytes,
      claim: { namespace, name },
      phase: "Bound",
      source: `csi ebs.csi.aws.com vol-${name}`,
    };
    this.inv.volumes.push(volume);
    return { claim, volume };
  }

  statefulSet(
    namespace: string,
    name: string,
    options: {
      replicas?: number;
      claimTemplate?: string;
      labels?: Record<string, string>;
      retention?: { whenDeleted: string; whenScaled: string };
      reclaim?: string;
      serviceName?: string;
    } = {},
  ): { sts: Workload; pods: Pod[]; claims: PersistentVolumeClaim[] } {
    const labels = options.labels ?? { "app.kubernetes.io/name": name };
    const sts: Workload = {
      ...meta(name, namespace, { labels }),
      kind: "StatefulSet",
      replicas: options.replicas ?? 1,
      selector: Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
      template: template({ labels }),
      claimTemplates: options.claimTemplate ? [options.claimTemplate] : [],
      retention: options.retention ?? { whenDeleted: "Retain", whenScaled: "Retain" },
      serviceName: options.serviceName ?? null,
    };
    this.inv.workloads.push(sts);
    const pods: Pod[] = [];
    const claims: PersistentVolumeClaim[] = [];
    for (let i = 0; i < (options.replicas ?? 1); i++) {
      const claimNames: string[] = [];
      if (options.claimTemplate) {
        const c = this.claim(namespace, `${options.claimTemplate}-${name}-${i}`, {
          labels,
          ...(options.reclaim ? { reclaim: options.reclaim } : {}),
        });
        claims.push(c.claim);
        claimNames.push(c.claim.name);
      }
      const pod: Pod = {
        ...meta(`${name}-${i}`, namespace, {
          labels,
          owners: [{ kind: "StatefulSet", name, uid: sts.uid, controller: true }],
        }),
        nodeName: "node-a",
        phase: "Running",
        spec: template({ labels, claims: claimNames }),
      };
      pods.push(pod);
      this.inv.pods.push(pod);
    }
    return { sts, pods, claims };
  }

  deployment(
    namespace: string,
    name: string,
    containers: PodTemplate["containers"],
    extra: Partial<PodTemplate> = {},
  ): Workload {
    const labels = { app: name };
    const w: Workload = {
      ...meta(name, namespace, { labels }),
      kind: "Deployment",
      replicas: 1,
      selector: `app=${name}`,
      template: template({ labels, containers, ...extra }),
      claimTemplates: [],
      retention: null,
      serviceName: null,
    };
    this.inv.workloads.push(w);
    return w;
  }

  cronJob(namespace: string, name: string, containers: PodTemplate["containers"]): Workload {
    const w: Workload = {
      ...meta(name, namespace),
      kind: "CronJob",
      replicas: null,
      selector: null,
      template: template({ containers }),
      claimTemplates: [],
      retention: null,
      serviceName: null,
    };
    this.inv.workloads.push(w);
    return w;
  }

  service(namespace: string, name: string, selector: Record<string, string>, headless = false): Service {
    const s: Service = { ...meta(name, namespace), selector, headless };
    this.inv.services.push(s);
    return s;
  }

  config(
    kind: "ConfigMap" | "Secret",
    namespace: string,
    name: string,
    data: Record<string, string>,
    labels: Record<string, string> = {},
  ): ConfigData {
    const c: ConfigData = {
      ...meta(name, namespace, { labels }),
      kind,
      type: kind === "Secret" ? "Opaque" : null,
      data,
    };
    this.inv.configs.push(c);
    return c;
  }

  release(
    namespace: string,
    name: string,
    revision: number,
    resources: HelmRelease["resources"],
    status = "deployed",
  ): HelmRelease {
    const r: HelmRelease = {
      name,
      namespace,
      revision,
      status,
      chart: name,
      chartVersion: "1.0.0",
      appVersion: "1",
      resources,
      recordSecret: `sh.helm.release.v1.${name}.v${revision}`,
    };
    this.inv.releases.push(r);
    return r;
  }

  snapshot(namespace: string, name: string, claim: string, ready: boolean): VolumeSnapshot {
    const s: VolumeSnapshot = {
      ...meta(name, namespace),
      claim,
      ready,
      restoreSize: 8 * 2 ** 30,
      createdAt: "2026-11-25T03:00:00Z",
    };
    this.inv.snapshots.push(s);
    return s;
  }
}

export function container(
  name: string,
  env: Record<string, string> = {},
  extra: Partial<PodTemplate["containers"][number]> = {},
) {
  return {
    name,
    env: Object.entries(env).map(([k, v]) => ({ name: k, value: v, from: null })),
    envFrom: [],
    command: [],
    args: [],
    ...extra,
  };
}
