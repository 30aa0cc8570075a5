/**
 * Resource types (names, short names, categories) and kubectl's resource builder: how
 * `TYPE NAME`, `TYPE/NAME` and `TYPE1,TYPE2` arguments become targets.
 */
import { type ResourceKind, type ResourceTarget } from "./types.js";

// ───────────────────────────── resource types ─────────────────────────────

export interface KindInfo {
  readonly kind: ResourceKind;
  readonly names: readonly string[];
  readonly group: string;
  readonly namespaced: boolean;
}

export const KINDS: readonly KindInfo[] = [
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

export const KIND_BY_NAME = new Map<string, KindInfo>(
  KINDS.flatMap((k) => k.names.map((n) => [n, k] as const)),
);
export const VERSION_SEGMENT = /^v\d+(?:(?:alpha|beta)\d+)?$/;

/** What the server's `all` category expands to (kubectl asks discovery; these are the built-in members). */
export const CATEGORY_ALL = [
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

export function target(typed: string, name: string | null, category?: string): ResourceTarget {
  const t: ResourceTarget = { resource: resolveResourceType(typed), typed, name };
  if (category !== undefined) t.category = category;
  return t;
}

export function isNamespacedKnown(typed: string): boolean {
  const kind = resolveResourceType(typed);
  return kind !== null && (KINDS.find((k) => k.kind === kind)?.namespaced ?? false);
}

// ───────────────────────────── kubectl resource arguments (resource builder) ─────────────────────────────

/** builder.SplitResourceArgument: comma list, duplicates dropped, order kept. */
export function splitResourceArgument(arg: string): string[] {
  return [...new Set(arg.split(","))];
}

export interface ResourceArgs {
  /** bulk types (TYPE or TYPE1,TYPE2 without names) */
  types: { typed: string; category?: string }[];
  names: string[];
  tuples: { typed: string; name: string }[];
}

/** builder.ResourceTypeOrNameArgs, including normalizeMultipleResourcesArgs and the `all` category. */
export function resourceTypeOrNameArgs(
  input: readonly string[],
  baseCmd: string,
): ResourceArgs | { error: string } {
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

export function targetsOf(r: ResourceArgs): ResourceTarget[] {
  if (r.tuples.length > 0) return r.tuples.map((t) => target(t.typed, t.name));
  if (r.names.length === 0) return r.types.map((t) => target(t.typed, null, t.category));
  return r.types.flatMap((t) => r.names.map((n) => target(t.typed, n, t.category)));
}

export interface BuilderInput {
  args: ResourceArgs;
  paths: number;
  selector: boolean;
  selectAll: boolean;
  allNamespaces: boolean;
}

/** builder.visitorResult's checks, in its order, for commands that must find something to act on. */
export function builderError(b: BuilderInput): string | null {
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
export function resourcesAndPairs(
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
