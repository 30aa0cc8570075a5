import { LifelineError, isLifelineError } from "../core/errors.js";
import { secrets } from "../core/redact.js";
import { assemblePlan, type Plan } from "../core/plan/plan.js";
import type { PolicyRule, Recoverability } from "../core/plan/policy.js";
import { assertTargetFits, type RestoreCommand } from "../core/restore/options.js";
import { recoveryPlanParts, type RecoveryKind, type RecoveryTable } from "../core/restore/plan.js";
import {
  previousDatabaseName,
  refuseDatabaseName,
  selectTables,
  type DiscardAudit,
  type RestoreAudit,
  type RestoreMode,
  type RestoreResult,
} from "../core/restore/restore.js";
import { recoveryState, type PreviousDatabase } from "../core/restore/state.js";
import type { Activity, Manifest } from "../core/restore-point/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import type { DatabaseState, Engine, Recovery, Target } from "../ports/engine.js";
import type { LocalArtifacts } from "../ports/repository.js";
import type { AppContext } from "./context.js";
import { pickRestorePoint } from "./drill.js";
import { auditInput, type GateDeps } from "./gate.js";
import { assessRecoverability, PLAN_ASSEMBLY } from "./plan.js";
import {
  recoverDatabase,
  recoverIntoEmpty,
  repairInterruptedSwaps,
  type DatabaseRecovery,
} from "./recover-database.js";
import { recoverTables, type TableRecovery } from "./recover-tables.js";
import { isAssetDatabase, withDatabaseName } from "./recovery-target.js";
import { run, type RunOutcome } from "./run.js";
import { sameDatabase as sameStandbyDatabase } from "./standby.js";
import { assetPosture, damagedInUse } from "./status.js";

export interface RestoreRequest {
  asset: ResolvedAsset;
  command: RestoreCommand;
  /** The command as typed, canonical, for plans (`lifeline restore shop --in-place`). */
  commandText: string;
  policy: readonly PolicyRule[];
  dryRun: boolean;
  /** The plan's JSON document, as stored with the recorded plan (what `plan --json` prints). */
  document: (plan: Plan) => unknown;
}

/** A previous database dropped by `--discard-previous`. */
export interface DiscardResult {
  asset: string;
  database: string;
  /** URL without password. */
  target: string;
  restorePointId: string;
  /** It was already gone: only the record was updated. */
  alreadyGone: boolean;
  /** Other previous databases of the asset still kept. */
  remaining: string[];
}

export type RestoreOutcome =
  /** Restored (verified or not: see result.verified); gate is set when it went through the gate. */
  | { status: "restored"; result: RestoreResult; gate: RunOutcome | null }
  | { status: "discarded"; discarded: DiscardResult; gate: RunOutcome | null }
  /** The gate did not let it run (blocked, drift, interrupted) or --dry-run stopped it. */
  | { status: "gated"; gate: RunOutcome }
  /** --dry-run of a restore that needs no gate (into a new or empty database): everything checked. */
  | { status: "dry-run"; what: string; gate: null };

function sameDatabase(engine: Engine, a: Target, b: Target): boolean {
  const key = (t: Target) => {
    try {
      const u = new URL(t.url);
      return `${u.hostname}|${u.port || "5432"}|${engine.database(t)}`;
    } catch {
      return t.display;
    }
  };
  return key(a) === key(b);
}

function recoveryOf(engine: Engine): Recovery {
  if (!engine.recovery) {
    throw new LifelineError({
      code: "UNSUPPORTED",
      kind: "usage",
      message: `engine ${engine.name} cannot restore into a live server`,
      fix: "restore postgres assets",
    });
  }
  return engine.recovery;
}

