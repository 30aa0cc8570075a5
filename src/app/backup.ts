import { randomBytes } from "node:crypto";
import { asLifelineError, interrupted } from "../core/errors.js";
import { MANIFEST_FORMAT, newRestorePointId, type Manifest } from "../core/restore-point.js";
import type { ResolvedAsset } from "../config/load.js";
import type { AppContext } from "./context.js";
import { LIFELINE_VERSION } from "./version.js";

/**
 * Takes a restore point of one asset. Either a complete restore point appears in the repository
 * (manifest last, atomically), or nothing does: every failure and interruption removes what was
 * staged.
 */
export async function backup(ctx: AppContext, asset: ResolvedAsset): Promise<Manifest> {
  const engine = ctx.engine(asset.engine);
  const target = engine.target(asset.url);
  const started = performance.now();
  const id = newRestorePointId(ctx.clock.now(), randomBytes(3).toString("hex"));
  const staged = await ctx.repository.stage(asset.name, id);
  try {
    const result = await engine.backup(target, {
      directory: staged.directory,
      jobs: ctx.backup.jobs,
      compression: ctx.backup.compression,
      signal: ctx.signal,
      progress: ctx.progress,
    });
    if (ctx.signal.aborted) throw interrupted();
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      id,
      asset: asset.name,
      engine: engine.name,
      createdAt: ctx.clock.now().toISOString(),
      snapshotTime: result.snapshotTime,
      source: { ...result.source, url: target.display },
      tools: { ...result.tools, lifeline: LIFELINE_VERSION },
      dump: result.dump,
      artifacts: result.artifacts,
      fingerprints: result.fingerprints,
      activity: result.activity,
      durations: { ...result.durations, totalSeconds: Math.round((performance.now() - started) / 10) / 100 },
    };
    ctx.progress.phase("committing the restore point");
    await staged.commit(manifest);
    return manifest;
  } catch (error) {
    await staged.abort();
    throw asLifelineError(error, "BACKUP_FAILED", `backup of ${asset.name} failed`);
  }
}
