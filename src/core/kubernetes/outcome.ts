/**
 * The outcome model of the Kubernetes planner: what a command does to one object (its data loss,
 * why, what goes with it, who depends on it), and the steps a command breaks into.
 */
import type { DataLoss } from "../plan/operation.js";
import { worstLoss } from "../plan/operation.js";
import type { AffectedObject } from "../plan/policy.js";
import type { ConfigData, Meta, Pod, Service } from "./inventory.js";
import { qualified } from "./inventory.js";

export interface Outcome {
  dataLoss: DataLoss;
  reason: string;
  resolved: AffectedObject | null;
  cascade: AffectedObject[];
  notes: string[];
  /** Objects whose loss or deletion reaches dependents. */
  pods: Pod[];
  services: Service[];
  configs: ConfigData[];
  /** Objects (uids) the command itself deletes: not reported as dependents. */
  deleted: string[];
  /** Metas the outcome touches, for binding to assets. */
  touches: Meta[];
}

export function outcome(partial: Partial<Outcome> & Pick<Outcome, "dataLoss" | "reason">): Outcome {
  return {
    resolved: null,
    cascade: [],
    notes: [],
    pods: [],
    services: [],
    configs: [],
    deleted: [],
    touches: [],
    ...partial,
  };
}

export function affected(
  type: string,
  meta: Pick<Meta, "name" | "namespace" | "uid">,
  dataLoss: DataLoss,
  how: string,
  bytes: number | null = null,
  identity: string = meta.uid,
): AffectedObject {
  return { type, name: qualified(meta), identity, rows: null, rowsExact: false, bytes, dataLoss, how };
}

/** Folds what goes with an object into the outcome of the command that takes it. */
export function merge(into: Outcome, part: Outcome): void {
  into.dataLoss = worstLoss([into, part]);
  if (part.resolved) into.cascade.push(part.resolved);
  into.cascade.push(...part.cascade);
  into.notes.push(...part.notes);
  into.pods.push(...part.pods);
  into.services.push(...part.services);
  into.configs.push(...part.configs);
  into.deleted.push(...part.deleted);
  into.touches.push(...part.touches);
}

/** The outcome of naming an object that does not exist. */
export function missing(type: string, namespace: string | null, name: string): Outcome {
  return outcome({
    dataLoss: "none",
    reason: `${type} ${namespace ? `${namespace}/` : ""}${name} does not exist: the command will fail (NotFound) and change nothing`,
  });
}

export interface Step {
  kind: string;
  target: { type: string; namespace: string | null; name: string } | null;
  outcome: Outcome;
  missingOk?: boolean;
}

/** A step that acts on nothing lifeline resolved: a read, a dry run, or what it cannot know. */
export function unresolved(kind: string, dataLoss: DataLoss, reason: string): Step {
  return { kind, target: null, outcome: outcome({ dataLoss, reason }) };
}
