import { randomBytes } from "node:crypto";
import { LifelineError, asLifelineError, interrupted } from "../core/errors.js";
import { MANIFEST_FORMAT, newRestorePointId, type Manifest } from "../core/restore-point/restore-point.js";
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
    throw withFix(
      asLifelineError(error, "BACKUP_FAILED", `backup of ${asset.name} failed`),
      asset.name,
      ctx.repository.location,
    );
  }
}

const DISK_FULL = /No space left on device|ENOSPC|Disk quota exceeded|EDQUOT/i;
const CONNECTION_LOST =
  /terminating connection|server closed the connection|Connection terminated|connection to server .* (was lost|failed)|database system is (shutting down|in recovery mode)|ECONNRESET|EPIPE/i;

/**
 * Every backup failure says what to do; nothing was committed in any case. A full disk (pg_dump's
 * "No space left on device") and a server that went away mid-backup are recognised by their text.
 */
export function withFix(error: LifelineError, asset: string, repository: string): LifelineError {
  if (error.fix !== undefined || error.kind === "interrupted") return error;
  const text = [error.message, ...error.details].join("\n");
  const again = `lifeline backup ${asset}`;
  if (DISK_FULL.test(text))
    return new LifelineError({
      code: "DISK_FULL",
      kind: error.kind,
      message: `${error.message}: the disk holding ${repository} is full; nothing was committed`,
      fix: `free space on the disk holding ${repository} (\`df -h ${repository}\`; old restore points can go), or point repository.path in lifeline.yaml at a larger disk, then run \`${again}\``,
      details: error.details,
    });
  if (CONNECTION_LOST.test(text))
    return new LifelineError({
      code: error.code,
      kind: error.kind,
      message: `${error.message} (the server ended the connection mid-backup); nothing was committed`,
      fix: `the server restarted or the session was terminated: check the server's log, then run \`${again}\` again`,
      details: error.details,
    });
  return new LifelineError({
    code: error.code,
    kind: error.kind,
    message: error.message,
    fix: `nothing was committed; correct the cause above and run \`${again}\` again`,
    details: error.details,
  });
}
