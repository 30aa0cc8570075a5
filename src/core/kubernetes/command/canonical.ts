/**
 * Display (shell-like, secrets masked) and the canonical form (one string per meaning, the plan
 * identity of a command).
 */
import {
  HELM_COMMANDS,
  KUBECTL_COMMANDS,
  childNamed,
  resolve,
  type ArgStyle,
  type CommandDef,
} from "./commands.js";
import { Flags, goParseBool, goParseInt, tokenize, type PosTok } from "./flags.js";
import { SET_FLAGS, SET_MERGE_ORDER } from "./helm-set.js";
import { MASK, Masker, maskDocument, maskKeyValue, maskUrls, type SecretDigest } from "../../redact.js";
import { redactArgv, redaction } from "./mask.js";
import { resourcesAndPairs } from "./resources.js";
import {
  isUnknown,
  type HelmCommand,
  type HelmSetEntry,
  type KubectlCommand,
  type ParsedCommand,
  type ResourceTarget,
} from "./types.js";

// ───────────────────────────── display and canonical form ─────────────────────────────

/**
 * What a masked value becomes in a canonical form made without a key. Never shown (display uses
 * MASK); it is part of the plan identity of commands planned without lifeline.yaml, so it stays
 * what it has always been: changing it would change those plan ids.
 */
export const UNKEYED = "***";
const unkeyed: SecretDigest = () => UNKEYED;

export const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** `arg` as a shell word; `marker`, what masked values were replaced by, needs no quotes. */
function shellQuote(arg: string, marker: string): string {
  if (arg === "") return "''";
  if (SHELL_SAFE.test(arg.split(marker).join("") || "x")) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

const displayWord = (arg: string): string => shellQuote(arg, MASK);
const canonicalWord = (arg: string): string => shellQuote(arg, UNKEYED);

/** Shell-like display of argv, secrets masked. */
export function displayCommand(argv: readonly string[]): string {
  // Redaction is the costly part (~0.3 ms) and one admission request shows the same words several
  // times (the webhook's log and audit, the plan's command, the analysis): the last few are
  // remembered by content (a pure function of the words; memory only, never written anywhere).
  const key = JSON.stringify(argv);
  const known = displayed.get(key);
  if (known !== undefined) return known;
  const text = redactArgv(argv).map(displayWord).join(" ");
  if (displayed.size >= DISPLAYED_MAX) displayed.delete(displayed.keys().next().value as string);
  displayed.set(key, text);
  return text;
}

const DISPLAYED_MAX = 64;
const displayed = new Map<string, string>();

/**
 * Flags that change how the tool talks, prints or waits, not what it does to the cluster. Grace
 * period and force are not among them: they change what happens to pods.
 */
export const COSMETIC = new Set([
  "output",
  "template",
  "allow-missing-template-keys",
  "show-managed-fields",
  "wait",
  "wait-for-jobs",
  "timeout",
  "request-timeout",
  "hide-notes",
  "render-subchart-notes",
  "v",
  "vmodule",
  "log-flush-frequency",
  "profile",
  "profile-output",
  "cache-dir",
  "add-dir-header",
  "alsologtostderr",
  "log-backtrace-at",
  "log-dir",
  "log-file",
  "log-file-max-size",
  "logtostderr",
  "one-output",
  "skip-headers",
  "skip-log-headers",
  "stderrthreshold",
  "debug",
  "warnings-as-errors",
]);

/** Flags whose meaning the canonical form already states through a parsed field. */
export const K_MODELLED = new Set([
  "namespace",
  "all-namespaces",
  "selector",
  "field-selector",
  "all",
  "filename",
  "kustomize",
  "recursive",
  "context",
  "kubeconfig",
  "dry-run",
  "cascade",
  "force",
  "grace-period",
  "now",
  "ignore-not-found",
  "replicas",
  "patch",
  "patch-file",
  "type",
  "delete-emptydir-data",
  "delete-local-data",
  "ignore-daemonsets",
  "disable-eviction",
  "raw",
  "help",
]);
export const H_MODELLED = new Set([
  "namespace",
  "kube-context",
  "kubeconfig",
  "keep-history",
  "dry-run",
  "install",
  "values",
  ...SET_FLAGS.map((f) => f.slice(2)),
  "reuse-values",
  "reset-values",
  "reset-then-reuse-values",
  "version",
  "no-hooks",
  "atomic",
  "rollback-on-failure",
  "force",
  "force-replace",
  "cascade",
  "help",
]);

/** Flags not otherwise modelled: normalised by type, defaults dropped, secrets masked, sorted. */
/**
 * The command's flags and positional arguments read from its redacted argv, so that the canonical
 * form masks exactly what redactArgv masks (masking keeps argv's shape).
 */
export function maskedView(c: KubectlCommand | HelmCommand, m: Masker): { flags: Flags; args: string[] } {
  const r = resolve(c.argv);
  if ("reason" in r) return { flags: new Flags([]), args: c.args.map((a) => m.hide(a)) };
  const masked = redaction(c.argv, m).masked;
  const toks = tokenize(masked, r.remaining, r.table, false, r.tool === "kubectl").toks;
  return {
    flags: new Flags(toks),
    args: toks.filter((x): x is PosTok => x.kind === "pos").map((x) => x.value),
  };
}

export function otherFlags(masked: Flags, modelled: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const name of Object.keys(masked.record).sort()) {
    if (modelled.has(name) || COSMETIC.has(name)) continue;
    const values = masked.record[name] ?? [];
    const spec = masked.spec(name);
    const label = spec ? `--${spec.long}` : name.length === 1 ? `-${name}` : `--${name}`;
    if (!spec) {
      for (const v of values) out.push(`${label}=${v}`);
      continue;
    }
    if (spec.type === "slice" || spec.type === "array" || spec.type === "map") {
      const items = spec.type === "array" ? values : masked.list(name);
      for (const v of items) out.push(`${label}=${v}`);
      continue;
    }
    let v = values[values.length - 1] ?? "";
    if (spec.type === "bool") v = String(goParseBool(v) ?? v);
    else if (spec.type === "int") v = String(goParseInt(v) ?? v);
    if (v === spec.def || (spec.type === "bool" && String(goParseBool(spec.def)) === v)) continue;
    out.push(spec.type === "bool" && v === "true" ? label : `${label}=${v}`);
  }
  return out;
}

