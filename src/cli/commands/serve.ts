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
import type { Catalog } from "../../ports/catalog.js";
import type { Logger } from "../../serve/log.js";
import type { Cluster, ClusterSelection } from "../../ports/cluster.js";
import { silentProgress } from "../../ports/engine.js";
import { systemClock } from "../../ports/clock.js";
import { catalogLocation, openCatalogFor } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { commandPlanInputs, kubernetesFlags } from "../kubernetes.js";
import { contextFor, load } from "../wiring.js";

interface ServeFlags {
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
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
export function serveSettings(loaded: LoadedConfig, flags: ServeFlags) {
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

export function register(program: Command, env: CliEnv): void {
  kubernetesFlags(
    program
      .command("serve")
      .description(
        "Run the lifeline server: the Kubernetes admission webhook (POST /validate, HTTPS) that judges deletions of claims, volumes, namespaces and StatefulSets with the same plan and policy as `lifeline plan`, and /healthz, /readyz, /metrics; and the watch (drop detection and alerts) when lifeline.yaml has a watch: section. JSON logs on stderr; SIGTERM stops it cleanly.",
      )
      .option(
        "--listen <host:port>",
        "address to listen on (default: serve.listen in lifeline.yaml, else 0.0.0.0:8443)",
      )
      .option("--tls-cert <file>", "PEM certificate (reloaded when the file changes)")
      .option("--tls-key <file>", "PEM private key of the certificate"),
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
Without TLS and with a watch: section, serve runs the watch alone (no webhook).

Examples:
  lifeline serve --tls-cert tls.crt --tls-key tls.key
  lifeline serve --listen 127.0.0.1:9443 --context prod
  lifeline serve                      # lifeline.yaml: watch: { interval: 30s }, no TLS: the watch alone

A break-glass grant counts for the Kubernetes users and groups lifeline.yaml maps its identity to
(identities:); the \`lifeline run\` executing an approved plan passes as the Kubernetes user it acts as;
kube-controller-manager's controllers pass when they finish a deletion lifeline allowed.
Known limit: the cluster is read with list calls per judged request (no watch cache yet).
`,
    )
    .action(async (opts: ServeFlags, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const watchConfig = watchSettings(loaded);
      const { jsonLogger } = await import("../../serve/log.js");
      const { sharedCatalog } = await import("../../serve/serve.js");
      const log = jsonLogger();
      const inputs = await commandPlanInputs(loaded, opts, env.signal, silentProgress);
      const expected = inputs.options.kubernetes.context;
      // One client per selection (kubeconfig read once); the context lifeline is told to judge by default.
      const clients = new Map<string, Cluster>();
      const cluster = (selection: ClusterSelection): Cluster => {
        const s = { kubeconfig: selection.kubeconfig, context: selection.context ?? expected };
        const key = `${s.kubeconfig ?? ""}\u0000${s.context ?? ""}`;
        let c = clients.get(key);
        if (!c) {
          c = inputs.deps.cluster(s);
          clients.set(key, c);
        }
        return c;
      };
      const catalog = sharedCatalog(() => openCatalogFor(loaded));
      // With a watch: section and no TLS, serve runs the watch alone (no webhook, no Kubernetes needed).
      const webhook = hasTls(loaded, opts) || !watchConfig.enabled;
      const server = webhook ? await startWebhook(loaded, opts, { inputs, cluster, catalog, log }) : null;
      const watch = watchConfig.enabled
        ? await startWatchFor(loaded, watchConfig, { inputs, cluster, catalog, log }, env.signal)
        : null;
      await new Promise<void>((resolve) => {
        if (env.signal.aborted) resolve();
        else env.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      log.log("info", "stopping", { reason: "signal" });
      await watch?.stop();
      await server?.close();
      await catalog.close().catch(() => undefined);
      log.log("info", "stopped", {});
    });
}

function hasTls(loaded: LoadedConfig, flags: ServeFlags): boolean {
  return flags.tlsCert !== undefined || flags.tlsKey !== undefined || loaded.config.serve?.tls !== undefined;
}

interface ServeParts {
  inputs: Awaited<ReturnType<typeof commandPlanInputs>>;
  cluster: (selection: ClusterSelection) => Cluster;
  catalog: { get(): Promise<Catalog>; close(): Promise<void> };
  log: Logger;
}

/** The admission webhook (HTTPS): POST /validate, /healthz, /readyz, /metrics. */
async function startWebhook(loaded: LoadedConfig, opts: ServeFlags, parts: ServeParts) {
  const { inputs, cluster, catalog, log } = parts;
  const settings = serveSettings(loaded, opts);
  const { startServer } = await import("../../serve/server.js");
  const { readinessProbe } = await import("../../serve/serve.js");
  const { judgeAdmission } = await import("../../app/admission.js");
  const expected = inputs.options.kubernetes.context;
  const { signal: _signal, ...planDeps } = inputs.deps;
  const deps: AdmissionDeps = {
    plan: { deps: { ...planDeps, cluster }, options: { ...inputs.options, env: {} } },
    catalog: () => catalog.get(),
    clock: systemClock,
    host: hostname(),
    warn: (message) => log.log("warn", "gate-warning", { message }),
    identities: loaded.config.identities,
    controllers: loaded.config.serve?.controllers ?? [],
  };
  const readiness = readinessProbe([
    { name: "catalog", check: async () => void (await (await catalog.get()).auditHead()) },
    {
      name: "cluster",
      check: async () => {
        const c = cluster({ kubeconfig: inputs.options.kubernetes.kubeconfig, context: null });
        const inventory = await c.inventory(AbortSignal.timeout(10_000));
        const gaps = inventory.gaps.filter((g) => g.required);
        if (gaps.length > 0)
          throw new Error(gaps.map((g) => `cannot read ${g.resource}: ${g.reason}`).join("; "));
      },
    },
  ]);
  if (Object.keys(loaded.config.assets).length === 0) {
    log.log("warn", "no-assets", {
      message: `${loaded.file} lists no assets: no data is bound to an asset, so every volume's data is judged as unbound (policy tier "unbound": by default one approval for destroying it); add assets with their kubernetes: binding`,
    });
  }
  log.log("info", "starting", {
    config: loaded.file,
    catalog: redactUrl(catalogLocation(loaded)),
    context: expected,
  });
  const server = await startServer({
    host: settings.host,
    port: settings.port,
    tls: settings.tls,
    admit: (body) => judgeAdmission(deps, body),
    readiness,
    log,
  });
  void readiness();
  return server;
}

/** The watch: every asset sampled each watch.interval; alerts to the webhooks and the audit log. */
async function startWatchFor(
  loaded: LoadedConfig,
  settings: WatchSettings,
  parts: ServeParts,
  signal: AbortSignal,
) {
  const { inputs, cluster, catalog, log } = parts;
  const { watcher } = await import("../../app/watch.js");
  const { startWatch } = await import("../../serve/watch.js");
  const { notify } = await import("../../notify/webhook.js");
  const webhooks = loaded.config.notifications.webhooks.map((w, i) =>
    interpolate(w, `notifications.webhooks[${i}]`, process.env),
  );
  for (const w of webhooks) secrets.add(w);
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
  const ctx = contextFor(loaded, signal, silentProgress);
  const kubeconfig = inputs.options.kubernetes.kubeconfig;
  const w = watcher(
    {
      ctx,
      catalog: () => catalog.get(),
      cluster: (asset) => cluster({ kubeconfig, context: asset.kubernetes?.context ?? null }),
      notify: (message) => notify(webhooks, message),
      host: hostname(),
      log: (level, event, fields) => log.log(level, event, fields),
    },
    assets,
    { thresholds: settings.thresholds },
  );
  log.log("info", "watch-assets", { assets: assets.map((a) => a.name), webhooks: webhooks.length });
  return startWatch({ watcher: w, intervalMs: settings.intervalMs, log });
}
