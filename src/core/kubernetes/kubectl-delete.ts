/** `kubectl delete`: by name, by selector, with `--all`, or from manifests (`-f`). */
import type { KubectlCommand, ResourceKind } from "./command/index.js";
import { namespaceFor, type Analyzer } from "./context.js";
import {
  deleteClaim,
  deleteConfig,
  deleteNamespace,
  deletePod,
  deleteService,
  deleteVolume,
  deleteWorkload,
} from "./deletion.js";
import type { ConfigData, Meta, PersistentVolumeClaim, Pod, Service, Workload } from "./inventory.js";
import { affected, missing, outcome, unresolved, type Outcome, type Step } from "./outcome.js";
import { CLUSTER_SCOPED, DISPLAY, resourceOfKind } from "./resources.js";
import { inNamespace } from "./lookup.js";
import { SelectorError, matchesRequirements, matchesSelector, parseSelector } from "./selector.js";

/** A resource named in a manifest given with `kubectl delete -f`. */
export interface ManifestResource {
  kind: string;
  name: string;
  namespace: string | null;
  file: string;
}

function listed(
  a: Analyzer,
  resource: ResourceKind,
  namespace: string | null,
): (Meta & { __kind?: string })[] {
  const inv = a.inv;
  const inNs = <T extends Meta>(list: T[]) => (namespace === null ? list : inNamespace(list, namespace));
  switch (resource) {
    case "persistentvolumeclaims":
      return inNs(inv.claims);
    case "persistentvolumes":
      return inv.volumes;
    case "statefulsets":
      return inNs(inv.workloads.filter((w) => w.kind === "StatefulSet"));
    case "deployments":
      return inNs(inv.workloads.filter((w) => w.kind === "Deployment"));
    case "daemonsets":
      return inNs(inv.workloads.filter((w) => w.kind === "DaemonSet"));
    case "replicasets":
      return inNs(inv.workloads.filter((w) => w.kind === "ReplicaSet"));
    case "jobs":
      return inNs(inv.workloads.filter((w) => w.kind === "Job"));
    case "cronjobs":
      return inNs(inv.workloads.filter((w) => w.kind === "CronJob"));
    case "pods":
      return inNs(inv.pods);
    case "namespaces":
      return inv.namespaces;
    case "secrets":
      return inNs(inv.configs.filter((c) => c.kind === "Secret"));
    case "configmaps":
      return inNs(inv.configs.filter((c) => c.kind === "ConfigMap"));
    case "services":
      return inNs(inv.services);
    case "nodes":
      return inv.nodes;
    case "storageclasses":
      return inv.storageClasses;
    case "volumesnapshots":
      return inNs(inv.snapshots);
  }
}

function deleteOne(a: Analyzer, resource: ResourceKind, meta: Meta, cmd: KubectlCommand): Outcome {
  const how = "deleted";
  const inv = a.inv;
  switch (resource) {
    case "persistentvolumeclaims":
      return deleteClaim(a, meta as PersistentVolumeClaim, how);
    case "persistentvolumes":
      return deleteVolume(a, meta.name, how);
    case "statefulsets":
    case "deployments":
    case "daemonsets":
    case "replicasets":
    case "jobs":
    case "cronjobs":
      return deleteWorkload(a, meta as Workload, how, cmd.cascade === "orphan");
    case "pods":
      return deletePod(a, meta as Pod, how);
    case "namespaces":
      return deleteNamespace(a, meta.name);
    case "secrets":
    case "configmaps":
      return deleteConfig(a, meta as ConfigData, how);
    case "services":
      return deleteService(a, meta as Service, how);
    case "volumesnapshots":
      return outcome({
        dataLoss: "destructive",
        reason:
          "the snapshot is deleted (with its content, unless its class's deletionPolicy is Retain): it can no longer restore its claim",
        resolved: affected("volumesnapshot", meta, "destructive", how),
        deleted: [meta.uid],
        touches: [meta],
      });
    case "nodes":
    case "storageclasses":
      return outcome({
        dataLoss: "recoverable",
        reason: `the ${DISPLAY[resource]} object is removed; no data is deleted with it${resource === "nodes" ? " (its pods are rescheduled)" : ""}`,
        resolved: affected(DISPLAY[resource], meta, "recoverable", how),
        pods: resource === "nodes" ? inv.pods.filter((p) => p.nodeName === meta.name) : [],
        deleted: [meta.uid],
        touches: [meta],
      });
  }
}