/** Free text of the command as displayCommand shows it: secret-named KEY=VALUE and URL passwords masked. */
export function shown(text: string, m: Masker): string {
  return maskUrls(maskKeyValue(text, m), m);
}

/** `--name=value` (strings masked as shown), `--name` for true, nothing for null or false. */
export function option(name: string, value: string | number | boolean | null, m: Masker): string[] {
  if (value === null || value === false) return [];
  if (value === true) return [`--${name}`];
  return [`--${name}=${typeof value === "string" ? shown(value, m) : value}`];
}

/** Selectors are shown as typed (label values are not secrets), URL passwords aside. */
export function selectorOption(
  name: string,
  value: string | null,
  canonical: (s: string) => string,
  m: Masker,
): string[] {
  return value === null ? [] : [`--${name}=${maskUrls(canonical(value), m)}`];
}

/** Re-escapes a --set value so that the canonical entry reads back as the same value. */
export function setText(e: HelmSetEntry, m: Masker): string {
  if (e.secret) return `${e.key}=${m.hide(e.value)}`;
  if (e.flag === "--set-file") return `${e.key}=${maskUrls(e.value, m)}`;
  if (e.list || e.flag === "--set-json" || e.flag === "--set-literal") return `${e.key}=${shown(e.value, m)}`;
  const escaped = shown(e.value, m).replace(/[\\,]/g, (c) => `\\${c}`);
  return `${e.key}=${escaped.startsWith("{") ? `\\${escaped}` : escaped}`;
}

export function normalisedPatchBody(body: string): string {
  try {
    return JSON.stringify(sortKeys(JSON.parse(body)));
  } catch {
    return body.trim();
  }
}

export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, x]) => [k, sortKeys(x)]),
    );
  return v;
}

