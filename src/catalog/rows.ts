/**
 * Rows to and from the catalog's tables. A row that cannot be read is damaged: a plan or execution
 * row throws CATALOG_ROW_DAMAGED; an approval or audit entry comes back marked damaged (it never
 * counts); a break-glass grant's unreadable granter is shown as "(unreadable)".
 */
import type { Insertable, Selectable } from "kysely";
import {
  auditRef,
  canonicalJson,
  type AuditEntry,
  type AuditKind,
  type Identity,
} from "../core/audit/chain.js";
import { LifelineError } from "../core/errors.js";
import type {
  Approval,
  BreakGlass,
  Execution,
  ExecutionResult,
  PlanRecord,
  StatementResult,
} from "../core/approval/approval.js";
import type { Requirement, Verdict } from "../core/plan/policy.js";
import type { ApprovalsTable, AuditTable, BreakGlassTable, ExecutionsTable, PlansTable } from "./schema.js";
import { sha256hex } from "./store.js";

function json(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

function parsed<T>(text: string): T {
  return JSON.parse(text) as T;
}

export function commandTextOf(command: string): string | null {
  try {
    const c = JSON.parse(command) as { text?: unknown } | null;
    return typeof c?.text === "string" ? c.text : null;
  } catch {
    return null;
  }
}

function problem(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isIdentity(value: unknown): value is Identity {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as { id?: unknown }).id === "string" &&
    typeof (value as { host?: unknown }).host === "string"
  );
}

function rowDamaged(location: string, what: string, why: string): LifelineError {
  return new LifelineError({
    code: "CATALOG_ROW_DAMAGED",
    kind: "verification",
    message: `catalog ${location}: ${what} cannot be read: ${why}`,
    fix: "someone edited the catalog by hand; run `lifeline audit verify`, then restore the catalog from a backup (or ask for the plan again: lifeline plan / run records it anew)",
  });
}

export function planRow(plan: PlanRecord): Insertable<PlansTable> {
  return {
    plan_id: plan.planId,
    assets: json(plan.assets),
    command: json(plan.command),
    verdict: plan.verdict,
    requested_by: json(plan.requestedBy),
    created_at: plan.createdAt,
    document: json(plan.document),
    command_digest: sha256hex(plan.command.text),
  };
}

export function planFrom(row: Selectable<PlansTable>, location: string): PlanRecord {
  try {
    const requestedBy = parsed<unknown>(row.requested_by);
    const command = parsed<PlanRecord["command"] | null>(row.command);
    const assets = parsed<unknown>(row.assets);
    if (!isIdentity(requestedBy)) throw new Error("requested_by is not an identity");
    if (typeof command?.text !== "string" || typeof command.kind !== "string")
      throw new Error("command is not a command");
    if (!Array.isArray(assets) || !assets.every((a) => typeof a === "string"))
      throw new Error("assets is not a list of names");
    return {
      planId: row.plan_id,
      assets,
      command,
      verdict: row.verdict as Verdict,
      requestedBy,
      createdAt: row.created_at,
      document: parsed<unknown>(row.document),
    };
  } catch (error) {
    throw rowDamaged(location, `the row of plan ${row.plan_id}`, problem(error));
  }
}

export function approvalRow(a: Approval): Insertable<ApprovalsTable> {
  return {
    id: a.id,
    plan_id: a.planId,
    approver: json(a.approver),
    comment: a.comment,
    created_at: a.createdAt,
    expires_at: a.expiresAt,
    revoked_at: a.revokedAt,
    revoked_by: a.revokedBy,
    uses: a.uses ?? null,
  };
}

/** A row that cannot be read as an approval comes back marked damaged: it never counts. */
export function approvalFrom(row: Selectable<ApprovalsTable>): Approval {
  let approver: Identity = { id: "(unreadable)", source: "env", host: "", authenticated: false };
  let damaged: string | undefined;
  try {
    const value = parsed<unknown>(row.approver);
    if (isIdentity(value)) approver = value;
    else damaged = "approver is not an identity";
  } catch (error) {
    damaged = `approver is not JSON: ${problem(error)}`;
  }
  const text = (v: unknown) => typeof v === "string";
  if (!damaged && !(text(row.plan_id) && text(row.created_at) && text(row.expires_at)))
    damaged = "plan_id, created_at or expires_at is missing";
  if (!damaged && Number.isNaN(Date.parse(row.expires_at)))
    damaged = `expires_at "${row.expires_at}" is not a time`;
  if (!damaged && row.uses !== null && !(Number.isInteger(Number(row.uses)) && Number(row.uses) >= 1))
    damaged = `uses ${String(row.uses)} is not a whole number ≥ 1`;
  return {
    id: row.id,
    planId: row.plan_id,
    approver,
    comment: row.comment,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
    ...(row.uses !== null && row.uses !== undefined ? { uses: Number(row.uses) } : {}),
    ...(damaged ? { damaged } : {}),
  };
}

