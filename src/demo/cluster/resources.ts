/**
 * The verbs on a resource (get, list, create, update, patch, delete, deletecollection) and on its
 * status and scale subresources, with the API server's preconditions, dry runs, conflicts and
 * pagination. Every change runs the controllers to a fixed point before it answers.
 */
import { parse as parseYaml } from "yaml";
import { applyDefaults, immutableChange } from "./admission.js";
import { reconcile } from "./controllers/index.js";
import { deleteWithEffects } from "./controllers/deletion.js";
import {
  ApiStatusError,
  badRequest,
  invalid,
  methodNotAllowed,
  notFound,
  pageNotFound,
  resourceLabel,
} from "./errors.js";
import type { RequestInfo } from "./http.js";
import {
  HAS_GENERATION,
  NO_STATUS_SUBRESOURCE,
  RESOURCE_TYPES,
  RETURNS_DELETED_OBJECT,
  canonicalJson,
  clone,
  compareObjects,
  deterministicUid,
  groupVersion,
  hashText,
  isObj,
  spec,
  status,
  storeKey,
  str,
  timestamp,
  type Json,
  type K8sObject,
  type Propagation,
  type ResourceType,
} from "./model.js";
import { applyMergePatch, patchDocument } from "./patch.js";
import {
  fieldFilter,
  matchesLabelRequirements,
  parseLabelSelector,
  selectorString,
  type LabelRequirement,
} from "./selectors.js";
import type { ObjectStore } from "./store.js";

export function list(
  store: ObjectStore,
  type: ResourceType,
  namespace: string | undefined,
  query: URLSearchParams,
): Json {
  let labelRequirements: LabelRequirement[];
  try {
    labelRequirements = parseLabelSelector(query.get("labelSelector") ?? "");
  } catch (e) {
    throw badRequest((e as Error).message);
  }
  const fields = fieldFilter(type, query.get("fieldSelector") ?? "");
  const all = [...store.objects.values()]
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
      resourceVersion: store.resourceVersion,
      ...(remaining > 0
        ? { continue: encodeContinue(offset + page.length), remainingItemCount: remaining }
        : {}),
    },
    items,
  };
}

export function requireObject(
  store: ObjectStore,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
): K8sObject {
  const obj = store.objects.get(storeKey(type, namespace, name));
  if (!obj) throw notFound(type, name);
  return obj;
}

export function create(
  store: ObjectStore,
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
    if (!store.objects.has(storeKey(ns, undefined, namespace!))) throw notFound(ns, namespace!);
    if (store.objects.get(storeKey(ns, undefined, namespace!))?.metadata.deletionTimestamp) {
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
    meta.name = meta.generateName + hashText(`${meta.generateName}/${store.counter++}`, 5);
  }
  if (store.objects.has(storeKey(type, namespace, meta.name))) {
    throw new ApiStatusError(409, "AlreadyExists", `${resourceLabel(type)} "${meta.name}" already exists`, {
      name: meta.name,
      ...(type.group ? { group: type.group } : {}),
      kind: type.plural,
    });
  }
  delete meta.resourceVersion;
  delete meta.deletionTimestamp;
  meta.uid = deterministicUid(`${type.kind}/${namespace ?? ""}/${meta.name}/${store.counter++}/${store.rv}`);
  meta.creationTimestamp = timestamp(store.now());
  if (HAS_GENERATION.has(type.kind)) meta.generation = 1;
  applyDefaults(store, obj);
  store.touch(obj);
  if (isDryRun(query)) return { ...clone(obj), __code: 201 };
  store.objects.set(storeKey(type, namespace, meta.name), obj);
  reconcile(store);
  return { ...clone(store.objects.get(storeKey(type, namespace, meta.name)) ?? obj), __code: 201 };
}

export function update(
  store: ObjectStore,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  body: unknown,
  query: URLSearchParams,
): Json {
  if (!isObj(body)) throw badRequest("the body of the request must be a JSON object");
  const current = requireObject(store, type, namespace, name);
  const next = clone(body) as K8sObject;
  if (!isObj(next.metadata) || next.metadata.name !== name) {
    throw badRequest(
      `the name of the object (${String(next.metadata?.name)}) does not match the name on the URL (${name})`,
    );
  }
  return write(store, type, current, next, query, "main");
}

export function patch(
  store: ObjectStore,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  rawBody: string,
  contentType: string,
  query: URLSearchParams,
): Json {
  if (contentType === "application/apply-patch+yaml") {
    return serverSideApply(store, type, namespace, name, rawBody, query);
  }
  const current = requireObject(store, type, namespace, name);
  const next = patchDocument(type, name, clone(current), rawBody, contentType) as K8sObject;
  return write(store, type, current, next, query, "main");
}

