import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { LifelineError } from "../core/errors.js";
import type { Finding } from "../core/restore-point/check.js";
import type { DrillReport } from "../core/drill/drill.js";
import type { Progress } from "../ports/engine.js";
import type { Repository } from "../ports/repository.js";
import type { AppContext } from "./context.js";

export interface CopyResult {
  /** Restore points copied now, as asset/id. */
  copied: string[];
  /** Already in the target (same manifest digest): left as they are. */
  present: string[];
  /** Not copied: their artifacts do not match their manifest in the source. */
  skipped: { restorePoint: string; findings: Finding[] }[];
  drillReports: number;
}

/**
 * Whether a drill report of one repository says something about the same restore point in another
 * (a copy): a drill that failed because that repository's artifacts do not match the manifest
 * (ARTIFACT_CORRUPT) is about those bytes, not the copy's, which were checked when copied. Brought
 * over, it would make the copy's intact restore point "failed" and retention remove it there.
 */
export function appliesToCopies(report: Pick<DrillReport, "result" | "failure">): boolean {
  return report.result === "passed" || report.failure?.code !== "ARTIFACT_CORRUPT";
}

/**
 * Copies restore points and their drill reports from one repository to another (3-2-1). Each
 * artifact is checked against its manifest's sha256 on the way out of the source (download) and
 * again when written to the target (an object store hashes what it uploads; a local repository is
 * re-read after the commit); the manifest is written last, as by a backup.
 */
export async function copyRepository(
  from: Repository,
  to: Repository,
  options: { asset?: string; restorePointId?: string; signal: AbortSignal; progress: Progress },
): Promise<CopyResult> {
  const result: CopyResult = { copied: [], present: [], skipped: [], drillReports: 0 };
  const manifests = (await from.listRestorePoints(options.asset)).filter(
    (m) => options.restorePointId === undefined || m.id === options.restorePointId,
  );
  for (const manifest of manifests) {
    const name = `${manifest.asset}/${manifest.id}`;
    const existing = await to.getRestorePoint(manifest.asset, manifest.id).catch(() => undefined);
    if (existing && existing.digest === manifest.digest) {
      result.present.push(name);
      continue;
    }
    options.progress.phase(`copying restore point ${name} to ${to.location}`);
    const local = await from.localArtifacts(manifest, { signal: options.signal, progress: options.progress });
    try {
      if (local.findings.length > 0) {
        result.skipped.push({ restorePoint: name, findings: local.findings });
        continue;
      }
      const staged = await to.stage(manifest.asset, manifest.id);
      try {
        for (const artifact of manifest.artifacts) {
          const target = path.join(staged.directory, artifact.path);
          await mkdir(path.dirname(target), { recursive: true });
          await copyFile(path.join(local.directory, artifact.path), target);
        }
        const copy = { ...manifest };
        delete copy.digest;
        await staged.commit(copy);
      } catch (error) {
        await staged.abort();
        throw error;
      }
      const after = await to.verifyArtifacts(manifest, { signal: options.signal });
      if (after.length > 0) {
        result.skipped.push({ restorePoint: name, findings: after });
        continue;
      }
      result.copied.push(name);
    } finally {
      await local.release();
    }
  }
  const inTarget = new Set((await to.listRestorePoints(options.asset)).map((m) => `${m.asset}/${m.id}`));
  const reportsThere = new Set(
    (await to.listDrillReports(options.asset)).map((r) => `${r.restorePointId}/${r.id}`),
  );
  for (const report of await from.listDrillReports(options.asset)) {
    if (options.restorePointId !== undefined && report.restorePointId !== options.restorePointId) continue;
    if (!inTarget.has(`${report.asset}/${report.restorePointId}`)) continue;
    if (reportsThere.has(`${report.restorePointId}/${report.id}`)) continue;
    if (!appliesToCopies(report)) continue;
    await to.writeDrillReport(report);
    result.drillReports++;
  }
  return result;
}

/** What one copies: entry did with a verified restore point. */
export interface CopyOutcome {
  to: string;
  result?: CopyResult;
  /** Why nothing was copied there (unreachable, refused …), with the fix when there is one. */
  error?: string;
}

/** An error's message for a person, with its fix when it names one. */
export function describeError(error: unknown): string {
  return error instanceof LifelineError && error.fix
    ? `${error.message} (fix: ${error.fix})`
    : error instanceof Error
      ? error.message
      : String(error);
}

/**
 * After a passing drill (the `drill` command and the server's scheduled drills): the restore point
 * and its drill reports go to every copy (copies: in lifeline.yaml). A copy that fails is reported
 * and the others still get theirs.
 */
export async function copyVerified(
  ctx: AppContext,
  asset: string,
  restorePointId: string,
): Promise<CopyOutcome[]> {
  const outcomes: CopyOutcome[] = [];
  for (const target of ctx.copies?.() ?? []) {
    const to = target.repository;
    try {
      await target.refuse(ctx.repository);
      const result = await copyRepository(ctx.repository, to, {
        asset,
        restorePointId,
        signal: ctx.signal,
        progress: ctx.progress,
      });
      outcomes.push({ to: to.location, result });
    } catch (error) {
      const message = describeError(error);
      ctx.progress.warn(`could not copy ${restorePointId} to ${to.location}: ${message}`);
      outcomes.push({ to: to.location, error: message });
    }
  }
  return outcomes;
}
