/**
 * cobra semantics: the kubectl and helm command trees with their flags, and finding the command
 * word(s) in argv the way cobra does.
 */
import { lookupLong, table, type FlagTable } from "./flags.js";
import { type UnknownCommand } from "./types.js";

export const K_GLOBAL = [
  "as=",
  "as-group=array",
  "as-uid=",
  "cache-dir=",
  "certificate-authority=",
  "client-certificate=",
  "client-key=",
  "cluster=",
  "context=",
  "disable-compression",
  "insecure-skip-tls-verify",
  "kubeconfig=",
  "match-server-version",
  "n|namespace=",
  "password=secret",
  "profile=",
  "profile-output=",
  "request-timeout=",
  "s|server=",
  "tls-server-name=",
  "token=secret",
  "user=",
  "username=",
  "v|v=",
  "vmodule=",
  "warnings-as-errors",
  "log-flush-frequency=duration",
  "h|help",
  // klog flags older kubectl still accepts
  "add-dir-header",
  "alsologtostderr",
  "log-backtrace-at=",
  "log-dir=",
  "log-file=",
  "log-file-max-size=",
  "logtostderr:true",
  "one-output",
  "skip-headers",
  "skip-log-headers",
  "stderrthreshold=",
];
export const K_FILES = ["f|filename=slice", "k|kustomize=", "R|recursive"];
export const K_PRINT = ["o|output=", "template=", "allow-missing-template-keys:true", "show-managed-fields"];
export const K_DRY = ["dry-run?unchanged"];
// prettier-ignore
export const K_DELETE = [
  ...K_FILES, ...K_DRY, "all", "A|all-namespaces", "cascade?background", "field-selector=", "force",
  "grace-period=int:-1", "ignore-not-found", "i|interactive", "now", "o|output=", "raw=", "l|selector=",
  "timeout=duration", "wait:true",
];
// prettier-ignore
export const K_SCALE = [
  ...K_FILES, ...K_PRINT, ...K_DRY, "all", "current-replicas=int:-1", "replicas=int:-1", "resource-version=",
  "l|selector=", "timeout=duration",
];
// prettier-ignore
export const K_PATCH = [
  ...K_FILES, ...K_PRINT, ...K_DRY, "field-manager=", "local", "p|patch=", "patch-file=", "subresource=",
  "type=:strategic",
];
// prettier-ignore
export const K_DRAIN = [
  ...K_DRY, "chunk-size=int", "delete-emptydir-data", "delete-local-data", "disable-eviction", "force",
  "grace-period=int:-1", "ignore-daemonsets", "ignore-errors", "pod-selector=", "l|selector=",
  "skip-wait-for-delete-timeout=int", "timeout=duration",
];
/** Commands lifeline does not plan in detail: a broad table, unknown flags taken as booleans. */
// prettier-ignore
export const K_GENERIC = [
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
export const K_GET = [...K_GENERIC, "watch-only", "output-watch-events", "server-print:true"];
// prettier-ignore
export const K_LOGS = [
  ...K_GENERIC, "f|follow", "p|previous", "timestamps", "all-containers", "all-pods", "prefix",
  "max-log-requests=", "limit-bytes=", "ignore-errors", "insecure-skip-tls-verify-backend",
];

// prettier-ignore
export const H_GLOBAL = [
  "burst-limit=int", "debug", "kube-apiserver=", "kube-as-group=array", "kube-as-user=", "kube-ca-file=",
  "kube-context=", "kube-insecure-skip-tls-verify", "kube-tls-server-name=", "kube-token=secret",
  "kubeconfig=", "n|namespace=", "qps=float", "registry-config=", "repository-cache=", "repository-config=",
  "content-cache=", "h|help",
];
// prettier-ignore
export const H_CHART = [
  "ca-file=", "cert-file=", "key-file=", "keyring=", "insecure-skip-tls-verify", "pass-credentials",
  "password=secret", "plain-http", "repo=", "username=", "verify", "version=", "devel",
];
// prettier-ignore
export const H_VALUES = [
  "f|values=slice", "set=array", "set-string=array", "set-file=array", "set-json=array", "set-literal=array",
];
// prettier-ignore
export const H_INSTALL_COMMON = [
  ...H_CHART, ...H_VALUES, "atomic", "create-namespace", "dependency-update", "description=",
  "disable-openapi-validation", "dry-run?client", "enable-dns", "force", "force-conflicts", "force-replace",
  "l|labels=map", "no-hooks", "o|output=", "post-renderer=", "post-renderer-args=array",
  "render-subchart-notes", "rollback-on-failure", "server-side?true", "skip-crds", "skip-schema-validation",
  "take-ownership", "timeout=duration", "wait?true", "wait-for-jobs", "hide-notes", "hide-secret",
];
// prettier-ignore
export const H_UPGRADE = [
  ...H_INSTALL_COMMON, "cleanup-on-fail", "history-max=int", "i|install", "reset-then-reuse-values",
  "reset-values", "reuse-values",
];
export const H_INSTALL = [...H_INSTALL_COMMON, "g|generate-name", "name-template=", "replace"];
// prettier-ignore
export const H_ROLLBACK = [
  "cleanup-on-fail", "dry-run", "force", "force-conflicts", "force-replace", "history-max=int", "no-hooks",
  "recreate-pods", "server-side?true", "timeout=duration", "wait?true", "wait-for-jobs",
];
// prettier-ignore
export const H_UNINSTALL = [
  "cascade=:background", "deletion-propagation=", "description=", "dry-run", "ignore-not-found",
  "keep-history", "no-hooks", "timeout=duration", "wait?true",
];
// prettier-ignore
export const H_GENERIC = [
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
export type ArgStyle = "builder" | "resources" | "pairs" | "nodes" | "pod" | "named" | "none";

export interface CommandDef {
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

export const T_K_GLOBAL = table(K_GLOBAL);
export const T_K_GENERIC = table(K_GLOBAL, K_GENERIC);
export const T_H_GLOBAL = table(H_GLOBAL);
export const T_H_GENERIC = table(H_GLOBAL, H_GENERIC);

export function group(
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

export function named(spec: string, kind: string, children?: readonly CommandDef[]): CommandDef {
  const [name = "", ...aliases] = spec.split("|");
  return children
    ? { name, aliases, kind, style: "named", children }
    : { name, aliases, kind, style: "named" };
}

export const KUBECTL_COMMANDS: readonly CommandDef[] = [
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

export const HELM_COMMANDS: readonly CommandDef[] = [
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

// ───────────────────────────── finding the command (cobra) ─────────────────────────────

export interface Resolved {
  tool: "kubectl" | "helm";
  base: string;
  path: CommandDef[];
  verb: string;
  remaining: number[];
  table: FlagTable;
  strict: boolean;
}

export function toolOf(arg0: string): { tool: "kubectl" | "helm"; base: string } | null {
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
export function findWord(
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

export function childNamed(
  children: readonly CommandDef[] | undefined,
  word: string,
): CommandDef | undefined {
  return children?.find((c) => c.name === word || (c.aliases ?? []).includes(word));
}

export function resolve(argv: readonly string[]): Resolved | UnknownCommand {
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

export function unknown(
  tool: UnknownCommand["tool"],
  verb: string | null,
  argv: readonly string[],
  reason: string,
): UnknownCommand {
  return { tool, verb, argv: [...argv], reason };
}
