/**
 * A simulated Kubernetes API server, in process, over real HTTP (node:http only).
 *
 * It serves the paths of the real API server (`/api/v1/...`, `/apis/{group}/{version}/...`) for the
 * resources lifeline reads and changes, with real Kubernetes semantics simplified to be immediate:
 * deleting a claim releases or deletes its volume by reclaim policy, owners take their dependents
 * with them (garbage collection by ownerReferences), StatefulSets keep their claims unless their
 * retention policy says otherwise, and controllers recreate the pods they own.
 *
 * Like a real cluster it speaks HTTPS only, with a serving certificate signed by its own CA
 * (generated at start, see src/support/tls.ts), and answers 401 to requests without its bearer
 * token.
 *
 * It is used by the tests and by `lifeline demo` (where it is labelled "simulated cluster"). It is
 * not a conformance-tested API server: watches are simplified (watch.ts), no mutating admission webhooks (validating ones are
 * called, see webhooks.ts; built-in admission is a default StorageClass and immutable fields), no
 * graceful deletion (pods and claims disappear at once instead of staying Terminating behind the
 * `kubernetes.io/pvc-protection` finalizer), strategic merge patch is applied as JSON merge patch,
 * server-side apply creates or merges (no field ownership).
 *
 * The parts: model.ts (objects, resource types, uids), store.ts (objects and resourceVersions),
 * http.ts (request resolution, discovery), openapi.ts (what `kubectl apply` reads), table.ts
 * (what `kubectl get` prints), resources.ts (the verbs), patch.ts, selectors.ts,
 * admission.ts (defaults, immutable fields), webhooks.ts (validating admission webhooks), watch.ts
 * (watch streams),
 * controllers/ (what deletion and reconciliation do).
 */
import type http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { generateCa, issueServerCertificate, type CertificateAndKey } from "../../support/tls.js";
import { reconcile } from "./controllers/index.js";
import { deleteWithEffects } from "./controllers/deletion.js";
import { ApiStatusError, badRequest, methodNotAllowed, pageNotFound } from "./errors.js";
import {
  discovery,
  resolveRequest,
  ruleMatches,
  type Fault,
  type RecordedRequest,
  type RequestInfo,
  type RequestRule,
} from "./http.js";
import { SIMULATED_KUBECONFIG_USER, SIMULATED_TOKEN } from "./kubeconfig.js";
import {
  RESOURCE_TYPES,
  clone,
  compareObjects,
  groupVersion,
  isObj,
  storeKey,
  timestamp,
  type Json,
  type K8sObject,
  type Propagation,
} from "./model.js";
import {
  create,
  deleteCollection,
  deleteObject,
  list,
  patch,
  requireObject,
  subresource,
  update,
} from "./resources.js";
import { review } from "./reviews.js";
import { ObjectStore } from "./store.js";
import { WatchHub } from "./watch.js";
import { asTable, wantsTable } from "./table.js";
import {
  WebhookAdmission,
  warningHeaders,
  withDeniedDeletions,
  type UserInfo,
  type WebhookOptions,
} from "./webhooks.js";

export interface SimulatedApiServerOptions {
  /** Objects the cluster starts with (deep-copied; `reset()` returns to them). */
  fixtures?: readonly K8sObject[];
  /** Bearer token requests must carry; `null` accepts any request. Default {@link SIMULATED_TOKEN}. */
  token?: string | null;
  /** The user name shown in Forbidden messages. */
  user?: string;
  /** Clock for timestamps of objects created or deleted at run time. */
  now?: () => Date;
  /**
   * More bearer tokens and the users they authenticate (as AdmissionReview `userInfo` shows them),
   * e.g. `{ "alice-token": { username: "alice", groups: ["system:authenticated"] } }`.
   */
  users?: Record<string, UserInfo>;
  /** Where webhooks' `clientConfig.service` references are reached (webhooks.ts). */
  webhookServices?: WebhookOptions["services"];
  /**
   * The serving certificate and its CA (PEM). Default: a CA and a certificate for 127.0.0.1 and
   * localhost generated at construction, like a cluster's own CA.
   */
  tls?: { ca: string; cert: string; key: string };
  /** How often watches that allow bookmarks get one (default 1 s; the real API server: ~1 min). */
  watchBookmarkMs?: number;
}

/** The user of the simulated kubeconfig, as Forbidden messages name it. */
export const SIMULATED_USER = SIMULATED_KUBECONFIG_USER;

