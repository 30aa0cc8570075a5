/**
 * The admission webhook's use case: one AdmissionReview judged by the very code path of
 * `lifeline plan -- kubectl …` (planCommand, the same policy) and of `lifeline run`'s gate (decide:
 * approvals, break-glass), recorded in the audit log when it is about a protected object.
 *
 * Known limits (later work): the cluster is read through the Cluster port's list calls for every
 * planned request (no informer cache yet); a `lifeline run` executing an approved plan is not let
 * through (its executing window); Kubernetes users are not mapped to lifeline identities (a
 * break-glass grant counts when its identity is exactly the Kubernetes username).
 */
import {
  admissionSubject,
  parseAdmissionReview,
  type AdmissionRequest,
  type AdmissionResponse,
} from "../core/admission/review.js";
import { denialMessage, planWarnings } from "../core/admission/message.js";
import { displayCommand } from "../core/kubernetes/command/index.js";
import type { Plan } from "../core/plan/plan.js";
import type { Catalog } from "../ports/catalog.js";
import type { Clock } from "../ports/clock.js";
import { decideApprovals } from "../core/approval/decide.js";
import { auditInput, countingGrants, decide, type GateDeps } from "./gate.js";
import { planCommand, type CommandPlanDeps, type CommandPlanOptions } from "./plan-command.js";

export interface AdmissionDeps {
  /** planCommand's inputs, as `lifeline plan` wires them (the signal is set per request). */
  plan: { deps: Omit<CommandPlanDeps, "signal">; options: CommandPlanOptions };
  /** The catalog (opened once, shared); rejects when it cannot be opened. */
  catalog: () => Promise<Catalog>;
  clock: Clock;
  /** This server's host name, for the audit log. */
  host: string;
  warn: (message: string) => void;
  /** How long one request may take before it is denied (below the webhook's timeoutSeconds). */
  timeoutMs?: number;
}

/** What the server answers, and what it logs (one line a decision; no secrets). */
export interface AdmissionOutcome {
  /** null when the body was no AdmissionReview at all: the HTTP answer is an error status. */
  response: AdmissionResponse | null;
  httpStatus: number;
  /** allowed, denied, ignored (allowed: not lifeline's), or invalid (not an AdmissionReview). */
  decision: "allowed" | "denied" | "ignored" | "invalid";
  resource: string;
  operation: string;
  log: Record<string, unknown>;
}

const DEFAULT_TIMEOUT_MS = 8_000;

