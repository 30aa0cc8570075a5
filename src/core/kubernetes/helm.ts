/** helm: uninstall, upgrade and rollback, decided from the release records in the inventory. */
import type { HelmCommand } from "./command/index.js";
import type { Analyzer } from "./context.js";
import { deleteClaim, deleteConfig, deleteService, deleteWorkload } from "./deletion.js";
import { claimNamed } from "./lookup.js";
import type { HelmRelease, PersistentVolumeClaim, ReleaseResource } from "./inventory.js";
import { affected, merge, outcome, unresolved, type Outcome, type Step } from "./outcome.js";

const HELM_READS = new Set([
  "list",
  "ls",
  "status",
  "history",
  "hist",
  "get",
  "show",
  "inspect",
  "template",
  "search",
  "repo",
  "version",
  "env",
  "lint",
  "verify",
  "dependency",
  "dep",
  "completion",
  "help",
]);

/** Resolves a resource of a release manifest to the live object. */
function releaseObject(a: Analyzer, res: ReleaseResource, ns: string): Outcome | null {
  const namespace = res.namespace ?? ns;
  const how = "deleted with the release";
  switch (res.kind) {
    case "PersistentVolumeClaim": {
      const c = claimNamed(a.inv.claims, namespace, res.name);
      return c ? deleteClaim(a, c, how) : null;
    }
    case "StatefulSet":
    case "Deployment":
    case "DaemonSet":
    case "CronJob":
    case "Job": {
      const w = a.inv.workloads.find(
        (x) => x.kind === res.kind && x.namespace === namespace && x.name === res.name,
      );
      return w
        ? deleteWorkload(
            a,
            w,
            how,
            false,
            "helm does not delete claims created from volumeClaimTemplates: they stay, holding the data",
          )
        : null;
    }
    case "Secret":
    case "ConfigMap": {
      const c = a.inv.configs.find(
        (x) => x.kind === res.kind && x.namespace === namespace && x.name === res.name,
      );
      return c ? deleteConfig(a, c, how) : null;
    }
    case "Service": {
      const s = a.inv.services.find((x) => x.namespace === namespace && x.name === res.name);
      return s ? deleteService(a, s, how) : null;
    }
    default:
      return null;
  }
}

/** What `helm uninstall` deletes: the release's resources (not those it keeps) and, without --keep-history, its history. */
function uninstallRelease(a: Analyzer, rel: HelmRelease, keepHistory: boolean): Outcome {
  const result = outcome({
    dataLoss: "recoverable",
    reason: `the ${rel.resources.length} resources of release ${rel.name} (chart ${rel.chart}-${rel.chartVersion}) are deleted`,
    resolved: affected(
      "helm-release",
      { name: rel.name, namespace: rel.namespace, uid: `${rel.recordSecret}` },
      "recoverable",
      "uninstalled",
      null,
      `${rel.name}@${rel.revision}`,
    ),
  });
  const leftClaims: string[] = [];
  const keptByPolicy = rel.resources.filter((r) => r.keep).map((r) => `${r.kind} ${r.name}`);
  if (keptByPolicy.length > 0) {
    result.notes.push(`kept by helm.sh/resource-policy: keep: ${keptByPolicy.join(", ")}`);
  }
  for (const res of rel.resources.filter((r) => !r.keep)) {
    const part = releaseObject(a, res, rel.namespace);
    if (!part) continue;
    // Secrets the release rendered go with its record unless --keep-history.
    if (res.kind === "Secret" && part.resolved) {
      part.resolved.how = keepHistory
        ? "deleted (kept in the release history: --keep-history)"
        : "deleted with the release and its history";
      if (!keepHistory) {
        part.dataLoss = "destructive";
        part.resolved.dataLoss = "destructive";
        part.notes.push(
          `secret ${res.name} may hold credentials the data in the claims was initialised with; a new install generates new ones that will not match. Save it: kubectl get secret ${res.name} -n ${rel.namespace} -o yaml > ${res.name}-secret.yaml`,
        );
      }
    }
    if (res.kind === "StatefulSet") {
      const sts = a.inv.workloads.find(
        (w) => w.kind === "StatefulSet" && w.namespace === rel.namespace && w.name === res.name,
      );
      if (sts && sts.retention?.whenDeleted !== "Delete")
        leftClaims.push(...a.claimsOf(sts).map((c) => c.claim.name));
    }
    merge(result, part);
  }
  if (leftClaims.length > 0) {
    result.notes = result.notes.filter((n) => !n.startsWith("claims "));
    result.notes.unshift(
      `claims ${leftClaims.join(", ")} stay: helm does not delete claims created from volumeClaimTemplates. A later install reuses them with the data and the OLD credentials`,
    );
  }
  const destroyed = result.cascade
    .filter((c) => c.dataLoss === "destructive" && c.type === "secret")
    .map((c) => c.name);
  if (destroyed.length > 0) {
    result.reason += `; ${destroyed.map((n) => `secret ${n}`).join(", ")} and the release history are destroyed for good`;
  }
  if (leftClaims.length > 0) result.reason += `; its claims stay`;
  if (!keepHistory)
    result.notes.push(
      `the release history (${rel.recordSecret.replace(/\.v[0-9]+$/, ".v*")}) is deleted: no rollback afterwards; --keep-history keeps it`,
    );
  return result;
}