export class SimulatedApiServer {
  private readonly store: ObjectStore;
  private fixtures: K8sObject[];
  private faults: Fault[] = [];
  private server: https.Server | undefined;
  private address: string | undefined;
  private readonly token: string | null;
  private readonly user: string;
  private readonly now: () => Date;
  private readonly users: Map<string, UserInfo>;
  private readonly webhooks: WebhookAdmission;
  private readonly tls: { ca: string; cert: string; key: string };
  private readonly watches: WatchHub;
  /** Every request served, in order (also those answered with an error). */
  readonly requests: RecordedRequest[] = [];

  constructor(options: SimulatedApiServerOptions = {}) {
    this.fixtures = clone([...(options.fixtures ?? [])]);
    this.token = options.token === undefined ? SIMULATED_TOKEN : options.token;
    this.user = options.user ?? SIMULATED_USER;
    this.now = options.now ?? (() => new Date());
    this.users = new Map(Object.entries(options.users ?? {}));
    this.webhooks = new WebhookAdmission({
      ...(options.webhookServices ? { services: options.webhookServices } : {}),
    });
    this.tls = options.tls ?? simulatedTls();
    this.store = new ObjectStore(this.now);
    this.watches = new WatchHub(this.store, {
      now: this.now,
      ...(options.watchBookmarkMs !== undefined ? { bookmarkMs: options.watchBookmarkMs } : {}),
    });
    this.store.onEvents = (events) => this.watches.dispatch(events);
    this.reset();
  }

  // ---- lifecycle

