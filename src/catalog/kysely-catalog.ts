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
  auditRef,
  canonicalJson,
  chainNext,
  entryInChain,
  type AuditEntry,
  type AuditInput,
  type AuditKind,
  type Identity,
} from "../core/audit/chain.js";
import { LifelineError, isLifelineError } from "../core/errors.js";
import type {
  Approval,
  BreakGlass,
  Execution,
  ExecutionResult,
  PlanRecord,
  StatementResult,
} from "../core/approval/approval.js";
import type { Requirement, Verdict } from "../core/plan/policy.js";
import { secrets } from "../core/redact.js";
import type { ApprovalUse, AuditFilter, Catalog, UseResult } from "../ports/catalog.js";
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
type Append = (input: AuditInput) => Promise<AuditEntry>;

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
    return row ? planFrom(row, this.location) : null;
  }

  async plansOfCommand(text: string, options: { except: string; limit: number }): Promise<string[]> {
    const rows = await this.guard("looking up plans of the same command", () =>
      this.db
        .selectFrom("lifeline_plans")
        .select(["plan_id", "command"])
        .where("command_digest", "=", sha256hex(text))
        .where("plan_id", "!=", options.except)
        .orderBy("created_at", "desc")
        .orderBy("plan_id")
        .limit(options.limit)
        .execute(),
    );
    // The digest finds them; the text decides (a damaged row is not the same command).
    return rows.filter((r) => commandTextOf(r.command) === text).map((r) => r.plan_id);
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

  async useApprovals(uses: readonly ApprovalUse[], then: AuditInput): Promise<UseResult> {
    const inputs = uses.map((u) => normalizedInput(u.audit));
    const last = normalizedInput(then);
    return this.guard("recording the use of approvals", () =>
      this.transact(async (trx, append) => {
        // Under the audit head's lock every writer waits for this transaction: the count read here
        // cannot change before the uses are appended, so at most `allowed` executions get one.
        const exhausted: { approvalId: string; used: number }[] = [];
        for (const u of uses) {
          const row = await trx
            .selectFrom("lifeline_audit")
            .select((eb) => eb.fn.countAll<number | string>().as("n"))
            .where("kind", "=", "use")
            .where("ref", "=", u.approvalId)
            .executeTakeFirst();
          const used = Number(row?.n ?? 0);
          if (used >= u.allowed) exhausted.push({ approvalId: u.approvalId, used });
        }
        if (exhausted.length > 0) return { ok: false as const, exhausted };
        const entries: AuditEntry[] = [];
        for (const input of inputs) entries.push(await append(input));
        entries.push(await append(last));
        return { ok: true as const, entries };
      }),
    );
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
    return rows.map((row) => executionFrom(row, this.location));
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
        .$if(filter.planId !== undefined, (qb) => qb.where("plan_id", "=", filter.planId as string))
        .$if(since !== undefined, (qb) => qb.where("at", ">=", since as string))
        // A limit keeps the newest entries; they are still returned in chain order.
        .$if(limit !== undefined, (qb) => qb.orderBy("seq", "desc").limit(limit as number))
        .$if(limit === undefined, (qb) => qb.orderBy("seq", "asc"))
        .execute(),
    );
    const entries = rows.map(auditFrom);
    return limit === undefined ? entries : entries.reverse();
  }

  async auditAbout(kinds: readonly AuditKind[], refs: readonly string[]): Promise<AuditEntry[]> {
    if (kinds.length === 0 || refs.length === 0) return [];
    const [rows, head] = await Promise.all([
      this.guard("reading the audit log", () =>
        this.db
          .selectFrom("lifeline_audit")
          .selectAll()
          .where("kind", "in", [...kinds])
          .where("ref", "in", [...new Set(refs)])
          .orderBy("seq", "asc")
          .execute(),
      ),
      this.auditHead(),
    ]);
    // The ref column is derived from the data: an entry counts only for what its data says.
    const entries = rows.flatMap((row) => {
      const entry = auditFrom(row);
      return entry.damaged === undefined && auditRef(entry.kind, entry.data) === row.ref ? [entry] : [];
    });
    // Each entry must sit in the chain, as far as its neighbour shows (entryInChain).
    const following = entries.length === 0 ? [] : await this.auditAt(entries.map((e) => e.seq + 1));
    const next = new Map(following.map((e) => [e.seq, e]));
    return entries.filter((e) => entryInChain(sha256hex, e, next.get(e.seq + 1), head));
  }

  private async auditAt(seqs: readonly number[]): Promise<AuditEntry[]> {
    const rows = await this.guard("reading the audit log", () =>
      this.db
        .selectFrom("lifeline_audit")
        .selectAll()
        .where("seq", "in", [...new Set(seqs)])
        .execute(),
    );
    return rows.map(auditFrom);
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
      this.transact(async (trx, append) => ((await change(trx)) ? append(input) : null)),
    );
  }

  /**
   * One write transaction that first takes the audit head (locked), so that writers are
   * serialised; `append` chains entries onto it in order and moves the head.
   */
  private transact<T>(work: (trx: Transaction<CatalogDatabase>, append: Append) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      const head = await trx
        .selectFrom("lifeline_audit_head")
        .select(["seq", "hash"])
        .where("id", "=", 1)
        .$if(this.backend.rowLocks, (qb) => qb.forUpdate())
        .executeTakeFirst();
      if (!head) throw headMissing(this.location);
      let current = Number(head.seq) === 0 ? null : { seq: Number(head.seq), hash: head.hash };
      const append: Append = async (input) => {
        const headSeq = current?.seq ?? 0;
        const entry = chainNext(sha256hex, current, input);
        await trx.insertInto("lifeline_audit").values(auditRow(entry)).execute();
        const moved = await trx
          .updateTable("lifeline_audit_head")
          .set({ seq: entry.seq, hash: entry.hash })
          .where("id", "=", 1)
          .where("seq", "=", headSeq)
          .executeTakeFirst();
        // Cannot happen while the head is locked; if it does, the chain would fork: roll back.
        if (Number(moved.numUpdatedRows) !== 1) throw new Error("the audit head moved during the append");
        current = { seq: entry.seq, hash: entry.hash };
        return entry;
      };
      return work(trx, append);
    });
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

function commandTextOf(command: string): string | null {
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

function planRow(plan: PlanRecord): Insertable<PlansTable> {
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

function planFrom(row: Selectable<PlansTable>, location: string): PlanRecord {
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
    uses: a.uses ?? null,
  };
}

/** A row that cannot be read as an approval comes back marked damaged: it never counts. */
function approvalFrom(row: Selectable<ApprovalsTable>): Approval {
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
    statements: e.statements === undefined ? null : json(e.statements),
  };
}

function executionFrom(row: Selectable<ExecutionsTable>, location: string): Execution {
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
    ref: auditRef(e.kind, e.data),
  };
}

/** An entry whose data cannot be read comes back marked damaged (listed, counting for nothing). */
function auditFrom(row: Selectable<AuditTable>): AuditEntry {
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
