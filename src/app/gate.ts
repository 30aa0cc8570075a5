import { randomBytes } from "node:crypto";
import type { AuditEntry, AuditInput, AuditKind, Identity } from "../core/audit.js";
import { formatDuration } from "../core/duration.js";
import { LifelineError } from "../core/errors.js";
import {
  activeBreakGlass,
  countingApprovals,
  withApprovals,
  type Approval,
  type BreakGlass,
  type Execution,
  type ExecutionResult,
  type IgnoredApproval,
  type PlanRecord,
} from "../core/gate.js";
import type { Requirement, Verdict } from "../core/plan.js";
import type { Catalog } from "../ports/catalog.js";
import type { Clock } from "../ports/clock.js";
import type { Notification, NotifyFailure } from "../gate/notify.js";
import type { Plan } from "./plan.js";

/** What the gate needs around it; the CLI wires it from the config. */
export interface GateDeps {
  catalog: Catalog;
  identity: Identity;
  clock: Clock;
  /** Sends a notification to the configured webhooks; resolves to the failures. */
  notify: (message: Notification) => Promise<NotifyFailure[]>;
  /** Reports something the person should see even when it is not the result (stderr). */
  warn: (message: string) => void;
}

export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

function auditInput(
  deps: GateDeps,
  kind: AuditKind,
  fields: { asset?: string | null; planId?: string | null; data: Record<string, unknown> },
): AuditInput {
  return {
    at: deps.clock.now().toISOString(),
    kind,
    identity: deps.identity.id,
    host: deps.identity.host,
    asset: fields.asset ?? null,
    planId: fields.planId ?? null,
    data: fields.data,
  };
}

