/**
 * What a statement does to data: the first half of a plan. Classification is static (from the
 * parse tree); impact against the live database (rows, cascades, dependents) is added later.
 */
export type DataLoss = "none" | "recoverable" | "destructive" | "unknown";

export interface ObjectRef {
  /** "table", "schema", "database", "sequence", "type", "index", "view", ... */
  type: string;
  schema: string | null;
  name: string;
}

export interface Operation {
  /** Stable kind names: drop-table, truncate, delete, update, alter-table-drop-column, unknown, ... */
  kind: string;
  /** Index of the statement in the input (0-based). */
  statementIndex: number;
  /** The statement's text as written. */
  statement: string;
  /** Digest of the statement's parse tree: equal for the same statement however it is spaced or commented. */
  normalized: string;
  target: ObjectRef | null;
  dataLoss: DataLoss;
  /** Why this class, in words a reviewer can check. */
  reason: string;
  /** CASCADE was asked for: dependent objects go too. */
  cascadeRequested: boolean;
  /** IF EXISTS: the object may not be there. */
  missingOk: boolean;
  /** DELETE/UPDATE/TRUNCATE ONLY: inheritance children and partitions are not reached. */
  only?: boolean;
  /** For DELETE/UPDATE: whether rows are filtered. */
  filter: "all-rows" | "always-true" | "filtered" | null;
  /** For ALTER COLUMN … TYPE: the new type as written (decided against the live column on impact). */
  newType?: {
    /** Qualified as the parser gives it: ["pg_catalog", "varchar"], ["text"]. */
    names: string[];
    typmods: number[];
    array: boolean;
    /** A USING expression or a COLLATE clause was given: never proven lossless. */
    using: boolean;
    collate: boolean;
  };
  /** For DROP FUNCTION/OPERATOR … (args): the argument types as written, when given. */
  objectArgs?: string[];
  /** The target is created by an earlier statement of the same script (so it does not exist yet). */
  createdEarlier?: boolean;
}

/** Fail closed: unknown counts as destructive wherever a decision is made. */
export function isDestructive(loss: DataLoss): boolean {
  return loss === "destructive" || loss === "unknown";
}

export function worstLoss(operations: readonly Pick<Operation, "dataLoss">[]): DataLoss {
  const order: DataLoss[] = ["none", "recoverable", "destructive", "unknown"];
  return operations.reduce<DataLoss>(
    (worst, op) => (order.indexOf(op.dataLoss) > order.indexOf(worst) ? op.dataLoss : worst),
    "none",
  );
}
