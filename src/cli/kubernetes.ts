import type { Command } from "commander";
import type { AppContext } from "../app/context.js";
import type { K8sDeps } from "../app/k8s.js";
import type { CommandPlanDeps, CommandPlanOptions } from "../app/plan-command.js";
import { policyRules, type LoadedConfig } from "../config/load.js";
import type { Progress } from "../ports/engine.js";
import {
  boundAssets,
  contextFor,
  kubernetesSettings,
  secretDigest,
  stateDirectory,
  type KubernetesFlags,
} from "./wiring.js";

/** The Kubernetes client is loaded only by commands that reach a cluster (it costs ~0.5 s to load). */
export async function kubernetesClient() {
  return (await import("../kubernetes/cluster.js")).kubernetesCluster;
}

/** What `k8s scan`, `k8s protect` and `run --prepare` need to read and change the cluster. */
export async function k8sDeps(
  loaded: LoadedConfig | null,
  signal: AbortSignal,
  progress: Progress,
): Promise<K8sDeps> {
  return {
    ctx: loaded ? contextFor(loaded, signal, progress) : null,
    cluster: await kubernetesClient(),
    signal,
    stateDir: loaded ? stateDirectory(loaded) : null,
  };
}

/** What planning a kubectl or helm command reads: the cluster, its manifests, the assets, the policy. */
export async function commandPlanInputs(
  loaded: LoadedConfig | null,
  flags: KubernetesFlags,
  signal: AbortSignal,
  progress: Progress,
  context: Pick<AppContext, "restored"> = {},
): Promise<{ deps: CommandPlanDeps; options: CommandPlanOptions }> {
  return {
    deps: {
      ctx: loaded ? contextFor(loaded, signal, progress, context) : null,
      cluster: await kubernetesClient(),
      readManifests: async (files, recursive) =>
        (await import("../kubernetes/manifests.js")).readManifests(files, recursive),
      signal,
    },
    options: {
      assets: loaded ? boundAssets(loaded) : [],
      policy: policyRules(loaded),
      kubernetes: kubernetesSettings(loaded, flags),
      env: process.env,
      ...(loaded ? { digest: secretDigest(loaded) } : {}),
    },
  };
}

/** --kubeconfig and --context, "for <what>" in their help (k8s scan and protect: nothing). */
export function kubernetesFlags(command: Command, what?: string): Command {
  const purpose = what ? ` for ${what}` : "";
  return command
    .option("--kubeconfig <file>", `kubeconfig${purpose} (default: like kubectl)`)
    .option("--context <name>", `kubeconfig context${purpose} (default: like kubectl)`);
}
