/**
 * Server-side printing: `kubectl get` asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`
 * and prints the columns the API server chooses. The simulator answers with the main columns of
 * the kinds lifeline's incidents are about (claims, volumes, pods, StatefulSets, Deployments,
 * namespaces) and NAME/AGE for the others, like the real printers (pkg/printers/internalversion).
 */
import { type Json, type K8sObject } from "./model.js";

interface Column {
  name: string;
  type: string;
  format?: string;
  description: string;
  priority?: number;
}

/** True when the Accept header asks for a meta.k8s.io Table. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return params.includes("as=Table") && params.includes("g=meta.k8s.io");
  });
}

/** The Table for a list (or a single object) of the given kind. */
export function asTable(kind: string, body: Json, now: Date, includeObject: string | null): Json {
  const items: K8sObject[] = Array.isArray(body.items)
    ? (body.items as K8sObject[])
    : [body as unknown as K8sObject];
  const printer = PRINTERS[kind] ?? { columns: [], cells: () => [] };
  const columns: Column[] = [
    { name: "Name", type: "string", format: "name", description: "Name of the object" },
    ...printer.columns,
    { name: "Age", type: "string", description: "Time since the object was created" },
  ];
  const meta = isRecord(body.metadata) ? body.metadata : {};
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: {
      ...(meta.resourceVersion !== undefined ? { resourceVersion: meta.resourceVersion } : {}),
      ...(meta.continue !== undefined ? { continue: meta.continue } : {}),
    },
    columnDefinitions: columns,
    rows: items.map((item) => ({
      cells: [item.metadata.name, ...printer.cells(item), age(item.metadata.creationTimestamp, now)],
      object:
        includeObject === "None"
          ? null
          : includeObject === "Object"
            ? { ...item, kind, apiVersion: item.apiVersion }
            : {
                kind: "PartialObjectMetadata",
                apiVersion: "meta.k8s.io/v1",
                metadata: item.metadata,
              },
    })),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(obj: unknown, ...path: string[]): unknown {
  let current: unknown = obj;
  for (const key of path) current = isRecord(current) ? current[key] : undefined;
  return current;
}

function text(value: unknown, missing = "<none>"): string {
  if (value === undefined || value === null || value === "") return missing;
  return String(value);
}

function accessModes(modes: unknown): string {
  const short: Record<string, string> = {
    ReadWriteOnce: "RWO",
    ReadOnlyMany: "ROX",
    ReadWriteMany: "RWX",
    ReadWriteOncePod: "RWOP",
  };
  return Array.isArray(modes) ? modes.map((m) => short[String(m)] ?? String(m)).join(",") : "";
}

function column(name: string, description: string): Column {
  return { name, type: "string", description };
}

const PRINTERS: Record<string, { columns: Column[]; cells: (o: K8sObject) => unknown[] }> = {
  PersistentVolumeClaim: {
    columns: ["Status", "Volume", "Capacity", "Access Modes", "StorageClass", "VolumeAttributesClass"].map(
      (n) => column(n, n),
    ),
    cells: (o) => [
      text(field(o, "status", "phase")),
      text(field(o, "spec", "volumeName"), ""),
      text(field(o, "status", "capacity", "storage"), ""),
      accessModes(field(o, "status", "accessModes")),
      text(field(o, "spec", "storageClassName")),
      "<unset>",
    ],
  },
  PersistentVolume: {
    columns: [
      "Capacity",
      "Access Modes",
      "Reclaim Policy",
      "Status",
      "Claim",
      "StorageClass",
      "VolumeAttributesClass",
      "Reason",
    ].map((n) => column(n, n)),
    cells: (o) => {
      const ref = field(o, "spec", "claimRef");
      return [
        text(field(o, "spec", "capacity", "storage"), ""),
        accessModes(field(o, "spec", "accessModes")),
        text(field(o, "spec", "persistentVolumeReclaimPolicy"), ""),
        text(field(o, "status", "phase"), ""),
        isRecord(ref) ? `${text(ref.namespace, "")}/${text(ref.name, "")}` : "",
        text(field(o, "spec", "storageClassName"), ""),
        "<unset>",
        text(field(o, "status", "reason"), ""),
      ];
    },
  },
  Pod: {
    columns: ["Ready", "Status", "Restarts"].map((n) => column(n, n)),
    cells: (o) => {
      const statuses = field(o, "status", "containerStatuses");
      const containers = field(o, "spec", "containers");
      const total = Array.isArray(containers) ? containers.length : 0;
      const ready = Array.isArray(statuses)
        ? statuses.filter((s) => isRecord(s) && s.ready === true).length
        : 0;
      const restarts = Array.isArray(statuses)
        ? statuses.reduce((n: number, s) => n + (isRecord(s) ? Number(s.restartCount ?? 0) : 0), 0)
        : 0;
      return [`${ready}/${total}`, text(field(o, "status", "phase"), "Unknown"), restarts];
    },
  },
  StatefulSet: {
    columns: [column("Ready", "Ready replicas")],
    cells: (o) => [
      `${Number(field(o, "status", "readyReplicas") ?? 0)}/${Number(field(o, "spec", "replicas") ?? 1)}`,
    ],
  },
  Deployment: {
    columns: ["Ready", "Up-to-date", "Available"].map((n) => column(n, n)),
    cells: (o) => [
      `${Number(field(o, "status", "readyReplicas") ?? 0)}/${Number(field(o, "spec", "replicas") ?? 1)}`,
      Number(field(o, "status", "updatedReplicas") ?? 0),
      Number(field(o, "status", "availableReplicas") ?? 0),
    ],
  },
  Namespace: {
    columns: [column("Status", "The status of the namespace")],
    cells: (o) => [text(field(o, "status", "phase"), "Active")],
  },
};

/** kubectl's short age: 45s, 12m, 5h3m, 7d1h, 262d, 3y12d. */
export function age(created: string | undefined, now: Date): string {
  if (!created) return "<unknown>";
  const seconds = Math.max(0, Math.floor((now.getTime() - new Date(created).getTime()) / 1000));
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  if (seconds < 120) return `${seconds}s`;
  if (minutes < 10) return `${minutes}m${seconds % 60 ? `${seconds % 60}s` : ""}`;
  if (hours < 3) return `${minutes}m`;
  if (hours < 8) return `${hours}h${minutes % 60 ? `${minutes % 60}m` : ""}`;
  if (days < 2) return `${hours}h`;
  if (days < 8) return `${days}d${hours % 24 ? `${hours % 24}h` : ""}`;
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (years < 8) return `${years}y${days % 365 ? `${days % 365}d` : ""}`;
  return `${years}y`;
}