  /** Starts listening (HTTPS); resolves to the base URL (https://127.0.0.1:<port>). */
  async listen(port = 0, host = "127.0.0.1"): Promise<string> {
    if (this.server) return this.url;
    const server = https.createServer({ cert: this.tls.cert, key: this.tls.key }, (req, res) => {
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
    return `https://${this.address}`;
  }

  /** The PEM certificate of the CA that signed the serving certificate (kubeconfig's certificate-authority-data). */
  get ca(): string {
    return this.tls.ca;
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
    this.faults = [];
    this.requests.length = 0;
    this.store.load(this.fixtures);
    // The history starts again: open watches end with 410 Expired and their clients list again.
    this.watches.expireAll();
  }

  // ---- state access for tests and the demo

  /** Deep copies of the current objects, optionally of one kind (kind, plural or short name) and namespace. */
  objects(kind?: string, namespace?: string): K8sObject[] {
    const type = kind === undefined ? undefined : this.store.requireType(kind);
    return [...this.store.objects.values()]
      .filter((o) => (type ? o.kind === type.kind && o.apiVersion === groupVersion(type) : true))
      .filter((o) => (namespace === undefined ? true : o.metadata.namespace === namespace))
      .sort(compareObjects)
      .map(clone);
  }

  /** A deep copy of one object, or undefined. */
  get(kind: string, name: string, namespace?: string): K8sObject | undefined {
    const type = this.store.requireType(kind);
    const obj = this.store.objects.get(storeKey(type, type.namespaced ? namespace : undefined, name));
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
    const stored = this.store.put(object);
    this.store.flush();
    return stored;
  }

  /** Removes an object directly, with the same consequences as a DELETE. */
  remove(kind: string, name: string, namespace?: string, propagation: Propagation = "Background"): boolean {
    const type = this.store.requireType(kind);
    const obj = this.store.objects.get(storeKey(type, type.namespaced ? namespace : undefined, name));
    if (!obj) return false;
    deleteWithEffects(this.store, obj, propagation, timestamp(this.now()));
    reconcile(this.store);
    this.store.flush();
    return true;
  }

  // ---- watches

  /** How many watches are open. */
  get watchCount(): number {
    return this.watches.size;
  }

  /** Cuts every open watch's connection (a network failure); returns how many there were. */
  dropWatches(): number {
    return this.watches.dropAll();
  }

  /** How many changes a watch can replay before its resourceVersion is too old (410). Default 50,000. */
  set watchHistory(events: number) {
    this.store.maxEvents = events;
  }

  /** The current value of the global resourceVersion counter. */
  get resourceVersion(): string {
    return this.store.resourceVersion;
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
    let warnings: string[] = [];
    try {
      const user = this.authenticate(req);
      this.applyFaults(info);
      if (info.verb === "watch" && req.method === "GET") {
        // A stream that stays open: answered by the watch hub, recorded now.
        this.watch(info, req, res);
        this.record(info, url, contentType, 200);
        return;
      }
      // ---- validating admission webhooks (webhooks.ts), before a mutating request is applied
      const admission = await this.webhooks.admit(this.store, info, rawBody, contentType, user);
      warnings = admission.warnings;
      body = withDeniedDeletions(this.store, admission.deniedDeletions, () =>
        this.route(info, rawBody, contentType, user),
      );
      if (
        (info.verb === "list" || info.verb === "get") &&
        !info.subresource &&
        wantsTable(req.headers.accept)
      ) {
        body = this.table(info, body as Json);
      }
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
      if (e.warnings.length > 0) warnings = e.warnings;
    }
    // What the request (and the controllers after it) wrote, to the watches.
    this.store.flush();
    this.record(info, url, contentType, code);
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const headers = {
      "Content-Type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json",
      "Content-Length": Buffer.byteLength(text),
      "Cache-Control": "no-cache, private",
    };
    try {
      res.writeHead(code, {
        ...headers,
        ...(warnings.length > 0 ? { Warning: warningHeaders(warnings) } : {}),
      });
    } catch {
      // A warning Node cannot put in a header must not leave the client waiting: answer without it.
      res.writeHead(code, headers);
    }
    res.end(text);
  }

  private record(info: RequestInfo, url: URL, contentType: string, code: number): void {
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
  }

  /** `?watch=true` on a collection: a stream of events (watch.ts). */
  private watch(info: RequestInfo, req: http.IncomingMessage, res: http.ServerResponse): void {
    const type = RESOURCE_TYPES.find(
      (t) => t.plural === info.resource && t.group === info.group && t.version === info.version,
    );
    if (!type || type.review || info.subresource) throw pageNotFound();
    if (!type.namespaced && info.namespace !== undefined) throw pageNotFound();
    const table = wantsTable(req.headers.accept) ? { includeObject: info.query.get("includeObject") } : null;
    this.watches.open(type, info.namespace, info.query, table, res);
  }

  /** What `kubectl get` prints: the object or list as a meta.k8s.io Table (table.ts). */
  private table(info: RequestInfo, body: Json): Json {
    const type = RESOURCE_TYPES.find((t) => t.plural === info.resource && t.group === info.group);
    return type ? asTable(type.kind, body, this.now(), info.query.get("includeObject")) : body;
  }

  /** The user of the request's bearer token (the `users` option, else the simulated kubeconfig's user). */
  private authenticate(req: http.IncomingMessage): UserInfo {
    const header = req.headers.authorization ?? "";
    const known = header.startsWith("Bearer ") ? this.users.get(header.slice("Bearer ".length)) : undefined;
    if (known) return known;
    if (this.token !== null && header !== `Bearer ${this.token}`) {
      throw new ApiStatusError(401, "Unauthorized", "Unauthorized");
    }
    return { username: this.user, groups: ["system:masters", "system:authenticated"] };
  }

  /** Whether a forbid() rule matches a request with these attributes (what `kubectl auth can-i` asks). */
  private forbidden(attributes: RequestInfo): boolean {
    return this.faults.some((f) => f.code === 403 && ruleMatches(f.rule, attributes));
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

  private route(info: RequestInfo, rawBody: string, contentType: string, user: UserInfo): unknown {
    const segments = info.path.split("/").filter(Boolean);
    if (info.method === "GET" && !info.verb) {
      const document = discovery(segments, this.address);
      if (document !== undefined) return document;
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
    if (info.verb === "watch") throw methodNotAllowed(info);

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

    if (type.review) {
      if (info.verb !== "create") throw methodNotAllowed(info);
      return review(type, body(), user, (attributes) => !this.forbidden(attributes));
    }
    if (info.subresource) return subresource(this.store, type, info, body, contentType);
    switch (info.verb) {
      case "list":
        return list(this.store, type, info.namespace, info.query);
      case "get":
        return clone(requireObject(this.store, type, info.namespace, info.name!));
      case "create":
        return create(this.store, type, info.namespace, body(), info.query);
      case "update":
        return update(this.store, type, info.namespace, info.name!, body(), info.query);
      case "patch":
        return patch(this.store, type, info.namespace, info.name!, rawBody, contentType, info.query);
      case "delete":
        return deleteObject(this.store, type, info.namespace, info.name!, body(), info.query);
      case "deletecollection":
        return deleteCollection(this.store, type, info.namespace, body(), info.query);
    }
  }
}

/** A CA and a serving certificate for 127.0.0.1 and localhost. */
function simulatedTls(): { ca: string; cert: string; key: string } {
  const ca: CertificateAndKey = generateCa({ commonName: "lifeline simulated cluster CA" });
  const serving = issueServerCertificate(ca, ["127.0.0.1", "localhost"], { commonName: "kube-apiserver" });
  return { ca: ca.cert, cert: serving.cert, key: serving.key };
}
