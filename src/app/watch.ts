/**
 * The watch: every interval, a cheap sample of every asset (the engine's catalog and statistics,
 * the bound claims and volumes, the posture from the repository's index), compared with the
 * previous one (core/watch). A new alert goes to the webhooks and into the audit log (kind
 * "alert", state "open"), once while it lasts; a "resolved" message and entry follow when it clears.
 */
import { bindingCovers } from "../core/kubernetes/binding.js";
import { findDependents } from "../core/kubernetes/dependents.js";
import { qualified, type Inventory } from "../core/kubernetes/inventory.js";
import { recoveryState, type Standby } from "../core/restore/state.js";
import {
  alertText,
  openWatchAlerts,
  openedAuditData,
  resolvedAuditData,
  resolvedText,
  wayBack,
  type AlertTargets,
} from "../core/watch/alert.js";
import {
  watchStep,
  type AlertKind,
  type OpenAlert,
  type ResolvedAlert,
  type WatchThresholds,
} from "../core/watch/detect.js";
import type {
  AssetSample,
  ClaimSample,
  ClusterSample,
  DatabaseSample,
  PostureSample,
} from "../core/watch/sample.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Notification, NotifyFailure } from "../notify/webhook.js";
import type { Catalog } from "../ports/catalog.js";
import type { Cluster } from "../ports/cluster.js";
import type { AppContext } from "./context.js";
import { assetPosture } from "./status.js";

export interface WatchDeps {
  ctx: AppContext;
  /** The catalog the alerts are recorded in (and standbys read from). */
  catalog: () => Promise<Catalog>;
  /** The cluster a bound asset lives in; null when lifeline has no Kubernetes configured. */
  cluster: ((asset: ResolvedAsset) => Cluster) | null;
  notify: (message: Notification) => Promise<NotifyFailure[]>;
  /** Who records the alerts (the server's host). */
  host: string;
  log: (level: "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => void;
}

/** What one alert sent: its text as it reached the channel. */
export interface SentAlert {
  state: "open" | "resolved";
  asset: string;
  kind: AlertKind;
  key: string;
  text: string;
}

export interface WatchRound {
  at: string;
  /** Wall-clock time the round took. */
  ms: number;
  assets: number;
  sent: SentAlert[];
}

export interface Watcher {
  round(signal: AbortSignal): Promise<WatchRound>;
  /** The alerts open now. */
  open(): OpenAlert[];
}

/** Samples run side by side (each on its own short connection). */
const CONCURRENCY = 4;
const IDENTITY = "lifeline-watch";

async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i] as T);
  });
  await Promise.all(workers);
}

/** Claims bound to the asset, their volumes, and who depends on them, from one inventory. */
export function claimSamples(asset: ResolvedAsset, inv: Inventory): ClaimSample[] {
  const k = asset.kubernetes;
  if (!k) return [];
  const binding = {
    asset: asset.name,
    namespace: k.namespace,
    release: k.release,
    pvcSelector: k.pvcSelector,
  };
  const services = k.service
    ? inv.services.filter((s) => s.namespace === k.namespace && s.name === k.service)
    : [];
  return inv.claims
    .filter((c) => bindingCovers(binding, c))
    .map((c) => {
      const volume = c.volumeName ? inv.volumes.find((v) => v.name === c.volumeName) : undefined;
      const pods = inv.pods.filter((p) => p.namespace === c.namespace && p.spec.claims.includes(c.name));
      return {
        name: qualified(c),
        uid: c.uid,
        volume: c.volumeName,
        volumeExists: volume !== undefined,
        reclaimPolicy: volume?.reclaimPolicy ?? null,
        dependents: findDependents(inv, { pods, services, configs: [] }, new Set()),
      };
    });
}