export function helmSteps(a: Analyzer, cmd: HelmCommand): Step[] {
  const ns = cmd.namespace ?? a.inv.defaultNamespace;
  if (HELM_READS.has(cmd.verb)) {
    return [unresolved("read", "none", `helm ${cmd.verb} only reads`)];
  }
  if (cmd.dryRun) {
    return [unresolved(`helm-${cmd.verb}-dry-run`, "none", "--dry-run: helm only renders; nothing changes")];
  }
  const gap = a.gapFor("secrets", ns);
  if (gap && (cmd.verb === "uninstall" || cmd.verb === "upgrade" || cmd.verb === "rollback")) {
    a.gaps.push(gap);
    return [
      {
        kind: `helm-${cmd.verb}`,
        target: { type: "helm-release", namespace: ns, name: cmd.releases.join(",") },
        outcome: outcome({
          dataLoss: "unknown",
          reason: `Helm's release records could not be read (${gap}): what the release contains is unknown`,
        }),
      },
    ];
  }
  switch (cmd.verb) {
    case "uninstall":
      return cmd.releases.map((name): Step => {
        const target = { type: "helm-release", namespace: ns, name };
        const rel = a.currentRelease(name, ns);
        if (!rel) {
          return {
            kind: "helm-uninstall",
            target,
            outcome: outcome({
              dataLoss: "none",
              reason: `release ${name} is not installed in namespace ${ns}: helm will fail and change nothing`,
            }),
          };
        }
        return { kind: "helm-uninstall", target, outcome: uninstallRelease(a, rel, cmd.keepHistory) };
      });
    case "upgrade": {
      const name = cmd.releases[0] ?? "";
      const target = { type: "helm-release", namespace: ns, name };
      const rel = a.currentRelease(name, ns);
      if (!rel) {
        return [
          {
            kind: cmd.install ? "helm-install" : "helm-upgrade",
            target,
            outcome: cmd.install
              ? outcome({
                  dataLoss: "none",
                  reason: `release ${name} is not installed: --install creates it; nothing existing is changed`,
                })
              : outcome({
                  dataLoss: "none",
                  reason: `release ${name} is not installed in ${ns}: helm will fail (use --install to create it)`,
                }),
          },
        ];
      }
      const result = outcome({
        dataLoss: "unknown",
        reason: `lifeline does not render charts: upgrading ${rel.name} (now ${rel.chart}-${rel.chartVersion}, revision ${rel.revision}) to ${cmd.chart ?? "?"}${cmd.version ? ` ${cmd.version}` : ""} may change or delete any of its ${rel.resources.length} resources`,
        resolved: affected(
          "helm-release",
          { name: rel.name, namespace: rel.namespace, uid: rel.recordSecret },
          "unknown",
          "upgraded",
          null,
          `${rel.name}@${rel.revision}`,
        ),
      });
      const claims: PersistentVolumeClaim[] = [];
      for (const res of rel.resources.filter((r) => r.kind === "StatefulSet")) {
        const sts = a.inv.workloads.find(
          (w) => w.kind === "StatefulSet" && w.namespace === rel.namespace && w.name === res.name,
        );
        if (sts) claims.push(...a.claimsOf(sts).map((c) => c.claim));
      }
      for (const c of claims) {
        const part = deleteClaim(
          a,
          c,
          "kept across the upgrade, with the data written under the current credentials",
        );
        if (part.resolved) part.resolved.dataLoss = "none";
        part.cascade.forEach((x) => (x.dataLoss = "none"));
        part.notes = [];
        part.deleted = [];
        merge(result, { ...part, dataLoss: "none" });
      }
      const credentialKeys = cmd.set
        .filter((s) => /pass|auth|secret|credential|token|key/i.test(s.key))
        .map((s) => s.key);
      if (claims.length > 0) {
        result.notes.push(
          credentialKeys.length > 0
            ? `${credentialKeys.join(", ")} change credentials, but claims ${claims.map((c) => c.name).join(", ")} keep the data initialised with the old ones: the database will not accept the new credentials (charts do not change passwords inside existing data)`
            : `claims ${claims.map((c) => c.name).join(", ")} keep their data across the upgrade; if the upgrade changes or regenerates credentials (e.g. no --reuse-values and generated passwords), the data in them will not match`,
        );
      }
      return [{ kind: "helm-upgrade", target, outcome: result }];
    }
    case "rollback": {
      const name = cmd.releases[0] ?? "";
      const target = { type: "helm-release", namespace: ns, name };
      const rel = a.currentRelease(name, ns);
      if (!rel) {
        return [
          {
            kind: "helm-rollback",
            target,
            outcome: outcome({
              dataLoss: "none",
              reason: `release ${name} is not installed in ${ns}: helm will fail`,
            }),
          },
        ];
      }
      const revision = cmd.revision && cmd.revision > 0 ? cmd.revision : rel.revision - 1;
      const to = a.inv.releases.find((r) => r.name === name && r.namespace === ns && r.revision === revision);
      if (!to) {
        return [
          {
            kind: "helm-rollback",
            target,
            outcome: outcome({
              dataLoss: "unknown",
              reason: `revision ${revision} of release ${name} was not found: what the rollback changes is unknown`,
            }),
          },
        ];
      }
      const key = (r: ReleaseResource) => `${r.kind}/${r.namespace ?? ns}/${r.name}`;
      const kept = new Set(to.resources.map(key));
      const removed = rel.resources.filter((r) => !kept.has(key(r)));
      const result = outcome({
        dataLoss: "recoverable",
        reason: `re-applies revision ${revision} (${to.chart}-${to.chartVersion}) of ${name} over revision ${rel.revision}; ${removed.length === 0 ? "no resource is removed" : `${removed.length} resource(s) only in revision ${rel.revision} are deleted`}`,
        resolved: affected(
          "helm-release",
          { name, namespace: ns, uid: rel.recordSecret },
          "recoverable",
          `rolled back to ${revision}`,
          null,
          `${name}@${rel.revision}->${revision}`,
        ),
      });
      for (const res of removed) {
        const obj = releaseObject(a, res, ns);
        if (obj) merge(result, obj);
      }
      return [{ kind: "helm-rollback", target, outcome: result }];
    }
    case "install":
      return [
        unresolved("helm-install", "none", "helm install creates resources; nothing existing is deleted"),
      ];
    default:
      return [
        unresolved("unknown", "unknown", `lifeline does not model helm ${cmd.verb}: treated as destructive`),
      ];
  }
}
