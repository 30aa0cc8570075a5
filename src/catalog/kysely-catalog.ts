/**
 * The one implementation of the Catalog port, over Kysely: the same queries for SQLite and
 * PostgreSQL. What differs between them is in the CatalogBackend flags, not in branches here.
 *
 * Every mutation runs in one transaction that first takes the audit head (locked), then changes its
 * table, then appends the audit entry chained to that head and moves the head: the change and its
 * record commit together or not at all, and two writers cannot chain onto the same head.
 */
import { createHash } from "node:crypto";
import type { Insertable, Kysely, Selectable, Transaction } from "kysely";
import {
  canonicalJson,
  chainNext,
  type AuditEntry,
  type AuditInput,
  type AuditKind,
  type Identity,
} from "../core/audit.js";
import { LifelineError, isLifelineError } from "../core/errors.js";
import type { Approval, BreakGlass, Execution, ExecutionResult, PlanRecord } from "../core/gate.js";
import type { Requirement, Verdict } from "../core/plan.js";
import { secrets } from "../core/redact.js";
import type { AuditFilter, Catalog } from "../ports/catalog.js";
import type {
  ApprovalsTable,
  AuditTable,
  BreakGlassTable,
  CatalogDatabase,
  ExecutionsTable,
  PlansTable,
} from "./schema.js";

/** What differs between the backends, as flags the one query layer consults. */
export interface CatalogBackend {
  readonly name: "sqlite" | "postgres";
  /**
   * Appends lock the head row with SELECT … FOR UPDATE. SQLite has no row locks; its write
   * transactions begin IMMEDIATE (see index.ts) and so already exclude each other.
   */
  readonly rowLocks: boolean;
  /** Runs first in the migration transaction, so that two processes do not migrate at once. */
  lockForMigration?(trx: Transaction<CatalogDatabase>): Promise<void>;
}

/** The shortest prefix accepted for a plan or approval id. */
export const MIN_ID_PREFIX = 8;
const MAX_CANDIDATES = 10;

export function sha256hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

type Mutation = (trx: Transaction<CatalogDatabase>) => Promise<boolean>;

export class KyselyCatalog implements Catalog {
  constructor(
    private readonly db: Kysely<CatalogDatabase>,
    private readonly backend: CatalogBackend,
    readonly location: string,
  ) {}

  async savePlan(plan: PlanRecord, audit: AuditInput): Promise<AuditEntry> {
    return this.appended("recording a plan", audit, async (trx) => {
      // The first record of a plan id stays: the id is the hash of what was planned.
      await trx
        .insertInto("lifeline_plans")
        .values(planRow(plan))
        .onConflict((oc) => oc.column("plan_id").doNothing())
        .execute();
      return true;
    });
  }

  async findPlan(idOrPrefix: string): Promise<PlanRecord | null> {
    const row = await this.guard("looking up a plan", () =>
      this.byIdOrPrefix("plan", idOrPrefix, (ids) =>
        this.db.selectFrom("lifeline_plans").selectAll().where("plan_id", "in", ids).execute(),
      ),
    );
    return row ? planFrom(row) : null;
  }

  async addApproval(approval: Approval, audit: AuditInput): Promise<AuditEntry> {
    return this.appended("recording an approval", audit, async (trx) => {
      await trx.insertInto("lifeline_approvals").values(approvalRow(approval)).execute();
      return true;
    });
  }

  async revokeApproval(id: string, by: string, at: string, audit: AuditInput): Promise<boolean> {
    const entry = await this.mutate("revoking an approval", audit, async (trx) => {
      const done = await trx
        .updateTable("lifeline_approvals")
        .set({ revoked_at: at, revoked_by: by })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return Number(done.numUpdatedRows) > 0;
    });
    return entry !== null;
  }

  async approvalsFor(planId: string): Promise<Approval[]> {
    const rows = await this.guard("reading approvals", () =>
      this.db
        .selectFrom("lifeline_approvals")
        .selectAll()
        .where("plan_id", "=", planId)
        .orderBy("created_at")
        .orderBy("id")
        .execute(),
    );
    return rows.map(approvalFrom);
  }

  async findApproval(idOrPrefix: string): Promise<Approval | null> {
    const row = await this.guard("looking up an approval", () =>
      this.byIdOrPrefix("approval", idOrPrefix, (ids) =>
        this.db.selectFrom("lifeline_approvals").selectAll().where("id", "in", ids).execute(),
      ),
    );
    return row ? approvalFrom(row) : null;
  }