/**
 * Server-side apply (`kubectl apply --server-side`), simplified: the manifest (YAML or JSON) creates
 * the object when it does not exist, else is merged into it like a JSON merge patch. Field
 * ownership (managedFields, conflicts between managers) is not simulated: fields left out of the
 * manifest are kept, not removed.
 */
function serverSideApply(
  store: ObjectStore,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  rawBody: string,
  query: URLSearchParams,
): Json {
  let manifest: unknown;
  try {
    manifest = parseYaml(rawBody);
  } catch (e) {
    throw badRequest(`the body of the apply request was not valid YAML: ${(e as Error).message}`);
  }
  if (!isObj(manifest)) throw badRequest("the body of an apply request must be an object");
  const meta = isObj(manifest.metadata) ? manifest.metadata : {};
  if (meta.name !== undefined && meta.name !== name) {
    throw badRequest("the name of the object (metadata.name) does not match the name on the URL");
  }
  const current = store.objects.get(storeKey(type, type.namespaced ? namespace : undefined, name));
  if (!current) return create(store, type, namespace, { ...manifest, metadata: { ...meta, name } }, query);
  const next = applyMergePatch(clone(current), manifest) as K8sObject;
  return write(store, type, current, next, query, "main");
}

/** Validates and stores a new version of an existing object (update or patch). */
export function write(
  store: ObjectStore,
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
  store.touch(next);
  if (isDryRun(query)) return clone(next);
  store.objects.set(storeKey(type, current.metadata.namespace, current.metadata.name), next);
  reconcile(store);
  return clone(store.objects.get(storeKey(type, current.metadata.namespace, current.metadata.name)) ?? next);
}

export function subresource(
  store: ObjectStore,
  type: ResourceType,
  info: RequestInfo,
  body: () => unknown,
  contentType: string,
): unknown {
  const name = info.name!;
  const current = requireObject(store, type, info.namespace, name);
  const sub = info.subresource!;
  if (sub === "status" && !NO_STATUS_SUBRESOURCE.has(type.kind)) {
    if (info.verb === "get") return clone(current);
    if (info.verb === "update") return write(store, type, current, body() as K8sObject, info.query, "status");
    if (info.verb === "patch") {
      const raw = body();
      const next = patchDocument(type, name, clone(current), JSON.stringify(raw ?? null), contentType);
      return write(store, type, current, next as K8sObject, info.query, "status");
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
    const stored = write(store, type, current, updated, info.query, "main") as K8sObject;
    return scaleOf(stored);
  }
  throw pageNotFound();
}

export function deleteObject(
  store: ObjectStore,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
  body: unknown,
  query: URLSearchParams,
): Json {
  const current = requireObject(store, type, namespace, name);
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
  const deletedAt = timestamp(store.now());
  const shown = clone(current);
  shown.metadata.deletionTimestamp = deletedAt;
  shown.metadata.deletionGracePeriodSeconds = 0;
  if (type.kind === "Namespace") status(shown).phase = "Terminating";
  if (!isDryRun(query, options)) {
    deleteWithEffects(store, current, propagation, deletedAt);
    reconcile(store);
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

export function deleteCollection(
  store: ObjectStore,
  type: ResourceType,
  namespace: string | undefined,
  body: unknown,
  query: URLSearchParams,
): Json {
  const listed = list(store, type, namespace, query);
  const items = listed.items as K8sObject[];
  const options = isObj(body) ? body : {};
  const propagation = propagationOf(options, query);
  const deletedAt = timestamp(store.now());
  if (!isDryRun(query, options)) {
    for (const item of items) {
      const obj = store.objects.get(storeKey(type, item.metadata.namespace, item.metadata.name));
      if (obj) deleteWithEffects(store, obj, propagation, deletedAt);
    }
    reconcile(store);
  }
  return { ...listed, metadata: { resourceVersion: store.resourceVersion } };
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

function propagationOf(options: Json, query: URLSearchParams): Propagation {
  const raw = str(options.propagationPolicy) ?? query.get("propagationPolicy") ?? "";
  if (raw === "Orphan" || options.orphanDependents === true || query.get("orphanDependents") === "true")
    return "Orphan";
  if (raw === "Foreground") return "Foreground";
  return "Background";
}

/**
 * A dry run answers as if done and changes nothing: `?dryRun=All` in the query (create, update,
 * patch; kubectl's `--dry-run=server`), or `dryRun: ["All"]` in the DeleteOptions body (kubectl
 * puts it there for delete and deletecollection).
 */
function isDryRun(query: URLSearchParams, options: Json = {}): boolean {
  if (query.getAll("dryRun").includes("All")) return true;
  return Array.isArray(options.dryRun) && options.dryRun.includes("All");
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
