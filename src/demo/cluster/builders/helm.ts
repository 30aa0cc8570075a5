/**
 * Builders of what Helm leaves in a cluster: labels and annotations of chart-rendered objects,
 * the live objects the API server makes of them, and release records encoded exactly as Helm 3
 * stores them: Secret data `release` = base64(base64(gzip(JSON release))), the outer base64 being
 * the Kubernetes Secret encoding.
 */
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import type { Json, K8sObject } from "../model.js";
import { b64, meta, merge, simulatedUid } from "./meta.js";

export function helmLabels(
  chart: string,
  release: string,
  name: string,
  component?: string,
): Record<string, string> {
  return {
    ...(component ? { "app.kubernetes.io/component": component } : {}),
    "app.kubernetes.io/instance": release,
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/name": name,
    "helm.sh/chart": chart,
  };
}

export function selectorLabels(release: string, name: string, component?: string): Record<string, string> {
  return {
    ...(component ? { "app.kubernetes.io/component": component } : {}),
    "app.kubernetes.io/instance": release,
    "app.kubernetes.io/name": name,
  };
}

function helmAnnotations(release: string, namespace: string): Record<string, string> {
  return { "meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace };
}

/** What the API server adds to a chart-rendered object when Helm creates it. */
export function applied(rendered: K8sObject, created: string, release: string, extra: Json = {}): K8sObject {
  const ns = rendered.metadata.namespace;
  const live = merge(rendered, {
    metadata: {
      uid: simulatedUid(rendered.kind, ns, rendered.metadata.name),
      creationTimestamp: created,
      annotations: { ...rendered.metadata.annotations, ...helmAnnotations(release, ns ?? "") },
    },
  });
  return merge(live, extra);
}

// ---------------------------------------------------------------------------------------------
// Helm release records

/** A Helm 3 release as stored in its record (release.Release in Helm's Go code, JSON). */
export interface HelmReleaseRecord {
  name: string;
  namespace: string;
  version: number;
  info: {
    first_deployed: string;
    last_deployed: string;
    deleted: string;
    description: string;
    status:
      | "deployed"
      | "superseded"
      | "failed"
      | "uninstalling"
      | "pending-install"
      | "pending-upgrade"
      | "pending-rollback";
    notes?: string;
  };
  chart: {
    metadata: Json & { name: string; version: string; appVersion: string };
    lock?: Json | null;
    templates: Array<{ name: string; data: string }>;
    values: Json;
    schema: string | null;
    files: Array<{ name: string; data: string }>;
  };
  config: Json;
  manifest: string;
  hooks?: unknown[];
}

/** Helm's own encoding of a release: base64(gzip(JSON)), gzip at best compression like Go's writer. */
export function encodeHelmRelease(release: HelmReleaseRecord): string {
  const gz = gzipSync(Buffer.from(JSON.stringify(release), "utf8"), { level: 9 });
  gz[9] = 0xff; // OS byte "unknown", as Go's compress/gzip writes it
  return gz.toString("base64");
}

/** The Secret in which Helm 3 keeps a release revision (`--storage secret`, the default). */
export function helmReleaseSecret(release: HelmReleaseRecord, created: string, modified?: string): K8sObject {
  const name = `sh.helm.release.v1.${release.name}.v${release.version}`;
  const unix = (t: string): string => String(Math.floor(Date.parse(t) / 1000));
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta("Secret", name, release.namespace, created, {
      labels: {
        createdAt: unix(created),
        ...(modified ? { modifiedAt: unix(modified) } : {}),
        name: release.name,
        owner: "helm",
        status: release.info.status,
        version: String(release.version),
      },
    }),
    type: "helm.sh/release.v1",
    // Kubernetes Secret data is base64 of the bytes; the bytes are Helm's base64 of gzipped JSON.
    data: { release: b64(encodeHelmRelease(release)) },
  };
}

export interface RenderedResource {
  source: string;
  object: K8sObject;
}

/** The release manifest as Helm stores it: rendered templates in install order, `---` separated. */
export function renderManifest(chart: string, resources: RenderedResource[]): string {
  return resources
    .map((r) => `---\n# Source: ${chart}/templates/${r.source}\n${stringify(r.object, { lineWidth: 0 })}`)
    .join("");
}

export function chartTemplates(chart: string, sources: string[]): Array<{ name: string; data: string }> {
  return ["templates/NOTES.txt", "templates/_helpers.tpl", ...sources.map((s) => `templates/${s}`)].map(
    (name) => ({
      name,
      data: b64(`{{- /* ${chart}: ${name} (template body omitted in the simulated record) */}}\n`),
    }),
  );
}

export function liveService(
  rendered: K8sObject,
  created: string,
  release: string,
  clusterIP: string,
): K8sObject {
  const spec = rendered.spec as Json;
  const headless = spec.clusterIP === "None";
  const ip = headless ? "None" : clusterIP;
  return applied(rendered, created, release, {
    spec: {
      clusterIP: ip,
      clusterIPs: [ip],
      internalTrafficPolicy: "Cluster",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      ports: (spec.ports as Json[]).map((p) => {
        const { nodePort: _nodePort, ...rest } = p;
        return { ...rest, protocol: "TCP" };
      }),
      sessionAffinity: "None",
    },
    status: { loadBalancer: {} },
  });
}
