import { gunzipSync } from "node:zlib";
import { parseAllDocuments } from "yaml";
import type { HelmRelease, ReleaseResource } from "../core/kubernetes/inventory.js";

/** Helm 3 keeps each revision in a Secret of this type, named sh.helm.release.v1.<name>.v<revision>. */
export const HELM_RELEASE_TYPE = "helm.sh/release.v1";

interface ReleaseRecord {
  name?: unknown;
  namespace?: unknown;
  version?: unknown;
  info?: { status?: unknown };
  chart?: { metadata?: { name?: unknown; version?: unknown; appVersion?: unknown } };
  manifest?: unknown;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/**
 * Decodes a release record as Helm stores it: the secret's `release` value is Helm's own base64 of
 * gzipped JSON (the Kubernetes API adds one more base64 layer, already removed by the caller).
 */
export function decodeRelease(encoded: string): ReleaseRecord {
  let bytes = Buffer.from(encoded.trim(), "base64");
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const parsed: unknown = JSON.parse(bytes.toString("utf8"));
  if (typeof parsed !== "object" || parsed === null) throw new Error("the release record is not an object");
  return parsed as ReleaseRecord;
}

/** The resources a rendered manifest creates (kind, name, namespace). */
export function manifestResources(manifest: string): ReleaseResource[] {
  const out: ReleaseResource[] = [];
  for (const doc of parseAllDocuments(manifest)) {
    if (!("errors" in doc) || doc.errors.length > 0) continue;
    collect(doc.toJS(), out);
  }
  return out;
}

/** One rendered object, or each item of a List (Helm flattens Lists when it applies them). */
function collect(value: unknown, out: ReleaseResource[]): void {
  if (typeof value !== "object" || value === null) return;
  const v = value as {
    kind?: unknown;
    items?: unknown;
    metadata?: { name?: unknown; namespace?: unknown; annotations?: Record<string, unknown> };
  };
  const kind = str(v.kind);
  if (kind?.endsWith("List") && Array.isArray(v.items)) {
    for (const item of v.items) collect(item, out);
    return;
  }
  const name = str(v.metadata?.name);
  if (!kind || !name) return;
  const keep = v.metadata?.annotations?.["helm.sh/resource-policy"] === "keep";
  out.push({ kind, name, namespace: str(v.metadata?.namespace), ...(keep ? { keep: true } : {}) });
}

/** A release revision from its record secret; null when the record cannot be decoded. */
export function releaseFromSecret(secret: {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  release: string;
}): HelmRelease | null {
  try {
    const record = decodeRelease(secret.release);
    const meta = record.chart?.metadata;
    return {
      name: str(record.name) ?? secret.labels.name ?? "?",
      namespace: str(record.namespace) ?? secret.namespace,
      revision: typeof record.version === "number" ? record.version : Number(secret.labels.version ?? 0),
      status: str(record.info?.status) ?? secret.labels.status ?? "unknown",
      chart: str(meta?.name) ?? "?",
      chartVersion: str(meta?.version) ?? "?",
      appVersion: str(meta?.appVersion),
      resources: manifestResources(str(record.manifest) ?? ""),
      recordSecret: secret.name,
    };
  } catch {
    return null;
  }
}
