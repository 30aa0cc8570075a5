import type { Mismatch } from "../core/drill/compare.js";
import type { ReportedForeignKey } from "../core/restore/restore.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Target } from "../ports/engine.js";
import type { AppContext } from "./context.js";

export interface TableRecoveryRequest {
  asset: ResolvedAsset;
  /** The restore point, its artifacts' checksums already rechecked by the caller. */
  manifest: Manifest;
  /** An existing database (the asset's own, or a `--to` target, created by the caller when needed). */
  target: Target;
  /** Tables as the manifest names them (see selectTables). */
  tables: readonly string[];
  jobs: number;
}

export interface TableRecovery {
  tables: string[];
  sequences: string[];
  rows: number;
  restoreSeconds: number;
  verifySeconds: number;
  /** True only when every restored table (and its sequences) matches the manifest. */
  verified: boolean;
  mismatches: Mismatch[];
  foreignKeys: ReportedForeignKey[];
  tools: Record<string, string>;
}

/**
 * Restores some tables into an existing database in one transaction (none exist there yet: existing
 * tables are never overwritten), then fingerprints exactly those tables and compares them with the
 * manifest. Serialised with other recoveries of the same database (RESTORE_BUSY).
 */
export async function recoverTables(ctx: AppContext, request: TableRecoveryRequest): Promise<TableRecovery> {
  void ctx;
  void request;
  throw new Error("recoverTables: not implemented yet");
}
