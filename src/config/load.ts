import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument } from "yaml";
import type { z } from "zod";
import { parseDuration } from "../core/duration.js";
import { LifelineError, configError } from "../core/errors.js";
import { secrets } from "../core/redact.js";
import { DEFAULT_POLICY, UNBOUND_RULE, UNBOUND_TIER, type PolicyRule } from "../core/plan/policy.js";
import { plainYaml } from "./plain-yaml.js";
import { configSchema, type AssetConfig, type Config } from "./schema.js";

export const CONFIG_NAMES = ["lifeline.yaml", "lifeline.yml"];

export interface LoadedConfig {
  file: string;
  dir: string;
  config: Config;
  repositoryPath: string;
  /** Where restore points live: the local directory (repositoryPath) or S3-compatible object storage. */
  repository?: RepositorySettings;
}

export interface ResolvedAsset {
  name: string;
  engine: string;
  url: string;
  tier: string;
  rpoSeconds: number;
  scratch: "embedded" | { url: string };
  drillJobs: number;
  kubernetes: {
    namespace: string;
    release: string | null;
    pvcSelector: string | null;
    context: string | null;
    /** The Service dependents reach the database through, when lifeline.yaml names it. */
    service?: string;
  } | null;
}

/** --config, then LIFELINE_CONFIG, then lifeline.yaml in the working directory or a parent. */
export function findConfig(explicit: string | undefined, cwd: string, env: NodeJS.ProcessEnv): string {
  const given = explicit ?? env.LIFELINE_CONFIG;
  if (given) {
    const file = path.resolve(cwd, given);
    if (!existsSync(file)) {
      throw new LifelineError({
        code: "CONFIG_NOT_FOUND",
        kind: "config",
        message: `config file ${file} does not exist`,
        fix: `check the path given with ${explicit ? "--config" : "LIFELINE_CONFIG"}, or create one with \`lifeline init\``,
      });
    }
    return file;
  }
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    for (const name of CONFIG_NAMES) {
      const file = path.join(dir, name);
      if (existsSync(file)) return file;
    }
    if (path.dirname(dir) === dir) break;
  }
  throw new LifelineError({
    code: "CONFIG_NOT_FOUND",
    kind: "config",
    message: `no lifeline.yaml in ${cwd} or any parent directory`,
    fix: "create one with `lifeline init --asset <name> --url postgres://…`, or pass --config / set LIFELINE_CONFIG; `lifeline demo` needs none",
  });
}

const IDENTITY_EXAMPLE =
  "identities: { alice@acme.com: { kubernetes: { users: [alice@acme.com], groups: [sre] } } } (the names `kubectl auth whoami` shows)";

function fixFor(issue: z.core.$ZodIssue): string {
  if (issue.path[0] === "identities" && issue.code !== "unrecognized_keys")
    return `write it like ${IDENTITY_EXAMPLE}`;
  switch (issue.code) {
    case "unrecognized_keys":
      return `remove ${issue.keys.map((k) => `"${k}"`).join(", ")} or check the spelling (see "Configuration" in the README)`;
    case "invalid_type":
      return `give ${/^[aeiou]/i.test(issue.expected) ? "an" : "a"} ${issue.expected} here (see "Configuration" in the README)`;
    default:
      return 'see "Configuration" in the README';
  }
}

function describePath(parts: readonly PropertyKey[]): string {
  return parts.map(String).join(".") || "(top level)";
}

/** Far deeper than any lifeline.yaml (six levels); deeper input is hostile or broken. */
const MAX_DEPTH = 64;
/**
 * Alias expansions allowed (the yaml library counts an alias to a collection holding aliases as
 * many): thousands for a legitimate config that shares values, still stopping a billion laughs.
 */
const MAX_ALIASES = 10_000;

function tooDeep(file: string): LifelineError {
  return new LifelineError({
    code: "CONFIG_INVALID",
    kind: "config",
    message: `${file}: nested deeper than ${MAX_DEPTH} levels; a lifeline.yaml needs at most six`,
    fix: 'check the indentation (see "Configuration" in the README)',
  });
}

function yamlError(file: string, where: { line: number; col: number } | undefined, problem: string) {
  return new LifelineError({
    code: "CONFIG_INVALID",
    kind: "config",
    message: `${file}: not valid YAML${where ? ` (line ${where.line}, column ${where.col})` : ""}: ${problem}`,
    fix: "fix the YAML syntax (indentation with spaces, `key: value`, each key once)",
  });
}

