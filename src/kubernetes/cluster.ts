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
} from "@kubernetes/client-node";
import { LifelineError } from "../core/errors.js";
import type { Inventory, InventoryGap } from "../core/kubernetes/inventory.js";
import { emptyInventory } from "../core/kubernetes/inventory.js";
import { redactUrl } from "../core/redact.js";
import type { Cluster, ClusterSelection } from "../ports/cluster.js";
import {
  assembleInventory,
  toClaim,
  toConfigMap,
  toCronJob,
  toDaemonSet,
  toDeployment,
  toJob,
  toNamespace,
  toNode,
  toPod,
  toReplicaSet,
  toSecret,
  toService,
  toSnapshot,
  toStatefulSet,
  toStorageClass,
  toVolume,
} from "./inventory-convert.js";

const REQUEST_TIMEOUT_MS = 15_000;

export function statusCode(error: unknown): number | null {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === "number") return code;
  }
  return null;
}

export function isConnectionError(error: unknown): boolean {
  const text =
    error instanceof Error
      ? `${error.message} ${String((error as { cause?: unknown }).cause ?? "")}`
      : String(error);
  return /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|socket hang up|timed out|EAI_AGAIN/i.test(
    text,
  );
}

export function reasonOf(error: unknown): string {
  const code = statusCode(error);
  if (code === 403) return "forbidden (403): the credentials may not list it";
  if (code === 404) return "the API does not serve it (404)";
  if (code !== null) return `the API answered ${code}`;
  return error instanceof Error ? (error.message.split("\n")[0] ?? "error") : String(error);
}

/** The message of the Status object the API answered with (an ApiException's body), if any. */
export function apiStatusMessage(error: unknown): string | null {
  if (typeof error !== "object" || error === null || !("body" in error)) return null;
  let body: unknown = (error as { body: unknown }).body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      return null;
    }
  }
  const message = typeof body === "object" && body !== null ? (body as { message?: unknown }).message : null;
  return typeof message === "string" && message.trim() !== "" ? message.trim() : null;
}

/**
 * A refusal by a validating admission webhook, as kube-apiserver words it
 * (`admission webhook "<name>" denied the request: <message>`, webhook/errors/statuserror.go):
 * the webhook's name and its message. Null for anything else (a 403 from RBAC among them).
 */
export function webhookDenial(error: unknown): { webhook: string; message: string | null } | null {
  const text = apiStatusMessage(error);
  const m = text
    ? /^admission webhook "([^"]+)" denied the request(?::\s*([\s\S]*)| without explanation)?$/.exec(text)
    : null;
  if (!m) return null;
  return { webhook: m[1] ?? "", message: m[2]?.trim() || null };
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
    const convert = <T, C>(items: T[], fn: (item: T) => C) => items.map(fn);
    assembleInventory(inv, gaps, {
      namespaces: convert(namespaces, toNamespace),
      nodes: convert(nodes, toNode),
      claims: convert(claims, toClaim),
      volumes: convert(volumes, toVolume),
      storageClasses: convert(classes, toStorageClass),
      pods: convert(pods, toPod),
      workloads: [
        ...convert(sets, toStatefulSet),
        ...convert(deployments, toDeployment),
        ...convert(daemonsets, toDaemonSet),
        ...convert(replicasets, toReplicaSet),
        ...convert(jobs, toJob),
        ...convert(cronjobs, toCronJob),
      ],
      services: convert(services, toService),
      configMaps: convert(configMaps, toConfigMap),
      secrets: convert(secrets, toSecret),
      snapshots: convert(snapshots, toSnapshot),
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
      const denial = webhookDenial(error);
      if (denial) {
        throw new LifelineError({
          code: "K8S_PATCH_DENIED",
          kind: "runtime",
          message: `could not set the reclaim policy of pv ${volume} to ${policy}: the admission webhook "${denial.webhook}" denied it${denial.message ? `: ${denial.message}` : " (without a message)"}; pv ${volume} is unchanged`,
          fix: `the cluster's admission policy, not lifeline or your credentials, refuses this change: ask whoever runs the webhook "${denial.webhook}" (kubectl get validatingwebhookconfigurations) to allow changing persistentVolumeReclaimPolicy to ${policy}, or to change it for you; then run the command again`,
        });
      }
      throw new LifelineError({
        code: "K8S_PATCH_FAILED",
        kind: "runtime",
        message: `could not set the reclaim policy of pv ${volume} to ${policy}: ${code === 422 || code === 409 ? `it is no longer ${expected} (changed since the plan)` : code === 403 ? `forbidden (403): the credentials may not patch it${apiStatusMessage(error) ? ` (${apiStatusMessage(error)})` : ""}` : reasonOf(error)}`,
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
