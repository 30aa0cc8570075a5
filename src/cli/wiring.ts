import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { AppContext, CopyTarget } from "../app/context.js";
import { LifelineError } from "../core/errors.js";
import { loadConfig, resolveAsset, type LoadedConfig, type ResolvedAsset } from "../config/load.js";
import { engineFor } from "../engines/index.js";
import type { Progress } from "../ports/engine.js";
import { systemClock } from "../ports/clock.js";
import type { Repository } from "../ports/repository.js";
import { LocalRepository } from "../repository/local-fs/index.js";
import { S3Repository } from "../repository/s3/index.js";
import { embeddedScratch } from "../scratch/embedded-postgres/index.js";
import { serverScratch } from "../scratch/server.js";

export interface GlobalOptions {
  config?: string;
}

export function load(options: GlobalOptions): LoadedConfig {
  return loadConfig(options.config, process.cwd(), process.env);
}

export function contextFor(
  loaded: LoadedConfig,
  signal: AbortSignal,
  progress: Progress,
  options: Pick<AppContext, "restored"> = {},
): AppContext {
  const pgBin = loaded.config.tools.pgBin ?? process.env.LIFELINE_PG_BIN;
  return {
    ...options,
    engine: (name) => engineFor(name, { postgres: pgBin ? { pgBin } : {} }),
    repository: repositoryFor(loaded),
    scratch: (setting) => (setting === "embedded" ? embeddedScratch() : serverScratch(setting.url)),
    clock: systemClock,
    progress,
    signal,
    backup: loaded.config.backup,
    copies: () => copyTargets(loaded),
  };
}

/** The copies: entries of lifeline.yaml as repositories (directories relative to lifeline.yaml). */
export function copyTargets(loaded: LoadedConfig): CopyTarget[] {
  return (loaded.config.copies ?? []).map((copy, i) => {
    const repository = repositoryAt(loaded, copy.url, copy.encryption?.passphrase, loaded.dir, {
      endpoint: copy.endpoint,
      region: copy.region,
      forcePathStyle: copy.forcePathStyle,
    });
    const entry = `copies[${i}] (${copy.url})`;
    return {
      repository,
      refuse: (from) =>
        refusePlaintextCopy(from, repository, {
          passphrase: copy.encryption?.passphrase,
          allowPlaintext: copy.allowPlaintext === true,
          fix:
            repository instanceof LocalRepository
              ? `lifeline does not encrypt a directory: make ${entry} in lifeline.yaml an s3://bucket/prefix with encryption: { passphrase: "\${VARIABLE}" }, or give it allowPlaintext: true to keep a plaintext copy there on purpose (on an encrypted disk, say)`
              : `give ${entry} in lifeline.yaml encryption: { passphrase: "\${VARIABLE}" }, or allowPlaintext: true to copy without encryption on purpose`,
        }),
    };
  });
}

/** The configured repository: a local directory, or S3-compatible object storage. */
export function repositoryFor(loaded: LoadedConfig): Repository {
  const r = loaded.repository ?? { kind: "local", path: loaded.repositoryPath };
  return r.kind === "s3"
    ? new S3Repository(
        {
          bucket: r.bucket,
          prefix: r.prefix,
          endpoint: r.endpoint,
          region: r.region,
          forcePathStyle: r.forcePathStyle,
        },
        { passphrase: r.passphrase, objectLock: r.objectLock },
      )
    : new LocalRepository(r.path);
}

/**
 * The configured repository must be there for a command that only reads or removes (prune): a
 * mistyped repository.path or repository.url would otherwise read as an empty repository. A
 * repository created by `lifeline repository init` (or a backup) is there, restore points or not.
 */
export async function requireRepository(
  loaded: LoadedConfig,
  repository: Repository,
  consequence: string,
): Promise<void> {
  if (await repository.exists()) return;
  const s3 = loaded.repository?.kind === "s3";
  throw new LifelineError({
    code: "REPOSITORY_MISSING",
    kind: "config",
    message: `there is no lifeline repository at ${repository.location} (${s3 ? "nothing under that prefix" : "the directory does not exist or holds no lifeline-repository.json"}): ${consequence}`,
    fix: `check repository.${s3 ? "url" : "path"} in ${loaded.file} (a typo?); a new repository is created by \`lifeline repository init\` or the first backup`,
  });
}

/** Where a copy in object storage is: its own endpoint, region and path style. */
export interface StoreSettings {
  endpoint?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
}

