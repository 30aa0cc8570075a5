import { hostname } from "node:os";
import path from "node:path";
import type { Command } from "commander";
import type { AdmissionDeps } from "../../app/admission.js";
import { LISTEN } from "../../config/schema.js";
import {
  interpolate,
  resolveAsset,
  watchSettings,
  type LoadedConfig,
  type ResolvedAsset,
  type WatchSettings,
} from "../../config/load.js";
import { LifelineError } from "../../core/errors.js";
import { redactUrl, secrets } from "../../core/redact.js";
import type { Notification } from "../../notify/webhook.js";
import type { Registry } from "prom-client";
import type { Catalog } from "../../ports/catalog.js";
import type { Logger } from "../../serve/log.js";
import type { Cluster, ClusterSelection } from "../../ports/cluster.js";
import { silentProgress } from "../../ports/engine.js";
import { systemClock } from "../../ports/clock.js";
import { catalogLocation, openCatalogFor } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { commandPlanInputs, kubernetesFlags } from "../kubernetes.js";
import { contextFor, kubernetesSettings, load } from "../wiring.js";

interface ServeFlags {
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  shutdownDelay?: string;
  kubeconfig?: string;
  context?: string;
}

/** HOST:PORT → host and port; `where` names the flag or the lifeline.yaml path in the error. */
export function parseListen(value: string, where: string): { host: string; port: number } {
  const m = LISTEN.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `${where}: "${value}" is not HOST:PORT`,
      fix: "write it like 0.0.0.0:8443, [::]:8443 or :8443",
    });
  }
  const host = (m[1] ?? "").replace(/^\[|\]$/g, "");
  return { host: host === "" ? "0.0.0.0" : host, port };
}

/** Where to listen and the TLS files: the flags, then lifeline.yaml's serve: section. */
export function serveSettings(
  loaded: LoadedConfig,
  flags: ServeFlags,
  /** Without TLS the server runs without the webhook, on plain HTTP (only scheduled jobs and /metrics). */
  allowPlain = false,
): { host: string; port: number; tls: { cert: string; key: string } | null } {
  const s = loaded.config.serve;
  const listen = flags.listen
    ? parseListen(flags.listen, "--listen")
    : parseListen(s?.listen ?? "0.0.0.0:8443", `${loaded.file}: serve.listen`);
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--tls-cert and --tls-key go together (only ${flags.tlsCert ? "--tls-cert" : "--tls-key"} was given)`,
      fix: "give both: --tls-cert tls.crt --tls-key tls.key",
    });
  }
  const tls =
    flags.tlsCert && flags.tlsKey
      ? { cert: path.resolve(flags.tlsCert), key: path.resolve(flags.tlsKey) }
      : s?.tls
        ? { cert: path.resolve(loaded.dir, s.tls.cert), key: path.resolve(loaded.dir, s.tls.key) }
        : null;
  if (!tls && allowPlain) return { ...listen, tls: null };
  if (!tls) {
    throw new LifelineError({
      code: "CONFIG_INVALID",
      kind: "config",
      message: `${loaded.file}: serve.tls: lifeline serve needs a TLS certificate and key (the API server calls webhooks over HTTPS only)`,
      fix: "give --tls-cert FILE --tls-key FILE, or add to lifeline.yaml: serve: { tls: { cert: tls.crt, key: tls.key } } (cert-manager's Secret, mounted)",
    });
  }
  return { ...listen, tls };
}

/** Seconds to go on answering after SIGTERM (--shutdown-delay): a number from 0 to 300. */
function shutdownDelayMs(value: string | undefined): number {
  if (value === undefined) return 0;
  // Plain decimal seconds: Number() would also read 0x10, 0b11 or 1e2.
  const seconds = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!(seconds >= 0 && seconds <= 300)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--shutdown-delay ${JSON.stringify(value)} is not a number of seconds from 0 to 300`,
      fix: "give the seconds Kubernetes needs to take the pod out of the Service's endpoints, e.g. --shutdown-delay 5",
    });
  }
  return Math.round(seconds * 1000);
}

