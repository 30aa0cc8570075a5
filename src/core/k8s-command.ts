/**
 * A pure parser of kubectl and helm command lines. It follows the tools' own argument rules
 * (cobra finds the command word, pflag parses the flags, kubectl's resource builder interprets the
 * resource arguments, helm's strvals splits --set) so that what lifeline plans is what the tool
 * would do. Anything the tool itself would reject, and anything ambiguous, becomes an
 * UnknownCommand with the reason: the caller then fails closed.
 *
 * `argv`, `flags`, `set[].value` and `patch.body` hold the command as given, secrets included (the
 * command may have to be run later). Anything shown or stored goes through displayCommand,
 * canonicalCommand or redactArgv, which mask them; an UnknownCommand's reason is masked the same
 * way (it never quotes what displayCommand masks). canonicalCommand, given a digest, puts each
 * masked value's digest where the others put `***`, so that a plan identity still binds it.
 */

/**
 * Where the command connects, as far as its own flags say: lifeline resolves the cluster from the
 * kubeconfig and context, so a caller fails closed when these point elsewhere. Only the token is
 * secret, hence only whether one was given.
 */
export interface Connection {
  /** kubectl --server/-s, helm --kube-apiserver */
  server: string | null;
  /** kubectl --cluster (helm has no such flag) */
  cluster: string | null;
  /** kubectl --user (a kubeconfig user), helm --kube-as-user */
  user: string | null;
  /** kubectl --token, helm --kube-token */
  tokenGiven: boolean;
}

export type ResourceKind =
  | "persistentvolumeclaims"
  | "persistentvolumes"
  | "statefulsets"
  | "deployments"
  | "pods"
  | "namespaces"
  | "secrets"
  | "configmaps"
  | "services"
  | "jobs"
  | "cronjobs"
  | "nodes"
  | "storageclasses"
  | "volumesnapshots"
  | "replicasets"
  | "daemonsets";

export interface ResourceTarget {
  resource: ResourceKind | null;
  /** as typed, e.g. "pvc", "sts.apps", "foo.example.com" (for a category: the member it expands to) */
  typed: string;
  name: string | null;
  /** set when the type came from a category such as `all` */
  category?: string;
}

export interface KubectlCommand {
  tool: "kubectl";
  /** the command word, as typed: "delete", "scale", "get", "rollout", "create" */
  verb: string;
  /** the rest of the command path cobra resolves, aliases resolved: ["restart"], ["secret", "generic"], ["view"] */
  subcommands: string[];
  targets: ResourceTarget[];
  namespace: string | null;
  allNamespaces: boolean;
  selector: string | null;
  fieldSelector: string | null;
  all: boolean;
  files: string[];
  kustomize: string | null;
  recursive: boolean;
  context: string | null;
  kubeconfig: string | null;
  connection: Connection;
  dryRun: "none" | "client" | "server";
  cascade: "background" | "foreground" | "orphan";
  force: boolean;
  /** after kubectl delete's normalisation (--now → 1, --grace-period=0 without --force → 1, --force → 0) */
  gracePeriod: number | null;
  ignoreNotFound: boolean;
  replicas: number | null;
  /** body is the inline patch, or the path when source is "file" (--patch-file) */
  patch: { type: "strategic" | "merge" | "json"; body: string; source: "inline" | "file" } | null;
  drain: {
    deleteEmptyDirData: boolean;
    ignoreDaemonsets: boolean;
    force: boolean;
    disableEviction: boolean;
  } | null;
  /** always null: a command with --raw (a raw API request) is an UnknownCommand */
  raw: string | null;
  /** -h/--help: the tool prints help and does nothing else */
  help: boolean;
  /** positional arguments after the command path, as kubectl receives them */
  args: string[];
  /** every flag given, by long name (unknown flags by the name typed), values as given */
  flags: Record<string, string[]>;
  argv: string[];
}

export type HelmSetFlag = "--set" | "--set-string" | "--set-file" | "--set-json" | "--set-literal";

export interface HelmSetEntry {
  /** as typed (escapes such as `\.` kept, they change the path) */
  key: string;
  /** unescaped; a list value `{a,b}` is kept as typed */
  value: string;
  flag: HelmSetFlag;
  /**
   * the key (or a --set-json value's key) looks like it names a secret: the value is masked when
   * shown and in the canonical form (there as its digest when canonicalCommand is given one)
   */
  secret: boolean;
  list?: boolean;
}

export interface HelmCommand {
  tool: "helm";
  /** aliases resolved: del/delete/un → uninstall, ls → list, hist → history, ... */
  verb: "uninstall" | "upgrade" | "rollback" | "install" | string;
  /** the rest of the command path, aliases resolved: `helm get values` → ["values"] */
  subcommands: string[];
  releases: string[];
  chart: string | null;
  revision: number | null;
  namespace: string | null;
  kubeContext: string | null;
  kubeconfig: string | null;
  connection: Connection;
  keepHistory: boolean;
  dryRun: boolean;
  dryRunMode: "none" | "client" | "server";
  install: boolean;
  values: string[];
  set: HelmSetEntry[];
  reuseValues: boolean;
  resetValues: boolean;
  resetThenReuseValues: boolean;
  version: string | null;
  noHooks: boolean;
  wait: boolean;
  atomic: boolean;
  force: boolean;
  cascade: "background" | "foreground" | "orphan";
  help: boolean;
  args: string[];
  flags: Record<string, string[]>;
  argv: string[];
}

export interface UnknownCommand {
  tool: "kubectl" | "helm" | null;
  verb: string | null;
  argv: string[];
  reason: string;
}

export type ParsedCommand = KubectlCommand | HelmCommand | UnknownCommand;

/** What replaces a secret in displayed and canonical command lines. */
export const REDACTED = "***";

export function isUnknown(c: ParsedCommand): c is UnknownCommand {
  return "reason" in c;
}

// ───────────────────────────── flag tables (pflag semantics) ─────────────────────────────

type ValueType = "bool" | "string" | "int" | "duration" | "slice" | "array" | "float" | "map";

interface FlagSpec {
  readonly long: string;
  readonly short: string | null;
  readonly type: ValueType;
  /** pflag's NoOptDefVal: the value of the bare flag; "" means the flag needs a value */
  readonly noOpt: string;
  readonly def: string;
  readonly secret: boolean;
}

interface FlagTable {
  readonly byLong: ReadonlyMap<string, FlagSpec>;
  readonly byShort: ReadonlyMap<string, FlagSpec>;
}

/**
 * Compact flag declarations: `s|long` bool, `s|long=` string, `long=int|duration|slice|array|float|map`,
 * `long=secret` (a string whose value is a secret), `long?x` optional value (bare = x), `:d` default.
 */
const SPEC_SYNTAX =
  /^(?:([A-Za-z])\|)?([a-z0-9][a-z0-9-]*)(=(string|int|duration|slice|array|float|map|secret)?)?(?:\?([A-Za-z]+))?(?::([A-Za-z0-9-]+))?$/;

function declare(text: string): FlagSpec | null {
  const m = SPEC_SYNTAX.exec(text);
  if (!m) return null;
  const [, short, long = "", eq, typ, noOpt, dflt] = m;
  let type: ValueType;
  if (eq === undefined && noOpt === undefined) type = "bool";
  else if (typ === "secret" || typ === undefined || typ === "string") type = "string";
  else type = typ as ValueType;
  return {
    long,
    short: short ?? null,
    type,
    noOpt: type === "bool" ? "true" : (noOpt ?? ""),
    def: dflt ?? (type === "bool" ? "false" : ""),
    secret: typ === "secret",
  };
}

function table(...groups: readonly (readonly string[])[]): FlagTable {
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const group of groups) {
    for (const text of group) {
      const spec = declare(text);
      if (!spec) continue;
      const previous = byLong.get(spec.long);
      if (previous?.short && byShort.get(previous.short) === previous) byShort.delete(previous.short);
      byLong.set(spec.long, spec);
      if (spec.short) byShort.set(spec.short, spec);
    }
  }
  return { byLong, byShort };
}

// prettier-ignore
const K_GLOBAL = [
  "as=", "as-group=array", "as-uid=", "cache-dir=", "certificate-authority=", "client-certificate=",
  "client-key=", "cluster=", "context=", "disable-compression", "insecure-skip-tls-verify", "kubeconfig=",
  "match-server-version", "n|namespace=", "password=secret", "profile=", "profile-output=",
  "request-timeout=", "s|server=", "tls-server-name=", "token=secret", "user=", "username=", "v|v=",
  "vmodule=", "warnings-as-errors", "log-flush-frequency=duration", "h|help",
  // klog flags older kubectl still accepts
  "add-dir-header", "alsologtostderr", "log-backtrace-at=", "log-dir=", "log-file=", "log-file-max-size=",
  "logtostderr:true", "one-output", "skip-headers", "skip-log-headers", "stderrthreshold=",
];
const K_FILES = ["f|filename=slice", "k|kustomize=", "R|recursive"];
const K_PRINT = ["o|output=", "template=", "allow-missing-template-keys:true", "show-managed-fields"];
const K_DRY = ["dry-run?unchanged"];
// prettier-ignore
const K_DELETE = [
  ...K_FILES, ...K_DRY, "all", "A|all-namespaces", "cascade?background", "field-selector=", "force",
  "grace-period=int:-1", "ignore-not-found", "i|interactive", "now", "o|output=", "raw=", "l|selector=",
  "timeout=duration", "wait:true",
];
// prettier-ignore
const K_SCALE = [
  ...K_FILES, ...K_PRINT, ...K_DRY, "all", "current-replicas=int:-1", "replicas=int:-1", "resource-version=",
  "l|selector=", "timeout=duration",
];
// prettier-ignore
const K_PATCH = [
  ...K_FILES, ...K_PRINT, ...K_DRY, "field-manager=", "local", "p|patch=", "patch-file=", "subresource=",
  "type=:strategic",
];
// prettier-ignore
const K_DRAIN = [
  ...K_DRY, "chunk-size=int", "delete-emptydir-data", "delete-local-data", "disable-eviction", "force",
  "grace-period=int:-1", "ignore-daemonsets", "ignore-errors", "pod-selector=", "l|selector=",
  "skip-wait-for-delete-timeout=int", "timeout=duration",
];
/** Commands lifeline does not plan in detail: a broad table, unknown flags taken as booleans. */
// prettier-ignore
const K_GENERIC = [
  ...K_FILES, ...K_PRINT, ...K_DRY, "A|all-namespaces", "all", "l|selector=", "field-selector=",
  "L|label-columns=slice", "w|watch", "c|container=", "i|stdin", "t|tty", "q|quiet", "p|patch=",
  "patch-file=", "type=", "replicas=", "current-replicas=", "resource-version=", "grace-period=", "timeout=",
  "chunk-size=", "pod-selector=", "cascade?background", "validate?strict", "force", "ignore-not-found",
  "overwrite", "local", "record", "server-side", "force-conflicts", "prune", "field-manager=", "image=",
  "port=", "env=array", "labels=", "annotations=array", "from-literal=array", "from-file=array",
  "from-env-file=array", "docker-password=secret", "docker-username=", "docker-server=", "docker-email=",
  "sort-by=", "since=", "since-time=", "tail=", "subresource=", "raw=", "overrides=", "restart=",
  "to-revision=", "for=", "name=", "target=", "copy-to=", "address=slice", "pod-running-timeout=", "min=",
  "max=", "cpu-percent=", "containers", "show-labels", "show-kind", "no-headers", "rm",
];
const K_GET = [...K_GENERIC, "watch-only", "output-watch-events", "server-print:true"];
// prettier-ignore
const K_LOGS = [
  ...K_GENERIC, "f|follow", "p|previous", "timestamps", "all-containers", "all-pods", "prefix",
  "max-log-requests=", "limit-bytes=", "ignore-errors", "insecure-skip-tls-verify-backend",
];

