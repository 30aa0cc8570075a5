/**
 * Which approvals and break-glass grants count for a plan, from what the catalog stores and the
 * audit log vouches for, and the verdict once they are counted. Pure: app/gate.ts reads the
 * catalog and passes the rows in.
 */
import type { Plan } from "../plan/plan.js";
import type { Requirement, Verdict } from "../plan/policy.js";
import {
  activeBreakGlass,
  countingApprovals,
  usesOf,
  withApprovals,
  type Approval,
  type BreakGlass,
  type IgnoredApproval,
} from "./approval.js";

export interface Decision {
  verdict: Verdict;
  requirements: Requirement[];
  approvals: Approval[];
  ignored: IgnoredApproval[];
  breakGlass: BreakGlass | null;
  /** Approvals given to earlier plans of the same command that no longer count (the plan changed). */
  drifted: { planId: string; approvers: string[] }[];
}

/** A plan's stored approvals as the audit log vouches for them (see vouchedApprovals). */
export interface VouchedApprovals {
  approvals: Approval[];
  forged: IgnoredApproval[];
  used: ReadonlyMap<string, number>;
}

/**
 * The verdict when `runner` runs `plan` at `now`: the approvals that count (for this exact plan, by
 * someone else, live, vouched by the audit log), else an active break-glass grant for every asset
 * it touches. What drifted from earlier plans is the caller's to add (it reads other plans).
 */
export function decideApprovals(input: {
  plan: Pick<Plan, "planId" | "assets" | "unbound" | "requirements">;
  runner: string;
  now: Date;
  vouched: VouchedApprovals;
  grants: readonly BreakGlass[];
}): Omit<Decision, "drifted"> {
  const { plan, runner, now, vouched } = input;
  const counted = countingApprovals(vouched.approvals, {
    planId: plan.planId,
    runner,
    now,
    used: vouched.used,
  });
  const grant = activeBreakGlass(input.grants, {
    identity: runner,
    assets: plan.assets.map((a) => a.name),
    unbound: plan.unbound === true,
    now,
  });
  const { verdict, requirements, usedBreakGlass } = withApprovals(plan.requirements, {
    valid: counted.valid,
    breakGlass: grant,
    planId: plan.planId,
  });
  return {
    verdict,
    requirements,
    approvals: counted.valid,
    ignored: [...vouched.forged, ...counted.ignored],
    breakGlass: usedBreakGlass ? grant : null,
  };
}

/** The approvals that would still count for their own plan at `now`: not revoked, expired or used up. */
export function liveApprovals(
  approvals: readonly Approval[],
  used: ReadonlyMap<string, number>,
  now: Date,
): Approval[] {
  const at = now.getTime();
  return approvals.filter(
    (a) =>
      a.revokedAt === null && new Date(a.expiresAt).getTime() > at && (used.get(a.id) ?? 0) < usesOf(a.uses),
  );
}

/** The requirements a recorded plan's document lists (`plan --json`'s `requirements`), as far as they are readable. */
export function recordedRequirements(document: unknown): Requirement[] {
  const doc = document !== null && typeof document === "object" ? (document as Record<string, unknown>) : {};
  const list = Array.isArray(doc.requirements) ? (doc.requirements as unknown[]) : [];
  return list.filter(
    (r): r is Requirement =>
      r !== null &&
      typeof r === "object" &&
      typeof (r as Requirement).kind === "string" &&
      typeof (r as Requirement).met === "boolean" &&
      typeof (r as Requirement).detail === "string",
  );
}

/**
 * A recorded plan's requirements judged with the approvals it has now (`show`, `approve`): the
 * document keeps them as they were when it was planned ("0 so far"), which contradicts the
 * approvals listed beside it once someone approved. Counted as when its requester runs it
 * (another person, live, vouched by the audit log); a break-glass grant is not counted here (it
 * belongs to whoever runs, and `run` checks it), nor are the other requirements judged again (a
 * restore point's age is checked when it runs).
 */
export function judgeRecordedPlan(input: {
  planId: string;
  /** As recorded: kept when the plan needs no approvals (or its requirements cannot be read). */
  verdict: Verdict;
  requirements: readonly Requirement[];
  requester: string;
  now: Date;
  vouched: VouchedApprovals;
}): { verdict: Verdict; requirements: Requirement[] } {
  if (!input.requirements.some((r) => r.kind === "approvals"))
    return { verdict: input.verdict, requirements: [...input.requirements] };
  const counted = countingApprovals(input.vouched.approvals, {
    planId: input.planId,
    runner: input.requester,
    now: input.now,
    used: input.vouched.used,
  });
  const { verdict, requirements } = withApprovals(input.requirements, {
    valid: counted.valid,
    breakGlass: null,
    planId: input.planId,
  });
  return { verdict, requirements };
}