  async recordExecution(execution: Execution, audit: AuditInput): Promise<AuditEntry> {
    return this.appended("recording an execution", audit, async (trx) => {
      await trx.insertInto("lifeline_executions").values(executionRow(execution)).execute();
      return true;
    });
  }

  async executionsFor(planId: string): Promise<Execution[]> {
    const rows = await this.guard("reading executions", () =>
      this.db
        .selectFrom("lifeline_executions")
        .selectAll()
        .where("plan_id", "=", planId)
        .orderBy("started_at")
        .orderBy("id")
        .execute(),
    );
    return rows.map(executionFrom);
  }

  async grantBreakGlass(grant: BreakGlass, audit: AuditInput): Promise<AuditEntry> {
    return this.appended("recording a break-glass grant", audit, async (trx) => {
      await trx.insertInto("lifeline_break_glass").values(breakGlassRow(grant)).execute();
      return true;
    });
  }

  async revokeBreakGlass(id: string, at: string, audit: AuditInput): Promise<boolean> {
    const entry = await this.mutate("revoking a break-glass grant", audit, async (trx) => {
      const done = await trx
        .updateTable("lifeline_break_glass")
        .set({ revoked_at: at })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return Number(done.numUpdatedRows) > 0;
    });
    return entry !== null;
  }

  async breakGlass(filter: { asset?: string; activeAt?: string }): Promise<BreakGlass[]> {
    const at = filter.activeAt === undefined ? null : timeOf(filter.activeAt, "activeAt");
    const rows = await this.guard("reading break-glass grants", () =>
      this.db
        .selectFrom("lifeline_break_glass")
        .selectAll()
        .$if(filter.asset !== undefined, (qb) => qb.where("asset", "=", filter.asset as string))
        .$if(at !== null, (qb) => qb.where("revoked_at", "is", null))
        .orderBy("granted_at")
        .orderBy("id")
        .execute(),
    );
    const grants = rows.map(breakGlassFrom);
    // The window is compared as instants, not as text: the times are whatever ISO form was given.
    return at === null
      ? grants
      : grants.filter((g) => Date.parse(g.grantedAt) <= at && at < Date.parse(g.expiresAt));
  }

  async appendAudit(audit: AuditInput): Promise<AuditEntry> {
    return this.appended("appending to the audit log", audit, async () => true);
  }

