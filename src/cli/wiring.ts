import type { AppContext } from "../app/context.js";
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
