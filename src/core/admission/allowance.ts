/**
 * Who may pass the admission webhook besides a plan whose verdict is `allow`, decided from facts
 * the app reads (lifeline.yaml's identities, the audit log). Pure.
 *
 * - Break-glass: a Kubernetes user acts as the lifeline identities lifeline.yaml maps its username
 *   or one of its groups to; their active grants count for it.
 * - `lifeline run`: its `executing` audit entry names the Kubernetes user it acts as (learnt with a
 *   SelfSubjectReview); only that user's request is the run's.
 * - The control plane finishing a decision already taken: a kube-controller-manager controller
 *   deleting an object that an allowed (not dry-run) decision of the webhook, or a `lifeline run`
 *   that started executing, destroys. The username alone lets nothing through: the object's uid
 *   must be among those the allowed plan destroys.
 */
import type { AdmissionRequest, AdmissionUser } from "./review.js";

/** identities: in lifeline.yaml. */
export type IdentityMap = Readonly<
  Record<string, { kubernetes: { users: readonly string[]; groups: readonly string[] } }>
>;

/** A lifeline identity a Kubernetes user acts as, and through which of its names. */
export interface MappedIdentity {
  identity: string;
  via: { user: string } | { group: string };
}

/**
 * The lifeline identities a Kubernetes user acts as: those whose mapping lists its username or one
 * of its groups (Kubernetes names are case-sensitive and compared exactly). None when unmapped.
 */
export function identitiesOf(user: AdmissionUser, identities: IdentityMap): MappedIdentity[] {
  const out: MappedIdentity[] = [];
  if (user.username === "") return out;
  for (const [identity, mapping] of Object.entries(identities)) {
    if (mapping.kubernetes.users.includes(user.username)) {
      out.push({ identity, via: { user: user.username } });
      continue;
    }
    const group = user.groups.find((g) => mapping.kubernetes.groups.includes(g));
    if (group !== undefined) out.push({ identity, via: { group } });
  }
  return out;
}

/** The Kubernetes user a `lifeline run` recorded in its `executing` entry, when it did. */
export interface RunUser {
  username: string;
  groups: readonly string[];
}

/** Reads `kubernetesUser` of a `run` audit entry's data; null when absent or malformed. */
export function runUserOf(data: Readonly<Record<string, unknown>>): RunUser | null {
  const u = data.kubernetesUser;
  if (typeof u !== "object" || u === null || Array.isArray(u)) return null;
  const username = (u as Record<string, unknown>).username;
  const groups = (u as Record<string, unknown>).groups;
  if (typeof username !== "string" || username === "") return null;
  return {
    username,
    groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === "string") : [],
  };
}

/**
 * Whether a request is the executing run's: made by the very Kubernetes user the run acts as. A
 * run that could not learn its user (no `kubernetesUser`) lets nobody through.
 */
export function isRunsRequest(user: AdmissionUser, runUser: RunUser | null): boolean {
  return runUser !== null && user.username === runUser.username;
}

/**
 * kube-controller-manager's controllers that finish deletions, by the username the API server
 * authenticates them as: with --use-service-account-credentials (kubeadm, most distributions)
 * each controller has its own service account in kube-system; without it they all share
 * system:kube-controller-manager.
 */
export const CONTROL_PLANE_USERS: Readonly<Record<string, string>> = {
  "system:serviceaccount:kube-system:namespace-controller": "the namespace controller",
  "system:serviceaccount:kube-system:generic-garbage-collector": "the garbage collector",
  "system:serviceaccount:kube-system:statefulset-controller": "the StatefulSet controller",
  "system:serviceaccount:kube-system:persistent-volume-binder": "the volume controller (reclaim)",
  "system:kube-controller-manager": "kube-controller-manager",
};

/**
 * Which controller makes the request, when it is a control-plane deletion; null otherwise. `more`:
 * further controllers' usernames lifeline.yaml names (serve.controllers).
 */
export function controlPlaneController(
  req: Pick<AdmissionRequest, "operation" | "userInfo">,
  more: readonly string[] = [],
): string | null {
  if (req.operation !== "DELETE") return null;
  const known = CONTROL_PLANE_USERS[req.userInfo.username];
  if (known !== undefined) return known;
  return more.includes(req.userInfo.username) ? `controller ${req.userInfo.username}` : null;
}

