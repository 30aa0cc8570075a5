import path from "node:path";
import type { AppContext } from "../app/context.js";
import { LifelineError } from "../core/errors.js";
import { loadConfig, resolveAsset, type LoadedConfig, type ResolvedAsset } from "../config/load.js";
import { engineFor } from "../engines/index.js";
import type { Progress } from "../ports/engine.js";
import { systemClock } from "../ports/clock.js";
import { LocalRepository } from "../repository/local-fs/index.js";
import { embeddedScratch } from "../scratch/embedded-postgres.js";
import { serverScratch } from "../scratch/server.js";

export interface GlobalOptions {
  config?: string;
}

export function load(options: GlobalOptions): LoadedConfig {
  return loadConfig(options.config, process.cwd(), process.env);
}

export function contextFor(loaded: LoadedConfig, signal: AbortSignal, progress: Progress): AppContext {
  const pgBin = loaded.config.tools.pgBin ?? process.env.LIFELINE_PG_BIN;
  return {
    engine: (name) => engineFor(name, { postgres: pgBin ? { pgBin } : {} }),
    repository: new LocalRepository(loaded.repositoryPath),
    scratch: (setting) => (setting === "embedded" ? embeddedScratch() : serverScratch(setting.url)),
    clock: systemClock,
    progress,
    signal,
    backup: loaded.config.backup,
  };
}

export function asset(loaded: LoadedConfig, name: string): ResolvedAsset {
  return resolveAsset(loaded, name, process.env);
}

/** The config when there is one; null when none is found and none was asked for (command plans work without). */
export function loadOptional(options: GlobalOptions): LoadedConfig | null {
  try {
    return load(options);
  } catch (error) {
    const asked = options.config !== undefined || (process.env.LIFELINE_CONFIG ?? "") !== "";
    if (!asked && error instanceof LifelineError && error.code === "CONFIG_NOT_FOUND") return null;
    throw error;
  }
}

/** The assets bound to Kubernetes resources. */
export function boundAssets(loaded: LoadedConfig): ResolvedAsset[] {
  return Object.entries(loaded.config.assets)
    .filter(([, a]) => a.kubernetes !== undefined)
    .map(([name]) => asset(loaded, name));
}

/** Kubeconfig and context: lifeline's flags, then lifeline.yaml, then kubectl's own defaults. */
export function kubernetesSettings(
  loaded: LoadedConfig | null,
  opts: { kubeconfig?: string; context?: string },
): { kubeconfig: string | null; context: string | null; clusterDomain: string } {
  const k = loaded?.config.kubernetes;
  const file = opts.kubeconfig ?? k?.kubeconfig;
  return {
    kubeconfig: file
      ? path.resolve(opts.kubeconfig ? process.cwd() : (loaded?.dir ?? process.cwd()), file)
      : null,
    context: opts.context ?? k?.context ?? null,
    clusterDomain: k?.clusterDomain ?? "cluster.local",
  };
}
