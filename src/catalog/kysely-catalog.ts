/**
 * The one implementation of the Catalog port, over Kysely: the same queries for SQLite and
 * PostgreSQL. What differs between them is in the CatalogBackend flags, not in branches here.
 *
 * Every mutation runs in one transaction that first takes the audit head (locked), then changes its
 * table, then appends the audit entry chained to that head and moves the head: the change and its
 * record commit together or not at all, and two writers cannot chain onto the same head.
 *
 * The queries live beside it, one file per table (plans, approvals, break-glass, executions), the
 * audit log (the chained append and its reads) in audit-log.ts, rows in rows.ts; this class
 * composes them.
 */
import type { Kysely } from "kysely";
import type { AuditEntry, AuditInput, AuditKind } from "../core/audit/chain.js";
import type { Approval, BreakGlass, Execution, PlanRecord } from "../core/approval/approval.js";
import type { AppendOptions, ApprovalUse, AuditFilter, Catalog, UseResult } from "../ports/catalog.js";
import * as approvals from "./approvals.js";
import * as auditLog from "./audit-log.js";
import * as breakGlass from "./break-glass.js";
import * as executions from "./executions.js";
import * as plans from "./plans.js";
import type { CatalogDatabase } from "./schema.js";
import { CatalogStore, type CatalogBackend } from "./store.js";

export class KyselyCatalog implements Catalog {
  private readonly store: CatalogStore;

  constructor(
    db: Kysely<CatalogDatabase>,
    backend: CatalogBackend,
    readonly location: string,
  ) {
    this.store = new CatalogStore(db, backend, location);
  }

  async savePlan(plan: PlanRecord, audit: AuditInput): Promise<AuditEntry> {
    return plans.savePlan(this.store, plan, audit);
  }

  async findPlan(idOrPrefix: string): Promise<PlanRecord | null> {
    return plans.findPlan(this.store, idOrPrefix);
  }

  async plansOfCommand(text: string, options: { except: string; limit: number }): Promise<string[]> {
    return plans.plansOfCommand(this.store, text, options);
  }

  async addApproval(approval: Approval, audit: AuditInput): Promise<AuditEntry> {
    return approvals.addApproval(this.store, approval, audit);
  }

  async revokeApproval(id: string, by: string, at: string, audit: AuditInput): Promise<boolean> {
    return approvals.revokeApproval(this.store, id, by, at, audit);
  }

  async useApprovals(uses: readonly ApprovalUse[], then: AuditInput): Promise<UseResult> {
    return approvals.useApprovals(this.store, uses, then);
  }

  async approvalsFor(planId: string): Promise<Approval[]> {
    return approvals.approvalsFor(this.store, planId);
  }

  async findApproval(idOrPrefix: string): Promise<Approval | null> {
    return approvals.findApproval(this.store, idOrPrefix);
  }

  async recordExecution(execution: Execution, audit: AuditInput): Promise<AuditEntry> {
    return executions.recordExecution(this.store, execution, audit);
  }

  async executionsFor(planId: string): Promise<Execution[]> {
    return executions.executionsFor(this.store, planId);
  }

  async grantBreakGlass(grant: BreakGlass, audit: AuditInput): Promise<AuditEntry> {
    return breakGlass.grantBreakGlass(this.store, grant, audit);
  }

  async revokeBreakGlass(id: string, at: string, audit: AuditInput): Promise<boolean> {
    return breakGlass.revokeBreakGlass(this.store, id, at, audit);
  }

  async breakGlass(filter: { asset?: string; activeAt?: string }): Promise<BreakGlass[]> {
    return breakGlass.breakGlass(this.store, filter);
  }

  async appendAudit(audit: AuditInput, options?: AppendOptions): Promise<AuditEntry> {
    return auditLog.appendAudit(this.store, audit, options);
  }

  async audit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    return auditLog.audit(this.store, filter);
  }

  async auditAbout(kinds: readonly AuditKind[], refs: readonly string[]): Promise<AuditEntry[]> {
    return auditLog.auditAbout(this.store, kinds, refs);
  }

  async firstPlanEntry(planId: string): Promise<{ entry: AuditEntry; inChain: boolean } | null> {
    return auditLog.firstPlanEntry(this.store, planId);
  }

  async auditDestroying(uid: string, since: string): Promise<AuditEntry[]> {
    return auditLog.auditDestroying(this.store, uid, since);
  }

  async latestAlerts(): Promise<AuditEntry[]> {
    return auditLog.latestAlerts(this.store);
  }

  async auditHead(): Promise<{ seq: number; hash: string } | null> {
    return auditLog.auditHead(this.store);
  }

  private closing: Promise<void> | null = null;

  /** Closes the connections; closing again is harmless. */
  async close(): Promise<void> {
    this.closing ??= this.store.db.destroy();
    await this.closing;
  }
}
