/**
 * Posture of a cluster's data: where a single `kubectl delete` or `helm uninstall` would destroy
 * data for good, and what is left behind. Pure: works on an inventory.
 */
import type { AssetBinding } from "./binding.js";
import { bindingCovers, goneClaim } from "./binding.js";
import type { Inventory, PersistentVolume, PersistentVolumeClaim } from "./inventory.js";
import { qualified } from "./inventory.js";

export type Severity = "high" | "medium" | "low";

export interface Finding {
  severity: Severity;
  /** Stable code for scripts: reclaim-delete, orphaned-claims, … */
  code: string;
  namespace: string | null;
  asset: string | null;
  message: string;
  fix: string | null;
}

/** The claims an asset's binding covers, with their volumes. */
export function boundClaims(
  inv: Inventory,
  binding: AssetBinding,
): { claim: PersistentVolumeClaim; volume: PersistentVolume | null }[] {
  return inv.claims
    .filter((c) => bindingCovers(binding, c))
    .map((claim) => ({ claim, volume: inv.volumes.find((v) => v.name === claim.volumeName) ?? null }))
    .sort((a, b) => qualified(a.claim).localeCompare(qualified(b.claim)));
}

/** What `k8s protect` changes: the asset's volumes that do not reclaim with Retain. */
export function protectionChanges(
  inv: Inventory,
  binding: AssetBinding,
): { volume: string; uid: string; claim: string; from: string; to: "Retain" }[] {
  return boundClaims(inv, binding)
    .filter((x): x is { claim: PersistentVolumeClaim; volume: PersistentVolume } => x.volume !== null)
    .filter((x) => x.volume.reclaimPolicy !== "Retain")
    .map((x) => ({
      volume: x.volume.name,
      uid: x.volume.uid,
      claim: qualified(x.claim),
      from: x.volume.reclaimPolicy,
      to: "Retain" as const,
    }));
}

