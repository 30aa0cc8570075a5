import { LifelineError } from "../core/errors.js";
import { secrets } from "../core/redact.js";
import {
  usesOf,
  type Execution,
  type ExecutionResult,
  type StatementResult,
} from "../core/approval/approval.js";
import type { Decision } from "../core/approval/decide.js";
import { destroyedBy } from "../core/admission/allowance.js";
import type { PolicyRule } from "../core/plan/policy.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Progress } from "../ports/engine.js";
import { runChild } from "../support/process.js";
import type { AppContext } from "./context.js";
import { announce, auditInput, decide, newId, recordPlan, type GateDeps } from "./gate.js";
import { planCommand, type CommandPlanDeps, type CommandPlanOptions } from "./plan-command.js";
import type { Plan } from "../core/plan/plan.js";
import { plan as planSql } from "./plan.js";
import { GUARD_APPROVAL_TTL_SECONDS, guardObjects } from "./guard-objects.js";

/** SQL to run on one asset, in one transaction. */
export interface SqlRunRequest {
  kind: "sql";
  ctx: AppContext;
  asset: ResolvedAsset;
  sql: string;
  /** Count rows exactly in the plan. */
  exact: boolean;
  policy: readonly PolicyRule[];
  /**
   * The key of the asset's database guard (lifeline guard install), when lifeline has one: the
   * transaction then carries an approval for exactly the objects of the plan being executed.
   */
  guardKey?: Buffer | null;
}

/** A kubectl or helm command to run as a child process. */
export interface CommandRunRequest {
  kind: "command";
  argv: readonly string[];
  /** What planning the command reads: the cluster, the manifests, the assets, the policy. */
  planDeps: CommandPlanDeps;
  planOptions: CommandPlanOptions;
  /** Where the command's own output goes: stderr when lifeline's stdout carries JSON. */
  output: "stdout" | "stderr";
  /** The environment the command runs with (its KUBECONFIG: the one lifeline planned with). */
  env: NodeJS.ProcessEnv;
  /** Told when the cluster is read (each plan reads it again). */
  progress?: Progress;
  /**
   * The Kubernetes user the command acts as (a SelfSubjectReview with its kubeconfig and context),
   * learnt just before executing and recorded in the `executing` audit entry: the admission webhook
   * lets the run through for that user only.
   */
  whoami?: () => Promise<{ username: string; groups: string[] }>;
}

export type RunRequest = SqlRunRequest | CommandRunRequest;

export interface RunOptions {
  dryRun: boolean;
  signal: AbortSignal;
  /** A keyed digest of exactly what runs (see whatRuns), recorded with the run. */
  digest?: string;
  /** The plan's JSON document, as stored with the recorded plan (what `plan --json` prints). */
  document: (plan: Plan) => unknown;
}

/** Exactly what runs: the SQL, or the argv joined by NUL (for a keyed digest kept with the run). */
export function whatRuns(request: RunRequest): string {
  return request.kind === "sql" ? request.sql : request.argv.join("\u0000");
}

/** The plan of what the request runs; read-only. */
export async function planRequest(request: RunRequest): Promise<Plan> {
  if (request.kind === "sql") {
    return planSql(request.ctx, request.asset, request.sql, {
      exact: request.exact,
      policy: request.policy,
    });
  }
  request.progress?.phase("reading the cluster");
  return planCommand(request.planDeps, request.argv, request.planOptions);
}

/** Executes the request: the SQL in one transaction (throws with the rollback), or the command. */
async function execute(
  request: RunRequest,
  signal: AbortSignal,
  plan: Plan,
  grant: string,
): Promise<{ exitCode: number; statements?: StatementResult[]; signal?: string | null }> {
  if (request.kind === "command") {
    return runChild(request.argv, { output: request.output, signal, env: request.env });
  }
  const { ctx, asset, sql } = request;
  const engine = ctx.engine(asset.engine);
  if (!engine.sql)
    throw new LifelineError({
      code: "UNSUPPORTED",
      kind: "usage",
      message: `engine ${engine.name} cannot run SQL`,
    });
  const approval = request.guardKey
    ? { grant, key: request.guardKey, ttlSeconds: GUARD_APPROVAL_TTL_SECONDS, objects: guardObjects(plan) }
    : undefined;
  const done = await engine.sql.execute(engine.target(asset.url), sql, signal, approval);
  return { exitCode: 0, statements: done.statements };
}

/**
 * Runs SQL or a command through the gate (see run below): planned, checked, re-planned just
 * before executing, executed, recorded.
 */
export async function runRequest(
  deps: GateDeps,
  request: RunRequest,
  options: RunOptions,
): Promise<RunOutcome> {
  // SQL lifeline can never run as planned (it ends the transaction itself) is refused before a plan
  // is recorded or an approval used.
  if (request.kind === "sql") {
    const refused = await request.ctx.engine(request.asset.engine).sql?.refusal(request.sql);
    if (refused) throw refused;
  }
  return run(deps, {
    planner: () => planRequest(request),
    document: options.document,
    executor: (plan, grant) => execute(request, options.signal, plan, grant),
    ...(request.kind === "command" && request.whoami ? { actor: request.whoami } : {}),
    dryRun: options.dryRun,
    signal: options.signal,
    digest: options.digest,
  });
}

