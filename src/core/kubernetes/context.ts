/**
 * One analysis of a command: the inventory it is planned against, the facts found missing so far,
 * and the lookups every command shares (a workload's pods and claims, a release's live revision).
 */
import type { KubectlCommand } from "./command/index.js";
import type { HelmRelease, Inventory, Meta, PersistentVolumeClaim, Pod, Workload } from "./inventory.js";
import { inNamespace } from "./lookup.js";
import { matchesSelector } from "./selector.js";

/** The state of one analysis, passed to every step of the planner. */
export class Analyzer {
  /** Snapshots the command itself deletes: they cannot bring a claim back. */
  doomedSnapshots = new Set<string>();

  constructor(
    readonly inv: Inventory,
    readonly gaps: string[],
  ) {}

  /** Why the inventory could not read this resource (in this namespace), if it could not. */
  gapFor(resource: string, namespace: string | null): string | null {
    const g = this.inv.gaps.find(
      (x) =>
        x.resource === resource && (x.namespace === null || namespace === null || x.namespace === namespace),
    );
    return g ? `${resource}${g.namespace ? ` in ${g.namespace}` : ""} could not be read: ${g.reason}` : null;
  }

  podsOf(w: Workload): Pod[] {
    return inNamespace(this.inv.pods, w.namespace ?? "").filter(
      (p) =>
        p.namespace === w.namespace &&
        (p.owners.some((o) => o.uid === w.uid) ||
          (w.kind !== "StatefulSet" && w.selector !== null && this.selects(w.selector, p))),
    );
  }

  private selects(selector: string, pod: Pod): boolean {
    try {
      return matchesSelector(selector, pod.spec.labels);
    } catch {
      return false;
    }
  }

  /** Claims created from a StatefulSet's volumeClaimTemplates: <template>-<set>-<ordinal>. */
  claimsOf(sts: Workload): { claim: PersistentVolumeClaim; ordinal: number }[] {
    const out: { claim: PersistentVolumeClaim; ordinal: number }[] = [];
    for (const c of this.inv.claims) {
      if (c.namespace !== sts.namespace) continue;
      for (const t of sts.claimTemplates) {
        const prefix = `${t}-${sts.name}-`;
        if (c.name.startsWith(prefix) && /^[0-9]+$/.test(c.name.slice(prefix.length))) {
          out.push({ claim: c, ordinal: Number(c.name.slice(prefix.length)) });
        }
      }
    }
    return out.sort((a, b) => a.claim.name.localeCompare(b.claim.name));
  }

  /** The release as Helm sees it: its last revision, whatever its status; none once uninstalled. */
  currentRelease(name: string, namespace: string): HelmRelease | undefined {
    const last = this.inv.releases
      .filter((r) => r.name === name && r.namespace === namespace)
      .sort((a, b) => b.revision - a.revision)[0];
    return last && last.status !== "uninstalled" ? last : undefined;
  }

  /** The current release whose manifest renders this object, if any. */
  releaseOf(kind: string, meta: Pick<Meta, "name" | "namespace">): HelmRelease | undefined {
    const names = new Set(this.inv.releases.map((r) => `${r.namespace}/${r.name}`));
    for (const key of names) {
      const [ns, name] = key.split("/") as [string, string];
      const rel = this.currentRelease(name, ns);
      if (
        rel?.resources.some(
          (r) => r.kind === kind && r.name === meta.name && (r.namespace ?? rel.namespace) === meta.namespace,
        )
      ) {
        return rel;
      }
    }
    return undefined;
  }
}

/** The namespace a namespaced kubectl command acts in: -n, or the context's default. */
export function namespaceFor(cmd: KubectlCommand, inv: Inventory): string {
  return cmd.namespace ?? inv.defaultNamespace;
}