function stopped(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Posts to the webhooks of notifications.webhooks (their URLs are secrets). */
async function webhookNotifier(loaded: LoadedConfig) {
  const { notify } = await import("../../notify/webhook.js");
  const webhooks = loaded.config.notifications.webhooks.map((w, i) =>
    interpolate(w, `notifications.webhooks[${i}]`, process.env),
  );
  for (const w of webhooks) secrets.add(w);
  return (message: Notification) => notify(webhooks, message);
}

export function register(program: Command, env: CliEnv): void {
  kubernetesFlags(
    program
      .command("serve")
      .description(
        "Run the lifeline server: the Kubernetes admission webhook (POST /validate, HTTPS) that judges deletions of claims, volumes, namespaces and StatefulSets with the same plan and policy as `lifeline plan` (against a watch cache of the cluster); the assets' scheduled backups, drills and retention (schedule: and retention: in lifeline.yaml); the watch (drop detection and alerts; watch: in lifeline.yaml); and /healthz, /readyz, /metrics. Without a TLS certificate it runs only the schedules, the watch and /metrics (plain HTTP). JSON logs on stderr; SIGTERM stops it cleanly.",
      )
      .option(
        "--listen <host:port>",
        "address to listen on (default: serve.listen in lifeline.yaml, else 0.0.0.0:8443)",
      )
      .option("--tls-cert <file>", "PEM certificate (reloaded when the file changes)")
      .option("--tls-key <file>", "PEM private key of the certificate")
      .option(
        "--shutdown-delay <seconds>",
        "on SIGTERM, report not ready (/readyz 503) and go on answering for this long before closing, while Kubernetes takes the pod out of the webhook Service's endpoints (default 0; lifeline k8s install sets 5)",
      ),
    "the cluster the webhook judges",
  )
    .addHelpText(
      "after",
      `
With a watch: section in lifeline.yaml, serve also samples every asset each watch.interval
(catalog and statistics, claims and volumes) and alerts the notifications.webhooks when a table
with data is dropped or truncated, rows fall by more than watch.rowsFall, the database is gone or
unreachable, a bound claim or volume is deleted or reclaims with Delete, the RPO is passed or a
standby falls behind; alerts are recorded in the audit log (kind alert, open then resolved).

Examples:
  lifeline serve --tls-cert tls.crt --tls-key tls.key
  lifeline serve --listen 127.0.0.1:9443 --context prod
  lifeline serve --tls-cert tls.crt --tls-key tls.key --shutdown-delay 5   # in a Deployment
  lifeline serve --listen 127.0.0.1:9090      # schedules only (no serve.tls): jobs and /metrics
  lifeline serve                              # watch: { interval: 30s } and no serve.tls: the watch and /metrics

Schedules (lifeline.yaml; cron in UTC, 5 fields or 6 with seconds first):
  assets:
    shop:
      schedule: { backup: "0 */6 * * *", drill: after-backup }
      retention: { keepLast: 3, daily: 7, weekly: 4 }
  serve:
    jobs: { concurrency: 1, attempts: 3, deadAfter: 60s }
With a PostgreSQL catalog the jobs run on graphile-worker, shared by every replica (each scheduled
job runs once; a dead server's job is retried by another after deadAfter); with the SQLite
catalog one server runs them in-process.

A break-glass grant counts for the Kubernetes users and groups lifeline.yaml maps its identity to
(identities:); the \`lifeline run\` executing an approved plan passes as the Kubernetes user it acts as;
kube-controller-manager's controllers pass when they finish a deletion lifeline allowed.

The cluster is read from an in-memory cache kept by watches (informers over claims, volumes,
storage classes, snapshots, workloads, pods, services, config maps, secrets, namespaces, nodes):
/readyz is false until every informer has synced, and a resource whose watch broke and cannot
resume makes plans that need it deny, with the reason. /metrics shows the cache's age.
`,
    )
    .action(async (opts: ServeFlags, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const { scheduledAssets } = await import("../../serve/jobs/index.js");
      const scheduled = scheduledAssets(loaded);
      const watchConfig = watchSettings(loaded);
      // Schedules or the watch without TLS: they and /metrics run, the webhook does not (it needs HTTPS).
      const settings = serveSettings(loaded, opts, scheduled.length > 0 || watchConfig.enabled);
      const drainMs = shutdownDelayMs(opts.shutdownDelay);
      const { startServer } = await import("../../serve/server.js");
      const { jsonLogger } = await import("../../serve/log.js");
      const { readinessProbe, serveCache, sharedCatalog } = await import("../../serve/serve.js");
      const log = jsonLogger();
      const catalog = sharedCatalog(() => openCatalogFor(loaded, { longRunning: true }));
      // Started once the server listens (a port in use stops serve before any job runs).
      const registries: Registry[] = [];
      const startJobs = async () => {
        if (scheduled.length === 0) return null;
        const { startJobsComponent } = await import("../../serve/jobs-component.js");
        const component = await startJobsComponent({
          loaded,
          catalogLocation: catalogLocation(loaded),
          catalog: () => catalog.get(),
          context: (signal) => contextFor(loaded, signal, silentProgress),
          notify: await webhookNotifier(loaded),
          log,
        });
        registries.push(component.registry);
        return component;
      };
      // The watch (watch: in lifeline.yaml): every asset sampled each interval, alerts on losses.
      const startWatching = async (cluster: ((s: ClusterSelection) => Cluster) | null) =>
        watchConfig.enabled
          ? startWatchFor(loaded, watchConfig, { cluster, catalog, log, opts, registries }, env.signal)
          : null;
      if (!settings.tls) {
        log.log("info", "starting", {
          config: loaded.file,
          catalog: redactUrl(catalogLocation(loaded)),
          webhook: `off: no TLS certificate (serve.tls); ${watchConfig.enabled ? "the watch, " : ""}scheduled jobs and /metrics only`,
          scheduled,
        });
        const server = await startServer({
          host: settings.host,
          port: settings.port,
          tls: null,
          readiness: readinessProbe([
            { name: "catalog", check: async () => void (await (await catalog.get()).auditHead()) },
          ]),
          log,
          registries,
        });
        const jobs = await startJobs().catch(async (error: unknown) => {
          await server.close();
          throw error;
        });
        const watch = await startWatching(null);
        await stopped(env.signal);
        log.log("info", "stopping", { reason: "signal" });
        await watch?.stop();
        await jobs?.stop();
        await server.close();
        await catalog.close().catch(() => undefined);
        log.log("info", "stopped", {});
        return;
      }
      const tls = settings.tls;
      const { judgeAdmission } = await import("../../app/admission.js");
      const inputs = await commandPlanInputs(loaded, opts, env.signal, silentProgress);
      const expected = inputs.options.kubernetes.context;
      // The judged cluster is read from an informer cache (watches), never with list calls per
      // request; another kubeconfig or context (not what the webhook plans) gets one list client.
      const listed = onePerSelection(inputs.deps.cluster);
      const clusterCache = serveCache(
        { kubeconfig: inputs.options.kubernetes.kubeconfig, context: expected },
        listed,
        log,
      );
      const cluster = (selection: ClusterSelection): Cluster =>
        clusterCache.cluster({ kubeconfig: selection.kubeconfig, context: selection.context ?? expected });
      const { signal: _signal, ctx, ...planDeps } = inputs.deps;
      // Every request about an asset reads its overview: a local repository's is remembered while
      // its files are unchanged (overview-cache.ts: never staler than a fresh read).
      const { withOverviewCache } = await import("../../repository/local-fs/overview-cache.js");
      const deps: AdmissionDeps = {
        plan: {
          deps: {
            ...planDeps,
            ctx: ctx && { ...ctx, repository: withOverviewCache(ctx.repository) },
            cluster,
          },
          options: { ...inputs.options, env: {} },
        },
        catalog: () => catalog.get(),
        clock: systemClock,
        host: hostname(),
        warn: (message) => log.log("warn", "gate-warning", { message }),
        identities: loaded.config.identities,
        controllers: loaded.config.serve?.controllers ?? [],
      };
      const probe = readinessProbe([
        { name: "catalog", check: async () => void (await (await catalog.get()).auditHead()) },
      ]);
      if (Object.keys(loaded.config.assets).length === 0) {
        log.log("warn", "no-assets", {
          message: `${loaded.file} lists no assets: no data is bound to an asset, so every volume's data is judged as unbound (policy tier "unbound": by default one approval for destroying it); add assets with their kubernetes: binding`,
        });
      }
      // Not ready until every informer has synced (and whenever one is broken): then protected
      // requests are denied anyway, with the reason.
      const readiness = async () => {
        const cached = clusterCache.readiness();
        return cached.ready ? probe() : cached;
      };
      log.log("info", "starting", {
        config: loaded.file,
        catalog: redactUrl(catalogLocation(loaded)),
        context: expected,
        ...(scheduled.length > 0 ? { scheduled } : {}),
      });
      const server = await startServer({
        host: settings.host,
        port: settings.port,
        tls,
        admit: (body) => judgeAdmission(deps, body),
        readiness,
        cache: () => clusterCache.cache.states(),
        log,
        registries,
      });
      const jobs = await startJobs().catch(async (error: unknown) => {
        await server.close();
        throw error;
      });
      void clusterCache.start().then(() => readiness());
      const watch = await startWatching(cluster);
      // Only SIGTERM (Kubernetes stopping the pod) drains; Ctrl-C stops at once, and so does a
      // second signal during the drain (main.ts).
      let terminated = false;
      const onTerm = () => (terminated = true);
      process.once("SIGTERM", onTerm);
      await stopped(env.signal);
      process.off("SIGTERM", onTerm);
      if (terminated && drainMs > 0) {
        // Kubernetes takes a terminating pod out of the Service's endpoints a moment after it sent
        // SIGTERM: requests still routed here meanwhile are answered, not refused (the API server
        // would deny them all, failurePolicy Fail), each closing its connection, and /readyz says
        // why it is going.
        server.drain();
        log.log("info", "draining", { seconds: drainMs / 1000 });
        await new Promise((resolve) => setTimeout(resolve, drainMs));
      }
      log.log("info", "stopping", { reason: "signal" });
      await watch?.stop();
      await jobs?.stop();
      await server.close();
      clusterCache.stop();
      await catalog.close().catch(() => undefined);
      log.log("info", "stopped", {});
    });
}

/**
 * The watch: every asset sampled each watch.interval; alerts to the webhooks and the audit log.
 * `cluster`: the webhook's clients; without the webhook, bound assets get their own (lazily).
 */
async function startWatchFor(
  loaded: LoadedConfig,
  settings: WatchSettings,
  parts: {
    cluster: ((selection: ClusterSelection) => Cluster) | null;
    catalog: { get(): Promise<Catalog> };
    log: Logger;
    opts: ServeFlags;
    /** Where /metrics reads from: the watch adds its own. */
    registries: Registry[];
  },
  signal: AbortSignal,
) {
  const { catalog, log, opts } = parts;
  const { watcher } = await import("../../app/watch.js");
  const { startWatch, watchMetrics } = await import("../../serve/watch.js");
  const metrics = watchMetrics();
  parts.registries.push(metrics.registry);
  const assets: ResolvedAsset[] = [];
  for (const name of Object.keys(loaded.config.assets)) {
    try {
      assets.push(resolveAsset(loaded, name, process.env));
    } catch (error) {
      log.log("error", "watch-asset-skipped", {
        asset: name,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  let cluster = parts.cluster;
  if (!cluster && assets.some((a) => a.kubernetes !== null)) {
    const inputs = await commandPlanInputs(loaded, opts, signal, silentProgress);
    const expected = inputs.options.kubernetes.context;
    const listed = onePerSelection(inputs.deps.cluster);
    cluster = (selection) =>
      listed({ kubeconfig: selection.kubeconfig, context: selection.context ?? expected });
  }
  const kubeconfig = kubernetesSettings(loaded, opts).kubeconfig;
  const forAsset = cluster;
  const w = watcher(
    {
      ctx: contextFor(loaded, signal, silentProgress),
      catalog: () => catalog.get(),
      cluster: forAsset
        ? (asset) => forAsset({ kubeconfig, context: asset.kubernetes?.context ?? null })
        : null,
      notify: await webhookNotifier(loaded),
      host: hostname(),
      log: (level, event, fields) => log.log(level, event, fields),
    },
    assets,
    { thresholds: settings.thresholds },
  );
  log.log("info", "watch-assets", { assets: assets.map((a) => a.name) });
  return startWatch({ watcher: w, intervalMs: settings.intervalMs, log, onRound: metrics.observe });
}

/** One client per kubeconfig and context (the kubeconfig is read once, not per request or round). */
function onePerSelection(make: (s: ClusterSelection) => Cluster): (s: ClusterSelection) => Cluster {
  const clients = new Map<string, Cluster>();
  return (s) => {
    const key = `${s.kubeconfig ?? ""}\u0000${s.context ?? ""}`;
    let c = clients.get(key);
    if (!c) {
      c = make(s);
      clients.set(key, c);
    }
    return c;
  };
}
