/**
 * A simulated Kubernetes API server, in process, over real HTTP (node:http only).
 *
 * It serves the paths of the real API server (`/api/v1/...`, `/apis/{group}/{version}/...`) for the
 * resources lifeline reads and changes, with real Kubernetes semantics simplified to be immediate:
 * deleting a claim releases or deletes its volume by reclaim policy, owners take their dependents
 * with them (garbage collection by ownerReferences), StatefulSets keep their claims unless their
 * retention policy says otherwise, and controllers recreate the pods they own.
 *
 * It is used by the tests and by `lifeline demo` (where it is labelled "simulated cluster"). It is
 * not a conformance-tested API server: no watch, no admission beyond a default StorageClass, no
 * graceful deletion (pods and claims disappear at once instead of staying Terminating behind the
 * `kubernetes.io/pvc-protection` finalizer), strategic merge patch is applied as JSON merge patch.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { simulatedFixtures } from "./fixtures.js";
import { SIMULATED_TOKEN, simulatedKubeconfig, writeSimulatedKubeconfig } from "./kubeconfig.js";

export { SIMULATED_TOKEN };

// ---------------------------------------------------------------------------------------------
// Object model

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  generateName?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  [key: string]: unknown;
}

/** A Kubernetes object as the API returns it (JSON). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface ResourceType {
  /** API group, "" for core. */
  group: string;
  version: string;
  /** Resource name in paths. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Served by a CustomResourceDefinition (list items keep apiVersion/kind, deletion returns Status). */
  custom?: boolean;
  /** `scale` subresource (autoscaling/v1 Scale). */
  scalable?: boolean;
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  {
    group: "",
    version: "v1",
    plural: "namespaces",
    singular: "namespace",
    kind: "Namespace",
    namespaced: false,
    shortNames: ["ns"],
  },
  {
    group: "",
    version: "v1",
    plural: "nodes",
    singular: "node",
    kind: "Node",
    namespaced: false,
    shortNames: ["no"],
  },
  {
    group: "",
    version: "v1",
    plural: "persistentvolumes",
    singular: "persistentvolume",
    kind: "PersistentVolume",
    namespaced: false,
    shortNames: ["pv"],
  },
  {
    group: "",
    version: "v1",
    plural: "persistentvolumeclaims",
    singular: "persistentvolumeclaim",
    kind: "PersistentVolumeClaim",
    namespaced: true,
    shortNames: ["pvc"],
  },
  {
    group: "",
    version: "v1",
    plural: "pods",
    singular: "pod",
    kind: "Pod",
    namespaced: true,
    shortNames: ["po"],
  },
  {
    group: "",
    version: "v1",
    plural: "services",
    singular: "service",
    kind: "Service",
    namespaced: true,
    shortNames: ["svc"],
  },
  { group: "", version: "v1", plural: "secrets", singular: "secret", kind: "Secret", namespaced: true },
  {
    group: "",
    version: "v1",
    plural: "configmaps",
    singular: "configmap",
    kind: "ConfigMap",
    namespaced: true,
    shortNames: ["cm"],
  },
  {
    group: "",
    version: "v1",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    kind: "ServiceAccount",
    namespaced: true,
    shortNames: ["sa"],
  },
  {
    group: "apps",
    version: "v1",
    plural: "statefulsets",
    singular: "statefulset",
    kind: "StatefulSet",
    namespaced: true,
    shortNames: ["sts"],
    scalable: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "deployments",
    singular: "deployment",
    kind: "Deployment",
    namespaced: true,
    shortNames: ["deploy"],
    scalable: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "replicasets",
    singular: "replicaset",
    kind: "ReplicaSet",
    namespaced: true,
    shortNames: ["rs"],
    scalable: true,
  },
  {
    group: "apps",
    version: "v1",
    plural: "daemonsets",
    singular: "daemonset",
    kind: "DaemonSet",
    namespaced: true,
    shortNames: ["ds"],
  },
  { group: "batch", version: "v1", plural: "jobs", singular: "job", kind: "Job", namespaced: true },
  {
    group: "batch",
    version: "v1",
    plural: "cronjobs",
    singular: "cronjob",
    kind: "CronJob",
    namespaced: true,
    shortNames: ["cj"],
  },
  {
    group: "storage.k8s.io",
    version: "v1",
    plural: "storageclasses",
    singular: "storageclass",
    kind: "StorageClass",
    namespaced: false,
    shortNames: ["sc"],
  },
  {
    group: "snapshot.storage.k8s.io",
    version: "v1",
    plural: "volumesnapshots",
    singular: "volumesnapshot",
    kind: "VolumeSnapshot",
    namespaced: true,
    shortNames: ["vs"],
    custom: true,
  },
  {
    group: "snapshot.storage.k8s.io",
    version: "v1",
    plural: "volumesnapshotclasses",
    singular: "volumesnapshotclass",
    kind: "VolumeSnapshotClass",
    namespaced: false,
    shortNames: ["vsclass", "vsclasses"],
    custom: true,
  },
  {
    group: "snapshot.storage.k8s.io",
    version: "v1",
    plural: "volumesnapshotcontents",
    singular: "volumesnapshotcontent",
    kind: "VolumeSnapshotContent",
    namespaced: false,
    shortNames: ["vsc", "vscs"],
    custom: true,
  },
];

export function groupVersion(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** The resource type for a kind, plural, singular or short name ("PersistentVolumeClaim", "pvc", ...). */
export function resourceTypeFor(name: string): ResourceType | undefined {
  const lower = name.toLowerCase();
  return RESOURCE_TYPES.find(
    (t) =>
      t.kind.toLowerCase() === lower ||
      t.plural === lower ||
      t.singular === lower ||
      (t.shortNames ?? []).includes(lower),
  );
}

function typeOfObject(obj: K8sObject): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.kind === obj.kind && groupVersion(t) === obj.apiVersion);
}

// ---------------------------------------------------------------------------------------------
// Errors as the API server returns them

export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  toStatus(): Record<string, unknown> {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

function notFound(type: ResourceType, name: string): ApiStatusError {
  return new ApiStatusError(404, "NotFound", `${resourceLabel(type)} "${name}" not found`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.plural,
  });
}

function resourceLabel(type: ResourceType): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

function badRequest(message: string): ApiStatusError {
  return new ApiStatusError(400, "BadRequest", message);
}

function invalid(type: ResourceType, name: string, message: string): ApiStatusError {
  return new ApiStatusError(422, "Invalid", `${type.kind} "${name}" is invalid: ${message}`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.kind,
  });
}

// ---------------------------------------------------------------------------------------------
// Label and field selectors

export type LabelOperator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

const KEY = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const NOT_EXISTS = new RegExp(`^!\\s*(${KEY})$`);
const EXISTS = new RegExp(`^(${KEY})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\((.*)\\)$`);
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const COMPARE = new RegExp(`^(${KEY})\\s*(>|<)\\s*(-?\\d+)$`);
const VALUE_ONLY = new RegExp(`^${VALUE}$`);

/** Split at commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/**
 * Parses a label selector in the syntax of `kubectl -l` / `labelSelector=`: `a=b`, `a==b`, `a!=b`,
 * `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-joined (all must hold).
 * Throws an Error with the offending requirement.
 */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === "") return [];
  return splitTopLevel(selector).map((raw) => {
    const part = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = NOT_EXISTS.exec(part))) return { key: m[1]!, operator: "!", values: [] };
    if ((m = EXISTS.exec(part))) return { key: m[1]!, operator: "exists", values: [] };
    if ((m = SET.exec(part))) {
      const values = m[3]!.split(",").map((v) => v.trim());
      if (
        values.length === 0 ||
        values.some((v) => !VALUE_ONLY.test(v)) ||
        (values.length === 1 && values[0] === "")
      ) {
        throw new Error(
          `unable to parse requirement: values for "${m[1]}" ${m[2]} must be non-empty valid label values: ${part}`,
        );
      }
      return { key: m[1]!, operator: m[2] as "in" | "notin", values };
    }
    if ((m = EQUALITY.exec(part)))
      return { key: m[1]!, operator: m[2] === "!=" ? "!=" : "=", values: [m[3]!] };
    if ((m = COMPARE.exec(part)))
      return { key: m[1]!, operator: m[2] === ">" ? "gt" : "lt", values: [m[3]!] };
    throw new Error(
      `unable to parse requirement: invalid label selector requirement ${JSON.stringify(part)}`,
    );
  });
}

export function matchesLabelRequirements(
  labels: Record<string, string> | undefined,
  requirements: readonly LabelRequirement[],
): boolean {
  const l = labels ?? {};
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const value = l[r.key];
    switch (r.operator) {
      case "=":
        return has && value === r.values[0];
      case "!=":
        return !has || value !== r.values[0];
      case "in":
        return has && r.values.includes(value!);
      case "notin":
        return !has || !r.values.includes(value!);
      case "exists":
        return has;
      case "!":
        return !has;
      case "gt":
      case "lt": {
        if (!has || !/^-?\d+$/.test(value!)) return false;
        const n = Number(value);
        const bound = Number(r.values[0]);
        return r.operator === "gt" ? n > bound : n < bound;
      }
    }
  });
}

/** True when the labels satisfy the selector string. */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string): boolean {
  return matchesLabelRequirements(labels, parseLabelSelector(selector));
}

