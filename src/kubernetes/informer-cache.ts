/**
 * An in-memory copy of the cluster kept current by watches (client-node 1.x informers: one list,
 * then a watch from its resourceVersion), over exactly the resources a plan reads (the list path's
 * {@link KubernetesCluster.inventory}). Each object is converted once, when its event arrives
 * (inventory-convert.ts, the same converters as the list path), so an Inventory is served from
 * memory in well under a millisecond: `lifeline serve` plans every admission request from it.
 *
 * Fails closed: a resource whose informer has not synced, or whose watch broke and could not
 * resume, is a gap in every inventory (with the reason), exactly like a list call that failed: a
 * plan that depends on it is not allowed. Broken informers are restarted with a backoff; they
 * resume from their last resourceVersion, or list again when it is too old (410).
 */
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  StorageV1Api,
  makeInformer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from "@kubernetes/client-node";
import type { Inventory, InventoryGap } from "../core/kubernetes/inventory.js";
import { emptyInventory } from "../core/kubernetes/inventory.js";
import { redactUrl } from "../core/redact.js";
import type { Cluster, ClusterSelection } from "../ports/cluster.js";
import { KubernetesCluster, loadKubeConfig, reasonOf, statusCode } from "./cluster.js";
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

/** What a watched resource is, and how it is listed. */
interface Source<C> {
  /** The resource's plural, as gaps and metrics name it. */
  resource: string;
  /** Whether a plan depends on it (as in the list path): if it is not synced, plans fail closed. */
  required: boolean;
  /** The watch path (cluster-wide). */
  path: string;
  /** The RBAC rule the informer needs (api group). */
  group: string;
  list: (apis: Apis) => Promise<KubernetesListObject<KubernetesObject>>;
  convert: (obj: never) => C;
}

interface Apis {
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  storage: StorageV1Api;
  custom: CustomObjectsApi;
}

type List = KubernetesListObject<KubernetesObject>;

function source<T, C>(
  resource: string,
  required: boolean,
  group: string,
  path: string,
  list: (apis: Apis) => Promise<unknown>,
  convert: (obj: T) => C,
): Source<C> {
  return {
    resource,
    required,
    group,
    path,
    list: async (apis) => (await list(apis)) as List,
    convert: convert as (obj: never) => C,
  };
}

/** Every resource the cache watches: those `KubernetesCluster.inventory` lists. */
const SOURCES = {
  namespaces: source(
    "namespaces",
    true,
    "",
    "/api/v1/namespaces",
    (a) => a.core.listNamespace(),
    toNamespace,
  ),
  nodes: source("nodes", false, "", "/api/v1/nodes", (a) => a.core.listNode(), toNode),
  claims: source(
    "persistentvolumeclaims",
    true,
    "",
    "/api/v1/persistentvolumeclaims",
    (a) => a.core.listPersistentVolumeClaimForAllNamespaces(),
    toClaim,
  ),
  volumes: source(
    "persistentvolumes",
    true,
    "",
    "/api/v1/persistentvolumes",
    (a) => a.core.listPersistentVolume(),
    toVolume,
  ),
  storageClasses: source(
    "storageclasses",
    false,
    "storage.k8s.io",
    "/apis/storage.k8s.io/v1/storageclasses",
    (a) => a.storage.listStorageClass(),
    toStorageClass,
  ),
  pods: source("pods", true, "", "/api/v1/pods", (a) => a.core.listPodForAllNamespaces(), toPod),
  statefulsets: source(
    "statefulsets",
    true,
    "apps",
    "/apis/apps/v1/statefulsets",
    (a) => a.apps.listStatefulSetForAllNamespaces(),
    toStatefulSet,
  ),
  deployments: source(
    "deployments",
    true,
    "apps",
    "/apis/apps/v1/deployments",
    (a) => a.apps.listDeploymentForAllNamespaces(),
    toDeployment,
  ),
  daemonsets: source(
    "daemonsets",
    false,
    "apps",
    "/apis/apps/v1/daemonsets",
    (a) => a.apps.listDaemonSetForAllNamespaces(),
    toDaemonSet,
  ),
  replicasets: source(
    "replicasets",
    false,
    "apps",
    "/apis/apps/v1/replicasets",
    (a) => a.apps.listReplicaSetForAllNamespaces(),
    toReplicaSet,
  ),
  jobs: source(
    "jobs",
    false,
    "batch",
    "/apis/batch/v1/jobs",
    (a) => a.batch.listJobForAllNamespaces(),
    toJob,
  ),
  cronjobs: source(
    "cronjobs",
    false,
    "batch",
    "/apis/batch/v1/cronjobs",
    (a) => a.batch.listCronJobForAllNamespaces(),
    toCronJob,
  ),
  services: source(
    "services",
    true,
    "",
    "/api/v1/services",
    (a) => a.core.listServiceForAllNamespaces(),
    toService,
  ),
  configMaps: source(
    "configmaps",
    false,
    "",
    "/api/v1/configmaps",
    (a) => a.core.listConfigMapForAllNamespaces(),
    toConfigMap,
  ),
  secrets: source(
    "secrets",
    true,
    "",
    "/api/v1/secrets",
    (a) => a.core.listSecretForAllNamespaces(),
    toSecret,
  ),
  snapshots: source(
    "volumesnapshots",
    false,
    "snapshot.storage.k8s.io",
    "/apis/snapshot.storage.k8s.io/v1/volumesnapshots",
    async (a) => {
      const list = (await a.custom.listClusterCustomObject({
        group: "snapshot.storage.k8s.io",
        version: "v1",
        plural: "volumesnapshots",
      })) as { items?: unknown; metadata?: unknown } | null;
      return { ...list, items: Array.isArray(list?.items) ? list.items : [] };
    },
    toSnapshot,
  ),
};