export function kubectlDelete(
  a: Analyzer,
  cmd: KubectlCommand,
  manifests: readonly ManifestResource[],
): Step[] {
  const steps: Step[] = [];
  const ns = cmd.allNamespaces ? null : namespaceFor(cmd, a.inv);
  const targets: {
    resource: ResourceKind | null;
    typed: string;
    name: string | null;
    namespace: string | null;
  }[] = [
    ...cmd.targets.map((t) => ({ ...t, namespace: ns })),
    ...manifests.map((m) => ({
      resource: resourceOfKind(m.kind),
      typed: m.kind,
      name: m.name,
      namespace: m.namespace ?? namespaceFor(cmd, a.inv),
    })),
  ];
  for (const file of cmd.files.filter((f) => f === "-" || /^https?:\/\//i.test(f))) {
    steps.push(
      unresolved(
        "unknown",
        "unknown",
        `lifeline does not read ${file === "-" ? "standard input" : file}: what it deletes is unknown`,
      ),
    );
  }
  if (cmd.files.length > 0 && manifests.length === 0 && steps.length === 0) {
    steps.push(
      unresolved(
        "unknown",
        "unknown",
        `the manifests ${cmd.files.join(", ")} could not be read or name no resources: what they delete is unknown`,
      ),
    );
  }
  if (cmd.kustomize) {
    steps.push(
      unresolved(
        "unknown",
        "unknown",
        `lifeline does not render kustomizations (-k ${cmd.kustomize}): what it deletes is unknown`,
      ),
    );
  }
  let requirements: ReturnType<typeof parseSelector> | null = null;
  if (cmd.selector) {
    try {
      requirements = parseSelector(cmd.selector);
    } catch (error) {
      steps.push(
        unresolved("unknown", "unknown", error instanceof SelectorError ? error.message : String(error)),
      );
      return steps;
    }
  }
  for (const t of targets) {
    if (!t.resource) {
      steps.push({
        kind: "unknown",
        target: { type: t.typed, namespace: t.namespace, name: t.name ?? cmd.selector ?? "(all)" },
        outcome: outcome({
          dataLoss: "unknown",
          reason: `lifeline does not know what deleting a "${t.typed}" destroys: treated as destructive`,
        }),
      });
      continue;
    }
    const resource = t.resource;
    const scopedNs = CLUSTER_SCOPED.has(resource) ? null : t.namespace;
    const kind = `delete-${DISPLAY[resource]}`;
    const gap = a.gapFor(resource, scopedNs);
    if (gap) {
      a.gaps.push(gap);
      steps.push({
        kind,
        target: { type: DISPLAY[resource], namespace: scopedNs, name: t.name ?? cmd.selector ?? "(all)" },
        outcome: outcome({
          dataLoss: "unknown",
          reason: `${gap}: what this deletes is unknown, treated as destructive`,
        }),
      });
      continue;
    }
    const candidates = listed(a, resource, scopedNs);
    let matched: Meta[];
    if (t.name !== null) {
      matched = candidates.filter((m) => m.name === t.name);
      if (matched.length === 0) {
        steps.push({
          kind,
          target: { type: DISPLAY[resource], namespace: scopedNs, name: t.name },
          outcome: cmd.ignoreNotFound
            ? outcome({
                dataLoss: "none",
                reason: `${DISPLAY[resource]} ${t.name} does not exist (--ignore-not-found): nothing happens`,
              })
            : missing(DISPLAY[resource], scopedNs, t.name),
          missingOk: cmd.ignoreNotFound,
        });
        continue;
      }
    } else {
      matched = candidates.filter((m) =>
        requirements ? matchesRequirements(requirements, m.labels) : cmd.all,
      );
      if (cmd.fieldSelector) {
        steps.push(
          unresolved(
            "unknown",
            "unknown",
            `lifeline does not evaluate --field-selector ${cmd.fieldSelector}: what it matches is unknown`,
          ),
        );
        continue;
      }
      if (matched.length === 0) {
        steps.push({
          kind,
          target: { type: DISPLAY[resource], namespace: scopedNs, name: cmd.selector ?? "(all)" },
          outcome: outcome({
            dataLoss: "none",
            reason: `no ${DISPLAY[resource]} matches ${cmd.selector ? `-l ${cmd.selector}` : "--all"}${scopedNs ? ` in ${scopedNs}` : ""}: nothing is deleted`,
          }),
        });
        continue;
      }
    }
    for (const m of matched) {
      steps.push({
        kind,
        target: { type: DISPLAY[resource], namespace: m.namespace, name: m.name },
        outcome: deleteOne(a, resource, m, cmd),
        missingOk: cmd.ignoreNotFound,
      });
    }
  }
  return steps;
}

/** Snapshots a `kubectl delete` removes itself: by name, by selector, or with their namespace. */
export function doomedSnapshots(
  a: Analyzer,
  cmd: KubectlCommand,
  manifests: readonly ManifestResource[],
): Set<string> {
  const out = new Set<string>();
  const ns = cmd.allNamespaces ? null : namespaceFor(cmd, a.inv);
  for (const t of cmd.targets) {
    if (t.resource === "namespaces") {
      for (const s of a.inv.snapshots) if (t.name !== null ? s.namespace === t.name : cmd.all) out.add(s.uid);
    }
    if (t.resource === "volumesnapshots") {
      for (const s of a.inv.snapshots) {
        if (ns !== null && s.namespace !== ns) continue;
        if (
          t.name !== null
            ? s.name === t.name
            : cmd.all || (cmd.selector !== null && safeMatch(cmd.selector, s.labels))
        )
          out.add(s.uid);
      }
    }
  }
  for (const m of manifests) {
    if (m.kind === "Namespace") for (const s of a.inv.snapshots) if (s.namespace === m.name) out.add(s.uid);
    if (m.kind === "VolumeSnapshot") {
      for (const s of a.inv.snapshots)
        if (s.name === m.name && s.namespace === (m.namespace ?? namespaceFor(cmd, a.inv))) out.add(s.uid);
    }
  }
  return out;
}

function safeMatch(selector: string, labels: Record<string, string>): boolean {
  try {
    return matchesSelector(selector, labels);
  } catch {
    return false;
  }
}
