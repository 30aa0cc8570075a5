import type { AppContext } from "../../src/app/context.js";
import type { ResolvedAsset } from "../../src/config/load.js";
import { engineFor } from "../../src/engines/index.js";
import { silentProgress } from "../../src/ports/engine.js";
import { systemClock } from "../../src/ports/clock.js";
import { LocalRepository } from "../../src/repository/local-fs/index.js";
import { embeddedScratch } from "../../src/scratch/embedded-postgres/index.js";
import { serverScratch } from "../../src/scratch/server.js";

export function testContext(
  repositoryDir: string,
  options: { pgBin?: string; signal?: AbortSignal } = {},
): AppContext {
  return {
    engine: (name) => engineFor(name, { postgres: options.pgBin ? { pgBin: options.pgBin } : {} }),
    repository: new LocalRepository(repositoryDir),
    scratch: (setting) => (setting === "embedded" ? embeddedScratch() : serverScratch(setting.url)),
    clock: systemClock,
    progress: silentProgress,
    signal: options.signal ?? new AbortController().signal,
    backup: { jobs: 2, compression: 1 },
  };
}

export function testAsset(name: string, url: string, overrides: Partial<ResolvedAsset> = {}): ResolvedAsset {
  return {
    name,
    engine: "postgres",
    url,
    tier: "production",
    rpoSeconds: 86400,
    scratch: "embedded",
    drillJobs: 2,
    kubernetes: null,
    ...overrides,
  };
}
