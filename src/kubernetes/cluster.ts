import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  StorageV1Api,
  type V1Container,
  type V1ObjectMeta,
  type V1PodSpec,
  type V1PodTemplateSpec,
  type V1LabelSelector,
} from "@kubernetes/client-node";
import { LifelineError } from "../core/errors.js";
import type {
  ConfigData,
  Container,
  Inventory,
  InventoryGap,
  Meta,
  PodTemplate,
  VolumeSnapshot,
  Workload,
  WorkloadKind,
} from "../core/kubernetes/inventory.js";
import { emptyInventory, quantityBytes } from "../core/kubernetes/inventory.js";
import { redactUrl } from "../core/redact.js";
import type { Cluster, ClusterSelection } from "../ports/cluster.js";
import { HELM_RELEASE_TYPE, releaseFromSecret } from "./helm.js";

const REQUEST_TIMEOUT_MS = 15_000;

function meta(m: V1ObjectMeta | undefined): Meta {
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

function statusCode(error: unknown): number | null {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === "number") return code;
  }
  return null;
}

function isConnectionError(error: unknown): boolean {
  const text =
    error instanceof Error
      ? `${error.message} ${String((error as { cause?: unknown }).cause ?? "")}`
      : String(error);
  return /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|socket hang up|timed out|EAI_AGAIN/i.test(
    text,
  );
}

function reasonOf(error: unknown): string {
  const code = statusCode(error);
  if (code === 403) return "forbidden (403): the credentials may not list it";
  if (code === 404) return "the API does not serve it (404)";
  if (code !== null) return `the API answered ${code}`;
  return error instanceof Error ? (error.message.split("\n")[0] ?? "error") : String(error);
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: timed out after ${REQUEST_TIMEOUT_MS / 1000} s`)),
      REQUEST_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

function inCluster(env: NodeJS.ProcessEnv, root: string): boolean {
  return (env.KUBERNETES_SERVICE_HOST ?? "") !== "" && existsSync(`${root}${SERVICE_ACCOUNT_TOKEN}`);
}

/** Resolves the kubeconfig like kubectl: --kubeconfig, else KUBECONFIG, else ~/.kube/config, else in-cluster. */
export function loadKubeConfig(
  selection: ClusterSelection,
  env: NodeJS.ProcessEnv = process.env,
  /** Prefix of the service account's files (tests); "" in a pod. */
  inClusterRoot = "",
): KubeConfig {
  const kc = new KubeConfig();
  const explicit = selection.kubeconfig ?? null;
  const fromEnv = env.KUBECONFIG?.split(path.delimiter).filter((p) => p.length > 0) ?? [];
  const home = path.join(os.homedir(), ".kube", "config");
  const files = explicit ? [explicit] : fromEnv.length > 0 ? fromEnv : existsSync(home) ? [home] : [];
  const found = files.filter((f) => existsSync(f));
  if (found.length === 0 && !explicit && fromEnv.length === 0 && inCluster(env, inClusterRoot)) {
    // Inside a pod (lifeline serve installed by `lifeline k8s install`): the service account's
    // token and CA, as client-go's in-cluster config.
    kc.loadFromCluster(inClusterRoot);
    return kc;
  }
  if (found.length === 0) {
    throw new LifelineError({
      code: "KUBECONFIG_NOT_FOUND",
      kind: "config",
      message: explicit
        ? `kubeconfig ${explicit} does not exist`
        : files.length > 0
          ? `no kubeconfig at ${files.join(", ")} (from KUBECONFIG)`
          : "no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist",
      fix: "point lifeline at the cluster the way kubectl is: set KUBECONFIG, pass --kubeconfig, or set kubernetes.kubeconfig in lifeline.yaml",
    });
  }
  try {
    if (found.length === 1) kc.loadFromFile(found[0] ?? "");
    else {
      // KUBECONFIG with several files: merged as kubectl does, the first definition of each
      // cluster, user and context wins, and the first current-context set wins.
      const parts = found.map((file) => {
        const part = new KubeConfig();
        part.loadFromFile(file);
        return part;
      });
      const firstByName = <T extends { name: string }>(lists: T[][]): T[] => {
        const seen = new Map<string, T>();
        for (const item of lists.flat()) if (!seen.has(item.name)) seen.set(item.name, item);
        return [...seen.values()];
      };
      kc.loadFromOptions({
        clusters: firstByName(parts.map((p) => p.getClusters())),
        users: firstByName(parts.map((p) => p.getUsers())),
        contexts: firstByName(parts.map((p) => p.getContexts())),
        currentContext: parts.map((p) => p.getCurrentContext()).find((c) => c) ?? "",
      });
    }
  } catch (error) {
    throw new LifelineError({
      code: "KUBECONFIG_INVALID",
      kind: "config",
      message: `kubeconfig ${found[0]} cannot be read: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
      fix: "check the file with `kubectl config view`",
    });
  }
  const context = selection.context ?? kc.getCurrentContext();
  if (!context || !kc.getContextObject(context)) {
    throw new LifelineError({
      code: "KUBE_CONTEXT_NOT_FOUND",
      kind: "config",
      message: context
        ? `context "${context}" is not in the kubeconfig`
        : "the kubeconfig has no current context",
      fix: `choose one of: ${
        kc
          .getContexts()
          .map((c) => c.name)
          .join(", ") || "(none)"
      } (--context, or kubernetes.context in lifeline.yaml)`,
    });
  }
  kc.setCurrentContext(context);
  return kc;
}