/** The restore point to restore and whether a drill proved it. */
export async function pickSource(
  ctx: AppContext,
  asset: ResolvedAsset,
  id: string | null,
  unverified: boolean,
): Promise<{ manifest: Manifest; verified: boolean }> {
  const overview = await ctx.repository.overview(asset.name);
  const latest = new Map<string, { result: string; finishedAt: string }>();
  for (const d of overview.drills) {
    const current = latest.get(d.restorePointId);
    if (!current || d.finishedAt > current.finishedAt) latest.set(d.restorePointId, d);
  }
  const never = (rp: string) =>
    latest.get(rp)?.result === "failed" ? "its latest drill failed" : "it was never drilled";
  if (id !== null) {
    const manifest = await pickRestorePoint(ctx, asset.name, id);
    const verified = latest.get(manifest.id)?.result === "passed";
    if (!verified && !unverified) {
      throw new LifelineError({
        code: "RESTORE_UNVERIFIED",
        kind: "usage",
        message: `restore point ${id} of ${asset.name} is not verified: ${never(id)}`,
        fix: `prove it first (lifeline drill ${asset.name} --restore-point ${id}), or restore it unproven: add --unverified`,
      });
    }
    return { manifest, verified };
  }
  const { posture, verified } = await assetPosture(ctx, asset, async () => ({ error: "not read" }));
  const damaged = damagedInUse(asset.name, posture);
  if (damaged) throw damaged;
  if (verified) {
    const newest = posture.newestRestorePoint;
    if (newest && newest.id !== verified.id)
      ctx.progress.warn(
        `restoring the newest verified restore point ${verified.id}; the newer ${newest.id} is not verified (${never(newest.id)})`,
      );
    return { manifest: verified, verified: true };
  }
  const newest = posture.newestRestorePoint;
  if (!newest) {
    throw new LifelineError({
      code: "NO_RESTORE_POINT",
      kind: "runtime",
      message: `${asset.name} has no restore point in ${ctx.repository.location}`,
      fix: `take one and prove it: lifeline backup ${asset.name} && lifeline drill ${asset.name}`,
    });
  }
  if (!unverified) {
    throw new LifelineError({
      code: "RESTORE_UNVERIFIED",
      kind: "usage",
      message: `${asset.name} has no verified restore point: the newest, ${newest.id}, is not verified (${never(newest.id)})`,
      fix: `prove it first (lifeline drill ${asset.name}), or restore it unproven: lifeline restore ${asset.name} … --restore-point ${newest.id} --unverified`,
    });
  }
  return { manifest: await pickRestorePoint(ctx, asset.name, undefined), verified: false };
}

/** Before any target is touched: every artifact's checksum, and the restore tool. */
async function preflight(ctx: AppContext, recovery: Recovery, manifest: Manifest): Promise<LocalArtifacts> {
  ctx.progress.phase(`checking the checksums of ${manifest.artifacts.length} artifacts`);
  const local = await ctx.repository.localArtifacts(manifest, { signal: ctx.signal, progress: ctx.progress });
  const findings = local.findings;
  if (findings.length > 0) {
    await local.release();
    throw new LifelineError({
      code: "ARTIFACT_CORRUPT",
      kind: "verification",
      message: `restore point ${manifest.id} of ${manifest.asset} is corrupt: its artifacts do not match its manifest; nothing was restored or touched`,
      details: findings.map((f) =>
        f.message.startsWith(`${f.path}:`) ? f.message : `${f.path}: ${f.message}`,
      ),
      fix: `restore another restore point (--restore-point ID; \`lifeline restore-points ${manifest.asset}\` lists them) and run \`lifeline check\``,
    });
  }
  try {
    await recovery.preflight(manifest);
  } catch (error) {
    await local.release();
    throw error;
  }
  return local;
}

function cannotCreate(target: Target, why: string, yourself: boolean): LifelineError {
  return new LifelineError({
    code: "RESTORE_CANNOT_CREATE",
    kind: "runtime",
    message: `the role of ${target.display} may not create databases, and ${why}`,
    fix: yourself
      ? "connect as a role that may (ALTER ROLE … CREATEDB, or a superuser), or create the empty database yourself, owned by this role (CREATE DATABASE … OWNER …), and restore into it"
      : "connect as a role that may (ALTER ROLE … CREATEDB, or a superuser)",
  });
}

function notEmpty(target: Target, state: DatabaseState): LifelineError {
  return new LifelineError({
    code: "RESTORE_TARGET_NOT_EMPTY",
    kind: "usage",
    message: `${target.display} is not empty: it holds ${state.userObjects} user object${state.userObjects === 1 ? "" : "s"}; lifeline never restores over data without being told`,
    details: [`e.g. ${state.sample.join(", ")}${state.userObjects > state.sample.length ? ", …" : ""}`],
    fix: "restore into a new or empty database, or add --replace to replace its data (a destructive plan through the gate)",
  });
}

