import { KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { objectLabel, type CreateObject, type InstallObject, type ReadObject } from "../ports/installer.js";
import { LifelineError } from "../core/errors.js";
import { redactUrl } from "../core/redact.js";
import type { ClusterSelection } from "../ports/cluster.js";
import { loadKubeConfig } from "./cluster.js";

function statusCode(error: unknown): number | null {
  const e = error as { code?: unknown; statusCode?: unknown; response?: { statusCode?: unknown } } | null;
  for (const c of [e?.code, e?.statusCode, e?.response?.statusCode]) if (typeof c === "number") return c;
  return null;
}

/** Creates objects of any kind the cluster serves (found by discovery), never replacing one. */
export function objectCreator(selection: ClusterSelection): {
  context: string;
  create: CreateObject;
  read: ReadObject;
} {
  const kc = loadKubeConfig(selection);
  const context = kc.getCurrentContext();
  const server = redactUrl(kc.getCurrentCluster()?.server ?? "(unknown server)");
  const api = KubernetesObjectApi.makeApiClient(kc);
  const create: CreateObject = async (object: InstallObject) => {
    try {
      await api.create(object as KubernetesObject);
      return "created";
    } catch (error) {
      const code = statusCode(error);
      if (code === 409) return "exists";
      const reason =
        code === 403
          ? "forbidden (403)"
          : code === 404
            ? `the cluster does not serve ${object.apiVersion} ${object.kind} (404)`
            : error instanceof Error
              ? (error.message.split("\n")[0] ?? "error")
              : String(error);
      throw new LifelineError({
        code: "K8S_CREATE_FAILED",
        kind: "runtime",
        message: `could not create ${objectLabel(object)} on context "${context}" at ${server}: ${reason}`,
        fix:
          code === 403
            ? "installing needs cluster-admin rights (it creates a ClusterRole and a ValidatingWebhookConfiguration)"
            : object.apiVersion.startsWith("cert-manager.io")
              ? "install cert-manager first (https://cert-manager.io/docs/installation/), or leave out --cert-manager"
              : "the objects created before it stay; fix the cause and run again (existing objects are kept, not overwritten)",
      });
    }
  };
  const read: ReadObject = async (object: InstallObject) => {
    try {
      const { apiVersion, kind, metadata } = object;
      const found = await api.read({
        apiVersion,
        kind,
        metadata: { name: metadata.name, ...(metadata.namespace ? { namespace: metadata.namespace } : {}) },
      });
      return found as unknown as InstallObject;
    } catch (error) {
      if (statusCode(error) === 404) return null;
      throw new LifelineError({
        code: "K8S_READ_FAILED",
        kind: "runtime",
        message: `could not read ${objectLabel(object)} on context "${context}" at ${server}: ${error instanceof Error ? (error.message.split("\n")[0] ?? "error") : String(error)}`,
        fix: "check the cluster answers (kubectl get ns) and that your credentials may read cluster-wide objects; nothing was created",
      });
    }
  };
  return { context, create, read };
}
