/** kubectl commands that change objects without deleting them by name: scale, patch, drain. */
import type { KubectlCommand, ResourceKind } from "./command/index.js";
import { namespaceFor, type Analyzer } from "./context.js";
import { deleteClaim } from "./deletion.js";
import type { Meta, Workload } from "./inventory.js";
import { qualified } from "./inventory.js";
import { affected, merge, missing, outcome, unresolved, type Outcome, type Step } from "./outcome.js";
import { CLUSTER_SCOPED, DISPLAY } from "./resources.js";
import { matchesRequirements, parseSelector } from "./selector.js";

/** What scaling a workload to `replicas` stops, and the claims a StatefulSet's whenScaled policy deletes. */
function scaleWorkload(a: Analyzer, w: Workload, replicas: number): Outcome {
  const current = w.replicas ?? 1;
  if (replicas >= current) {
    return outcome({
      dataLoss: "none",
      reason: `scales ${w.kind} ${w.name} from ${current} to ${replicas} replicas: nothing stops`,
      resolved: affected(w.kind.toLowerCase(), w, "none", "scaled"),
      touches: [w],
    });
  }
  const pods = a.podsOf(w).filter((p) => {
    if (w.kind !== "StatefulSet") return true;
    const ordinal = Number(p.name.slice(w.name.length + 1));
    return Number.isInteger(ordinal) && ordinal >= replicas;
  });
  const result = outcome({
    dataLoss: "recoverable",
    reason: `scales ${w.kind} ${w.name} from ${current} to ${replicas} replicas: ${replicas === 0 ? "every pod stops" : `${current - replicas} pod(s) stop`}; scaling back brings them back`,
    resolved: affected(w.kind.toLowerCase(), w, "recoverable", `scaled to ${replicas}`),
    cascade: (w.kind === "StatefulSet" ? pods : pods.slice(0, current - replicas)).map((p) =>
      affected("pod", p, "recoverable", "stopped by the scale-down"),
    ),
    pods,
    touches: [w],
  });
  if (w.kind === "StatefulSet") {
    const claims = a.claimsOf(w).filter((c) => c.ordinal >= replicas);
    if (claims.length > 0 && w.retention?.whenScaled === "Delete") {
      for (const { claim } of claims) {
        merge(
          result,
          deleteClaim(
            a,
            claim,
            "deleted by the scale-down (persistentVolumeClaimRetentionPolicy.whenScaled: Delete)",
          ),
        );
      }
    } else if (claims.length > 0) {
      result.notes.push(
        `claims ${claims.map((c) => c.claim.name).join(", ")} stay (persistentVolumeClaimRetentionPolicy.whenScaled: ${w.retention?.whenScaled ?? "Retain"})`,
      );
      result.touches.push(...claims.map((c) => c.claim));
    }
  }
  return result;
}

function findWorkload(
  a: Analyzer,
  resource: ResourceKind | null,
  namespace: string,
  name: string,
): Workload | undefined {
  const kind =
    resource === "statefulsets"
      ? "StatefulSet"
      : resource === "deployments"
        ? "Deployment"
        : resource === "replicasets"
          ? "ReplicaSet"
          : null;
  return kind
    ? a.inv.workloads.find((w) => w.kind === kind && w.namespace === namespace && w.name === name)
    : undefined;
}

export function manifestsUnread(cmd: KubectlCommand): Step[] {
  return cmd.files.length > 0 || cmd.kustomize
    ? [
        unresolved(
          "unknown",
          "unknown",
          `lifeline does not read manifests for kubectl ${cmd.verb} (-f/-k): what it changes is unknown`,
        ),
      ]
    : [];
}

export function kubectlScale(a: Analyzer, cmd: KubectlCommand): Step[] {
  const ns = namespaceFor(cmd, a.inv);
  if (cmd.replicas === null) {
    return [unresolved("unknown", "unknown", "scale without --replicas: kubectl will refuse it")];
  }
  const replicas = cmd.replicas;
  return cmd.targets.map((t): Step => {
    const type = t.resource ? DISPLAY[t.resource] : t.typed;
    const target = { type, namespace: ns, name: t.name ?? cmd.selector ?? "(all)" };
    const w = t.name ? findWorkload(a, t.resource, ns, t.name) : undefined;
    if (!w) {
      if (
        t.name &&
        (t.resource === "statefulsets" || t.resource === "deployments" || t.resource === "replicasets")
      ) {
        return { kind: `scale-${type}`, target, outcome: missing(type, ns, t.name) };
      }
      return {
        kind: "unknown",
        target,
        outcome: outcome({
          dataLoss: "unknown",
          reason: `lifeline does not model scaling ${type}${t.name ? "" : " by selector"}`,
        }),
      };
    }
    return { kind: `scale-${type}`, target, outcome: scaleWorkload(a, w, replicas) };
  });
}

