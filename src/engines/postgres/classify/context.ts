import type { Operation } from "../../../core/plan/operation.js";

/** The statement being classified, shared by every operation it yields. */
export interface Context {
  statementIndex: number;
  statement: string;
  normalized: string;
  /** Classifies a statement nested in this one (a data-modifying WITH, EXPLAIN's query). */
  classify(stmt: unknown): Operation[];
}

/** A statement handler: the operations of one statement node type, from the node's body. */
export type Handler = (ctx: Context, body: unknown, type: string) => Operation[];

export function op(
  ctx: Context,
  fields: Partial<Operation> & Pick<Operation, "kind" | "dataLoss" | "reason">,
): Operation {
  return {
    statementIndex: ctx.statementIndex,
    statement: ctx.statement,
    normalized: ctx.normalized,
    target: null,
    cascadeRequested: false,
    missingOk: false,
    filter: null,
    ...fields,
  };
}