export function watcher(
  deps: WatchDeps,
  assets: readonly ResolvedAsset[],
  settings: { thresholds: WatchThresholds },
): Watcher {
  const baselines = new Map<string, AssetSample>();
  let open: OpenAlert[] | null = null;

  const targetsFor = (asset: ResolvedAsset): AlertTargets => {
    const engine = deps.ctx.engine(asset.engine);
    const target = engine.target(asset.url);
    const db = engine.database(target) || asset.name;
    return {
      recoverTo: commandUrl(engine.withDatabase(target, `${db}_recovered`).display),
      standbyTo: commandUrl(engine.withDatabase(target, `${db}_standby`).display),
    };
  };

  /** The write stamp each asset's baseline sample was taken under (see Engine.changes). */
  const stamps = new Map<string, string>();
  const serverKey = (asset: ResolvedAsset) => {
    const engine = deps.ctx.engine(asset.engine);
    return `${asset.engine}\u0000${engine.withDatabase(engine.target(asset.url), "").url}`;
  };

  const sampleDatabase = async (
    asset: ResolvedAsset,
    signal: AbortSignal,
    changes: Map<string, string> | null,
  ): Promise<DatabaseSample | null> => {
    const engine = deps.ctx.engine(asset.engine);
    if (!engine.sample) return null;
    const target = engine.target(asset.url);
    const previous = baselines.get(asset.name)?.database ?? null;
    const stamp = changes?.get(engine.database(target));
    // Nothing was written to it since the last sample (not even its catalog): that sample still holds.
    if (stamp !== undefined && previous?.state === "present" && stamps.get(asset.name) === stamp)
      return { ...previous, at: deps.ctx.clock.now().toISOString() };
    const sample = await engine.sample(target, signal, previous);
    if (stamp !== undefined && sample.state === "present") stamps.set(asset.name, stamp);
    else stamps.delete(asset.name);
    return sample;
  };

  const samplePosture = async (asset: ResolvedAsset): Promise<PostureSample | null> => {
    try {
      const { posture, verified } = await assetPosture(deps.ctx, asset, async () => ({
        error: "not read by the watch",
      }));
      const v = posture.newestVerifiedRestorePoint;
      return {
        rpoMet: posture.rpoMet,
        rpoSeconds: posture.rpoSeconds,
        rpoTargetSeconds: posture.rpoTargetSeconds,
        verified: v
          ? {
              id: v.id,
              snapshotTime: v.snapshotTime,
              drilledAt: v.drilledAt,
              tables: verified?.id === v.id ? verified.fingerprints.tables.map((t) => t.table) : null,
            }
          : null,
      };
    } catch (error) {
      deps.log("warn", "watch-posture-unreadable", { asset: asset.name, error: message(error) });
      return null;
    }
  };

  const record = async (catalog: Catalog | null, asset: string, data: Record<string, unknown>) => {
    if (!catalog) return;
    try {
      await catalog.appendAudit({
        at: deps.ctx.clock.now().toISOString(),
        kind: "alert",
        identity: IDENTITY,
        host: deps.host,
        asset,
        planId: null,
        data,
      });
    } catch (error) {
      deps.log("error", "alert-not-recorded", { asset, alert: data.alert, error: message(error) });
    }
  };

  const send = async (
    catalog: Catalog | null,
    asset: string,
    text: string,
    event: Record<string, unknown>,
  ) => {
    const failures = await deps.notify({ text, event });
    for (const f of failures) {
      deps.log("warn", "alert-notify-failed", { asset, webhook: f.webhook, error: f.error });
      if (catalog)
        await catalog
          .appendAudit({
            at: deps.ctx.clock.now().toISOString(),
            kind: "notify-failed",
            identity: IDENTITY,
            host: deps.host,
            asset,
            planId: null,
            data: { webhook: f.webhook, error: f.error, text },
          })
          .catch(() => undefined);
    }
  };

  return {
    open: () => [...(open ?? [])],
    async round(signal) {
      const started = performance.now();
      const at = deps.ctx.clock.now().toISOString();
      let catalog: Catalog | null = null;
      try {
        catalog = await deps.catalog();
      } catch (error) {
        deps.log("error", "watch-catalog-unavailable", { error: message(error) });
      }
      // A restarted server carries on with the alerts its audit log says are open.
      if (open === null) {
        open = catalog ? openWatchAlerts(await catalog.latestAlerts()) : [];
      }
      // The standbys lifeline made, from the audit log: one read per round for every asset.
      let standbys: Standby[] = [];
      if (catalog) {
        try {
          standbys = recoveryState(await catalog.audit({ kind: "standby" })).standbys;
        } catch (error) {
          deps.log("warn", "watch-standbys-unreadable", { error: message(error) });
        }
      }
      // What was written where: one connection per server, however many of its databases are assets.
      const changes = new Map<string, Promise<Map<string, string> | null>>();
      const changesFor = (asset: ResolvedAsset) => {
        const engine = deps.ctx.engine(asset.engine);
        if (!engine.changes) return Promise.resolve(null);
        const key = serverKey(asset);
        let found = changes.get(key);
        if (!found) {
          found = engine.changes(engine.target(asset.url)).catch(() => null);
          changes.set(key, found);
        }
        return found;
      };
      // One inventory per cluster per round, however many assets live in it.
      const inventories = new Map<Cluster, Promise<Inventory>>();
      const clusterSample = async (asset: ResolvedAsset): Promise<ClusterSample | null> => {
        if (!asset.kubernetes || !deps.cluster) return null;
        try {
          // A kubeconfig that cannot be read is an unreadable cluster, not a failed round.
          const cluster = deps.cluster(asset);
          let inventory = inventories.get(cluster);
          if (!inventory) {
            inventory = cluster.inventory(AbortSignal.any([signal, AbortSignal.timeout(20_000)]));
            inventories.set(cluster, inventory);
          }
          const inv = await inventory;
          const gap = inv.gaps.find((g) => g.required && /claim|volume/i.test(g.resource));
          if (gap)
            return {
              state: "unreadable",
              at: new Date().toISOString(),
              error: `${gap.resource}: ${gap.reason}`,
            };
          return { state: "read", at: new Date().toISOString(), claims: claimSamples(asset, inv) };
        } catch (error) {
          return { state: "unreadable", at: new Date().toISOString(), error: message(error) };
        }
      };

      const sent: SentAlert[] = [];
      const stillOpen = new Map<string, OpenAlert[]>();
      for (const a of open) stillOpen.set(a.asset, [...(stillOpen.get(a.asset) ?? []), a]);
      const watched = new Set(assets.map((a) => a.name));
      const next: OpenAlert[] = open.filter((a) => !watched.has(a.asset));

      await pool(assets, CONCURRENCY, async (asset) => {
        if (signal.aborted) {
          next.push(...(stillOpen.get(asset.name) ?? []));
          return;
        }
        try {
          const [database, cluster, posture] = await Promise.all([
            changesFor(asset).then((c) => sampleDatabase(asset, signal, c)),
            clusterSample(asset),
            samplePosture(asset),
          ]);
          if (!database) {
            next.push(...(stillOpen.get(asset.name) ?? []));
            return;
          }
          const sample: AssetSample = {
            asset: asset.name,
            database,
            cluster,
            posture,
            standbys: standbys
              .filter((s) => s.asset === asset.name)
              .map((s) => ({ target: s.target, restorePointId: s.restorePointId })),
          };
          const step = watchStep({
            baseline: baselines.get(asset.name) ?? null,
            sample,
            open: stillOpen.get(asset.name) ?? [],
            thresholds: settings.thresholds,
            now: deps.ctx.clock.now().toISOString(),
          });
          baselines.set(asset.name, step.baseline);
          next.push(...step.open);
          const targets = targetsFor(asset);
          for (const alert of step.opened) {
            const way = wayBack(asset.name, alert, posture, targets);
            const text = alertText(alert, way, deps.ctx.clock.now());
            const data = openedAuditData(alert, way, text);
            deps.log("warn", "alert", {
              asset: asset.name,
              alert: alert.key,
              state: "open",
              object: alert.object,
            });
            await record(catalog, asset.name, data);
            await send(catalog, asset.name, text, { event: "alert", asset: asset.name, ...data });
            sent.push({ state: "open", asset: asset.name, kind: alert.kind, key: alert.key, text });
          }
          for (const alert of step.resolved) {
            const text = resolvedText(alert);
            const data = resolvedAuditData(alert);
            deps.log("info", "alert", { asset: asset.name, alert: alert.key, state: "resolved" });
            await record(catalog, asset.name, data);
            await send(catalog, asset.name, text, { event: "alert", asset: asset.name, ...data });
            sent.push({ state: "resolved", asset: asset.name, kind: alert.kind, key: alert.key, text });
          }
        } catch (error) {
          next.push(...(stillOpen.get(asset.name) ?? []));
          deps.log("error", "watch-failed", { asset: asset.name, error: message(error) });
        }
      });
      open = next;
      return { at, ms: performance.now() - started, assets: assets.length, sent };
    },
  };
}

/** A URL for a command someone copies: no password at all (not even a mask); the client asks for it. */
function commandUrl(display: string): string {
  try {
    const url = new URL(display);
    url.password = "";
    return url.toString();
  } catch {
    return display;
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Alerts as `alertText` renders them, for callers that hold a round's alerts (the demo). */
export type { OpenAlert, ResolvedAlert };
