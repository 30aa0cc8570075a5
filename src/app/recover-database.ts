import type { Mismatch } from "../core/drill/compare.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Target } from "../ports/engine.js";
import type { AppContext } from "./context.js";

export interface DatabaseRecoveryRequest {
  asset: ResolvedAsset;
  /** The restore point, its artifacts' checksums already rechecked by the caller. */
  manifest: Manifest;
  /** The database that ends up holding the restore point's content (it may not exist yet). */
  target: Target;
  /**
   * What becomes of the target's current database when it exists: "keep" renames it to
   * previousDatabaseName(db, restore point id) (in place); "drop" drops it in the swap (an empty
   * target, --replace after the gate, a standby refresh).
   */
  previous: "keep" | "drop";
  /** Mark the restored database read-only (a standby) before it takes the target's name. */
  readOnly: boolean;
  jobs: number;
}

export interface DatabaseRecovery {
  tables: string[];
  rows: number;
  restoreSeconds: number;
  verifySeconds: number;
  /** False: the copy did not match; it was dropped and the target was not touched. */
  verified: boolean;
  mismatches: Mismatch[];
  previous: { database: string; target: string } | null;
  swap: { unavailableMs: number; terminated: number } | null;
  removedLeftovers: string[];
  tools: Record<string, string>;
}

/**
 * Restores a whole restore point without ever destroying the current data before the copy is
 * proven: lock the target (a second recovery into it is refused: RESTORE_BUSY), remove staging copies
 * of killed restores, restore into a staging database beside it, fingerprint and compare with the
 * manifest, then swap names in one short step. A mismatch, a failure or Ctrl-C before the swap drops
 * the staging copy and leaves the target as it was.
 */
export async function recoverDatabase(
  ctx: AppContext,
  request: DatabaseRecoveryRequest,
): Promise<DatabaseRecovery> {
  void ctx;
  void request;
  throw new Error("recoverDatabase: not implemented yet");
}
