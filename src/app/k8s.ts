import { mkdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { formatDuration } from "../core/duration.js";
import { LifelineError } from "../core/errors.js";
import type { AssetBinding } from "../core/kubernetes/binding.js";
import { boundClaims, protectionChanges, scanInventory, type Finding } from "../core/kubernetes/scan.js";
import { assetPosture } from "./status.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Cluster, ClusterSelection } from "../ports/cluster.js";
import { withFileLock, writeFileAtomic } from "../support/files.js";
import type { AppContext } from "./context.js";

export interface K8sDeps {
  ctx: AppContext | null;
  cluster: (selection: ClusterSelection) => Cluster;
  signal: AbortSignal;
  /** Where `protect` records what it changed (so `--undo` can put it back). */
  stateDir: string | null;
}

export interface K8sSettings {
  kubeconfig: string | null;
  context: string | null;
  clusterDomain: string;
}

export function bindingsFor(assets: readonly ResolvedAsset[], context: string): AssetBinding[] {
  return assets.flatMap((a) =>
    a.kubernetes && (a.kubernetes.context === null || a.kubernetes.context === context)
      ? [
          {
            asset: a.name,
            namespace: a.kubernetes.namespace,
            release: a.kubernetes.release,
            pvcSelector: a.kubernetes.pvcSelector,
          },
        ]
      : [],
  );
}

export interface ScanResult {
  context: string;
  server: string;
  namespace: string | null;
  findings: Finding[];
}

/** Posture findings for the whole cluster or one namespace, and for every bound asset. */
export async function scan(
  deps: K8sDeps,
  options: { assets: readonly ResolvedAsset[]; kubernetes: K8sSettings; namespace: string | null },
): Promise<ScanResult> {
  const cluster = deps.cluster({
    kubeconfig: options.kubernetes.kubeconfig,
    context: options.kubernetes.context,
  });
  const inventory = await cluster.inventory(deps.signal);
  if (
    options.namespace !== null &&
    !inventory.gaps.some((g) => g.resource === "namespaces") &&
    !inventory.namespaces.some((n) => n.name === options.namespace)
  ) {
    throw new LifelineError({
      code: "NAMESPACE_UNKNOWN",
      kind: "usage",
      message: `namespace ${options.namespace} does not exist on context ${cluster.context}`,
      fix: "check the name with `kubectl get namespaces`",
    });
  }
  const bindings = bindingsFor(options.assets, cluster.context);
  const findings = scanInventory(inventory, bindings, options.namespace);
  if (deps.ctx) {
    const ctx = deps.ctx;
    for (const asset of options.assets) {
      const b = bindings.find((x) => x.asset === asset.name);
      if (!b || (options.namespace !== null && b.namespace !== options.namespace)) continue;
      const { posture } = await assetPosture(ctx, asset, async () => ({ error: "not read by scan" }));
      const verified = posture.newestVerifiedRestorePoint;
      if (!verified) {
        const newest = posture.newestRestorePoint;
        findings.push({
          severity: "high",
          code: "asset-unverified",
          namespace: b.namespace,
          asset: asset.name,
          message: `asset ${asset.name} has no verified restore point${newest ? ` (the newest, ${newest.id}, ${formatDuration(newest.ageSeconds)} old, was never drilled successfully)` : ""}`,
          fix: newest
            ? `lifeline drill ${asset.name}`
            : `lifeline backup ${asset.name} && lifeline drill ${asset.name}`,
        });
      } else if (!posture.rpoMet) {
        findings.push({
          severity: "medium",
          code: "asset-stale",
          namespace: b.namespace,
          asset: asset.name,
          message: `the newest verified restore point of ${asset.name} is ${formatDuration(verified.ageSeconds)} old (rpo ${formatDuration(asset.rpoSeconds)})`,
          fix: `lifeline backup ${asset.name} && lifeline drill ${asset.name}`,
        });
      }
    }
  }
  const order = ["high", "medium", "low"];
  findings.sort((a, b) => order.indexOf(a.severity) - order.indexOf(b.severity));
  return { context: cluster.context, server: cluster.server, namespace: options.namespace, findings };
}

export interface ProtectChange {
  volume: string;
  uid: string;
  claim: string;
  from: string;
  to: string;
}

export interface ProtectRecord {
  asset: string;
  context: string;
  /** Volumes changed by `protect`, with the policy each had before. */
  changes: (ProtectChange & { at: string })[];
}

export interface ProtectPlan {
  asset: string;
  context: string;
  server: string;
  undo: boolean;
  changes: ProtectChange[];
  /** Claims of the asset already protected (nothing to do). */
  alreadyRetained: number;
  /** Volumes --undo leaves as they are, and why (undoing would delete data now). */
  kept: { volume: string; why: string }[];
  /**
   * Volumes of the record already back to the policy they had before protect (put back by a run
   * killed before it could record it, or by hand): nothing to undo; --undo forgets them.
   */
  alreadyBack: ProtectChange[];
}

function recordFile(stateDir: string, asset: string): string {
  return path.join(stateDir, `k8s-protect-${asset}.json`);
}

async function readRecord(stateDir: string, asset: string): Promise<ProtectRecord | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(recordFile(stateDir, asset), "utf8"));
    return parsed as ProtectRecord;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new LifelineError({
      code: "STATE_INVALID",
      kind: "runtime",
      message: `the protect record ${recordFile(stateDir, asset)} cannot be read: ${(error as Error).message}`,
      fix: "restore it from version control or remove it (then --undo has nothing to undo)",
    });
  }
}