// prettier-ignore
const H_GLOBAL = [
  "burst-limit=int", "debug", "kube-apiserver=", "kube-as-group=array", "kube-as-user=", "kube-ca-file=",
  "kube-context=", "kube-insecure-skip-tls-verify", "kube-tls-server-name=", "kube-token=secret",
  "kubeconfig=", "n|namespace=", "qps=float", "registry-config=", "repository-cache=", "repository-config=",
  "content-cache=", "h|help",
];
// prettier-ignore
const H_CHART = [
  "ca-file=", "cert-file=", "key-file=", "keyring=", "insecure-skip-tls-verify", "pass-credentials",
  "password=secret", "plain-http", "repo=", "username=", "verify", "version=", "devel",
];
// prettier-ignore
const H_VALUES = [
  "f|values=slice", "set=array", "set-string=array", "set-file=array", "set-json=array", "set-literal=array",
];
// prettier-ignore
const H_INSTALL_COMMON = [
  ...H_CHART, ...H_VALUES, "atomic", "create-namespace", "dependency-update", "description=",
  "disable-openapi-validation", "dry-run?client", "enable-dns", "force", "force-conflicts", "force-replace",
  "l|labels=map", "no-hooks", "o|output=", "post-renderer=", "post-renderer-args=array",
  "render-subchart-notes", "rollback-on-failure", "server-side?true", "skip-crds", "skip-schema-validation",
  "take-ownership", "timeout=duration", "wait?true", "wait-for-jobs", "hide-notes", "hide-secret",
];
// prettier-ignore
const H_UPGRADE = [
  ...H_INSTALL_COMMON, "cleanup-on-fail", "history-max=int", "i|install", "reset-then-reuse-values",
  "reset-values", "reuse-values",
];
const H_INSTALL = [...H_INSTALL_COMMON, "g|generate-name", "name-template=", "replace"];
// prettier-ignore
const H_ROLLBACK = [
  "cleanup-on-fail", "dry-run", "force", "force-conflicts", "force-replace", "history-max=int", "no-hooks",
  "recreate-pods", "server-side?true", "timeout=duration", "wait?true", "wait-for-jobs",
];
// prettier-ignore
const H_UNINSTALL = [
  "cascade=:background", "deletion-propagation=", "description=", "dry-run", "ignore-not-found",
  "keep-history", "no-hooks", "timeout=duration", "wait?true",
];
// prettier-ignore
const H_GENERIC = [
  ...H_INSTALL_COMMON.map((d) => d.replace(/=(int|duration|float)/, "=")),
  ...H_UPGRADE.slice(H_INSTALL_COMMON.length).map((d) => d.replace(/=int/, "=")),
  ...H_UNINSTALL.map((d) => d.replace(/=duration/, "=")), "recreate-pods", "keep-history", "a|all",
  "A|all-namespaces", "m|max=", "q|short", "d|date", "r|reverse", "revision=", "output-dir=",
  "show-only=array", "api-versions=array", "kube-version=", "include-crds", "skip-tests", "filter=",
  "selector=", "offset=", "time-format=", "no-headers", "untar", "untardir=", "destination=", "prov",
  "force-update", "regexp", "versions", "template=", "logs", "g|generate-name", "name-template=", "replace",
];

// ───────────────────────────── command trees (cobra semantics) ─────────────────────────────

/** How a command's positional arguments name resources, for best-effort targets. */
type ArgStyle = "builder" | "resources" | "pairs" | "nodes" | "pod" | "named" | "none";

interface CommandDef {
  readonly name: string;
  readonly aliases?: readonly string[];
  readonly flags?: FlagTable;
  /** unknown flags are errors (pflag's behaviour); otherwise taken as booleans, best effort */
  readonly strict?: boolean;
  readonly style?: ArgStyle;
  /** for "named": the resource type the NAME argument is of */
  readonly kind?: string;
  readonly children?: readonly CommandDef[];
}

const T_K_GLOBAL = table(K_GLOBAL);
const T_K_GENERIC = table(K_GLOBAL, K_GENERIC);
const T_H_GLOBAL = table(H_GLOBAL);
const T_H_GENERIC = table(H_GLOBAL, H_GENERIC);

function group(
  name: string,
  subs: readonly (string | CommandDef)[],
  style: ArgStyle = "none",
  aliases: readonly string[] = [],
): CommandDef {
  return {
    name,
    aliases,
    children: subs.map((s) => {
      if (typeof s !== "string") return s;
      const [sub = "", ...aliases] = s.split("|");
      return { name: sub, aliases, style };
    }),
  };
}

function named(spec: string, kind: string, children?: readonly CommandDef[]): CommandDef {
  const [name = "", ...aliases] = spec.split("|");
  return children
    ? { name, aliases, kind, style: "named", children }
    : { name, aliases, kind, style: "named" };
}

const KUBECTL_COMMANDS: readonly CommandDef[] = [
  { name: "delete", flags: table(K_GLOBAL, K_DELETE), strict: true, style: "builder" },
  { name: "scale", flags: table(K_GLOBAL, K_SCALE), strict: true, style: "builder" },
  { name: "patch", flags: table(K_GLOBAL, K_PATCH), strict: true, style: "builder" },
  { name: "drain", flags: table(K_GLOBAL, K_DRAIN), strict: true, style: "nodes" },
  { name: "get", flags: table(K_GLOBAL, K_GET), style: "resources" },
  { name: "describe", style: "resources" },
  { name: "edit", style: "resources" },
  { name: "label", style: "pairs" },
  { name: "annotate", style: "pairs" },
  { name: "autoscale", style: "resources" },
  { name: "expose", style: "resources" },
  { name: "wait", style: "resources" },
  { name: "cordon", style: "nodes" },
  { name: "uncordon", style: "nodes" },
  { name: "taint", style: "pairs" },
  { name: "logs", flags: table(K_GLOBAL, K_LOGS), style: "pod" },
  { name: "exec", style: "pod" },
  { name: "attach", style: "pod" },
  { name: "port-forward", style: "pod" },
  { name: "debug", style: "pod" },
  group("apply", ["edit-last-applied", "set-last-applied", "view-last-applied"], "resources"),
  group("rollout", ["history", "pause", "restart", "resume", "status", "undo"], "resources"),
  group("set", ["env", "image", "resources", "selector", "serviceaccount|sa", "subject"], "pairs"),
  group("top", [named("node|nodes|no", "nodes"), named("pod|pods|po", "pods")]),
  group("auth", ["can-i", "reconcile", "whoami"]),
  group("certificate", ["approve", "deny"]),
  group("plugin", ["list"]),
  group("cluster-info", ["dump"]),
  group("config", [
    "current-context",
    "delete-cluster",
    "delete-context",
    "delete-user",
    "get-clusters",
    "get-contexts",
    "get-users",
    "rename-context",
    "set",
    "set-cluster",
    "set-context",
    "set-credentials",
    "unset",
    "use-context|use",
    "view",
  ]),
  group("create", [
    named("clusterrole", "clusterroles"),
    named("clusterrolebinding", "clusterrolebindings"),
    named("configmap|cm", "configmaps"),
    named("cronjob|cj", "cronjobs"),
    named("deployment|deploy", "deployments"),
    named("ingress|ing", "ingresses"),
    named("job", "jobs"),
    named("namespace|ns", "namespaces"),
    named("poddisruptionbudget|pdb", "poddisruptionbudgets"),
    named("priorityclass|pc", "priorityclasses"),
    named("quota|resourcequota", "resourcequotas"),
    named("role", "roles"),
    named("rolebinding", "rolebindings"),
    named("secret", "secrets", [
      named("docker-registry", "secrets"),
      named("generic", "secrets"),
      named("tls", "secrets"),
    ]),
    named("service|svc", "services", [
      named("clusterip", "services"),
      named("externalname", "services"),
      named("loadbalancer", "services"),
      named("nodeport", "services"),
    ]),
    named("serviceaccount|sa", "serviceaccounts"),
    named("token", "serviceaccounts"),
  ]),
];

const HELM_COMMANDS: readonly CommandDef[] = [
  { name: "uninstall", aliases: ["del", "delete", "un"], flags: table(H_GLOBAL, H_UNINSTALL), strict: true },
  { name: "upgrade", flags: table(H_GLOBAL, H_UPGRADE), strict: true },
  { name: "install", flags: table(H_GLOBAL, H_INSTALL), strict: true },
  { name: "rollback", flags: table(H_GLOBAL, H_ROLLBACK), strict: true },
  { name: "list", aliases: ["ls"] },
  { name: "history", aliases: ["hist"] },
  { name: "status" },
  { name: "test" },
  group("get", ["all", "hooks", "manifest", "metadata", "notes", "values"]),
  group("show", ["all", "chart", "crds", "readme", "values"], "none", ["inspect"]),
  group("dependency", ["build", "list|ls", "update|up"], "none", ["dep", "dependencies"]),
  group("repo", ["add", "index", "list|ls", "remove|rm", "update|up"]),
  group("plugin", ["install|add", "list|ls", "uninstall|rm|remove", "update|up", "package", "verify"]),
  group("registry", ["login", "logout"]),
  group("search", ["hub", "repo"]),
  { name: "pull", aliases: ["fetch"] },
];

// ───────────────────────────── resource types ─────────────────────────────

interface KindInfo {
  readonly kind: ResourceKind;
  readonly names: readonly string[];
  readonly group: string;
  readonly namespaced: boolean;
}