type Sources = typeof SOURCES;
type Converted<K extends keyof Sources> = Sources[K] extends Source<infer C> ? C : never;

/** The RBAC rules the cache needs: get, list and watch on every resource it watches, by API group. */
export function cacheRbacRules(): { apiGroups: string[]; resources: string[]; verbs: string[] }[] {
  const byGroup = new Map<string, string[]>();
  for (const s of Object.values(SOURCES) as Source<unknown>[]) {
    byGroup.set(s.group, [...(byGroup.get(s.group) ?? []), s.resource]);
  }
  return [...byGroup].map(([group, resources]) => ({
    apiGroups: [group],
    resources: resources.sort(),
    verbs: ["get", "list", "watch"],
  }));
}

/** The state of one watched resource, for /readyz and /metrics. */
export interface ResourceState {
  resource: string;
  required: boolean;
  /** Listed, and its watch running (or resumed). */
  synced: boolean;
  /** The API does not serve it or the credentials may not read it (an optional resource: a gap, not a wait). */
  unavailable: boolean;
  /** Why it is not synced (the last error), null when it is. */
  error: string | null;
  /** When the last event or (re)sync arrived (ms since the epoch), null before the first. */
  lastEventAt: number | null;
  objects: number;
}

const BACKOFF_MS = [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000];

class ResourceCache<C> {
  private readonly items = new Map<string, C>();
  private sorted: C[] | null = null;
  synced = false;
  unavailable = false;
  error: string | null = null;
  lastEventAt: number | null = null;
  private errors = 0;
  private attempt = 0;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly informer;

  constructor(
    readonly src: Source<C>,
    kc: KubeConfig,
    apis: Apis,
    private readonly now: () => number,
    private readonly onChange: () => void,
    private readonly report: NonNullable<InformerCacheOptions["report"]>,
  ) {
    this.informer = makeInformer(kc, src.path, () => src.list(apis));
    const upsert = (obj: KubernetesObject) => {
      this.items.set(key(obj), src.convert(obj as never));
      strip(obj);
      this.changed();
    };
    this.informer.on("add", upsert);
    this.informer.on("update", upsert);
    this.informer.on("delete", (obj: KubernetesObject) => {
      this.items.delete(key(obj));
      this.changed();
    });
    this.informer.on("error", (error: unknown) => this.failed(error));
  }

