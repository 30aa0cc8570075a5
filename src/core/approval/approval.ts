/**
 * The gate's decisions: which approvals count for a plan, whether a break-glass grant is active,
 * and the verdict once approvals are known. Pure; the catalog stores, this decides.
 */
import type { AuditEntry, Identity } from "../audit/chain.js";
import { verdictOf, type Requirement, type Verdict } from "../plan/policy.js";

export interface Approval {
  id: string;
  planId: string;
  approver: Identity;
  comment: string | null;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  revokedBy: string | null;
  /** How many executions it authorises (absent: 1). Each execution it authorises uses one. */
  uses?: number;
  /** Set when its stored row cannot be read (bad JSON, missing values): it never counts. */
  damaged?: string;
}

/** How many executions an approval authorises: a whole number ≥ 1, else 1 (single use). */
export function usesOf(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 ? value : 1;
}

export interface BreakGlass {
  id: string;
  asset: string;
  /** The identity allowed to run without approvals. */
  identity: string;
  reason: string;
  grantedAt: string;
  expiresAt: string;
  grantedBy: Identity;
  revokedAt: string | null;
}

/** A plan as the gate keeps it: what was planned, by whom, bound by its id. */
export interface PlanRecord {
  planId: string;
  assets: string[];
  command: { kind: string; text: string };
  verdict: Verdict;
  requestedBy: Identity;
  createdAt: string;
  /** The plan's JSON document as `plan --json` prints it. */
  document: unknown;
}

export type ExecutionResult = "succeeded" | "failed" | "blocked" | "dry-run";

export interface Execution {
  id: string;
  planId: string;
  identity: Identity;
  startedAt: string;
  finishedAt: string;
  result: ExecutionResult;
  /** For a command: its exit code; for SQL: 0 or null. */
  exitCode: number | null;
  durationMs: number;
  command: { kind: string; text: string };
  /** Every requirement as checked, with how it was met. */
  requirements: Requirement[];
  approvals: string[];
  breakGlass: string | null;
  /** Why it was blocked or failed, in words. */
  detail: string | null;
  /** SQL: each statement's command and the rows it affected, in order (absent for commands). */
  statements?: StatementResult[];
}

/** What one executed SQL statement did, as the server reported it. */
export interface StatementResult {
  /** The command tag: DELETE, UPDATE, TRUNCATE TABLE, … */
  command: string;
  /** Rows it affected (null when the command reports none, e.g. DDL). */
  rows: number | null;
}

export interface IgnoredApproval {
  approval: Approval;
  why: string;
}

/**
 * The stored approvals the audit log vouches for. `entries` are the log's approve, revoke and use
 * entries about these approvals that were checked to sit in the chain (see entryInChain): a row
 * without an approve entry that gives the same plan, approver, expiry and number of uses does not
 * count, nor does a damaged row; a revoke entry revokes even if the row says otherwise; the uses
 * are counted from the use entries only, so editing a row cannot give a use back.
 */
export function vouchedApprovals(
  stored: readonly Approval[],
  entries: readonly AuditEntry[],
): { approvals: Approval[]; forged: IgnoredApproval[]; used: Map<string, number> } {
  const approved = new Map<string, AuditEntry>();
  const revoked = new Set<string>();
  const used = new Map<string, number>();
  for (const e of entries) {
    const id = e.data.approval;
    if (typeof id !== "string") continue;
    if (e.kind === "approve" && !approved.has(id)) approved.set(id, e);
    else if (e.kind === "revoke") revoked.add(id);
    else if (e.kind === "use") used.set(id, (used.get(id) ?? 0) + 1);
  }
  const approvals: Approval[] = [];
  const forged: IgnoredApproval[] = [];
  for (const a of stored) {
    if (a.damaged !== undefined) {
      forged.push({ approval: a, why: `its catalog row is damaged (${a.damaged}): it does not count` });
      continue;
    }
    const entry = approved.get(a.id);
    if (
      !entry ||
      entry.planId !== a.planId ||
      entry.identity !== a.approver.id ||
      entry.data.expiresAt !== a.expiresAt ||
      usesOf(entry.data.uses) !== usesOf(a.uses)
    ) {
      forged.push({ approval: a, why: "it is not in the audit log as given: it does not count" });
    } else {
      approvals.push(
        revoked.has(a.id) && a.revokedAt === null ? { ...a, revokedAt: "(in the audit log)" } : a,
      );
    }
  }
  return { approvals, forged, used };
}

/**
 * The stored break-glass grants the audit log vouches for: a break-glass entry (checked to sit in
 * the chain) for the same identity, asset and expiry, and no break-glass-revoke entry.
 */
