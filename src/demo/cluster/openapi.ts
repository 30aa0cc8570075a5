/**
 * A minimal OpenAPI v3 document (`/openapi/v3` and `/openapi/v3/{api/v1|apis/group/version}`),
 * enough for `kubectl apply` and `kubectl create` to validate: each resource's PATCH operation
 * carries `x-kubernetes-group-version-kind` and the `fieldValidation` query parameter, so kubectl
 * leaves validation to the server (it sends `fieldValidation=Strict`) instead of downloading schemas.
 * There are no schemas: the simulator does not validate fields (unknown fields are kept, not
 * refused as a real API server does with Strict), and `kubectl explain` finds nothing.
 */
import { RESOURCE_TYPES, type Json, type ResourceType } from "./model.js";

function groupVersionPath(type: ResourceType): string {
  return type.group === "" ? `api/${type.version}` : `apis/${type.group}/${type.version}`;
}

/** The OpenAPI v3 document at `/openapi/v3/...` (segments after "openapi"), or undefined. */
export function openApiDocument(segments: readonly string[]): Json | undefined {
  if (segments[0] !== "v3") return undefined;
  const rest = segments.slice(1).join("/");
  const paths = [...new Set(RESOURCE_TYPES.map(groupVersionPath))];
  if (rest === "") {
    return {
      paths: Object.fromEntries(
        paths.map((p) => [p, { serverRelativeURL: `/openapi/v3/${p}?hash=${hashOf(p)}` }]),
      ),
    };
  }
  if (!paths.includes(rest)) return undefined;
  const types = RESOURCE_TYPES.filter((t) => groupVersionPath(t) === rest && !t.review);
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes (simulated by lifeline)", version: "v1.30.2" },
    paths: Object.fromEntries(
      types.map((t) => [
        `/${rest}/${t.namespaced ? "namespaces/{namespace}/" : ""}${t.plural}/{name}`,
        {
          patch: {
            operationId: `patch${t.kind}`,
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": { group: t.group, version: t.version, kind: t.kind },
            parameters: [
              { name: "dryRun", in: "query", schema: { type: "string", uniqueItems: true } },
              { name: "fieldManager", in: "query", schema: { type: "string", uniqueItems: true } },
              { name: "fieldValidation", in: "query", schema: { type: "string", uniqueItems: true } },
            ],
            responses: { "200": { description: "OK" } },
          },
        },
      ]),
    ),
    components: { schemas: {} },
  };
}

/** A stable tag for the `?hash=` of a group version's URL (clients cache by it). */
function hashOf(text: string): string {
  let h = 0;
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h.toString(16).toUpperCase().padStart(8, "0");
}
