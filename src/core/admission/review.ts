/**
 * Kubernetes validating admission, read as lifeline reads a command: an `admission.k8s.io/v1`
 * AdmissionReview becomes the kubectl command line that would make the same change, so that the
 * webhook judges it with exactly the planner and policy of `lifeline plan -- kubectl …`. Pure.
 */

export const ADMISSION_API_VERSION = "admission.k8s.io/v1";

export interface AdmissionUser {
  username: string;
  uid: string | null;
  groups: string[];
}

/** The fields of an AdmissionReview request lifeline reads. */
export interface AdmissionRequest {
  uid: string;
  operation: string;
  resource: { group: string; version: string; resource: string };
  subResource: string | null;
  name: string;
  namespace: string | null;
  userInfo: AdmissionUser;
  object: Record<string, unknown> | null;
  oldObject: Record<string, unknown> | null;
  dryRun: boolean;
}

export type ParsedReview =
  | { ok: true; request: AdmissionRequest }
  /** uid is null when the body does not even carry one (the answer cannot name the request). */
  | { ok: false; uid: string | null; reason: string };

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

function text(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/** Reads an AdmissionReview (already parsed JSON); says what is wrong with anything else. */
export function parseAdmissionReview(body: unknown): ParsedReview {
  const review = record(body);
  if (!review) return { ok: false, uid: null, reason: "the body is not a JSON object" };
  const request = record(review.request);
  const uid = text(request?.uid) || null;
  if (review.apiVersion !== ADMISSION_API_VERSION || review.kind !== "AdmissionReview") {
    return {
      ok: false,
      uid,
      reason: `lifeline answers ${ADMISSION_API_VERSION} AdmissionReview, not ${String(review.apiVersion ?? "(no apiVersion)")} ${String(review.kind ?? "(no kind)")}: set admissionReviewVersions: ["v1"] in the ValidatingWebhookConfiguration`,
    };
  }
  if (!request) return { ok: false, uid: null, reason: "the AdmissionReview has no request" };
  if (!uid) return { ok: false, uid: null, reason: "the AdmissionReview request has no uid" };
  const resource = record(request.resource);
  const operation = text(request.operation);
  if (!resource || text(resource.resource) === null || !operation) {
    return { ok: false, uid, reason: "the AdmissionReview request has no resource or operation" };
  }
  const user = record(request.userInfo);
  const groups = Array.isArray(user?.groups)
    ? user.groups.filter((g): g is string => typeof g === "string")
    : [];
  return {
    ok: true,
    request: {
      uid,
      operation,
      resource: {
        group: text(resource.group) ?? "",
        version: text(resource.version) ?? "",
        resource: text(resource.resource) ?? "",
      },
      subResource: text(request.subResource) || null,
      name: text(request.name) ?? "",
      namespace: text(request.namespace) || null,
      userInfo: { username: text(user?.username) ?? "", uid: text(user?.uid) || null, groups },
      object: record(request.object),
      oldObject: record(request.oldObject),
      dryRun: request.dryRun === true,
    },
  };
}

/** What the webhook does with a request. */
export type AdmissionSubject =
  /** Planned like `lifeline plan -- <argv>`. */
  | { kind: "plan"; argv: string[]; target: string; change: string }
  /** Not lifeline's to judge: allowed without planning. */
  | { kind: "ignore"; reason: string }
  /** Lifeline's to judge, but the request does not say enough: denied (fail closed). */
  | { kind: "invalid"; target: string; reason: string };

/** The resources the webhook judges, by API group and plural, with kubectl's word for them. */
const JUDGED: Record<string, { word: string; namespaced: boolean }> = {
  "/persistentvolumeclaims": { word: "pvc", namespaced: true },
  "/persistentvolumes": { word: "pv", namespaced: false },
  "/namespaces": { word: "namespace", namespaced: false },
  "apps/statefulsets": { word: "statefulset", namespaced: true },
};

function spec(o: Record<string, unknown> | null): Record<string, unknown> | null {
  return record(o?.spec);
}

function metaName(o: Record<string, unknown> | null): string | null {
  return text(record(o?.metadata)?.name) || null;
}

const RETAIN = "Retain";

/** persistentVolumeClaimRetentionPolicy as Kubernetes defaults it (both Retain). */
function retention(o: Record<string, unknown> | null): { whenDeleted: string; whenScaled: string } {
  const p = record(spec(o)?.persistentVolumeClaimRetentionPolicy);
  return { whenDeleted: text(p?.whenDeleted) ?? RETAIN, whenScaled: text(p?.whenScaled) ?? RETAIN };
}

/**
 * The kubectl command that makes the change a request asks for, when lifeline judges it: DELETE of
 * claims, volumes, namespaces and StatefulSets; a volume whose reclaim policy stops being Retain
 * (becomes Delete); a StatefulSet whose claim retention starts deleting claims. Everything else is
 * not lifeline's to judge.
 */
export function admissionSubject(req: AdmissionRequest): AdmissionSubject {
  const judged = JUDGED[`${req.resource.group}/${req.resource.resource}`];
  if (!judged) {
    return {
      kind: "ignore",
      reason: `lifeline does not judge ${req.resource.group ? `${req.resource.group}/` : ""}${req.resource.resource} (the webhook was not configured for it)`,
    };
  }
  if (req.subResource) {
    return { kind: "ignore", reason: `the ${req.subResource} subresource changes no data` };
  }
  const name = req.name || metaName(req.oldObject) || metaName(req.object) || "";
  const namespace = judged.namespaced ? req.namespace : null;
  const target = `${judged.word} ${namespace ? `${namespace}/` : ""}${name || "(no name)"}`;
  const scope = namespace ? ["-n", namespace] : [];
  if (!name) return { kind: "invalid", target, reason: "the request names no object" };
  if (judged.namespaced && !namespace) {
    return { kind: "invalid", target, reason: `the request names no namespace for ${judged.word} ${name}` };
  }
  if (req.operation === "DELETE") {
    if (!req.oldObject) {
      return {
        kind: "invalid",
        target,
        reason:
          "the DELETE request carries no oldObject (the object being deleted), so lifeline cannot tell what it is",
      };
    }
    return {
      kind: "plan",
      argv: ["kubectl", "delete", judged.word, name, ...scope],
      target,
      change: "delete",
    };
  }
  if (req.operation !== "UPDATE") {
    return { kind: "ignore", reason: `${req.operation} of ${judged.word} destroys no data` };
  }
  if (judged.word !== "pv" && judged.word !== "statefulset") {
    return { kind: "ignore", reason: `updating a ${judged.word} destroys no data` };
  }
  if (!req.oldObject || !req.object) {
    return {
      kind: "invalid",
      target,
      reason: `the UPDATE request lacks ${req.oldObject ? "object" : "oldObject"}, so lifeline cannot tell what changes`,
    };
  }
  if (judged.word === "pv") {
    const before = text(spec(req.oldObject)?.persistentVolumeReclaimPolicy) ?? RETAIN;
    const after = text(spec(req.object)?.persistentVolumeReclaimPolicy) ?? RETAIN;
    if (after === before || after === RETAIN) {
      return {
        kind: "ignore",
        reason: `the reclaim policy stays ${before === after ? after : `${before} → ${after}`}`,
      };
    }
    const patch = JSON.stringify({ spec: { persistentVolumeReclaimPolicy: after } });
    return {
      kind: "plan",
      argv: ["kubectl", "patch", "pv", name, "-p", patch],
      target,
      change: `reclaim policy ${before} → ${after}`,
    };
  }
  const before = retention(req.oldObject);
  const after = retention(req.object);
  const starts = (k: "whenDeleted" | "whenScaled") => after[k] !== RETAIN && before[k] !== after[k];
  if (!starts("whenDeleted") && !starts("whenScaled")) {
    return { kind: "ignore", reason: "the claim retention policy does not start deleting claims" };
  }
  const patch = JSON.stringify({ spec: { persistentVolumeClaimRetentionPolicy: after } });
  return {
    kind: "plan",
    argv: ["kubectl", "patch", "statefulset", name, ...scope, "-p", patch],
    target,
    change: `persistentVolumeClaimRetentionPolicy whenDeleted ${before.whenDeleted} → ${after.whenDeleted}, whenScaled ${before.whenScaled} → ${after.whenScaled}`,
  };
}

/** The `response` of an AdmissionReview. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
}

export function admissionReview(response: AdmissionResponse) {
  return { apiVersion: ADMISSION_API_VERSION, kind: "AdmissionReview", response };
}
