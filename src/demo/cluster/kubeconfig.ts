/**
 * A kubeconfig for the simulated cluster, as a real cluster's: the server's CA in
 * `certificate-authority-data` and a bearer token (kubectl sends a token only over HTTPS).
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { stringify } from "yaml";
/** The bearer token the simulated API server accepts by default. */
export const SIMULATED_TOKEN = "simulated-cluster-token";
export const SIMULATED_CONTEXT = "simulated";
export const SIMULATED_KUBECONFIG_USER = "simulated-admin";

export interface SimulatedKubeconfigOptions {
  /** Base URL of the simulated API server, e.g. https://127.0.0.1:43121. */
  server: string;
  /** PEM certificate of the CA that signed the server's certificate. */
  ca: string;
  /** Bearer token (default {@link SIMULATED_TOKEN}). */
  token?: string;
  /** Default namespace of the context. */
  namespace?: string;
  /** Cluster and context name (default "simulated"). */
  name?: string;
}

/** The kubeconfig YAML text for the simulated cluster. */
export function simulatedKubeconfig(options: SimulatedKubeconfigOptions): string {
  const name = options.name ?? SIMULATED_CONTEXT;
  return stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      preferences: {},
      clusters: [
        {
          name,
          cluster: {
            server: options.server,
            "certificate-authority-data": Buffer.from(options.ca).toString("base64"),
          },
        },
      ],
      users: [{ name: SIMULATED_KUBECONFIG_USER, user: { token: options.token ?? SIMULATED_TOKEN } }],
      contexts: [
        {
          name,
          context: {
            cluster: name,
            user: SIMULATED_KUBECONFIG_USER,
            ...(options.namespace ? { namespace: options.namespace } : {}),
          },
        },
      ],
      "current-context": name,
    },
    { lineWidth: 0 },
  );
}

/** Writes the kubeconfig (mode 0600, like kubectl does) and returns its path. */
export async function writeSimulatedKubeconfig(
  file: string,
  options: SimulatedKubeconfigOptions,
): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, simulatedKubeconfig(options), { mode: 0o600 });
  return file;
}
