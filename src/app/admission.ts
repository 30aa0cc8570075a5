/**
 * The admission webhook's use case: one AdmissionReview judged by the very code path of
 * `lifeline plan -- kubectl …` (planCommand, the same policy) and of `lifeline run`'s gate (decide:
 * approvals, break-glass), recorded in the audit log when it is about a protected object.
 *
 * Besides the verdict, a request passes (core/admission/allowance.ts) on a break-glass grant of a
 * lifeline identity its Kubernetes user or group is mapped to (identities: in lifeline.yaml), as the
 * request of the `lifeline run` executing this plan when made by the Kubernetes user that run acts
 * as, or as a kube-controller-manager controller deleting an object an allowed decision destroys.
 *
 * The cluster is read through the Cluster port; `lifeline serve` gives it one backed by an informer
 * cache (src/kubernetes/informer-cache.ts), so no request makes a list call.
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
import {
  controlPlaneController,
  destroyedBy,
  finishingDecision,
  identitiesOf,
  isRunsRequest,
  runUserOf,
  takenDecisionOf,
  type IdentityMap,
  type RunUser,
} from "../core/admission/allowance.js";
import type { Requirement } from "../core/plan/policy.js";
import type { Catalog } from "../ports/catalog.js";
import type { Clock } from "../ports/clock.js";
import { decideApprovals } from "../core/approval/decide.js";
import { auditInput, countingGrants, vouchedApprovalsFor } from "./gate.js";
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
  /** identities: in lifeline.yaml (who a lifeline identity is at the Kubernetes API). */
  identities?: IdentityMap;
  /** serve.controllers in lifeline.yaml: more controllers' usernames that finish allowed deletions. */
  controllers?: readonly string[];
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
  /**
   * Settles once the decision's audit entry is committed, or its failure logged (never rejects).
   * A denial (or a dry run) is answered without waiting for it: it destroys nothing, and a denial
   * that could not be recorded is still a denial. A request let through is answered only once its
   * entry is on disk. The server waits for it before it closes.
   */
  recorded?: Promise<void>;
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

/**
 * The request's deadline: one timer, cleared when the answer is ready. (AbortSignal.timeout kept a
 * timer and its signal alive for the whole timeout after every request, then built a DOMException
 * with a stack trace for each: at 200 requests/s, thousands of live timers the garbage collector
 * copied, and a burst of work 8 s later.)
 */
function requestDeadline(ms: number): { signal: AbortSignal; clear: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`the request took longer than ${ms / 1000} s`)),
    ms,
  );
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** Judges one AdmissionReview body (parsed JSON). Never throws: every failure is a defined answer. */
export async function judgeAdmission(deps: AdmissionDeps, body: unknown): Promise<AdmissionOutcome> {
  const deadline = requestDeadline(deps.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    return await judge(deps, body, deadline.signal);
  } finally {
    deadline.clear();
  }
}

