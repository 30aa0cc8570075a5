/**
 * The audit log: append-only entries, each carrying the hash of the previous one. Recomputing the
 * chain finds any entry that was altered, removed or moved. Pure: hashing is passed in (sha256 hex).
 */

export type Hasher = (text: string) => string;

export const GENESIS_HASH = "0".repeat(64);

/** Someone acting through lifeline. Authenticated identities come with the server. */
export interface Identity {
  /** Email or user name: what approvals compare. */
  id: string;
  /** Where the id came from: LIFELINE_USER, the git user email, the OS user (server: an authenticated login). */
  source: "env" | "git" | "os" | "server";
  host: string;
  authenticated: boolean;
}

export const AUDIT_KINDS = [
  "plan",
  "approve",
  "revoke",
  "run",
  "break-glass",
  "break-glass-revoke",
  "prepare",
  "notify-failed",
  "use",
  "restore",
  "standby",
  "discard",
  /** A decision of the admission webhook (lifeline serve) about a protected object. */
  "admission",
  /** lifeline guard install / uninstall: the database guard put in place or removed. */
  "guard-install",
  "guard-uninstall",
  /** Restore points retention removed (lifeline prune, or the server after a verified backup). */
  "prune",
  /**
   * An alert raised or resolved (data: alert, key, state "open" | "resolved", message): a scheduled
   * backup or drill that failed its last attempt; drops the watch detects. `status --check` fails
   * while one is open.
   */
  "alert",
] as const;

export type AuditKind = (typeof AUDIT_KINDS)[number];

/** What a caller appends; the catalog assigns seq, prevHash and hash atomically. */
export interface AuditInput {
  at: string;
  kind: AuditKind;
  identity: string;
  host: string;
  asset: string | null;
  planId: string | null;
  /** The facts of the event: JSON values only, no secrets. */
  data: Record<string, unknown>;
}

export interface AuditEntry extends AuditInput {
  seq: number;
  prevHash: string;
  hash: string;
  /**
   * Set when the stored entry cannot be read as written (its data is not JSON): it is listed, it
   * counts for nothing, and verifying the chain reports it.
   */
  damaged?: string;
}

/**
 * The approval or break-glass grant an entry is about (approve, revoke and use entries name an
 * approval; break-glass entries a grant), null for the other kinds. The catalog keeps it in an
 * indexed column beside the entry, so that the gate reads only the entries about what it checks.
 */
export function auditRef(kind: string, data: Readonly<Record<string, unknown>>): string | null {
  const ref =
    kind === "approve" || kind === "revoke" || kind === "use"
      ? data.approval
      : kind === "break-glass" || kind === "break-glass-revoke"
        ? data.grant
        : null;
  return typeof ref === "string" ? ref : null;
}

/**
 * The Kubernetes uids an entry's decision destroys: an `admission` or `run` entry's `destroys` (an
 * allowed decision's objects; see core/admission/allowance destroyedBy), none for the other kinds.
 * The catalog indexes them beside the entry (a control-plane deletion looks up the decision it
 * finishes by uid); like auditRef, the index counts only for what the entry's data says.
 */
export function auditDestroys(kind: string, data: Readonly<Record<string, unknown>>): string[] {
  if ((kind !== "admission" && kind !== "run") || !Array.isArray(data.destroys)) return [];
  return [...new Set(data.destroys.filter((u): u is string => typeof u === "string" && u !== ""))];
}

/**
 * JSON with object keys sorted at every level: the same value always gives the same text. Every
 * audit entry's hash covers it, so its output never changes (a test holds it to the first
 * implementation's); it is built in one pass, without the arrays of pairs a sort of entries makes
 * (it runs for every decision the admission webhook records).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) return "null";
    return JSON.stringify(value) ?? "null";
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ",";
      // A hole stays empty, as Array.prototype.join leaves it.
      if (i in value) out += canonicalJson(value[i]);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  // Sorted by UTF-16 code units, as a < b compares strings.
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const v = record[key];
    if (v === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

function entryHash(
  hash: Hasher,
  prevHash: string,
  seq: number,
  input: AuditInput,
  dataJson?: string,
): string {
  const fields = {
    seq,
    at: input.at,
    kind: input.kind,
    identity: input.identity,
    host: input.host,
    asset: input.asset,
    planId: input.planId,
    data: input.data,
  };
  if (dataJson === undefined) return hash(prevHash + canonicalJson(fields));
  // canonicalJson(fields) with the data's text as given (it is canonicalJson(input.data)): the
  // same keys, sorted the same way, undefined values left out.
  let out = "{";
  let first = true;
  for (const key of Object.keys(fields).sort()) {
    const v = fields[key as keyof typeof fields];
    if (v === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${key === "data" ? dataJson : canonicalJson(v)}`;
    first = false;
  }
  return hash(`${prevHash}${out}}`);
}

/**
 * The next entry of a chain whose last entry is `head` (null for an empty log). `dataJson`, when
 * the caller already has it, is canonicalJson(input.data): it is not made again.
 */
