import type { Meta } from "./inventory.js";
import { matchesSelector } from "./selector.js";

/** How lifeline.yaml binds an asset to Kubernetes resources. */
export interface AssetBinding {
  asset: string;
  namespace: string;
  release: string | null;
  pvcSelector: string | null;
}

function releaseOf(meta: Meta): string | undefined {
  return (
    meta.labels["app.kubernetes.io/instance"] ??
    meta.annotations["meta.helm.sh/release-name"] ??
    meta.labels.release
  );
}

/** Whether a claim holds the asset's data: its namespace, its release label, its pvcSelector. */
export function bindingCovers(b: AssetBinding, claim: Meta): boolean {
  if (claim.namespace !== b.namespace) return false;
  if (b.release && releaseOf(claim) !== b.release) return false;
  if (b.pvcSelector) {
    try {
      return matchesSelector(b.pvcSelector, claim.labels);
    } catch {
      return false;
    }
  }
  return true;
}

/** Whether another object (a StatefulSet, a Secret) belongs to the asset's namespace and release. */
export function bindingTouches(b: AssetBinding, meta: Meta): boolean {
  return meta.namespace === b.namespace && (b.release === null || releaseOf(meta) === b.release);
}