/** Written under a temporary name, fsynced, renamed: a crash leaves the old record or the new one. */
async function writeRecord(stateDir: string, record: ProtectRecord): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const file = recordFile(stateDir, record.asset);
  // A failed write (a full disk) removes its temporary file and says which disk.
  await writeFileAtomic(file, JSON.stringify(record, null, 2) + "\n");
}

function boundAsset(
  assets: readonly ResolvedAsset[],
  name: string,
): ResolvedAsset & { kubernetes: NonNullable<ResolvedAsset["kubernetes"]> } {
  const asset = assets.find((a) => a.name === name);
  if (!asset) {
    throw new LifelineError({
      code: "ASSET_UNKNOWN",
      kind: "usage",
      message: `no asset named "${name}" bound to Kubernetes in lifeline.yaml`,
      fix: `add kubernetes: {namespace: …, release: …} to the asset${assets.length > 0 ? `, or use one of: ${assets.map((a) => a.name).join(", ")}` : ""}`,
    });
  }
  if (!asset.kubernetes) {
    throw new LifelineError({
      code: "ASSET_NOT_BOUND",
      kind: "usage",
      message: `asset ${name} is not bound to Kubernetes resources`,
      fix: `add to assets.${name} in lifeline.yaml: kubernetes: {namespace: shop, release: postgresql}`,
    });
  }
  return asset as ResolvedAsset & { kubernetes: NonNullable<ResolvedAsset["kubernetes"]> };
}

/** What `k8s protect` (or `--undo`) would change, read from the cluster; changes nothing. */
export async function planProtect(
  deps: K8sDeps,
  options: { assets: readonly ResolvedAsset[]; kubernetes: K8sSettings; asset: string; undo: boolean },
): Promise<{ plan: ProtectPlan; cluster: Cluster }> {
  const asset = boundAsset(options.assets, options.asset);
  const cluster = deps.cluster({
    kubeconfig: options.kubernetes.kubeconfig,
    context: asset.kubernetes.context ?? options.kubernetes.context,
  });
  const inventory = await cluster.inventory(deps.signal);
  const gap = inventory.gaps.find(
    (g) => g.resource === "persistentvolumes" || g.resource === "persistentvolumeclaims",
  );
  if (gap) {
    throw new LifelineError({
      code: "CLUSTER_UNREADABLE",
      kind: "runtime",
      message: `${gap.resource} could not be read: ${gap.reason}`,
      fix: "protect needs to list claims and volumes and patch volumes: use credentials that may",
    });
  }
  const binding = bindingsFor([asset], cluster.context)[0];
  if (!binding) {
    throw new LifelineError({
      code: "ASSET_NOT_BOUND",
      kind: "usage",
      message: `asset ${asset.name} is bound to context ${asset.kubernetes.context}, not ${cluster.context}`,
      fix: `run with --context ${asset.kubernetes.context}`,
    });
  }
  if (!options.undo) {
    const changes = protectionChanges(inventory, binding);
    const claims = boundClaims(inventory, binding).length;
    if (claims === 0) {
      throw new LifelineError({
        code: "BINDING_EMPTY",
        kind: "config",
        message: `no claim matches the binding of ${asset.name} (namespace ${binding.namespace}${binding.release ? `, release ${binding.release}` : ""}${binding.pvcSelector ? `, pvcSelector ${binding.pvcSelector}` : ""}) on context ${cluster.context}: nothing can be protected`,
        fix: `check assets.${asset.name}.kubernetes in lifeline.yaml against \`kubectl get pvc -n ${binding.namespace} --show-labels\``,
      });
    }
    return {
      plan: {
        asset: asset.name,
        context: cluster.context,
        server: cluster.server,
        undo: false,
        changes,
        alreadyRetained: Math.max(0, claims - changes.length),
        kept: [],
        alreadyBack: [],
      },
      cluster,
    };
  }
  if (!deps.stateDir) {
    throw new LifelineError({
      code: "NO_STATE",
      kind: "usage",
      message: "--undo needs the record protect wrote beside the repository, and there is no lifeline.yaml",
      fix: "run from the directory of the lifeline.yaml that protect ran with, or pass --config",
    });
  }
  const record = await readRecord(deps.stateDir, asset.name);
  const changes: ProtectChange[] = [];
  const kept: ProtectPlan["kept"] = [];
  const alreadyBack: ProtectChange[] = [];
  for (const c of record?.changes ?? []) {
    const pv = inventory.volumes.find((v) => v.name === c.volume);
    // Only what protect changed and is still as protect left it; anything else is someone's decision.
    if (!pv || pv.uid !== c.uid) {
      kept.push({ volume: c.volume, why: "it no longer exists (or is another volume now)" });
      continue;
    }
    if (pv.reclaimPolicy === c.from) {
      // Back as it was before protect: a run killed between its patch and its record, or a person.
      kept.push({ volume: c.volume, why: `already ${c.from}, as before protect: nothing to undo` });
      alreadyBack.push({ volume: c.volume, uid: c.uid, claim: c.claim, from: c.to, to: c.from });
      continue;
    }
    if (pv.reclaimPolicy !== c.to) {
      kept.push({ volume: c.volume, why: `someone set it to ${pv.reclaimPolicy} since; left alone` });
      continue;
    }
    const claimStillBound =
      pv.phase === "Bound" &&
      pv.claim !== null &&
      `${pv.claim.namespace}/${pv.claim.name}` === c.claim &&
      inventory.claims.some((x) => `${x.namespace}/${x.name}` === c.claim && x.volumeName === pv.name);
    if (!claimStillBound) {
      // A released volume with reclaim policy Delete is deleted at once: undo would destroy what protect saved.
      kept.push({
        volume: c.volume,
        why: `its claim ${c.claim} is gone (${pv.phase}): setting ${c.from} now would delete the data at once; kept with Retain`,
      });
      continue;
    }
    changes.push({ volume: c.volume, uid: c.uid, claim: c.claim, from: c.to, to: c.from });
  }
  return {
    plan: {
      asset: asset.name,
      context: cluster.context,
      server: cluster.server,
      undo: true,
      changes,
      alreadyRetained: 0,
      kept,
      alreadyBack,
    },
    cluster,
  };
}