const KINDS: readonly KindInfo[] = [
  {
    kind: "persistentvolumeclaims",
    names: ["pvc", "persistentvolumeclaim", "persistentvolumeclaims"],
    group: "",
    namespaced: true,
  },
  {
    kind: "persistentvolumes",
    names: ["pv", "persistentvolume", "persistentvolumes"],
    group: "",
    namespaced: false,
  },
  { kind: "statefulsets", names: ["sts", "statefulset", "statefulsets"], group: "apps", namespaced: true },
  { kind: "deployments", names: ["deploy", "deployment", "deployments"], group: "apps", namespaced: true },
  { kind: "pods", names: ["po", "pod", "pods"], group: "", namespaced: true },
  { kind: "namespaces", names: ["ns", "namespace", "namespaces"], group: "", namespaced: false },
  { kind: "secrets", names: ["secret", "secrets"], group: "", namespaced: true },
  { kind: "configmaps", names: ["cm", "configmap", "configmaps"], group: "", namespaced: true },
  { kind: "services", names: ["svc", "service", "services"], group: "", namespaced: true },
  { kind: "jobs", names: ["job", "jobs"], group: "batch", namespaced: true },
  { kind: "cronjobs", names: ["cj", "cronjob", "cronjobs"], group: "batch", namespaced: true },
  { kind: "nodes", names: ["no", "node", "nodes"], group: "", namespaced: false },
  {
    kind: "storageclasses",
    names: ["sc", "storageclass", "storageclasses"],
    group: "storage.k8s.io",
    namespaced: false,
  },
  {
    kind: "volumesnapshots",
    names: ["vs", "volumesnapshot", "volumesnapshots"],
    group: "snapshot.storage.k8s.io",
    namespaced: true,
  },
  { kind: "replicasets", names: ["rs", "replicaset", "replicasets"], group: "apps", namespaced: true },
  { kind: "daemonsets", names: ["ds", "daemonset", "daemonsets"], group: "apps", namespaced: true },
];

const KIND_BY_NAME = new Map<string, KindInfo>(KINDS.flatMap((k) => k.names.map((n) => [n, k] as const)));
const VERSION_SEGMENT = /^v\d+(?:(?:alpha|beta)\d+)?$/;

/** What the server's `all` category expands to (kubectl asks discovery; these are the built-in members). */
const CATEGORY_ALL = [
  "pods",
  "replicationcontrollers",
  "services",
  "daemonsets.apps",
  "deployments.apps",
  "replicasets.apps",
  "statefulsets.apps",
  "horizontalpodautoscalers.autoscaling",
  "cronjobs.batch",
  "jobs.batch",
];

/** `pvc`, `StatefulSet`, `sts.apps`, `statefulsets.v1.apps` → the kind; anything else → null. */
export function resolveResourceType(typed: string): ResourceKind | null {
  const lower = typed.toLowerCase();
  const dot = lower.indexOf(".");
  const base = dot < 0 ? lower : lower.slice(0, dot);
  const info = KIND_BY_NAME.get(base);
  if (!info) return null;
  if (dot < 0) return info.kind;
  let rest = lower.slice(dot + 1);
  const firstDot = rest.indexOf(".");
  // resource.version.group (a version then a group, as ParseResourceArg reads three or more parts)
  if (firstDot > 0 && VERSION_SEGMENT.test(rest.slice(0, firstDot))) rest = rest.slice(firstDot + 1);
  return info.group !== "" && rest === info.group ? info.kind : null;
}

function target(typed: string, name: string | null, category?: string): ResourceTarget {
  const t: ResourceTarget = { resource: resolveResourceType(typed), typed, name };
  if (category !== undefined) t.category = category;
  return t;
}

function isNamespacedKnown(typed: string): boolean {
  const kind = resolveResourceType(typed);
  return kind !== null && (KINDS.find((k) => k.kind === kind)?.namespaced ?? false);
}

// ───────────────────────────── Go value syntax ─────────────────────────────

const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

function goParseBool(s: string): boolean | null {
  if (GO_TRUE.has(s)) return true;
  if (GO_FALSE.has(s)) return false;
  return null;
}

/** strconv's underscoreOK: underscores only between digits, and only with base 0. */
function goUnderscoreOK(input: string): boolean {
  let s = input;
  let saw = "^";
  let i = 0;
  if (s.length >= 1 && (s[0] === "-" || s[0] === "+")) s = s.slice(1);
  let hex = false;
  const p = (s[1] ?? "").toLowerCase();
  if (s.length >= 2 && s[0] === "0" && (p === "b" || p === "o" || p === "x")) {
    i = 2;
    saw = "0";
    hex = p === "x";
  }
  for (; i < s.length; i++) {
    const c = s[i] ?? "";
    const lc = c.toLowerCase();
    if ((c >= "0" && c <= "9") || (hex && lc >= "a" && lc <= "f")) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** strconv.ParseInt(s, 0, 64), which pflag's int flags use: 0x1f, 0o17, 017, 0b1, 1_000. */
function goParseInt(s: string): number | null {
  let t = s;
  let sign = 1n;
  if (t.startsWith("+") || t.startsWith("-")) {
    if (t[0] === "-") sign = -1n;
    t = t.slice(1);
  }
  if (t === "" || !goUnderscoreOK(s)) return null;
  let base = 10;
  let digits = t;
  if (/^0[xX]/.test(t)) [base, digits] = [16, t.slice(2)];
  else if (/^0[bB]/.test(t)) [base, digits] = [2, t.slice(2)];
  else if (/^0[oO]/.test(t)) [base, digits] = [8, t.slice(2)];
  else if (t.length > 1 && t[0] === "0") [base, digits] = [8, t.slice(1)];
  digits = digits.replace(/_/g, "");
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[
    base as 2 | 8 | 10 | 16
  ];
  if (!valid.test(digits)) return null;
  let value = 0n;
  for (const d of digits) value = value * BigInt(base) + BigInt(parseInt(d, 16));
  value *= sign;
  if (value > 9223372036854775807n || value < -9223372036854775808n) return null;
  return Number(value);
}

/** strconv.Atoi: decimal only, optional sign. */
function goAtoi(s: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

/** Go's encoding/csv reading one record, as pflag's stringSlice does for `-f a.yaml,b.yaml`. */
function readCsvRecord(s: string): string[] | string {
  if (s === "") return [];
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) return `extraneous or missing " in quoted-field`;
        const c = s[i] ?? "";
        if (c === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += c;
        i++;
      }
      const after = s[i];
      if (after !== undefined && after !== "," && after !== "\n" && after !== "\r")
        return `extraneous or missing " in quoted-field`;
    } else {
      while (i < s.length && s[i] !== "," && s[i] !== "\n" && s[i] !== "\r") {
        if (s[i] === '"') return `bare " in non-quoted-field`;
        field += s[i];
        i++;
      }
    }
    out.push(field);
    if (i < s.length && s[i] === ",") {
      i++;
      continue;
    }
    return out; // end of string or end of the first record
  }
}