/** Throws when `target` holds user objects now (it held none, or did not exist, when inspected). */
async function stillEmpty(recovery: Recovery, target: Target): Promise<void> {
  const now = await recovery.inspect(target);
  if (!now.exists || now.userObjects === 0) return;
  throw new LifelineError({
    code: "RESTORE_TARGET_NOT_EMPTY",
    kind: "usage",
    message: `${target.display} is no longer empty: it holds ${now.userObjects} user object${now.userObjects === 1 ? "" : "s"} put there since it was inspected (another restore or a client); it was not replaced, the restored copy was removed`,
    details: [`e.g. ${now.sample.join(", ")}${now.userObjects > now.sample.length ? ", …" : ""}`],
    fix: "restore into a new or empty database, or add --replace to replace its data (a destructive plan through the gate)",
  });
}

/** `--to` reaches the asset's own database: only --in-place replaces it (and keeps the current one). */
function ownDatabase(
  target: Target,
  asset: ResolvedAsset,
  replace: boolean,
  sameUrl: boolean,
): LifelineError {
  return new LifelineError({
    code: "RESTORE_TARGET_IS_ASSET",
    kind: "usage",
    message: `${target.display} is ${asset.name}'s own database${sameUrl ? "" : " (the same server and database as the asset's URL, spelt another way)"}: ${replace ? "--replace would drop it without keeping it" : "--to restores into another database"}; nothing was touched`,
    fix: `lifeline restore ${asset.name} --in-place (through the gate; the current database is kept as <db>_before_<restore point id>), or --tables schema.table to bring back only what was lost`,
  });
}

/** A read-only database (a standby) cannot take tables: say so before anything is created in it. */
async function readOnlyTarget(deps: GateDeps, target: Target, asset: ResolvedAsset): Promise<LifelineError> {
  const standbys = await deps.catalog
    .audit({ kind: "standby" })
    .then((entries) => recoveryState(entries).standbys)
    .catch(() => []);
  const standby = standbys.find((s) => sameStandbyDatabase(s.target, target.url));
  return new LifelineError({
    code: "RESTORE_TARGET_READ_ONLY",
    kind: "usage",
    message: `${target.display} is read-only (default_transaction_read_only is on${standby ? `: it is ${standby.asset}'s standby, serving restore point ${standby.restorePointId}` : ""}): no table can be restored into it; nothing was touched`,
    fix: standby
      ? `restore the tables into a writable database (--to another URL), or back into ${asset.name}'s own database (without --to); a standby is refreshed whole: lifeline standby ${standby.asset} --refresh`
      : `restore the tables into a writable database (--to another URL), or back into ${asset.name}'s own database (without --to); or make it writable first: ALTER DATABASE … SET default_transaction_read_only = off`,
  });
}

function existingTables(target: Target, tables: readonly string[]): LifelineError {
  return new LifelineError({
    code: "RESTORE_TABLES_EXIST",
    kind: "usage",
    message: `${tables.join(", ")} already exist${tables.length === 1 ? "s" : ""} in ${target.display}: lifeline never overwrites existing tables`,
    fix: "restore only the tables that are missing, restore into another database with --to URL, or rename the existing ones first",
  });
}

function tablesOfManifest(manifest: Manifest, names: readonly string[]): RecoveryTable[] {
  const byName = new Map(manifest.fingerprints.tables.map((t) => [t.table, t]));
  return names.map((name) => ({ name, identity: "", rows: byName.get(name)?.rows ?? 0, bytes: 0 }));
}

/** --replace: the target changed between the plan's last check and the swap; nothing was replaced. */
function targetChangedSincePlan(target: Target, plan: Plan, now: Plan): LifelineError {
  return new LifelineError({
    code: "RESTORE_TARGET_CHANGED",
    kind: "runtime",
    message: `${target.display} changed while the restore point was restored (plan ${plan.planId.slice(0, 12)} → ${now.planId.slice(0, 12)}: objects created, dropped or rows changed): it was not replaced, it is as it is now; the restored copy was removed`,
    fix: "plan again (run the same command: the new plan lists what the database holds now, and needs its own approval), and stop what writes into it before replacing it",
  });
}

/**
 * `lifeline restore`: picks the restore point (the newest verified, or the one asked for), rechecks
 * its artifacts and the tools before any target is touched, then restores as asked. Whatever
 * destroys or sets aside data (--replace on a target with data, --in-place, --tables back into the
 * asset's database, --discard-previous) is a plan through the gate (policy, approvals, audit).
 * Every restore that started appends an audit entry of kind "restore", succeeded or failed.
 */