/**
 * Applies a protect plan volume by volume, recording each change as soon as it is made, so an
 * interruption leaves an exact record of what to undo. Only protects: putting a volume back to
 * Delete removes a protection (on production, what the admission webhook denies to kubectl), so
 * it goes through the gate (unprotect in k8s-unprotect.ts), never through here.
 */
export async function applyProtect(
  deps: K8sDeps,
  plan: ProtectPlan,
  cluster: Cluster,
): Promise<ProtectChange[]> {
  if (plan.undo || plan.changes.some((c) => c.to !== "Retain")) {
    throw new LifelineError({
      code: "UNPROTECT_UNGATED",
      kind: "usage",
      message: `putting back the reclaim policies of ${plan.asset} removes a protection and goes through the gate`,
      fix: `lifeline k8s protect ${plan.asset} --undo (plans each volume, and needs what the policy asks)`,
    });
  }
  const done: ProtectChange[] = [];
  for (const change of plan.changes) {
    if (deps.signal.aborted) break;
    await cluster.setReclaimPolicy(change.volume, change.from, change.to, deps.signal);
    done.push(change);
    await recordProtectChange(deps.stateDir, plan, change, "protected");
  }
  return done;
}

/**
 * Keeps the record of what protect changed true after one volume changed: a protected volume is
 * added (with the policy it had), a volume put back is forgotten. Changes nothing in the cluster.
 */
export async function recordProtectChange(
  stateDir: string | null,
  plan: Pick<ProtectPlan, "asset" | "context">,
  change: ProtectChange,
  what: "protected" | "put back",
): Promise<void> {
  if (!stateDir) return;
  // Read, changed and written under a lock: two runs at once (two --undo) each keep the other's change.
  const lock = `${recordFile(stateDir, plan.asset)}.lock`;
  const updated = await withFileLock(lock, async () => {
    const record: ProtectRecord = (await readRecord(stateDir, plan.asset)) ?? {
      asset: plan.asset,
      context: plan.context,
      changes: [],
    };
    record.changes = record.changes.filter((c) => c.volume !== change.volume);
    if (what === "protected") record.changes.push({ ...change, at: new Date().toISOString() });
    if (record.changes.length === 0) await rm(recordFile(stateDir, plan.asset), { force: true });
    else await writeRecord(stateDir, record);
    return true;
  });
  if (updated === undefined) {
    throw new LifelineError({
      code: "STATE_BUSY",
      kind: "runtime",
      message: `the protect record ${recordFile(stateDir, plan.asset)} stayed locked by another lifeline process for 10 s: volume ${change.volume} was ${what} but is not recorded`,
      fix: `let the other run finish (or remove ${lock} if no lifeline is running), then run the command again: it sees the volume as it is`,
    });
  }
}