function checkValue(spec: FlagSpec, value: string): string | null {
  const label = spec.short ? `-${spec.short}, --${spec.long}` : `--${spec.long}`;
  const bad = (why: string) => `invalid argument ${JSON.stringify(value)} for "${label}" flag: ${why}`;
  switch (spec.type) {
    case "bool":
      return goParseBool(value) === null
        ? bad(`strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`)
        : null;
    case "int":
      return goParseInt(value) === null
        ? bad(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`)
        : null;
    case "duration":
      if (GO_DURATION.test(value)) return null;
      return bad(
        /^[-+]?[\d.]+$/.test(value)
          ? `time: missing unit in duration ${JSON.stringify(value)}`
          : `time: invalid duration ${JSON.stringify(value)}`,
      );
    case "float":
      return /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i.test(value)
        ? null
        : bad(`strconv.ParseFloat: parsing ${JSON.stringify(value)}: invalid syntax`);
    case "slice": {
      const r = readCsvRecord(value);
      return typeof r === "string" ? bad(`parse error on line 1: ${r}`) : null;
    }
    case "map": {
      const r = readCsvRecord(value);
      if (typeof r === "string") return bad(`parse error on line 1: ${r}`);
      const wrong = r.find((kv) => !kv.includes("="));
      return wrong === undefined ? null : bad(`${wrong} must be formatted as key=value`);
    }
    default:
      return null;
  }
}

// ───────────────────────────── tokenizer (pflag) ─────────────────────────────

interface FlagTok {
  kind: "flag";
  spec: FlagSpec | null;
  /** long name, or for unknown flags the name as typed */
  name: string;
  value: string;
  index: number;
  /** the argv index holding the value when it is a separate argument */
  valueIndex: number | null;
  /** the value is the tail of argv[index] (`--x=v`, `-xv`, `-x=v`) */
  inline: boolean;
}
interface PosTok {
  kind: "pos";
  value: string;
  index: number;
}
type Tok = FlagTok | PosTok;

const SECRET_FLAG_NAME = /pass|pwd|token|secret|credential|api-?key/i;

/** `--name` of `--name=value`: what a reason may quote of a flag argument. */
function flagName(arg: string): string {
  const eq = arg.indexOf("=");
  return eq < 0 ? arg : arg.slice(0, eq);
}

function lookupLong(t: FlagTable, name: string, underscores: boolean): FlagSpec | undefined {
  return t.byLong.get(underscores ? name.replace(/_/g, "-") : name);
}

/**
 * pflag's parseArgs over argv[indices]. Strict: unknown flags are errors, as in pflag. Lenient:
 * an unknown flag is a boolean, unless its name says it carries a secret (then it takes a value,
 * so the secret is masked rather than read as a resource name). keepGoing (for masking): bad flag
 * syntax is read as an argument and bad values are accepted, so that every later flag is still seen.
 */
function tokenize(
  argv: readonly string[],
  indices: readonly number[],
  t: FlagTable,
  strict: boolean,
  underscores: boolean,
  keepGoing = false,
): { toks: Tok[]; error: string | null } {
  const toks: Tok[] = [];
  let p = 0;
  const fail = (error: string) => ({ toks, error });
  while (p < indices.length) {
    const index = indices[p] ?? 0;
    const s = argv[index] ?? "";
    p++;
    if (s.length < 2 || s[0] !== "-") {
      toks.push({ kind: "pos", value: s, index });
      continue;
    }
    if (s[1] === "-") {
      if (s.length === 2) {
        for (; p < indices.length; p++)
          toks.push({ kind: "pos", value: argv[indices[p] ?? 0] ?? "", index: indices[p] ?? 0 });
        break;
      }
      const body = s.slice(2);
      if (body[0] === "-" || body[0] === "=") {
        if (!keepGoing) return fail(`bad flag syntax: ${flagName(s)}`);
        toks.push({ kind: "pos", value: s, index });
        continue;
      }
      const eq = body.indexOf("=");
      const name = eq < 0 ? body : body.slice(0, eq);
      const spec = lookupLong(t, name, underscores);
      if (!spec) {
        if (strict) return fail(`unknown flag: --${name}`);
        if (eq >= 0)
          toks.push({
            kind: "flag",
            spec: null,
            name,
            value: body.slice(eq + 1),
            index,
            valueIndex: null,
            inline: true,
          });
        else if (SECRET_FLAG_NAME.test(name) && p < indices.length) {
          const vi = indices[p] ?? 0;
          p++;
          toks.push({
            kind: "flag",
            spec: null,
            name,
            value: argv[vi] ?? "",
            index,
            valueIndex: vi,
            inline: false,
          });
        } else
          toks.push({
            kind: "flag",
            spec: null,
            name,
            value: "true",
            index,
            valueIndex: null,
            inline: false,
          });
        continue;
      }
      let value: string;
      let valueIndex: number | null = null;
      let inline = false;
      if (eq >= 0) {
        value = body.slice(eq + 1);
        inline = true;
      } else if (spec.noOpt !== "") value = spec.noOpt;
      else if (p < indices.length) {
        valueIndex = indices[p] ?? 0;
        value = argv[valueIndex] ?? "";
        p++;
      } else return fail(`flag needs an argument: ${s}`);
      const bad = checkValue(spec, value);
      if (bad && !keepGoing) return fail(bad);
      toks.push({ kind: "flag", spec, name: spec.long, value, index, valueIndex, inline });
      continue;
    }
    // shorthands: "-abc" is a series of shorthand flags; a flag that needs a value takes the rest
    let shorts = s.slice(1);
    let consumedNext = false;
    while (shorts.length > 0) {
      const c = shorts[0] ?? "";
      const spec = t.byShort.get(c);
      if (!spec) {
        if (strict) return fail(`unknown shorthand flag: '${c}' in -${shorts}`);
        if (shorts.length > 2 && shorts[1] === "=") {
          toks.push({
            kind: "flag",
            spec: null,
            name: c,
            value: shorts.slice(2),
            index,
            valueIndex: null,
            inline: true,
          });
          shorts = "";
        } else {
          toks.push({
            kind: "flag",
            spec: null,
            name: c,
            value: "true",
            index,
            valueIndex: null,
            inline: false,
          });
          shorts = shorts.slice(1);
        }
        continue;
      }
      let value: string;
      let valueIndex: number | null = null;
      let inline = false;
      let rest = shorts.slice(1);
      if (shorts.length > 2 && shorts[1] === "=") {
        value = shorts.slice(2);
        inline = true;
        rest = "";
      } else if (spec.noOpt !== "") value = spec.noOpt;
      else if (shorts.length > 1) {
        value = shorts.slice(1);
        inline = true;
        rest = "";
      } else if (p < indices.length) {
        // pflag hands every shorthand of the group the same "next argument"; only one can take it
        valueIndex = indices[p] ?? 0;
        value = argv[valueIndex] ?? "";
        consumedNext = true;
      } else return fail(`flag needs an argument: '${c}' in -${shorts}`);
      const bad = checkValue(spec, value);
      if (bad && !keepGoing) return fail(bad);
      toks.push({ kind: "flag", spec, name: spec.long, value, index, valueIndex, inline });
      shorts = rest;
    }
    if (consumedNext) p++;
  }
  return { toks, error: null };
}

// ───────────────────────────── finding the command (cobra) ─────────────────────────────

interface Resolved {
  tool: "kubectl" | "helm";
  base: string;
  path: CommandDef[];
  verb: string;
  remaining: number[];
  table: FlagTable;
  strict: boolean;
}

function toolOf(arg0: string): { tool: "kubectl" | "helm"; base: string } | null {
  const base = arg0.split(/[\\/]/).pop() ?? "";
  const name = base.toLowerCase().replace(/\.exe$/, "");
  if (name === "kubectl" || name === "oc") return { tool: "kubectl", base };
  if (name === "helm") return { tool: "helm", base };
  return null;
}

/**
 * cobra's stripFlags: the first argument that is not a flag or a flag's value is the next command
 * word. Flags with "=" never take the next argument; others do unless pflag says their value is
 * optional. Returns the position in `remaining`, or a reason when a flag cobra does not know would
 * swallow the command word.
 */
function findWord(
  argv: readonly string[],
  remaining: readonly number[],
  t: FlagTable,
  atRoot: boolean,
  toolName: string,
): { pos: number | null; error: string | null } {
  for (let p = 0; p < remaining.length; p++) {
    const s = argv[remaining[p] ?? 0] ?? "";
    if (s === "--") return { pos: null, error: null };
    const longBare = s.startsWith("--") && !s.includes("=");
    const shortBare = !longBare && s.startsWith("-") && !s.includes("=") && s.length === 2;
    if (longBare || shortBare) {
      const spec = longBare ? lookupLong(t, s.slice(2), toolName === "kubectl") : t.byShort.get(s[1] ?? "");
      if (spec && spec.noOpt !== "") continue;
      if (!spec && atRoot) {
        const next = argv[remaining[p + 1] ?? -1];
        // the next argument is quoted only when it is a command word: otherwise it may be a secret
        const roots = toolName === "kubectl" ? KUBECTL_COMMANDS : HELM_COMMANDS;
        const what =
          next === undefined
            ? ""
            : childNamed(roots, next)
              ? ` (${toolName} would take the command ${JSON.stringify(next)} as its value)`
              : ` (${toolName} would take the next argument as its value)`;
        return {
          pos: null,
          error: `${s} is not a global ${toolName} flag, so it may not come before the command${what}`,
        };
      }
      if (remaining.length - p - 1 <= 1) return { pos: null, error: null };
      p++;
      continue;
    }
    if (s !== "" && !s.startsWith("-")) return { pos: p, error: null };
  }
  return { pos: null, error: null };
}

function childNamed(children: readonly CommandDef[] | undefined, word: string): CommandDef | undefined {
  return children?.find((c) => c.name === word || (c.aliases ?? []).includes(word));
}

function resolve(argv: readonly string[]): Resolved | UnknownCommand {
  const arg0 = argv[0];
  if (arg0 === undefined) return unknown(null, null, argv, "empty command");
  const tool = toolOf(arg0);
  if (!tool)
    return unknown(
      null,
      null,
      argv,
      `unknown tool ${JSON.stringify(arg0)}: lifeline understands kubectl (or oc) and helm`,
    );
  const globals = tool.tool === "kubectl" ? T_K_GLOBAL : T_H_GLOBAL;
  const roots = tool.tool === "kubectl" ? KUBECTL_COMMANDS : HELM_COMMANDS;
  let remaining = argv.map((_, i) => i).slice(1);
  const first = findWord(argv, remaining, globals, true, tool.tool);
  if (first.error) return unknown(tool.tool, null, argv, first.error);
  if (first.pos === null) return unknown(tool.tool, null, argv, `no ${tool.tool} command given`);
  const word = argv[remaining[first.pos] ?? 0] ?? "";
  remaining = remaining.filter((_, i) => i !== first.pos);
  const root = childNamed(roots, word) ?? { name: word };
  const path: CommandDef[] = [root];
  let current = root;
  while (current.children) {
    const local = current.flags ?? globals;
    const next = findWord(argv, remaining, local, false, tool.tool);
    if (next.pos === null) break;
    const child = childNamed(current.children, argv[remaining[next.pos] ?? 0] ?? "");
    if (!child) break;
    remaining = remaining.filter((_, i) => i !== next.pos);
    path.push(child);
    current = child;
  }
  const generic = tool.tool === "kubectl" ? T_K_GENERIC : T_H_GENERIC;
  return {
    tool: tool.tool,
    base: tool.base,
    path,
    verb: path.map((c) => c.name).join(" "),
    remaining,
    table: current.flags ?? generic,
    strict: current.strict ?? false,
  };
}

function unknown(
  tool: UnknownCommand["tool"],
  verb: string | null,
  argv: readonly string[],
  reason: string,
): UnknownCommand {
  return { tool, verb, argv: [...argv], reason };
}

// ───────────────────────────── flag values ─────────────────────────────

class Flags {
  readonly record: Record<string, string[]> = {};
  private readonly specs = new Map<string, FlagSpec>();

  constructor(toks: readonly Tok[]) {
    for (const tok of toks) {
      if (tok.kind !== "flag") continue;
      (this.record[tok.name] ??= []).push(tok.value);
      if (tok.spec) this.specs.set(tok.name, tok.spec);
    }
  }

  has(name: string): boolean {
    return this.record[name] !== undefined;
  }

  last(name: string): string | null {
    const values = this.record[name];
    return values === undefined ? null : (values[values.length - 1] ?? null);
  }

  /** a non-empty string value, trimmed when kubectl trims it; "" → null */
  text(name: string): string | null {
    const v = this.last(name);
    return v === null || v === "" ? null : v;
  }

  bool(name: string): boolean {
    const v = this.last(name);
    if (v === null) return goParseBool(this.specs.get(name)?.def ?? "false") ?? false;
    return goParseBool(v) ?? false;
  }

  int(name: string): number | null {
    const v = this.last(name);
    return v === null ? null : goParseInt(v);
  }

  /** stringSlice values are CSV-split and accumulate; stringArray values accumulate as given */
  list(name: string): string[] {
    const values = this.record[name] ?? [];
    const type = this.specs.get(name)?.type;
    if (type !== "slice" && type !== "map") return [...values];
    return values.flatMap((v) => {
      const r = readCsvRecord(v);
      return typeof r === "string" ? [v] : r;
    });
  }

  spec(name: string): FlagSpec | undefined {
    return this.specs.get(name);
  }
}

function dryRunOf(flags: Flags): "none" | "client" | "server" | { error: string } {
  const v = flags.last("dry-run");
  if (v === null) return "none";
  const b = goParseBool(v);
  if (b !== null) return b ? "client" : "none";
  if (v === "unchanged" || v === "client") return "client";
  if (v === "server") return "server";
  if (v === "none") return "none";
  return { error: `Invalid dry-run value (${v}). Must be "none", "server", or "client".` };
}

function cascadeOf(flags: Flags): "background" | "foreground" | "orphan" | { error: string } {
  const v = flags.last("cascade");
  if (v === null) return "background";
  const b = goParseBool(v);
  if (b !== null) return b ? "background" : "orphan";
  if (v === "background" || v === "foreground" || v === "orphan") return v;
  return { error: `invalid cascade value (${v}). Must be "background", "foreground", or "orphan"` };
}

// ───────────────────────────── kubectl resource arguments (resource builder) ─────────────────────────────

/** builder.SplitResourceArgument: comma list, duplicates dropped, order kept. */
function splitResourceArgument(arg: string): string[] {
  return [...new Set(arg.split(","))];
}

interface ResourceArgs {
  /** bulk types (TYPE or TYPE1,TYPE2 without names) */
  types: { typed: string; category?: string }[];
  names: string[];
  tuples: { typed: string; name: string }[];
}

/** builder.ResourceTypeOrNameArgs, including normalizeMultipleResourcesArgs and the `all` category. */
function resourceTypeOrNameArgs(input: readonly string[], baseCmd: string): ResourceArgs | { error: string } {
  let args = [...input];
  if (args.length >= 2) {
    const types = splitResourceArgument(args[0] ?? "");
    if (types.length > 1) args = types.flatMap((t) => args.slice(1).map((n) => `${t}/${n}`));
  }
  const slashes = args.filter((a) => a.includes("/")).length;
  if (slashes > 0 && slashes !== args.length) {
    return {
      error: `there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. '${baseCmd} get resource/<resource_name>' instead of '${baseCmd} get resource resource/<resource_name>'`,
    };
  }
  if (slashes > 0) {
    const tuples: ResourceArgs["tuples"] = [];
    for (const a of args) {
      const seg = a.split("/");
      if (seg.length !== 2)
        return { error: "arguments in resource/name form may not have more than one slash" };
      const [typed = "", name = ""] = seg;
      if (typed === "" || name === "" || splitResourceArgument(typed).length !== 1)
        return { error: "arguments in resource/name form must have a single resource and name" };
      tuples.push({ typed, name });
    }
    return { types: [], names: [], tuples };
  }
  if (args.length === 0) return { types: [], names: [], tuples: [] };
  const types = splitResourceArgument(args[0] ?? "").flatMap((t) =>
    t === "all" ? CATEGORY_ALL.map((m) => ({ typed: m, category: "all" })) : [{ typed: t }],
  );
  return { types, names: args.slice(1), tuples: [] };
}

function targetsOf(r: ResourceArgs): ResourceTarget[] {
  if (r.tuples.length > 0) return r.tuples.map((t) => target(t.typed, t.name));
  if (r.names.length === 0) return r.types.map((t) => target(t.typed, null, t.category));
  return r.types.flatMap((t) => r.names.map((n) => target(t.typed, n, t.category)));
}

interface BuilderInput {
  args: ResourceArgs;
  paths: number;
  selector: boolean;
  selectAll: boolean;
  allNamespaces: boolean;
}

/** builder.visitorResult's checks, in its order, for commands that must find something to act on. */
function builderError(b: BuilderInput): string | null {
  const { types, names, tuples } = b.args;
  if (b.selectAll && b.selector) return "setting 'all' parameter but found a non empty selector. ";
  for (const t of [...types, ...tuples]) {
    if (t.typed === "") return `the server doesn't have a resource type ""`;
  }
  if (names.some((n) => n === "")) return "resource name may not be empty";
  if (b.paths > 0) {
    if (types.length > 0)
      return "when paths, URLs, or stdin is provided as input, you may not specify resource arguments as well";
    if (names.length > 0) return "name cannot be provided when a path is specified";
    if (tuples.length > 0) return "resource/name arguments cannot be provided when a path is specified";
    return null;
  }
  if (b.selector || b.selectAll) {
    if (names.length > 0) return "name cannot be provided when a selector is specified";
    if (tuples.length > 0)
      return "selectors and the all flag cannot be used when passing resource/name arguments";
    if (types.length === 0) return "at least one resource must be specified to use a selector";
    return null;
  }
  const acrossNamespaces = "a resource cannot be retrieved by name across all namespaces";
  if (tuples.length > 0) {
    if (b.allNamespaces && tuples.some((t) => isNamespacedKnown(t.typed))) return acrossNamespaces;
    return null;
  }
  if (names.length > 0) {
    if (types.length > 1) return "you must specify only one resource";
    if (b.allNamespaces && types.some((t) => isNamespacedKnown(t.typed))) return acrossNamespaces;
    return null;
  }
  if (types.length > 0) return "resource(s) were provided, but no name was specified";
  return "You must provide one or more resources by argument or filename.";
}

/** cmdutil.GetResourcesAndPairs: resource arguments first, then KEY=VALUE / KEY- changes. */
function resourcesAndPairs(
  args: readonly string[],
): { resources: string[]; pairs: string[] } | { error: string } {
  const resources: string[] = [];
  const pairs: string[] = [];
  for (const s of args) {
    const pair =
      (s.includes("=") && s[0] !== "=") ||
      (s.endsWith("-") && s !== "-") ||
      /:No(?:Schedule|Execute)|:PreferNoSchedule/.test(s);
    if (pair) pairs.push(s);
    else if (pairs.length > 0) return { error: `all resources must be specified before changes: ${s}` };
    else resources.push(s);
  }
  return { resources, pairs };
}

// ───────────────────────────── kubectl ─────────────────────────────

function interpretKubectl(
  argv: readonly string[],
  r: Resolved,
  toks: readonly Tok[],
): KubectlCommand | UnknownCommand {
  const flags = new Flags(toks);
  const fail = (reason: string) => unknown("kubectl", r.path[0]?.name ?? null, argv, reason);
  const positionals = toks.filter((t): t is PosTok => t.kind === "pos").map((t) => t.value);
  const last = r.path[r.path.length - 1];
  const style: ArgStyle = last?.style ?? "none";

  if (flags.has("raw"))
    return fail(
      "lifeline does not model raw API requests (--raw): the request may delete anything, so it cannot be planned",
    );
  const dryRun = dryRunOf(flags);
  if (typeof dryRun !== "string") return fail(dryRun.error);
  const cascade = cascadeOf(flags);
  if (typeof cascade !== "string") return fail(cascade.error);

  const allNamespaces = flags.bool("all-namespaces");
  const selector = flags.last("selector")?.trim() || null;
  const fieldSelector = flags.last("field-selector")?.trim() || null;
  const files = flags.list("filename");
  const help = flags.bool("help");
  const grace = flags.int("grace-period");

  const cmd: KubectlCommand = {
    tool: "kubectl",
    verb: r.path[0]?.name ?? "",
    subcommands: r.path.slice(1).map((c) => c.name),
    targets: [],
    namespace: flags.text("namespace"),
    allNamespaces,
    selector,
    fieldSelector,
    all: flags.bool("all"),
    files,
    kustomize: flags.text("kustomize"),
    recursive: flags.bool("recursive"),
    context: flags.text("context"),
    kubeconfig: flags.text("kubeconfig"),
    connection: {
      server: flags.text("server"),
      cluster: flags.text("cluster"),
      user: flags.text("user"),
      tokenGiven: flags.text("token") !== null,
    },
    dryRun,
    cascade,
    force: flags.bool("force"),
    gracePeriod: grace === null || grace < 0 ? null : grace,
    ignoreNotFound: flags.bool("ignore-not-found"),
    replicas: null,
    patch: null,
    drain: null,
    raw: null,
    help,
    args: positionals,
    flags: flags.record,
    argv: [...argv],
  };

  // Targets, best effort for every command; exact (with kubectl's own errors) for the ones planned.
  if (style === "builder" || style === "resources" || style === "pairs") {
    let resourceArgs = positionals;
    if (style === "pairs") {
      const split = resourcesAndPairs(positionals);
      if ("error" in split) return fail(split.error);
      resourceArgs = split.resources;
    }
    const parsed = resourceTypeOrNameArgs(resourceArgs, r.base);
    if ("error" in parsed) return fail(parsed.error);
    cmd.targets = targetsOf(parsed);
    if (style === "builder" && !help) {
      const fileError = filenameOptionsError(cmd);
      if (fileError) return fail(fileError);
      const verbError = validateBuilderVerb(cmd, flags, parsed);
      if (verbError) return fail(verbError);
    }
  } else if (style === "nodes") {
    for (const a of positionals) {
      if (!a.includes("/")) {
        cmd.targets.push(target("nodes", a));
        continue;
      }
      const parsed = resourceTypeOrNameArgs([a], r.base);
      if ("error" in parsed) return fail(parsed.error);
      cmd.targets.push(...targetsOf(parsed));
    }
    if (positionals.length === 0 && selector) cmd.targets.push(target("nodes", null));
  } else if (style === "pod") {
    const first = positionals[0];
    if (first !== undefined) {
      const seg = first.split("/");
      cmd.targets.push(seg.length === 2 ? target(seg[0] ?? "", seg[1] ?? "") : target("pods", first));
    } else if (selector) cmd.targets.push(target("pods", null));
  } else if (style === "named" && last?.kind) {
    const first = positionals[0];
    cmd.targets.push(target(last.kind, first ?? null));
  }

  if (r.verb === "drain") {
    if (!help) {
      if (positionals.length === 0 && !flags.has("selector")) return fail("USAGE: drain NODE [flags]");
      if (positionals.length > 0 && selector)
        return fail("error: cannot specify both a node name and a --selector option");
    }
    cmd.drain = {
      deleteEmptyDirData: flags.bool("delete-emptydir-data") || flags.bool("delete-local-data"),
      ignoreDaemonsets: flags.bool("ignore-daemonsets"),
      force: flags.bool("force"),
      disableEviction: flags.bool("disable-eviction"),
    };
  }
  return cmd;
}

function filenameOptionsError(cmd: KubectlCommand): string | null {
  if (cmd.files.length > 0 && cmd.kustomize) return "only one of -f or -k can be specified";
  if (cmd.kustomize && cmd.recursive) return "the -k flag can't be used with -f or -R";
  return null;
}

/** delete, scale and patch: their Complete/Validate checks and the builder's. */
function validateBuilderVerb(cmd: KubectlCommand, flags: Flags, args: ResourceArgs): string | null {
  const paths = cmd.files.length + (cmd.kustomize ? 1 : 0);
  if (cmd.verb === "delete") {
    const grace = flags.int("grace-period") ?? -1;
    if (flags.bool("now") && grace !== -1) return "--now and --grace-period cannot be specified together";
    // kubectl delete's normalisation, so that the plan sees what is sent to the server
    let effective = flags.bool("now") ? 1 : grace;
    if (effective === 0 && !cmd.force) effective = 1;
    if (cmd.force && effective < 0) effective = 0;
    cmd.gracePeriod = effective < 0 ? null : effective;
    if ((cmd.all || cmd.selector || cmd.fieldSelector) && !flags.has("ignore-not-found"))
      cmd.ignoreNotFound = true;
    const b = builderError({
      args,
      paths,
      selector: cmd.selector !== null || cmd.fieldSelector !== null,
      selectAll: cmd.all,
      allNamespaces: cmd.allNamespaces,
    });
    if (b) return b;
    const output = flags.last("output") ?? "";
    if (output !== "" && output !== "name")
      return `unexpected -o output mode: ${output}. We only support '-o name'`;
    if (cmd.all && cmd.selector) return "cannot set --all and --selector at the same time";
    if (cmd.all && cmd.fieldSelector) return "cannot set --all and --field-selector at the same time";
    if (cmd.force && effective > 0)
      return "--force and --grace-period greater than 0 cannot be specified together";
    return null;
  }
  if (cmd.verb === "scale") {
    const replicas = flags.int("replicas") ?? -1;
    if (replicas < 0)
      return "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0";
    if ((flags.int("current-replicas") ?? -1) < -1)
      return "The --current-replicas must specify an integer of -1 or greater";
    cmd.replicas = replicas;
    // scale selects everything for a lone TYPE with --all (ResourceTypeOrNameArgs(o.All, ...)), then applies -l
    const everything = cmd.all && cmd.args.length === 1 && !(cmd.args[0] ?? "").includes("/");
    return builderError({
      args,
      paths,
      selector: cmd.selector !== null || everything,
      selectAll: false,
      allNamespaces: false,
    });
  }
  // patch
  const inline = flags.last("patch");
  const file = flags.last("patch-file");
  if (inline !== null && inline !== "" && file !== null && file !== "")
    return "-p and --patch-file cannot be used together";
  if ((inline === null || inline === "") && (file === null || file === ""))
    return "must specify --patch or --patch-file containing the contents of the patch";
  const typeText = flags.last("type") ?? "strategic";
  const type = typeText.toLowerCase();
  if (type !== "json" && type !== "merge" && type !== "strategic")
    return `--type must be one of [json merge strategic], not ${JSON.stringify(typeText)}`;
  const local = flags.bool("local");
  if (local && cmd.args.length > 0) return "cannot specify --local and server resources";
  if (local && cmd.dryRun === "server")
    return "cannot specify --local and --dry-run=server - did you mean --dry-run=client?";
  cmd.patch =
    inline !== null && inline !== ""
      ? { type, body: inline, source: "inline" }
      : { type, body: file ?? "", source: "file" };
  return builderError({ args, paths, selector: false, selectAll: false, allNamespaces: false });
}

// ───────────────────────────── helm ─────────────────────────────

const HELM_RELEASE_NAME = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

function validReleaseName(name: string): boolean {
  return name.length > 0 && name.length <= 53 && HELM_RELEASE_NAME.test(name);
}

interface SetPiece {
  key: string;
  value: string;
  list: boolean;
  /** span of the value text in the flag's argument (for masking) */
  start: number;
  end: number;
}

interface SetSplit {
  pieces: SetPiece[];
  /** the reason helm gives; it quotes keys, never values */
  error: string | null;
  /** where the entry that could not be read starts (its key) */
  errorAt: number;
}

/** helm's strvals parser, reduced to splitting: key=value pairs, `\` escapes, `{a,b}` lists. */
function splitHelmSet(text: string, flag: HelmSetFlag): SetSplit {
  const pieces: SetPiece[] = [];
  const n = text.length;
  let i = 0;
  let keyStart = 0;
  const failed = (error: string): SetSplit => ({ pieces, error, errorAt: keyStart });
  while (i < n) {
    // key: up to an unescaped "=" (a literal key has no escapes)
    keyStart = i;
    let keyPlain = "";
    let sawEq = false;
    while (i < n) {
      const c = text[i] ?? "";
      if (c === "\\" && flag !== "--set-literal") {
        keyPlain += text[i + 1] ?? "";
        i += 2;
        continue;
      }
      if (c === "=") {
        sawEq = true;
        break;
      }
      if (c === "," && flag !== "--set-literal")
        return failed(`key ${JSON.stringify(keyPlain)} has no value (cannot end with ,)`);
      keyPlain += c;
      i++;
    }
    if (!sawEq) return failed(`key ${JSON.stringify(keyPlain)} has no value`);
    const key = text.slice(keyStart, i);
    i++; // "="
    const start = i;
    if (flag === "--set-literal") {
      pieces.push({ key, value: text.slice(start), list: false, start, end: n });
      return { pieces, error: null, errorAt: n };
    }
    if (flag === "--set-json") {
      while (i < n && /\s/.test(text[i] ?? "")) i++;
      if (i >= n || text[i] === ",") {
        pieces.push({ key, value: "", list: false, start, end: i });
        if (i < n) i++;
        continue;
      }
      const end = jsonValueEnd(text, i);
      const json = text.slice(i, end);
      try {
        JSON.parse(json);
      } catch {
        return failed(`invalid JSON for key ${JSON.stringify(keyPlain)}`);
      }
      pieces.push({ key, value: json, list: false, start: i, end });
      i = end;
      while (i < n && /\s/.test(text[i] ?? "")) i++;
      if (text[i] === ",") i++;
      continue;
    }
    if (text[i] === "{") {
      i++;
      let closed = false;
      while (i < n) {
        const c = text[i];
        if (c === "\\") {
          i += 2;
          continue;
        }
        i++;
        if (c === "}") {
          closed = true;
          break;
        }
      }
      if (!closed) return failed("list must terminate with '}'");
      pieces.push({ key, value: text.slice(start, i), list: true, start, end: i });
      if (text[i] === ",") i++;
      continue;
    }
    let value = "";
    while (i < n && text[i] !== ",") {
      if (text[i] === "\\") {
        value += text[i + 1] ?? "";
        i += 2;
        continue;
      }
      value += text[i];
      i++;
    }
    pieces.push({ key, value, list: false, start, end: Math.min(i, n) });
    if (i < n) i++; // ","
  }
  return { pieces, error: null, errorAt: n };
}

/** End of one JSON value starting at `i` (the decoder reads exactly one value). */
function jsonValueEnd(text: string, start: number): number {
  let i = start;
  let depth = 0;
  const n = text.length;
  const first = text[i];
  if (first !== "{" && first !== "[" && first !== '"') {
    while (i < n && !/[\s,\]}]/.test(text[i] ?? "")) i++;
    return i;
  }
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < n && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      i++;
      if (depth === 0) return Math.min(i, n);
      continue;
    }
    if (c === "{" || c === "[") depth++;
    if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return n;
}

