/**
 * Validating admission webhooks, called the way kube-apiserver's ValidatingAdmissionWebhook plugin
 * calls them (k8s.io/apiserver/pkg/admission/plugin/webhook/validating/dispatcher.go).
 *
 * The simulated API server stores `ValidatingWebhookConfiguration` objects like any other. Before
 * it applies a mutating request (create, update, patch, delete, deletecollection, and updates of
 * the status and scale subresources) it works out the object the request would store (by applying
 * the request to a copy of the store) and calls every webhook whose `rules`, `namespaceSelector`
 * and `objectSelector` match with an `admission.k8s.io/v1` AdmissionReview over HTTPS, verifying
 * the server with the webhook's `caBundle`. All matching webhooks are called at once; the first
 * refusal (in configuration order) is the answer:
 *
 * - `allowed: false` → the webhook's Status with the message `admission webhook "<name>" denied the
 *   request: <message>` (code 403 unless the webhook gave one ≥ 400), as webhook/errors/statuserror.go;
 * - `warnings` → `Warning: 299 - "<text>"` response headers;
 * - a webhook that cannot be called, times out (`timeoutSeconds`, default 10) or answers something
 *   that is not a valid AdmissionReview → 500 InternalError `failed calling webhook "<name>": …`
 *   with `failurePolicy: Fail` (the default), nothing with `Ignore`;
 * - a dry-run request and a webhook whose `sideEffects` is not None/NoneOnDryRun → 400
 *   `admission webhook "<name>" does not support dry run`.
 *
 * A `clientConfig.service` reference cannot be reached without a cluster network: the simulator's
 * `webhookServices` option maps `namespace/name:port` (port defaults to 443) to a base URL such as
 * `https://127.0.0.1:PORT`; the certificate is verified for `<name>.<namespace>.svc`, as the real API
 * server does.
 *
 * Deletions the simulated controllers make as a consequence of a request (the namespace controller
 * emptying a deleted namespace, the garbage collector taking dependents and a StatefulSet's claims
 * under its retention policy, the volume controller reclaiming a volume) are admitted too, with the
 * controller's service-account user; a deletion a webhook refuses is not made (a namespace with
 * content left stays Terminating), and the user's request still succeeds, as in a real cluster.
 * Objects the controllers create or update are not sent to webhooks.
 *
 * Not modelled: mutating webhooks (MutatingWebhookConfiguration is not served), `matchConditions`,
 * `matchPolicy` (each resource is served in one version only, so Exact and Equivalent agree),
 * `admissionReviewVersions` (always v1) and audit annotations.
 */
import http from "node:http";
import https from "node:https";
import { randomUUID } from "node:crypto";
import { DENIED_DELETIONS, statefulSetClaims } from "./controllers/deletion.js";
import { ApiStatusError } from "./errors.js";
import type { RequestInfo } from "./http.js";
import {
  RESOURCE_TYPES,
  clone,
  isObj,
  storeKey,
  type Json,
  type K8sObject,
  type ResourceType,
} from "./model.js";
import { create, deleteCollection, deleteObject, list, patch, subresource, update } from "./resources.js";
import { matchesLabelRequirements, type LabelRequirement } from "./selectors.js";
import { ObjectStore } from "./store.js";

/** An authenticated user, as `userInfo` of an AdmissionReview carries it. */
export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The service-account user of a kube-controller-manager controller. */
export function controllerUser(controller: string): UserInfo {
  return {
    username: `system:serviceaccount:kube-system:${controller}`,
    groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
  };
}

export const NAMESPACE_CONTROLLER = controllerUser("namespace-controller");
export const GARBAGE_COLLECTOR = controllerUser("generic-garbage-collector");
export const STATEFULSET_CONTROLLER = controllerUser("statefulset-controller");
export const REPLICASET_CONTROLLER = controllerUser("replicaset-controller");
export const VOLUME_CONTROLLER = controllerUser("persistent-volume-binder");
export const SNAPSHOT_CONTROLLER = controllerUser("snapshot-controller");

export interface WebhookOptions {
  /**
   * Where a `clientConfig.service` reference is reached: `namespace/name:port` (or `namespace/name`
   * for port 443) → base URL, e.g. `{ "lifeline/lifeline-webhook:443": "https://127.0.0.1:8443" }`.
   */
  services?: Record<string, string>;
}

