import { randomBytes } from "node:crypto";
import { compareFingerprints } from "../core/drill/compare.js";
import type { Mismatch } from "../core/drill/compare.js";
import { LifelineError, asLifelineError, interrupted, isLifelineError } from "../core/errors.js";
import { previousDatabaseName, refuseSystemDatabase } from "../core/restore/restore.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Engine, Recovery, Target } from "../ports/engine.js";
import type { AppContext } from "./context.js";

export interface DatabaseRecoveryRequest {
  asset: ResolvedAsset;
  /** The restore point, its artifacts' checksums already rechecked by the caller. */
  manifest: Manifest;
  /** Local directory holding its artifacts, checked by the caller (Repository.localArtifacts). */
  artifacts: string;
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
  /**
   * "drop" of a target that exists: what it holds must be what the caller saw. `check` runs right
   * before the swap, under the lock (--replace: it re-plans and throws RESTORE_TARGET_CHANGED when
   * the plan changed; a target inspected empty or absent: it throws when it holds anything now);
   * `writes` is the target's Recovery.writes() reading taken when the plan was last checked (null:
   * none), compared again inside the swap once the target's sessions have ended.
   */
  unchanged?: { check: () => Promise<void>; writes: string | null };
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

function seconds(since: number): number {
  return Math.round((performance.now() - since) / 10) / 100;
}

function restoreBusy(target: Target): LifelineError {
  return new LifelineError({
    code: "RESTORE_BUSY",
    kind: "runtime",
    message: `another lifeline restore into ${target.display} is running`,
    fix: "wait for it to finish, or find it on the server: SELECT * FROM pg_stat_activity WHERE application_name = 'lifeline restore'",
  });
}

/**
 * Restores the restore point into `into` and fingerprints it against the manifest, as a drill does
 * (`what` names it in progress and errors: the restored copy, the restored database).
 */
async function restoreAndVerify(
  ctx: AppContext,
  engine: Engine,
  into: Target,
  request: DatabaseRecoveryRequest,
  what: string,
): Promise<
  Pick<DatabaseRecovery, "tables" | "rows" | "restoreSeconds" | "verifySeconds" | "mismatches" | "tools">
> {
  const { manifest } = request;
  const restoreStarted = performance.now();
  const restored = await engine.restore(into, {
    directory: request.artifacts,
    manifest,
    jobs: request.jobs,
    signal: ctx.signal,
    progress: ctx.progress,
    ownership: "keep",
  });
  const restoreSeconds = seconds(restoreStarted);
  if (ctx.signal.aborted) throw interrupted();
  ctx.progress.phase(`fingerprinting ${what}`);
  const verifyStarted = performance.now();
  const actual = await engine.fingerprint(into, ctx.signal, manifest.fingerprints).catch((error: unknown) => {
    if (ctx.signal.aborted) throw interrupted();
    throw asLifelineError(error, "VERIFY_FAILED", `fingerprinting ${what} failed`);
  });
  return {
    tables: manifest.fingerprints.tables.map((t) => t.table),
    rows: manifest.fingerprints.tables.reduce((sum, t) => sum + t.rows, 0),
    restoreSeconds,
    verifySeconds: seconds(verifyStarted),
    mismatches: compareFingerprints(manifest.fingerprints, actual),
    tools: restored.tools,
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function recoveryOf(engine: Engine): Recovery {
  if (!engine.recovery) {
    throw new LifelineError({
      code: "UNSUPPORTED",
      kind: "usage",
      message: `lifeline cannot restore ${engine.name} databases into a live server yet`,
      fix: "restore by hand from the restore point's artifacts, or drill it to prove it restores",
    });
  }
  return engine.recovery;
}

/**
 * Restores a whole restore point without ever destroying the current data before the copy is
 * proven: lock the target (a second recovery into it is refused: RESTORE_BUSY), remove staging copies
 * of killed restores, restore into a staging database beside it, fingerprint and compare with the
 * manifest, then swap names in one short step. A mismatch, a failure or Ctrl-C before the swap drops
 * the staging copy and leaves the target as it was.
 *
 * The staging database takes the restore point's encoding and locale (what the data was written
 * in), and the current database's owner, privileges and settings; a current database that is
 * read-only (a standby) stays read-only.
 */
export async function recoverDatabase(
  ctx: AppContext,
  request: DatabaseRecoveryRequest,
): Promise<DatabaseRecovery> {
  const engine = ctx.engine(request.asset.engine);
  const recovery = recoveryOf(engine);
  const { manifest, target } = request;
  const database = engine.database(target);
  refuseSystemDatabase(database, target.display);
  const checkSignal = () => {
    if (ctx.signal.aborted) throw interrupted();
  };
  checkSignal();

  ctx.progress.phase(`locking ${target.display} for this restore`);
  const lock = await recovery.lock(target);
  if (!lock) throw restoreBusy(target);
  try {
    for (const repaired of await recovery.repair(target)) ctx.progress.warn(repaired);
    const removedLeftovers = await recovery.leftovers(target);
    if (removedLeftovers.length > 0) {
      ctx.progress.warn(
        `removing ${removedLeftovers.length} staging database(s) that killed restores left beside this target: ${removedLeftovers.join(", ")}`,
      );
      for (const name of removedLeftovers) await recovery.drop(engine.withDatabase(target, name));
    }
    checkSignal();

    const state = await recovery.inspect(target);
    // Restore points hold no database guard (its key stays out of them): say so when one goes.
    const guarded =
      state.exists && engine.guard
        ? await engine.guard
            .status(target, null)
            .then((g) => g.installed)
            .catch(() => false)
        : false;
    const source = manifest.source;
    if (
      state.exists &&
      (state.encoding !== source.encoding || state.locale?.collate !== source.locale?.collate)
    ) {
      ctx.progress.warn(
        `${target.display} is ${state.encoding} (${state.locale?.collate ?? "C"}); the restored database takes the restore point's ${source.encoding} (${source.locale?.collate ?? "C"})`,
      );
    }
    const previousName =
      request.previous === "keep" && state.exists ? previousDatabaseName(database, manifest.id) : null;
    if (previousName !== null && (await recovery.inspect(engine.withDatabase(target, previousName))).exists) {
      throw new LifelineError({
        code: "RESTORE_FAILED",
        kind: "runtime",
        message: `${previousName} already exists on ${target.display}: the database as it was before restoring ${manifest.id} once already`,
        fix: `discard it first (lifeline restore --discard-previous ${request.asset.name} when \`lifeline status\` lists it; otherwise a killed restore left it, not recorded: DROP DATABASE "${previousName}" by hand once you no longer need it) or rename it, then restore again`,
      });
    }
    ctx.progress.phase(`creating the database to restore into beside ${database}`);
    const staging = await recovery.stage(target, {
      nonce: randomBytes(5).toString("hex"),
      encoding: source.encoding,
      locale: source.locale,
      like: state.exists ? target : null,
    });

    let swapped = false;
    try {
      const result = {
        ...(await restoreAndVerify(ctx, engine, staging, request, "the restored copy")),
        removedLeftovers,
      };
      if (result.mismatches.length > 0) {
        ctx.progress.phase("the restored copy does not match the restore point: removing it");
        await dropStaging(ctx, recovery, staging);
        return { ...result, verified: false, previous: null, swap: null };
      }

      if (request.readOnly || (state.exists && state.readOnly)) await recovery.setReadOnly(staging, true);
      checkSignal();
      if (request.unchanged && state.exists) {
        ctx.progress.phase(`checking that ${database} is still as it was before the restore`);
        await request.unchanged.check();
      }
      ctx.progress.phase(
        state.exists
          ? `swapping: ${database} becomes ${previousName ?? "dropped"}, the restored copy becomes ${database}`
          : `renaming the restored copy to ${database}`,
      );
      swapped = true;
      // Ctrl-C from here on does not stop the swap (it is short, and stopping half-way is what would
      // leave the database refusing connections): say so.
      const finishing = () =>
        ctx.progress.warn(
          `finishing the swap of ${database} first (it takes a moment; its renames are committed or about to be)`,
        );
      if (ctx.signal.aborted) finishing();
      else ctx.signal.addEventListener("abort", finishing, { once: true });
      const swap = await recovery
        .swap(target, staging, previousName, {
          unchangedSince: request.unchanged && state.exists ? request.unchanged.writes : null,
          absent: !state.exists,
        })
        .catch((error: unknown) => {
          // The swap's own errors say whether the renames committed and what is left to do.
          throw asLifelineError(
            error,
            "RESTORE_FAILED",
            `swapping the restored copy in as ${database} failed`,
          );
        })
        .finally(() => ctx.signal.removeEventListener("abort", finishing));
      if (guarded)
        ctx.progress.warn(
          `${database} had a database guard; the restored copy has none (restore points never carry one, nor its key): put it back with lifeline guard install ${request.asset.name}`,
        );
      return {
        ...result,
        verified: true,
        previous: previousName
          ? { database: previousName, target: engine.withDatabase(target, previousName).display }
          : null,
        swap: state.exists ? swap : null,
      };
    } catch (error) {
      // Before the swap's commit the staging database still has its name; after it, no database has.
      await dropStaging(ctx, recovery, staging);
      if (isLifelineError(error) && error.code === "RESTORE_TARGET_CHANGED") throw error;
      if (ctx.signal.aborted && !swapped) throw interrupted();
      throw error;
    }
  } finally {
    await lock.release();
  }
}

async function dropStaging(ctx: AppContext, recovery: Recovery, staging: Target): Promise<void> {
  await recovery.drop(staging).catch((error: unknown) => {
    ctx.progress.warn(
      `could not remove the staging database ${staging.display} (the next restore into this database removes it): ${message(error)}`,
    );
  });
}

/**
 * Before a restore or standby connects to anything: puts right what a lifeline killed in the middle
 * of a swap left on these databases (one refusing connections; or, killed right after the renames,
 * the database as it was under its new name), each under its recovery lock, held only for that. Says
 * on stderr what it did. A database whose lock another lifeline holds is left to it (its swap may be
 * running); a server that cannot be reached is left to the command's own steps to report.
 */
export async function repairInterruptedSwaps(
  ctx: AppContext,
  engine: Engine,
  targets: readonly Target[],
): Promise<void> {
  const recovery = engine.recovery;
  if (!recovery) return;
  const byKey = new Map<string, Target>();
  for (const target of targets) {
    try {
      const url = new URL(target.url);
      byKey.set(`${url.hostname}|${url.port || "5432"}|${engine.database(target)}`, target);
    } catch {
      // Not a URL: the command's own steps say so.
    }
  }
  // At once: a server that does not answer delays the command by one connection timeout, not more.
  await Promise.all(
    [...byKey.values()].map(async (target) => {
      const lock = await recovery.lock(target).catch(() => null);
      if (!lock) return;
      try {
        for (const repaired of await recovery.repair(target)) ctx.progress.warn(repaired);
      } catch (error) {
        ctx.progress.warn(
          `could not check ${target.display} for a swap a killed lifeline left unfinished: ${message(error)}`,
        );
      } finally {
        await lock.release();
      }
    }),
  );
}

/**
 * Restores a whole restore point straight into an existing database that holds no user object
 * (there is nothing to protect: no staging copy, no swap, so no CREATEDB needed), then verifies it.
 * A mismatch, a failure or Ctrl-C empties it again (what the restore created is dropped: DROP OWNED
 * BY the connecting role, which owns all of it). Serialised like recoverDatabase (RESTORE_BUSY).
 */
export async function recoverIntoEmpty(
  ctx: AppContext,
  request: DatabaseRecoveryRequest,
): Promise<DatabaseRecovery> {
  const engine = ctx.engine(request.asset.engine);
  const recovery = recoveryOf(engine);
  const { target } = request;
  refuseSystemDatabase(engine.database(target), target.display);
  if (ctx.signal.aborted) throw interrupted();
  const lock = await recovery.lock(target);
  if (!lock) throw restoreBusy(target);
  try {
    const state = await recovery.inspect(target);
    if (!state.exists || state.userObjects > 0) {
      throw new LifelineError({
        code: "RESTORE_TARGET_NOT_EMPTY",
        kind: "usage",
        message: `${target.display} ${state.exists ? "is no longer empty" : "no longer exists"}: nothing was restored`,
        fix: "restore into a new or empty database",
      });
    }
    ctx.progress.phase(
      `restoring straight into the empty ${target.display} (the role may not create databases)`,
    );
    try {
      const result = {
        ...(await restoreAndVerify(ctx, engine, target, request, "the restored database")),
        removedLeftovers: [],
        previous: null,
        swap: null,
      };
      if (result.mismatches.length > 0) {
        ctx.progress.phase(
          `the restored database does not match the restore point: emptying ${target.display} again`,
        );
        await emptyAgain(ctx, recovery, target);
        return { ...result, verified: false };
      }
      if (request.readOnly) await recovery.setReadOnly(target, true);
      return { ...result, verified: true };
    } catch (error) {
      await emptyAgain(ctx, recovery, target);
      if (ctx.signal.aborted) throw interrupted();
      throw error;
    }
  } finally {
    await lock.release();
  }
}

async function emptyAgain(ctx: AppContext, recovery: Recovery, target: Target): Promise<void> {
  await recovery.empty(target).catch((error: unknown) => {
    ctx.progress.warn(
      `could not empty ${target.display} again after the failed restore (drop what it holds by hand: DROP OWNED BY CURRENT_USER, connected to it): ${message(error)}`,
    );
  });
}
