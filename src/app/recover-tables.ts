import { randomBytes } from "node:crypto";
import { compareRestored, type Mismatch } from "../core/drill/compare.js";
import { LifelineError, asLifelineError } from "../core/errors.js";
import { refuseSystemDatabase, type ReportedForeignKey } from "../core/restore/restore.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Engine, Recovery, Target } from "../ports/engine.js";
import type { AppContext } from "./context.js";

export interface TableRecoveryRequest {
  asset: ResolvedAsset;
  /** The restore point, its artifacts' checksums already rechecked by the caller. */
  manifest: Manifest;
  /** Local directory holding its artifacts, checked by the caller (Repository.localArtifacts). */
  artifacts: string;
  /** The asset's own database, or a `--to` target (see `create`). */
  target: Target;
  /**
   * The target did not exist when inspected: it is created empty (staged, then renamed; in the
   * restore point's encoding and locale) under the same recovery lock as the restore, and dropped
   * under that lock again when the restore fails, so that what is dropped is only what this restore
   * made. When another restore created it in the meantime, it is restored into as it is (its tables
   * are never overwritten) and never dropped.
   */
  create?: boolean;
  /** Tables as the manifest names them (see selectTables). */
  tables: readonly string[];
  jobs: number;
  /**
   * "keep" (the default): the owners and privileges the restore point records, when the target has
   * those roles and lifeline connects as a superuser (else as "none", with a warning). "none": the
   * restored objects belong to the connecting role.
   */
  ownership?: "none" | "keep";
}

export interface TableRecovery {
  tables: string[];
  sequences: string[];
  /** Views on the restored tables that the target lacked, restored with them. */
  views: string[];
  rows: number;
  restoreSeconds: number;
  verifySeconds: number;
  /** True only when every restored table (and its sequences) matches the manifest. */
  verified: boolean;
  mismatches: Mismatch[];
  foreignKeys: ReportedForeignKey[];
  tools: Record<string, string>;
}

function seconds(since: number): number {
  return Math.round((performance.now() - since) / 10) / 100;
}

/**
 * Restores some tables into an existing database in one transaction (none exist there yet: existing
 * tables are never overwritten), then fingerprints exactly those tables and compares them with the
 * manifest. Serialised with other recoveries of the same database (RESTORE_BUSY).
 */
export async function recoverTables(ctx: AppContext, request: TableRecoveryRequest): Promise<TableRecovery> {
  const engine = ctx.engine(request.asset.engine);
  const recovery = engine.recovery;
  if (!recovery) {
    throw new LifelineError({
      code: "UNSUPPORTED",
      kind: "usage",
      message: `lifeline cannot restore tables of ${engine.name} databases yet`,
    });
  }
  refuseSystemDatabase(engine.database(request.target), request.target.display);
  const lock = await recovery.lock(request.target);
  if (!lock) {
    throw new LifelineError({
      code: "RESTORE_BUSY",
      kind: "runtime",
      message: `another restore into ${request.target.display} is running: nothing was restored`,
      fix: "wait for it to finish, then run this restore again",
    });
  }
  try {
    if (request.create !== true && !(await recovery.inspect(request.target)).exists)
      throw droppedSinceInspected(request.target);
    const created = request.create === true && (await createEmpty(ctx, recovery, request));
    try {
      return await restoreAndVerify(ctx, engine, recovery, request);
    } catch (error) {
      if (created)
        await recovery.drop(request.target).catch((dropError: unknown) => {
          ctx.progress.warn(
            `could not drop ${request.target.display}, created for this failed restore (drop it by hand once you no longer need it): ${dropError instanceof Error ? dropError.message : String(dropError)}`,
          );
        });
      throw error;
    }
  } finally {
    await lock.release().catch((error: unknown) => {
      ctx.progress.warn(
        `could not release the restore lock on ${request.target.display}: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }
}

/**
 * The target existed when the restore inspected it and no longer does under the recovery lock:
 * someone dropped it (or a failed restore that had created it dropped it again). Said as such, not
 * as a connection to a database name that was never there.
 */
function droppedSinceInspected(target: Target): LifelineError {
  return new LifelineError({
    code: "RESTORE_TARGET_CHANGED",
    kind: "runtime",
    message: `${target.display} no longer exists: it was dropped after this restore inspected it (by someone else, or by another restore that had created it and failed); nothing was restored`,
    fix: "find out who dropped it and whether it is meant to be gone; then run the same command again (a --to database that does not exist is created), or restore the whole database first (lifeline restore ASSET --to URL)",
  });
}

/** Creates `target` empty, under its recovery lock; false when it exists (another restore made it). */
async function createEmpty(
  ctx: AppContext,
  recovery: Recovery,
  request: TableRecoveryRequest,
): Promise<boolean> {
  const { target, manifest } = request;
  if ((await recovery.inspect(target)).exists) return false;
  ctx.progress.phase(`creating ${target.display}`);
  const staged = await recovery.stage(target, {
    nonce: randomBytes(4).toString("hex"),
    encoding: manifest.source.encoding,
    locale: manifest.source.locale,
    like: null,
  });
  try {
    await recovery.swap(target, staged, null, { absent: true });
    return true;
  } catch (error) {
    await recovery.drop(staged).catch(() => undefined);
    throw error;
  }
}

/** The restore and its verification; the caller holds the target's recovery lock. */
async function restoreAndVerify(
  ctx: AppContext,
  engine: Engine,
  recovery: Recovery,
  request: TableRecoveryRequest,
): Promise<TableRecovery> {
  const restoreStarted = performance.now();
  const restored = await recovery.restoreTables(request.target, {
    directory: request.artifacts,
    manifest: request.manifest,
    jobs: request.jobs,
    signal: ctx.signal,
    progress: ctx.progress,
    ownership: request.ownership ?? "keep",
    tables: request.tables,
  });
  const restoreSeconds = seconds(restoreStarted);

  ctx.progress.phase(`fingerprinting the ${restored.tables.length} restored tables`);
  const verifyStarted = performance.now();
  const actual = await engine
    .fingerprint(request.target, ctx.signal, request.manifest.fingerprints, restored.tables)
    .catch((error: unknown) => {
      throw asLifelineError(error, "VERIFY_FAILED", "fingerprinting the restored tables failed");
    });
  const mismatches = compareRestored(request.manifest.fingerprints, actual, restored);
  const wanted = new Set(restored.tables);
  return {
    tables: restored.tables,
    sequences: restored.sequences,
    views: restored.views,
    rows: actual.tables.filter((t) => wanted.has(t.table)).reduce((sum, t) => sum + t.rows, 0),
    restoreSeconds,
    verifySeconds: seconds(verifyStarted),
    verified: mismatches.length === 0,
    mismatches,
    foreignKeys: restored.foreignKeys,
    tools: restored.tools,
  };
}
