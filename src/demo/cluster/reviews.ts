/**
 * The reviews a client asks about itself: `SelfSubjectReview` (who am I: `kubectl auth whoami`,
 * and how lifeline learns the Kubernetes user it acts as) and `SelfSubjectAccessReview` (may I:
 * `kubectl auth can-i`). Who am I is the user the request's bearer token authenticates (the
 * `users` option, else the simulated kubeconfig's user); every user may do everything except what
 * a test forbade with `forbid()`.
 */
import { badRequest } from "./errors.js";
import type { RequestInfo, Verb } from "./http.js";
import type { UserInfo } from "./webhooks.js";
import { groupVersion, isObj, type Json, type ResourceType } from "./model.js";

/** The answer to a create of a review type (201, nothing stored). */
export function review(
  type: ResourceType,
  body: unknown,
  user: UserInfo,
  allowed: (attributes: RequestInfo) => boolean,
): Json {
  const head = { apiVersion: groupVersion(type), kind: type.kind, metadata: { creationTimestamp: null } };
  if (type.kind === "SelfSubjectReview") {
    // The user the request's credentials authenticate (as kube-apiserver's whoami endpoint answers).
    const userInfo: Json = { username: user.username, groups: [...(user.groups ?? [])] };
    if (user.uid !== undefined) userInfo.uid = user.uid;
    if (user.extra !== undefined) userInfo.extra = user.extra;
    return { ...head, status: { userInfo }, __code: 201 };
  }
  const spec = isObj(body) && isObj(body.spec) ? body.spec : undefined;
  if (!spec) throw badRequest("spec: Required value");
  const attrs = isObj(spec.resourceAttributes) ? spec.resourceAttributes : undefined;
  const nonResource = isObj(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
  const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
  const attributes: RequestInfo = attrs
    ? {
        method: "GET",
        path: "",
        query: new URLSearchParams(),
        verb: (text(attrs.verb) ?? "get") as Verb,
        group: text(attrs.group) ?? "",
        version: text(attrs.version) ?? "v1",
        resource: text(attrs.resource) ?? "",
        ...(text(attrs.subresource) ? { subresource: text(attrs.subresource)! } : {}),
        ...(text(attrs.namespace) ? { namespace: text(attrs.namespace)! } : {}),
        ...(text(attrs.name) ? { name: text(attrs.name)! } : {}),
      }
    : {
        method: (text(nonResource?.verb) ?? "get").toUpperCase(),
        path: text(nonResource?.path) ?? "/",
        query: new URLSearchParams(),
      };
  const yes = allowed(attributes);
  return {
    ...head,
    spec,
    status: yes
      ? { allowed: true, reason: "the simulated cluster's user may do everything" }
      : { allowed: false, reason: "forbidden by the simulated cluster (a test's forbid rule)" },
    __code: 201,
  };
}
