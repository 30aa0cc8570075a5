import { createHash, randomBytes } from "node:crypto";
import type { AuditEntry, AuditInput, AuditKind, Hasher, Identity } from "../core/audit/chain.js";
import { LifelineError, typedId } from "../core/errors.js";
import {
  vouchedApprovals,
  vouchedGrants,
  type BreakGlass,
  type PlanRecord,
} from "../core/approval/approval.js";
import {
  decideApprovals,
  judgeRecordedPlan,
  liveApprovals,
  recordedRequirements,
  type Decision,
} from "../core/approval/decide.js";
import { planDigest, vouchPlan, type PlanVouch } from "../core/approval/plan-vouch.js";
import type { Requirement, Verdict } from "../core/plan/policy.js";
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

export function auditInput(
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
    // What the log keeps passes the one redactor: a database error quoting a password the SQL set,
    // a comment, a command line.
    data: redactValue(secrets, fields.data) as Record<string, unknown>,
  };
}

/** Sends and records failures; never throws (a notification never decides anything). */
export async function announce(
  deps: GateDeps,
  message: Notification,
  planId: string | null,
  asset: string | null,
) {
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

/** A recorded plan's approvals, and its requirements and verdict judged with them at `now` (show, approve). */
export async function reviewRecordedPlan(
  catalog: Catalog,
  plan: PlanRecord,
  now: Date,
): Promise<{
  vouched: ReturnType<typeof vouchedApprovals>;
  requirements: Requirement[];
  verdict: Verdict;
}> {
  const vouched = await vouchedApprovalsFor(catalog, plan.planId);
  const judged = judgeRecordedPlan({
    planId: plan.planId,
    verdict: plan.verdict,
    requirements: recordedRequirements(plan.document),
    requester: plan.requestedBy.id,
    now,
    vouched,
  });
  return { vouched, ...judged };
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
  const record = planRecord(plan, document, deps.identity, deps.clock.now());
  // The entry vouches for what `show` and `approve` will print from the row: the document as the
  // catalog keeps it (JSON text, read back) and the command text (see vouchRecordedPlan).
  const stored: unknown = JSON.parse(JSON.stringify(record.document) ?? "null");
  return deps.catalog.savePlan(
    record,
    auditInput(deps, "plan", {
      asset: plan.asset,
      planId: plan.planId,
      data: {
        command: plan.command.text,
        kind: plan.command.kind,
        verdict: plan.verdict,
        digest: planDigest(sha256, stored, record.command.text),
      },
    }),
  );
}

const sha256: Hasher = (text) => createHash("sha256").update(text, "utf8").digest("hex");

/**
 * Whether the audit log vouches for a recorded plan's row (what show and approve print): its
 * first `plan` entry sits in the chain and holds the digest of the stored document and command
 * text, the same requester and verdict. Someone able to write the catalog's plans table, not the
 * log, could otherwise hide a destroyed table from the approver. `run` is not concerned: it plans
 * again and is bound by the plan id.
 */
export async function vouchRecordedPlan(catalog: Catalog, plan: PlanRecord): Promise<PlanVouch> {
  return vouchPlan(sha256, plan, await catalog.firstPlanEntry(plan.planId));
}

/** The stored command text is not quoted back: it is what may have been edited. */
const PLAN_AGAIN =
  "plan it again (lifeline plan <asset> --sql … or lifeline plan -- <command>, with the SQL or command you mean to run) and review the new id";

/** What `show` says before a plan the audit log does not vouch for (null when it does). */
export function planVouchWarning(plan: PlanRecord, vouch: PlanVouch): string | null {
  if (vouch.vouched) return null;
  return vouch.legacy
    ? `note: plan ${plan.planId.slice(0, 12)} was recorded before lifeline vouched for plans in the audit log, so the document below cannot be checked against it; to be sure of what it does, ${PLAN_AGAIN}`
    : `WARNING: plan ${plan.planId.slice(0, 12)} as the catalog stores it does not match what the audit log recorded (${vouch.reason}): it may have been edited, e.g. to hide what it destroys. Do not rely on what follows and do not approve it: ${PLAN_AGAIN}; and run \`lifeline audit verify\``;
}

/**
 * Refuses to approve a plan the audit log does not vouch for; a plan recorded before plans were
 * vouched for is approved with a warning (refusing would strand every pending plan on upgrade).
 */
export function requireVouchedPlan(deps: GateDeps, plan: PlanRecord, vouch: PlanVouch): void {
  if (vouch.vouched) return;
  if (vouch.legacy) {
    deps.warn(
      `plan ${plan.planId.slice(0, 12)} was recorded before lifeline vouched for plans in the audit log: the plan shown comes from the catalog and cannot be checked; if in doubt, revoke the approval and ask for the plan again`,
    );
    return;
  }
  throw new LifelineError({
    code: "PLAN_NOT_VOUCHED",
    kind: "verification",
    message: `plan ${plan.planId.slice(0, 12)} as the catalog ${deps.catalog.location} stores it does not match what the audit log recorded (${vouch.reason}): it may have been edited, so it cannot be approved; nothing was recorded`,
    fix: "plan it again (lifeline plan <asset> --sql … or lifeline plan -- <command>, with the SQL or command you mean to run, not the text the catalog shows) and approve the new id; run `lifeline audit verify` to check the log",
  });
}

/** A recorded plan by id or prefix, or an error that says how plans get recorded. */
export async function findRecordedPlan(catalog: Catalog, idOrPrefix: string): Promise<PlanRecord> {
  const plan = await catalog.findPlan(idOrPrefix);
  if (!plan) {
    throw new LifelineError({
      code: "PLAN_UNKNOWN",
      kind: "usage",
      message: `no plan ${typedId(idOrPrefix)} in the catalog ${catalog.location}`,
      fix: "`lifeline plan` (when the plan needs approvals) and `lifeline run` record the plan and print its id; check the id, and that lifeline.yaml points at the same catalog",
    });
  }
  return plan;
}
