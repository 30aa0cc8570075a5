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
  const [stored, storedGrants, trail] = await Promise.all([
    deps.catalog.approvalsFor(plan.planId),
    deps.catalog.breakGlass({ activeAt: now.toISOString() }),
    deps.catalog.audit(),
  ]);
  // The state tables are only trusted as far as the hash-chained log vouches for them: an
  // approval or grant written into the catalog by hand, or a revocation removed, does not count.
  const approved = new Map(
    trail.filter((e) => e.kind === "approve").map((e) => [String(e.data.approval), e] as const),
  );
  const revoked = new Set(trail.filter((e) => e.kind === "revoke").map((e) => String(e.data.approval)));
  const approvals: Approval[] = [];
  const forged: IgnoredApproval[] = [];
  for (const a of stored) {
    const entry = approved.get(a.id);
    if (
      !entry ||
      entry.planId !== a.planId ||
      entry.identity !== a.approver.id ||
      entry.data.expiresAt !== a.expiresAt
    ) {
      forged.push({ approval: a, why: "it is not in the audit log as given: it does not count" });
    } else {
      approvals.push(
        revoked.has(a.id) && a.revokedAt === null ? { ...a, revokedAt: "(in the audit log)" } : a,
      );
    }
  }
  const granted = new Map(
    trail.filter((e) => e.kind === "break-glass").map((e) => [String(e.data.grant), e] as const),
  );
  const endedGrants = new Set(
    trail.filter((e) => e.kind === "break-glass-revoke").map((e) => String(e.data.grant)),
  );
  const grants = storedGrants.filter((g) => {
    const entry = granted.get(g.id);
    return (
      entry !== undefined &&
      !endedGrants.has(g.id) &&
      entry.identity === g.identity &&
      entry.asset === g.asset &&
      entry.data.expiresAt === g.expiresAt
    );
  });
  const counted = countingApprovals(approvals, {
    planId: plan.planId,
    runner: deps.identity.id,
    now,
  });
  const valid = counted.valid;
  const ignored = [...forged, ...counted.ignored];
  const grant = activeBreakGlass(grants, {
    identity: deps.identity.id,
    assets,
    unbound: plan.unbound === true,
    now,
  });
  const { verdict, requirements, usedBreakGlass } = withApprovals(plan.requirements, {
    valid,
    breakGlass: grant,
    planId: plan.planId,
  });
  const drifted = verdict === "allow" ? [] : await driftedApprovals(deps, plan, trail);
  return {
    verdict,
    requirements,
    approvals: valid,
    ignored,
    breakGlass: usedBreakGlass ? grant : null,
    drifted,
  };
}

/** Earlier plans of the same command whose approvals were given but do not bind this plan. */
async function driftedApprovals(
  deps: GateDeps,
  plan: Plan,
  trail: readonly AuditEntry[],
): Promise<Decision["drifted"]> {
  const others = new Set(
    trail
      .filter(
        (e) =>
          e.kind === "plan" &&
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

export type RunStatus = "executed" | "failed" | "blocked" | "drift" | "dry-run" | "interrupted";

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
  /** Ctrl-C: checked again just before executing. */
  signal?: AbortSignal;
  /** A keyed digest of exactly what runs (the argv or the SQL), recorded with the run. */
  digest?: string;
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
          digest: input.digest ?? null,
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
  if (input.signal?.aborted) {
    return finish(
      again,
      decision,
      "interrupted",
      "blocked",
      null,
      "interrupted (Ctrl-C) before executing: nothing was run",
    );
  }
  // Recorded before it starts: a crash or a kill during the command still leaves a trace.
  await deps.catalog.appendAudit(
    auditInput(deps, "run", {
      asset,
      planId: again.planId,
      data: {
        status: "executing",
        command: again.command.text,
        digest: input.digest ?? null,
        approvals: decision.approvals.map((a) => ({ id: a.id, by: a.approver.id })),
        breakGlass: decision.breakGlass?.id ?? null,
      },
    }),
  );
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

/** Ends a break-glass grant before its time (anyone may end one: it only takes a right away). */
export async function endBreakGlass(deps: GateDeps, id: string): Promise<BreakGlass> {
  const grant = (await deps.catalog.breakGlass({})).find((g) => g.id === id);
  if (!grant) {
    throw new LifelineError({
      code: "BREAK_GLASS_UNKNOWN",
      kind: "usage",
      message: `no break-glass grant ${id}`,
      fix: "lifeline status shows the active grants and their ids",
    });
  }
  const at = deps.clock.now().toISOString();
  const done = await deps.catalog.revokeBreakGlass(
    id,
    at,
    auditInput(deps, "break-glass-revoke", {
      asset: grant.asset,
      data: { grant: id, identity: grant.identity },
    }),
  );
  if (!done) {
    throw new LifelineError({
      code: "BREAK_GLASS_ENDED",
      kind: "usage",
      message: `break-glass ${id} already ended`,
      fix: "nothing to do",
    });
  }
  await announce(
    deps,
    {
      text: `Break-glass ${id} on ${grant.asset} for ${grant.identity} ended early by ${deps.identity.id}`,
      event: { event: "break-glass-ended", grant: id, asset: grant.asset, by: deps.identity.id },
    },
    null,
    grant.asset,
  );
  return { ...grant, revokedAt: at };
}
