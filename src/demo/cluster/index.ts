/**
 * The simulated Kubernetes cluster: the API server (server.ts and its parts) serving the incident
 * scenario (scenarios/), reached with a kubeconfig (kubeconfig.ts). `lifeline demo` and the tests
 * start it with {@link startSimulatedCluster}.
 */
import { simulatedFixtures } from "./scenarios/incident.js";
import { SIMULATED_TOKEN, simulatedKubeconfig, writeSimulatedKubeconfig } from "./kubeconfig.js";
import type { K8sObject } from "./model.js";
import { SimulatedApiServer, type SimulatedApiServerOptions } from "./server.js";

export {
  RESOURCE_TYPES,
  groupVersion,
  resourceTypeFor,
  type K8sObject,
  type ObjectMeta,
  type OwnerReference,
  type Propagation,
  type ResourceType,
} from "./model.js";
export { ApiStatusError } from "./errors.js";
export {
  matchesLabelRequirements,
  matchesLabelSelector,
  parseLabelSelector,
  type LabelOperator,
  type LabelRequirement,
} from "./selectors.js";
export { applyJsonPatch, applyMergePatch } from "./patch.js";
export {
  SIMULATED_VERSION,
  resolveRequest,
  type RecordedRequest,
  type RequestInfo,
  type RequestRule,
  type Verb,
} from "./http.js";
export { SIMULATED_USER, SimulatedApiServer, type SimulatedApiServerOptions } from "./server.js";
export {
  SIMULATED_CONTEXT,
  SIMULATED_KUBECONFIG_USER,
  SIMULATED_TOKEN,
  simulatedKubeconfig,
  writeSimulatedKubeconfig,
  type SimulatedKubeconfigOptions,
} from "./kubeconfig.js";
export { simulatedUid, simulatedVolumeName } from "./builders/meta.js";
export { encodeHelmRelease, helmReleaseSecret, type HelmReleaseRecord } from "./builders/helm.js";
export { SIMULATED } from "./scenarios/names.js";
export { simulatedFixtures, simulatedHelmRelease } from "./scenarios/incident.js";

export interface SimulatedClusterOptions extends SimulatedApiServerOptions {
  /** Port to listen on (default: any free port). */
  port?: number;
  /** Default namespace of the kubeconfig context. */
  namespace?: string;
}

export interface SimulatedCluster {
  /** Base URL, https://127.0.0.1:<port>. */
  url: string;
  /** PEM certificate of the cluster's CA. */
  ca: string;
  /** Kubeconfig YAML text for the cluster (context "simulated"). */
  kubeconfig: string;
  server: SimulatedApiServer;
  /** Deep copies of the current objects (optionally of one kind and namespace). */
  objects(kind?: string, namespace?: string): K8sObject[];
  /** Back to the fixtures; clears faults and the request log. */
  reset(): void;
  /** Writes the kubeconfig to a file (mode 0600) and returns the path. */
  writeKubeconfig(file: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a simulated cluster on 127.0.0.1. Without `fixtures` it serves {@link simulatedFixtures}
 * (the incident scenario); pass `fixtures: []` for an empty cluster.
 */
export async function startSimulatedCluster(
  options: SimulatedClusterOptions = {},
): Promise<SimulatedCluster> {
  const server = new SimulatedApiServer({ ...options, fixtures: options.fixtures ?? simulatedFixtures() });
  const url = await server.listen(options.port ?? 0);
  const token = options.token === null ? undefined : (options.token ?? SIMULATED_TOKEN);
  const kubeconfigOptions = {
    server: url,
    ca: server.ca,
    ...(token !== undefined ? { token } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
  };
  return {
    url,
    ca: server.ca,
    kubeconfig: simulatedKubeconfig(kubeconfigOptions),
    server,
    objects: (kind, namespace) => server.objects(kind, namespace),
    reset: () => server.reset(),
    writeKubeconfig: (file) => writeSimulatedKubeconfig(file, kubeconfigOptions),
    close: () => server.close(),
  };
}
