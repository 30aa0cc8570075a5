/** Pieces `lifeline serve` is assembled from: the shared catalog, the cluster cache, the readiness checks. */
import { CachedCluster, informerCache, type InformerCache } from "../kubernetes/informer-cache.js";
import type { Catalog } from "../ports/catalog.js";
import type { Cluster, ClusterSelection } from "../ports/cluster.js";
import type { Logger } from "./log.js";
import type { Readiness } from "./server.js";

/**
 * The catalog, opened on first use and shared by every request; a failed open is retried by the
 * next request (after `retryMs`), so the server comes back with the catalog.
 */
export function sharedCatalog(
  open: () => Promise<Catalog>,
  retryMs = 1_000,
): { get(): Promise<Catalog>; close(): Promise<void> } {
  let opened: Promise<Catalog> | null = null;
  let failedAt = 0;
  let lastError: unknown = null;
  return {
    get() {
      if (opened) return opened;
      if (lastError !== null && Date.now() - failedAt < retryMs) return Promise.reject(lastError);
      const attempt = open();
      opened = attempt;
      attempt.catch((error: unknown) => {
        opened = null;
        failedAt = Date.now();
        lastError = error;
      });
      return attempt;
    },
    async close() {
      const current = opened;
      opened = null;
      if (current) await (await current).close();
    },
  };
}

export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/**
 * Ready once every check passes (config loaded is a given: the server starts only with it). The
 * result is kept for `cacheMs`, and concurrent probes share one run: a probe every few seconds
 * does not read the cluster each time.
 */
export function readinessProbe(checks: readonly ReadinessCheck[], cacheMs = 5_000): () => Promise<Readiness> {
  let last: { at: number; result: Readiness } | null = null;
  let running: Promise<Readiness> | null = null;
  const run = async (): Promise<Readiness> => {
    for (const c of checks) {
      try {
        await c.check();
      } catch (error) {
        return {
          ready: false,
          reason: `${c.name}: ${error instanceof Error ? error.message : String(error)}`,
        };
      }
    }
    return { ready: true, reason: null };
  };
  return () => {
    if (last && Date.now() - last.at < cacheMs) return Promise.resolve(last.result);
    running ??= run().then((result) => {
      last = { at: Date.now(), result };
      running = null;
      return result;
    });
    return running;
  };
}

export interface ServeCache {
  readonly cache: InformerCache;
  /** The Cluster for planCommand: the cache for the judged cluster, `fallback` for another one. */
  cluster(selection: ClusterSelection): Cluster;
  /** Ready when every informer has synced; else which are not, and why. */
  readiness(): Readiness;
  /** Starts the informers (resolves once each has listed or failed; they keep retrying). */
  start(): Promise<void>;
  stop(): void;
}

/**
 * The informer cache of the cluster `lifeline serve` judges (the kubeconfig and context it is
 * told to: `selection`). Requests that plan against that cluster read the cache; a selection for
 * another kubeconfig or context (not what the webhook plans) goes to `fallback` (list calls).
 */
export function serveCache(
  selection: ClusterSelection,
  fallback: (selection: ClusterSelection) => Cluster,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): ServeCache {
  const cache = informerCache(selection, env, {
    report: (event, fields) => log.log(event === "cache-broken" ? "error" : "info", event, fields),
  });
  const cached = new CachedCluster(cache, selection, env);
  return {
    cache,
    cluster(s) {
      const same =
        s.kubeconfig === selection.kubeconfig && (s.context === null || s.context === cache.context);
      return same ? cached : fallback(s);
    },
    readiness: () => {
      const r = cache.readiness();
      return r.ready ? r : { ready: false, reason: `cluster cache: ${r.reason}` };
    },
    start: () => cache.start(),
    stop: () => cache.stop(),
  };
}
