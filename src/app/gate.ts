import { randomBytes } from "node:crypto";
import type { AuditEntry, AuditInput, AuditKind, Identity } from "../core/audit/chain.js";
import { formatDuration } from "../core/duration.js";
import { LifelineError } from "../core/errors.js";
import {
  usesOf,
  vouchedApprovals,
  vouchedGrants,
  type Approval,
  type BreakGlass,
  type Execution,
  type ExecutionResult,
  type PlanRecord,
  type StatementResult,
} from "../core/approval/approval.js";
import { decideApprovals, liveApprovals, type Decision } from "../core/approval/decide.js";
import { redactValue, secrets } from "../core/redact.js";
import type { Catalog } from "../ports/catalog.js";
import type { Clock } from "../ports/clock.js";
import type { Notification, NotifyFailure } from "../notify/webhook.js";
import type { Plan } from "../core/plan/plan.js";

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
    // The stored document passes the one redactor (it quotes statements and commands).
    document: redactValue(secrets, document),
  };
}

const APPROVAL_KINDS: readonly AuditKind[] = ["approve", "revoke", "use"];
const GRANT_KINDS: readonly AuditKind[] = ["break-glass", "break-glass-revoke"];

/**
 * The stored approvals of a plan that count as far as the audit log vouches for them, and the
 * executions each has already authorised (see vouchedApprovals).
 */
export async function vouchedApprovalsFor(
  catalog: Catalog,
  planId: string,
): Promise<ReturnType<typeof vouchedApprovals>> {
  const stored = await catalog.approvalsFor(planId);
  const entries = await catalog.auditAbout(
    APPROVAL_KINDS,
    stored.map((a) => a.id),
  );
  return vouchedApprovals(stored, entries);
}

/** Break-glass grants active at `now` that the audit log vouches for (what `run` and `status` honour). */
export async function countingGrants(catalog: Catalog, now: Date): Promise<BreakGlass[]> {
  const stored = await catalog.breakGlass({ activeAt: now.toISOString() });
  const entries = await catalog.auditAbout(
    GRANT_KINDS,
    stored.map((g) => g.id),
  );
  return vouchedGrants(stored, entries);
}

/** The verdict once the catalog's approvals and break-glass grants are taken into account. */
export async function decide(deps: GateDeps, plan: Plan): Promise<Decision> {
  const now = deps.clock.now();
  // What is checked (only the entries about this plan's approvals and the active grants, read by
  // index): an approval or grant row counts only when the audit log has its approve/break-glass
  // entry with the same plan, approver or identity, asset, expiry and uses, and that entry is
  // readable, matches its hash, is not beyond the head and is linked to the entry after it
  // (Catalog.auditAbout returns only such entries; revoke and use entries likewise). A row
  // written by hand, or edited, does not count; a revoke entry revokes whatever the row says; the
  // uses are counted from the log's use entries. Not checked here: the whole chain (someone able to
  // rewrite every entry after a forged one defeats these checks; `lifeline audit verify` finds it).
  const [vouched, grants] = await Promise.all([
    vouchedApprovalsFor(deps.catalog, plan.planId),
    countingGrants(deps.catalog, now),
  ]);
  for (const f of vouched.forged)
    if (f.approval.damaged !== undefined)
      deps.warn(
        `approval ${f.approval.id} in the catalog is damaged (${f.approval.damaged}); it does not count`,
      );
  const decision = decideApprovals({ plan, runner: deps.identity.id, now, vouched, grants });
  const drifted = decision.verdict === "allow" ? [] : await driftedApprovals(deps, plan);
  return { ...decision, drifted };
}

/**
 * Earlier plans of the same command with approvals that would still count for them (vouched by
 * the log, not revoked, expired or used up) but do not bind this plan: the plan drifted. It only
 * explains a block; it grants nothing.
 */
async function driftedApprovals(deps: GateDeps, plan: Plan): Promise<Decision["drifted"]> {
  const others = await deps.catalog.plansOfCommand(plan.command.text, { except: plan.planId, limit: 20 });
  const out: Decision["drifted"] = [];
  const now = deps.clock.now();
  for (const id of others) {
    const { approvals, used } = await vouchedApprovalsFor(deps.catalog, id);
    const live = liveApprovals(approvals, used, now);
    if (live.length > 0) out.push({ planId: id, approvers: live.map((a) => a.approver.id) });
  }
  return out;
}