/**
 * Another repository named by a URL (repository copy --to, copies:): a directory (relative to
 * `base`), or s3://bucket/prefix on the store `store` names; when it names nothing, on the
 * configured repository's store (its endpoint, region and path style), or AWS S3 when that
 * repository is a directory. Settings are never mixed: a copy that gives only a region goes to AWS
 * S3 in that region, not to the repository's endpoint.
 */
export function repositoryAt(
  loaded: LoadedConfig,
  url: string,
  passphrase: string | undefined,
  base: string,
  store: StoreSettings = {},
): Repository {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  // Never echoed: a mistyped URL may hold credentials (s3://key:secret@bucket).
  if (!m && /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url))
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message:
        "a repository URL is a directory or s3://bucket/prefix; this one is neither (not shown: it may hold credentials)",
      fix: "write s3://bucket/prefix with a lowercase bucket name (3 to 63 characters), credentials in the environment (AWS_ACCESS_KEY_ID …), or a directory",
    });
  if (!m) return new LocalRepository(path.resolve(base, url));
  const own =
    store.endpoint !== undefined || store.region !== undefined || store.forcePathStyle !== undefined;
  const r = own ? store : loaded.repository?.kind === "s3" ? loaded.repository : undefined;
  return new S3Repository(
    {
      bucket: m[1] ?? "",
      prefix: (m[2] ?? "").replace(/^\/+|\/+$/g, ""),
      endpoint: r?.endpoint,
      region: r?.region,
      forcePathStyle: r?.forcePathStyle,
    },
    { passphrase },
  );
}

/**
 * A copy from an encrypted repository that would not be encrypted is refused unless asked for
 * (repository copy --allow-plaintext, copies[].allowPlaintext): a directory (lifeline does not
 * encrypt one) or object storage without a passphrase would hold in plaintext what the user chose
 * to keep encrypted.
 */
export async function refusePlaintextCopy(
  from: Repository,
  to: Repository,
  options: { passphrase: string | undefined; allowPlaintext: boolean; fix: string },
): Promise<void> {
  const plaintext = to instanceof LocalRepository || options.passphrase === undefined;
  if (plaintext && !options.allowPlaintext && from instanceof S3Repository && (await from.isEncrypted()))
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `${from.location} is encrypted and ${to.location} would not be${to instanceof LocalRepository ? " (a directory: lifeline does not encrypt one)" : ""}: nothing was copied`,
      fix: options.fix,
    });
}

export function asset(
  loaded: LoadedConfig,
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedAsset {
  return resolveAsset(loaded, name, env);
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
    .map(([name, raw]) => {
      try {
        return asset(loaded, name);
      } catch (error) {
        // A missing ${VAR} in the URL must not stop a Kubernetes plan: the binding still counts,
        // only the live database cannot be read (the plan says so).
        if (!(error instanceof LifelineError) || error.kind !== "config") throw error;
        return { ...asset(loaded, name, { ...process.env, ...placeholders(raw.url) }), url: "" };
      }
    });
}

function placeholders(url: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of url.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) if (m[1]) out[m[1]] = "unset";
  return out;
}

/** --kubeconfig and --context, as commands that reach a cluster take them. */
export interface KubernetesFlags {
  kubeconfig?: string;
  context?: string;
}

/** Kubeconfig and context: lifeline's flags, then lifeline.yaml, then kubectl's own defaults. */
export function kubernetesSettings(
  loaded: LoadedConfig | null,
  opts: KubernetesFlags,
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

/**
 * The installation's state (.lifeline/state beside the repository): its private key, and what
 * `k8s protect` changed so that --undo can put it back.
 */
export function stateDirectory(loaded: LoadedConfig): string {
  return path.join(path.dirname(loaded.repositoryPath), "state");
}

/** A private key of this installation (in its state directory), for keyed digests of secrets. */
export function installationKey(loaded: LoadedConfig): Buffer {
  const dir = stateDirectory(loaded);
  const file = path.join(dir, "installation.key");
  try {
    return readFileSync(file);
  } catch {
    mkdirSync(dir, { recursive: true });
    const key = randomBytes(32);
    try {
      writeFileSync(file, key, { mode: 0o600, flag: "wx" });
      return key;
    } catch {
      return readFileSync(file); // another process created it first
    }
  }
}

/** Keyed digest of a masked value: binds plan ids without storing or revealing the value. */
export function secretDigest(loaded: LoadedConfig | null): ((secret: string) => string) | undefined {
  if (!loaded) return undefined;
  const key = installationKey(loaded);
  return (secret) => keyedDigest(key, secret).slice(0, 32);
}

/** HMAC-SHA256 (hex) with the installation key: binds a text without revealing it. */
export function keyedDigest(key: Buffer, text: string): string {
  return createHmac("sha256", key).update(text).digest("hex");
}