/** Splits at commas outside parentheses and not escaped by a backslash. */
export function selectorTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? "";
    if (c === "\\") {
      current += c + (text[i + 1] ?? "");
      i++;
      continue;
    }
    if (c === "(") depth++;
    if (c === ")") depth--;
    if (c === "," && depth <= 0) {
      terms.push(current);
      current = "";
    } else current += c;
  }
  terms.push(current);
  return terms.map((t) => t.trim());
}

export function sortedUnique(items: readonly string[]): string[] {
  return [...new Set(items)].sort();
}

/**
 * A label selector's requirements in one spelling: sorted (they are ANDed), `==` as `=`, spaces
 * dropped, the values of `in`/`notin` sorted. What it cannot read it keeps, spaces collapsed.
 */
export function canonicalLabelSelector(selector: string): string {
  const terms = selectorTerms(selector).map((term) => {
    const set = /^([^\s!=(),]+)\s+(in|notin)\s*\((.*)\)$/s.exec(term);
    if (set) {
      const values = sortedUnique((set[3] ?? "").split(",").map((v) => v.trim()));
      return `${set[1]} ${set[2]} (${values.join(",")})`;
    }
    const eq = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(term);
    if (eq) return `${eq[1]}${eq[2] === "!=" ? "!=" : "="}${eq[3]}`;
    const not = /^!\s*([^\s!=(),]+)$/.exec(term);
    if (not) return `!${not[1]}`;
    return term.replace(/\s+/g, " ");
  });
  return sortedUnique(terms).join(",");
}

/** A field selector's requirements, sorted, `==` as `=` (values may hold escaped commas). */
export function canonicalFieldSelector(selector: string): string {
  const terms = selectorTerms(selector).map((term) => {
    const m = /^((?:[^\\=!]|\\.)+?)\s*(==|=|!=)\s*(.*)$/s.exec(term);
    return m ? `${(m[1] ?? "").trim()}${m[2] === "!=" ? "!=" : "="}${m[3]}` : term;
  });
  return sortedUnique(terms).join(",");
}

export function targetText(t: ResourceTarget, m: Masker): string {
  const type = t.resource ?? shown(t.typed.toLowerCase(), m);
  return t.name === null ? type : `${type}/${shown(t.name, m)}`;
}

export function styleOfVerb(tool: "kubectl" | "helm", verb: string): ArgStyle {
  let level: readonly CommandDef[] | undefined = tool === "kubectl" ? KUBECTL_COMMANDS : HELM_COMMANDS;
  let found: CommandDef | undefined;
  for (const word of verb.split(" ")) {
    found = childNamed(level, word);
    level = found?.children;
  }
  return found?.style ?? "none";
}

/**
 * The command as one canonical string, for a plan's identity: the same for every spelling of the
 * same flags (`-n x`, `-nx`, `--namespace=x`) in any order, different when the meaning differs.
 * Only flags that change how the tool prints or waits are left out; everything else in argv counts.
 *
 * Secrets are replaced by `options.digest(secret)` when a digest is given (a keyed hash, so that two
 * commands that differ only in a secret, or in text next to one, never share a plan identity), and
 * by UNKEYED otherwise (without a key, e.g. no lifeline.yaml, such a form binds no secret). The
 * digest should return a plain token (letters, digits): its output is placed in the command line as is.
 */
export function canonicalCommand(c: ParsedCommand, options: { digest?: SecretDigest } = {}): string {
  const m = new Masker(options.digest ?? unkeyed);
  if (isUnknown(c)) return `unknown ${redaction(c.argv, m).masked.map(canonicalWord).join(" ")}`.trimEnd();
  if (c.tool === "kubectl") return canonicalKubectl(c, m);
  return canonicalHelm(c, m);
}