function deny(uid: string, code: number, message: string): AdmissionResponse {
  return {
    uid,
    allowed: false,
    status: { code, message, reason: code === 403 ? "Forbidden" : "BadRequest" },
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Judges one AdmissionReview body (parsed JSON). Never throws: every failure is a defined answer. */
export async function judgeAdmission(deps: AdmissionDeps, body: unknown): Promise<AdmissionOutcome> {
  const parsed = parseAdmissionReview(body);
  if (!parsed.ok) {
    return {
      response: parsed.uid ? deny(parsed.uid, 400, `lifeline: ${parsed.reason}`) : null,
      httpStatus: parsed.uid ? 200 : 400,
      decision: "invalid",
      resource: "unknown",
      operation: "unknown",
      log: { uid: parsed.uid, reason: parsed.reason },
    };
  }
  const req = parsed.request;
  const base = {
    resource: req.resource.resource,
    operation: req.operation,
  };
  const who = { user: req.userInfo.username, groups: req.userInfo.groups };
  const subject = admissionSubject(req);
  if (subject.kind === "ignore") {
    return {
      response: { uid: req.uid, allowed: true },
      httpStatus: 200,
      decision: "ignored",
      ...base,
      log: { uid: req.uid, ...who, name: req.name, namespace: req.namespace, reason: subject.reason },
    };
  }
  const logBase = { uid: req.uid, ...who, target: subject.target, dryRun: req.dryRun };
  if (subject.kind === "invalid") {
    // Lifeline's to judge but unreadable: denied, and recorded like any protected decision.
    const message = `lifeline cannot judge ${subject.target}: ${subject.reason}`;
    await record(deps, req, {
      result: "denied",
      reason: subject.reason,
      command: null,
      planId: null,
      asset: null,
    });
    return {
      response: deny(req.uid, 400, message),
      httpStatus: 200,
      decision: "denied",
      ...base,
      log: { ...logBase, reason: subject.reason },
    };
  }
  const command = displayCommand(subject.argv);
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let plan: Plan;
  try {
    plan = await planCommand({ ...deps.plan.deps, signal }, subject.argv, deps.plan.options);
  } catch (error) {
    const reason = `lifeline could not plan ${command}: ${errorText(error)}`;
    await record(deps, req, { result: "denied", reason, command, planId: null, asset: null });
    return {
      response: deny(req.uid, 403, `${reason}\n  it is denied until lifeline can tell what it would destroy`),
      httpStatus: 200,
      decision: "denied",
      ...base,
      log: { ...logBase, command, reason },
    };
  }
  const protectedObject = plan.assets.length > 0 || plan.verdict !== "allow";
  const warnings = req.dryRun ? (v: string) => ({ warnings: planWarnings(plan, v) }) : () => ({});
  if (!protectedObject) {
    return {
      response: { uid: req.uid, allowed: true, ...warnings("allow") },
      httpStatus: 200,
      decision: "allowed",
      ...base,
      log: { ...logBase, command, planId: plan.planId, verdict: plan.verdict },
    };
  }
  let catalog: Catalog;
  let verdict: {
    allowed: boolean;
    message: string | null;
    breakGlass: string | null;
    approved: string | null;
    /** The audit entry (seq) of the `lifeline run` executing this plan, when that is why it passes. */
    run?: number;
  };
  try {
    catalog = await beforeDeadline(deps.catalog(), signal, timeoutMs);
    const gate: GateDeps = {
      catalog,
      identity: { id: req.userInfo.username, source: "server", host: deps.host, authenticated: true },
      clock: deps.clock,
      notify: async () => [],
      warn: deps.warn,
    };
    let decision = await beforeDeadline(decide(gate, plan), signal, timeoutMs);
    if (plan.verdict !== "allow" && decision.verdict === "allow" && decision.breakGlass === null) {
      // Approvals counted, but they are for `lifeline run` to use: only a break-glass grant of this
      // user lets the request itself through.
      const now = deps.clock.now();
      const waived = decideApprovals({
        plan,
        runner: gate.identity.id,
        now,
        vouched: { approvals: [], forged: [], used: new Map() },
        grants: await beforeDeadline(countingGrants(catalog, now), signal, timeoutMs),
      });
      if (waived.verdict === "allow" && waived.breakGlass) decision = { ...waived, drifted: [] };
    }
    const approvedOnly =
      plan.verdict !== "allow" && decision.verdict === "allow" && decision.breakGlass === null;
    // `lifeline run` executing this very plan (approved, its `executing` entry recorded moments ago,
    // no outcome yet): the request is that execution's, so it passes. Another object is another plan.
    const running =
      decision.verdict === "allow" && !approvedOnly
        ? null
        : await beforeDeadline(executingRun(catalog, plan.planId, deps.clock.now()), signal, timeoutMs);
    if (running !== null) {
      verdict = { allowed: true, message: null, breakGlass: null, approved: null, run: running };
    } else if (decision.verdict === "allow" && !approvedOnly) {
      verdict = { allowed: true, message: null, breakGlass: decision.breakGlass?.id ?? null, approved: null };
    } else {
      verdict = {
        allowed: false,
        message: denialMessage({
          plan,
          argv: subject.argv,
          unmet: decision.requirements,
          approvedPlan: approvedOnly ? plan.planId : null,
        }),
        breakGlass: null,
        approved: approvedOnly ? plan.planId : null,
      };
    }
  } catch (error) {
    const reason = `the catalog is unavailable: ${errorText(error)}`;
    return {
      response: deny(
        req.uid,
        403,
        `lifeline cannot decide about ${subject.target} (${plan.assets.map((a) => `asset ${a.name}`).join(", ") || `verdict ${plan.verdict}`}): ${reason}\n  it is denied until the catalog is back (approvals and break-glass grants live there)`,
      ),
      httpStatus: 200,
      decision: "denied",
      ...base,
      log: { ...logBase, command, planId: plan.planId, verdict: plan.verdict, reason },
    };
  }
  const result = verdict.allowed ? "allowed" : "denied";
  const recorded = await record(deps, req, {
    result,
    reason: verdict.breakGlass
      ? `break-glass grant ${verdict.breakGlass}`
      : verdict.run !== undefined
        ? `lifeline run executing approved plan ${plan.planId.slice(0, 12)} (audit entry ${verdict.run})`
        : verdict.approved
          ? "approved plan: use lifeline run"
          : `verdict ${plan.verdict}`,
    command,
    planId: plan.planId,
    asset: plan.asset,
    verdict: plan.verdict,
    ...(verdict.breakGlass ? { breakGlass: verdict.breakGlass } : {}),
  });
  if (recorded !== null) {
    // Fail closed: a decision about a protected object that cannot be recorded is not taken.
    return {
      response: deny(
        req.uid,
        403,
        `lifeline could not record its decision about ${subject.target} in the audit log: ${recorded}`,
      ),
      httpStatus: 200,
      decision: "denied",
      ...base,
      log: { ...logBase, command, planId: plan.planId, verdict: plan.verdict, reason: recorded },
    };
  }
  const log = {
    ...logBase,
    command,
    planId: plan.planId,
    asset: plan.asset,
    verdict: plan.verdict,
    ...(verdict.breakGlass ? { breakGlass: verdict.breakGlass } : {}),
    ...(verdict.approved ? { approvedPlan: verdict.approved } : {}),
  };
  return {
    response: verdict.allowed
      ? { uid: req.uid, allowed: true, ...warnings(plan.verdict) }
      : { ...deny(req.uid, 403, verdict.message ?? "denied"), ...warnings(plan.verdict) },
    httpStatus: 200,
    decision: result,
    ...base,
    log,
  };
}

/**
 * One `admission` audit entry: who (the Kubernetes user and groups), what, the result. Dry runs are
 * recorded too (marked dryRun: someone looked at destroying a protected object); they change nothing
 * in the cluster. Returns null when recorded, else why not.
 */
async function record(
  deps: AdmissionDeps,
  req: AdmissionRequest,
  fields: {
    result: string;
    reason: string;
    command: string | null;
    planId: string | null;
    asset: string | null;
    verdict?: string;
    breakGlass?: string;
  },
): Promise<string | null> {
  try {
    const deadline = AbortSignal.timeout(deps.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const catalog = await beforeDeadline(deps.catalog(), deadline, deps.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    await beforeDeadline(
      catalog.appendAudit(
        auditInput(
          {
            catalog,
            identity: {
              id: req.userInfo.username || "(unknown)",
              source: "server",
              host: deps.host,
              authenticated: true,
            },
            clock: deps.clock,
            notify: async () => [],
            warn: deps.warn,
          },
          "admission",
          {
            asset: fields.asset,
            planId: fields.planId,
            data: {
              result: fields.result,
              reason: fields.reason,
              command:
                fields.command ??
                `${req.operation} ${req.resource.resource} ${req.namespace ? `${req.namespace}/` : ""}${req.name}`,
              ...(fields.verdict ? { verdict: fields.verdict } : {}),
              ...(fields.breakGlass ? { breakGlass: fields.breakGlass } : {}),
              operation: req.operation,
              resource: req.resource.resource,
              namespace: req.namespace,
              name: req.name,
              uid: req.uid,
              groups: req.userInfo.groups,
              dryRun: req.dryRun,
            },
          },
        ),
      ),
      deadline,
      deps.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    return null;
  } catch (error) {
    return errorText(error);
  }
}

/** The catalog's answer, or a rejection once the request's time is up (a hung catalog denies, in time). */
function beforeDeadline<T>(work: Promise<T>, signal: AbortSignal, ms: number): Promise<T> {
  const late = () => new Error(`the catalog did not answer within ${ms / 1000} s`);
  if (signal.aborted) return Promise.reject(late());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(late());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** How long after `lifeline run` records that it executes a plan its requests are recognised. */
export const RUN_WINDOW_MS = 120_000;

/**
 * The audit entry (seq) of a `lifeline run` that started executing this plan within the window and
 * has recorded no outcome yet; null when there is none.
 */
export async function executingRun(catalog: Catalog, planId: string, now: Date): Promise<number | null> {
  const entries = await catalog.audit({
    planId,
    kind: "run",
    since: new Date(now.getTime() - RUN_WINDOW_MS).toISOString(),
  });
  let open: number | null = null;
  for (const entry of entries) {
    const status = entry.data.status;
    if (status === "executing") open = entry.seq;
    else if (open !== null && typeof status === "string") open = null;
  }
  return open;
}
