import type { AuditEntry } from "../core/audit/chain.js";
import { formatDuration } from "../core/duration.js";
import { LifelineError, typedId } from "../core/errors.js";
import type { Approval, PlanRecord } from "../core/approval/approval.js";
import type { Requirement, Verdict } from "../core/plan/policy.js";
import type { PlanVouch } from "../core/approval/plan-vouch.js";
import {
  announce,
  auditInput,
  findRecordedPlan,
  newId,
  requireVouchedPlan,
  reviewRecordedPlan,
  vouchRecordedPlan,
  type GateDeps,
} from "./gate.js";

export interface ApproveResult {
  approval: Approval;
  plan: PlanRecord;
  entry: AuditEntry;
  /** Whether the audit log vouches for the plan row shown (only a plan recorded before plans were vouched for is approved without). */
  vouch: PlanVouch;
}

/** Approves one exact plan, as someone other than the person who asked, for a bounded time. */
export async function approve(
  deps: GateDeps,
  input: {
    planId: string;
    comment: string | null;
    ttlSeconds: number;
    /** Executions it authorises (default 1: used by the first execution). */
    uses?: number;
    /**
     * Called with the plan before anything is recorded (the approver sees what they approve), and
     * its requirements and verdict judged with the approvals it already has.
     */
    review?: (plan: PlanRecord, judged: { requirements: Requirement[]; verdict: Verdict }) => void;
  },
): Promise<ApproveResult> {
  const uses = input.uses ?? 1;
  if (!Number.isInteger(uses) || uses < 1) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `an approval authorises a whole number ≥ 1 of executions (asked: ${uses})`,
      fix: "leave --uses out (one execution), or e.g. --uses 2",
    });
  }
  const plan = await findRecordedPlan(deps.catalog, input.planId);
  // The approver approves what is printed from the catalog row: it must be what was recorded.
  const vouch = await vouchRecordedPlan(deps.catalog, plan);
  requireVouchedPlan(deps, plan, vouch);
  if (input.review) {
    const { requirements, verdict } = await reviewRecordedPlan(deps.catalog, plan, deps.clock.now());
    input.review(plan, { requirements, verdict });
  }
  if (plan.requestedBy.id.toLowerCase() === deps.identity.id.toLowerCase()) {
    throw new LifelineError({
      code: "SELF_APPROVAL",
      kind: "refused",
      message: `${deps.identity.id} asked for plan ${plan.planId.slice(0, 12)} and cannot approve it too`,
      fix: "another person reviews and approves it: lifeline approve " + plan.planId.slice(0, 12),
    });
  }
  const now = deps.clock.now();
  const approval: Approval = {
    id: newId("apr"),
    planId: plan.planId,
    approver: deps.identity,
    comment: input.comment,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + input.ttlSeconds * 1000).toISOString(),
    revokedAt: null,
    revokedBy: null,
    uses,
  };
  const asset = plan.assets[0] ?? null;
  const entry = await deps.catalog.addApproval(
    approval,
    auditInput(deps, "approve", {
      asset,
      planId: plan.planId,
      data: {
        approval: approval.id,
        requester: plan.requestedBy.id,
        command: plan.command.text,
        comment: input.comment,
        expiresAt: approval.expiresAt,
        uses,
      },
    }),
  );
  await announce(
    deps,
    {
      text: `${deps.identity.id} approved plan ${plan.planId.slice(0, 12)} (\`${plan.command.text.slice(0, 200)}\`) for ${plan.requestedBy.id}, valid ${formatDuration(input.ttlSeconds)} for ${uses === 1 ? "one execution" : `${uses} executions`}${input.comment ? `: "${input.comment}"` : ""}`,
      event: {
        event: "approval",
        planId: plan.planId,
        approver: deps.identity.id,
        requester: plan.requestedBy.id,
        expiresAt: approval.expiresAt,
        uses,
      },
    },
    plan.planId,
    asset,
  );
  return { approval, plan, entry, vouch };
}

export async function revoke(deps: GateDeps, id: string): Promise<Approval> {
  const approval = await deps.catalog.findApproval(id);
  if (!approval) {
    throw new LifelineError({
      code: "APPROVAL_UNKNOWN",
      kind: "usage",
      message: `no approval ${typedId(id)}`,
      fix: "lifeline audit --kind approve lists approvals and their ids",
    });
  }
  const at = deps.clock.now().toISOString();
  const plan = await deps.catalog.findPlan(approval.planId);
  const done = await deps.catalog.revokeApproval(
    approval.id,
    deps.identity.id,
    at,
    auditInput(deps, "revoke", {
      asset: plan?.assets[0] ?? null,
      planId: approval.planId,
      data: { approval: approval.id, approver: approval.approver.id },
    }),
  );
  if (!done) {
    throw new LifelineError({
      code: "APPROVAL_REVOKED",
      kind: "usage",
      message: `approval ${approval.id} was already revoked`,
      fix: "nothing to do",
    });
  }
  return { ...approval, revokedAt: at, revokedBy: deps.identity.id };
}
