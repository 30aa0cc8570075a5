/**
 * A plan: what a change (SQL, or a kubectl/helm command) would destroy, who depends on it, how it
 * could be brought back, and what the policy requires, bound by a plan id. Assembled here, purely,
 * from what the use cases found (app/plan.ts for SQL, app/plan-command.ts for commands).
 */
import {
  evaluatePolicy,
  mergeVerdicts,
  planIdentity,
  type Dependent,
  type PlannedOperation,
  type PolicyRule,
  type Recoverability,
  type Requirement,
  type Verdict,
} from "./policy.js";

/** A client connected to the database now (pg_stat_activity). */
export interface Consumer {
  application: string;
  user: string;
  address: string | null;
  connections: number;
}

export interface AssetAssessment {
  name: string;
  tier: string;
  recoverability: Recoverability;
}

export interface Plan {
  planId: string;
  /** The asset planned against (the first one when a command touches several; null when none). */
  asset: string | null;
  /** Every asset whose data the plan touches, with how each could be recovered. */
  assets: AssetAssessment[];
  /** What was planned: SQL, a kubectl/helm command line, or a lifeline recovery command (secrets redacted). */
  command: { kind: "sql" | "kubectl" | "helm" | "lifeline" | "unknown"; text: string };
  /** The cluster a command plan was resolved against. */
  cluster: { context: string; server: string } | null;
  /** Whether it touches Kubernetes data no asset is bound to (no break-glass can cover that). */
  unbound?: boolean;
  verdict: Verdict;
  operations: PlannedOperation[];
  dependents: Dependent[];
  consumers: Consumer[];
  recoverability: Recoverability;
  requirements: Requirement[];
  /** Milliseconds spent planning (classification, impact, policy), without process start-up. */
  planningMs: number;
}

/** What the policy judges: one asset (or the "unbound" tier) and the operations on its data. */
export interface PolicySubject {
  asset: { name: string; tier: string; rpoSeconds: number };
  operations: readonly Pick<PlannedOperation, "kind" | "dataLoss">[];
  recoverability: Recoverability;
}

/** What a use case found; assemblePlan binds it with a plan id and the policy's verdict. */
export interface PlanParts {
  command: Plan["command"];
  cluster: Plan["cluster"];
  /** Set for command plans only. */
  unbound?: boolean;
  assets: AssetAssessment[];
  operations: PlannedOperation[];
  dependents: Dependent[];
  consumers: Consumer[];
  /** What binds the plan id besides the operations' objects (see planIdentity). */
  identity: { asset: string; normalizedStatements: readonly string[]; restorePointId: string | null };
  /**
   * The plan id of exactly these operations and identity, when the caller already made it (with
   * the same assembly): planCommand remembers it with an analysis it reuses. Made here otherwise.
   */
  planId?: string;
  /** Each judged by the policy on its own; the verdicts are merged (any deny denies). */
  subjects: readonly PolicySubject[];
  /** Requirements that hold whatever the policy says (e.g. a complete view of the cluster). */
  unmet?: readonly Requirement[];
  recoverability: Recoverability;
  policy: readonly PolicyRule[];
  planningMs: number;
}

export interface PlanAssembly {
  /** The plan id of a canonical identity string (SHA-256 hex in lifeline; injected, as for the audit chain). */
  hash: (identity: string) => string;
  /** How an age in seconds is worded in requirements ("3d", "12h"). */
  describeAge: (seconds: number) => string;
}

/** Assembles a plan: its id from what it would destroy, and the policy's verdict. Pure. */
export function assemblePlan(parts: PlanParts, assembly: PlanAssembly): Plan {
  const planId = parts.planId ?? planIdOf(parts, assembly);
  const results: { verdict: Verdict; requirements: Requirement[] }[] = parts.subjects.map((subject) =>
    evaluatePolicy(parts.policy, { ...subject, approvals: 0, planId }, assembly.describeAge),
  );
  if (parts.unmet && parts.unmet.length > 0)
    results.push({ verdict: "require", requirements: [...parts.unmet] });
  // Several subjects (a command touching two assets): any deny denies, one approvals requirement.
  const { verdict, requirements } = mergeVerdicts(results);
  return {
    planId,
    asset: parts.assets[0]?.name ?? null,
    assets: parts.assets,
    command: parts.command,
    cluster: parts.cluster,
    ...(parts.unbound === undefined ? {} : { unbound: parts.unbound }),
    verdict,
    operations: parts.operations,
    dependents: parts.dependents,
    consumers: parts.consumers,
    recoverability: parts.recoverability,
    requirements,
    planningMs: parts.planningMs,
  };
}

/** The plan id of a plan's operations and identity (what assemblePlan makes). */
export function planIdOf(
  parts: { operations: readonly PlannedOperation[]; identity: PlanParts["identity"] },
  assembly: Pick<PlanAssembly, "hash">,
): string {
  return assembly.hash(
    planIdentity({
      asset: parts.identity.asset,
      operations: parts.operations,
      normalizedStatements: parts.identity.normalizedStatements,
      restorePointId: parts.identity.restorePointId,
    }),
  );
}

/** Recoverability when no restore point is relied on (nothing read, or nothing to bring back). */
export function noRecoverability(summary: string): Recoverability {
  return { restorePoint: null, notContained: [], changesNotCovered: null, summary };
}

/**
 * How the data of a command plan could be brought back: the first asset's restore point, with every
 * asset's summary; without an asset, why lifeline has nothing to bring back.
 */
export function commandRecoverability(
  assessments: readonly AssetAssessment[],
  unbound: boolean,
): Recoverability {
  const primary = assessments[0];
  if (!primary) {
    return noRecoverability(
      unbound
        ? "no asset in lifeline.yaml covers this data: lifeline has no restore point of it"
        : "nothing is destroyed that lifeline would need to bring back",
    );
  }
  return { ...primary.recoverability, summary: assessments.map((a) => a.recoverability.summary).join("; ") };
}