/** Sends and records failures; never throws (a notification never decides anything). */
async function announce(deps: GateDeps, message: Notification, planId: string | null, asset: string | null) {
  try {
    const failures = await deps.notify(message);
    for (const f of failures) {
      deps.warn(`notification to ${f.webhook} failed after ${f.attempts} attempts: ${f.error}`);
      await deps.catalog.appendAudit(
        auditInput(deps, "notify-failed", {
          asset,
          planId,
          data: { webhook: f.webhook, error: f.error, text: message.text },
        }),
      );
    }
  } catch (error) {
    deps.warn(`notification failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The plan as the catalog keeps it. */
export function planRecord(plan: Plan, document: unknown, by: Identity, at: Date): PlanRecord {
  return {
    planId: plan.planId,
    assets: plan.assets.length > 0 ? plan.assets.map((a) => a.name) : plan.asset ? [plan.asset] : [],
    command: plan.command,
    verdict: plan.verdict,
    requestedBy: by,
    createdAt: at.toISOString(),
    document,
  };
}

export interface Decision {
  verdict: Verdict;
  requirements: Requirement[];
  approvals: Approval[];
  ignored: IgnoredApproval[];
  breakGlass: BreakGlass | null;
  /** Approvals given to earlier plans of the same command that no longer count (the plan changed). */
  drifted: { planId: string; approvers: string[] }[];
}

/** The verdict once the catalog's approvals and break-glass grants are taken into account. */
export async function decide(deps: GateDeps, plan: Plan): Promise<Decision> {
  const now = deps.clock.now();
  const assets = plan.assets.map((a) => a.name);
  const [approvals, grants] = await Promise.all([
    deps.catalog.approvalsFor(plan.planId),
    deps.catalog.breakGlass({ activeAt: now.toISOString() }),
  ]);
  const { valid, ignored } = countingApprovals(approvals, {
    planId: plan.planId,
    runner: deps.identity.id,
    now,
  });
  const grant = activeBreakGlass(grants, {
    identity: deps.identity.id,
    assets: assets.length > 0 ? assets : ["(no asset)"],
    now,
  });
  const { verdict, requirements } = withApprovals(plan.requirements, {
    valid,
    breakGlass: grant,
    planId: plan.planId,
  });
  const drifted = verdict === "allow" ? [] : await driftedApprovals(deps, plan);
  return { verdict, requirements, approvals: valid, ignored, breakGlass: grant, drifted };
}

/** Earlier plans of the same command whose approvals were given but do not bind this plan. */
async function driftedApprovals(deps: GateDeps, plan: Plan): Promise<Decision["drifted"]> {
  const planned = await deps.catalog.audit({ kind: "plan" });
  const others = new Set(
    planned
      .filter(
        (e) =>
          e.planId &&
          e.planId !== plan.planId &&
          (e.data as { command?: string }).command === plan.command.text,
      )
      .map((e) => e.planId as string),
  );
  const out: Decision["drifted"] = [];
  const now = deps.clock.now().getTime();
  for (const id of others) {
    const live = (await deps.catalog.approvalsFor(id)).filter(
      (a) => a.revokedAt === null && new Date(a.expiresAt).getTime() > now,
    );
    if (live.length > 0) out.push({ planId: id, approvers: live.map((a) => a.approver.id) });
  }
  return out;
}

export type RunStatus = "executed" | "failed" | "blocked" | "drift" | "dry-run";

export interface RunOutcome {
  status: RunStatus;
  plan: Plan;
  decision: Decision;
  execution: Execution;
  /** For a command: its exit code. */
  exitCode: number | null;
  /** Why it was blocked or failed. */
  detail: string | null;
}

export interface RunInput {
  /** Plans the command or SQL; called twice: before checking, and again just before executing. */
  planner: () => Promise<Plan>;
  /** The plan's JSON document (what `plan --json` prints). */
  document: (plan: Plan) => unknown;
  /** Executes it; resolves to the exit code (SQL: 0, or throws with the rollback message). */
  executor: () => Promise<{ exitCode: number }>;
  dryRun: boolean;
}

/**
 * plan → check every requirement (approvals from the catalog, break-glass) → re-plan just before
 * executing and refuse on drift → execute → record everything that was checked and done.
 */
export async function run(deps: GateDeps, input: RunInput): Promise<RunOutcome> {
  const started = deps.clock.now();
  const first = await input.planner();
  const asset = first.asset;
  await deps.catalog.savePlan(
    planRecord(first, input.document(first), deps.identity, started),
    auditInput(deps, "plan", {
      asset,
      planId: first.planId,
      data: { command: first.command.text, kind: first.command.kind, verdict: first.verdict },
    }),
  );
  const decision = await decide(deps, first);
  const finish = async (
    plan: Plan,
    d: Decision,
    status: RunStatus,
    result: ExecutionResult,
    exitCode: number | null,
    detail: string | null,
  ): Promise<RunOutcome> => {
    const finished = deps.clock.now();
    const execution: Execution = {
      id: newId("run"),
      planId: plan.planId,
      identity: deps.identity,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      result,
      exitCode,
      durationMs: finished.getTime() - started.getTime(),
      command: plan.command,
      requirements: d.requirements,
      approvals: d.approvals.map((a) => a.id),
      breakGlass: d.breakGlass?.id ?? null,
      detail,
    };
    await deps.catalog.recordExecution(
      execution,
      auditInput(deps, "run", {
        asset: plan.asset,
        planId: plan.planId,
        data: {
          result,
          status,
          command: plan.command.text,
          exitCode,
          durationMs: execution.durationMs,
          approvals: d.approvals.map((a) => ({ id: a.id, by: a.approver.id })),
          breakGlass: d.breakGlass?.id ?? null,
          requirements: d.requirements.map((r) => ({ kind: r.kind, met: r.met, detail: r.detail })),
          detail,
        },
      }),
    );
    return { status, plan, decision: d, execution, exitCode, detail };
  };

  if (decision.verdict !== "allow") {
    const unmet = decision.requirements.filter((r) => !r.met);
    const needsApproval = unmet.some((r) => r.kind === "approvals");
    const outcome = await finish(
      first,
      decision,
      decision.drifted.length > 0 ? "drift" : "blocked",
      "blocked",
      null,
      decision.verdict === "deny"
        ? unmet
            .filter((r) => r.kind === "deny")
            .map((r) => r.detail)
            .join("; ")
        : decision.drifted.length > 0
          ? `the plan changed since it was approved (drift): approvals of ${decision.drifted.map((x) => `${x.planId.slice(0, 12)} by ${x.approvers.join(", ")}`).join("; ")} do not count for ${first.planId.slice(0, 12)}`
          : `${unmet.length} requirement${unmet.length === 1 ? "" : "s"} not met`,
    );
    if (needsApproval && decision.verdict === "require") {
      await announce(
        deps,
        {
          text: `${deps.identity.id} asks to run \`${first.command.text.slice(0, 200)}\`${asset ? ` on ${asset}` : ""}: plan ${first.planId.slice(0, 12)} needs an approval. Review it, then: lifeline approve ${first.planId.slice(0, 12)}`,
          event: {
            event: "approval-needed",
            planId: first.planId,
            asset,
            requester: deps.identity.id,
            command: first.command.text,
          },
        },
        first.planId,
        asset,
      );
    }
    return outcome;
  }

  // Immediately before executing: the world may have moved since the plan (or the approval).
  const again = await input.planner();
  if (again.planId !== first.planId) {
    return finish(
      again,
      decision,
      "drift",
      "blocked",
      null,
      `the plan changed between checking and executing (drift): ${first.planId.slice(0, 12)} → ${again.planId.slice(0, 12)}; nothing was run`,
    );
  }
  if (input.dryRun) {
    return finish(again, decision, "dry-run", "dry-run", null, "--dry-run: stopped just before executing");
  }
  let exitCode: number;
  let detail: string | null = null;
  try {
    exitCode = (await input.executor()).exitCode;
  } catch (error) {
    exitCode = 1;
    detail = error instanceof Error ? error.message : String(error);
    const outcome = await finish(again, decision, "failed", "failed", null, detail);
    await announce(
      deps,
      {
        text: `FAILED: ${deps.identity.id} ran \`${again.command.text.slice(0, 200)}\`${asset ? ` on ${asset}` : ""} (plan ${again.planId.slice(0, 12)}): ${detail.slice(0, 300)}`,
        event: {
          event: "execution",
          result: "failed",
          planId: again.planId,
          asset,
          identity: deps.identity.id,
        },
      },
      again.planId,
      asset,
    );
    return outcome;
  }
  const ok = exitCode === 0;
  const outcome = await finish(
    again,
    decision,
    ok ? "executed" : "failed",
    ok ? "succeeded" : "failed",
    exitCode,
    ok ? null : `the command exited with ${exitCode}`,
  );
  await announce(
    deps,
    {
      text: `${ok ? "Executed" : `FAILED (exit ${exitCode})`}: ${deps.identity.id} ran \`${again.command.text.slice(0, 200)}\`${asset ? ` on ${asset}` : ""} (plan ${again.planId.slice(0, 12)}${decision.breakGlass ? `, under break-glass ${decision.breakGlass.id}` : decision.approvals.length > 0 ? `, approved by ${decision.approvals.map((a) => a.approver.id).join(", ")}` : ""})`,
      event: {
        event: "execution",
        result: ok ? "succeeded" : "failed",
        exitCode,
        planId: again.planId,
        asset,
        identity: deps.identity.id,
      },
    },
    again.planId,
    asset,
  );
  return outcome;
}

