import type { DataLoss, ObjectRef, Operation } from "./operation.js";
import { isDestructive } from "./operation.js";
import type { UncountedLoss } from "../posture/posture.js";

/** An object a plan touches, resolved against the live database. */
export interface AffectedObject {
  type: string;
  /** Schema-qualified display name. */
  name: string;
  /** Identity in the database (OID, relfilenode) so an approval binds to exactly these objects. */
  identity: string | null;
  /** Rows destroyed (or at risk); null when unknown. */
  rows: number | null;
  rowsExact: boolean;
  /** For a column: the schema-qualified table it belongs to. */
  table?: string;
  /** `rows` is an upper bound (every row of the table), not a count of what goes. */
  rowsBound?: boolean;
  bytes: number | null;
  dataLoss: DataLoss;
  /** How it is affected: "dropped with CASCADE", "truncated by CASCADE", "rows deleted by ON DELETE CASCADE". */
  how: string;
}

export interface PlannedOperation extends Omit<Operation, "target"> {
  target: ObjectRef | null;
  /** The target as resolved; null when it does not exist or is not a relation. */
  resolved: AffectedObject | null;
  rows: number | null;
  bytes: number | null;
  cascade: AffectedObject[];
  /** Things a reviewer must know: "does not exist", "will fail without CASCADE: …". */
  notes: string[];
  /** For a lossless ALTER COLUMN … TYPE: whether PostgreSQL rewrites the table (false: catalog only). */
  rewrite?: boolean;
}

export interface Dependent {
  kind: string;
  name: string;
  /** The object it depends on. */
  on: string;
  /** The evidence: "pg_depend (view definition)", "foreign key orders_product_fk", "pg_stat_activity". */
  how: string;
}

export interface Recoverability {
  restorePoint: { id: string; snapshotTime: string; ageSeconds: number; drilledAt: string } | null;
  /** The destroyed tables that the restore point does not contain. */
  notContained: string[];
  /** `uncounted`: tables that lost rows the statistics do not count (TRUNCATE, DROP); absent in older plans. */
  changesNotCovered: { rows: number; countersReset: boolean; uncounted?: UncountedLoss[] } | null;
  summary: string;
}

export type RequirementKind = "verified-restore-point" | "approvals" | "deny" | "complete-view";

export interface Requirement {
  kind: RequirementKind;
  met: boolean;
  /** For approvals: how many are needed. */
  needed?: number;
  detail: string;
  fix: string | null;
}

export type Verdict = "allow" | "require" | "deny";

/** The tier policy rules see for Kubernetes data that no asset in lifeline.yaml is bound to. */
export const UNBOUND_TIER = "unbound";

export interface PolicyMatch {
  tier?: string[];
  asset?: string[];
  kind?: string[];
  dataLoss?: DataLoss[];
}

export interface PolicyRule {
  name: string;
  match: PolicyMatch;
  require?: { verifiedRestorePointMaxAgeSeconds?: number | "rpo"; approvals?: number };
  deny?: string;
}

/**
 * Data no asset is bound to (a volume lifeline.yaml does not name): lifeline cannot prove a way
 * back, so another person must agree. Always in force, also with a configured policy, unless that
 * policy has its own rule for the "unbound" tier.
 */
export const UNBOUND_RULE: PolicyRule = {
  name: "unbound-destructive",
  match: { tier: [UNBOUND_TIER], dataLoss: ["destructive", "unknown"] },
  require: { approvals: 1 },
};

/**
 * The built-in policy: on production, anything that destroys data (or might: unknown) needs a
 * verified restore point within the asset's RPO and one approval by another person.
 */
export const DEFAULT_POLICY: PolicyRule[] = [
  {
    name: "production-destructive",
    match: { tier: ["production"], dataLoss: ["destructive", "unknown"] },
    require: { verifiedRestorePointMaxAgeSeconds: "rpo", approvals: 1 },
  },
  {
    // Removing a volume's Retain protection destroys nothing yet, but arms the next delete.
    name: "production-unprotect",
    match: { tier: ["production"], kind: ["patch-pv-reclaim-policy-delete", "guard-uninstall"] },
    require: { approvals: 1 },
  },
  {
    // Restoring over the asset's own data (kept as the previous database), replacing a target's
    // data, or dropping the kept previous database: another person agrees, even when the newest
    // verified restore point is older than the RPO (which is exactly when people restore).
    name: "production-recovery",
    match: {
      tier: ["production"],
      kind: ["restore-in-place", "restore-replace-database", "discard-previous-database"],
    },
    require: { approvals: 1 },
  },
  UNBOUND_RULE,
];

export interface PolicyInput {
  asset: { name: string; tier: string; rpoSeconds: number };
  operations: readonly Pick<PlannedOperation, "kind" | "dataLoss">[];
  recoverability: Recoverability;
  /** Approvals of this exact plan by other people (none until approvals exist). */
  approvals: number;
  planId: string;
}

function matches(
  rule: PolicyRule,
  input: PolicyInput,
  op: Pick<PlannedOperation, "kind" | "dataLoss">,
): boolean {
  const m = rule.match;
  return (
    (!m.tier || m.tier.includes(input.asset.tier)) &&
    (!m.asset || m.asset.includes(input.asset.name)) &&
    (!m.kind || m.kind.includes(op.kind)) &&
    (!m.dataLoss || m.dataLoss.includes(op.dataLoss))
  );
}