/**
 * Records a plan (one catalog row and its `plan` audit entry; the database planned against is not
 * touched), so that another person can review and approve it. A plan's requester is whoever first
 * recorded it: recording it again keeps the first record.
 */
export async function recordPlan(deps: GateDeps, plan: Plan, document: unknown): Promise<AuditEntry> {
  return deps.catalog.savePlan(
    planRecord(plan, document, deps.identity, deps.clock.now()),
    auditInput(deps, "plan", {
      asset: plan.asset,
      planId: plan.planId,
      data: { command: plan.command.text, kind: plan.command.kind, verdict: plan.verdict },
    }),
  );
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
  /**
   * Executes it; resolves to the exit code (SQL: 0, or throws with the rollback message) and, for
   * SQL, what each statement did; for a command killed by a signal, the signal's name (its exit
   * code is 128 + the signal's number, as shells report it).
   */
  executor: () => Promise<{ exitCode: number; statements?: StatementResult[]; signal?: string | null }>;
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
  await recordPlan(deps, first, input.document(first));
  const decision = await decide(deps, first);
  const finish = async (
    plan: Plan,
    d: Decision,
    status: RunStatus,
    result: ExecutionResult,
    exitCode: number | null,
    detail: string | null,
    statements?: StatementResult[],
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
      ...(statements ? { statements } : {}),
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
          ...(statements ? { statements } : {}),
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
          text: `${deps.identity.id} asks to run \`${first.command.text.slice(0, 200)}\`${asset ? ` on ${asset}` : ""}: plan ${first.planId.slice(0, 12)} needs an approval. Review it (lifeline show ${first.planId.slice(0, 12)}), then: lifeline approve ${first.planId.slice(0, 12)}`,
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
  // The approvals that authorise this execution are used by it, atomically with the record that
  // it starts (recorded before it starts: a crash or a kill during the command still leaves a
  // trace). Under break-glass, or when the policy asks for no approval, none is used.
  const authorising =
    decision.breakGlass === null && decision.requirements.some((r) => r.kind === "approvals")
      ? decision.approvals
      : [];
  const used = await deps.catalog.useApprovals(
    authorising.map((a) => ({
      approvalId: a.id,
      allowed: usesOf(a.uses),
      audit: auditInput(deps, "use", {
        asset,
        planId: again.planId,
        data: { approval: a.id, approver: a.approver.id, uses: usesOf(a.uses) },
      }),
    })),
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
  if (!used.ok) {
    // Another execution took the last use between the check and now: nothing runs.
    const now = await decide(deps, again);
    return finish(
      again,
      now.verdict === "allow" ? { ...now, verdict: "require" } : now,
      "blocked",
      "blocked",
      null,
      `approval ${used.exhausted.map((x) => `${x.approvalId} was used by another execution (${x.used} of ${usesOf(authorising.find((a) => a.id === x.approvalId)?.uses)} use${x.used === 1 ? "" : "s"})`).join("; ")}; nothing was run`,
    );
  }
  let exitCode: number;
  let detail: string | null = null;
  let statements: StatementResult[] | undefined;
  let killedBy: string | null = null;
  try {
    const result = await input.executor();
    exitCode = result.exitCode;
    statements = result.statements;
    killedBy = result.signal ?? null;
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
    ok
      ? null
      : killedBy
        ? `the command was killed by ${killedBy} (exit code ${exitCode})`
        : `the command exited with ${exitCode}`,
    statements,
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

/** A recorded plan by id or prefix, or an error that says how plans get recorded. */
export async function findRecordedPlan(catalog: Catalog, idOrPrefix: string): Promise<PlanRecord> {
  const plan = await catalog.findPlan(idOrPrefix);
  if (!plan) {
    throw new LifelineError({
      code: "PLAN_UNKNOWN",
      kind: "usage",
      message: `no plan ${idOrPrefix} in the catalog ${catalog.location}`,
      fix: "`lifeline plan` (when the plan needs approvals) and `lifeline run` record the plan and print its id; check the id, and that lifeline.yaml points at the same catalog",
    });
  }
  return plan;
}

export interface ApproveResult {
  approval: Approval;
  plan: PlanRecord;
  entry: AuditEntry;
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
    /** Called with the plan before anything is recorded (the approver sees what they approve). */
    review?: (plan: PlanRecord) => void;
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
  input.review?.(plan);
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