export async function restore(
  ctx: AppContext,
  deps: GateDeps,
  request: RestoreRequest,
): Promise<RestoreOutcome> {
  const { asset, command } = request;
  const engine = ctx.engine(asset.engine);
  const recovery = recoveryOf(engine);
  if (command.action.kind === "discard-previous") {
    await repairInterruptedSwaps(ctx, engine, [engine.target(asset.url)]);
    return discardPrevious(ctx, deps, request, engine, recovery);
  }

  const source = await pickSource(ctx, asset, command.restorePointId, command.unverified);
  // Retention leaves a restore point alone while it is restored.
  const release = await ctx.repository.holdRestorePoint(
    asset.name,
    source.manifest.id,
    `a restore of ${asset.name}`,
  );
  try {
    return await restoreFrom(ctx, deps, request, source);
  } finally {
    await release();
  }
}

async function restoreFrom(
  ctx: AppContext,
  deps: GateDeps,
  request: RestoreRequest,
  source: Awaited<ReturnType<typeof pickSource>>,
): Promise<RestoreOutcome> {
  const { asset, command } = request;
  const engine = ctx.engine(asset.engine);
  const recovery = recoveryOf(engine);
  if (command.action.kind === "discard-previous")
    throw new Error("discard-previous restores no restore point");
  const manifest = source.manifest;
  const unverifiedSource = !source.verified;
  if (unverifiedSource) {
    ctx.progress.warn(
      `restore point ${manifest.id} of ${asset.name} was NEVER PROVEN to restore (no passing drill): what comes back is not checked against a drill; this is recorded in the audit log`,
    );
  }
  const action = command.action;
  const assetTarget = engine.target(asset.url);
  let mode: RestoreMode =
    action.kind === "into"
      ? action.replace
        ? "replace"
        : "into"
      : action.kind === "tables"
        ? "tables"
        : "in-place";
  const target: Target =
    action.kind === "in-place" ? assetTarget : action.to !== null ? engine.target(action.to) : assetTarget;
  if (action.kind !== "in-place" && action.to !== null)
    refuseDatabaseName(
      engine.database(target),
      target.display,
      withDatabaseName(target.display, `${engine.database(assetTarget) || asset.name}_copy`),
    );
  let planId: string | null = null;
  // Before anything connects to the target or the asset's database: a swap a killed lifeline left
  // unfinished (a database refusing connections) is put right, so that the restore can plan and run.
  await repairInterruptedSwaps(ctx, engine, [target, assetTarget]);

  const record = async (
    data: Omit<RestoreAudit, "mode" | "restorePointId" | "unverifiedSource" | "target">,
  ) => {
    const entry: RestoreAudit = {
      mode,
      restorePointId: manifest.id,
      unverifiedSource,
      target: target.display,
      ...data,
    };
    await deps.catalog.appendAudit(
      auditInput(deps, "restore", { asset: asset.name, planId, data: { ...entry } }),
    );
  };

  // The restore point's artifacts as local files (downloaded from an object store), checked.
  let local: LocalArtifacts | undefined;
  let artifacts = "";
  try {
    local = await preflight(ctx, recovery, manifest);
    artifacts = local.directory;
    if (action.kind === "into") {
      ctx.progress.phase(`inspecting ${target.display}`);
      const state = await recovery.inspect(target);
      assertTargetFits({ display: target.display, ...state }, manifest.source);
      // The asset's database under another URL (localhost for 127.0.0.1, ?sslmode=…): --replace would
      // drop it without keeping it, and plans would not call it the asset's. Only --in-place replaces it.
      const sameUrl = sameDatabase(engine, target, assetTarget);
      if (await isAssetDatabase(recovery, { state, sameUrl }, assetTarget))
        throw ownDatabase(target, asset, action.replace, sameUrl);
      const hasData = state.exists && state.userObjects > 0;
      // An existing empty database holds nothing to protect: without CREATEDB, the restore goes
      // straight into it (verified after; on failure it is emptied again).
      const direct = state.exists && !hasData && !state.canCreateDatabase;
      if (!state.canCreateDatabase && !direct)
        throw cannotCreate(
          target,
          state.exists
            ? "replacing a database restores into a new database beside it, then gives it the target's name"
            : `${engine.database(target)} does not exist`,
          !state.exists,
        );
      if (hasData && !action.replace) throw notEmpty(target, state);
      if (!hasData) {
        mode = "into";
        if (request.dryRun)
          return {
            status: "dry-run",
            gate: null,
            what: `restore point ${manifest.id} would be restored into ${state.exists ? "the empty database" : "a new database"} ${target.display}`,
          };
        const done = await (direct ? recoverIntoEmpty : recoverDatabase)(ctx, {
          asset,
          manifest,
          artifacts,
          target,
          previous: "drop",
          readOnly: false,
          jobs: asset.drillJobs,
          // The swap drops what the target holds: checked under the recovery lock right before it, as
          // another restore (--tables) may have put tables in it since it was inspected.
          unchanged: { writes: null, check: async () => stillEmpty(recovery, target) },
        });
        return await finish(done, null);
      }
      mode = "replace";
      return await gatedDatabase("restore-replace-database", async () => {
        const now = await recovery.inspect(target);
        const recoverability = await assessRecoverability(ctx, asset, [], null);
        return {
          state: now,
          tables: now.tables,
          recoverability: {
            ...recoverability,
            summary: `the data ${target.display} holds now is in no restore point of ${asset.name}: replacing it destroys it for good`,
          },
        };
      });
    }

    if (action.kind === "in-place") {
      ctx.progress.phase(`inspecting ${target.display}`);
      const state = await recovery.inspect(target);
      assertTargetFits({ display: target.display, ...state }, manifest.source);
      if (!state.canCreateDatabase)
        throw cannotCreate(
          target,
          "an in-place restore restores into a new database beside the asset's, then swaps names",
          false,
        );
      const inRestorePoint = new Set(manifest.fingerprints.tables.map((t) => t.table));
      const previousName = previousDatabaseName(engine.database(target), manifest.id);
      // Before the gate: an approval is never used up by a restore that cannot keep the current database.
      if ((await recovery.inspect(engine.withDatabase(target, previousName))).exists) {
        const kept = await previousDatabases(deps, asset.name).catch(() => []);
        const recorded = kept.some((p) => p.database === previousName);
        throw new LifelineError({
          code: "RESTORE_PREVIOUS_EXISTS",
          kind: "usage",
          message: `${previousName} already exists on ${target.display}: ${engine.database(target)} as it was before restoring ${manifest.id} once already; an in-place restore keeps the current database under that name, so nothing was planned, touched or approved`,
          fix: recorded
            ? `discard it first (lifeline restore ${asset.name} --discard-previous --restore-point ${manifest.id}, through the gate), or rename it, then restore again`
            : `a killed restore left it (it is not recorded): drop it by hand once you no longer need it (DROP DATABASE "${previousName}") or rename it, then restore again`,
        });
      }
      return await gatedDatabase("restore-in-place", async () => {
        const now = await recovery.inspect(target);
        const recoverability = await assessRecoverability(ctx, asset, [], null);
        const changes = recoverability.changesNotCovered;
        return {
          state: now,
          tables: now.tables.filter((t) => !inRestorePoint.has(t.name)),
          recoverability: {
            ...recoverability,
            summary:
              `nothing is dropped: ${engine.database(target)} as it is now is kept as ${previousName} until lifeline restore ${asset.name} --discard-previous` +
              (changes && recoverability.restorePoint
                ? `; ${changes.rows} row change${changes.rows === 1 ? "" : "s"} written since ${recoverability.restorePoint.id}${changes.countersReset ? " (at least)" : ""} stay only there`
                : ""),
          },
        };
      });
    }

    // Some tables.
    const tables = selectTables(
      manifest.fingerprints.tables.map((t) => t.table),
      { tables: action.tables, schemas: action.schemas },
      // Tables in the schema that hold no rows of their own: partitioned tables.
      manifest.fingerprints.schema.objects.filter((o) => o.kind === "table").map((o) => o.name),
    );
    // What both paths below restore (into a new database, or gated into the asset's own).
    const tableRecovery = { asset, manifest, artifacts, target, tables, jobs: asset.drillJobs };
    ctx.progress.phase(`inspecting ${target.display}`);
    const state = await recovery.inspect(target);
    assertTargetFits({ display: target.display, ...state }, manifest.source);
    if (state.exists && state.readOnly) throw await readOnlyTarget(deps, target, asset);
    const present = new Set(state.exists ? state.tables.map((t) => t.name) : []);
    const clash = tables.filter((t) => present.has(t));
    if (clash.length > 0) throw existingTables(target, clash);
    // --to the asset's own database under another URL is the asset's database: the gated path.
    const own =
      action.to === null ||
      (await isAssetDatabase(
        recovery,
        { state, sameUrl: sameDatabase(engine, target, assetTarget) },
        assetTarget,
      ));
    if (!own) {
      if (!state.exists && !state.canCreateDatabase)
        throw cannotCreate(target, `${engine.database(target)} does not exist`, true);
      if (request.dryRun)
        return {
          status: "dry-run",
          gate: null,
          what: `${tables.length} table${tables.length === 1 ? "" : "s"} of restore point ${manifest.id} would be restored into ${state.exists ? "" : "a new database "}${target.display}: ${tables.join(", ")}`,
        };
      // A database it creates is created and, when the restore fails, dropped under one recovery lock:
      // never one another restore has put tables in since.
      const done = await recoverTables(ctx, { ...tableRecovery, create: !state.exists });
      return await finish(done, null);
    }
    // Back into the asset's own database: a plan through the gate.
    const box: { done?: TableRecovery; failure?: unknown; activity?: Activity | null } = {};
    const gate = await run(deps, {
      planner: async () => {
        const started = performance.now();
        const now = await recovery.inspect(target);
        const exists = new Set(now.tables.map((t) => t.name));
        const again = tables.filter((t) => exists.has(t));
        if (again.length > 0) throw existingTables(target, again);
        return buildPlan("restore-tables", tablesOfManifest(manifest, tables), now, nothingLost, started);
      },
      document: request.document,
      dryRun: request.dryRun,
      signal: ctx.signal,
      executor: async () => {
        try {
          box.done = await recoverTables(ctx, tableRecovery);
          if (box.done.verified)
            box.activity = await restoredActivity(engine, target, manifest, box.done.tables);
          return { exitCode: box.done.verified ? 0 : 4 };
        } catch (error) {
          box.failure = error;
          throw error;
        }
      },
    });
    planId = gate.plan.planId;
    if ("failure" in box) throw box.failure;
    if (!box.done) return { status: "gated", gate };
    return await finish(box.done, gate, box.activity ?? null);
  } catch (error) {
    await record({
      result: "failed",
      tables: 0,
      rows: 0,
      restoreSeconds: 0,
      verifySeconds: 0,
      verified: false,
      previous: null,
      error: secrets.redact(
        isLifelineError(error)
          ? `${error.code}: ${error.message}`
          : error instanceof Error
            ? error.message
            : String(error),
      ),
    }).catch(() => undefined);
    throw error;
  } finally {
    await local?.release();
  }

  // ─── helpers closing over the request ───

  function buildPlan(
    kind: RecoveryKind,
    tables: readonly RecoveryTable[],
    state: DatabaseState,
    recoverability: Recoverability,
    started: number,
  ): Plan {
    return assemblePlan(
      recoveryPlanParts({
        kind,
        asset: { name: asset.name, tier: asset.tier, rpoSeconds: asset.rpoSeconds },
        restorePointId: manifest.id,
        commandText: request.commandText,
        database: { name: engine.database(target), display: target.display },
        tables,
        consumers: state.consumers,
        dependents: [],
        recoverability,
        policy: request.policy,
        planningMs: Math.round(performance.now() - started),
      }),
      PLAN_ASSEMBLY,
    );
  }

  async function gatedDatabase(
    kind: "restore-replace-database" | "restore-in-place",
    read: () => Promise<{ state: DatabaseState; tables: RecoveryTable[]; recoverability: Recoverability }>,
  ): Promise<RestoreOutcome> {
    const box: { done?: DatabaseRecovery; failure?: unknown } = {};
    const planner = async () => {
      const started = performance.now();
      const { state, tables, recoverability } = await read();
      return buildPlan(kind, tables, state, recoverability, started);
    };
    const gate = await run(deps, {
      planner,
      document: request.document,
      dryRun: request.dryRun,
      signal: ctx.signal,
      executor: async (plan) => {
        try {
          // What --replace drops must be what the plan listed: the target is checked again at the swap.
          const unchanged =
            kind === "restore-replace-database"
              ? {
                  writes: await recovery.writes(target).catch(() => null),
                  check: async () => {
                    const now = await planner();
                    if (now.planId !== plan.planId) throw targetChangedSincePlan(target, plan, now);
                  },
                }
              : undefined;
          box.done = await recoverDatabase(ctx, {
            ...(unchanged ? { unchanged } : {}),
            asset,
            manifest,
            artifacts,
            target,
            previous: kind === "restore-in-place" ? "keep" : "drop",
            readOnly: false,
            jobs: asset.drillJobs,
          });
          return { exitCode: box.done.verified ? 0 : 4 };
        } catch (error) {
          box.failure = error;
          throw error;
        }
      },
    });
    planId = gate.plan.planId;
    if ("failure" in box) throw box.failure;
    if (!box.done) return { status: "gated", gate };
    return finish(box.done, gate);
  }

  /** Records and reports a whole-database or a selective restore (they differ only in what they add). */
  async function finish(
    done: Omit<DatabaseRecovery, "previous" | "swap" | "removedLeftovers" | "tools"> &
      Partial<Pick<DatabaseRecovery, "previous" | "swap" | "removedLeftovers">> &
      Partial<Pick<TableRecovery, "foreignKeys">>,
    gate: RunOutcome | null,
    activity: Activity | null = null,
  ): Promise<RestoreOutcome> {
    const previous = done.previous ?? null;
    const result: RestoreResult = {
      asset: asset.name,
      restorePointId: manifest.id,
      unverifiedSource,
      mode,
      target: target.display,
      tables: done.tables,
      rows: done.rows,
      restoreSeconds: done.restoreSeconds,
      verifySeconds: done.verifySeconds,
      verified: done.verified,
      mismatches: done.mismatches,
      previous,
      foreignKeys: done.foreignKeys ?? [],
      swap: done.swap ?? null,
      removedLeftovers: done.removedLeftovers ?? [],
    };
    await record({
      result: done.verified ? "succeeded" : "failed",
      tables: done.tables.length,
      rows: done.rows,
      restoreSeconds: done.restoreSeconds,
      verifySeconds: done.verifySeconds,
      verified: done.verified,
      previous,
      error: done.verified ? null : `RESTORE_VERIFY_FAILED: ${done.mismatches.length} mismatches`,
      ...(activity ? { activity } : {}),
    });
    return { status: "restored", result, gate };
  }
}