/** The verdict of a set of requirements: any deny denies; any unmet requirement requires. */
export function verdictOf(requirements: readonly Requirement[]): Verdict {
  return requirements.some((r) => r.kind === "deny")
    ? "deny"
    : requirements.some((r) => !r.met)
      ? "require"
      : "allow";
}

/** Evaluates the rules against a plan: every unmet requirement comes with the command that meets it. */
export function evaluatePolicy(
  rules: readonly PolicyRule[],
  input: PolicyInput,
  describeAge: (seconds: number) => string,
): { verdict: Verdict; requirements: Requirement[] } {
  const applied = rules.filter((rule) => input.operations.some((op) => matches(rule, input, op)));
  const requirements: Requirement[] = [];
  for (const rule of applied.filter((r) => r.deny)) {
    requirements.push({
      kind: "deny",
      met: false,
      detail: `denied by policy rule "${rule.name}": ${rule.deny}`,
      fix: null,
    });
  }
  const ages = applied
    .map((r) => r.require?.verifiedRestorePointMaxAgeSeconds)
    .filter((a): a is number | "rpo" => a !== undefined)
    .map((a) => (a === "rpo" ? input.asset.rpoSeconds : a));
  if (ages.length > 0) {
    const maxAge = Math.min(...ages);
    const rp = input.recoverability.restorePoint;
    const fresh = rp !== null && rp.ageSeconds <= maxAge;
    const covers = input.recoverability.notContained.length === 0;
    requirements.push({
      kind: "verified-restore-point",
      met: fresh && covers,
      detail: !rp
        ? `a verified restore point no older than ${describeAge(maxAge)}: there is none`
        : !fresh
          ? `a verified restore point no older than ${describeAge(maxAge)}: the newest is ${describeAge(rp.ageSeconds)} old`
          : !covers
            ? `a verified restore point that contains ${input.recoverability.notContained.join(", ")}: ${rp.id} does not`
            : `verified restore point ${rp.id}, ${describeAge(rp.ageSeconds)} old (limit ${describeAge(maxAge)})`,
      fix:
        fresh && covers ? null : `lifeline backup ${input.asset.name} && lifeline drill ${input.asset.name}`,
    });
  }
  const approvals = Math.max(0, ...applied.map((r) => r.require?.approvals ?? 0));
  if (approvals > 0) {
    requirements.push({
      kind: "approvals",
      needed: approvals,
      met: input.approvals >= approvals,
      detail: `${approvals} approval${approvals > 1 ? "s" : ""} of plan ${input.planId.slice(0, 12)} by another person (${input.approvals} so far)`,
      fix:
        input.approvals >= approvals
          ? null
          : `another person approves this exact plan: lifeline approve ${input.planId.slice(0, 12)}`,
    });
  }
  return { verdict: verdictOf(requirements), requirements };
}

/** The tables whose rows the plan destroys (targets and cascades), for recoverability. */
export function destroyedTables(operations: readonly PlannedOperation[]): string[] {
  const names = new Set<string>();
  for (const op of operations) {
    if (op.resolved && isDestructive(op.dataLoss) && op.resolved.type === "table")
      names.add(op.resolved.name);
    for (const c of op.cascade) {
      if (c.type === "table" && isDestructive(c.dataLoss)) names.add(c.name);
      // A dropped or overwritten column changes its table: the restore point must hold it.
      if (c.type === "column" && c.table && isDestructive(c.dataLoss)) names.add(c.table);
    }
  }
  return [...names].sort();
}

/**
 * What the plan id covers, as one canonical string: the normalized statements, the asset, every
 * affected object with its identity, and the restore point relied on. Same inputs, same id; any
 * change in what would be destroyed or in the way back gives another id.
 */
export function planIdentity(input: {
  asset: string;
  operations: readonly PlannedOperation[];
  normalizedStatements: readonly string[];
  restorePointId: string | null;
}): string {
  const objects = input.operations
    .flatMap((op) => [op.resolved, ...op.cascade])
    .filter((o): o is AffectedObject => o !== null)
    // Pods are replaced by their controllers all the time: their identities would void approvals
    // for nothing. What they run is covered by their controller's identity.
    .filter((o) => o.type !== "pod")
    .map((o) => `${o.type}|${o.name}|${o.identity ?? ""}|${o.dataLoss}`)
    .sort();
  return JSON.stringify({
    v: 2,
    asset: input.asset,
    statements: input.normalizedStatements,
    objects: [...new Set(objects)],
    restorePoint: input.restorePointId,
  });
}

/**
 * Combines the verdicts of several assets touched by one plan (a namespace holding two databases):
 * any deny denies; requirements are kept per asset; one approvals requirement, the strictest.
 */
export function mergeVerdicts(results: readonly { verdict: Verdict; requirements: Requirement[] }[]): {
  verdict: Verdict;
  requirements: Requirement[];
} {
  const requirements: Requirement[] = [];
  let approvals: Requirement | null = null;
  const seen = new Set<string>();
  for (const r of results.flatMap((x) => x.requirements)) {
    if (r.kind === "approvals") {
      if ((r.needed ?? 0) > (approvals?.needed ?? -1)) approvals = r;
      continue;
    }
    const key = `${r.kind}|${r.detail}|${r.fix ?? ""}`;
    if (!seen.has(key)) {
      seen.add(key);
      requirements.push(r);
    }
  }
  if (approvals) requirements.push(approvals);
  return { verdict: verdictOf(requirements), requirements };
}