const SET_FLAGS: readonly HelmSetFlag[] = [
  "--set",
  "--set-string",
  "--set-file",
  "--set-json",
  "--set-literal",
];

/** helm merges --set-json, --set, --set-string, --set-file, --set-literal in this order. */
const SET_MERGE_ORDER: readonly HelmSetFlag[] = [
  "--set-json",
  "--set",
  "--set-string",
  "--set-file",
  "--set-literal",
];

/**
 * A key that may name a secret: a deliberately broad match anywhere in the key (`rootPwd`,
 * `adminPass`, `auth.username`, `tls.key`, `jwtSalt`). Masking a value that was not secret only
 * costs the canonical form some precision; missing a secret leaks it.
 */
const SECRET_KEY =
  /pass|pwd|secret|token|key|cred|auth|cert|crt|private|salt|jwt|hmac|signing|dsn|conn(?:ection)?[-_.]?str|cookie|session/i;

function isSecretSet(flag: HelmSetFlag, key: string, value: string): boolean {
  if (flag === "--set-file") return false; // a path, not the secret
  if (SECRET_KEY.test(key.replace(/\\/g, ""))) return true;
  return flag === "--set-json" && SECRET_KEY.test(value);
}

function interpretHelm(
  argv: readonly string[],
  r: Resolved,
  toks: readonly Tok[],
): HelmCommand | UnknownCommand {
  const flags = new Flags(toks);
  const fail = (reason: string) => unknown("helm", r.path[0]?.name ?? null, argv, reason);
  const positionals = toks.filter((t): t is PosTok => t.kind === "pos").map((t) => t.value);
  const help = flags.bool("help");

  const set: HelmSetEntry[] = [];
  for (const tok of toks) {
    if (tok.kind !== "flag") continue;
    const flag = `--${tok.name}` as HelmSetFlag;
    if (!SET_FLAGS.includes(flag)) continue;
    const { pieces, error } = splitHelmSet(tok.value, flag);
    if (error) return fail(`failed parsing ${flag} data: ${error}`);
    for (const p of pieces) {
      const entry: HelmSetEntry = {
        key: p.key,
        value: p.value,
        flag,
        secret: isSecretSet(flag, p.key, p.value),
      };
      if (p.list) entry.list = true;
      set.push(entry);
    }
  }

  // dry-run: a boolean for uninstall and rollback, client|server|none|true|false for install/upgrade
  let dryRunMode: HelmCommand["dryRunMode"] = "none";
  const dry = flags.last("dry-run");
  if (dry !== null) {
    const b = goParseBool(dry);
    if (b !== null) dryRunMode = b ? "client" : "none";
    else if (dry === "client" || dry === "server" || dry === "none") dryRunMode = dry;
    else
      return fail("Invalid dry-run flag. Flag must one of the following: false, true, none, client, server");
  }
  const waitText = flags.last("wait");
  const wait = waitText !== null && goParseBool(waitText) !== false;
  if (
    waitText !== null &&
    goParseBool(waitText) === null &&
    !["watcher", "legacy", "hookOnly"].includes(waitText)
  )
    return fail(
      `invalid argument ${JSON.stringify(waitText)} for "--wait" flag: strconv.ParseBool: parsing ${JSON.stringify(waitText)}: invalid syntax`,
    );
  const cascadeText = flags.last("cascade") ?? "background";
  // helm falls back to background for any other value (it logs, it does not fail)
  const cascade = cascadeText === "orphan" || cascadeText === "foreground" ? cascadeText : "background";

  const cmd: HelmCommand = {
    tool: "helm",
    verb: r.path[0]?.name ?? "",
    subcommands: r.path.slice(1).map((c) => c.name),
    releases: [],
    chart: null,
    revision: null,
    namespace: flags.text("namespace"),
    kubeContext: flags.text("kube-context"),
    kubeconfig: flags.text("kubeconfig"),
    connection: {
      server: flags.text("kube-apiserver"),
      cluster: null,
      user: flags.text("kube-as-user"),
      tokenGiven: flags.text("kube-token") !== null,
    },
    keepHistory: flags.bool("keep-history"),
    dryRun: dryRunMode !== "none",
    dryRunMode,
    install: flags.bool("install"),
    values: flags.list("values"),
    set,
    reuseValues: flags.bool("reuse-values"),
    resetValues: flags.bool("reset-values"),
    resetThenReuseValues: flags.bool("reset-then-reuse-values"),
    version: flags.text("version"),
    noHooks: flags.bool("no-hooks"),
    wait,
    atomic: flags.bool("atomic") || flags.bool("rollback-on-failure"),
    force: flags.bool("force") || flags.bool("force-replace"),
    cascade,
    help,
    args: positionals,
    flags: flags.record,
    argv: [...argv],
  };
  const quoted = `"${r.base.replace(/\.exe$/i, "")} ${r.verb}"`;
  switch (r.verb) {
    case "uninstall": {
      cmd.releases = positionals;
      if (help) return cmd;
      if (positionals.length === 0) return fail(`${quoted} requires at least 1 argument`);
      const bad = positionals.find((n) => !validReleaseName(n));
      if (bad !== undefined) return fail(`uninstall: Release name is invalid: ${bad}`);
      return cmd;
    }
    case "upgrade": {
      cmd.releases = positionals.slice(0, 1);
      cmd.chart = positionals[1] ?? null;
      if (help) return cmd;
      if (positionals.length !== 2) return fail(`${quoted} requires 2 arguments`);
      if (!validReleaseName(positionals[0] ?? ""))
        return fail(`release name is invalid: ${positionals[0] ?? ""}`);
      return cmd;
    }
    case "install": {
      const generate = flags.bool("generate-name") || flags.text("name-template") !== null;
      if (help) return cmd;
      if (positionals.length === 0) return fail(`${quoted} requires at least 1 argument`);
      if (positionals.length > 2)
        return fail(
          `expected at most two arguments, unexpected arguments: ${positionals.slice(2).join(", ")}`,
        );
      if (positionals.length === 2) {
        if (generate) return fail("cannot set --generate-name and also specify a name");
        cmd.releases = [positionals[0] ?? ""];
        cmd.chart = positionals[1] ?? null;
        if (!validReleaseName(positionals[0] ?? ""))
          return fail(`release name is invalid: ${positionals[0] ?? ""}`);
        return cmd;
      }
      if (!generate) return fail("must either provide a name or specify --generate-name");
      cmd.chart = positionals[0] ?? null;
      return cmd;
    }
    case "rollback": {
      cmd.releases = positionals.slice(0, 1);
      if (help) return cmd;
      if (positionals.length === 0) return fail(`${quoted} requires at least 1 argument`);
      if (positionals.length > 1) {
        const rev = goAtoi(positionals[1] ?? "");
        if (rev === null)
          return fail(
            `could not convert revision to a number: strconv.Atoi: parsing ${JSON.stringify(positionals[1])}: invalid syntax`,
          );
        cmd.revision = rev;
      }
      if (!validReleaseName(positionals[0] ?? ""))
        return fail(`rollback: Release name is invalid: ${positionals[0] ?? ""}`);
      return cmd;
    }
    default:
      if (
        [
          "status",
          "history",
          "test",
          "get all",
          "get hooks",
          "get manifest",
          "get metadata",
          "get notes",
          "get values",
        ].includes(r.verb)
      )
        cmd.releases = positionals.slice(0, 1);
      return cmd;
  }
}

