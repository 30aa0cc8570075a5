import { hostname } from "node:os";
import path from "node:path";
import type { Command } from "commander";
import type { AdmissionDeps } from "../../app/admission.js";
import { LISTEN } from "../../config/schema.js";
import type { LoadedConfig } from "../../config/load.js";
import { LifelineError } from "../../core/errors.js";
import { redactUrl } from "../../core/redact.js";
import type { Cluster, ClusterSelection } from "../../ports/cluster.js";
import { silentProgress } from "../../ports/engine.js";
import { systemClock } from "../../ports/clock.js";
import { catalogLocation, openCatalogFor } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { commandPlanInputs, kubernetesFlags } from "../kubernetes.js";
import { load } from "../wiring.js";

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
        "Run the lifeline server: the Kubernetes admission webhook (POST /validate, HTTPS) that judges deletions of claims, volumes, namespaces and StatefulSets with the same plan and policy as `lifeline plan` (against a watch cache of the cluster), and /healthz, /readyz, /metrics. JSON logs on stderr; SIGTERM stops it cleanly.",
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
Examples:
  lifeline serve --tls-cert tls.crt --tls-key tls.key
  lifeline serve --listen 127.0.0.1:9443 --context prod

The cluster is read from an in-memory cache kept by watches (informers over claims, volumes,
storage classes, snapshots, workloads, pods, services, config maps, secrets, namespaces, nodes):
/readyz is false until every informer has synced, and a resource whose watch broke and cannot
resume makes plans that need it deny, with the reason. /metrics shows the cache's age.
`,
    )
    .action(async (opts: ServeFlags, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const settings = serveSettings(loaded, opts);
      const { startServer } = await import("../../serve/server.js");
      const { jsonLogger } = await import("../../serve/log.js");
      const { readinessProbe, serveCache, sharedCatalog } = await import("../../serve/serve.js");
      const { judgeAdmission } = await import("../../app/admission.js");
      const log = jsonLogger();
      const inputs = await commandPlanInputs(loaded, opts, env.signal, silentProgress);
      const expected = inputs.options.kubernetes.context;
      // The judged cluster is read from an informer cache (watches), never with list calls per
      // request; another kubeconfig or context (not what the webhook plans) gets one list client.
      const clients = new Map<string, Cluster>();
      const listed = (s: ClusterSelection): Cluster => {
        const key = `${s.kubeconfig ?? ""}\u0000${s.context ?? ""}`;
        let c = clients.get(key);
        if (!c) {
          c = inputs.deps.cluster(s);
          clients.set(key, c);
        }
        return c;
      };
      const clusterCache = serveCache(
        { kubeconfig: inputs.options.kubernetes.kubeconfig, context: expected },
        listed,
        log,
      );
      const cluster = (selection: ClusterSelection): Cluster =>
        clusterCache.cluster({ kubeconfig: selection.kubeconfig, context: selection.context ?? expected });
      const catalog = sharedCatalog(() => openCatalogFor(loaded));
      const { signal: _signal, ...planDeps } = inputs.deps;
      const deps: AdmissionDeps = {
        plan: { deps: { ...planDeps, cluster }, options: { ...inputs.options, env: {} } },
        catalog: () => catalog.get(),
        clock: systemClock,
        host: hostname(),
        warn: (message) => log.log("warn", "gate-warning", { message }),
      };
      const probe = readinessProbe([
        { name: "catalog", check: async () => void (await (await catalog.get()).auditHead()) },
      ]);
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
      });
      const server = await startServer({
        host: settings.host,
        port: settings.port,
        tls: settings.tls,
        admit: (body) => judgeAdmission(deps, body),
        readiness,
        cache: () => clusterCache.cache.states(),
        log,
      });
      void clusterCache.start().then(() => readiness());
      await new Promise<void>((resolve) => {
        if (env.signal.aborted) resolve();
        else env.signal.addEventListener("abort", () => resolve(), { once: true });
      });
      log.log("info", "stopping", { reason: "signal" });
      await server.close();
      clusterCache.stop();
      await catalog.close().catch(() => undefined);
      log.log("info", "stopped", {});
    });
}