  async audit(filter: AuditFilter = {}): Promise<AuditEntry[]> {
    const since =
      filter.since === undefined ? undefined : new Date(timeOf(filter.since, "since")).toISOString();
    const limit = filter.limit;
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new LifelineError({
        code: "USAGE",
        kind: "usage",
        message: `audit limit ${limit} is not a whole number ≥ 0`,
        fix: "give the number of newest entries to show, e.g. --limit 50",
      });
    }
    const rows = await this.guard("reading the audit log", () =>
      this.db
        .selectFrom("lifeline_audit")
        .selectAll()
        .$if(filter.asset !== undefined, (qb) => qb.where("asset", "=", filter.asset as string))
        .$if(filter.identity !== undefined, (qb) => qb.where("identity", "=", filter.identity as string))
        .$if(filter.kind !== undefined, (qb) => qb.where("kind", "=", filter.kind as string))
        .$if(since !== undefined, (qb) => qb.where("at", ">=", since as string))
        // A limit keeps the newest entries; they are still returned in chain order.
        .$if(limit !== undefined, (qb) => qb.orderBy("seq", "desc").limit(limit as number))
        .$if(limit === undefined, (qb) => qb.orderBy("seq", "asc"))
        .execute(),
    );
    const entries = rows.map(auditFrom);
    return limit === undefined ? entries : entries.reverse();
  }

  async auditHead(): Promise<{ seq: number; hash: string } | null> {
    const head = await this.guard("reading the audit head", () =>
      this.db
        .selectFrom("lifeline_audit_head")
        .select(["seq", "hash"])
        .where("id", "=", 1)
        .executeTakeFirst(),
    );
    if (!head) throw headMissing(this.location);
    const seq = Number(head.seq);
    return seq === 0 ? null : { seq, hash: head.hash };
  }

  private closing: Promise<void> | null = null;

  /** Closes the connections; closing again is harmless. */
  async close(): Promise<void> {
    this.closing ??= this.db.destroy();
    await this.closing;
  }

  /** A mutation that always records its audit entry. */
  private async appended(doing: string, audit: AuditInput, change: Mutation): Promise<AuditEntry> {
    const entry = await this.mutate(doing, audit, change);
    if (!entry) throw new Error(`${doing}: the change reported nothing done`);
    return entry;
  }

  /**
   * Runs `change` and appends its audit entry in one transaction; when `change` returns false
   * (nothing to change), nothing is recorded and null is returned.
   */
  private async mutate(doing: string, audit: AuditInput, change: Mutation): Promise<AuditEntry | null> {
    const input = normalizedInput(audit);
    return this.guard(doing, () =>
      this.db.transaction().execute(async (trx) => {
        const head = await trx
          .selectFrom("lifeline_audit_head")
          .select(["seq", "hash"])
          .where("id", "=", 1)
          .$if(this.backend.rowLocks, (qb) => qb.forUpdate())
          .executeTakeFirst();
        if (!head) throw headMissing(this.location);
        if (!(await change(trx))) return null;
        const headSeq = Number(head.seq);
        const entry = chainNext(sha256hex, headSeq === 0 ? null : { seq: headSeq, hash: head.hash }, input);
        await trx.insertInto("lifeline_audit").values(auditRow(entry)).execute();
        const moved = await trx
          .updateTable("lifeline_audit_head")
          .set({ seq: entry.seq, hash: entry.hash })
          .where("id", "=", 1)
          .where("seq", "=", headSeq)
          .executeTakeFirst();
        // Cannot happen while the head is locked; if it does, the chain would fork: roll back.
        if (Number(moved.numUpdatedRows) !== 1) throw new Error("the audit head moved during the append");
        return entry;
      }),
    );
  }

  private async byIdOrPrefix<Row>(
    what: "plan" | "approval",
    idOrPrefix: string,
    rowsFor: (ids: string[]) => Promise<Row[]>,
  ): Promise<Row | null> {
    const exact = await rowsFor([idOrPrefix]);
    if (exact[0]) return exact[0];
    if (idOrPrefix.length < MIN_ID_PREFIX) {
      throw new LifelineError({
        code: "ID_PREFIX_TOO_SHORT",
        kind: "usage",
        message: `"${idOrPrefix}" is too short to name ${what === "plan" ? "a plan" : "an approval"}: give its full id or at least ${MIN_ID_PREFIX} characters of it`,
        fix: `copy the ${what} id as lifeline printed it`,
      });
    }
    const ids = await this.idsWithPrefix(what, idOrPrefix);
    if (ids.length === 0) return null;
    if (ids.length > 1) {
      const shown = ids.slice(0, MAX_CANDIDATES);
      throw new LifelineError({
        code: "ID_PREFIX_AMBIGUOUS",
        kind: "usage",
        message: `"${idOrPrefix}" matches ${ids.length > MAX_CANDIDATES ? `more than ${MAX_CANDIDATES}` : ids.length} ${what}s: ${shown.join(", ")}`,
        fix: `give more characters of the ${what} id`,
        details: shown,
      });
    }
    const found = await rowsFor(ids);
    return found[0] ?? null;
  }

  /** Ids starting with `prefix` (exactly, in both backends: substr, not LIKE with its wildcards). */
  private async idsWithPrefix(what: "plan" | "approval", prefix: string): Promise<string[]> {
    const limit = MAX_CANDIDATES + 1;
    if (what === "plan") {
      const rows = await this.db
        .selectFrom("lifeline_plans")
        .select("plan_id")
        .where((eb) =>
          eb(eb.fn<string>("substr", ["plan_id", eb.lit(1), eb.lit(prefix.length)]), "=", prefix),
        )
        .orderBy("plan_id")
        .limit(limit)
        .execute();
      return rows.map((r) => r.plan_id);
    }
    const rows = await this.db
      .selectFrom("lifeline_approvals")
      .select("id")
      .where((eb) => eb(eb.fn<string>("substr", ["id", eb.lit(1), eb.lit(prefix.length)]), "=", prefix))
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Database errors reach the user as LifelineErrors that say which catalog and what was being done. */
  private async guard<T>(doing: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (isLifelineError(error)) throw error;
      const e = error as { code?: unknown; message?: unknown };
      const message = secrets.redact(typeof e.message === "string" ? e.message : String(error));
      if (e.code === "SQLITE_BUSY") {
        throw new LifelineError({
          code: "CATALOG_BUSY",
          kind: "runtime",
          message: `catalog ${this.location}: ${doing}: another process kept it locked for too long (${message})`,
          fix: "try again; if it persists, look for a lifeline process that hangs while holding the catalog",
        });
      }
      throw new LifelineError({
        code: "CATALOG_FAILED",
        kind: "runtime",
        message: `catalog ${this.location}: ${doing}: ${message}`,
      });
    }
  }
}