/**
 * One pass over the YAML nodes, without recursion: bounds the depth and finds duplicate keys in
 * linear time (the yaml library's own check compares every key with every other: 50,000 assets
 * took 28 s).
 */
function checkNodes(root: unknown, file: string, lines: LineCounter): void {
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 0 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { node, depth } = item;
    if (depth > MAX_DEPTH) throw tooDeep(file);
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key) && key.value !== "<<") {
          const name = String(key.value);
          if (seen.has(name)) {
            const offset = key.range?.[0];
            throw yamlError(
              file,
              offset === undefined ? undefined : lines.linePos(offset),
              `duplicate key "${name}"`,
            );
          }
          seen.add(name);
        } else if (key !== null && !isScalar(key)) {
          stack.push({ node: key, depth: depth + 1 });
        }
        stack.push({ node: pair.value, depth: depth + 1 });
      }
    } else if (isSeq(node)) {
      for (const child of node.items) stack.push({ node: child, depth: depth + 1 });
    } else if (isPair(node)) {
      stack.push({ node: node.value, depth: depth + 1 });
    }
  }
}

/** Values interpolated where they are used (connection strings and webhooks: secrets, percent-encoding). */
function interpolatedOnUse(where: readonly string[]): boolean {
  const [first, , third, fourth, fifth] = where;
  if (first === "catalog") return where.length === 1;
  if (first === "notifications") return where[1] === "webhooks";
  if (first === "assets")
    return (
      (where.length === 3 && third === "url") ||
      (where.length === 5 && third === "drill" && fourth === "scratch" && fifth === "url")
    );
  return false;
}

/** Every other string value of the config: ${VAR}, ${VAR:-default} and $$, when the config is loaded. */
function interpolateValues(value: unknown, where: string[], file: string, env: NodeJS.ProcessEnv): unknown {
  if (where.length > MAX_DEPTH) throw tooDeep(file);
  if (typeof value === "string") {
    if (interpolatedOnUse(where)) return value;
    try {
      return interpolate(value, where.join(".") || "(top level)", env);
    } catch (error) {
      if (error instanceof LifelineError)
        throw new LifelineError({
          code: error.code,
          kind: error.kind,
          message: `${file}: ${error.message}`,
          ...(error.fix === undefined ? {} : { fix: error.fix }),
        });
      throw error;
    }
  }
  if (Array.isArray(value))
    return value.map((v, i) => interpolateValues(v, [...where, String(i)], file, env));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolateValues(v, [...where, k], file, env);
    return out;
  }
  return value;
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    // The common file without the yaml library (see plainYaml); anything else with it.
    const plain = plainYaml(text);
    raw = plain === undefined ? parseYaml(text, file, env) : interpolateValues(plain, [], file, env);
  } catch (error) {
    if (error instanceof LifelineError) throw error;
    if (error instanceof RangeError) throw tooDeep(file);
    if (error instanceof ReferenceError && /alias/i.test(error.message)) {
      throw new LifelineError({
        code: "CONFIG_INVALID",
        kind: "config",
        message: `${file}: YAML aliases expand to more than ${MAX_ALIASES.toLocaleString("en-US")} values (a resource exhaustion attack, or a broken file)`,
        fix: "write the repeated values out, or share fewer of them through anchors (&name) and aliases (*name)",
      });
    }
    throw error;
  }
  return validConfig(raw, file);
}

/** The yaml library's reading of lifeline.yaml, interpolated (see parseConfig). */
function parseYaml(text: string, file: string, env: NodeJS.ProcessEnv): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false, lineCounter: lines });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    // The yaml library turns a stack overflow into a parse error of its own.
    if (first && /Maximum call stack/.test(first.message)) throw tooDeep(file);
    throw yamlError(file, first?.linePos?.[0], first?.message.split("\n")[0] ?? "");
  }
  checkNodes(doc.contents, file, lines);
  const raw: unknown = doc.toJS({ maxAliasCount: MAX_ALIASES }) ?? {};
  return interpolateValues(raw, [], file, env);
}

