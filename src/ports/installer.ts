/** A Kubernetes object to create (`lifeline k8s install`), as the API takes it. */
export interface InstallObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [key: string]: unknown;
}

export type CreateOutcome = "created" | "exists";

/** Creates one object; "exists" when one with its name is already there (never overwritten). */
export type CreateObject = (object: InstallObject) => Promise<CreateOutcome>;

/** Reads the object with the same kind, namespace and name as the one given (null: there is none). */
export type ReadObject = (object: InstallObject) => Promise<InstallObject | null>;

/** `Kind name` or `Kind namespace/name`, for messages. */
export function objectLabel(o: InstallObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`;
}
