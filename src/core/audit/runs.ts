import type { AuditEntry } from "./chain.js";

/** An execution that was announced (`executing`) and never recorded an outcome. */
export interface UnfinishedExecution {
  seq: number;
  at: string;
  identity: string;
}

/**
 * The `run` entries of one plan whose `executing` record has no outcome after it: the process was
 * killed (or is still running). Each outcome (a later run entry of the same identity that is not a
 * block) closes that identity's earliest open execution.
 */
export function unfinishedExecutions(runEntries: readonly AuditEntry[]): UnfinishedExecution[] {
  const open = new Map<string, AuditEntry[]>();
  for (const entry of [...runEntries].sort((a, b) => a.seq - b.seq)) {
    if (entry.kind !== "run") continue;
    const status = (entry.data as { status?: unknown }).status;
    const queue = open.get(entry.identity) ?? [];
    if (status === "executing") {
      queue.push(entry);
      open.set(entry.identity, queue);
    } else if (status === "executed" || status === "failed" || status === "interrupted") {
      queue.shift();
    }
  }
  return [...open.values()]
    .flat()
    .sort((a, b) => a.seq - b.seq)
    .map((e) => ({ seq: e.seq, at: e.at, identity: e.identity }));
}