async function judge(deps: AdmissionDeps, body: unknown, signal: AbortSignal): Promise<AdmissionOutcome> {
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
    const { recorded } = await recordDenial(deps, req, signal, subject.target, {
      result: "denied",
      reason: subject.reason,
      command: null,
      planId: null,
      asset: null,
    });
    return {
      recorded,
      response: deny(req.uid, 400, message),
      httpStatus: 200,
      decision: "denied",
      ...base,
      log: { ...logBase, reason: subject.reason },
    };
  }
  const command = displayCommand(subject.argv);
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let plan: Plan;
  try {
    plan = await planCommand({ ...deps.plan.deps, signal }, subject.argv, deps.plan.options);
  } catch (error) {
    const reason = `lifeline could not plan ${command}: ${errorText(error)}`;
    const { recorded } = await recordDenial(deps, req, signal, subject.target, {
      result: "denied",
      reason,
      command,
      planId: null,
      asset: null,
    });
    return {
      recorded,
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
  let verdict: Verdict;
  try {
    verdict = await beforeDeadline(allowance(deps, req, plan, signal, timeoutMs), signal, timeoutMs);
    if (!verdict.allowed) {
      verdict.message = denialMessage({
        plan,
        argv: subject.argv,
        unmet: verdict.unmet,
        approvedPlan: verdict.approved,
      });
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
  const fields: RecordFields = {
    result,
    reason: verdict.reason,
    command,
    planId: plan.planId,
    asset: plan.asset,
    verdict: plan.verdict,
    extra: {
      ...verdict.evidence,
      // What an allowed change destroys, by uid: the control plane may finish it (allowance.ts).
      ...(verdict.allowed && !req.dryRun ? { destroys: destroyedBy(plan).map((d) => d.uid) } : {}),
    },
  };
  // Only a request that goes through waits for its entry (on disk) before it is answered.
  const passes = verdict.allowed && !req.dryRun;
  const recorded = passes ? await record(deps, req, signal, fields) : null;
  const background = passes ? undefined : await recordDenial(deps, req, signal, subject.target, fields);
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
    reason: verdict.reason,
    ...verdict.evidence,
    ...(verdict.approved ? { approvedPlan: verdict.approved } : {}),
  };
  return {
    ...(background ? { recorded: background.recorded } : {}),
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
interface RecordFields {
  result: string;
  reason: string;
  command: string | null;
  planId: string | null;
  asset: string | null;
  verdict?: string;
  /** Why it passed (the grant, the run, the decision it finishes) and what it destroys. */
  extra?: Record<string, unknown>;
}

/** Denials being recorded after their answer, per server: past the bound, a denial waits for its own. */
const pendingDenials = new WeakMap<AdmissionDeps, { count: number }>();
const MAX_PENDING_DENIALS = 256;

/**
 * Records a decision that lets nothing through (a denial, a dry run) without holding its answer:
 * the entry is committed a moment later, with its deadline of its own; a failure is logged with
 * the decision. Resolves to the promise of that record (already settled when the server had too
 * many such records pending: then this one waited, so that they never pile up without bound).
 */
async function recordDenial(
  deps: AdmissionDeps,
  req: AdmissionRequest,
  signal: AbortSignal,
  target: string,
  fields: RecordFields,
): Promise<{ recorded: Promise<void> }> {
  let pending = pendingDenials.get(deps);
  if (!pending) pendingDenials.set(deps, (pending = { count: 0 }));
  const counter = pending;
  counter.count++;
  const deadline = requestDeadline(deps.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const recorded = record(deps, req, deadline.signal, fields).then((failure) => {
    deadline.clear();
    counter.count--;
    if (failure === null) return;
    try {
      deps.warn(
        `lifeline could not record its decision about ${target} (${fields.result}, ${req.userInfo.username || "unknown user"}) in the audit log: ${failure}`,
      );
    } catch {
      // the log is gone: nothing else to tell
    }
  });
  // Past the bound, the denial waits for its entry, within what is left of the request's time.
  if (counter.count > MAX_PENDING_DENIALS) {
    await beforeDeadline(recorded, signal, deps.timeoutMs ?? DEFAULT_TIMEOUT_MS).catch(() => undefined);
  }
  return { recorded };
}

async function record(
  deps: AdmissionDeps,
  req: AdmissionRequest,
  deadline: AbortSignal,
  fields: RecordFields,
): Promise<string | null> {
  try {
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
              ...fields.extra,
              operation: req.operation,
              resource: req.resource.resource,
              namespace: req.namespace,
              name: req.name,
              objectUid: objectUid(req),
              uid: req.uid,
              // The authenticated Kubernetes user (also the entry's identity) and its groups.
              user: req.userInfo.username,
              groups: req.userInfo.groups,
              dryRun: req.dryRun,
            },
          },
        ),
        // A request let through waits until its entry is on disk; a denial (or a dry run) changes
        // nothing in the cluster: answered once committed, on disk within 100 ms, by a sync shared
        // with the other denials of that time (catalog/sqlite-wal-sync.ts: a power cut in between
        // could lose the last denials' entries, never an allowed deletion's; a killed process loses
        // none of them).
        { waitForDisk: fields.result === "allowed" && !req.dryRun },
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
  if (signal.aborted) {
    // The work goes on without a listener: its failure must not become an unhandled rejection.
    work.catch(() => undefined);
    return Promise.reject(late());
  }
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
 * The `executing` audit entry of a `lifeline run` that started executing this plan within the
 * window and has recorded no outcome yet, with the Kubernetes user it acts as; null when there is none.
 */
export async function executingRun(
  catalog: Catalog,
  planId: string,
  now: Date,
): Promise<{ seq: number; user: RunUser | null } | null> {
  const entries = await catalog.audit({
    planId,
    kind: "run",
    since: new Date(now.getTime() - RUN_WINDOW_MS).toISOString(),
  });
  let open: { seq: number; user: RunUser | null } | null = null;
  for (const entry of entries) {
    const status = entry.data.status;
    if (status === "executing") open = { seq: entry.seq, user: runUserOf(entry.data) };
    else if (open !== null && typeof status === "string") open = null;
  }
  return open;
}

/** How far back the control plane's deletions are matched with the decisions they finish. */
export const FINISH_WINDOW_MS = 24 * 60 * 60 * 1000;

interface Verdict {
  allowed: boolean;
  /** Why, for the audit log and the server's log line. */
  reason: string;
  /** What it rests on, recorded with the decision: the grant, the run, the decision it finishes. */
  evidence: Record<string, unknown>;
  /** The requirements not met (a denial's message). */
  unmet: Requirement[];
  /** Set when the plan is approved: `lifeline run` executes it, the request itself stays denied. */
  approved: string | null;
  message?: string;
}

function objectUid(req: AdmissionRequest): string | null {
  const metadata = (req.oldObject ?? req.object)?.metadata;
  const uid =
    typeof metadata === "object" && metadata !== null && !Array.isArray(metadata)
      ? (metadata as Record<string, unknown>).uid
      : null;
  return typeof uid === "string" && uid !== "" ? uid : null;
}

/**
 * Whether a request about a protected object passes, and why: the plan's verdict; else a
 * break-glass grant of a lifeline identity the user is mapped to (identities: in lifeline.yaml);
 * else the `lifeline run` executing this plan, when the user is the one it acts as; else the
 * control plane finishing an allowed decision. Denied otherwise (approvals are for `lifeline run`).
 */
async function allowance(
  deps: AdmissionDeps,
  req: AdmissionRequest,
  plan: Plan,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<Verdict> {
  const verdictReason = `verdict ${plan.verdict}`;
  if (plan.verdict === "allow") {
    return { allowed: true, reason: verdictReason, evidence: {}, unmet: [], approved: null };
  }
  const catalog = await beforeDeadline(deps.catalog(), signal, timeoutMs);
  const now = deps.clock.now();
  // What a denial needs is read at once (a PostgreSQL catalog answers on several connections at the
  // same time); the grants only when the user is mapped to a lifeline identity that could hold one.
  const mappedIdentities = identitiesOf(req.userInfo, deps.identities ?? {});
  const [grants, running, vouched] = await Promise.all([
    mappedIdentities.length > 0 ? countingGrants(catalog, now) : [],
    executingRun(catalog, plan.planId, now),
    vouchedApprovalsFor(catalog, plan.planId),
  ]);
  const none = { approvals: [], forged: [], used: new Map<string, number>() };
  for (const mapped of mappedIdentities) {
    const d = decideApprovals({ plan, runner: mapped.identity, now, vouched: none, grants });
    if (d.verdict === "allow" && d.breakGlass) {
      const g = d.breakGlass;
      const via = "user" in mapped.via ? `user ${mapped.via.user}` : `group ${mapped.via.group}`;
      return {
        allowed: true,
        reason: `break-glass grant ${g.id} of ${mapped.identity} (Kubernetes ${via}): ${g.reason}`,
        evidence: {
          breakGlass: g.id,
          lifelineIdentity: mapped.identity,
          via: mapped.via,
          grantReason: g.reason,
          grantExpiresAt: g.expiresAt,
        },
        unmet: [],
        approved: null,
      };
    }
  }
  if (running !== null && isRunsRequest(req.userInfo, running.user)) {
    return {
      allowed: true,
      reason: `lifeline run executing approved plan ${plan.planId.slice(0, 12)} (audit entry ${running.seq}) as Kubernetes user ${running.user?.username ?? ""}`,
      evidence: { run: running.seq },
      unmet: [],
      approved: null,
    };
  }
  const uid = objectUid(req);
  if (controlPlaneController(req, deps.controllers) !== null && uid !== null) {
    // Only the decisions that destroy this object, by index: a log of a busy day (every denial is
    // recorded) would otherwise be read whole for each of a namespace deletion's objects.
    const since = new Date(now.getTime() - FINISH_WINDOW_MS).toISOString();
    const entries = await catalog.auditDestroying(uid, since);
    const decisions = entries.map(takenDecisionOf).filter((d) => d !== null);
    const finishing = finishingDecision(req, decisions, deps.controllers);
    if (finishing) {
      return {
        allowed: true,
        reason: `${finishing.controller} finishing allowed decision ${finishing.decision.seq} (${finishing.decision.command})`,
        evidence: { finishes: finishing.decision.seq, controller: finishing.controller },
        unmet: [],
        approved: null,
      };
    }
  }
  // Denied. Approvals by others make the plan approved: `lifeline run` executes it.
  const d = decideApprovals({ plan, runner: req.userInfo.username, now, vouched, grants: [] });
  const approved = d.verdict === "allow" ? plan.planId : null;
  const runNote =
    running !== null
      ? running.user === null
        ? `; lifeline run (audit entry ${running.seq}) executes this plan but could not learn its Kubernetes user`
        : `; lifeline run (audit entry ${running.seq}) executes this plan as Kubernetes user ${running.user.username}, not ${req.userInfo.username}`
      : "";
  return {
    allowed: false,
    reason: `${approved ? "approved plan: use lifeline run" : verdictReason}${runNote}`,
    evidence: running !== null ? { run: running.seq } : {},
    unmet: d.requirements.filter((r) => !r.met),
    approved,
  };
}