  /** Lists and starts watching; resolves when listed (or failed: then it retries in the background). */
  async start(): Promise<void> {
    this.stopped = false;
    const before = this.errors;
    await this.informer.start().catch((error: unknown) => this.failed(error));
    if (this.errors === before && !this.stopped) {
      if (!this.synced) this.report("cache-synced", { resource: this.src.resource });
      this.synced = true;
      this.unavailable = false;
      this.error = null;
      this.attempt = 0;
      this.lastEventAt = this.now();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    void this.informer.stop();
  }

  /** The converted objects in the API server's list order (namespace, then name). */
  list(): C[] {
    if (!this.sorted) {
      this.sorted = [...this.items.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([, v]) => v);
    }
    return this.sorted;
  }

  get size(): number {
    return this.items.size;
  }

  gap(): InventoryGap | null {
    if (this.synced) return null;
    return {
      resource: this.src.resource,
      namespace: null,
      reason: this.unavailable
        ? (this.error ?? "unavailable")
        : `the watch cache is not synced${this.error ? `: ${this.error}` : " yet"}`,
      required: this.src.required,
    };
  }

  state(): ResourceState {
    return {
      resource: this.src.resource,
      required: this.src.required,
      synced: this.synced,
      unavailable: this.unavailable,
      error: this.error,
      lastEventAt: this.lastEventAt,
      objects: this.items.size,
    };
  }

  private changed(): void {
    this.sorted = null;
    this.lastEventAt = this.now();
    this.onChange();
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    this.errors++;
    const code = statusCode(error) ?? statusCode({ code: (error as { statusCode?: unknown }).statusCode });
    this.error = code !== null ? reasonOf({ code }) : reasonOf(error);
    if (this.synced && this.attempt === 0) {
      // A watch that broke (connection reset, server restart): resume at once from the last
      // resourceVersion; only if that fails too is the resource unsynced (and plans fail closed).
      this.attempt = 1;
      void this.start();
      return;
    }
    if (this.synced || this.attempt <= 1)
      this.report("cache-broken", { resource: this.src.resource, reason: this.error });
    this.synced = false;
    this.unavailable = !this.src.required && (code === 403 || code === 404);
    this.onChange();
    if (this.retry) return;
    const delay = BACKOFF_MS[Math.min(this.attempt++, BACKOFF_MS.length - 1)]!;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (!this.stopped) void this.start();
    }, delay);
    this.retry.unref();
  }
}

/**
 * Once converted, the informer's own copy of an object keeps only what the informer itself reads
 * (namespace, name, resourceVersion): the converted facts are what plans use, and the rest of a
 * pod or a secret would double the memory of the cache (and the garbage collector's work).
 */
function strip(obj: KubernetesObject): void {
  const m = obj.metadata;
  const kept = { name: m?.name, namespace: m?.namespace, resourceVersion: m?.resourceVersion };
  for (const field of Object.keys(obj)) delete (obj as Record<string, unknown>)[field];
  obj.metadata = kept;
}