function reclaimChange(cmd: KubectlCommand): string | null | undefined {
  if (!cmd.patch) return undefined;
  try {
    const body: unknown = JSON.parse(cmd.patch.body);
    if (cmd.patch.type === "json") {
      if (!Array.isArray(body) || body.length !== 1) return undefined;
      const op: unknown = body[0];
      if (typeof op !== "object" || op === null) return undefined;
      const o = op as Record<string, unknown>;
      return (o.op === "replace" || o.op === "add") &&
        o.path === "/spec/persistentVolumeReclaimPolicy" &&
        typeof o.value === "string"
        ? o.value
        : undefined;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
    const keys = Object.keys(body);
    const spec = (body as Record<string, unknown>).spec;
    if (keys.length !== 1 || typeof spec !== "object" || spec === null) return undefined;
    const specKeys = Object.keys(spec);
    const policy = (spec as Record<string, unknown>).persistentVolumeReclaimPolicy;
    return specKeys.length === 1 && typeof policy === "string" ? policy : undefined;
  } catch {
    return undefined;
  }
}

export function kubectlPatch(a: Analyzer, cmd: KubectlCommand): Step[] {
  return cmd.targets.map((t): Step => {
    const type = t.resource ? DISPLAY[t.resource] : t.typed;
    const target = {
      type,
      namespace: t.resource && CLUSTER_SCOPED.has(t.resource) ? null : namespaceFor(cmd, a.inv),
      name: t.name ?? "(selector)",
    };
    const policy = t.resource === "persistentvolumes" ? reclaimChange(cmd) : undefined;
    if (t.resource !== "persistentvolumes" || policy === undefined || policy === null || !t.name) {
      return {
        kind: "unknown",
        target,
        outcome: outcome({
          dataLoss: "unknown",
          reason: `lifeline models only patches of a volume's persistentVolumeReclaimPolicy; this patch of ${type} may change anything`,
        }),
      };
    }
    const pv = a.inv.volumes.find((v) => v.name === t.name);
    if (!pv) return { kind: "patch-pv-reclaim-policy", target, outcome: missing("pv", null, t.name) };
    const claim = pv.claim ? `${pv.claim.namespace}/${pv.claim.name}` : null;
    const touches: Meta[] = [pv];
    const c = pv.claim
      ? a.inv.claims.find((x) => x.namespace === pv.claim?.namespace && x.name === pv.claim.name)
      : undefined;
    if (c) touches.push(c);
    const released = pv.phase === "Released" || pv.phase === "Failed" || !c;
    if (policy !== "Retain" && released) {
      // The PV controller reclaims a released volume as soon as its policy allows it.
      return {
        kind: "patch-pv-reclaim-policy-delete",
        target,
        outcome: outcome({
          dataLoss: "destructive",
          reason: `volume ${pv.name} is ${pv.phase}${claim ? ` (its claim ${claim} is gone)` : ""}: with reclaim policy ${policy}, Kubernetes deletes it and its disk (${pv.source}) at once`,
          resolved: affected(
            "pv",
            pv,
            "destructive",
            `reclaim policy ${pv.reclaimPolicy} → ${policy}`,
            pv.bytes,
            `${pv.uid}/reclaim=${pv.reclaimPolicy}/phase=${pv.phase}`,
          ),
          deleted: [pv.uid],
          touches,
        }),
      };
    }
    const resolved = affected(
      "pv",
      pv,
      "none",
      `reclaim policy ${pv.reclaimPolicy} → ${policy}`,
      pv.bytes,
      `${pv.uid}/reclaim=${pv.reclaimPolicy}`,
    );
    return {
      kind: policy === "Retain" ? "patch-pv-reclaim-policy" : "patch-pv-reclaim-policy-delete",
      target,
      outcome: outcome({
        dataLoss: "none",
        reason:
          policy === "Retain"
            ? `protects the volume: deleting ${claim ? `claim ${claim}` : "its claim"} afterwards leaves the data in place`
            : `changes no data now, but afterwards deleting ${claim ? `claim ${claim}` : "its claim"} deletes the volume and its data (reclaim policy ${policy})`,
        resolved,
        notes:
          policy === "Retain"
            ? []
            : [`this removes a protection: with ${policy}, the data goes with the claim`],
        touches,
      }),
    };
  });
}

export function kubectlDrain(a: Analyzer, cmd: KubectlCommand): Step[] {
  const gap = a.gapFor("nodes", null) ?? a.gapFor("pods", null);
  if (gap) {
    a.gaps.push(gap);
    return [
      unresolved("drain-node", "unknown", `${gap}: what the drain evicts is unknown, treated as destructive`),
    ];
  }
  let nodes: { name: string; node: (typeof a.inv.nodes)[number] | undefined }[];
  if (cmd.selector) {
    let requirements: ReturnType<typeof parseSelector>;
    try {
      requirements = parseSelector(cmd.selector);
    } catch (error) {
      return [unresolved("unknown", "unknown", error instanceof Error ? error.message : String(error))];
    }
    nodes = a.inv.nodes
      .filter((n) => matchesRequirements(requirements, n.labels))
      .map((n) => ({ name: n.name, node: n }));
  } else {
    nodes = cmd.targets
      .filter((t) => t.name !== null)
      .map((t) => ({ name: t.name ?? "", node: a.inv.nodes.find((n) => n.name === t.name) }));
  }
  if (nodes.length === 0) {
    return [
      {
        kind: "drain-node",
        target: { type: "node", namespace: null, name: cmd.selector ?? "(none)" },
        outcome: outcome({
          dataLoss: "none",
          reason: `no node matches${cmd.selector ? ` -l ${cmd.selector}` : ""}: nothing is drained`,
        }),
      },
    ];
  }
  return nodes.map(({ name, node }): Step => {
    const target = { type: "node", namespace: null, name };
    if (!node) return { kind: "drain-node", target, outcome: missing("node", null, name) };
    const pods = a.inv.pods.filter(
      (p) => p.nodeName === node.name && !p.owners.some((o) => o.kind === "DaemonSet"),
    );
    const flags = cmd.drain ?? {
      deleteEmptyDirData: false,
      ignoreDaemonsets: false,
      force: false,
      disableEviction: false,
    };
    const result = outcome({
      dataLoss: "recoverable",
      reason: `node ${node.name} is cordoned and its ${pods.length} pod(s) are evicted; their controllers reschedule them elsewhere`,
      resolved: affected("node", node, "recoverable", "drained"),
      cascade: pods.map((p) =>
        affected(
          "pod",
          p,
          "recoverable",
          p.owners.some((o) => o.controller)
            ? "evicted and rescheduled"
            : "deleted and not recreated (no controller)",
        ),
      ),
      pods,
      touches: [node, ...pods],
    });
    for (const p of pods) {
      if (!p.owners.some((o) => o.controller)) {
        result.notes.push(
          flags.force
            ? `pod ${qualified(p)} has no controller: --force deletes it for good`
            : `pod ${qualified(p)} has no controller: drain refuses without --force`,
        );
      }
      if (p.spec.emptyDirs.length > 0) {
        result.notes.push(
          flags.deleteEmptyDirData
            ? `pod ${qualified(p)} loses its emptyDir volumes (${p.spec.emptyDirs.join(", ")}) (--delete-emptydir-data)`
            : `pod ${qualified(p)} uses emptyDir volumes: drain refuses without --delete-emptydir-data`,
        );
      }
      for (const claimName of p.spec.claims) {
        const c = a.inv.claims.find((x) => x.namespace === p.namespace && x.name === claimName);
        const pv = c?.volumeName ? a.inv.volumes.find((v) => v.name === c.volumeName) : undefined;
        if (pv && /^(local|hostPath)\b/.test(pv.source)) {
          result.notes.push(
            `pod ${qualified(p)} uses ${pv.source} volume ${pv.name} on this node: it cannot run elsewhere until the node returns`,
          );
        }
      }
    }
    return { kind: "drain-node", target, outcome: result };
  });
}
