import type { AuditEntry, AuditInput, AuditKind } from "../core/audit.js";
import type { Approval, BreakGlass, Execution, PlanRecord } from "../core/gate.js";

export interface AuditFilter {
  asset?: string;
  identity?: string;
  kind?: AuditKind;
  /** ISO time: entries at or after it. */
  since?: string;
  limit?: number;
}

/**
 * The shared, mutable state of the gate: plans, approvals, executions, break-glass grants and the
 * audit log. An SQLite file by default, PostgreSQL when a team shares it; the same contract.
 *
 * Every mutation appends its audit entry in the same transaction: a change without its record, or a
 * record without its change, cannot happen. Appends are serialised, so the chain stays a chain
 * when two processes write at once.
 */
export interface Catalog {
  /** Where it is, for messages (a path, or a URL without password). */
  readonly location: string;

  /** Records a plan (idempotent on planId: the first record is kept). */
  savePlan(plan: PlanRecord, audit: AuditInput): Promise<AuditEntry>;
  /** A plan by full id or unique prefix (≥ 8 hex characters); null when none; error when ambiguous. */
  findPlan(idOrPrefix: string): Promise<PlanRecord | null>;

  addApproval(approval: Approval, audit: AuditInput): Promise<AuditEntry>;
  /** Marks an approval revoked; false when it does not exist or was already revoked. */
  revokeApproval(id: string, by: string, at: string, audit: AuditInput): Promise<boolean>;
  /** Every approval ever given for the plan, revoked and expired included. */
  approvalsFor(planId: string): Promise<Approval[]>;
  findApproval(idOrPrefix: string): Promise<Approval | null>;

  recordExecution(execution: Execution, audit: AuditInput): Promise<AuditEntry>;
  executionsFor(planId: string): Promise<Execution[]>;

  grantBreakGlass(grant: BreakGlass, audit: AuditInput): Promise<AuditEntry>;
  revokeBreakGlass(id: string, at: string, audit: AuditInput): Promise<boolean>;
  /** Grants whose window contains `at` and that are not revoked (all when at is omitted). */
  breakGlass(filter: { asset?: string; activeAt?: string }): Promise<BreakGlass[]>;

  /** Appends an entry that changes nothing else (e.g. a failed notification). */
  appendAudit(audit: AuditInput): Promise<AuditEntry>;
  /** Entries in chain order (seq ascending). */
  audit(filter?: AuditFilter): Promise<AuditEntry[]>;
  /** The last (seq, hash) recorded on append, kept apart from the entries. */
  auditHead(): Promise<{ seq: number; hash: string } | null>;

  close(): Promise<void>;
}