/**
 * The restored tables' counters right after a --tables restore into the asset's own database, with
 * the rows they hold (the restore point's: verified), for status's changes not covered. The restore
 * counted its rows as inserts, which another session's statistics show once the restoring session
 * has flushed them (at its exit): read until they do, a few seconds at most. Null when they cannot
 * be read (status then counts the table as dropped and created again, as before).
 */
async function restoredActivity(
  engine: Engine,
  target: Target,
  manifest: Manifest,
  tables: readonly string[],
): Promise<Activity | null> {
  const rows = new Map(manifest.fingerprints.tables.map((t) => [t.table, t.rows]));
  const wanted = new Set(tables);
  for (let attempt = 0; attempt < 20; attempt++) {
    let activity: Activity;
    try {
      activity = (await engine.live(target)).activity;
    } catch {
      return null;
    }
    const restored = activity.tables
      .filter((t) => wanted.has(t.table))
      .map((t) => {
        const n = rows.get(t.table);
        return n === undefined ? t : { ...t, rows: n };
      });
    const flushed = restored.every((t) => t.rows === undefined || t.inserts >= t.rows);
    if (flushed) return { ...activity, tables: restored };
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

const nothingLost: Recoverability = {
  restorePoint: null,
  notContained: [],
  changesNotCovered: null,
  summary: "nothing is destroyed: the tables are created; existing tables are never overwritten",
};

/** The previous databases in-place restores kept for the asset and not yet discarded, oldest first. */
export async function previousDatabases(deps: GateDeps, asset: string): Promise<PreviousDatabase[]> {
  const [restores, discards] = await Promise.all([
    deps.catalog.audit({ asset, kind: "restore" }),
    deps.catalog.audit({ asset, kind: "discard" }),
  ]);
  const entries = [...restores, ...discards].sort((a, b) => a.seq - b.seq);
  return recoveryState(entries).previous.filter((p) => p.asset === asset);
}

async function discardPrevious(
  ctx: AppContext,
  deps: GateDeps,
  request: RestoreRequest,
  engine: Engine,
  recovery: Recovery,
): Promise<RestoreOutcome> {
  const { asset } = request;
  const kept = await previousDatabases(deps, asset.name);
  const wanted = request.command.restorePointId;
  const previous = wanted === null ? kept[kept.length - 1] : kept.find((p) => p.restorePointId === wanted);
  if (!previous && wanted !== null && kept.length > 0) {
    throw new LifelineError({
      code: "NO_PREVIOUS_DATABASE",
      kind: "usage",
      message: `no previous database of ${asset.name} was kept by restoring ${wanted}`,
      fix: `the kept ones: ${kept.map((p) => `${p.database} (--restore-point ${p.restorePointId})`).join(", ")}`,
    });
  }
  if (!previous) {
    throw new LifelineError({
      code: "NO_PREVIOUS_DATABASE",
      kind: "usage",
      message: `no previous database of ${asset.name} is recorded: no in-place restore kept one, or it was discarded`,
      fix: `lifeline status ${asset.name} lists the previous databases kept; lifeline audit --asset ${asset.name} --kind restore shows the restores`,
    });
  }
  const remaining = kept.filter((p) => p !== previous).map((p) => p.database);
  const target = engine.withDatabase(engine.target(asset.url), previous.database);
  const recordDiscard = (planId: string | null) => {
    const data: DiscardAudit = { database: previous.database, target: previous.target };
    return deps.catalog.appendAudit(
      auditInput(deps, "discard", { asset: asset.name, planId, data: { ...data } }),
    );
  };
  ctx.progress.phase(`inspecting ${target.display}`);
  const state = await recovery.inspect(target);
  const discarded: DiscardResult = {
    asset: asset.name,
    database: previous.database,
    target: previous.target,
    restorePointId: previous.restorePointId,
    alreadyGone: !state.exists,
    remaining,
  };
  // The drop and its record are made under the recovery lock of the asset's database: an in-place
  // restore (which takes it) keeps the database as it is under this very name when it is gone, and
  // its record must come after this one, or the kept database would be listed as discarded.
  const assetTarget = engine.target(asset.url);
  const underLock = async <T>(fn: () => Promise<T>): Promise<T> => {
    const lock = await recovery.lock(assetTarget);
    if (!lock)
      throw new LifelineError({
        code: "RESTORE_BUSY",
        kind: "runtime",
        message: `a lifeline restore into ${assetTarget.display} is running: ${previous.database} was not discarded (an in-place restore may be keeping the database under that name)`,
        fix: `wait for it to finish, then run this again (lifeline status ${asset.name} lists the previous databases kept)`,
      });
    try {
      return await fn();
    } finally {
      await lock.release();
    }
  };
  if (!state.exists) {
    const gone = await underLock(async () => {
      if ((await recovery.inspect(target)).exists) return false;
      await recordDiscard(null);
      return true;
    });
    if (gone) return { status: "discarded", discarded, gate: null };
    discarded.alreadyGone = false;
  }
  const box: { dropped?: boolean; failure?: unknown } = {};
  const gate = await run(deps, {
    planner: async () => {
      const started = performance.now();
      const now = await recovery.inspect(target);
      const recoverability = await assessRecoverability(ctx, asset, [], null);
      return assemblePlan(
        recoveryPlanParts({
          kind: "discard-previous-database",
          asset: { name: asset.name, tier: asset.tier, rpoSeconds: asset.rpoSeconds },
          restorePointId: previous.restorePointId,
          commandText: request.commandText,
          database: { name: previous.database, display: target.display },
          tables: now.exists ? now.tables : [],
          consumers: now.consumers,
          dependents: [],
          recoverability: {
            ...recoverability,
            summary: `${previous.database} holds ${asset.name} as it was before the in-place restore from ${previous.restorePointId} (at ${previous.at}); what was written there after that restore point is in no restore point`,
          },
          policy: request.policy,
          planningMs: Math.round(performance.now() - started),
        }),
        PLAN_ASSEMBLY,
      );
    },
    document: request.document,
    dryRun: request.dryRun,
    signal: ctx.signal,
    executor: async (plan) => {
      try {
        await underLock(async () => {
          ctx.progress.phase(`dropping ${previous.database}`);
          await recovery.drop(target);
          box.dropped = true;
          await recordDiscard(plan.planId);
        });
        return { exitCode: 0 };
      } catch (error) {
        box.failure = error;
        throw error;
      }
    },
  });
  if ("failure" in box) throw box.failure;
  if (!box.dropped) return { status: "gated", gate };
  return { status: "discarded", discarded, gate };
}