function headMissing(location: string): LifelineError {
  return new LifelineError({
    code: "CATALOG_AUDIT_HEAD_MISSING",
    kind: "verification",
    message: `catalog ${location}: the audit head row (lifeline_audit_head) is missing, so appends cannot be chained`,
    fix: "someone removed it by hand; run `lifeline audit verify`, then restore the catalog from a backup",
  });
}

function timeOf(text: string, name: string): number {
  const t = Date.parse(text);
  if (Number.isNaN(t)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `${name} "${text}" is not a time`,
      fix: "give an ISO-8601 time such as 2026-11-26T10:00:00Z",
    });
  }
  return t;
}

/**
 * Only the fields of an entry, with data as its canonical JSON reads back: the entry returned on
 * append is then exactly the entry read later, and its hash verifies against it.
 */
function normalizedInput(audit: AuditInput): AuditInput {
  return {
    at: audit.at,
    kind: audit.kind,
    identity: audit.identity,
    host: audit.host,
    asset: audit.asset ?? null,
    planId: audit.planId ?? null,
    data: JSON.parse(canonicalJson(audit.data ?? {})) as Record<string, unknown>,
  };
}

function json(value: unknown): string {
  return JSON.stringify(value) ?? "null";
}

function parsed<T>(text: string): T {
  return JSON.parse(text) as T;
}

function planRow(plan: PlanRecord): Insertable<PlansTable> {
  return {
    plan_id: plan.planId,
    assets: json(plan.assets),
    command: json(plan.command),
    verdict: plan.verdict,
    requested_by: json(plan.requestedBy),
    created_at: plan.createdAt,
    document: json(plan.document),
  };
}

function planFrom(row: Selectable<PlansTable>): PlanRecord {
  return {
    planId: row.plan_id,
    assets: parsed<string[]>(row.assets),
    command: parsed<PlanRecord["command"]>(row.command),
    verdict: row.verdict as Verdict,
    requestedBy: parsed<Identity>(row.requested_by),
    createdAt: row.created_at,
    document: parsed<unknown>(row.document),
  };
}

function approvalRow(a: Approval): Insertable<ApprovalsTable> {
  return {
    id: a.id,
    plan_id: a.planId,
    approver: json(a.approver),
    comment: a.comment,
    created_at: a.createdAt,
    expires_at: a.expiresAt,
    revoked_at: a.revokedAt,
    revoked_by: a.revokedBy,
  };
}

function approvalFrom(row: Selectable<ApprovalsTable>): Approval {
  return {
    id: row.id,
    planId: row.plan_id,
    approver: parsed<Identity>(row.approver),
    comment: row.comment,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
}

function executionRow(e: Execution): Insertable<ExecutionsTable> {
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
  };
}

function executionFrom(row: Selectable<ExecutionsTable>): Execution {
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
  };
}

function breakGlassRow(g: BreakGlass): Insertable<BreakGlassTable> {
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

function breakGlassFrom(row: Selectable<BreakGlassTable>): BreakGlass {
  return {
    id: row.id,
    asset: row.asset,
    identity: row.identity,
    reason: row.reason,
    grantedAt: row.granted_at,
    expiresAt: row.expires_at,
    grantedBy: parsed<Identity>(row.granted_by),
    revokedAt: row.revoked_at,
  };
}

function auditRow(e: AuditEntry): Insertable<AuditTable> {
  return {
    seq: e.seq,
    at: e.at,
    kind: e.kind,
    identity: e.identity,
    host: e.host,
    asset: e.asset,
    plan_id: e.planId,
    data: canonicalJson(e.data),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
}

function auditFrom(row: Selectable<AuditTable>): AuditEntry {
  return {
    seq: Number(row.seq),
    at: row.at,
    kind: row.kind as AuditKind,
    identity: row.identity,
    host: row.host,
    asset: row.asset,
    planId: row.plan_id,
    data: parsed<Record<string, unknown>>(row.data),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
