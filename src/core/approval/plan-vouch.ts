/**
 * Whether the audit log vouches for a recorded plan's row: what `show` and `approve` print is the
 * catalog row's document and command text, and someone able to write that table (not the chained
 * log) could edit them. The plan's `plan` entry holds a digest of both; a row that does not match
 * the first such entry of its plan id (the row kept is the first one recorded) is not vouched for.
 * Pure: hashing is passed in (sha256 hex).
 */
import { canonicalJson, type AuditEntry, type Hasher } from "../audit/chain.js";
import type { PlanRecord } from "./approval.js";

/** The digest a `plan` entry keeps of what the approver is shown: the document and the command text. */
export function planDigest(hash: Hasher, document: unknown, commandText: string): string {
  return hash(canonicalJson({ command: commandText, document }));
}

export type PlanVouch =
  | { vouched: true }
  /** Recorded by a lifeline that kept no digest: nothing to compare the row with. */
  | { vouched: false; legacy: true; reason: string }
  | { vouched: false; legacy: false; reason: string };

/**
 * Checks a plan row against its first `plan` entry: `entry` is that entry (null when the log has
 * none) and `inChain` whether it sits in the chain (entryInChain). Only the first entry can vouch:
 * later ones record the same plan id again, while the catalog kept the first row.
 */
export function vouchPlan(
  hash: Hasher,
  plan: PlanRecord,
  first: { entry: AuditEntry; inChain: boolean } | null,
): PlanVouch {
  const not = (reason: string): PlanVouch => ({ vouched: false, legacy: false, reason });
  if (first === null) return not("the audit log has no `plan` entry for this plan");
  const { entry, inChain } = first;
  if (!inChain || entry.damaged !== undefined)
    return not(`the audit entry that recorded it (seq ${entry.seq}) does not sit in the audit chain`);
  if (entry.kind !== "plan" || entry.planId !== plan.planId)
    return not("the audit log has no `plan` entry for this plan");
  if (entry.identity !== plan.requestedBy.id)
    return not(`the catalog says ${plan.requestedBy.id} requested it, the audit log says ${entry.identity}`);
  if (typeof entry.data.verdict === "string" && entry.data.verdict !== plan.verdict)
    return not(`the catalog says its verdict is ${plan.verdict}, the audit log says ${entry.data.verdict}`);
  const digest = entry.data.digest;
  if (digest === undefined)
    return {
      vouched: false,
      legacy: true,
      reason: "it was recorded before plans were vouched for by the audit log (no digest to compare)",
    };
  if (typeof digest !== "string" || digest !== planDigest(hash, plan.document, plan.command.text))
    return not(
      `its document or command text differs from what audit entry ${entry.seq} recorded when it was planned`,
    );
  return { vouched: true };
}