export function executionRow(e: Execution): Insertable<ExecutionsTable> {
  return {
    id: e.id,
    plan_id: e.planId,
    identity: json(e.identity),
    started_at: e.startedAt,
    finished_at: e.finishedAt,
    result: e.result,
    exit_code: e.exitCode,
    duration_ms: e.durationMs,
    command: json(e.command),
    requirements: json(e.requirements),
    approvals: json(e.approvals),
    break_glass: e.breakGlass,
    detail: e.detail,
    statements: e.statements === undefined ? null : json(e.statements),
  };
}

export function executionFrom(row: Selectable<ExecutionsTable>, location: string): Execution {
  try {
    return {
      id: row.id,
      planId: row.plan_id,
      identity: parsed<Identity>(row.identity),
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      result: row.result as ExecutionResult,
      exitCode: row.exit_code === null ? null : Number(row.exit_code),
      durationMs: Number(row.duration_ms),
      command: parsed<Execution["command"]>(row.command),
      requirements: parsed<Requirement[]>(row.requirements),
      approvals: parsed<string[]>(row.approvals),
      breakGlass: row.break_glass,
      detail: row.detail,
      ...(row.statements ? { statements: parsed<StatementResult[]>(row.statements) } : {}),
    };
  } catch (error) {
    throw rowDamaged(location, `the row of execution ${row.id}`, problem(error));
  }
}

export function breakGlassRow(g: BreakGlass): Insertable<BreakGlassTable> {
  return {
    id: g.id,
    asset: g.asset,
    identity: g.identity,
    reason: g.reason,
    granted_at: g.grantedAt,
    expires_at: g.expiresAt,
    granted_by: json(g.grantedBy),
    revoked_at: g.revokedAt,
  };
}

export function breakGlassFrom(row: Selectable<BreakGlassTable>): BreakGlass {
  let grantedBy: Identity = { id: "(unreadable)", source: "env", host: "", authenticated: false };
  try {
    const value = parsed<unknown>(row.granted_by);
    if (isIdentity(value)) grantedBy = value;
  } catch {
    // Who granted it is shown, never checked: the audit entry decides whether it counts.
  }
  return {
    id: row.id,
    asset: row.asset,
    identity: row.identity,
    reason: row.reason,
    grantedAt: row.granted_at,
    expiresAt: row.expires_at,
    grantedBy,
    revokedAt: row.revoked_at,
  };
}

/** `dataJson`, when the caller already has it, is canonicalJson(e.data). */
export function auditRow(e: AuditEntry, dataJson?: string): Insertable<AuditTable> {
  return {
    seq: e.seq,
    at: e.at,
    kind: e.kind,
    identity: e.identity,
    host: e.host,
    asset: e.asset,
    plan_id: e.planId,
    data: dataJson ?? canonicalJson(e.data),
    prev_hash: e.prevHash,
    hash: e.hash,
    ref: auditRef(e.kind, e.data),
  };
}

/** An entry whose data cannot be read comes back marked damaged (listed, counting for nothing). */
export function auditFrom(row: Selectable<AuditTable>): AuditEntry {
  let data: Record<string, unknown> = {};
  let damaged: string | undefined;
  try {
    const value = parsed<unknown>(row.data);
    if (value !== null && typeof value === "object" && !Array.isArray(value))
      data = value as Record<string, unknown>;
    else damaged = "its data is not a JSON object";
  } catch (error) {
    damaged = `its data is not JSON (${problem(error)})`;
  }
  return {
    seq: Number(row.seq),
    at: row.at,
    kind: row.kind as AuditKind,
    identity: row.identity,
    host: row.host,
    asset: row.asset,
    planId: row.plan_id,
    data,
    prevHash: row.prev_hash,
    hash: row.hash,
    ...(damaged ? { damaged } : {}),
  };
}