export function vouchedGrants(stored: readonly BreakGlass[], entries: readonly AuditEntry[]): BreakGlass[] {
  const granted = new Map<string, AuditEntry>();
  const ended = new Set<string>();
  for (const e of entries) {
    const id = e.data.grant;
    if (typeof id !== "string") continue;
    if (e.kind === "break-glass" && !granted.has(id)) granted.set(id, e);
    else if (e.kind === "break-glass-revoke") ended.add(id);
  }
  return stored.filter((g) => {
    const entry = granted.get(g.id);
    return (
      entry !== undefined &&
      !ended.has(g.id) &&
      entry.identity === g.identity &&
      entry.asset === g.asset &&
      entry.data.expiresAt === g.expiresAt
    );
  });
}

/**
 * The approvals that count for `planId` when `runner` runs it at `now`: for this exact plan, by
 * someone else, not expired, not revoked, not used up (`used`: executions each already
 * authorised); one per approver.
 */
export function countingApprovals(
  approvals: readonly Approval[],
  input: { planId: string; runner: string; now: Date; used?: ReadonlyMap<string, number> },
): { valid: Approval[]; ignored: IgnoredApproval[] } {
  const valid: Approval[] = [];
  const ignored: IgnoredApproval[] = [];
  const seen = new Set<string>();
  for (const a of approvals) {
    let why: string | null = null;
    if (a.planId !== input.planId) why = `it approves plan ${a.planId.slice(0, 12)}, not this one`;
    else if (a.approver.id.toLowerCase() === input.runner.toLowerCase())
      why = "an approval by the person who runs it does not count";
    else if (a.revokedAt !== null)
      why = `revoked${a.revokedBy ? ` by ${a.revokedBy}` : ""} at ${a.revokedAt}`;
    else if (new Date(a.expiresAt).getTime() <= input.now.getTime()) why = `expired at ${a.expiresAt}`;
    else if ((input.used?.get(a.id) ?? 0) >= usesOf(a.uses)) {
      const n = input.used?.get(a.id) ?? 0;
      why = `used: it authorised ${n} execution${n === 1 ? "" : "s"} already (it was given for ${usesOf(a.uses)})`;
    } else if (seen.has(a.approver.id.toLowerCase())) why = `${a.approver.id} already approved`;
    if (why) ignored.push({ approval: a, why });
    else {
      seen.add(a.approver.id.toLowerCase());
      valid.push(a);
    }
  }
  return { valid, ignored };
}

/**
 * The break-glass grant that lets `identity` run a plan touching `assets` without approvals: only
 * when every asset of the plan has an active grant for that identity, and never for data no asset
 * covers (`unbound`), which no grant can name.
 */
export function activeBreakGlass(
  grants: readonly BreakGlass[],
  input: { identity: string; assets: readonly string[]; unbound?: boolean; now: Date },
): BreakGlass | null {
  if (input.unbound || input.assets.length === 0) return null;
  const now = input.now.getTime();
  const active = (asset: string) =>
    grants.find(
      (g) =>
        g.revokedAt === null &&
        g.identity.toLowerCase() === input.identity.toLowerCase() &&
        g.asset === asset &&
        new Date(g.grantedAt).getTime() <= now &&
        new Date(g.expiresAt).getTime() > now,
    );
  const found = input.assets.map(active);
  return found.every((g) => g !== undefined) ? (found[0] ?? null) : null;
}

/**
 * The requirements once approvals are known: the approvals requirement is met by enough valid
 * approvals, or by an active break-glass grant (which never lifts a deny or any other requirement).
 */
export function withApprovals(
  requirements: readonly Requirement[],
  input: { valid: readonly Approval[]; breakGlass: BreakGlass | null; planId: string },
): { verdict: Verdict; requirements: Requirement[]; usedBreakGlass: boolean } {
  let usedBreakGlass = false;
  const out = requirements.map((r): Requirement => {
    if (r.kind !== "approvals") return r;
    const needed = r.needed ?? 1;
    const have = input.valid.length;
    if (have >= needed) {
      return {
        ...r,
        met: true,
        detail: `${needed} approval${needed > 1 ? "s" : ""} of plan ${input.planId.slice(0, 12)} by another person: ${input.valid.map((a) => `${a.approver.id}${a.comment ? ` ("${a.comment}")` : ""}`).join(", ")} (${have} so far)`,
        fix: null,
      };
    }
    if (input.breakGlass) {
      usedBreakGlass = true;
      return {
        ...r,
        met: true,
        detail: `approvals waived by break-glass ${input.breakGlass.id} for ${input.breakGlass.asset} until ${input.breakGlass.expiresAt}: ${input.breakGlass.reason}`,
        fix: null,
      };
    }
    return {
      ...r,
      met: false,
      detail: `${needed} approval${needed > 1 ? "s" : ""} of plan ${input.planId.slice(0, 12)} by another person (${have} so far)`,
      fix: `another person approves this exact plan: lifeline approve ${input.planId.slice(0, 12)}`,
    };
  });
  return { verdict: verdictOf(out), requirements: out, usedBreakGlass };
}