/** Object kinds (as plans name them) whose deletion the webhook judges. */
const JUDGED_TYPES = new Set(["pvc", "pv", "namespace", "statefulset"]);

/** What a plan destroys (or may), as far as the webhook judges it: type and Kubernetes uid. */
export interface Destroyed {
  type: string;
  uid: string;
}

/**
 * The objects a plan deletes, by uid (the plan's resolved targets and their cascade, of the kinds the
 * webhook judges; not a volume kept by its Retain policy): what a control-plane deletion after an
 * allowed decision may finish.
 */
export function destroyedBy(plan: {
  operations: readonly {
    resolved: { type: string; identity: string | null } | null;
    cascade: readonly { type: string; identity: string | null }[];
  }[];
}): Destroyed[] {
  const out = new Map<string, Destroyed>();
  for (const op of plan.operations) {
    for (const o of [op.resolved, ...op.cascade]) {
      if (!o || !o.identity || !JUDGED_TYPES.has(o.type)) continue;
      // A volume's identity is "<uid>/reclaim=<policy>[/snapshot=<uid>|/phase=<phase>]": with Retain
      // (or Recycle) it outlives its claim; a released one (phase=) goes once its policy becomes Delete.
      const [uid, ...qualifiers] = o.identity.split("/");
      if (!uid) continue;
      const kept = qualifiers.includes("reclaim=Retain") || qualifiers.includes("reclaim=Recycle");
      if (o.type === "pv" && kept && !qualifiers.some((q) => q.startsWith("phase="))) continue;
      out.set(uid, { type: o.type, uid });
    }
  }
  return [...out.values()];
}

/**
 * A decision already taken, as the audit log recorded it: an admission decision of the webhook, or a
 * `lifeline run` that started executing (its plan passed the gate).
 */
export interface TakenDecision {
  seq: number;
  /** "allowed" or "denied" (a run that started executing: "allowed"). */
  result: string;
  dryRun: boolean;
  command: string;
  /** Uids of the objects its plan destroys (see destroyedBy). */
  destroys: readonly string[];
}

/** Reads a TakenDecision from an `admission` or `run` audit entry; null when it is not one. */
export function takenDecisionOf(entry: {
  seq: number;
  kind: string;
  damaged?: string;
  data: Readonly<Record<string, unknown>>;
}): TakenDecision | null {
  if (entry.damaged !== undefined) return null;
  const d = entry.data;
  if (!Array.isArray(d.destroys)) return null;
  const result =
    entry.kind === "admission"
      ? d.result
      : entry.kind === "run" && d.status === "executing"
        ? "allowed"
        : null;
  if (typeof result !== "string") return null;
  return {
    seq: entry.seq,
    result,
    dryRun: d.dryRun === true,
    command: typeof d.command === "string" ? d.command : "",
    destroys: d.destroys.filter((u): u is string => typeof u === "string"),
  };
}

export interface ControlPlaneAllowance {
  controller: string;
  decision: TakenDecision;
}

/**
 * A control-plane deletion finishing a decision already taken: a controller (CONTROL_PLANE_USERS)
 * deletes an object whose uid an allowed, not dry-run decision destroys. Null otherwise: then the
 * request is judged like anyone's.
 */
export function finishingDecision(
  req: Pick<AdmissionRequest, "operation" | "userInfo" | "oldObject">,
  decisions: readonly TakenDecision[],
  more: readonly string[] = [],
): ControlPlaneAllowance | null {
  const controller = controlPlaneController(req, more);
  if (controller === null) return null;
  const metadata = req.oldObject?.metadata;
  const uid =
    typeof metadata === "object" && metadata !== null && !Array.isArray(metadata)
      ? (metadata as Record<string, unknown>).uid
      : undefined;
  if (typeof uid !== "string" || uid === "") return null;
  const decision = decisions.find((d) => d.result === "allowed" && !d.dryRun && d.destroys.includes(uid));
  return decision ? { controller, decision } : null;
}
