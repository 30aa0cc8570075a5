/**
 * The audit log in the catalog: appends chained onto the head, under the head's lock, in the same
 * transaction as the change they record; and its reads (filtered, the head, and auditAbout).
 */
import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import {
  auditDestroys,
  auditRef,
  canonicalJson,
  chainNext,
  entryInChain,
  type AuditEntry,
  type AuditInput,
  type AuditKind,
} from "../core/audit/chain.js";
import { LifelineError } from "../core/errors.js";
import { alertKey } from "../core/posture/check.js";
import type { AppendOptions, AuditFilter } from "../ports/catalog.js";
import { runCompiled } from "./compiled.js";
import { DESTROYS_UID_MAX } from "./migrations.js";
import { auditFrom, auditRow } from "./rows.js";
import type { CatalogDatabase } from "./schema.js";
import { sha256hex, timeOf, type CatalogStore } from "./store.js";

export type Mutation = (trx: Transaction<CatalogDatabase>) => Promise<boolean>;
export type Append = (input: AuditInput) => Promise<AuditEntry>;

/**
 * Group commit: appends that arrive while the previous group commits (or in the same turn of the
 * event loop) are chained in one transaction, so that they share one commit and one sync (SQLite:
 * one fdatasync of the WAL; PostgreSQL: one WAL flush). Each caller's promise settles only after
 * its transaction committed and, unless it asked not to wait for the disk, is on disk: exactly as
 * with one transaction each. When the group's transaction fails, every append in it fails
 * (`lifeline serve` denies each of those requests: fail closed). An entry never waits for a timer:
 * the first append of an idle catalog commits in the next turn of the event loop.
 */
