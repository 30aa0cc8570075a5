/**
 * Who the cluster says the kubeconfig's user is: a SelfSubjectReview (authentication.k8s.io/v1,
 * what `kubectl auth whoami` sends), made with the same kubeconfig and context a command uses.
 */
import { AuthenticationV1Api } from "@kubernetes/client-node";
import type { ClusterSelection } from "../ports/cluster.js";
import { loadKubeConfig } from "./cluster.js";

export interface KubernetesUser {
  username: string;
  groups: string[];
}

export async function whoami(
  selection: ClusterSelection,
  env: NodeJS.ProcessEnv,
  timeoutMs = 10_000,
): Promise<KubernetesUser> {
  const kc = loadKubeConfig(selection, env);
  const api = kc.makeApiClient(AuthenticationV1Api);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new Error(`the API server did not answer a SelfSubjectReview within ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    const review = await Promise.race([
      api.createSelfSubjectReview({
        body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
      }),
      late,
    ]);
    const info = review.status?.userInfo;
    if (!info?.username) throw new Error("the SelfSubjectReview names no user");
    return { username: info.username, groups: info.groups ?? [] };
  } catch (error) {
    // Only the first line: client-node puts the whole response (headers and body) in its message.
    throw new Error(error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error));
  } finally {
    clearTimeout(timer);
  }
}
