import type { AuditEntry, AuditInput, AuditKind } from "../core/audit/chain.js";
import type { Approval, BreakGlass, Execution, PlanRecord } from "../core/approval/approval.js";

export interface AuditFilter {
  asset?: string;
  identity?: string;
  kind?: AuditKind;
  /** Only entries of this plan. */
  planId?: string;
  /** ISO time: entries at or after it. */
  since?: string;
  limit?: number;
}

/** One approval an execution uses, and how many executions it authorises in all. */
export interface ApprovalUse {
  approvalId: string;
  /** From the approval's audit entry (the log, not the row, says how many). */
  allowed: number;
  /** The `use` entry recorded for it. */
  audit: AuditInput;
  /**
   * Its expiry as the audit log vouched for it when the gate decided: past at the execution's
   * `at`, the approval is not used (it expired while the plan was planned again).
   */
  expiresAt?: string;
}

export type UseResult =
  | { ok: true; entries: AuditEntry[] }
  /**
   * Nothing was recorded: these approvals had no use left (another execution took it), or
   * (`refused`, only when there are such) were revoked or expired since the gate decided.
   */
  | {
      ok: false;
      exhausted: { approvalId: string; used: number }[];
      refused?: { approvalId: string; why: "revoked" | "expired" }[];
    };

/**
 * The shared, mutable state of the gate: plans, approvals, executions, break-glass grants and the
 * audit log. An SQLite file by default, PostgreSQL when a team shares it; the same contract.
 *
 * Every mutation appends its audit entry in the same transaction: a change without its record, or a
 * record without its change, cannot happen. Appends are serialised, so the chain stays a chain
 * when two processes write at once.
 */
export interface AppendOptions {
  /** Default true: return only once the entry is on disk. */
  waitForDisk?: boolean;
}

export interface Catalog {
  /** Where it is, for messages (a path, or a URL without password). */
  readonly location: string;

  /** Records a plan (idempotent on planId: the first record is kept). */
  savePlan(plan: PlanRecord, audit: AuditInput): Promise<AuditEntry>;
  /** A plan by full id or unique prefix (≥ 8 hex characters); null when none; error when ambiguous. */
  findPlan(idOrPrefix: string): Promise<PlanRecord | null>;
  /** Ids of other recorded plans of exactly this command text, newest first (indexed). */
  plansOfCommand(text: string, options: { except: string; limit: number }): Promise<string[]>;

  addApproval(approval: Approval, audit: AuditInput): Promise<AuditEntry>;
  /** Marks an approval revoked; false when it does not exist or was already revoked. */
  revokeApproval(id: string, by: string, at: string, audit: AuditInput): Promise<boolean>;
  /** Every approval ever given for the plan, revoked and expired included. */
  approvalsFor(planId: string): Promise<Approval[]>;
  findApproval(idOrPrefix: string): Promise<Approval | null>;
  /**
   * Atomically: when every approval still has a use left (fewer `use` entries in the log than
   * allowed), appends a `use` entry for each and then `then` (the execution starting); otherwise
   * records nothing. Two processes racing for the last use: one gets it, the other is told.
   */
  useApprovals(uses: readonly ApprovalUse[], then: AuditInput): Promise<UseResult>;

  recordExecution(execution: Execution, audit: AuditInput): Promise<AuditEntry>;
  executionsFor(planId: string): Promise<Execution[]>;

  grantBreakGlass(grant: BreakGlass, audit: AuditInput): Promise<AuditEntry>;
  revokeBreakGlass(id: string, at: string, audit: AuditInput): Promise<boolean>;
  /** Grants whose window contains `at` and that are not revoked (all when at is omitted). */
  breakGlass(filter: { asset?: string; activeAt?: string }): Promise<BreakGlass[]>;

  /**
   * Appends an entry that changes nothing else (e.g. a failed notification). It returns once the
   * entry is on disk; with `{ waitForDisk: false }` once it is committed (it survives the process,
   * and reaches the disk a moment later — a long-running SQLite catalog within 100 ms, by a sync
   * shared with others — not waiting for it: what the admission webhook records about a request
   * it denies, where nothing was destroyed).
   */
  appendAudit(audit: AuditInput, options?: AppendOptions): Promise<AuditEntry>;
  /** Entries in chain order (seq ascending). */
  audit(filter?: AuditFilter): Promise<AuditEntry[]>;
  /**
   * Entries of these kinds about these approval or grant ids (see auditRef), in chain order, read
   * by index (the cost does not grow with the log). Only entries that sit in the chain as far as
   * can be seen without reading all of it (core/audit entryInChain: readable, hash matches content,
   * not beyond the head, the next entry links to it); the others are left out.
   */
  auditAbout(kinds: readonly AuditKind[], refs: readonly string[]): Promise<AuditEntry[]>;
  /**
   * The first `plan` entry of this plan id (recorded with the row findPlan returns: recording a
   * plan id again keeps the first row), read by index, and whether it sits in the chain (as
   * auditAbout); null when the log has none.
   */
  firstPlanEntry(planId: string): Promise<{ entry: AuditEntry; inChain: boolean } | null>;
  /**
   * The `admission` and `run` entries at or after `since` whose decision destroys the Kubernetes
   * object with this uid (their data's `destroys`: core/audit auditDestroys), in chain order, read
   * by index (the cost does not grow with the log), only those that sit in the chain (as auditAbout).
   */
  auditDestroying(uid: string, since: string): Promise<AuditEntry[]>;
  /**
   * The latest `alert` entry of each alert (core/posture/check alertKey: its data's key, else
   * `<asset>:<alert>`) among the entries that sit in the chain (as auditAbout; when the latest is
   * damaged or out of the chain, the one before it counts), in chain order: what openAlerts needs,
   * read by index (the cost grows with the number of alerts, not with how often they fired).
   */
  latestAlerts(): Promise<AuditEntry[]>;
  /** The last (seq, hash) recorded on append, kept apart from the entries. */
  auditHead(): Promise<{ seq: number; hash: string } | null>;

  close(): Promise<void>;
}
