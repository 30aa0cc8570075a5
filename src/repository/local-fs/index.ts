import type { DrillReport } from "../../core/drill/drill.js";
import type { Finding } from "../../core/restore-point/check.js";
import type { Manifest } from "../../core/restore-point/restore-point.js";
import type {
  AssetOverview,
  CheckOptions,
  CheckResult,
  LocalArtifacts,
  Repository,
  StagedRestorePoint,
} from "../../ports/repository.js";
import { indexedOverview, repairIndexes } from "./asset-index.js";
import { check, verifyArtifacts } from "./check.js";
import { listDrillReports } from "./drill-reports.js";
import { LifelineError } from "../../core/errors.js";
import { DRILLS, MARKER, RESTORE_POINTS, artifactDirectory, ensure, entries } from "./layout.js";
import { getRestorePoint, listRestorePoints, manifestUnchanged } from "./manifest.js";
import { heldRestorePoints, holdRestorePoint, removeRestorePoint } from "./removing.js";
import { stage, writeDrillReport } from "./writing.js";

export { manifestDigest } from "./manifest.js";

/**
 * A repository in a local directory. Self-describing: restore points and drill reports are plain
 * files, listable with nothing but this directory.
 *
 *   lifeline-repository.json
 *   restore-points/<asset>/<restore point id>/manifest.json, dump/…
 *   restore-points/<asset>/.staging-<id>-<pid>/  a backup in progress (or interrupted)
 *   drills/<asset>/<restore point id>/<drill id>.json
 *   index/<asset>.json                           the asset's index (a cache: the manifests and drill
 *                                                 reports are the truth; rebuilt when missing, stale
 *                                                 or damaged)
 *   index/<asset>.lock                           held while the index is rewritten
 *   restore-points/<asset>/.removing-<id>-<pid>/  a restore point being removed (or interrupted:
 *                                                 the next removal or backup finishes it)
 *   index/<asset>.hold-<id>-<pid>-<hex>          a drill, restore or standby reads that restore point
 *   index/<asset>.pending-<pid>-<hex>            a write whose index update is in progress (or
 *                                                 interrupted: the next reader rebuilds the index)
 */
export class LocalRepository implements Repository {
  constructor(readonly root: string) {}

  get location(): string {
    return this.root;
  }

  async init(): Promise<{ encrypted: boolean }> {
    if ((await entries(this.root)).some((e) => e.name === MARKER))
      throw new LifelineError({
        code: "REPOSITORY_EXISTS",
        kind: "usage",
        message: `${this.root} is a lifeline repository already: nothing was changed`,
        fix: "use it as it is, or point repository.path in lifeline.yaml at another directory for a new one",
      });
    await ensure(this.root);
    return { encrypted: false };
  }

  async exists(): Promise<boolean> {
    return (await entries(this.root)).some(
      (e) => e.name === MARKER || (e.isDirectory() && (e.name === RESTORE_POINTS || e.name === DRILLS)),
    );
  }

  stage(asset: string, id: string): Promise<StagedRestorePoint> {
    return stage(this.root, asset, id);
  }

  listRestorePoints(asset?: string): Promise<Manifest[]> {
    return listRestorePoints(this.root, asset);
  }

  /**
   * The sha256 of each manifest's text as the last overview of its asset found it indexed: a
   * manifest read again with the same bytes is not checked against its digest a second time
   * (status reads an asset's overview, then one or two of its manifests).
   */
  private readonly indexed = new Map<string, Map<string, string>>();

  getRestorePoint(asset: string, id: string): Promise<Manifest | undefined> {
    return getRestorePoint(this.root, asset, id, this.indexed.get(asset)?.get(id));
  }

  manifestUnchanged(asset: string, id: string): Promise<boolean> {
    const known = this.indexed.get(asset)?.get(id);
    return known === undefined ? Promise.resolve(false) : manifestUnchanged(this.root, asset, id, known);
  }

  async overview(asset: string): Promise<AssetOverview> {
    const { overview, known } = await indexedOverview(this.root, asset);
    this.indexed.set(asset, known);
    return overview;
  }

  /** The artifacts are already local: checked in place, nothing to remove afterwards. */
  async localArtifacts(manifest: Manifest): Promise<LocalArtifacts> {
    return {
      directory: artifactDirectory(this.root, manifest),
      findings: await verifyArtifacts(this.root, manifest),
      release: async () => undefined,
    };
  }

  verifyArtifacts(manifest: Manifest): Promise<Finding[]> {
    return verifyArtifacts(this.root, manifest);
  }

  writeDrillReport(report: DrillReport): Promise<void> {
    return writeDrillReport(this.root, report);
  }

  listDrillReports(asset?: string): Promise<DrillReport[]> {
    return listDrillReports(this.root, asset);
  }

  removeRestorePoint(asset: string, id: string): Promise<boolean> {
    return removeRestorePoint(this.root, asset, id);
  }

  holdRestorePoint(asset: string, id: string, purpose: string): Promise<() => Promise<void>> {
    return holdRestorePoint(this.root, asset, id, purpose);
  }

  heldRestorePoints(asset: string): Promise<Map<string, string>> {
    return heldRestorePoints(this.root, asset);
  }

  /** Always reads every byte (readData is implied: the files are local). */
  async check(options: CheckOptions = {}): Promise<CheckResult> {
    const repaired = options.repairIndex ? await repairIndexes(this.root) : [];
    const result = await check(this.root);
    for (const asset of repaired)
      result.notes.push(`index/${asset}.json: rebuilt from the manifests and drill reports`);
    return result;
  }
}