export function runSql(
  deps: GateDeps,
  request: Omit<SqlRunRequest, "kind">,
  options: RunOptions,
): Promise<RunOutcome> {
  return runRequest(deps, { kind: "sql", ...request }, options);
}

export function runCommand(
  deps: GateDeps,
  request: Omit<CommandRunRequest, "kind">,
  options: RunOptions,
): Promise<RunOutcome> {
  return runRequest(deps, { kind: "command", ...request }, options);
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
  executor: (
    plan: Plan,
    /** What authorises it: the plan id, or the break-glass grant it runs under. */
    grant: string,
  ) => Promise<{ exitCode: number; statements?: StatementResult[]; signal?: string | null }>;
  /** Who the execution acts as at the Kubernetes API (see CommandRunRequest.whoami). */
  actor?: () => Promise<{ username: string; groups: string[] }>;
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
  // Who the command acts as at the Kubernetes API, for the admission webhook. Not learnt: recorded
  // as null, and the webhook (where there is one) lets nobody through as this run.
  let kubernetesUser: { username: string; groups: string[] } | null | undefined;
  if (input.actor) {
    try {
      kubernetesUser = await input.actor();
    } catch (error) {
      kubernetesUser = null;
      deps.warn(
        `could not learn the Kubernetes user this command acts as (SelfSubjectReview): ${secrets.redact(error instanceof Error ? error.message : String(error))}; an admission webhook of lifeline will not recognise it as this run`,
      );
    }
  }
  const destroys = destroyedBy(again).map((d) => d.uid);
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
      expiresAt: a.expiresAt,
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
        ...(kubernetesUser === undefined ? {} : { kubernetesUser }),
        // The Kubernetes objects it destroys, by uid: the control plane may finish them (admission).
        ...(destroys.length > 0 ? { destroys } : {}),
      },
    }),
  );
  if (!used.ok) {
    // Another execution took the last use between the check and now, or the approval was revoked
    // or expired meanwhile (while the plan was planned again): nothing runs.
    const now = await decide(deps, again);
    const refused = used.refused ?? [];
    return finish(
      again,
      now.verdict === "allow" ? { ...now, verdict: "require" } : now,
      "blocked",
      "blocked",
      null,
      refused.length > 0
        ? `approval ${refused.map((x) => `${x.approvalId} ${x.why === "revoked" ? "was revoked" : "expired"}`).join("; ")} between the check and executing; nothing was run`
        : `approval ${used.exhausted.map((x) => `${x.approvalId} was used by another execution (${x.used} of ${usesOf(authorising.find((a) => a.id === x.approvalId)?.uses)} use${x.used === 1 ? "" : "s"})`).join("; ")}; nothing was run`,
    );
  }
  let exitCode: number;
  let statements: StatementResult[] | undefined;
  let killedBy: string | null = null;
  try {
    const result = await input.executor(again, decision.breakGlass?.id ?? again.planId);
    exitCode = result.exitCode;
    statements = result.statements;
    killedBy = result.signal ?? null;
  } catch (error) {
    exitCode = 1;
    // A database error may quote the values it rejected (a password the SQL set): it is stored and
    // sent as it is shown, through the one redactor.
    const message = secrets.redact(error instanceof Error ? error.message : String(error));
    const outcome = await finish(again, decision, "failed", "failed", null, message);
    await announceExecution(
      deps,
      again,
      `FAILED: ${deps.identity.id} ran \`${again.command.text.slice(0, 200)}\`${asset ? ` on ${asset}` : ""} (plan ${again.planId.slice(0, 12)}): ${message.slice(0, 300)}`,
      { result: "failed" },
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
  await announceExecution(
    deps,
    again,
    `${ok ? "Executed" : `FAILED (exit ${exitCode})`}: ${deps.identity.id} ran \`${again.command.text.slice(0, 200)}\`${asset ? ` on ${asset}` : ""} (plan ${again.planId.slice(0, 12)}${decision.breakGlass ? `, under break-glass ${decision.breakGlass.id}` : decision.approvals.length > 0 ? `, approved by ${decision.approvals.map((a) => a.approver.id).join(", ")}` : ""})`,
    { result: ok ? "succeeded" : "failed", exitCode },
  );
  return outcome;
}

/** The notification of an execution's outcome (a thrown failure has no exit code). */
function announceExecution(
  deps: GateDeps,
  plan: Plan,
  text: string,
  outcome: { result: "succeeded" | "failed"; exitCode?: number },
): Promise<void> {
  return announce(
    deps,
    {
      text,
      event: {
        event: "execution",
        result: outcome.result,
        ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
        planId: plan.planId,
        asset: plan.asset,
        identity: deps.identity.id,
      },
    },
    plan.planId,
    plan.asset,
  );
}
