/**
 * The parsed command: what kubectl and helm command lines mean once read (no secrets masked here).
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

export function isUnknown(c: ParsedCommand): c is UnknownCommand {
  return "reason" in c;
}
