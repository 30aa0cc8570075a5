/**
 * `lifeline demo cluster`: the simulated Kubernetes API server (cluster/) started for a person to
 * try the Kubernetes side of lifeline (kubectl, `lifeline plan -- kubectl …`, `lifeline k8s …`,
 * `lifeline serve` as its admission webhook) on a machine without Kubernetes.
 *
 * It serves the incident scenario (the same objects as `lifeline demo` and the tests), writes a
 * kubeconfig (the server's generated CA in `certificate-authority-data`, its bearer token) and maps
 * the Service of `lifeline k8s install` (`lifeline/lifeline:443`) to a local address, so that the
 * ValidatingWebhookConfiguration that install creates calls a `lifeline serve` running on this
 * machine. Objects live in memory: every start begins again from the scenario.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { LifelineError } from "../core/errors.js";
import { SIMULATED, startSimulatedCluster, type SimulatedCluster } from "./cluster/index.js";

/** The Service `lifeline k8s install` creates (default namespace), as the simulator keys it. */
export const DEFAULT_WEBHOOK_SERVICE = "lifeline/lifeline:443";
/** Where `lifeline serve` listens by default (0.0.0.0:8443), seen from this machine. */
export const DEFAULT_WEBHOOK_URL = "https://127.0.0.1:8443";
export const KUBECONFIG_FILE = "kubeconfig";

export interface ClusterSessionOptions {
  /** Port of the API server (0 or undefined: any free port). */
  port?: number;
  /** Directory for the kubeconfig (created if missing); default: a new temporary directory. */
  dir?: string;
  /** Base URL the webhook Service is reached at (default {@link DEFAULT_WEBHOOK_URL}). */
  webhookUrl?: string;
  /** `namespace/name[:port]` of the webhook Service (default {@link DEFAULT_WEBHOOK_SERVICE}). */
  webhookService?: string;
}

export interface ClusterSession {
  /** Base URL of the simulated API server, https://127.0.0.1:PORT. */
  server: string;
  /** The kubeconfig written (mode 0600), context {@link SIMULATED.context}. */
  kubeconfig: string;
  context: string;
  /** Where the kubeconfig is; `removedOnStop`: the directory was created here and goes at stop. */
  dir: string;
  removedOnStop: "directory" | "kubeconfig";
  /** The Service reference (`namespace/name:port`) and the URL it is reached at. */
  webhook: { service: string; url: string };
  /** Namespaces of the scenario that hold the workloads (shop, feeds, …). */
  namespaces: string[];
  /** The claims of the shop namespace (what `kubectl get pvc -n shop` lists). */
  claims: { namespace: string; names: string[] };
  /** Stops the server and removes what {@link removedOnStop} says. Idempotent. */
  stop(): Promise<void>;
}

/** `--port`: an integer from 0 (any free port) to 65535. */
export function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value.trim()) ? Number(value) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--port ${JSON.stringify(value)} is not a port number from 0 to 65535`,
      fix: "give a free port, e.g. --port 6443, or leave it out for any free port",
    });
  }
  return port;
}

/** `--webhook-service`: `namespace/name` or `namespace/name:port` → `namespace/name:port`. */
export function parseWebhookService(value: string): string {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)(:(\d{1,5}))?$/.exec(
    value.trim(),
  );
  const port = m?.[6] === undefined ? 443 : Number(m[6]);
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--webhook-service ${JSON.stringify(value)} is not NAMESPACE/NAME[:PORT]`,
      fix: `name the Service the ValidatingWebhookConfiguration refers to, e.g. --webhook-service ${DEFAULT_WEBHOOK_SERVICE} (lifeline k8s install -n NAMESPACE: NAMESPACE/lifeline:443)`,
    });
  }
  return `${m[1]}/${m[3]}:${port}`;
}

/** `--webhook-url`: an https:// base URL (the API server calls webhooks over HTTPS only). */
export function parseWebhookUrl(value: string): string {
  let url: URL | null = null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  if (!url || url.protocol !== "https:" || url.search !== "" || url.hash !== "" || url.username !== "") {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--webhook-url ${JSON.stringify(value)} is not an https:// URL`,
      fix: `give where lifeline serve listens, e.g. --webhook-url ${DEFAULT_WEBHOOK_URL} (the API server calls webhooks over HTTPS only)`,
    });
  }
  return url.toString().replace(/\/$/, "");
}

/** Starts the simulated API server with the incident scenario and writes its kubeconfig. */
export async function startClusterSession(options: ClusterSessionOptions = {}): Promise<ClusterSession> {
  const webhook = {
    service: parseWebhookService(options.webhookService ?? DEFAULT_WEBHOOK_SERVICE),
    url: parseWebhookUrl(options.webhookUrl ?? DEFAULT_WEBHOOK_URL),
  };
  const created = options.dir === undefined;
  const dir = created
    ? await mkdtemp(path.join(os.tmpdir(), "lifeline-cluster-"))
    : path.resolve(options.dir as string);
  let cluster: SimulatedCluster;
  try {
    if (!created) await mkdir(dir, { recursive: true });
    cluster = await startSimulatedCluster({
      ...(options.port ? { port: options.port } : {}),
      webhookServices: { [webhook.service]: webhook.url },
    });
  } catch (e) {
    if (created) await rm(dir, { recursive: true, force: true });
    throw startError(e, options.port);
  }
  const kubeconfig = path.join(dir, KUBECONFIG_FILE);
  try {
    await cluster.writeKubeconfig(kubeconfig);
  } catch (e) {
    await cluster.close();
    if (created) await rm(dir, { recursive: true, force: true });
    throw new LifelineError({
      code: "DEMO_CLUSTER_FAILED",
      kind: "runtime",
      message: `cannot write the kubeconfig ${kubeconfig}: ${(e as Error).message}`,
      fix: "give a directory you can write to with --dir DIR",
    });
  }
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await cluster.close();
      if (created) await rm(dir, { recursive: true, force: true });
      // A kubeconfig naming a server and a CA that no longer exist; the directory is the user's.
      else await rm(kubeconfig, { force: true });
    })());
  return {
    server: cluster.url,
    kubeconfig,
    context: SIMULATED.context,
    dir,
    removedOnStop: created ? "directory" : "kubeconfig",
    webhook,
    namespaces: SIMULATED.namespaces.filter((n) => !n.startsWith("kube-") && n !== "default"),
    claims: {
      namespace: SIMULATED.namespace,
      names: cluster
        .objects("PersistentVolumeClaim", SIMULATED.namespace)
        .map((o) => o.metadata.name)
        .sort(),
    },
    stop,
  };
}

function startError(e: unknown, port: number | undefined): LifelineError {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE" || code === "EACCES") {
    return new LifelineError({
      code: "DEMO_CLUSTER_FAILED",
      kind: "runtime",
      message: `cannot listen on 127.0.0.1:${port}: ${code === "EADDRINUSE" ? "the port is in use" : "permission denied"}`,
      fix: "give another port with --port N, or leave --port out for any free port",
    });
  }
  if (e instanceof LifelineError) return e;
  return new LifelineError({
    code: "DEMO_CLUSTER_FAILED",
    kind: "runtime",
    message: `cannot start the simulated cluster: ${(e as Error).message}`,
    fix: "give a directory you can write to with --dir DIR",
  });
}