export function canonicalKubectl(c: KubectlCommand, m: Masker): string {
  const parts: string[] = ["kubectl", c.verb, ...c.subcommands];
  const style = styleOfVerb("kubectl", [c.verb, ...c.subcommands].join(" "));
  const masked = maskedView(c, m);
  if (style === "builder" || style === "resources" || style === "nodes") {
    parts.push(...[...new Set(c.targets.map((t) => targetText(t, m)))].sort());
  } else if (style === "pairs") {
    const split = resourcesAndPairs(masked.args);
    parts.push(...[...new Set(c.targets.map((t) => targetText(t, m)))].sort());
    if (!("error" in split)) parts.push(...split.pairs);
  } else if (style === "pod" || style === "named") {
    parts.push(...c.targets.map((t) => targetText(t, m)), ...masked.args.slice(1));
  } else parts.push(...masked.args);
  const flags: string[] = [
    ...option("namespace", c.allNamespaces ? null : c.namespace, m),
    ...option("all-namespaces", c.allNamespaces, m),
    ...selectorOption("selector", c.selector, canonicalLabelSelector, m),
    ...selectorOption("field-selector", c.fieldSelector, canonicalFieldSelector, m),
    ...option("all", c.all, m),
    ...[...new Set(c.files)].sort().map((f) => `--filename=${shown(f, m)}`),
    ...option("kustomize", c.kustomize, m),
    ...option("recursive", c.recursive, m),
    ...option("context", c.context, m),
    ...option("kubeconfig", c.kubeconfig, m),
    ...option("dry-run", c.dryRun === "none" ? null : c.dryRun, m),
    ...option("cascade", c.cascade === "background" ? null : c.cascade, m),
    ...option("force", c.force, m),
    ...option("grace-period", c.gracePeriod, m),
    ...option("ignore-not-found", c.ignoreNotFound, m),
    ...option("replicas", c.replicas, m),
    ...option("raw", c.raw, m),
    ...option("help", c.help, m),
  ];
  if (c.patch) {
    flags.push(`--type=${c.patch.type}`);
    const secret = c.targets.some((t) => t.resource === "secrets" || /secret/i.test(t.typed));
    const body = normalisedPatchBody(c.patch.body);
    if (c.patch.source === "file") flags.push(`--patch-file=${shown(body, m)}`);
    else flags.push(`--patch=${secret ? m.hide(body) : maskUrls(maskDocument(body, m), m)}`);
  }
  if (c.drain) {
    flags.push(
      ...option("delete-emptydir-data", c.drain.deleteEmptyDirData, m),
      ...option("ignore-daemonsets", c.drain.ignoreDaemonsets, m),
      ...option("disable-eviction", c.drain.disableEviction, m),
    );
  }
  flags.push(...otherFlags(masked.flags, K_MODELLED));
  return [...parts.map(canonicalWord), ...flags.sort().map(canonicalWord)].join(" ");
}

export function canonicalHelm(c: HelmCommand, m: Masker): string {
  const parts: string[] = ["helm", c.verb, ...c.subcommands];
  const masked = maskedView(c, m);
  if (c.verb === "uninstall") parts.push(...[...new Set(c.releases)].sort());
  else if (c.verb === "upgrade" || c.verb === "install" || c.verb === "rollback") {
    parts.push(...c.releases);
    if (c.chart !== null) parts.push(shown(c.chart, m));
    if (c.revision !== null) parts.push(String(c.revision));
  } else parts.push(...masked.args);
  const flags: string[] = [
    ...option("namespace", c.namespace, m),
    ...option("kube-context", c.kubeContext, m),
    ...option("kubeconfig", c.kubeconfig, m),
    ...option("keep-history", c.keepHistory, m),
    ...option("dry-run", c.dryRunMode === "none" ? null : c.dryRunMode, m),
    ...option("install", c.install, m),
    ...option("reuse-values", c.reuseValues, m),
    ...option("reset-values", c.resetValues, m),
    ...option("reset-then-reuse-values", c.resetThenReuseValues, m),
    ...option("version", c.version, m),
    ...option("no-hooks", c.noHooks, m),
    ...option("atomic", c.atomic, m),
    ...option("force", c.force, m),
    ...option("cascade", c.cascade === "background" ? null : c.cascade, m),
    ...option("help", c.help, m),
    ...otherFlags(masked.flags, H_MODELLED),
  ].sort();
  // order matters among values files and within each --set kind; helm's merge order across kinds
  const ordered = [
    ...c.values.map((v) => `--values=${shown(v, m)}`),
    ...SET_MERGE_ORDER.flatMap((flag) =>
      c.set.filter((e) => e.flag === flag).map((e) => `${flag}=${setText(e, m)}`),
    ),
  ];
  return [...parts, ...flags, ...ordered].map(canonicalWord).join(" ");
}
