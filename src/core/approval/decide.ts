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