export function scanInventory(
  inv: Inventory,
  bindings: readonly AssetBinding[],
  namespace: string | null,
): Finding[] {
  const findings: Finding[] = [];
  const inScope = (ns: string | null) => namespace === null || ns === namespace;
  const assetOf = (claim: PersistentVolumeClaim) =>
    bindings.find((b) => bindingCovers(b, claim))?.asset ?? null;

  for (const gap of inv.gaps) {
    if (!inScope(gap.namespace)) continue;
    findings.push({
      severity: gap.required ? "high" : "low",
      code: "unreadable",
      namespace: gap.namespace,
      asset: null,
      message: `${gap.resource} could not be read: ${gap.reason}${gap.required ? "; plans that depend on it fail closed" : ""}`,
      fix: "grant list/get on it to these credentials",
    });
  }

  for (const claim of inv.claims.filter((c) => inScope(c.namespace))) {
    const pv = inv.volumes.find((v) => v.name === claim.volumeName);
    if (!pv || pv.reclaimPolicy === "Retain") continue;
    const asset = assetOf(claim);
    const snapshot = inv.snapshots.find(
      (s) => s.namespace === claim.namespace && s.claim === claim.name && s.ready,
    );
    findings.push({
      severity: snapshot ? "medium" : "high",
      code: "reclaim-delete",
      namespace: claim.namespace,
      asset,
      message:
        `PV ${pv.name} bound to ${claim.name}${asset ? ` (asset ${asset})` : ""} reclaims with ${pv.reclaimPolicy}: deleting the claim destroys the data` +
        (snapshot
          ? ` (VolumeSnapshot ${snapshot.name} is ready${snapshot.createdAt ? `, from ${snapshot.createdAt}` : ""})`
          : ""),
      fix: asset
        ? `lifeline k8s protect ${asset}`
        : `kubectl patch pv ${pv.name} -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'`,
    });
  }

  // Volumes whose claim is gone (deleted while they reclaimed with Retain): the data is still there,
  // attributed to the asset its claim was (see goneClaim). Arming one (Delete) deletes it at once.
  for (const pv of inv.volumes) {
    const ref = pv.claim;
    if (pv.phase !== "Released" || !ref || !inScope(ref.namespace)) continue;
    if (inv.claims.some((c) => c.namespace === ref.namespace && c.name === ref.name)) continue;
    const asset = bindings.find((b) => goneClaim(b, ref))?.asset ?? null;
    findings.push({
      severity: "low",
      code: "released-volume",
      namespace: ref.namespace,
      asset,
      message: `PV ${pv.name} is Released: its claim ${ref.name}${asset ? ` (asset ${asset})` : ""} is gone, its data (${pv.source}) stays until someone deletes the volume; setting its reclaim policy to Delete deletes it at once`,
      fix: `keep it while the data may be needed; to delete it, plan it: lifeline plan -- kubectl delete pv ${pv.name}`,
    });
  }

  // Claims labelled for a Helm release that no longer exists, and that no pod uses.
  const last = new Map<string, string>();
  for (const r of [...inv.releases].sort((a, b) => a.revision - b.revision)) {
    last.set(`${r.namespace}/${r.name}`, r.status);
  }
  const releases = new Set([...last].filter(([, status]) => status !== "uninstalled").map(([key]) => key));
  const left = new Map<string, PersistentVolumeClaim[]>();
  for (const claim of inv.claims.filter((c) => inScope(c.namespace))) {
    const instance = claim.labels["app.kubernetes.io/instance"] ?? claim.labels.release;
    if (!instance || releases.has(`${claim.namespace}/${instance}`)) continue;
    if (inv.pods.some((p) => p.namespace === claim.namespace && p.spec.claims.includes(claim.name))) continue;
    const key = `${claim.namespace}/${instance}`;
    left.set(key, [...(left.get(key) ?? []), claim]);
  }
  for (const [key, claims] of left) {
    const [ns, release] = key.split("/");
    const bytes = claims.reduce((sum, c) => sum + (c.bytes ?? 0), 0);
    findings.push({
      severity: "medium",
      code: "orphaned-claims",
      namespace: ns ?? null,
      asset: claims.map(assetOf).find((a) => a !== null) ?? null,
      message: `PVCs left by uninstalled release ${release}: ${claims.map((c) => c.name).join(", ")} (${Math.round(bytes / 2 ** 30)} GiB, no pod uses them)`,
      fix: `keep them if the data matters (a reinstall of ${release} reuses them with the old credentials), else plan their deletion: lifeline plan -- kubectl delete pvc ${claims.map((c) => c.name).join(" ")} -n ${ns}`,
    });
  }

  for (const sts of inv.workloads.filter((w) => w.kind === "StatefulSet" && inScope(w.namespace))) {
    if (sts.retention?.whenDeleted === "Delete" || sts.retention?.whenScaled === "Delete") {
      findings.push({
        severity: "medium",
        code: "retention-delete",
        namespace: sts.namespace,
        asset: null,
        message: `StatefulSet ${sts.name} deletes its claims when ${sts.retention.whenDeleted === "Delete" ? "deleted" : "scaled down"} (persistentVolumeClaimRetentionPolicy)`,
        fix: `set spec.persistentVolumeClaimRetentionPolicy to Retain in its chart or manifest`,
      });
    }
  }

  if (namespace === null) {
    for (const sc of inv.storageClasses.filter((s) => s.isDefault && s.reclaimPolicy !== "Retain")) {
      findings.push({
        severity: "low",
        code: "default-class-delete",
        namespace: null,
        asset: null,
        message: `the default StorageClass ${sc.name} reclaims with ${sc.reclaimPolicy}: every new claim's data goes with its claim`,
        fix: "use a StorageClass with reclaimPolicy: Retain for data that matters",
      });
    }
  }

  for (const b of bindings.filter((x) => inScope(x.namespace))) {
    if (boundClaims(inv, b).length === 0) {
      findings.push({
        severity: "medium",
        code: "binding-empty",
        namespace: b.namespace,
        asset: b.asset,
        message: `asset ${b.asset} is bound to namespace ${b.namespace}${b.release ? `, release ${b.release}` : ""}${b.pvcSelector ? `, claims ${b.pvcSelector}` : ""}, but no claim matches`,
        fix: `check assets.${b.asset}.kubernetes in lifeline.yaml against \`kubectl get pvc -n ${b.namespace} --show-labels\``,
      });
    }
  }
  const order: Severity[] = ["high", "medium", "low"];
  return findings.sort(
    (a, b) =>
      order.indexOf(a.severity) - order.indexOf(b.severity) ||
      (a.namespace ?? "").localeCompare(b.namespace ?? "") ||
      a.message.localeCompare(b.message),
  );
}