function key(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ""}/${obj.metadata?.name ?? ""}`;
}

type Caches = { [K in keyof Sources]: ResourceCache<Converted<K>> };

export interface InformerCacheOptions {
  now?: () => number;
  /** Told when a resource syncs or breaks (one line each, for the server's log). */
  report?: (event: "cache-synced" | "cache-broken", fields: { resource: string; reason?: string }) => void;
}

/** The informers of one kubeconfig context, and the Inventory they make. */
export class InformerCache {
  private readonly caches: Caches;
  readonly context: string;
  readonly defaultNamespace: string;
  readonly server: string;
  private template: Inventory | null = null;
  /**
   * The inventory last served: served again, the same (frozen) object, while neither the lists
   * (the template) nor the gaps changed. Its identity is the cache's generation: what is worked
   * out from it alone (plan-command.ts: a command's analysis) may be kept with it (WeakMap).
   */
  private served: { template: Inventory; gaps: readonly InventoryGap[]; inventory: Inventory } | null = null;

  constructor(kc: KubeConfig, options: InformerCacheOptions = {}) {
    const now = options.now ?? Date.now;
    this.context = kc.getCurrentContext();
    this.defaultNamespace = kc.getContextObject(this.context)?.namespace ?? "default";
    this.server = redactUrl(kc.getCurrentCluster()?.server ?? "(unknown server)");
    const apis: Apis = {
      core: kc.makeApiClient(CoreV1Api),
      apps: kc.makeApiClient(AppsV1Api),
      batch: kc.makeApiClient(BatchV1Api),
      storage: kc.makeApiClient(StorageV1Api),
      custom: kc.makeApiClient(CustomObjectsApi),
    };
    const invalidate = () => {
      this.template = null;
      this.served = null;
    };
    const report = options.report ?? (() => undefined);
    const make = <C>(src: Source<C>) => new ResourceCache<C>(src, kc, apis, now, invalidate, report);
    this.caches = Object.fromEntries(
      Object.entries(SOURCES).map(([name, src]) => [name, make(src as Source<unknown>)]),
    ) as unknown as Caches;
  }

  private all(): ResourceCache<unknown>[] {
    return Object.values(this.caches) as ResourceCache<unknown>[];
  }

  /** Starts every informer; resolves when each has listed once (or failed: it retries on its own). */
  async start(): Promise<void> {
    await Promise.all(this.all().map((c) => c.start()));
  }

  stop(): void {
    for (const c of this.all()) c.stop();
  }

  /** Every informer has synced (an optional resource the API does not serve counts as settled). */
  readiness(): { ready: boolean; reason: string | null } {
    const waiting = this.all().filter((c) => !c.synced && !c.unavailable);
    if (waiting.length === 0) return { ready: true, reason: null };
    return {
      ready: false,
      reason: waiting.map((c) => `${c.src.resource}: ${c.gap()?.reason ?? "not synced"}`).join("; "),
    };
  }

  states(): ResourceState[] {
    return this.all().map((c) => c.state());
  }

  /**
   * An Inventory from memory: no API call. Resources not synced are gaps (fail closed). The lists
   * are shared by every inventory until an event changes them (frozen: nothing may change them),
   * so the analysis's indexes (core/kubernetes/lookup.ts) of an unchanged list are built once.
   * While nothing changed (no event, no resource synced or broken), it is the very same object,
   * frozen too: a new object means a new state of the cluster.
   */
  inventory(): Inventory {
    const c = this.caches;
    if (!this.template) {
      // Configs, releases and decoding gaps exactly as the list path assembles them.
      const assembled = assembleInventory(emptyInventory(this.context, this.defaultNamespace), [], {
        namespaces: [],
        nodes: [],
        claims: [],
        volumes: [],
        storageClasses: [],
        pods: [],
        workloads: [
          ...c.statefulsets.list(),
          ...c.deployments.list(),
          ...c.daemonsets.list(),
          ...c.replicasets.list(),
          ...c.jobs.list(),
          ...c.cronjobs.list(),
        ],
        services: [],
        configMaps: c.configMaps.list(),
        secrets: c.secrets.list(),
        snapshots: [],
      });
      const template: Inventory = {
        ...assembled,
        namespaces: c.namespaces.list(),
        nodes: c.nodes.list(),
        claims: c.claims.list(),
        volumes: c.volumes.list(),
        storageClasses: c.storageClasses.list(),
        pods: c.pods.list(),
        services: c.services.list(),
        snapshots: c.snapshots.list(),
      };
      for (const value of Object.values(template)) if (Array.isArray(value)) Object.freeze(value);
      this.template = template;
    }
    const gaps = this.all()
      .map((r) => r.gap())
      .filter((g): g is InventoryGap => g !== null);
    const served = this.served;
    if (served !== null && served.template === this.template && sameGaps(served.gaps, gaps))
      return served.inventory;
    const inventory: Inventory = Object.freeze({
      ...this.template,
      gaps: Object.freeze([...gaps, ...this.template.gaps]) as InventoryGap[],
    });
    this.served = { template: this.template, gaps, inventory };
    return inventory;
  }
}

function sameGaps(a: readonly InventoryGap[], b: readonly InventoryGap[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (
      x.resource !== y.resource ||
      x.namespace !== y.namespace ||
      x.reason !== y.reason ||
      x.required !== y.required
    )
      return false;
  }
  return true;
}

/**
 * The Cluster port served from an {@link InformerCache}: `inventory` reads memory; the one write
 * (`setReclaimPolicy`, which `lifeline serve` does not use) goes to the API.
 */
export class CachedCluster implements Cluster {
  readonly context: string;
  readonly defaultNamespace: string;
  readonly server: string;
  private direct: KubernetesCluster | null = null;

  constructor(
    readonly cache: InformerCache,
    private readonly selection: ClusterSelection,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.context = cache.context;
    this.defaultNamespace = cache.defaultNamespace;
    this.server = cache.server;
  }

  inventory(signal: AbortSignal): Promise<Inventory> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return Promise.resolve(this.cache.inventory());
  }

  setReclaimPolicy(volume: string, expected: string, policy: string, signal: AbortSignal): Promise<void> {
    this.direct ??= new KubernetesCluster(this.selection, this.env);
    return this.direct.setReclaimPolicy(volume, expected, policy, signal);
  }
}

/** An informer cache for a selection, resolved like kubectl (loadKubeConfig). Not started. */
export function informerCache(
  selection: ClusterSelection,
  env: NodeJS.ProcessEnv = process.env,
  options: InformerCacheOptions = {},
): InformerCache {
  return new InformerCache(loadKubeConfig(selection, env), options);
}
