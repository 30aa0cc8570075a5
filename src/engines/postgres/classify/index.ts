import type { Operation } from "../../../core/plan/operation.js";
import { deleteAsSelect } from "./delete-as-select.js";
import { loadParser } from "./parser.js";
import { classifySql, transactionControl } from "./script.js";

/**
 * Static classification of SQL with the real PostgreSQL parser (libpg-query): every statement
 * becomes zero or more operations with a data-loss class. Whatever cannot be known statically
 * (DO blocks, CALL, EXECUTE, volatile functions, unparseable input) is `unknown`, which callers
 * treat as destructive: lifeline fails closed.
 *
 * The folder: ast (reading the parse tree), statements (the table of statement handlers, with
 * ddl, dml and calls), script-state (what earlier statements of the same script changed), secrets
 * (password masking, with the redaction engine), psql-meta (psql meta-commands), type-change (which
 * ALTER COLUMN … TYPE cannot lose data), delete-as-select (counting what a DELETE deletes), parser.
 */
export interface Classifier {
  /** The operations of a SQL text (a psql script too). Never throws: bad input is `unknown`. */
  classify(sql: string): Operation[];
  /** Statements that end, start or prepare a transaction (savepoints excepted). */
  transactionControl(sql: string): string[];
  /** A DELETE as a SELECT of the given columns of the rows it deletes, or null. */
  deleteAsSelect(statement: string): ((columns: string[]) => string) | null;
}

/** A classifier, once the parser is loaded (once per process; see parser.ts). */
export async function createClassifier(): Promise<Classifier> {
  const parser = await loadParser();
  return {
    classify: (sql) => classifySql(parser, sql),
    transactionControl: (sql) => transactionControl(parser, sql),
    deleteAsSelect: (statement) => deleteAsSelect(parser, statement),
  };
}

export { DML_KINDS } from "./script-state.js";
export { losslessTypeChange, type CurrentType, type Lossless, type NewType } from "./type-change.js";
