/**
 * The HTTP face of the simulated API server: how a method and a path resolve to a request (verb,
 * resource, namespace, name, subresource), which requests a fault rule matches, and the discovery
 * documents (/api, /apis, /version, /openapi/v3) clients read before they call a resource.
 */
import { NO_STATUS_SUBRESOURCE, RESOURCE_TYPES, resourceTypeFor, type Json } from "./model.js";
import { openApiDocument } from "./openapi.js";

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

export interface Fault {
  rule: RequestRule;
  code: number;
  reason: string;
  message?: string;
}

export function ruleMatches(rule: RequestRule, info: RequestInfo): boolean {
  if (typeof rule === "function") return rule(info);
  if (rule.startsWith("/")) return info.path.startsWith(rule);
  const type = resourceTypeFor(rule);
  return type !== undefined && info.resource === type.plural && info.group === type.group;
}

/** Version reported by /version; the suffix says the cluster is simulated. */
export const SIMULATED_VERSION = {
  major: "1",
  minor: "30",
  gitVersion: "v1.30.2-lifeline-simulated",
} as const;

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

/** The discovery document at a path (segments of it), or undefined when the path is not one. */
export function discovery(segments: string[], address: string | undefined): unknown {
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
        "/openapi/v3",
        "/readyz",
        "/version",
      ],
    };
  }
  if (first === "openapi") return openApiDocument(segments.slice(1));
  if (segments.length === 1 && (first === "healthz" || first === "livez" || first === "readyz")) return "ok";
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
      serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: address ?? "127.0.0.1:0" }],
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
  const verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
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
        verbs: t.review
          ? ["create"]
          : t.kind === "Namespace" || t.kind === "Node"
            ? verbs.filter((v) => v !== "deletecollection")
            : verbs,
        ...(t.shortNames ? { shortNames: t.shortNames } : {}),
        ...(t.categories ? { categories: t.categories } : {}),
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