function validConfig(raw: unknown, file: string): Config {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const where = describePath(issue.path);
      const message =
        issue.code === "unrecognized_keys"
          ? `unknown key ${issue.keys.map((k) => `"${k}"`).join(", ")}`
          : issue.code === "invalid_key" && issue.issues.length > 0
            ? // zod reports a bad record key as "Invalid key in record"; the reason is nested.
              issue.issues.map((i) => i.message).join("; ")
            : issue.message;
      return { text: `${where}: ${message}`, fix: fixFor(issue) };
    });
    const first = problems[0] ?? { text: "invalid", fix: "" };
    throw new LifelineError({
      code: "CONFIG_INVALID",
      kind: "config",
      message: `${file}: ${first.text}`,
      fix: first.fix,
      details: problems.slice(1).map((p) => `${p.text} — ${p.fix}`),
    });
  }
  return parsed.data;
}

export function loadConfig(explicit: string | undefined, cwd: string, env: NodeJS.ProcessEnv): LoadedConfig {
  const file = findConfig(explicit, cwd, env);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new LifelineError({
      code: "CONFIG_UNREADABLE",
      kind: "config",
      message: `cannot read ${file}: ${(error as Error).message}`,
      fix: "check the file's permissions",
    });
  }
  const config = parseConfig(text, file, env);
  const dir = path.dirname(file);
  const repositoryPath = path.resolve(dir, config.repository.path);
  return { file, dir, config, repositoryPath, repository: repositorySettings(config, repositoryPath) };
}

/** Where "user:password" sits in a URL template (before the "@" that ends the authority). */
function userinfoRange(template: string): { start: number; end: number } {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(template);
  if (!scheme) return { start: -1, end: -1 };
  const start = scheme[0].length;
  const rest = template.slice(start);
  const at = rest.lastIndexOf(
    "@",
    rest.search(/\/(?![^{]*\})|\?/) === -1 ? undefined : rest.search(/\/(?![^{]*\})|\?/),
  );
  return at === -1 ? { start: -1, end: -1 } : { start, end: start + at };
}

/**
 * Replaces ${VAR} and ${VAR:-default} with environment values; $${ escapes. Done when a value is
 * used, so a missing variable only stops the commands that need it.
 */
export function interpolate(value: string, where: string, env: NodeJS.ProcessEnv): string {
  const userinfo = userinfoRange(value);
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
    (match, name: string | undefined, fallback: string | undefined, offset: number) => {
      if (match === "$$") return "$";
      const found = name ? env[name] : undefined;
      if (found !== undefined && found !== "") {
        // A value that lands in a URL's user:password@ part is percent-encoded, so a password with
        // '@', '/', ':' or '%' stays one password; and it is a secret from here on.
        if (offset >= userinfo.start && offset < userinfo.end) {
          secrets.add(found);
          return encodeURIComponent(found);
        }
        return found;
      }
      if (fallback !== undefined) return fallback;
      throw configError(
        where,
        `environment variable ${name} is not set`,
        `export ${name}=… before running lifeline (or write \${${name}:-default} in lifeline.yaml)`,
      );
    },
  );
}

export function resolveAsset(loaded: LoadedConfig, name: string, env: NodeJS.ProcessEnv): ResolvedAsset {
  const asset: AssetConfig | undefined = loaded.config.assets[name];
  if (!asset) {
    const known = Object.keys(loaded.config.assets);
    throw new LifelineError({
      code: "ASSET_UNKNOWN",
      kind: "usage",
      message: `no asset named "${name}" in ${loaded.file}`,
      fix:
        known.length > 0
          ? `use one of: ${known.join(", ")}`
          : `lifeline.yaml lists no asset yet: add one under assets: (lifeline init --asset ${name} --url postgres://…)`,
    });
  }
  return {
    name,
    engine: asset.engine,
    url: interpolate(asset.url, `assets.${name}.url`, env),
    tier: asset.tier,
    rpoSeconds: parseDuration(asset.rpo) ?? 86400,
    scratch:
      asset.drill.scratch === "embedded"
        ? "embedded"
        : { url: interpolate(asset.drill.scratch.url, `assets.${name}.drill.scratch.url`, env) },
    drillJobs: asset.drill.jobs,
    kubernetes: asset.kubernetes
      ? {
          namespace: asset.kubernetes.namespace,
          release: asset.kubernetes.release ?? null,
          pvcSelector: asset.kubernetes.pvcSelector ?? null,
          context: asset.kubernetes.context ?? null,
          ...(asset.kubernetes.service ? { service: asset.kubernetes.service } : {}),
        }
      : null,
  };
}