// ───────────────────────────── entry points ─────────────────────────────

/**
 * Parses a kubectl or helm command line. Anything the tool would reject, and anything lifeline
 * does not model, is an UnknownCommand whose reason never quotes what displayCommand masks.
 */
export function parseCommand(argv: readonly string[]): ParsedCommand {
  const c = parseUnmasked(argv);
  if (!isUnknown(c)) return c;
  try {
    return { ...c, reason: maskReason(c.reason, c.argv) };
  } catch {
    return { ...c, reason: "the command could not be read" };
  }
}

function parseUnmasked(argv: readonly string[]): ParsedCommand {
  try {
    if (!Array.isArray(argv) || argv.some((a) => typeof a !== "string"))
      return unknown(null, null, [], "the command must be a list of strings");
    const r = resolve(argv);
    if ("reason" in r) return r;
    const { toks, error } = tokenize(argv, r.remaining, r.table, r.strict, r.tool === "kubectl");
    if (error) return unknown(r.tool, r.path[0]?.name ?? null, argv, error);
    return r.tool === "kubectl" ? interpretKubectl(argv, r, toks) : interpretHelm(argv, r, toks);
  } catch (e) {
    // never expected; a plan must still fail closed rather than crash
    return unknown(
      null,
      null,
      Array.isArray(argv) ? [...argv].map(String) : [],
      `internal parser error: ${String(e)}`,
    );
  }
}

