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

/**
 * Whether a volume whose claim is gone (Released after its claim was deleted with Retain, or a
 * claimRef naming a claim that no longer exists) held the asset's data. Only the claimRef is left
 * (the claim's namespace and name; its labels went with it), so the evidence is its namespace and,
 * for a binding with a release, the claim's name carrying the release as whole dash-separated parts
 * (`data-postgresql-primary-0` for release `postgresql`: Helm charts name their claims after the
 * release). A pvcSelector cannot be checked on labels that are gone: namespace and release decide.
 * The analysis keeps judging such a volume as data no asset is bound to as well (see analyze.ts):
 * attributing it only adds the asset's requirements.
 */
export function goneClaim(b: AssetBinding, claimRef: { namespace: string; name: string }): boolean {
  if (claimRef.namespace !== b.namespace) return false;
  if (!b.release) return true;
  return `-${claimRef.name}-`.includes(`-${b.release}-`);
}