/** A cluster reached through @kubernetes/client-node with the user's kubeconfig. */
export class KubernetesCluster implements Cluster {
  readonly context: string;
  readonly defaultNamespace: string;
  readonly server: string;
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly batch: BatchV1Api;
  private readonly storage: StorageV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(selection: ClusterSelection, env: NodeJS.ProcessEnv = process.env) {
    const kc = loadKubeConfig(selection, env);
    this.context = kc.getCurrentContext();
    this.defaultNamespace = kc.getContextObject(this.context)?.namespace ?? "default";
    this.server = redactUrl(kc.getCurrentCluster()?.server ?? "(unknown server)");
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.batch = kc.makeApiClient(BatchV1Api);
    this.storage = kc.makeApiClient(StorageV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  private unreachable(error: unknown): LifelineError {
    return new LifelineError({
      code: "CLUSTER_UNREACHABLE",
      kind: "runtime",
      message: `cannot reach the Kubernetes API of context "${this.context}" at ${this.server}: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`,
      fix: `check that \`kubectl --context ${this.context} get namespaces\` works from here`,
    });
  }

  async inventory(signal: AbortSignal): Promise<Inventory> {
    const inv = emptyInventory(this.context, this.defaultNamespace);
    const gaps: InventoryGap[] = [];
    let reached = false;
    let firstConnectionError: unknown = null;
    const read = async <T>(
      resource: string,
      required: boolean,
      fn: () => Promise<{ items: T[] }>,
    ): Promise<T[]> => {
      if (signal.aborted) throw signal.reason;
      try {
        const list = await withTimeout(fn(), `listing ${resource}`);
        reached = true;
        return list.items;
      } catch (error) {
        if (isConnectionError(error) && statusCode(error) === null) firstConnectionError ??= error;
        gaps.push({ resource, namespace: null, reason: reasonOf(error), required });
        return [];
      }
    };
    const [
      namespaces,
      nodes,
      claims,
      volumes,
      classes,
      pods,
      sets,
      deployments,
      daemonsets,
      replicasets,
      jobs,
      cronjobs,
      services,
      configMaps,
      secrets,
      snapshots,
    ] = await Promise.all([
      read("namespaces", true, () => this.core.listNamespace()),
      read("nodes", false, () => this.core.listNode()),
      read("persistentvolumeclaims", true, () => this.core.listPersistentVolumeClaimForAllNamespaces()),
      read("persistentvolumes", true, () => this.core.listPersistentVolume()),
      read("storageclasses", false, () => this.storage.listStorageClass()),
      read("pods", true, () => this.core.listPodForAllNamespaces()),
      read("statefulsets", true, () => this.apps.listStatefulSetForAllNamespaces()),
      read("deployments", true, () => this.apps.listDeploymentForAllNamespaces()),
      read("daemonsets", false, () => this.apps.listDaemonSetForAllNamespaces()),
      read("replicasets", false, () => this.apps.listReplicaSetForAllNamespaces()),
      read("jobs", false, () => this.batch.listJobForAllNamespaces()),
      read("cronjobs", false, () => this.batch.listCronJobForAllNamespaces()),
      read("services", true, () => this.core.listServiceForAllNamespaces()),
      read("configmaps", false, () => this.core.listConfigMapForAllNamespaces()),
      read("secrets", true, () => this.core.listSecretForAllNamespaces()),
      read("volumesnapshots", false, async () => {
        const list: unknown = await this.custom.listClusterCustomObject({
          group: "snapshot.storage.k8s.io",
          version: "v1",
          plural: "volumesnapshots",
        });
        const items = (list as { items?: unknown[] } | null)?.items;
        return { items: Array.isArray(items) ? items : [] };
      }),
    ]);
    if (!reached) throw this.unreachable(firstConnectionError ?? gaps[0]?.reason ?? "no answer");
    inv.gaps = gaps;
    inv.namespaces = namespaces.map((n) => ({ ...meta(n.metadata), phase: n.status?.phase ?? "Active" }));
    inv.nodes = nodes.map((n) => ({ ...meta(n.metadata), unschedulable: n.spec?.unschedulable ?? false }));
    inv.claims = claims.map((c) => ({
      ...meta(c.metadata),
      volumeName: c.spec?.volumeName ?? null,
      storageClassName: c.spec?.storageClassName ?? null,
      bytes: quantityBytes(String(c.status?.capacity?.storage ?? c.spec?.resources?.requests?.storage ?? "")),
      phase: c.status?.phase ?? "Pending",
    }));
    inv.volumes = volumes.map((v) => {
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
        claim: s?.claimRef?.name
          ? { namespace: s.claimRef.namespace ?? "default", name: s.claimRef.name }
          : null,
        phase: v.status?.phase ?? "Available",
        source,
      };
    });
    inv.storageClasses = classes.map((c) => ({
      ...meta(c.metadata),
      reclaimPolicy: c.reclaimPolicy ?? "Delete",
      provisioner: c.provisioner,
      isDefault:
        c.metadata?.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true" ||
        c.metadata?.annotations?.["storageclass.beta.kubernetes.io/is-default-class"] === "true",
    }));
    inv.pods = pods.map((p) => ({
      ...meta(p.metadata),
      nodeName: p.spec?.nodeName ?? null,
      phase: p.status?.phase ?? "Unknown",
      spec: podTemplate(p.spec, p.metadata?.labels),
    }));
    inv.workloads = [
      ...sets.map((s) =>
        workload("StatefulSet", s.metadata, s.spec ?? {}, {
          claimTemplates: (s.spec?.volumeClaimTemplates ?? [])
            .map((t) => t.metadata?.name ?? "")
            .filter(Boolean),
          retention: {
            whenDeleted: s.spec?.persistentVolumeClaimRetentionPolicy?.whenDeleted ?? "Retain",
            whenScaled: s.spec?.persistentVolumeClaimRetentionPolicy?.whenScaled ?? "Retain",
          },
          serviceName: s.spec?.serviceName ?? null,
        }),
      ),
      ...deployments.map((d) => workload("Deployment", d.metadata, d.spec ?? {})),
      ...daemonsets.map((d) => workload("DaemonSet", d.metadata, d.spec ?? {})),
      ...replicasets.map((r) => workload("ReplicaSet", r.metadata, r.spec ?? {})),
      ...jobs.map((j) =>
        workload("Job", j.metadata, { template: j.spec?.template, selector: j.spec?.selector }),
      ),
      ...cronjobs.map((c) =>
        workload("CronJob", c.metadata, {
          template: c.spec?.jobTemplate.spec?.template,
          selector: c.spec?.jobTemplate.spec?.selector,
        }),
      ),
    ];
    inv.services = services.map((s) => ({
      ...meta(s.metadata),
      selector: s.spec?.selector && Object.keys(s.spec.selector).length > 0 ? { ...s.spec.selector } : null,
      headless: s.spec?.clusterIP === "None",
    }));
    const configs: ConfigData[] = configMaps.map((c) => ({
      ...meta(c.metadata),
      kind: "ConfigMap",
      type: null,
      data: { ...(c.data ?? {}) },
    }));
    for (const s of secrets) {
      const m = meta(s.metadata);
      if (s.type === HELM_RELEASE_TYPE) {
        // The record itself is not searched for hosts; it is decoded into a release.
        const release = releaseFromSecret({
          name: m.name,
          namespace: m.namespace ?? "default",
          labels: m.labels,
          release: Buffer.from(s.data?.release ?? "", "base64").toString("utf8"),
        });
        if (release) inv.releases.push(release);
        else
          gaps.push({
            resource: `helm release record ${m.namespace}/${m.name}`,
            namespace: m.namespace,
            reason: "cannot be decoded",
            required: false,
          });
        configs.push({ ...m, kind: "Secret", type: s.type, data: {} });
        continue;
      }
      configs.push({ ...m, kind: "Secret", type: s.type ?? null, data: decode(s.data) });
    }
    inv.configs = configs;
    inv.releases.sort((a, b) => a.name.localeCompare(b.name) || a.revision - b.revision);
    inv.snapshots = snapshots.map((raw): VolumeSnapshot => {
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
    });
    return inv;
  }

  async setReclaimPolicy(
    volume: string,
    expected: string,
    policy: string,
    signal: AbortSignal,
  ): Promise<void> {
    if (signal.aborted) throw signal.reason;
    try {
      // A JSON patch whose `test` makes the change conditional: if someone changed the policy since
      // the plan was shown, nothing is patched.
      await withTimeout(
        this.core.patchPersistentVolume({
          name: volume,
          body: [
            { op: "test", path: "/spec/persistentVolumeReclaimPolicy", value: expected },
            { op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: policy },
          ],
        }),
        `patching pv ${volume}`,
      );
    } catch (error) {
      if (isConnectionError(error) && statusCode(error) === null) throw this.unreachable(error);
      const code = statusCode(error);
      throw new LifelineError({
        code: "K8S_PATCH_FAILED",
        kind: "runtime",
        message: `could not set the reclaim policy of pv ${volume} to ${policy}: ${code === 422 || code === 409 ? `it is no longer ${expected} (changed since the plan)` : reasonOf(error)}`,
        fix:
          code === 403
            ? "the credentials need `patch` on persistentvolumes (cluster-scoped): ask a cluster admin"
            : "run the command again to see the current state",
      });
    }
  }
}

export function kubernetesCluster(selection: ClusterSelection): Cluster {
  return new KubernetesCluster(selection);
}