// ───────────────────────────── redaction ─────────────────────────────

const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)([^\s/@]+)@/gi;
/**
 * `KEY=VALUE` anywhere in an argument (at its start or after a blank, quote or shell operator): the
 * value ends at the next blank or quote, or is one quoted string, so that the rest of a shell
 * command (`sh -c "PGPASSWORD=x rm -rf /data"`) stays readable and keeps its identity.
 */
const KEY_VALUE_SECRET = /(^|[\s'"`;&|()])([^=\s'"`;&|()]+)=("[^"]*"?|'[^']*'?|[^\s'"]*)/g;

/** A digest of a secret: the caller's keyed hash, so that the canonical form binds the value. */
export type SecretDigest = (secret: string) => string;

/**
 * Replaces secrets by REDACTED, or by their digest when one is given (for a canonical form that
 * must tell two secrets apart without showing either), and records what it replaced in `hidden`,
 * so that a reason can be masked exactly as the command is.
 */
class Masker {
  readonly hidden: string[] = [];
  constructor(private readonly digest: SecretDigest | null = null) {}
  hide(secret: string, ...alsoHidden: string[]): string {
    this.hidden.push(secret, ...alsoHidden);
    return this.digest ? this.digest(secret) : REDACTED;
  }
}

function maskUrls(s: string, m: Masker = new Masker()): string {
  return s.replace(URL_PASSWORD, (_m, head: string, password: string) => `${head}${m.hide(password)}@`);
}

/** `PGPASSWORD=x`, `auth.password=x`: the value of a secret-named key, wherever it is in the argument. */
function maskKeyValue(s: string, m: Masker = new Masker()): string {
  return s.replace(KEY_VALUE_SECRET, (whole, lead: string, key: string, value: string) => {
    if (value === "" || value === '"' || value === "'" || !SECRET_KEY.test(key)) return whole;
    const unquoted = value.replace(/^(["'])(.*?)\1?$/s, "$2");
    return `${lead}${key}=${m.hide(value, unquoted)}`;
  });
}

/** JSON / YAML-ish patch bodies: mask the values of secret-named keys. */
function maskDocument(body: string, m: Masker = new Masker()): string {
  return body
    .replace(
      /("((?:[^"\\]|\\.)*)"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,{}[\]\s"]+)/g,
      (whole, head: string, key: string, value: string) => {
        if (!SECRET_KEY.test(key)) return whole;
        return `${head}${JSON.stringify(m.hide(value, value.replace(/^"|"$/g, "")))}`;
      },
    )
    .replace(
      /(^|[\n{,]\s*)([A-Za-z0-9_.-]+)(\s*:\s+)([^\n,}]+)/g,
      (whole, lead: string, key: string, sep: string, value: string) => {
        if (!SECRET_KEY.test(key)) return whole;
        return `${lead}${key}${sep}${m.hide(value)}`;
      },
    );
}

/** Every string in a JSON value, for masking reasons. */
function jsonStrings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(jsonStrings);
  if (v !== null && typeof v === "object")
    return Object.values(v as Record<string, unknown>).flatMap(jsonStrings);
  return [];
}

/** A parsed JSON value with the values of secret-named keys (at any depth) masked. */
function maskJsonValue(v: unknown, m: Masker): unknown {
  if (Array.isArray(v)) return v.map((x) => maskJsonValue(x, m));
  if (v !== null && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) =>
        SECRET_KEY.test(k) ? [k, m.hide(JSON.stringify(x), ...jsonStrings(x))] : [k, maskJsonValue(x, m)],
      ),
    );
  return v;
}

/**
 * One --set entry's value as shown: masked whole when its key looks secret; a --set-json value
 * that names a secret-looking key has those keys' values masked (the whole value when it cannot be
 * read); other values are shown, secret-named KEY=VALUE and URL passwords in them masked.
 */
function maskSetEntry(flag: HelmSetFlag, key: string, typed: string, value: string, m: Masker): string {
  if (flag === "--set-file") return maskUrls(typed, m);
  if (typed === "") return "";
  if (SECRET_KEY.test(key.replace(/\\/g, ""))) return m.hide(typed, value);
  if (flag === "--set-json" && SECRET_KEY.test(value)) {
    try {
      return JSON.stringify(maskJsonValue(JSON.parse(value), m));
    } catch {
      return m.hide(typed, value);
    }
  }
  return maskUrls(maskKeyValue(typed, m), m);
}

/** A --set-kind flag's argument as shown: keys kept, values masked as maskSetEntry says. */
function maskSetValue(flag: HelmSetFlag, text: string, m: Masker): string {
  const { pieces, error, errorAt } = splitHelmSet(text, flag);
  let out = text;
  if (error) {
    // the entry helm could not read: its key is shown (the reason quotes it), the rest masked
    const rest = text.slice(errorAt);
    const eq = rest.indexOf("=");
    if (flag === "--set-file" || eq < 0) out = text.slice(0, errorAt) + maskUrls(rest, m);
    else out = `${text.slice(0, errorAt)}${rest.slice(0, eq + 1)}${m.hide(rest.slice(eq + 1))}`;
  }
  for (const p of [...pieces].reverse()) {
    const typed = out.slice(p.start, p.end);
    out = out.slice(0, p.start) + maskSetEntry(flag, p.key, typed, p.value, m) + out.slice(p.end);
  }
  return out;
}

/** Their values are label or field selectors, shown as typed: label values are not secrets. */
const SELECTOR_FLAGS = new Set(["selector", "field-selector", "pod-selector"]);

const SET_ARG = /^(--set(?:-string|-json|-literal|-file)?)(?:(=)(.*))?$/s;

/**
 * Not a command lifeline could resolve: mask what looks like a secret flag's value, helm --set
 * values, KEY=VALUE secrets, URL passwords.
 */
function redactUnresolved(argv: readonly string[], mask: Masker): string[] {
  const out = argv.map((a, i) => (i === 0 ? a : maskUrls(maskKeyValue(a, mask), mask)));
  const helm = toolOf(argv[0] ?? "")?.tool === "helm";
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const set = helm ? SET_ARG.exec(a) : null;
    if (set) {
      const flag = set[1] as HelmSetFlag;
      if (set[2] === "=") out[i] = `${flag}=${maskSetValue(flag, set[3] ?? "", mask)}`;
      else if (i + 1 < argv.length) {
        i++;
        out[i] = maskSetValue(flag, argv[i] ?? "", mask);
      }
      continue;
    }
    const m = /^(--?[A-Za-z0-9_-]+)(=?)(.*)$/s.exec(a);
    if (!m || !SECRET_FLAG_NAME.test(m[1] ?? "")) continue;
    if (m[2] === "=") out[i] = `${m[1]}=${mask.hide(m[3] ?? "")}`;
    else if (i + 1 < argv.length) {
      i++;
      out[i] = mask.hide(argv[i] ?? "");
    }
  }
  return out;
}

