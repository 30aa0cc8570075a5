/**
 * The simulated Kubernetes API server for tests: started in-process, reached by
 * @kubernetes/client-node over real HTTPS (trusting the cluster's CA, with its bearer token). See src/demo/cluster/server.ts for what it does.
 */
import assert from "node:assert/strict";
import https from "node:https";
import {
  ApiException,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  StorageV1Api,
  setHeaderOptions,
} from "@kubernetes/client-node";
import {
  SIMULATED_TOKEN,
  startSimulatedCluster,
  type SimulatedCluster,
  type SimulatedClusterOptions,
} from "../../src/demo/cluster/index.js";

export * from "../../src/demo/cluster/index.js";

export interface FakeClusterClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  batch: BatchV1Api;
  storage: StorageV1Api;
  custom: CustomObjectsApi;
}

export type FakeCluster = SimulatedCluster & FakeClusterClients;

/** client-node 1.x clients for a kubeconfig text. */
export function clientsFor(kubeconfig: string): FakeClusterClients {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(kubeconfig);
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    apps: kubeConfig.makeApiClient(AppsV1Api),
    batch: kubeConfig.makeApiClient(BatchV1Api),
    storage: kubeConfig.makeApiClient(StorageV1Api),
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
  };
}

/**
 * Starts the simulated cluster with the incident fixtures (or `options.fixtures`) and returns it
 * with ready-made clients. Call `reset()` between tests and `close()` at the end.
 */
export async function startFakeCluster(options: SimulatedClusterOptions = {}): Promise<FakeCluster> {
  const cluster = await startSimulatedCluster(options);
  return Object.assign(cluster, clientsFor(cluster.kubeconfig));
}

export const createFakeCluster = startFakeCluster;

/**
 * Per-call options that make a client-node 1.x `patch*` call send a JSON merge patch. Without
 * them client-node sends `application/json-patch+json` (the first type in the OpenAPI list), so an
 * object body is rejected with 400 by the API server (and by this fake).
 */
export const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
export const strategicMergePatch = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);

/** Awaits a rejected client-node call and returns the ApiException's code and parsed Status body. */
export async function apiError(
  call: Promise<unknown>,
): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ApiException, `expected an ApiException, got ${String(error)}`);
    const e = error as ApiException<unknown>;
    // client-node drops the body of a 401 (ApiException(401, "Unauthorized", undefined)).
    const status =
      typeof e.body === "string" && e.body !== "" ? (JSON.parse(e.body) as Record<string, unknown>) : {};
    return { code: e.code, status };
  }
  assert.fail("the call succeeded but should have failed");
}

/** The names of listed objects, sorted. */
export function names(items: Array<{ metadata?: { name?: string } }>): string[] {
  return items.map((i) => i.metadata?.name ?? "").sort();
}

/**
 * A raw HTTPS request to the cluster, trusting its CA (Node's fetch cannot be given a CA). `token`
 * is sent as a bearer token unless null.
 */
export function rawRequest(
  cluster: { url: string; ca: string },
  requestPath: string,
  options: { method?: string; token?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}> {
  const token = options.token === undefined ? SIMULATED_TOKEN : options.token;
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(requestPath, cluster.url),
      {
        method: options.method ?? "GET",
        ca: cluster.ca,
        headers: {
          ...(token !== null ? { authorization: `Bearer ${token}` } : {}),
          ...(payload !== undefined
            ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString("utf8")));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
