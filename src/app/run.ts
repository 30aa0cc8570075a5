import { LifelineError } from "../core/errors.js";
import type { StatementResult } from "../core/approval/approval.js";
import type { PolicyRule } from "../core/plan/policy.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Progress } from "../ports/engine.js";
import { runChild } from "../support/process.js";
import type { AppContext } from "./context.js";
import { run, type GateDeps, type RunOutcome } from "./gate.js";
import { planCommand, type CommandPlanDeps, type CommandPlanOptions } from "./plan-command.js";
import type { Plan } from "../core/plan/plan.js";
import { plan as planSql } from "./plan.js";

/** SQL to run on one asset, in one transaction. */
export interface SqlRunRequest {
  kind: "sql";
  ctx: AppContext;
  asset: ResolvedAsset;
  sql: string;
  /** Count rows exactly in the plan. */
  exact: boolean;
  policy: readonly PolicyRule[];
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
  const done = await engine.sql.execute(engine.target(asset.url), sql, signal);
  return { exitCode: 0, statements: done.statements };
}

/**
 * Runs SQL or a command through the gate (see run in gate.ts): planned, checked, re-planned just
 * before executing, executed, recorded.
 */
export function runRequest(deps: GateDeps, request: RunRequest, options: RunOptions): Promise<RunOutcome> {
  return run(deps, {
    planner: () => planRequest(request),
    document: options.document,
    executor: () => execute(request, options.signal),
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
