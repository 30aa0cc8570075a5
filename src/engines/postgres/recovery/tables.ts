import type { RestoreOptions, TableRestore, Target } from "../../../ports/engine.js";
import type { PgTools } from "../tools.js";

/** See Recovery.restoreTables. */
export function restoreTables(
  tools: PgTools,
  into: Target,
  options: RestoreOptions & { tables: readonly string[] },
): Promise<TableRestore> {
  void tools;
  void into;
  void options;
  return Promise.reject(new Error("restoreTables: not implemented yet"));
}