/** The policy in force: the configured rules, or the built-in default. */
export function policyRules(loaded: LoadedConfig | null): PolicyRule[] {
  const rules = loaded?.config.policy?.rules;
  if (!rules) return DEFAULT_POLICY;
  const configured = rules.map((rule) => {
    const out: PolicyRule = { name: rule.name, match: rule.match };
    if (rule.deny) out.deny = rule.deny;
    if (rule.require) {
      const age = rule.require.verifiedRestorePoint;
      out.require = {};
      if (age !== undefined)
        out.require.verifiedRestorePointMaxAgeSeconds = age === "rpo" ? "rpo" : (parseDuration(age) ?? 0);
      if (rule.require.approvals !== undefined) out.require.approvals = rule.require.approvals;
    }
    return out;
  });
  // Unbound data fails closed whatever the configured rules say, unless they decide it themselves.
  const decidesUnbound = configured.some((r) => r.match.tier?.includes(UNBOUND_TIER));
  return decidesUnbound ? configured : [...configured, UNBOUND_RULE];
}

export interface WatchSettings {
  /** The watch runs in `lifeline serve`: lifeline.yaml has a watch: section, not turned off. */
  enabled: boolean;
  /** lifeline.yaml has a watch: section (serve may then run the watch alone, without the webhook). */
  configured: boolean;
  intervalMs: number;
  thresholds: { fallRatio: number; fallRows: number };
}

/**
 * watch: in lifeline.yaml, with its defaults (every 30 s; rows falling by more than 50 % and 1,000).
 * Without the section the watch does not run (`watch: {}` turns it on with the defaults).
 */
export function watchSettings(loaded: LoadedConfig): WatchSettings {
  const w = loaded.config.watch;
  const text = (w?.interval ?? "30s").trim();
  const ms = /^\d+ms$/.test(text) ? Number(text.slice(0, -2)) : (parseDuration(text) ?? 30) * 1000;
  return {
    enabled: w !== undefined && w.enabled,
    configured: w !== undefined,
    intervalMs: Math.max(1, ms),
    thresholds: { fallRatio: (w?.rowsFall.percent ?? 50) / 100, fallRows: w?.rowsFall.rows ?? 1000 },
  };
}

/** Mass-change thresholds of the database guard when neither the asset nor its tier says otherwise. */
export const DEFAULT_MASS_CHANGE = { rows: 1000, percent: 10, minRows: 100 } as const;

/** The guard's mass-change check for an asset: its own setting, else its tier's, else the default; null: off. */
export function guardMassChange(
  loaded: LoadedConfig,
  asset: { name: string; tier: string },
): { rows: number; percent: number | null; minRows: number } | null {
  const own = loaded.config.assets[asset.name]?.guard?.massChange;
  const tiers = loaded.config.guard as Record<string, { massChange?: unknown } | undefined> | undefined;
  const setting = (own ?? tiers?.[asset.tier]?.massChange) as
    false | { rows: number; percent?: number; minRows: number } | undefined;
  if (setting === false) return null;
  if (setting === undefined) return { ...DEFAULT_MASS_CHANGE };
  return { rows: setting.rows, percent: setting.percent ?? null, minRows: setting.minRows };
}

/** An asset's retention policy from lifeline.yaml; null when it has none (nothing is ever pruned). */
export function assetRetention(
  loaded: LoadedConfig,
  name: string,
): { keepLast: number; daily: number; weekly: number } | null {
  return loaded.config.assets[name]?.retention ?? null;
}

/** An asset's schedule from lifeline.yaml: the backup's cron expression, and the drill's (or after-backup). */
export function assetSchedule(
  loaded: LoadedConfig,
  name: string,
): { backup: string | null; drill: string | null } {
  const s = loaded.config.assets[name]?.schedule;
  return { backup: s?.backup ?? null, drill: s?.drill ?? null };
}

export type RepositorySettings =
  | { kind: "local"; path: string }
  | {
      kind: "s3";
      bucket: string;
      prefix: string;
      endpoint?: string | undefined;
      region?: string | undefined;
      forcePathStyle?: boolean | undefined;
      passphrase?: string | undefined;
      objectLock?: { mode: "governance" | "compliance"; days: number } | undefined;
    };

function repositorySettings(config: Config, localPath: string): RepositorySettings {
  const { url, endpoint, region, forcePathStyle, encryption, objectLock } = config.repository;
  if (!url) return { kind: "local", path: localPath };
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  return {
    kind: "s3",
    bucket: m?.[1] ?? "",
    prefix: (m?.[2] ?? "").replace(/^\/+|\/+$/g, ""),
    endpoint,
    region,
    forcePathStyle,
    passphrase: encryption?.passphrase,
    ...(objectLock ? { objectLock } : {}),
  };
}