/** What admission decided for a request that may now be applied. */
export interface AdmissionOutcome {
  /** Warnings of the webhooks called for the user's request, for `Warning` headers. */
  warnings: string[];
  /** Uids of objects whose deletion by a controller a webhook refused. */
  deniedDeletions: Set<string>;
}

type Operation = "CREATE" | "UPDATE" | "DELETE";

interface Attributes {
  operation: Operation;
  type: ResourceType;
  subresource?: string;
  name: string;
  namespace: string;
  object: K8sObject | null;
  oldObject: K8sObject | null;
  dryRun: boolean;
  options: Json;
  user: UserInfo;
}

interface Webhook {
  name: string;
  clientConfig?: {
    url?: string;
    service?: { namespace?: string; name?: string; path?: string; port?: number };
    caBundle?: string;
  };
  rules?: Array<{
    operations?: string[];
    apiGroups?: string[];
    apiVersions?: string[];
    resources?: string[];
    scope?: string;
  }>;
  failurePolicy?: string;
  sideEffects?: string;
  timeoutSeconds?: number;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

const EMPTY: AdmissionOutcome = { warnings: [], deniedDeletions: new Set() };
const MUTATING = new Set(["create", "update", "patch", "delete", "deletecollection"]);
const CONFIGURATION_KINDS = new Set(["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]);

export class WebhookAdmission {
  constructor(private readonly options: WebhookOptions = {}) {}

  /**
   * Calls the webhooks for a request about to be applied. Throws the ApiStatusError the API server
   * answers with when admission refuses it; resolves to the warnings and refused controller
   * deletions otherwise. A request the store would refuse anyway (not found, invalid …) is not sent
   * to webhooks: the API server validates before validating admission.
   */
  async admit(
    store: ObjectStore,
    info: RequestInfo,
    rawBody: string,
    contentType: string,
    user: UserInfo,
  ): Promise<AdmissionOutcome> {
    if (!info.verb || !MUTATING.has(info.verb)) return EMPTY;
    if (store.all("ValidatingWebhookConfiguration").length === 0) return EMPTY;
    const type = RESOURCE_TYPES.find(
      (t) => t.plural === info.resource && t.group === info.group && t.version === info.version,
    );
    // Webhook configurations are never sent to webhooks; reviews (SelfSubjectReview …) are not stored.
    if (!type || CONFIGURATION_KINDS.has(type.kind) || type.review) return EMPTY;
    const body = parse(rawBody);
    const dryRun = isDryRun(info, body);

    const copy = copyStore(store);
    let result: unknown;
    try {
      result = simulate(copy, type, info, rawBody, contentType);
    } catch {
      return EMPTY;
    }
    const requests = primaryAttributes(store, type, info, body, result, dryRun, user);
    const warnings: string[] = [];
    const outcomes = await Promise.all(requests.map((a) => this.dispatch(store, a)));
    for (const outcome of outcomes) warnings.push(...outcome.warnings);
    // Like the real API server, the warnings of every webhook called reach the client, also with a refusal.
    const refused = outcomes.find((o) => o.error)?.error;
    if (refused) {
      refused.warnings = [...new Set(warnings)];
      throw refused;
    }
    const deniedDeletions = new Set<string>();
    if (!dryRun)
      await this.admitControllerDeletions(store, type, info, rawBody, contentType, requests, deniedDeletions);
    return { warnings: [...new Set(warnings)], deniedDeletions };
  }

  /**
   * The deletions the controllers would make, admitted with their users until no new refusal
   * changes what they delete (a refused claim keeps its volume, so that volume is not asked about again).
   */
  private async admitControllerDeletions(
    store: ObjectStore,
    type: ResourceType,
    info: RequestInfo,
    rawBody: string,
    contentType: string,
    primaries: Attributes[],
    denied: Set<string>,
  ): Promise<void> {
    const primaryUids = new Set(
      primaries.map((a) => a.oldObject?.metadata.uid).filter((u) => u !== undefined),
    );
    const decided = new Set<string>();
    for (let round = 0; round < 10; round++) {
      const copy = copyStore(store);
      DENIED_DELETIONS.set(copy, denied);
      try {
        simulate(copy, type, info, rawBody, contentType);
      } catch {
        return;
      }
      const deleted = [...store.objects.entries()]
        .filter(([key, obj]) => copy.objects.get(key)?.metadata.uid !== obj.metadata.uid)
        .map(([, obj]) => obj);
      const fresh = deleted.filter((o) => !primaryUids.has(o.metadata.uid!) && !decided.has(o.metadata.uid!));
      if (fresh.length === 0) return;
      const before = denied.size;
      const outcomes = await Promise.all(
        fresh.map((obj) => {
          decided.add(obj.metadata.uid!);
          return this.dispatch(store, {
            operation: "DELETE",
            type: typeOf(obj),
            name: obj.metadata.name,
            namespace: obj.kind === "Namespace" ? obj.metadata.name : (obj.metadata.namespace ?? ""),
            object: null,
            oldObject: clone(obj),
            dryRun: false,
            options: { kind: "DeleteOptions", apiVersion: "meta.k8s.io/v1", propagationPolicy: "Background" },
            user: deleter(store, obj, deleted),
          });
        }),
      );
      outcomes.forEach((o, i) => {
        if (o.error) denied.add(fresh[i]!.metadata.uid!);
      });
      if (denied.size === before) return;
    }
  }

  /** Calls every matching webhook for one request; the first refusal in configuration order wins. */
  private async dispatch(
    store: ObjectStore,
    attr: Attributes,
  ): Promise<{ warnings: string[]; error?: ApiStatusError }> {
    const hooks = store
      .all("ValidatingWebhookConfiguration")
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0))
      .flatMap((config) => (Array.isArray(config.webhooks) ? (config.webhooks as Webhook[]) : []))
      .filter((hook) => isObj(hook) && matches(store, hook, attr));
    const results = await Promise.all(hooks.map((hook) => this.call(hook, attr)));
    const warnings = results.flatMap((r) => r.warnings);
    const error = results.find((r) => r.error)?.error;
    return { warnings, ...(error ? { error } : {}) };
  }

  private async call(
    hook: Webhook,
    attr: Attributes,
  ): Promise<{ warnings: string[]; error?: ApiStatusError }> {
    if (attr.dryRun && hook.sideEffects !== "None" && hook.sideEffects !== "NoneOnDryRun") {
      return {
        warnings: [],
        error: new ApiStatusError(
          400,
          "BadRequest",
          `admission webhook "${hook.name}" does not support dry run`,
        ),
      };
    }
    const uid = randomUUID();
    const review = admissionReview(uid, attr);
    let response: unknown;
    try {
      response = await this.post(hook, review);
      const verified = verify(uid, response);
      const warnings = verified.warnings;
      if (verified.allowed) return { warnings };
      return { warnings, error: denial(hook.name, verified.status) };
    } catch (error) {
      if (!(error instanceof CallError)) throw error;
      if (hook.failurePolicy === "Ignore") return { warnings: [] };
      const message = `failed calling webhook "${hook.name}": ${error.message}`;
      return {
        warnings: [],
        error: new ApiStatusError(500, "InternalError", `Internal error occurred: ${message}`, {
          causes: [{ message }],
        }),
      };
    }
  }

  /** POSTs the review to the webhook; CallError for anything that is not an HTTP 200 JSON answer. */
  private post(hook: Webhook, review: Json): Promise<unknown> {
    const timeoutSeconds = typeof hook.timeoutSeconds === "number" ? hook.timeoutSeconds : 10;
    const target = this.target(hook);
    if (typeof target === "string") return Promise.reject(new CallError(target));
    const url = new URL(target.url);
    url.searchParams.set("timeout", `${timeoutSeconds}s`);
    const shown = url.toString();
    const failed = (why: string): CallError =>
      new CallError(`failed to call webhook: Post "${shown}": ${why}`);
    const payload = JSON.stringify(review);
    return new Promise((resolve, reject) => {
      const options: https.RequestOptions = {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json, */*",
          "Content-Length": Buffer.byteLength(payload),
        },
        ...(target.servername ? { servername: target.servername } : {}),
        ...(target.ca ? { ca: target.ca } : {}),
        agent: false,
      };
      const request = (url.protocol === "https:" ? https : http).request(url, options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", (e) => reject(failed(e.message)));
        res.on("end", () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          if (res.statusCode !== 200) {
            const message =
              isObj(parsed) && parsed.kind === "Status" && typeof parsed.message === "string"
                ? parsed.message
                : `an error on the server (${JSON.stringify(text.slice(0, 200))}) has prevented the request from succeeding`;
            reject(new CallError(`failed to call webhook: ${message}`));
          } else if (parsed === undefined) {
            reject(
              new CallError(`failed to call webhook: the server responded with a body that is not JSON`),
            );
          } else resolve(parsed);
        });
      });
      const timer = setTimeout(() => {
        request.destroy(failed("context deadline exceeded"));
      }, timeoutSeconds * 1000);
      request.on("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (e instanceof CallError) reject(e);
        else reject(failed(transportError(e, url)));
      });
      request.end(payload);
    });
  }

  private target(hook: Webhook): { url: string; ca?: string; servername?: string } | string {
    const config = isObj(hook.clientConfig) ? hook.clientConfig : {};
    const ca =
      typeof config.caBundle === "string"
        ? Buffer.from(config.caBundle, "base64").toString("utf8")
        : undefined;
    if (typeof config.url === "string") return { url: config.url, ...(ca ? { ca } : {}) };
    const service = config.service;
    if (isObj(service) && typeof service.name === "string" && typeof service.namespace === "string") {
      const port = typeof service.port === "number" ? service.port : 443;
      const key = `${service.namespace}/${service.name}:${port}`;
      const base =
        this.options.services?.[key] ??
        (port === 443 ? this.options.services?.[`${service.namespace}/${service.name}`] : undefined);
      if (!base) {
        return `failed to call webhook: service "${service.namespace}/${service.name}:${port}" is not mapped to an address (the simulated API server's webhookServices option)`;
      }
      const path = typeof service.path === "string" ? service.path : "/";
      return {
        url: base.replace(/\/$/, "") + (path.startsWith("/") ? path : `/${path}`),
        servername: `${service.name}.${service.namespace}.svc`,
        ...(ca ? { ca } : {}),
      };
    }
    return "failed to call webhook: the webhook has neither clientConfig.url nor clientConfig.service";
  }
}

/** Runs `apply` (the request itself) with controller deletions refused by admission left undone. */
export function withDeniedDeletions<T>(store: ObjectStore, denied: ReadonlySet<string>, apply: () => T): T {
  if (denied.size === 0) return apply();
  DENIED_DELETIONS.set(store, denied);
  try {
    return apply();
  } finally {
    DENIED_DELETIONS.delete(store);
  }
}

/** `Warning` header values for warnings, as k8s.io/apimachinery/pkg/util/net.NewWarningHeader writes them. */
export function warningHeaders(warnings: readonly string[]): string[] {
  return warnings.map((w) =>
    // Header values travel as bytes: UTF-8 text (→, …) is sent as its bytes, as the real server
    // does; Node refuses characters above U+00FF in a header string.
    Buffer.from(
      `299 - "${w
        // eslint-disable-next-line no-control-regex -- control characters are what it replaces
        .replace(/[\u0000-\u001f\u007f]/g, " ")
        .replace(/\\/g, "\\\\")
        .replace(/"/g, '\\"')}"`,
      "utf8",
    ).toString("latin1"),
  );
}

class CallError extends Error {}

/** A Status error whose body is exactly the Status the webhook's refusal makes (no empty reason). */
class WebhookStatusError extends ApiStatusError {
  constructor(private readonly status: Json) {
    super(
      status.code as number,
      typeof status.reason === "string" ? status.reason : "",
      status.message as string,
      isObj(status.details) ? status.details : undefined,
    );
  }

  override toStatus(): Record<string, unknown> {
    return clone(this.status);
  }
}

/** webhook/errors/statuserror.go ToStatusErr. */
function denial(name: string, result: Json | undefined): ApiStatusError {
  const status: Json = isObj(result) ? clone(result) : {};
  const deniedBy = `admission webhook "${name}" denied the request`;
  if (typeof status.code !== "number" || status.code < 400) status.code = 403;
  if (status.status === undefined || status.status === "" || status.status === "Success")
    status.status = "Failure";
  if (typeof status.message === "string" && status.message !== "")
    status.message = `${deniedBy}: ${status.message}`;
  else if (typeof status.reason === "string" && status.reason !== "")
    status.message = `${deniedBy}: ${status.reason}`;
  else status.message = `${deniedBy} without explanation`;
  const body: Json = {
    kind: "Status",
    apiVersion: "v1",
    metadata: isObj(status.metadata) ? status.metadata : {},
  };
  for (const field of ["status", "message", "reason", "details", "code"]) {
    if (status[field] !== undefined && status[field] !== "") body[field] = status[field];
  }
  return new WebhookStatusError(body);
}

/** webhook/request/admissionreview.go VerifyAdmissionResponse (v1). */
function verify(uid: string, review: unknown): { allowed: boolean; warnings: string[]; status?: Json } {
  if (!isObj(review)) throw new CallError("webhook response was absent");
  if (review.apiVersion !== "admission.k8s.io/v1" || review.kind !== "AdmissionReview") {
    throw new CallError(
      `expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${String(review.apiVersion ?? "")}, Kind=${String(review.kind ?? "")}`,
    );
  }
  const response = review.response;
  if (!isObj(response)) throw new CallError("webhook response was absent");
  if (response.uid !== uid) {
    throw new CallError(`expected response.uid="${uid}", got "${String(response.uid ?? "")}"`);
  }
  if (response.patch !== undefined || response.patchType !== undefined) {
    throw new CallError("validating webhook may not return a patch");
  }
  const warnings = Array.isArray(response.warnings)
    ? response.warnings.filter((w): w is string => typeof w === "string" && w.trim() !== "")
    : [];
  return {
    allowed: response.allowed === true,
    warnings,
    ...(isObj(response.status) ? { status: response.status } : {}),
  };
}

function admissionReview(uid: string, attr: Attributes): Json {
  const { type } = attr;
  const scale = attr.subresource === "scale";
  const kind = scale
    ? { group: "autoscaling", version: "v1", kind: "Scale" }
    : { group: type.group, version: type.version, kind: type.kind };
  const resource = { group: type.group, version: type.version, resource: type.plural };
  return {
    kind: "AdmissionReview",
    apiVersion: "admission.k8s.io/v1",
    request: {
      uid,
      kind,
      resource,
      ...(attr.subresource ? { subResource: attr.subresource } : {}),
      requestKind: kind,
      requestResource: resource,
      ...(attr.subresource ? { requestSubResource: attr.subresource } : {}),
      ...(attr.name ? { name: attr.name } : {}),
      ...(attr.namespace ? { namespace: attr.namespace } : {}),
      operation: attr.operation,
      userInfo: attr.user,
      object: attr.object,
      oldObject: attr.oldObject,
      dryRun: attr.dryRun,
      options: attr.options,
    },
  };
}

// ---- matching (webhook/predicates/rules, namespace and object selectors)

function matches(store: ObjectStore, hook: Webhook, attr: Attributes): boolean {
  const rules = Array.isArray(hook.rules) ? hook.rules : [];
  if (!rules.some((rule) => ruleMatches(rule, attr))) return false;
  if (!namespaceSelectorMatches(store, hook.namespaceSelector, attr)) return false;
  const selector = hook.objectSelector;
  if (!selector || selectorEmpty(selector)) return true;
  return (
    (attr.object !== null && selectorMatches(selector, attr.object.metadata.labels)) ||
    (attr.oldObject !== null && selectorMatches(selector, attr.oldObject.metadata.labels))
  );
}

function ruleMatches(rule: NonNullable<Webhook["rules"]>[number], attr: Attributes): boolean {
  const has = (list: string[] | undefined, value: string): boolean =>
    Array.isArray(list) && (list.includes("*") || list.includes(value));
  if (!has(rule.operations, attr.operation)) return false;
  if (!has(rule.apiGroups, attr.type.group)) return false;
  if (!has(rule.apiVersions, attr.type.version)) return false;
  const sub = attr.subresource ?? "";
  const resourceMatch = (rule.resources ?? []).some((r) => {
    const slash = r.indexOf("/");
    const [res, rsub] = slash < 0 ? [r, ""] : [r.slice(0, slash), r.slice(slash + 1)];
    return (res === "*" || res === attr.type.plural) && (rsub === "*" || rsub === sub);
  });
  if (!resourceMatch) return false;
  const isNamespace = attr.type.kind === "Namespace";
  switch (rule.scope ?? "*") {
    case "Cluster":
      return isNamespace || attr.namespace === "";
    case "Namespaced":
      return !isNamespace && attr.namespace !== "";
    default:
      return true;
  }
}

function namespaceSelectorMatches(
  store: ObjectStore,
  selector: LabelSelector | undefined,
  attr: Attributes,
): boolean {
  if (!selector || selectorEmpty(selector)) return true;
  const isNamespace = attr.type.kind === "Namespace" && !attr.subresource;
  if (attr.namespace === "" && !isNamespace) return true;
  let labels: Record<string, string> | undefined;
  if (isNamespace && (attr.operation === "CREATE" || attr.operation === "UPDATE"))
    labels = attr.object?.metadata.labels;
  else labels = store.find("Namespace", attr.namespace)?.metadata.labels ?? attr.oldObject?.metadata.labels;
  return selectorMatches(selector, labels);
}

function selectorEmpty(selector: LabelSelector): boolean {
  const expressions = selector.matchExpressions;
  return (
    Object.keys(selector.matchLabels ?? {}).length === 0 &&
    (Array.isArray(expressions) ? expressions.length : 0) === 0
  );
}

function selectorMatches(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const requirements: LabelRequirement[] = [
    ...Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
      key,
      operator: "=" as const,
      values: [value],
    })),
    ...(selector.matchExpressions ?? []).map((e) => ({
      key: e.key,
      operator:
        e.operator === "In"
          ? ("in" as const)
          : e.operator === "NotIn"
            ? ("notin" as const)
            : e.operator === "Exists"
              ? ("exists" as const)
              : ("!" as const),
      values: e.values ?? [],
    })),
  ];
  return matchesLabelRequirements(labels, requirements);
}

// ---- the request and its consequences

function primaryAttributes(
  store: ObjectStore,
  type: ResourceType,
  info: RequestInfo,
  body: unknown,
  result: unknown,
  dryRun: boolean,
  user: UserInfo,
): Attributes[] {
  const base = { type, dryRun, user, ...(info.subresource ? { subresource: info.subresource } : {}) };
  const namespaceOf = (obj: K8sObject): string =>
    type.kind === "Namespace" ? obj.metadata.name : (obj.metadata.namespace ?? "");
  const query = info.query;
  const common = (kind: string): Json => ({
    kind,
    apiVersion: "meta.k8s.io/v1",
    ...(query.getAll("dryRun").length ? { dryRun: query.getAll("dryRun") } : {}),
    ...(query.get("fieldManager") ? { fieldManager: query.get("fieldManager") } : {}),
  });
  switch (info.verb) {
    case "create": {
      const obj = stripCode(result);
      return [
        {
          ...base,
          operation: "CREATE",
          name: obj.metadata.name,
          namespace: namespaceOf(obj),
          object: obj,
          oldObject: null,
          options: common("CreateOptions"),
        },
      ];
    }
    case "update":
    case "patch": {
      const old = store.objects.get(storeKey(type, info.namespace, info.name!));
      const obj = stripCode(result);
      return [
        {
          ...base,
          operation: "UPDATE",
          name: info.name!,
          namespace: type.kind === "Namespace" ? info.name! : (info.namespace ?? ""),
          object: obj,
          oldObject: old ? clone(old) : null,
          options: common(info.verb === "patch" ? "PatchOptions" : "UpdateOptions"),
        },
      ];
    }
    case "delete":
    case "deletecollection": {
      const options = deleteOptions(body, query);
      const targets =
        info.verb === "delete"
          ? [store.objects.get(storeKey(type, info.namespace, info.name!))]
          : (list(store, type, info.namespace, query).items as K8sObject[]).map((i) =>
              store.objects.get(storeKey(type, i.metadata.namespace, i.metadata.name)),
            );
      return targets
        .filter((o): o is K8sObject => o !== undefined)
        .map((old) => ({
          ...base,
          operation: "DELETE" as const,
          name: old.metadata.name,
          namespace: namespaceOf(old),
          object: null,
          oldObject: clone(old),
          options,
        }));
    }
    default:
      return [];
  }
}

function deleteOptions(body: unknown, query: URLSearchParams): Json {
  const options: Json = isObj(body) ? clone(body) : {};
  options.kind = "DeleteOptions";
  options.apiVersion = "meta.k8s.io/v1";
  const propagation = query.get("propagationPolicy");
  if (propagation && options.propagationPolicy === undefined) options.propagationPolicy = propagation;
  const grace = query.get("gracePeriodSeconds");
  if (grace !== null && options.gracePeriodSeconds === undefined) options.gracePeriodSeconds = Number(grace);
  if (query.getAll("dryRun").length && options.dryRun === undefined) options.dryRun = query.getAll("dryRun");
  return options;
}

/** Who deletes an object a request's consequences remove (the controller the real cluster runs for it). */
function deleter(store: ObjectStore, obj: K8sObject, deleted: readonly K8sObject[]): UserInfo {
  const deletedUids = new Set(deleted.map((o) => o.metadata.uid));
  const ns = obj.metadata.namespace;
  if (ns !== undefined && deleted.some((o) => o.kind === "Namespace" && o.metadata.name === ns))
    return NAMESPACE_CONTROLLER;
  const refs = obj.metadata.ownerReferences ?? [];
  if (refs.some((r) => deletedUids.has(r.uid))) return GARBAGE_COLLECTOR;
  // A StatefulSet's claims under its retention policy (whenDeleted/whenScaled: Delete): the real
  // StatefulSet controller only makes the StatefulSet (or the condemned pod) their owner; the garbage
  // collector deletes them (pkg/controller/statefulset/stateful_set_utils.go, StatefulSetAutoDeletePVC).
  if (obj.kind === "PersistentVolumeClaim" && ns !== undefined) {
    if (store.all("StatefulSet", ns).some((sts) => statefulSetClaims(store, sts).includes(obj))) {
      return GARBAGE_COLLECTOR;
    }
  }
  const controller = refs.find((r) => r.controller);
  if (controller?.kind === "StatefulSet") return STATEFULSET_CONTROLLER;
  if (controller?.kind === "ReplicaSet") return REPLICASET_CONTROLLER;
  if (obj.kind === "PersistentVolume") return VOLUME_CONTROLLER;
  if (obj.kind === "VolumeSnapshotContent") return SNAPSHOT_CONTROLLER;
  return GARBAGE_COLLECTOR;
}

/** Applies the request to a store (a copy), dry-run or not, and returns what the server would answer. */
function simulate(
  copy: ObjectStore,
  type: ResourceType,
  info: RequestInfo,
  rawBody: string,
  contentType: string,
): unknown {
  const query = new URLSearchParams(info.query);
  query.delete("dryRun");
  const request: RequestInfo = { ...info, query };
  let body = parse(rawBody);
  if (isObj(body) && Array.isArray(body.dryRun)) {
    body = clone(body);
    delete (body as Json).dryRun;
  }
  const read = (): unknown => body;
  if (info.subresource) return subresource(copy, type, request, read, contentType);
  switch (info.verb) {
    case "create":
      return create(copy, type, info.namespace, body, query);
    case "update":
      return update(copy, type, info.namespace, info.name!, body, query);
    case "patch":
      return patch(copy, type, info.namespace, info.name!, rawBody, contentType, query);
    case "delete":
      return deleteObject(copy, type, info.namespace, info.name!, body, query);
    case "deletecollection":
      return deleteCollection(copy, type, info.namespace, body, query);
    default:
      return undefined;
  }
}

function copyStore(store: ObjectStore): ObjectStore {
  const copy = new ObjectStore(store.now);
  for (const [key, obj] of store.objects) copy.objects.set(key, clone(obj));
  copy.rv = store.rv;
  copy.counter = store.counter;
  return copy;
}

function isDryRun(info: RequestInfo, body: unknown): boolean {
  if (info.query.getAll("dryRun").includes("All")) return true;
  return isObj(body) && Array.isArray(body.dryRun) && body.dryRun.includes("All");
}

function parse(rawBody: string): unknown {
  if (rawBody.trim() === "") return undefined;
  try {
    return JSON.parse(rawBody) as unknown;
  } catch {
    return undefined;
  }
}

function stripCode(result: unknown): K8sObject {
  const obj = clone(result) as Json;
  delete obj.__code;
  return obj as K8sObject;
}

function typeOf(obj: K8sObject): ResourceType {
  return RESOURCE_TYPES.find(
    (t) => t.kind === obj.kind && (t.group ? `${t.group}/${t.version}` : t.version) === obj.apiVersion,
  )!;
}

/** How Node reports a failed connection, in the words of Go's net/http client. */
function transportError(error: NodeJS.ErrnoException, url: URL): string {
  const address = `${url.hostname}:${url.port || (url.protocol === "https:" ? "443" : "80")}`;
  switch (error.code) {
    case "ECONNREFUSED":
      return `dial tcp ${address}: connect: connection refused`;
    case "ECONNRESET":
      return "read: connection reset by peer";
    case "ENOTFOUND":
      return `dial tcp: lookup ${url.hostname}: no such host`;
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
      return "tls: failed to verify certificate: x509: certificate signed by unknown authority";
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `tls: failed to verify certificate: x509: certificate is valid for other names, not ${url.hostname}`;
    case "CERT_HAS_EXPIRED":
      return "tls: failed to verify certificate: x509: certificate has expired or is not yet valid";
    default:
      return error.message;
  }
}