export function chainNext(
  hash: Hasher,
  head: Pick<AuditEntry, "seq" | "hash"> | null,
  input: AuditInput,
  dataJson?: string,
): AuditEntry {
  const seq = (head?.seq ?? 0) + 1;
  const prevHash = head?.hash ?? GENESIS_HASH;
  return { ...input, seq, prevHash, hash: entryHash(hash, prevHash, seq, input, dataJson) };
}

/**
 * Whether one entry is, as far as can be seen without reading the whole log, where the chain put
 * it: readable, its hash matches its content, it is not beyond the recorded head, and the entry
 * after it (when there is one) names its hash as the previous one. A row inserted or replaced by
 * hand fails this unless the forger also rewrote every later entry, which only recomputing the
 * whole chain (`lifeline audit verify`) finds.
 */
export function entryInChain(
  hash: Hasher,
  entry: AuditEntry,
  next: AuditEntry | undefined,
  head: Pick<AuditEntry, "seq" | "hash"> | null,
): boolean {
  if (entry.damaged !== undefined || head === null || entry.seq > head.seq) return false;
  if (entryHash(hash, entry.prevHash, entry.seq, entry) !== entry.hash) return false;
  if (entry.seq === head.seq) return entry.hash === head.hash;
  return next !== undefined && next.seq === entry.seq + 1 && next.prevHash === entry.hash;
}

export interface ChainBreak {
  /** The first entry (by position) where the chain does not hold. */
  seq: number;
  problem: string;
}

export interface ChainVerdict {
  ok: boolean;
  entries: number;
  breaks: ChainBreak[];
}

/**
 * Recomputes the chain over entries in stored order. `head` is the last (seq, hash) recorded
 * separately on every append: without it, removing the newest entries would go unnoticed.
 */
export function verifyChain(
  hash: Hasher,
  entries: readonly AuditEntry[],
  head: Pick<AuditEntry, "seq" | "hash"> | null,
): ChainVerdict {
  const breaks: ChainBreak[] = [];
  let prev: Pick<AuditEntry, "seq" | "hash"> | null = null;
  for (const e of entries) {
    const expectedSeq: number = (prev?.seq ?? 0) + 1;
    const expectedPrev = prev?.hash ?? GENESIS_HASH;
    if (e.seq !== expectedSeq) {
      breaks.push({
        seq: e.seq,
        problem:
          e.seq > expectedSeq
            ? `entries ${expectedSeq}–${e.seq - 1} are missing`
            : `entry ${e.seq} is out of order (expected ${expectedSeq})`,
      });
    } else if (e.prevHash !== expectedPrev) {
      breaks.push({
        seq: e.seq,
        problem: `entry ${e.seq} does not follow entry ${expectedSeq - 1} (previous hash differs)`,
      });
    }
    const recomputed = entryHash(hash, e.prevHash, e.seq, e);
    if (e.damaged !== undefined) {
      breaks.push({ seq: e.seq, problem: `entry ${e.seq} is damaged: ${e.damaged}` });
    } else if (recomputed !== e.hash) {
      breaks.push({
        seq: e.seq,
        problem: `entry ${e.seq} was altered (its content no longer matches its hash)`,
      });
    }
    prev = { seq: e.seq, hash: e.hash };
    if (breaks.length >= 20) break;
  }
  if (head && breaks.length === 0) {
    const last = entries[entries.length - 1];
    if (!last || last.seq !== head.seq || last.hash !== head.hash) {
      breaks.push({
        seq: last ? last.seq + 1 : 1,
        problem: `the log ends at entry ${last?.seq ?? 0} but ${head.seq} entries were written: the newest were removed or replaced`,
      });
    }
  }
  return { ok: breaks.length === 0, entries: entries.length, breaks };
}