const T_H_SETS = table(H_VALUES.filter((d) => d.startsWith("set")));

function withSetFlags(t: FlagTable): FlagTable {
  const byLong = new Map(t.byLong);
  for (const [name, spec] of T_H_SETS.byLong) if (!byLong.has(name)) byLong.set(name, spec);
  return { byLong, byShort: t.byShort };
}

/** redactArgv, and every string it replaced by `***`. */
function redaction(
  input: readonly string[],
  mask: Masker = new Masker(),
): { masked: string[]; hidden: string[] } {
  const hidden = mask.hidden;
  const out = input.map((a) => (typeof a === "string" ? a : String(a)));
  try {
    const r = resolve(out);
    if ("reason" in r) return { masked: redactUnresolved(out, mask), hidden };
    // keep going past bad flags and bad values, so that nothing after them escapes masking; a
    // --set where helm would reject it still has a value to mask
    const t = r.tool === "helm" ? withSetFlags(r.table) : r.table;
    const toks = tokenize(out, r.remaining, t, false, r.tool === "kubectl", true).toks;
    const parsed = parseUnmasked(out);
    const patchesSecret =
      !isUnknown(parsed) && parsed.tool === "kubectl"
        ? parsed.targets.some((t) => t.resource === "secrets" || /secret/i.test(t.typed))
        : /secret/i.test(out.join(" "));
    const createsSecret = r.verb.startsWith("create secret");
    const masked = new Map<number, string>();
    const setValue = (tok: FlagTok, value: string) => {
      if (tok.valueIndex !== null) masked.set(tok.valueIndex, value);
      else if (tok.inline) {
        const arg = masked.get(tok.index) ?? out[tok.index] ?? "";
        masked.set(tok.index, arg.slice(0, arg.length - tok.value.length) + value);
      }
    };
    const secretValue = (tok: FlagTok) => setValue(tok, mask.hide(tok.value));
    for (const tok of toks) {
      if (tok.kind !== "flag") continue;
      const secretFlag = tok.spec ? tok.spec.secret : SECRET_FLAG_NAME.test(tok.name);
      if (secretFlag) secretValue(tok);
      else if (r.tool === "helm" && SET_FLAGS.includes(`--${tok.name}` as HelmSetFlag))
        setValue(tok, maskSetValue(`--${tok.name}` as HelmSetFlag, tok.value, mask));
      else if (r.tool === "kubectl" && tok.name === "patch") {
        if (patchesSecret) secretValue(tok);
        else setValue(tok, maskUrls(maskDocument(tok.value, mask), mask));
      } else if (tok.name === "from-literal" && createsSecret) {
        const eq = tok.value.indexOf("=");
        const value = mask.hide(tok.value.slice(eq + 1));
        setValue(tok, eq < 0 ? value : `${tok.value.slice(0, eq + 1)}${value}`);
      } else if (SELECTOR_FLAGS.has(tok.name)) setValue(tok, maskUrls(tok.value, mask));
      else if (tok.valueIndex !== null || tok.inline)
        setValue(tok, maskUrls(maskKeyValue(tok.value, mask), mask));
    }
    const positions = toks.filter((t): t is PosTok => t.kind === "pos");
    for (const [i, tok] of positions.entries()) {
      if (masked.has(tok.index)) continue;
      masked.set(tok.index, maskUrls(maskKeyValue(tok.value, mask), mask));
      // `kubectl exec pod -- mysql --password VALUE`: a program's own secret flag after "--"
      const next = positions[i + 1];
      const flagLike = /^--?[A-Za-z0-9_-]+$/.test(tok.value) && SECRET_FLAG_NAME.test(tok.value);
      if (flagLike && next && !masked.has(next.index)) masked.set(next.index, mask.hide(next.value));
      // kubectl config set users.x.token VALUE
      if (r.verb === "config set" && i === 0 && SECRET_KEY.test(tok.value)) {
        const next = positions[1];
        if (next) masked.set(next.index, mask.hide(next.value));
      }
    }
    return {
      masked: out.map((a, i) => masked.get(i) ?? (i === 0 ? a : maskUrls(a, mask))),
      hidden,
    };
  } catch {
    return { masked: out.map((a) => mask.hide(a)), hidden };
  }
}

/**
 * The command with every secret replaced by `***`: values of --token/--password/--kube-token and
 * other secret flags, helm --set-kind values of secret-looking keys (in a --set-json value, those
 * keys' values), secret-named KEY=VALUE values (up to the next blank or quote), passwords in URLs,
 * and the body of a patch of a Secret. Same length as argv.
 */
export function redactArgv(argv: readonly string[]): string[] {
  return redaction(argv).masked;
}

/** Masked strings shorter than this are not looked for in reasons (they would garble the text). */
const MIN_MASKED_IN_REASON = 4;

/** A reason with everything redactArgv masks in `argv` masked too, as typed or as JSON-quoted. */
function maskReason(reason: string, argv: readonly string[]): string {
  const needles = new Set<string>();
  for (const h of redaction(argv).hidden) {
    needles.add(h);
    needles.add(JSON.stringify(h).slice(1, -1));
  }
  let out = reason;
  for (const h of [...needles].sort((a, b) => b.length - a.length)) {
    if (h.length >= MIN_MASKED_IN_REASON) out = out.split(h).join(REDACTED);
  }
  return out;
}

// ───────────────────────────── display and canonical form ─────────────────────────────

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

function shellQuote(arg: string): string {
  if (arg === "") return "''";
  if (SHELL_SAFE.test(arg.split(REDACTED).join("") || "x")) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Shell-like display of argv, secrets masked. */
export function displayCommand(argv: readonly string[]): string {
  return redactArgv(argv).map(shellQuote).join(" ");
}

/**
 * Flags that change how the tool talks, prints or waits, not what it does to the cluster. Grace
 * period and force are not among them: they change what happens to pods.
 */
const COSMETIC = new Set([
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
const K_MODELLED = new Set([
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
const H_MODELLED = new Set([
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
function maskedView(c: KubectlCommand | HelmCommand, m: Masker): { flags: Flags; args: string[] } {
  const r = resolve(c.argv);
  if ("reason" in r) return { flags: new Flags([]), args: c.args.map((a) => m.hide(a)) };
  const masked = redaction(c.argv, m).masked;
  const toks = tokenize(masked, r.remaining, r.table, false, r.tool === "kubectl").toks;
  return {
    flags: new Flags(toks),
    args: toks.filter((x): x is PosTok => x.kind === "pos").map((x) => x.value),
  };
}

function otherFlags(masked: Flags, modelled: ReadonlySet<string>): string[] {
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
function shown(text: string, m: Masker): string {
  return maskUrls(maskKeyValue(text, m), m);
}

/** `--name=value` (strings masked as shown), `--name` for true, nothing for null or false. */
function option(name: string, value: string | number | boolean | null, m: Masker): string[] {
  if (value === null || value === false) return [];
  if (value === true) return [`--${name}`];
  return [`--${name}=${typeof value === "string" ? shown(value, m) : value}`];
}

/** Selectors are shown as typed (label values are not secrets), URL passwords aside. */
function selectorOption(
  name: string,
  value: string | null,
  canonical: (s: string) => string,
  m: Masker,
): string[] {
  return value === null ? [] : [`--${name}=${maskUrls(canonical(value), m)}`];
}

/** Re-escapes a --set value so that the canonical entry reads back as the same value. */
function setText(e: HelmSetEntry, m: Masker): string {
  if (e.secret) return `${e.key}=${m.hide(e.value)}`;
  if (e.flag === "--set-file") return `${e.key}=${maskUrls(e.value, m)}`;
  if (e.list || e.flag === "--set-json" || e.flag === "--set-literal") return `${e.key}=${shown(e.value, m)}`;
  const escaped = shown(e.value, m).replace(/[\\,]/g, (c) => `\\${c}`);
  return `${e.key}=${escaped.startsWith("{") ? `\\${escaped}` : escaped}`;
}

function normalisedPatchBody(body: string): string {
  try {
    return JSON.stringify(sortKeys(JSON.parse(body)));
  } catch {
    return body.trim();
  }
}

function sortKeys(v: unknown): unknown {
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
function selectorTerms(text: string): string[] {
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

function sortedUnique(items: readonly string[]): string[] {
  return [...new Set(items)].sort();
}

/**
 * A label selector's requirements in one spelling: sorted (they are ANDed), `==` as `=`, spaces
 * dropped, the values of `in`/`notin` sorted. What it cannot read it keeps, spaces collapsed.
 */
function canonicalLabelSelector(selector: string): string {
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
function canonicalFieldSelector(selector: string): string {
  const terms = selectorTerms(selector).map((term) => {
    const m = /^((?:[^\\=!]|\\.)+?)\s*(==|=|!=)\s*(.*)$/s.exec(term);
    return m ? `${(m[1] ?? "").trim()}${m[2] === "!=" ? "!=" : "="}${m[3]}` : term;
  });
  return sortedUnique(terms).join(",");
}

function targetText(t: ResourceTarget, m: Masker): string {
  const type = t.resource ?? shown(t.typed.toLowerCase(), m);
  return t.name === null ? type : `${type}/${shown(t.name, m)}`;
}

function styleOfVerb(tool: "kubectl" | "helm", verb: string): ArgStyle {
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
 * by `***` otherwise (for display only: such a form is no identity). The digest should return a
 * plain token (letters, digits): its output is placed in the command line as is.
 */
export function canonicalCommand(c: ParsedCommand, options: { digest?: SecretDigest } = {}): string {
  const m = new Masker(options.digest ?? null);
  if (isUnknown(c)) return `unknown ${redaction(c.argv, m).masked.map(shellQuote).join(" ")}`.trimEnd();
  if (c.tool === "kubectl") return canonicalKubectl(c, m);
  return canonicalHelm(c, m);
}

function canonicalKubectl(c: KubectlCommand, m: Masker): string {
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
  return [...parts.map(shellQuote), ...flags.sort().map(shellQuote)].join(" ");
}

function canonicalHelm(c: HelmCommand, m: Masker): string {
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
  return [...parts, ...flags, ...ordered].map(shellQuote).join(" ");
}