export interface ApproveResult {
  approval: Approval;
  plan: PlanRecord;
  entry: AuditEntry;
}

/** Approves one exact plan, as someone other than the person who asked, for a bounded time. */
export async function approve(
  deps: GateDeps,
  input: { planId: string; comment: string | null; ttlSeconds: number },
): Promise<ApproveResult> {
  const plan = await deps.catalog.findPlan(input.planId);
  if (!plan) {
    throw new LifelineError({
      code: "PLAN_UNKNOWN",
      kind: "usage",
      message: `no plan ${input.planId} in the catalog ${deps.catalog.location}`,
      fix: "the person who wants to run it runs `lifeline run …` first; it records the plan and prints its id",
    });
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
      },
    }),
  );
  await announce(
    deps,
    {
      text: `${deps.identity.id} approved plan ${plan.planId.slice(0, 12)} (\`${plan.command.text.slice(0, 200)}\`) for ${plan.requestedBy.id}, valid ${formatDuration(input.ttlSeconds)}${input.comment ? `: "${input.comment}"` : ""}`,
      event: {
        event: "approval",
        planId: plan.planId,
        approver: deps.identity.id,
        requester: plan.requestedBy.id,
        expiresAt: approval.expiresAt,
      },
    },
    plan.planId,
    asset,
  );
  return { approval, plan, entry };
}

export async function revoke(deps: GateDeps, id: string): Promise<Approval> {
  const approval = await deps.catalog.findApproval(id);
  if (!approval) {
    throw new LifelineError({
      code: "APPROVAL_UNKNOWN",
      kind: "usage",
      message: `no approval ${id}`,
      fix: "lifeline audit --kind approve lists approvals and their ids",
    });
  }
  const at = deps.clock.now().toISOString();
  const done = await deps.catalog.revokeApproval(
    approval.id,
    deps.identity.id,
    at,
    auditInput(deps, "revoke", {
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

/** Grants the acting person, for one asset and a bounded time, the right to run without approvals. */
export async function breakGlass(
  deps: GateDeps,
  input: { asset: string; seconds: number; maxSeconds: number; reason: string },
): Promise<BreakGlass> {
  if (input.reason.trim().length < 3) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: "break-glass needs a reason (the incident, what you will do)",
      fix: 'lifeline break-glass --asset shop --for 30m --reason "INC-4411 restore"',
    });
  }
  if (input.seconds <= 0 || input.seconds > input.maxSeconds) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `break-glass lasts at most ${formatDuration(input.maxSeconds)} (asked: ${formatDuration(Math.max(0, input.seconds))})`,
      fix: `ask for ${formatDuration(input.maxSeconds)} or less (breakGlass.max in lifeline.yaml sets the limit)`,
    });
  }
  const now = deps.clock.now();
  const grant: BreakGlass = {
    id: newId("bg"),
    asset: input.asset,
    identity: deps.identity.id,
    reason: input.reason.trim(),
    grantedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + input.seconds * 1000).toISOString(),
    grantedBy: deps.identity,
    revokedAt: null,
  };
  await deps.catalog.grantBreakGlass(
    grant,
    auditInput(deps, "break-glass", {
      asset: input.asset,
      data: { grant: grant.id, reason: grant.reason, expiresAt: grant.expiresAt, seconds: input.seconds },
    }),
  );
  await announce(
    deps,
    {
      text: `:rotating_light: BREAK-GLASS: ${deps.identity.id}@${deps.identity.host} may run destructive operations on ${input.asset} without approvals until ${grant.expiresAt} (${formatDuration(input.seconds)}). Reason: ${grant.reason}`,
      event: {
        event: "break-glass",
        grant: grant.id,
        asset: input.asset,
        identity: deps.identity.id,
        expiresAt: grant.expiresAt,
        reason: grant.reason,
      },
    },
    null,
    input.asset,
  );
  return grant;
}
