import { compareFingerprints } from "../core/drill/compare.js";
import { DRILL_FORMAT, newDrillId, type DrillReport } from "../core/drill/drill.js";
import { LifelineError, asLifelineError, isLifelineError, restorePointDamaged } from "../core/errors.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Target } from "../ports/engine.js";
import type { LocalArtifacts } from "../ports/repository.js";
import type { ScratchInstance } from "../ports/scratch.js";
import type { AppContext } from "./context.js";
import { LIFELINE_VERSION } from "./version.js";

export interface DrillHooks {
  /** Runs on the restored scratch copy before it is fingerprinted (tests use it to damage the copy). */
  beforeVerify?: (scratch: Target) => Promise<void>;
}

/** Failures of the restore itself make a failed drill; a missing tool or scratch is an error of the setup. */
const RESTORE_FAILURES = new Set(["RESTORE_FAILED"]);

function seconds(since: number): number {
  return Math.round((performance.now() - since) / 10) / 100;
}

export async function pickRestorePoint(
  ctx: AppContext,
  asset: string,
  id: string | undefined,
): Promise<Manifest> {
  if (id) {
    // A damaged one is an error of its own (RESTORE_POINT_DAMAGED, exit 4), not "no restore point".
    const manifest = await ctx.repository.getRestorePoint(asset, id);
    if (!manifest) {
      throw new LifelineError({
        code: "RESTORE_POINT_UNKNOWN",
        kind: "usage",
        message: `no restore point ${id} of ${asset} in ${ctx.repository.location}`,
        fix: `list them with \`lifeline restore-points ${asset}\` (or run \`lifeline check\`)`,
      });
    }
    return manifest;
  }
  const { restorePoints } = await ctx.repository.overview(asset);
  const newest = restorePoints[restorePoints.length - 1];
  if (!newest) {
    throw new LifelineError({
      code: "NO_RESTORE_POINT",
      kind: "runtime",
      message: `${asset} has no restore point to drill in ${ctx.repository.location}`,
      fix: `take one first: lifeline backup ${asset}`,
    });
  }
  // The newest, even when damaged: drilling an older one instead would hide it.
  if (newest.damaged) throw restorePointDamaged(asset, newest.id, newest.damaged);
  const manifest = await ctx.repository.getRestorePoint(asset, newest.id);
  if (!manifest) throw restorePointDamaged(asset, newest.id, "its directory disappeared while it was read");
  return manifest;
}

/**
 * Proves a restore point restores: recheck the artifacts' checksums, restore into a scratch
 * instance (never the source), fingerprint the copy and compare with the manifest. The report is
 * recorded in the repository; scratch is torn down whatever happens.
 */
export async function drill(
  ctx: AppContext,
  asset: ResolvedAsset,
  restorePointId?: string,
  hooks: DrillHooks = {},
): Promise<DrillReport> {
  ctx.engine(asset.engine); // an unknown engine is an error before anything is read
  const manifest = await pickRestorePoint(ctx, asset.name, restorePointId);
  // Retention leaves a restore point alone while it is drilled.
  const release = await ctx.repository.holdRestorePoint(asset.name, manifest.id, `a drill of ${asset.name}`);
  try {
    return await drillRestorePoint(ctx, asset, manifest, hooks);
  } finally {
    await release();
  }
}

async function drillRestorePoint(
  ctx: AppContext,
  asset: ResolvedAsset,
  manifest: Manifest,
  hooks: DrillHooks,
): Promise<DrillReport> {
  const startedAt = ctx.clock.now();
  const report: DrillReport = {
    format: DRILL_FORMAT,
    id: newDrillId(startedAt),
    asset: asset.name,
    restorePointId: manifest.id,
    startedAt: startedAt.toISOString(),
    finishedAt: startedAt.toISOString(),
    result: "failed",
    failure: null,
    scratch: { kind: asset.scratch === "embedded" ? "embedded" : "server", serverVersion: null },
    tools: { lifeline: LIFELINE_VERSION },
    restoreSeconds: 0,
    verifySeconds: 0,
    mismatches: [],
  };
  const finish = async (): Promise<DrillReport> => {
    report.finishedAt = ctx.clock.now().toISOString();
    await ctx.repository.writeDrillReport(report);
    return report;
  };

  ctx.progress.phase(`checking the checksums of ${manifest.artifacts.length} artifacts`);
  const local = await ctx.repository.localArtifacts(manifest, { signal: ctx.signal, progress: ctx.progress });
  try {
    return await drillFrom(ctx, asset, manifest, report, finish, local, hooks);
  } finally {
    await local.release();
  }
}

async function drillFrom(
  ctx: AppContext,
  asset: ResolvedAsset,
  manifest: Manifest,
  report: DrillReport,
  finish: () => Promise<DrillReport>,
  local: LocalArtifacts,
  hooks: DrillHooks,
): Promise<DrillReport> {
  const engine = ctx.engine(asset.engine);
  const findings = local.findings;
  if (findings.length > 0) {
    report.failure = {
      code: "ARTIFACT_CORRUPT",
      message: `the restore point's artifacts do not match its manifest: ${findings.map((f) => f.message).join("; ")}`,
    };
    return finish();
  }

  const scratch = ctx.scratch(asset.scratch);
  ctx.progress.phase(`starting the scratch instance (${scratch.kind})`);
  let instance: ScratchInstance | undefined;
  try {
    instance = await scratch.provision({
      minMajor: engine.scratchMajorFor(manifest),
      encoding: manifest.source.encoding,
      locale: manifest.source.locale,
      signal: ctx.signal,
    });
    report.scratch = { kind: instance.kind, serverVersion: instance.serverVersion };
    const restoreStarted = performance.now();
    try {
      const restored = await engine.restore(instance.target, {
        directory: local.directory,
        manifest,
        jobs: asset.drillJobs,
        signal: ctx.signal,
        progress: ctx.progress,
      });
      report.tools = { ...report.tools, ...restored.tools };
    } catch (error) {
      if (isLifelineError(error) && RESTORE_FAILURES.has(error.code)) {
        report.restoreSeconds = seconds(restoreStarted);
        report.failure = { code: error.code, message: [error.message, ...error.details].join("\n") };
        return await finish();
      }
      throw error;
    }
    report.restoreSeconds = seconds(restoreStarted);

    if (hooks.beforeVerify) await hooks.beforeVerify(instance.target);
    ctx.progress.phase("fingerprinting the restored copy");
    const verifyStarted = performance.now();
    const actual = await engine
      .fingerprint(instance.target, ctx.signal, manifest.fingerprints)
      .catch((error: unknown) => {
        throw asLifelineError(error, "VERIFY_FAILED", "fingerprinting the restored copy failed");
      });
    report.mismatches = compareFingerprints(manifest.fingerprints, actual);
    report.verifySeconds = seconds(verifyStarted);
    report.result = report.mismatches.length === 0 ? "passed" : "failed";
    return await finish();
  } finally {
    if (instance) {
      ctx.progress.phase("removing the scratch instance");
      // The drill's result is already recorded; a failed cleanup is reported, not turned into a failed drill.
      await instance.teardown().catch((error: unknown) => {
        ctx.progress.warn(
          `could not remove the scratch instance: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    }
  }
}