export function appendAudit(
  store: CatalogStore,
  audit: AuditInput,
  options: AppendOptions = {},
): Promise<AuditEntry> {
  let input: AuditInput;
  try {
    input = normalizedInput(audit);
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
  let group = groups.get(store);
  if (!group) groups.set(store, (group = { waiting: [], committing: false }));
  const waiting = group.waiting;
  const waitForDisk = options.waitForDisk ?? true;
  const entry = new Promise<AuditEntry>((resolve, reject) =>
    waiting.push({ input, waitForDisk, resolve, reject }),
  );
  if (!group.committing) {
    group.committing = true;
    const g = group;
    setImmediate(() => void commitGroups(store, g));
  }
  return entry;
}

/** At most this many entries in one transaction (a long one would hold the write lock long). */
const GROUP_MAX = 64;

interface Waiting {
  input: AuditInput;
  waitForDisk: boolean;
  resolve: (entry: AuditEntry) => void;
  reject: (error: unknown) => void;
}
const groups = new WeakMap<CatalogStore, { waiting: Waiting[]; committing: boolean }>();

async function commitGroups(store: CatalogStore, group: { waiting: Waiting[]; committing: boolean }) {
  try {
    while (group.waiting.length > 0) {
      const batch = group.waiting.splice(0, GROUP_MAX);
      let entries: AuditEntry[];
      try {
        entries = await store.guard("appending to the audit log", () =>
          committed(store, async (_trx, append) => {
            const out: AuditEntry[] = [];
            for (const w of batch) out.push(await append(w.input));
            return out;
          }),
        );
      } catch (error) {
        for (const w of batch) w.reject(error);
        continue;
      }
      if (!batch.some((w) => w.waitForDisk) && store.backend.durableSoon) {
        // Nobody waits for the disk (denials): on disk soon, with the next sync (sqlite-wal-sync.ts).
        store.backend.durableSoon();
        batch.forEach((w, i) => w.resolve(entries[i] as AuditEntry));
        continue;
      }
      // The sync runs off the event loop and the next group commits meanwhile (it shares a sync
      // that starts after its commit: sqlite-wal-sync.ts).
      const onDisk = store.guard("syncing the audit log to disk", async () => store.backend.durable?.());
      batch.forEach((w, i) => {
        const entry = entries[i] as AuditEntry;
        if (!w.waitForDisk) w.resolve(entry);
        else onDisk.then(() => w.resolve(entry), w.reject);
      });
      // Nobody waits for it: its failure is the next append's to see (the connection syncs itself).
      onDisk.catch(() => undefined);
    }
  } finally {
    group.committing = false;
  }
}

export async function audit(store: CatalogStore, filter: AuditFilter = {}): Promise<AuditEntry[]> {
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
  // The filters given, in this order, are the query's arguments; which are given is its shape.
  const given = [filter.asset, filter.identity, filter.kind, filter.planId, since, limit];
  const args = given.filter((v) => v !== undefined);
  const { rows } = await store.guard("reading the audit log", () =>
    runCompiled(
      store.db,
      `${store.backend.name}:audit:${given.map((v) => (v === undefined ? 0 : 1)).join("")}`,
      args,
      (...placeholders) => {
        const next = () => placeholders.shift() as string;
        return (
          store.db
            .selectFrom("lifeline_audit")
            .selectAll()
            .$if(filter.asset !== undefined, (qb) => qb.where("asset", "=", next()))
            .$if(filter.identity !== undefined, (qb) => qb.where("identity", "=", next()))
            .$if(filter.kind !== undefined, (qb) => qb.where("kind", "=", next()))
            .$if(filter.planId !== undefined, (qb) => qb.where("plan_id", "=", next()))
            .$if(since !== undefined, (qb) => qb.where("at", ">=", next()))
            // A limit keeps the newest entries; they are still returned in chain order.
            .$if(limit !== undefined, (qb) => qb.orderBy("seq", "desc").limit(next() as unknown as number))
            .$if(limit === undefined, (qb) => qb.orderBy("seq", "asc"))
        );
      },
    ),
  );
  const entries = rows.map(auditFrom);
  return limit === undefined ? entries : entries.reverse();
}

export async function auditAbout(
  store: CatalogStore,
  kinds: readonly AuditKind[],
  refs: readonly string[],
): Promise<AuditEntry[]> {
  if (kinds.length === 0 || refs.length === 0) return [];
  const [rows, head] = await Promise.all([
    store.guard("reading the audit log", () =>
      store.db
        .selectFrom("lifeline_audit")
        .selectAll()
        .where("kind", "in", [...kinds])
        .where("ref", "in", [...new Set(refs)])
        .orderBy("seq", "asc")
        .execute(),
    ),
    auditHead(store),
  ]);
  // The ref column is derived from the data: an entry counts only for what its data says.
  const entries = rows.flatMap((row) => {
    const entry = auditFrom(row);
    return entry.damaged === undefined && auditRef(entry.kind, entry.data) === row.ref ? [entry] : [];
  });
  return inChain(store, entries, head);
}

/**
 * The first `plan` entry of a plan id (the one recorded with the row the catalog keeps: a plan id
 * recorded again keeps its first row), read by index, and whether it sits in the chain; null when
 * the log has none.
 */
export async function firstPlanEntry(
  store: CatalogStore,
  planId: string,
): Promise<{ entry: AuditEntry; inChain: boolean } | null> {
  const [rows, head] = await Promise.all([
    store.guard("reading the audit log", () =>
      store.db
        .selectFrom("lifeline_audit")
        .selectAll()
        .where("kind", "=", "plan")
        .where("plan_id", "=", planId)
        .orderBy("seq", "asc")
        .limit(1)
        .execute(),
    ),
    auditHead(store),
  ]);
  const row = rows[0];
  if (row === undefined) return null;
  const entry = auditFrom(row);
  const counted = await inChain(store, [entry], head);
  return { entry, inChain: counted.length === 1 };
}

/**
 * The `admission` and `run` entries since `since` whose decision destroys the object with this
 * Kubernetes uid (auditDestroys), in chain order, only those that sit in the chain: what a
 * control-plane deletion of that object may finish. Read through lifeline_audit_destroys, so that
 * it costs the same however many decisions the log holds.
 */
export async function auditDestroying(
  store: CatalogStore,
  uid: string,
  since: string,
): Promise<AuditEntry[]> {
  const from = new Date(timeOf(since, "since")).toISOString();
  // Not indexed (DESTROYS_UID_MAX, in characters as the database counts them): nothing to find.
  if ([...uid].length > DESTROYS_UID_MAX) return [];
  const [{ rows }, head] = await Promise.all([
    store.guard("reading the audit log", () =>
      runCompiled(store.db, `${store.backend.name}:auditDestroying`, [uid, from], (u, f) =>
        store.db
          .selectFrom("lifeline_audit")
          .innerJoin("lifeline_audit_destroys", "lifeline_audit_destroys.seq", "lifeline_audit.seq")
          .selectAll("lifeline_audit")
          .where("lifeline_audit_destroys.uid", "=", u)
          .where("lifeline_audit.at", ">=", f)
          .orderBy("lifeline_audit.seq", "asc"),
      ),
    ),
    auditHead(store),
  ]);
  // Like ref: the index is derived from the data, and an entry counts only for what its data says.
  const entries = rows.flatMap((row) => {
    const entry = auditFrom(row);
    return entry.damaged === undefined && auditDestroys(entry.kind, entry.data).includes(uid) ? [entry] : [];
  });
  return inChain(store, entries, head);
}

/**
 * The latest `alert` entry of each alert (core/posture/check alertKey) that sits in the chain, in
 * chain order: what openAlerts needs. Read through lifeline_audit_alerts (migration 4): the distinct
 * alert keys one index step each (a skip scan), then the newest entry of each; the cost grows with
 * the number of alerts, not with how often they fired. When the newest entry of an alert is damaged
 * or out of the chain, the one before it counts (as when the whole log is read).
 */
export async function latestAlerts(store: CatalogStore): Promise<AuditEntry[]> {
  const [rows, head] = await Promise.all([
    store.guard("reading the audit log's alerts", async () => {
      const { rows } = await sql<AlertRow>`
        WITH RECURSIVE keys(k) AS (
          SELECT (SELECT alert_key FROM lifeline_audit_alerts ORDER BY alert_key LIMIT 1)
          UNION ALL
          SELECT (SELECT x.alert_key FROM lifeline_audit_alerts x WHERE x.alert_key > keys.k
                  ORDER BY x.alert_key LIMIT 1)
          FROM keys WHERE keys.k IS NOT NULL
        )
        SELECT keys.k AS alert_key, a.* FROM keys
        JOIN lifeline_audit a ON a.seq = (
          SELECT x.seq FROM lifeline_audit_alerts x WHERE x.alert_key = keys.k ORDER BY x.seq DESC LIMIT 1
        )`.execute(store.db);
      return rows;
    }),
    auditHead(store),
  ]);
  const latest: AuditEntry[] = [];
  let pending = rows;
  while (pending.length > 0) {
    const candidates = pending.map((row) => ({ row, entry: auditFrom(row) }));
    // The index is derived from the data: an entry counts only for the alert its data names.
    const readable = candidates.filter(
      ({ row, entry }) =>
        entry.kind === "alert" &&
        entry.damaged === undefined &&
        alertKeyId(store, alertKey(entry)) === row.alert_key,
    );
    // The same objects back: a row counts for itself, not for another row of the same entry.
    const counted = new Set<AuditEntry>(
      await inChain(
        store,
        readable.map((c) => c.entry),
        head,
      ),
    );
    const refused: AlertRow[] = [];
    for (const c of candidates) {
      if (counted.has(c.entry)) latest.push(c.entry);
      else refused.push(c.row);
    }
    // Rare (a damaged or tampered entry, or one appended after the head was read): the entries
    // before it, one at a time, until one counts.
    pending = await Promise.all(
      refused.map((row) => alertBefore(store, row.alert_key, Number(row.seq))),
    ).then((found) => found.flatMap((r) => (r ? [r] : [])));
  }
  return latest.sort((a, b) => a.seq - b.seq);
}

type AlertRow = Selectable<CatalogDatabase["lifeline_audit"]> & { alert_key: string };

async function alertBefore(store: CatalogStore, key: string, seq: number): Promise<AlertRow | undefined> {
  const rows = await store.guard("reading the audit log's alerts", () =>
    store.db
      .selectFrom("lifeline_audit_alerts")
      .innerJoin("lifeline_audit", "lifeline_audit.seq", "lifeline_audit_alerts.seq")
      .selectAll("lifeline_audit")
      .select("lifeline_audit_alerts.alert_key")
      .where("lifeline_audit_alerts.alert_key", "=", key)
      .where("lifeline_audit_alerts.seq", "<", seq)
      .orderBy("lifeline_audit_alerts.seq", "desc")
      .limit(1)
      .execute(),
  );
  return rows[0];
}

/** What lifeline_audit_alerts holds for an alert key: the key (SQLite), its SHA-256 (PostgreSQL). */
function alertKeyId(store: CatalogStore, key: string): string {
  return store.backend.name === "postgres" ? sha256hex(key) : key;
}

/** Those of `entries` that sit in the chain, as far as their neighbours show (entryInChain). */
async function inChain(
  store: CatalogStore,
  entries: AuditEntry[],
  head: { seq: number; hash: string } | null,
): Promise<AuditEntry[]> {
  const following =
    entries.length === 0
      ? []
      : await auditAt(
          store,
          entries.map((e) => e.seq + 1),
        );
  const next = new Map(following.map((e) => [e.seq, e]));
  return entries.filter((e) => entryInChain(sha256hex, e, next.get(e.seq + 1), head));
}

async function auditAt(store: CatalogStore, seqs: readonly number[]): Promise<AuditEntry[]> {
  const rows = await store.guard("reading the audit log", () =>
    store.db
      .selectFrom("lifeline_audit")
      .selectAll()
      .where("seq", "in", [...new Set(seqs)])
      .execute(),
  );
  return rows.map(auditFrom);
}

export async function auditHead(store: CatalogStore): Promise<{ seq: number; hash: string } | null> {
  const head = await store.guard("reading the audit head", () => selectHead(store, store.db, false));
  if (!head) throw headMissing(store.location);
  const seq = Number(head.seq);
  return seq === 0 ? null : { seq, hash: head.hash };
}

/** A mutation that always records its audit entry. */
export async function appended(
  store: CatalogStore,
  doing: string,
  audit: AuditInput,
  change: Mutation,
): Promise<AuditEntry> {
  const entry = await mutate(store, doing, audit, change);
  if (!entry) throw new Error(`${doing}: the change reported nothing done`);
  return entry;
}

/**
 * Runs `change` and appends its audit entry in one transaction; when `change` returns false
 * (nothing to change), nothing is recorded and null is returned.
 */
export async function mutate(
  store: CatalogStore,
  doing: string,
  audit: AuditInput,
  change: Mutation,
): Promise<AuditEntry | null> {
  const input = normalizedInput(audit);
  return store.guard(doing, () =>
    transact(store, async (trx, append) => ((await change(trx)) ? append(input) : null)),
  );
}

/**
 * One write transaction that first takes the audit head (locked), so that writers are
 * serialised; `append` chains entries onto it in order and moves the head.
 */
export async function transact<T>(
  store: CatalogStore,
  work: (trx: Transaction<CatalogDatabase>, append: Append) => Promise<T>,
): Promise<T> {
  const result = await committed(store, work);
  // Returned only once on disk (a long-running SQLite catalog syncs after the commit, off the loop).
  await store.backend.durable?.();
  return result;
}

function committed<T>(
  store: CatalogStore,
  work: (trx: Transaction<CatalogDatabase>, append: Append) => Promise<T>,
): Promise<T> {
  return store.db.transaction().execute(async (trx) => {
    const head = await selectHead(store, trx, store.backend.rowLocks);
    if (!head) throw headMissing(store.location);
    let current = Number(head.seq) === 0 ? null : { seq: Number(head.seq), hash: head.hash };
    const append: Append = async (input) => {
      const headSeq = current?.seq ?? 0;
      // The data's canonical text, when normalizedInput made it: hashed and stored as it is.
      const dataJson = canonicalText.get(input.data);
      const entry = chainNext(sha256hex, current, input, dataJson);
      const row = auditRow(entry, dataJson);
      const columns = Object.keys(row) as (keyof typeof row)[];
      await runCompiled(
        trx,
        `${store.backend.name}:appendAudit:${columns.join(",")}`,
        columns.map((c) => row[c]),
        (...values) =>
          trx
            .insertInto("lifeline_audit")
            .values(Object.fromEntries(columns.map((c, i) => [c, values[i]])) as unknown as typeof row),
      );
      // What it destroys, by uid, for auditDestroying: indexed by the catalog's trigger (migration 3).
      const moved = await runCompiled(
        trx,
        `${store.backend.name}:moveHead`,
        [entry.seq, entry.hash, headSeq],
        (seq, hash, from) =>
          trx
            .updateTable("lifeline_audit_head")
            .set({ seq: seq as unknown as number, hash: hash as string })
            .where("id", "=", 1)
            .where("seq", "=", from as unknown as number),
      );
      // Cannot happen while the head is locked; if it does, the chain would fork: roll back.
      if (Number(moved.numAffectedRows) !== 1) throw new Error("the audit head moved during the append");
      current = { seq: entry.seq, hash: entry.hash };
      return entry;
    };
    return work(trx, append);
  });
}

async function selectHead(
  store: CatalogStore,
  db: Kysely<CatalogDatabase>,
  forUpdate: boolean,
): Promise<{ seq: number | string | bigint; hash: string } | undefined> {
  const { rows } = await runCompiled(db, `${store.backend.name}:head:${forUpdate}`, [], () =>
    db
      .selectFrom("lifeline_audit_head")
      .select(["seq", "hash"])
      .where("id", "=", 1)
      .$if(forUpdate, (qb) => qb.forUpdate()),
  );
  return rows[0];
}

function headMissing(location: string): LifelineError {
  return new LifelineError({
    code: "CATALOG_AUDIT_HEAD_MISSING",
    kind: "verification",
    message: `catalog ${location}: the audit head row (lifeline_audit_head) is missing, so appends cannot be chained`,
    fix: "someone removed it by hand; run `lifeline audit verify`, then restore the catalog from a backup",
  });
}

/**
 * Only the fields of an entry, with data as its canonical JSON reads back: the entry returned on
 * append is then exactly the entry read later, and its hash verifies against it.
 */
export function normalizedInput(audit: AuditInput): AuditInput {
  const text = canonicalJson(audit.data ?? {});
  const data = JSON.parse(text) as Record<string, unknown>;
  // canonicalJson(data) is this very text (canonical JSON read back and written again): the
  // append hashes and stores it without making it twice more.
  canonicalText.set(data, text);
  return {
    at: audit.at,
    kind: audit.kind,
    identity: audit.identity,
    host: audit.host,
    asset: audit.asset ?? null,
    planId: audit.planId ?? null,
    data,
  };
}

/** The canonical JSON of the data objects normalizedInput made (never changed after). */
const canonicalText = new WeakMap<object, string>();