/** A `matchLabels` map as a selector string, as `status.selector` of a Scale shows it. */
function selectorString(matchLabels: Record<string, string> | undefined): string {
  return Object.entries(matchLabels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

const FIELD_SELECTORS: Record<string, string[]> = {
  Pod: [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  Secret: ["type"],
  Namespace: ["status.phase"],
  Node: ["spec.unschedulable"],
  Job: ["status.successful"],
  ReplicaSet: ["status.replicas"],
};

function fieldValue(obj: K8sObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    cur = isObj(cur) ? cur[part] : undefined;
  }
  if (cur === undefined || cur === null)
    return path === "spec.unschedulable" || path === "spec.hostNetwork" ? "false" : "";
  return String(cur);
}

function fieldFilter(type: ResourceType, selector: string): (obj: K8sObject) => boolean {
  if (selector.trim() === "") return () => true;
  const allowed = new Set(["metadata.name", "metadata.namespace", ...(FIELD_SELECTORS[type.kind] ?? [])]);
  const reqs = selector.split(",").map((raw) => {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    if (!allowed.has(m[1]!) && !type.custom) throw badRequest(`field label not supported: ${m[1]}`);
    return { field: m[1]!, negate: m[2] === "!=", value: m[3]! };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}

// ---------------------------------------------------------------------------------------------
// Patches

type Json = Record<string, unknown>;

function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Json = isObj(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

/** Drops strategic-merge directives that have no meaning for a JSON merge patch. */
function stripStrategicDirectives(patch: unknown): unknown {
  if (Array.isArray(patch)) return patch.map(stripStrategicDirectives);
  if (!isObj(patch)) return patch;
  const out: Json = {};
  for (const [key, value] of Object.entries(patch)) {
    if (
      key.startsWith("$setElementOrder/") ||
      key.startsWith("$deleteFromPrimitiveList/") ||
      key === "$retainKeys"
    )
      continue;
    out[key] = stripStrategicDirectives(value);
  }
  return out;
}

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== "string") throw new Error("path must be a string");
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function getAt(doc: unknown, tokens: string[]): unknown {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(t) || Number(t) >= cur.length) throw new Error(`no element at index ${t}`);
      cur = cur[Number(t)];
    } else if (isObj(cur)) {
      if (!(t in cur)) throw new Error(`missing key ${JSON.stringify(t)}`);
      cur = cur[t];
    } else throw new Error(`cannot descend into a scalar at ${JSON.stringify(t)}`);
  }
  return cur;
}

/** Applies one change at a pointer in place. `doc` is the root container (wrapped). */
function mutateAt(
  root: { value: unknown },
  tokens: string[],
  op: "add" | "replace" | "remove",
  value?: unknown,
): unknown {
  if (tokens.length === 0) {
    const old = root.value;
    if (op === "remove") root.value = undefined;
    else root.value = clone(value);
    return old;
  }
  const parent = getAt(root.value, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    if (op === "add") {
      const index = last === "-" ? parent.length : /^\d+$/.test(last) ? Number(last) : NaN;
      if (!(index >= 0 && index <= parent.length)) throw new Error(`invalid array index ${last}`);
      parent.splice(index, 0, clone(value));
      return undefined;
    }
    if (!/^\d+$/.test(last) || Number(last) >= parent.length) throw new Error(`no element at index ${last}`);
    const index = Number(last);
    const old = parent[index];
    if (op === "remove") parent.splice(index, 1);
    else parent[index] = clone(value);
    return old;
  }
  if (isObj(parent)) {
    const exists = Object.prototype.hasOwnProperty.call(parent, last);
    if (op !== "add" && !exists) throw new Error(`missing key ${JSON.stringify(last)}`);
    const old = parent[last];
    if (op === "remove") delete parent[last];
    else parent[last] = clone(value);
    return old;
  }
  throw new Error(`cannot change a scalar at ${JSON.stringify(last)}`);
}

/** RFC 6902 JSON patch: add, remove, replace, move, copy, test. */
export function applyJsonPatch(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) {
    throw new Error("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  }
  const root = { value: clone(doc) };
  for (const op of operations) {
    if (!isObj(op)) throw new Error("each operation must be an object");
    const path = parsePointer(op.path);
    switch (op.op) {
      case "add":
      case "replace":
        if (!("value" in op)) throw new Error(`${op.op} operation needs a value`);
        mutateAt(root, path, op.op, op.value);
        break;
      case "remove":
        mutateAt(root, path, "remove");
        break;
      case "move": {
        const from = parsePointer(op.from);
        const value = clone(getAt(root.value, from));
        mutateAt(root, from, "remove");
        mutateAt(root, path, "add", value);
        break;
      }
      case "copy":
        mutateAt(root, path, "add", clone(getAt(root.value, parsePointer(op.from))));
        break;
      case "test":
        if (canonicalJson(getAt(root.value, path)) !== canonicalJson(op.value)) {
          throw new Error(`testing value ${String(op.path)} failed`);
        }
        break;
      default:
        throw new Error(`unexpected kind of operation ${JSON.stringify(op.op)}`);
    }
  }
  return root.value;
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

// ---------------------------------------------------------------------------------------------
// Requests

export type Verb = "get" | "list" | "watch" | "create" | "update" | "patch" | "delete" | "deletecollection";

/** What a request asks for, as the API server's request-info resolver sees it. */
export interface RequestInfo {
  method: string;
  /** URL path without the query. */
  path: string;
  query: URLSearchParams;
  /** Present for resource requests, absent for discovery (/api, /apis, /version). */
  verb?: Verb;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  verb?: Verb;
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  contentType?: string;
  status: number;
}

/**
 * Which requests a fault applies to: a path prefix ("/api/v1/persistentvolumes"), a resource
 * name, kind or short name ("secrets", "PersistentVolume", "pvc"), or a predicate.
 */
export type RequestRule = string | ((request: RequestInfo) => boolean);

interface Fault {
  rule: RequestRule;
  code: number;
  reason: string;
  message?: string;
}

function ruleMatches(rule: RequestRule, info: RequestInfo): boolean {
  if (typeof rule === "function") return rule(info);
  if (rule.startsWith("/")) return info.path.startsWith(rule);
  const type = resourceTypeFor(rule);
  return type !== undefined && info.resource === type.plural && info.group === type.group;
}

export type Propagation = "Background" | "Foreground" | "Orphan";

export interface SimulatedApiServerOptions {
  /** Objects the cluster starts with (deep-copied; `reset()` returns to them). */
  fixtures?: readonly K8sObject[];
  /** Bearer token requests must carry; `null` accepts any request. Default {@link SIMULATED_TOKEN}. */
  token?: string | null;
  /** The user name shown in Forbidden messages. */
  user?: string;
  /** Clock for timestamps of objects created or deleted at run time. */
  now?: () => Date;
}

export const SIMULATED_USER = "simulated-admin";
/** Version reported by /version; the suffix says the cluster is simulated. */
export const SIMULATED_VERSION = {
  major: "1",
  minor: "30",
  gitVersion: "v1.30.2-lifeline-simulated",
} as const;

const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function timestamp(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function hashText(text: string, length: number): string {
  const digest = createHash("sha256").update(text).digest();
  let out = "";
  for (let i = 0; out.length < length; i++)
    out += SUFFIX_ALPHABET[digest[i % digest.length]! % SUFFIX_ALPHABET.length];
  return out;
}

function deterministicUid(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function ownerRef(owner: K8sObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

function spec(obj: K8sObject): Json {
  if (!isObj(obj.spec)) obj.spec = {};
  return obj.spec as Json;
}

function status(obj: K8sObject): Json {
  if (!isObj(obj.status)) obj.status = {};
  return obj.status as Json;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function podClaimNames(pod: K8sObject): string[] {
  const volumes = spec(pod).volumes;
  if (!Array.isArray(volumes)) return [];
  return volumes.flatMap((v) => {
    const claim =
      isObj(v) && isObj(v.persistentVolumeClaim) ? str(v.persistentVolumeClaim.claimName) : undefined;
    return claim ? [claim] : [];
  });
}

/** Kinds whose DELETE returns the deleted object (the others return a Status). */
const RETURNS_DELETED_OBJECT = new Set([
  "Pod",
  "PersistentVolumeClaim",
  "PersistentVolume",
  "Service",
  "Namespace",
  "Node",
]);
/** Kinds with a `metadata.generation` that follows spec changes. */
const HAS_GENERATION = new Set([
  "StatefulSet",
  "Deployment",
  "ReplicaSet",
  "DaemonSet",
  "Job",
  "CronJob",
  "Pod",
  "VolumeSnapshot",
]);
/** Kinds without a status subresource (a patch of the main resource may change everything). */
const NO_STATUS_SUBRESOURCE = new Set([
  "Secret",
  "ConfigMap",
  "ServiceAccount",
  "StorageClass",
  "VolumeSnapshotClass",
]);

// ---------------------------------------------------------------------------------------------
// The server

export class SimulatedApiServer {
  private readonly store = new Map<string, K8sObject>();
  private fixtures: K8sObject[];
  private rv = 1;
  private counter = 0;
  private faults: Fault[] = [];
  private server: http.Server | undefined;
  private address: string | undefined;
  private readonly token: string | null;
  private readonly user: string;
  private readonly now: () => Date;
  /** Every request served, in order (also those answered with an error). */
  readonly requests: RecordedRequest[] = [];

  constructor(options: SimulatedApiServerOptions = {}) {
    this.fixtures = clone([...(options.fixtures ?? [])]);
    this.token = options.token === undefined ? SIMULATED_TOKEN : options.token;
    this.user = options.user ?? SIMULATED_USER;
    this.now = options.now ?? (() => new Date());
    this.reset();
  }

  // ---- lifecycle

  /** Starts listening; resolves to the base URL (http://127.0.0.1:<port>). */
  async listen(port = 0, host = "127.0.0.1"): Promise<string> {
    if (this.server) return this.url;
    const server = http.createServer((req, res) => {
      void this.serve(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    this.server = server;
    this.address = `${host}:${addr.port}`;
    return this.url;
  }

  get url(): string {
    if (!this.address) throw new Error("the simulated API server is not listening");
    return `http://${this.address}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Stops listening and drops open connections; clients then see connection refused. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Back to the fixtures (or to new ones): objects, faults and the request log. */
  reset(fixtures?: readonly K8sObject[]): void {
    if (fixtures) this.fixtures = clone([...fixtures]);
    this.store.clear();
    this.faults = [];
    this.requests.length = 0;
    this.counter = 0;
    this.rv = 1;
    for (const obj of this.fixtures) {
      const n = Number(obj.metadata.resourceVersion);
      if (Number.isFinite(n) && n >= this.rv) this.rv = n + 1;
    }
    for (const obj of this.fixtures) this.put(obj);
  }

  // ---- state access for tests and the demo

  /** Deep copies of the current objects, optionally of one kind (kind, plural or short name) and namespace. */
  objects(kind?: string, namespace?: string): K8sObject[] {
    const type = kind === undefined ? undefined : this.requireType(kind);
    return [...this.store.values()]
      .filter((o) => (type ? o.kind === type.kind && o.apiVersion === groupVersion(type) : true))
      .filter((o) => (namespace === undefined ? true : o.metadata.namespace === namespace))
      .sort(compareObjects)
      .map(clone);
  }

  /** A deep copy of one object, or undefined. */
  get(kind: string, name: string, namespace?: string): K8sObject | undefined {
    const type = this.requireType(kind);
    const obj = this.store.get(storeKey(type, type.namespaced ? namespace : undefined, name));
    return obj ? clone(obj) : undefined;
  }

  has(kind: string, name: string, namespace?: string): boolean {
    return this.get(kind, name, namespace) !== undefined;
  }

  /**
   * Inserts or replaces an object directly (no controllers run). Missing uid, resourceVersion and
   * creationTimestamp are filled in.
   */
  put(object: K8sObject): K8sObject {
    const type = typeOfObject(object);
    if (!type) throw new Error(`the simulated API server does not serve ${object.apiVersion} ${object.kind}`);
    const obj = clone(object);
    const ns = type.namespaced ? obj.metadata.namespace : undefined;
    if (type.namespaced && !ns) throw new Error(`${object.kind} ${obj.metadata.name} needs a namespace`);
    if (!type.namespaced) delete obj.metadata.namespace;
    obj.metadata.uid ??= deterministicUid(
      `${object.kind}/${ns ?? ""}/${obj.metadata.name}/${this.counter++}`,
    );
    obj.metadata.creationTimestamp ??= timestamp(this.now());
    if (obj.metadata.resourceVersion === undefined) this.touch(obj);
    this.store.set(storeKey(type, ns, obj.metadata.name), obj);
    return clone(obj);
  }

  /** Removes an object directly, with the same consequences as a DELETE. */
  remove(kind: string, name: string, namespace?: string, propagation: Propagation = "Background"): boolean {
    const type = this.requireType(kind);
    const obj = this.store.get(storeKey(type, type.namespaced ? namespace : undefined, name));
    if (!obj) return false;
    this.deleteWithEffects(obj, propagation, timestamp(this.now()));
    this.reconcile();
    return true;
  }

  /** The current value of the global resourceVersion counter. */
  get resourceVersion(): string {
    return String(this.rv - 1);
  }

  // ---- fault injection

  /** Matching requests get 403 Forbidden as RBAC would answer. Returns a function that lifts it. */
  forbid(rule: RequestRule): () => void {
    return this.fail(rule, 403, "Forbidden");
  }

  /** Matching requests fail with this code and reason (e.g. 500 InternalError, 503 ServiceUnavailable). */
  fail(rule: RequestRule, code: number, reason: string, message?: string): () => void {
    const fault: Fault = { rule, code, reason, ...(message !== undefined ? { message } : {}) };
    this.faults.push(fault);
    return () => {
      this.faults = this.faults.filter((f) => f !== fault);
    };
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** How many requests were served (matching the predicate, if given). */
  requestCount(filter?: (r: RecordedRequest) => boolean): number {
    return filter ? this.requests.filter(filter).length : this.requests.length;
  }

  // ---- HTTP

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://simulated");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    const info = resolveRequest(req.method ?? "GET", url);
    let code = 200;
    let body: unknown;
    try {
      this.authenticate(req);
      this.applyFaults(info);
      body = this.route(info, rawBody, contentType);
      if (isObj(body) && typeof body.__code === "number") {
        code = body.__code;
        delete body.__code;
      }
    } catch (error) {
      const e =
        error instanceof ApiStatusError
          ? error
          : new ApiStatusError(500, "InternalError", `Internal error occurred: ${(error as Error).message}`);
      code = e.code;
      body = e.toStatus();
    }
    this.requests.push({
      method: info.method,
      path: info.path,
      query: url.search,
      ...(info.verb ? { verb: info.verb } : {}),
      ...(info.resource ? { resource: info.resource } : {}),
      ...(info.namespace ? { namespace: info.namespace } : {}),
      ...(info.name ? { name: info.name } : {}),
      ...(info.subresource ? { subresource: info.subresource } : {}),
      ...(contentType ? { contentType } : {}),
      status: code,
    });
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(code, {
      "Content-Type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
      "Content-Length": Buffer.byteLength(text),
      "Cache-Control": "no-cache, private",
    });
    res.end(text);
  }

  private authenticate(req: http.IncomingMessage): void {
    if (this.token === null) return;
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      throw new ApiStatusError(401, "Unauthorized", "Unauthorized");
    }
  }

  private applyFaults(info: RequestInfo): void {
    const fault = this.faults.find((f) => ruleMatches(f.rule, info));
    if (!fault) return;
    if (fault.code === 403) {
      const resource = info.resource ?? "";
      const full = info.subresource ? `${resource}/${info.subresource}` : resource;
      const message =
        fault.message ??
        (info.resource
          ? `${resource}${info.name ? ` "${info.name}"` : ""} is forbidden: User "${this.user}" cannot ${info.verb} resource "${full}" in API group "${info.group ?? ""}" ${info.namespace ? `in the namespace "${info.namespace}"` : "at the cluster scope"}`
          : `forbidden: User "${this.user}" cannot ${info.method.toLowerCase()} path "${info.path}"`);
      throw new ApiStatusError(403, "Forbidden", message, {
        ...(info.name ? { name: info.name } : {}),
        ...(info.group ? { group: info.group } : {}),
        ...(info.resource ? { kind: info.resource } : {}),
      });
    }
    throw new ApiStatusError(
      fault.code,
      fault.reason,
      fault.message ?? `simulated failure (${fault.reason})`,
    );
  }

  private route(info: RequestInfo, rawBody: string, contentType: string): unknown {
    const segments = info.path.split("/").filter(Boolean);
    if (info.method === "GET" && !info.verb) {
      const discovery = this.discovery(segments);
      if (discovery !== undefined) return discovery;
    }
    if (!info.resource) throw pageNotFound();
    if (!info.verb) throw methodNotAllowed(info);
    const type = RESOURCE_TYPES.find(
      (t) => t.plural === info.resource && t.group === info.group && t.version === info.version,
    );
    if (!type) throw pageNotFound();
    if (type.namespaced !== (info.namespace !== undefined) && info.name !== undefined) throw pageNotFound();
    if (!type.namespaced && info.namespace !== undefined) throw pageNotFound();
    if (type.namespaced && info.namespace === undefined && info.verb !== "list" && info.verb !== "watch") {
      throw methodNotAllowed(info);
    }
    if (info.verb === "watch") throw badRequest("watch is not supported by the simulated API server");

    const body = (): unknown => {
      if (rawBody.trim() === "") return undefined;
      try {
        return JSON.parse(rawBody);
      } catch {
        throw badRequest(
          `the body of the request was not valid JSON (content type ${contentType || "none"})`,
        );
      }
    };

    if (info.subresource) return this.subresource(type, info, body, contentType);
    switch (info.verb) {
      case "list":
        return this.list(type, info.namespace, info.query);
      case "get":
        return clone(this.require(type, info.namespace, info.name!));
      case "create":
        return this.create(type, info.namespace, body(), info.query);
      case "update":
        return this.update(type, info.namespace, info.name!, body(), info.query);
      case "patch":
        return this.patch(type, info.namespace, info.name!, rawBody, contentType, info.query);
      case "delete":
        return this.delete(type, info.namespace, info.name!, body(), info.query);
      case "deletecollection":
        return this.deleteCollection(type, info.namespace, body(), info.query);
    }
  }

  private discovery(segments: string[]): unknown {
    const [first, second, third] = segments;
    if (segments.length === 0) {
      return {
        paths: [
          "/api",
          "/api/v1",
          "/apis",
          ...groups().map((g) => `/apis/${g}`),
          "/healthz",
          "/livez",
          "/readyz",
          "/version",
        ],
      };
    }
    if (segments.length === 1 && (first === "healthz" || first === "livez" || first === "readyz"))
      return "ok";
    if (segments.length === 1 && first === "version") {
      return {
        ...SIMULATED_VERSION,
        gitCommit: "0000000000000000000000000000000000000000",
        gitTreeState: "clean",
        buildDate: "2026-01-15T00:00:00Z",
        goVersion: "go1.22.4",
        compiler: "gc",
        platform: "linux/amd64",
      };
    }
    if (first === "api" && segments.length === 1) {
      return {
        kind: "APIVersions",
        versions: ["v1"],
        serverAddressByClientCIDRs: [
          { clientCIDR: "0.0.0.0/0", serverAddress: this.address ?? "127.0.0.1:0" },
        ],
      };
    }
    if (first === "api" && second === "v1" && segments.length === 2) return resourceList("", "v1");
    if (first === "apis" && segments.length === 1) {
      return { kind: "APIGroupList", apiVersion: "v1", groups: groups().map(apiGroup) };
    }
    if (first === "apis" && segments.length === 2 && groups().includes(second!)) {
      return { kind: "APIGroup", apiVersion: "v1", ...apiGroup(second!) };
    }
    if (
      first === "apis" &&
      segments.length === 3 &&
      RESOURCE_TYPES.some((t) => t.group === second && t.version === third)
    ) {
      return resourceList(second!, third!);
    }
    return undefined;
  }

  // ---- verbs

  private list(type: ResourceType, namespace: string | undefined, query: URLSearchParams): Json {
    let labelRequirements: LabelRequirement[];
    try {
      labelRequirements = parseLabelSelector(query.get("labelSelector") ?? "");
    } catch (e) {
      throw badRequest((e as Error).message);
    }
    const fields = fieldFilter(type, query.get("fieldSelector") ?? "");
    const all = [...this.store.values()]
      .filter((o) => o.kind === type.kind && o.apiVersion === groupVersion(type))
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .filter((o) => matchesLabelRequirements(o.metadata.labels, labelRequirements))
      .filter(fields)
      .sort(compareObjects);
    const offset = decodeContinue(query.get("continue"));
    const limit = Number(query.get("limit") ?? "0");
    const page = limit > 0 ? all.slice(offset, offset + limit) : all.slice(offset);
    const remaining = all.length - offset - page.length;
    const items = page.map((o) => {
      const item = clone(o);
      if (!type.custom) {
        // The real API server leaves kind/apiVersion out of the items of built-in lists.
        const { apiVersion: _apiVersion, kind: _kind, ...rest } = item;
        return rest;
      }
      return item;
    });
    return {
      apiVersion: groupVersion(type),
      kind: `${type.kind}List`,
      metadata: {
        resourceVersion: this.resourceVersion,
        ...(remaining > 0
          ? { continue: encodeContinue(offset + page.length), remainingItemCount: remaining }
          : {}),
      },
      items,
    };
  }

  private require(type: ResourceType, namespace: string | undefined, name: string): K8sObject {
    const obj = this.store.get(storeKey(type, namespace, name));
    if (!obj) throw notFound(type, name);
    return obj;
  }

  private create(
    type: ResourceType,
    namespace: string | undefined,
    body: unknown,
    query: URLSearchParams,
  ): Json {
    if (!isObj(body)) throw badRequest("the body of the request must be a JSON object");
    const obj = clone(body) as K8sObject;
    if (obj.kind !== undefined && obj.kind !== type.kind) {
      throw badRequest(`the kind of the provided object (${String(obj.kind)}) does not match ${type.kind}`);
    }
    obj.apiVersion = groupVersion(type);
    obj.kind = type.kind;
    if (!isObj(obj.metadata)) obj.metadata = { name: "" };
    const meta = obj.metadata;
    if (type.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== namespace) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      meta.namespace = namespace;
      const ns = RESOURCE_TYPES[0]!;
      if (!this.store.has(storeKey(ns, undefined, namespace!))) throw notFound(ns, namespace!);
      if (this.store.get(storeKey(ns, undefined, namespace!))?.metadata.deletionTimestamp) {
        throw new ApiStatusError(
          403,
          "Forbidden",
          `${type.plural} "${meta.name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        );
      }
    }
    if (!meta.name) {
      if (!meta.generateName)
        throw invalid(type, "", "metadata.name: Required value: name or generateName is required");
      meta.name = meta.generateName + hashText(`${meta.generateName}/${this.counter++}`, 5);
    }
    if (this.store.has(storeKey(type, namespace, meta.name))) {
      throw new ApiStatusError(409, "AlreadyExists", `${resourceLabel(type)} "${meta.name}" already exists`, {
        name: meta.name,
        ...(type.group ? { group: type.group } : {}),
        kind: type.plural,
      });
    }
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    meta.uid = deterministicUid(`${type.kind}/${namespace ?? ""}/${meta.name}/${this.counter++}/${this.rv}`);
    meta.creationTimestamp = timestamp(this.now());
    if (HAS_GENERATION.has(type.kind)) meta.generation = 1;
    this.applyDefaults(obj);
    this.touch(obj);
    if (isDryRun(query)) return { ...clone(obj), __code: 201 };
    this.store.set(storeKey(type, namespace, meta.name), obj);
    this.reconcile();
    return { ...clone(this.store.get(storeKey(type, namespace, meta.name)) ?? obj), __code: 201 };
  }

  /** What admission and defaulting would add on create. */
  private applyDefaults(obj: K8sObject): void {
    const s = spec(obj);
    switch (obj.kind) {
      case "Namespace":
        obj.metadata.labels = { ...obj.metadata.labels, "kubernetes.io/metadata.name": obj.metadata.name };
        s.finalizers ??= ["kubernetes"];
        obj.status = { phase: "Active" };
        break;
      case "PersistentVolumeClaim": {
        if (s.storageClassName === undefined && s.volumeName === undefined) {
          const def = this.defaultStorageClass();
          if (def) s.storageClassName = def.metadata.name;
        }
        s.volumeMode ??= "Filesystem";
        obj.metadata.finalizers ??= ["kubernetes.io/pvc-protection"];
        obj.status = { phase: "Pending" };
        break;
      }
      case "PersistentVolume":
        s.persistentVolumeReclaimPolicy ??= "Retain";
        s.volumeMode ??= "Filesystem";
        obj.metadata.finalizers ??= ["kubernetes.io/pv-protection"];
        obj.status = { phase: s.claimRef ? "Bound" : "Available" };
        break;
      case "StatefulSet":
        s.replicas ??= 1;
        s.podManagementPolicy ??= "OrderedReady";
        s.revisionHistoryLimit ??= 10;
        s.updateStrategy ??= { type: "RollingUpdate", rollingUpdate: { partition: 0 } };
        s.persistentVolumeClaimRetentionPolicy = {
          whenDeleted: "Retain",
          whenScaled: "Retain",
          ...(isObj(s.persistentVolumeClaimRetentionPolicy) ? s.persistentVolumeClaimRetentionPolicy : {}),
        };
        obj.status = { replicas: 0, availableReplicas: 0 };
        break;
      case "Deployment":
      case "ReplicaSet":
        s.replicas ??= 1;
        s.revisionHistoryLimit ??= 10;
        obj.status = {};
        break;
      case "Pod":
        s.restartPolicy ??= "Always";
        s.schedulerName ??= "default-scheduler";
        s.serviceAccountName ??= "default";
        obj.status = { phase: "Pending" };
        break;
      case "Service":
        s.type ??= "ClusterIP";
        if (s.clusterIP === undefined) {
          s.clusterIP = `10.96.${100 + (this.counter % 150)}.${10 + (this.rv % 240)}`;
          s.clusterIPs = [s.clusterIP];
        }
        s.sessionAffinity ??= "None";
        s.ipFamilies ??= ["IPv4"];
        s.ipFamilyPolicy ??= "SingleStack";
        s.internalTrafficPolicy ??= "Cluster";
        obj.status = { loadBalancer: {} };
        break;
      case "Secret":
        delete obj.spec;
        obj.type ??= "Opaque";
        break;
      case "ConfigMap":
      case "ServiceAccount":
      case "StorageClass":
      case "VolumeSnapshotClass":
        delete obj.spec;
        if (obj.kind === "StorageClass") {
          obj.reclaimPolicy ??= "Delete";
          obj.volumeBindingMode ??= "Immediate";
        }
        break;
    }
  }

  private update(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    query: URLSearchParams,
  ): Json {
    if (!isObj(body)) throw badRequest("the body of the request must be a JSON object");
    const current = this.require(type, namespace, name);
    const next = clone(body) as K8sObject;
    if (!isObj(next.metadata) || next.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${String(next.metadata?.name)}) does not match the name on the URL (${name})`,
      );
    }
    return this.store_(type, current, next, query, "main");
  }

  private patch(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    rawBody: string,
    contentType: string,
    query: URLSearchParams,
  ): Json {
    const current = this.require(type, namespace, name);
    const next = patchDocument(type, name, clone(current), rawBody, contentType) as K8sObject;
    return this.store_(type, current, next, query, "main");
  }

  /** Validates and stores a new version of an existing object (update or patch). */
  private store_(
    type: ResourceType,
    current: K8sObject,
    proposed: K8sObject,
    query: URLSearchParams,
    part: "main" | "status",
  ): Json {
    if (!isObj(proposed) || !isObj(proposed.metadata))
      throw invalid(type, current.metadata.name, "metadata: Required value");
    const wanted = proposed.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== current.metadata.resourceVersion) {
      throw new ApiStatusError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${resourceLabel(type)} "${current.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name: current.metadata.name, ...(type.group ? { group: type.group } : {}), kind: type.plural },
      );
    }
    let next: K8sObject;
    if (part === "status") {
      next = clone(current);
      if (proposed.status === undefined) delete next.status;
      else next.status = clone(proposed.status);
    } else {
      next = clone(proposed);
      next.apiVersion = current.apiVersion;
      next.kind = current.kind;
      if (!NO_STATUS_SUBRESOURCE.has(type.kind)) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
      for (const field of [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "generation",
      ] as const) {
        if (current.metadata[field] === undefined) delete next.metadata[field];
        else next.metadata[field] = current.metadata[field] as never;
      }
      if (HAS_GENERATION.has(type.kind) && canonicalJson(next.spec) !== canonicalJson(current.spec)) {
        next.metadata.generation = (current.metadata.generation ?? 1) + 1;
      }
      const immutable = immutableChange(current, next);
      if (immutable) throw invalid(type, current.metadata.name, immutable);
    }
    if (canonicalJson(next) === canonicalJson({ ...current })) {
      return clone(current);
    }
    this.touch(next);
    if (isDryRun(query)) return clone(next);
    this.store.set(storeKey(type, current.metadata.namespace, current.metadata.name), next);
    this.reconcile();
    return clone(this.store.get(storeKey(type, current.metadata.namespace, current.metadata.name)) ?? next);
  }

  private subresource(
    type: ResourceType,
    info: RequestInfo,
    body: () => unknown,
    contentType: string,
  ): unknown {
    const name = info.name!;
    const current = this.require(type, info.namespace, name);
    const sub = info.subresource!;
    if (sub === "status" && !NO_STATUS_SUBRESOURCE.has(type.kind)) {
      if (info.verb === "get") return clone(current);
      if (info.verb === "update")
        return this.store_(type, current, body() as K8sObject, info.query, "status");
      if (info.verb === "patch") {
        const raw = body();
        const next = patchDocument(type, name, clone(current), JSON.stringify(raw ?? null), contentType);
        return this.store_(type, current, next as K8sObject, info.query, "status");
      }
      throw methodNotAllowed(info);
    }
    if (sub === "scale" && type.scalable) {
      const scale = scaleOf(current);
      if (info.verb === "get") return scale;
      let next: unknown;
      if (info.verb === "update") next = body();
      else if (info.verb === "patch")
        next = patchDocument(type, name, scale, JSON.stringify(body() ?? null), contentType);
      else throw methodNotAllowed(info);
      const replicas = isObj(next) && isObj(next.spec) ? next.spec.replicas : undefined;
      if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
        throw invalid(
          { ...type, kind: "Scale" },
          name,
          `spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
        );
      }
      const updated = clone(current);
      spec(updated).replicas = replicas;
      const stored = this.store_(type, current, updated, info.query, "main") as K8sObject;
      return scaleOf(stored);
    }
    throw pageNotFound();
  }

  private delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    query: URLSearchParams,
  ): Json {
    const current = this.require(type, namespace, name);
    const options = isObj(body) ? body : {};
    const preconditions = isObj(options.preconditions) ? options.preconditions : {};
    if (
      (preconditions.uid !== undefined && preconditions.uid !== current.metadata.uid) ||
      (preconditions.resourceVersion !== undefined &&
        preconditions.resourceVersion !== current.metadata.resourceVersion)
    ) {
      throw new ApiStatusError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${resourceLabel(type)} "${name}": Precondition failed: UID in precondition: ${String(preconditions.uid ?? "")}, UID in object meta: ${current.metadata.uid}`,
      );
    }
    const propagation = propagationOf(options, query);
    const deletedAt = timestamp(this.now());
    const shown = clone(current);
    shown.metadata.deletionTimestamp = deletedAt;
    shown.metadata.deletionGracePeriodSeconds = 0;
    if (type.kind === "Namespace") status(shown).phase = "Terminating";
    if (!isDryRun(query)) {
      this.deleteWithEffects(current, propagation, deletedAt);
      this.reconcile();
    }
    if (RETURNS_DELETED_OBJECT.has(type.kind)) return shown;
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Success",
      details: {
        name,
        ...(type.group ? { group: type.group } : {}),
        kind: type.plural,
        uid: current.metadata.uid,
      },
    };
  }

  private deleteCollection(
    type: ResourceType,
    namespace: string | undefined,
    body: unknown,
    query: URLSearchParams,
  ): Json {
    const list = this.list(type, namespace, query);
    const items = list.items as K8sObject[];
    const propagation = propagationOf(isObj(body) ? body : {}, query);
    const deletedAt = timestamp(this.now());
    if (!isDryRun(query)) {
      for (const item of items) {
        const obj = this.store.get(storeKey(type, item.metadata.namespace, item.metadata.name));
        if (obj) this.deleteWithEffects(obj, propagation, deletedAt);
      }
      this.reconcile();
    }
    return { ...list, metadata: { resourceVersion: this.resourceVersion } };
  }

  // ---- semantics

  private touch(obj: K8sObject): void {
    obj.metadata.resourceVersion = String(this.rv++);
  }

  private requireType(kind: string): ResourceType {
    const type = resourceTypeFor(kind);
    if (!type) throw new Error(`unknown kind or resource ${JSON.stringify(kind)}`);
    return type;
  }

  private all(kind: string, namespace?: string): K8sObject[] {
    return [...this.store.values()]
      .filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace))
      .sort(compareObjects);
  }

  private find(kind: string, name: string, namespace?: string): K8sObject | undefined {
    const type = this.requireType(kind);
    return this.store.get(storeKey(type, type.namespaced ? namespace : undefined, name));
  }

  private findByUid(uid: string): K8sObject | undefined {
    for (const o of this.store.values()) if (o.metadata.uid === uid) return o;
    return undefined;
  }

  private defaultStorageClass(): K8sObject | undefined {
    return this.all("StorageClass").find(
      (sc) =>
        sc.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true" ||
        sc.metadata.annotations?.["storageclass.beta.kubernetes.io/is-default-class"] === "true",
    );
  }

  /**
   * Removes an object and applies what Kubernetes does after it: volumes follow their claim by
   * reclaim policy, StatefulSet claims follow `whenDeleted`, a namespace takes its contents,
   * dependents are garbage-collected (or orphaned).
   */
  private deleteWithEffects(obj: K8sObject, propagation: Propagation, deletedAt: string): void {
    const type = typeOfObject(obj);
    if (!type) return;
    const key = storeKey(type, obj.metadata.namespace, obj.metadata.name);
    if (this.store.get(key) !== obj) return;
    this.store.delete(key);
    this.touch(obj);

    switch (obj.kind) {
      case "PersistentVolumeClaim":
        this.releaseVolume(obj, deletedAt);
        break;
      case "PersistentVolume": {
        const ref = isObj(spec(obj).claimRef) ? (spec(obj).claimRef as Json) : undefined;
        const claim = ref
          ? this.find("PersistentVolumeClaim", str(ref.name) ?? "", str(ref.namespace))
          : undefined;
        if (claim && (ref?.uid === undefined || ref.uid === claim.metadata.uid)) {
          status(claim).phase = "Lost";
          this.touch(claim);
        }
        break;
      }
      case "StatefulSet": {
        const policy = spec(obj).persistentVolumeClaimRetentionPolicy;
        if (propagation !== "Orphan" && isObj(policy) && policy.whenDeleted === "Delete") {
          for (const claim of this.statefulSetClaims(obj))
            this.deleteWithEffects(claim, "Background", deletedAt);
        }
        break;
      }
      case "Namespace":
        for (const o of [...this.store.values()]) {
          if (o.metadata.namespace === obj.metadata.name) this.deleteWithEffects(o, "Background", deletedAt);
        }
        break;
      case "VolumeSnapshot": {
        const contentName = str(status(obj).boundVolumeSnapshotContentName);
        const content = contentName ? this.find("VolumeSnapshotContent", contentName) : undefined;
        if (content && spec(content).deletionPolicy === "Delete")
          this.deleteWithEffects(content, "Background", deletedAt);
        break;
      }
    }

    const uid = obj.metadata.uid;
    for (const dependent of [...this.store.values()]) {
      const refs = dependent.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid)) continue;
      const othersAlive = refs.some((r) => r.uid !== uid && this.findByUid(r.uid) !== undefined);
      if (propagation === "Orphan" || othersAlive) {
        const rest = refs.filter((r) => r.uid !== uid);
        if (rest.length > 0) dependent.metadata.ownerReferences = rest;
        else delete dependent.metadata.ownerReferences;
        this.touch(dependent);
      } else {
        this.deleteWithEffects(dependent, "Background", deletedAt);
      }
    }
  }

  /** The claim is gone: its volume is deleted (Delete), kept Released (Retain) or made Available (Recycle). */
  private releaseVolume(claim: K8sObject, at: string): void {
    const volumeName = str(spec(claim).volumeName);
    const pv =
      (volumeName ? this.find("PersistentVolume", volumeName) : undefined) ??
      this.all("PersistentVolume").find((v) => {
        const ref = spec(v).claimRef;
        return isObj(ref) && ref.uid === claim.metadata.uid;
      });
    if (!pv) return;
    const ref = spec(pv).claimRef;
    if (!isObj(ref) || ref.name !== claim.metadata.name || ref.namespace !== claim.metadata.namespace) return;
    if (ref.uid !== undefined && ref.uid !== claim.metadata.uid) return;
    const policy = spec(pv).persistentVolumeReclaimPolicy ?? "Retain";
    if (policy === "Delete") {
      this.deleteWithEffects(pv, "Background", at);
    } else if (policy === "Recycle") {
      delete spec(pv).claimRef;
      pv.status = { phase: "Available", lastPhaseTransitionTime: at };
      this.touch(pv);
    } else {
      pv.status = { phase: "Released", lastPhaseTransitionTime: at };
      this.touch(pv);
    }
  }

  private statefulSetClaims(sts: K8sObject, ordinal?: number): K8sObject[] {
    const templates = spec(sts).volumeClaimTemplates;
    if (!Array.isArray(templates)) return [];
    const claims: K8sObject[] = [];
    for (const t of templates) {
      const tplName = isObj(t) && isObj(t.metadata) ? str(t.metadata.name) : undefined;
      if (!tplName) continue;
      const prefix = `${tplName}-${sts.metadata.name}-`;
      for (const c of this.all("PersistentVolumeClaim", sts.metadata.namespace)) {
        const rest = c.metadata.name.slice(prefix.length);
        if (
          c.metadata.name.startsWith(prefix) &&
          /^\d+$/.test(rest) &&
          (ordinal === undefined || Number(rest) === ordinal)
        ) {
          claims.push(c);
        }
      }
    }
    return claims;
  }

  // ---- controllers (run to a fixed point after every change)

  private reconcile(): void {
    for (let i = 0; i < 20; i++) {
      let changed = false;
      for (const d of this.all("Deployment")) changed = this.syncDeployment(d) || changed;
      for (const rs of this.all("ReplicaSet")) changed = this.syncReplicaSet(rs) || changed;
      for (const sts of this.all("StatefulSet")) changed = this.syncStatefulSet(sts) || changed;
      changed = this.bindClaims() || changed;
      changed = this.reclaimReleased() || changed;
      for (const w of [...this.all("StatefulSet"), ...this.all("ReplicaSet"), ...this.all("Deployment")]) {
        changed = this.syncWorkloadStatus(w) || changed;
      }
      if (!changed) return;
    }
  }

  /**
   * The PV controller: a Released volume whose reclaim policy becomes Delete is deleted at once
   * (with its disk); Recycle makes it Available again.
   */
  private reclaimReleased(): boolean {
    let changed = false;
    const at = timestamp(this.now());
    for (const pv of this.all("PersistentVolume")) {
      const phase = isObj(pv.status) ? pv.status.phase : undefined;
      if (phase !== "Released" && phase !== "Failed") continue;
      const policy = spec(pv).persistentVolumeReclaimPolicy;
      if (policy === "Delete") {
        this.deleteWithEffects(pv, "Background", at);
        changed = true;
      } else if (policy === "Recycle") {
        delete spec(pv).claimRef;
        pv.status = { phase: "Available", lastPhaseTransitionTime: at };
        this.touch(pv);
        changed = true;
      }
    }
    return changed;
  }

  private ownedBy(owner: K8sObject, kind: string): K8sObject[] {
    return this.all(kind, owner.metadata.namespace).filter((o) =>
      (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid && r.controller),
    );
  }

  private syncStatefulSet(sts: K8sObject): boolean {
    const s = spec(sts);
    const replicas = typeof s.replicas === "number" ? s.replicas : 1;
    const name = sts.metadata.name;
    const ns = sts.metadata.namespace!;
    let changed = false;
    for (let ordinal = 0; ordinal < replicas; ordinal++) {
      const podName = `${name}-${ordinal}`;
      if (this.find("Pod", podName, ns)) continue;
      const claimNames: Array<{ volume: string; claim: string }> = [];
      for (const t of Array.isArray(s.volumeClaimTemplates) ? s.volumeClaimTemplates : []) {
        if (!isObj(t) || !isObj(t.metadata)) continue;
        const tplName = str(t.metadata.name)!;
        const claimName = `${tplName}-${name}-${ordinal}`;
        claimNames.push({ volume: tplName, claim: claimName });
        if (!this.find("PersistentVolumeClaim", claimName, ns))
          this.createClaimFromTemplate(sts, t, claimName);
      }
      this.createPod(sts, podName, ordinal, claimNames);
      changed = true;
    }
    const policy = isObj(s.persistentVolumeClaimRetentionPolicy)
      ? s.persistentVolumeClaimRetentionPolicy
      : {};
    for (const pod of this.ownedBy(sts, "Pod")) {
      const ordinal = Number(pod.metadata.name.slice(name.length + 1));
      if (!(ordinal >= replicas)) continue;
      const at = timestamp(this.now());
      this.deleteWithEffects(pod, "Background", at);
      if (policy.whenScaled === "Delete") {
        for (const claim of this.statefulSetClaims(sts, ordinal))
          this.deleteWithEffects(claim, "Background", at);
      }
      changed = true;
    }
    return changed;
  }

  private createClaimFromTemplate(sts: K8sObject, template: Json, claimName: string): void {
    const tplMeta = isObj(template.metadata) ? template.metadata : {};
    const selector = isObj(spec(sts).selector) ? (spec(sts).selector as Json) : {};
    const matchLabels = isObj(selector.matchLabels) ? (selector.matchLabels as Record<string, string>) : {};
    const claimSpec = clone(isObj(template.spec) ? template.spec : {});
    const claim: K8sObject = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: {
        name: claimName,
        namespace: sts.metadata.namespace!,
        labels: { ...(tplMeta.labels as Record<string, string> | undefined), ...matchLabels },
        ...(isObj(tplMeta.annotations)
          ? { annotations: clone(tplMeta.annotations as Record<string, string>) }
          : {}),
        uid: deterministicUid(
          `PersistentVolumeClaim/${sts.metadata.namespace}/${claimName}/${this.counter++}/${this.rv}`,
        ),
        creationTimestamp: timestamp(this.now()),
      },
      spec: claimSpec,
    };
    const policy = spec(sts).persistentVolumeClaimRetentionPolicy;
    if (isObj(policy) && policy.whenDeleted === "Delete")
      claim.metadata.ownerReferences = [{ ...ownerRef(sts), controller: true }];
    this.applyDefaults(claim);
    this.touch(claim);
    this.store.set(storeKey(this.requireType("pvc"), claim.metadata.namespace, claimName), claim);
  }

  private createPod(
    owner: K8sObject,
    podName: string,
    ordinal: number | undefined,
    claims: Array<{ volume: string; claim: string }>,
  ): void {
    const template = isObj(spec(owner).template) ? (spec(owner).template as Json) : {};
    const tplMeta = isObj(template.metadata) ? template.metadata : {};
    const podSpec = clone(isObj(template.spec) ? template.spec : {});
    const ns = owner.metadata.namespace!;
    const labels: Record<string, string> = { ...(tplMeta.labels as Record<string, string> | undefined) };
    if (owner.kind === "StatefulSet") {
      labels["apps.kubernetes.io/pod-index"] = String(ordinal);
      labels["controller-revision-hash"] =
        str(status(owner).updateRevision) ??
        `${owner.metadata.name}-${hashText(canonicalJson(template), 10)}`;
      labels["statefulset.kubernetes.io/pod-name"] = podName;
      podSpec.hostname = podName;
      if (spec(owner).serviceName) podSpec.subdomain = spec(owner).serviceName;
    }
    const volumes = Array.isArray(podSpec.volumes) ? (podSpec.volumes as unknown[]) : [];
    podSpec.volumes = [
      ...claims.map((c) => ({ name: c.volume, persistentVolumeClaim: { claimName: c.claim } })),
      ...volumes,
    ];
    podSpec.restartPolicy ??= "Always";
    podSpec.schedulerName ??= "default-scheduler";
    podSpec.serviceAccountName ??= "default";
    podSpec.nodeName = this.chooseNode(
      ns,
      claims.map((c) => c.claim),
      podName,
    );
    const pod: K8sObject = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: podName,
        generateName: owner.kind === "StatefulSet" ? `${owner.metadata.name}-` : `${owner.metadata.name}-`,
        namespace: ns,
        uid: deterministicUid(`Pod/${ns}/${podName}/${this.counter++}/${this.rv}`),
        creationTimestamp: timestamp(this.now()),
        labels,
        ...(isObj(tplMeta.annotations)
          ? { annotations: clone(tplMeta.annotations as Record<string, string>) }
          : {}),
        ownerReferences: [ownerRef(owner)],
      },
      spec: podSpec,
      status: {},
    };
    if (!podSpec.nodeName) delete podSpec.nodeName;
    pod.status = this.runningStatus(pod);
    this.touch(pod);
    this.store.set(storeKey(this.requireType("pod"), ns, podName), pod);
  }

  private chooseNode(namespace: string, claims: string[], seed: string): string | undefined {
    const nodes = this.all("Node").filter((n) => !spec(n).unschedulable);
    if (nodes.length === 0) return undefined;
    for (const claimName of claims) {
      const claim = this.find("PersistentVolumeClaim", claimName, namespace);
      const selected = claim?.metadata.annotations?.["volume.kubernetes.io/selected-node"];
      if (selected && nodes.some((n) => n.metadata.name === selected)) return selected;
      const pv =
        claim && str(spec(claim).volumeName)
          ? this.find("PersistentVolume", str(spec(claim).volumeName)!)
          : undefined;
      const zone = pv ? volumeZone(pv) : undefined;
      const inZone = zone
        ? nodes.find((n) => n.metadata.labels?.["topology.kubernetes.io/zone"] === zone)
        : undefined;
      if (inZone) return inZone.metadata.name;
    }
    const index = createHash("sha256").update(seed).digest()[0]! % nodes.length;
    return nodes[index]!.metadata.name;
  }

  private runningStatus(pod: K8sObject): Json {
    const at = timestamp(this.now());
    const nodeName = str(spec(pod).nodeName);
    if (!nodeName) {
      return {
        phase: "Pending",
        conditions: [
          { type: "PodScheduled", status: "False", reason: "Unschedulable", lastTransitionTime: at },
        ],
        qosClass: "BestEffort",
      };
    }
    const node = this.find("Node", nodeName);
    const addresses = node && Array.isArray(status(node).addresses) ? (status(node).addresses as Json[]) : [];
    const hostIP = str(addresses.find((a) => a.type === "InternalIP")?.address) ?? "10.0.0.1";
    const nodeIndex = this.all("Node").findIndex((n) => n.metadata.name === nodeName);
    const podIP = `10.244.${nodeIndex + 1}.${20 + (this.counter++ % 200)}`;
    const containers = Array.isArray(spec(pod).containers) ? (spec(pod).containers as Json[]) : [];
    return {
      phase: "Running",
      conditions: [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
      ].map((type) => ({
        type,
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: at,
      })),
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP,
      podIPs: [{ ip: podIP }],
      startTime: at,
      qosClass: "BestEffort",
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image,
        imageID: "",
        containerID: `containerd://${createHash("sha256")
          .update(`${pod.metadata.uid}/${String(c.name)}`)
          .digest("hex")}`,
        ready: true,
        restartCount: 0,
        started: true,
        state: { running: { startedAt: at } },
      })),
    };
  }

  private syncReplicaSet(rs: K8sObject): boolean {
    const replicas = typeof spec(rs).replicas === "number" ? (spec(rs).replicas as number) : 1;
    const pods = this.ownedBy(rs, "Pod").filter(
      (p) => status(p).phase !== "Succeeded" && status(p).phase !== "Failed",
    );
    let changed = false;
    for (let i = pods.length; i < replicas; i++) {
      let podName: string;
      do podName = `${rs.metadata.name}-${hashText(`${rs.metadata.uid}/${this.counter++}`, 5)}`;
      while (this.find("Pod", podName, rs.metadata.namespace));
      this.createPod(rs, podName, undefined, []);
      changed = true;
    }
    if (pods.length > replicas) {
      const newestFirst = [...pods].sort(
        (a, b) =>
          (b.metadata.creationTimestamp ?? "").localeCompare(a.metadata.creationTimestamp ?? "") ||
          b.metadata.name.localeCompare(a.metadata.name),
      );
      for (const pod of newestFirst.slice(0, pods.length - replicas)) {
        this.deleteWithEffects(pod, "Background", timestamp(this.now()));
      }
      changed = true;
    }
    return changed;
  }

  private syncDeployment(d: K8sObject): boolean {
    const replicas = typeof spec(d).replicas === "number" ? (spec(d).replicas as number) : 1;
    const template = isObj(spec(d).template) ? (spec(d).template as Json) : {};
    const owned = this.ownedBy(d, "ReplicaSet");
    const sameTemplate = (rs: K8sObject): boolean => {
      const t = clone(isObj(spec(rs).template) ? (spec(rs).template as Json) : {});
      if (isObj(t.metadata) && isObj(t.metadata.labels))
        delete (t.metadata.labels as Json)["pod-template-hash"];
      return canonicalJson(t) === canonicalJson(template);
    };
    let current = owned.find(sameTemplate);
    let changed = false;
    if (!current) {
      const hash = hashText(canonicalJson(template), 10);
      const name = `${d.metadata.name}-${hash}`;
      const tpl = clone(template);
      const meta = (isObj(tpl.metadata) ? tpl.metadata : (tpl.metadata = {})) as Json;
      meta.labels = { ...(isObj(meta.labels) ? meta.labels : {}), "pod-template-hash": hash };
      const selector = clone(isObj(spec(d).selector) ? (spec(d).selector as Json) : {});
      selector.matchLabels = {
        ...(isObj(selector.matchLabels) ? selector.matchLabels : {}),
        "pod-template-hash": hash,
      };
      current = {
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        metadata: {
          name,
          namespace: d.metadata.namespace!,
          uid: deterministicUid(`ReplicaSet/${d.metadata.namespace}/${name}/${this.counter++}/${this.rv}`),
          creationTimestamp: timestamp(this.now()),
          generation: 1,
          labels: meta.labels as Record<string, string>,
          annotations: { "deployment.kubernetes.io/desired-replicas": String(replicas) },
          ownerReferences: [ownerRef(d)],
        },
        spec: { replicas: 0, selector, template: tpl },
        status: { replicas: 0 },
      };
      this.touch(current);
      this.store.set(storeKey(this.requireType("rs"), d.metadata.namespace, name), current);
      changed = true;
    }
    for (const rs of this.ownedBy(d, "ReplicaSet")) {
      const want = rs === current ? replicas : 0;
      if (spec(rs).replicas !== want) {
        spec(rs).replicas = want;
        rs.metadata.generation = (rs.metadata.generation ?? 1) + 1;
        this.touch(rs);
        changed = true;
      }
    }
    return changed;
  }

  /** Binds pending claims: to the volume they name, or to a newly provisioned one (dynamic provisioning). */
  private bindClaims(): boolean {
    let changed = false;
    for (const claim of this.all("PersistentVolumeClaim")) {
      if (status(claim).phase !== "Pending") continue;
      const s = spec(claim);
      const ns = claim.metadata.namespace!;
      const consumer = this.all("Pod", ns).find((p) => podClaimNames(p).includes(claim.metadata.name));
      const volumeName = str(s.volumeName);
      if (volumeName) {
        const pv = this.find("PersistentVolume", volumeName);
        if (!pv) continue;
        const ref = spec(pv).claimRef;
        const free = status(pv).phase === "Available" && !isObj(ref);
        const reserved =
          isObj(ref) &&
          ref.name === claim.metadata.name &&
          ref.namespace === ns &&
          (ref.uid === undefined || ref.uid === claim.metadata.uid);
        if (!free && !reserved) continue;
        this.bind(claim, pv, false, str(spec(consumer ?? claim).nodeName));
        changed = true;
        continue;
      }
      const scName = str(s.storageClassName);
      const sc = scName ? this.find("StorageClass", scName) : undefined;
      if (!sc || sc.provisioner === "kubernetes.io/no-provisioner") continue;
      if (sc.volumeBindingMode === "WaitForFirstConsumer" && !consumer) continue;
      const nodeName = consumer ? str(spec(consumer).nodeName) : undefined;
      const node = nodeName ? this.find("Node", nodeName) : undefined;
      const zone = node?.metadata.labels?.["topology.kubernetes.io/zone"];
      const driver = str(sc.provisioner) ?? "ebs.csi.aws.com";
      const requests = isObj(s.resources) && isObj(s.resources.requests) ? s.resources.requests : {};
      const pv: K8sObject = {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: {
          name: `pvc-${claim.metadata.uid}`,
          uid: deterministicUid(`PersistentVolume/pvc-${claim.metadata.uid}/${this.counter++}`),
          creationTimestamp: timestamp(this.now()),
          annotations: {
            "pv.kubernetes.io/provisioned-by": driver,
            "volume.kubernetes.io/provisioner-deletion-secret-name": "",
            "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
          },
          finalizers: ["external-provisioner.volume.kubernetes.io/finalizer", "kubernetes.io/pv-protection"],
        },
        spec: {
          accessModes: clone(s.accessModes ?? ["ReadWriteOnce"]),
          capacity: { storage: str(requests.storage) ?? "1Gi" },
          csi: {
            driver,
            fsType: "ext4",
            volumeAttributes: {
              "storage.kubernetes.io/csiProvisionerIdentity": `1767225600000-8081-${driver}`,
            },
            volumeHandle: `vol-${createHash("sha256").update(String(claim.metadata.uid)).digest("hex").slice(0, 17)}`,
          },
          ...(zone
            ? {
                nodeAffinity: {
                  required: {
                    nodeSelectorTerms: [
                      {
                        matchExpressions: [
                          { key: "topology.kubernetes.io/zone", operator: "In", values: [zone] },
                        ],
                      },
                    ],
                  },
                },
              }
            : {}),
          persistentVolumeReclaimPolicy: str(sc.reclaimPolicy) ?? "Delete",
          storageClassName: sc.metadata.name,
          volumeMode: str(s.volumeMode) ?? "Filesystem",
        },
        status: { phase: "Available" },
      };
      this.touch(pv);
      this.store.set(storeKey(this.requireType("pv"), undefined, pv.metadata.name), pv);
      this.bind(claim, pv, true, nodeName);
      changed = true;
    }
    return changed;
  }

  private bind(claim: K8sObject, pv: K8sObject, provisioned: boolean, nodeName: string | undefined): void {
    const at = timestamp(this.now());
    spec(pv).claimRef = {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      name: claim.metadata.name,
      namespace: claim.metadata.namespace,
      resourceVersion: claim.metadata.resourceVersion,
      uid: claim.metadata.uid,
    };
    pv.status = { phase: "Bound", lastPhaseTransitionTime: at };
    this.touch(pv);
    spec(claim).volumeName = pv.metadata.name;
    const annotations: Record<string, string> = {
      ...claim.metadata.annotations,
      "pv.kubernetes.io/bind-completed": "yes",
      "pv.kubernetes.io/bound-by-controller": "yes",
    };
    if (provisioned) {
      const driver = str(isObj(spec(pv).csi) ? (spec(pv).csi as Json).driver : undefined) ?? "";
      annotations["volume.beta.kubernetes.io/storage-provisioner"] = driver;
      annotations["volume.kubernetes.io/storage-provisioner"] = driver;
      if (nodeName) annotations["volume.kubernetes.io/selected-node"] = nodeName;
    }
    claim.metadata.annotations = annotations;
    claim.status = {
      phase: "Bound",
      accessModes: clone(spec(pv).accessModes),
      capacity: clone(spec(pv).capacity),
    };
    this.touch(claim);
  }

  private syncWorkloadStatus(w: K8sObject): boolean {
    const pods =
      w.kind === "Deployment"
        ? this.ownedBy(w, "ReplicaSet").flatMap((rs) => this.ownedBy(rs, "Pod"))
        : this.ownedBy(w, "Pod");
    const total = pods.length;
    const ready = pods.filter((p) =>
      (Array.isArray(status(p).conditions) ? (status(p).conditions as Json[]) : []).some(
        (c) => c.type === "Ready" && c.status === "True",
      ),
    ).length;
    const s = status(w);
    const want: Record<string, number> =
      w.kind === "StatefulSet"
        ? {
            replicas: total,
            readyReplicas: ready,
            currentReplicas: total,
            updatedReplicas: total,
            availableReplicas: ready,
          }
        : w.kind === "ReplicaSet"
          ? { replicas: total, fullyLabeledReplicas: total, readyReplicas: ready, availableReplicas: ready }
          : {
              replicas: total,
              updatedReplicas: total,
              readyReplicas: ready,
              availableReplicas: ready,
              unavailableReplicas: total - ready,
            };
    let changed = false;
    for (const [key, value] of Object.entries(want)) {
      const omitted = value === 0 && key !== "replicas" && key !== "availableReplicas";
      if (omitted ? s[key] !== undefined : s[key] !== value) {
        if (omitted) delete s[key];
        else s[key] = value;
        changed = true;
      }
    }
    if (changed) {
      s.observedGeneration = w.metadata.generation ?? 1;
      this.touch(w);
    }
    return changed;
  }
}

// ---------------------------------------------------------------------------------------------
// helpers

function storeKey(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.group}/${type.plural}/${type.namespaced ? (namespace ?? "") : ""}/${name}`;
}

/** Byte order of namespace then name, like the etcd keys the real API server lists from. */
function compareObjects(a: K8sObject, b: K8sObject): number {
  const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return (
    cmp(a.metadata.namespace ?? "", b.metadata.namespace ?? "") ||
    cmp(a.metadata.name, b.metadata.name) ||
    cmp(a.kind, b.kind)
  );
}

function volumeZone(pv: K8sObject): string | undefined {
  const affinity = spec(pv).nodeAffinity;
  const terms =
    isObj(affinity) && isObj(affinity.required) && Array.isArray(affinity.required.nodeSelectorTerms)
      ? (affinity.required.nodeSelectorTerms as Json[])
      : [];
  for (const term of terms) {
    for (const expr of Array.isArray(term.matchExpressions) ? (term.matchExpressions as Json[]) : []) {
      if (String(expr.key).endsWith("/zone") && Array.isArray(expr.values)) return str(expr.values[0]);
    }
  }
  return undefined;
}

function scaleOf(obj: K8sObject): K8sObject {
  const selector = isObj(spec(obj).selector) ? (spec(obj).selector as Json) : {};
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace!,
      uid: obj.metadata.uid!,
      resourceVersion: obj.metadata.resourceVersion!,
      creationTimestamp: obj.metadata.creationTimestamp!,
    },
    spec: { replicas: spec(obj).replicas ?? 1 },
    status: {
      replicas: status(obj).replicas ?? 0,
      selector: selectorString(selector.matchLabels as Record<string, string> | undefined),
    },
  };
}

function patchDocument(
  type: ResourceType,
  name: string,
  current: unknown,
  rawBody: string,
  contentType: string,
): unknown {
  let patch: unknown;
  try {
    patch = JSON.parse(rawBody);
  } catch {
    throw badRequest(`the body of the request was not valid JSON (content type ${contentType || "none"})`);
  }
  switch (contentType) {
    case "application/merge-patch+json":
      if (!isObj(patch)) throw badRequest("merge patch must be a JSON object");
      return applyMergePatch(current, patch);
    case "application/strategic-merge-patch+json":
      if (!isObj(patch)) throw badRequest("strategic merge patch must be a JSON object");
      return applyMergePatch(current, stripStrategicDirectives(patch));
    case "application/json-patch+json":
      if (!Array.isArray(patch)) {
        throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
      }
      try {
        return applyJsonPatch(current, patch);
      } catch (e) {
        throw invalid(type, name, (e as Error).message);
      }
    default:
      throw new ApiStatusError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (simulated server; got ${JSON.stringify(contentType)})`,
      );
  }
}

/** Changes the real API server refuses on update; returns the message, or undefined. */
function immutableChange(current: K8sObject, next: K8sObject): string | undefined {
  const a = isObj(current.spec) ? current.spec : {};
  const b = isObj(next.spec) ? next.spec : {};
  const same = (field: string): boolean => canonicalJson(a[field]) === canonicalJson(b[field]);
  if (current.kind === "StatefulSet") {
    for (const field of ["selector", "volumeClaimTemplates", "serviceName", "podManagementPolicy"]) {
      if (!same(field)) {
        return `spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden`;
      }
    }
  }
  if (current.kind === "PersistentVolumeClaim" && a.volumeName !== undefined) {
    for (const field of ["storageClassName", "volumeName", "accessModes", "volumeMode"]) {
      if (!same(field))
        return `spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims`;
    }
  }
  if (current.kind === "Deployment" && !same("selector"))
    return "spec.selector: Invalid value: field is immutable";
  return undefined;
}

function propagationOf(options: Json, query: URLSearchParams): Propagation {
  const raw = str(options.propagationPolicy) ?? query.get("propagationPolicy") ?? "";
  if (raw === "Orphan" || options.orphanDependents === true || query.get("orphanDependents") === "true")
    return "Orphan";
  if (raw === "Foreground") return "Foreground";
  return "Background";
}

function isDryRun(query: URLSearchParams): boolean {
  return query.getAll("dryRun").includes("All");
}

function encodeContinue(offset: number): string {
  return Buffer.from(JSON.stringify({ v: "simulated/v1", offset })).toString("base64url");
}

function decodeContinue(token: string | null): number {
  if (!token) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { offset?: unknown };
    if (typeof parsed.offset === "number" && parsed.offset >= 0) return parsed.offset;
  } catch {
    // fall through
  }
  throw new ApiStatusError(
    400,
    "BadRequest",
    "continue key is not valid: incorrect encoded start resourceVersion",
  );
}

function pageNotFound(): ApiStatusError {
  return new ApiStatusError(404, "NotFound", "the server could not find the requested resource", {
    causes: [{ reason: "UnexpectedServerResponse", message: "404 page not found" }],
  });
}

function methodNotAllowed(info: RequestInfo): ApiStatusError {
  return new ApiStatusError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource`,
    {
      ...(info.name ? { name: info.name } : {}),
      ...(info.resource ? { kind: info.resource } : {}),
    },
  );
}

function groups(): string[] {
  return [...new Set(RESOURCE_TYPES.filter((t) => t.group !== "").map((t) => t.group))];
}

function apiGroup(group: string): Json {
  const versions = [...new Set(RESOURCE_TYPES.filter((t) => t.group === group).map((t) => t.version))].map(
    (v) => ({
      groupVersion: `${group}/${v}`,
      version: v,
    }),
  );
  return { name: group, versions, preferredVersion: versions[0] };
}

function resourceList(group: string, version: string): Json {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
  const verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update"];
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources: types.flatMap((t) => [
      {
        name: t.plural,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs:
          t.kind === "Namespace" || t.kind === "Node" ? verbs.filter((v) => v !== "deletecollection") : verbs,
        ...(t.shortNames ? { shortNames: t.shortNames } : {}),
      },
      ...(NO_STATUS_SUBRESOURCE.has(t.kind)
        ? []
        : [
            {
              name: `${t.plural}/status`,
              singularName: "",
              namespaced: t.namespaced,
              kind: t.kind,
              verbs: ["get", "patch", "update"],
            },
          ]),
      ...(t.scalable
        ? [
            {
              name: `${t.plural}/scale`,
              singularName: "",
              namespaced: t.namespaced,
              group: "autoscaling",
              version: "v1",
              kind: "Scale",
              verbs: ["get", "patch", "update"],
            },
          ]
        : []),
    ]),
  };
}

/** Resolves method and path to a request, the way the API server's request-info resolver does. */
export function resolveRequest(method: string, url: URL): RequestInfo {
  const info: RequestInfo = { method: method.toUpperCase(), path: url.pathname, query: url.searchParams };
  const segments = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  let rest: string[];
  if (segments[0] === "api" && segments[1] === "v1") {
    info.group = "";
    info.version = "v1";
    rest = segments.slice(2);
  } else if (segments[0] === "apis" && segments.length >= 4) {
    info.group = segments[1]!;
    info.version = segments[2]!;
    rest = segments.slice(3);
  } else return info;
  if (rest.length === 0) return info;
  const namespacedResource =
    rest[0] === "namespaces" &&
    rest.length >= 3 &&
    RESOURCE_TYPES.some((t) => t.plural === rest[2] && t.group === info.group && t.namespaced);
  if (namespacedResource) {
    info.namespace = rest[1];
    rest = rest.slice(2);
  }
  info.resource = rest[0];
  if (rest[1] !== undefined) info.name = rest[1];
  if (rest[2] !== undefined) info.subresource = rest[2];
  if (rest.length > 3) {
    delete info.resource;
    return info;
  }
  const named = info.name !== undefined;
  const watch = info.query.get("watch") === "true" || info.query.get("watch") === "1";
  switch (info.method) {
    case "GET":
      info.verb = named ? "get" : watch ? "watch" : "list";
      break;
    case "POST":
      if (!named) info.verb = "create";
      break;
    case "PUT":
      if (named) info.verb = "update";
      break;
    case "PATCH":
      if (named) info.verb = "patch";
      break;
    case "DELETE":
      info.verb = named ? "delete" : "deletecollection";
      break;
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// A running simulated cluster

export interface SimulatedClusterOptions extends SimulatedApiServerOptions {
  /** Port to listen on (default: any free port). */
  port?: number;
  /** Default namespace of the kubeconfig context. */
  namespace?: string;
}

export interface SimulatedCluster {
  /** Base URL, http://127.0.0.1:<port>. */
  url: string;
  /** Kubeconfig YAML text for the cluster (context "simulated"). */
  kubeconfig: string;
  server: SimulatedApiServer;
  /** Deep copies of the current objects (optionally of one kind and namespace). */
  objects(kind?: string, namespace?: string): K8sObject[];
  /** Back to the fixtures; clears faults and the request log. */
  reset(): void;
  /** Writes the kubeconfig to a file (mode 0600) and returns the path. */
  writeKubeconfig(file: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a simulated cluster on 127.0.0.1. Without `fixtures` it serves {@link simulatedFixtures}
 * (the incident scenario); pass `fixtures: []` for an empty cluster.
 */
export async function startSimulatedCluster(
  options: SimulatedClusterOptions = {},
): Promise<SimulatedCluster> {
  const server = new SimulatedApiServer({ ...options, fixtures: options.fixtures ?? simulatedFixtures() });
  const url = await server.listen(options.port ?? 0);
  const token = options.token === null ? undefined : (options.token ?? SIMULATED_TOKEN);
  const kubeconfigOptions = {
    server: url,
    ...(token !== undefined ? { token } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
  };
  return {
    url,
    kubeconfig: simulatedKubeconfig(kubeconfigOptions),
    server,
    objects: (kind, namespace) => server.objects(kind, namespace),
    reset: () => server.reset(),
    writeKubeconfig: (file) => writeSimulatedKubeconfig(file, kubeconfigOptions),
    close: () => server.close(),
  };
}
