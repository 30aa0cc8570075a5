/**
 * The blast radius of a kubectl or helm command, decided from an inventory of the cluster. Pure:
 * the kubernetes adapter reads the cluster, this decides what goes, whether it can come back, and
 * who depends on it. Every decision that lacks a fact fails closed (`unknown`).
 */
import type { AffectedObject, Dependent, PlannedOperation } from "../plan/policy.js";
import type { KubectlCommand, ParsedCommand } from "./command/index.js";
import { canonicalCommand, displayCommand, isUnknown } from "./command/index.js";
import { bindingCovers, bindingTouches, goneClaim, type AssetBinding } from "./binding.js";
import { Analyzer } from "./context.js";
import { findDependents } from "./dependents.js";
import { helmSteps } from "./helm.js";
import type { Inventory, PersistentVolumeClaim } from "./inventory.js";
import { qualified } from "./inventory.js";
import { byUid, claimNamed } from "./lookup.js";
import { doomedSnapshots, kubectlDelete, type ManifestResource } from "./kubectl-delete.js";
import { kubectlDrain, kubectlPatch, kubectlScale, manifestsUnread } from "./kubectl-mutate.js";
import { unresolved, type Outcome, type Step } from "./outcome.js";

export interface K8sAnalysis {
  operations: PlannedOperation[];
  dependents: Dependent[];
  /** Asset name → indexes of the operations that touch its resources. */
  assets: Record<string, number[]>;
  /** Indexes of operations that touch data no asset is bound to. */
  unbound: number[];
  /** Facts that could not be read and that the verdict depends on. */
  gaps: string[];
}

const READ_VERBS = new Set([
  "get",
  "describe",
  "logs",
  "top",
  "explain",
  "version",
  "api-resources",
  "api-versions",
  "cluster-info",
  "diff",
  "auth",
  "config",
  "events",
  "wait",
]);

function kubectlSteps(a: Analyzer, cmd: KubectlCommand, manifests: readonly ManifestResource[]): Step[] {
  if (cmd.dryRun !== "none") {
    return [
      unresolved(
        `${cmd.verb}-dry-run`,
        "none",
        `--dry-run=${cmd.dryRun}: kubectl only shows what it would do; nothing changes`,
      ),
    ];
  }
  if (READ_VERBS.has(cmd.verb)) {
    return [unresolved("read", "none", `kubectl ${cmd.verb} only reads`)];
  }
  switch (cmd.verb) {
    case "delete":
      return kubectlDelete(a, cmd, manifests);
    case "scale":
      return [...manifestsUnread(cmd), ...kubectlScale(a, cmd)];
    case "patch":
      return [...manifestsUnread(cmd), ...kubectlPatch(a, cmd)];
    case "drain":
      return kubectlDrain(a, cmd);
    default:
      return [
        unresolved(
          "unknown",
          "unknown",
          `lifeline does not model kubectl ${cmd.verb}: it may change or delete what it names, treated as destructive`,
        ),
      ];
  }
}

/**
 * The assets an outcome touches: through its claims and volumes, its namespace or its release.
 * `released`: the assets a volume is attributed to only through its gone claim (see goneClaim),
 * with the volume and the claim its claimRef names.
 */
function assetsOf(
  a: Analyzer,
  bindings: readonly AssetBinding[],
  step: Step,
): { owners: string[]; released: { asset: string; volume: string; claim: string }[] } {
  const found = new Set<string>();
  const released: { asset: string; volume: string; claim: string }[] = [];
  const touches = step.outcome.touches;
  const claims = new Set<PersistentVolumeClaim>();
  for (const m of touches) {
    const claim = byUid(a.inv.claims, m.uid);
    if (claim) claims.add(claim);
    const pv = byUid(a.inv.volumes, m.uid);
    const bound = pv?.claim ? claimNamed(a.inv.claims, pv.claim.namespace, pv.claim.name) : undefined;
    if (bound) claims.add(bound);
    else if (pv?.claim) {
      const ref = pv.claim;
      for (const b of bindings.filter((x) => goneClaim(x, ref))) {
        found.add(b.asset);
        released.push({ asset: b.asset, volume: pv.name, claim: `${ref.namespace}/${ref.name}` });
      }
    }
  }
  for (const b of bindings) {
    const t = step.target;
    if (
      [...claims].some((c) => bindingCovers(b, c)) ||
      (t?.type === "namespace" && t.name === b.namespace) ||
      (t?.type === "helm-release" &&
        t.namespace === b.namespace &&
        (b.release === null || b.release === t.name)) ||
      touches.some(
        (m) => !claims.has(m as PersistentVolumeClaim) && m.namespace !== null && bindingTouches(b, m),
      )
    ) {
      found.add(b.asset);
    }
  }
  return { owners: [...found].sort(), released };
}

/** Claims whose data the step destroys (or may) that no asset is bound to. */
function unboundClaims(a: Analyzer, bindings: readonly AssetBinding[], o: Outcome): string[] {
  const objects = [o.resolved, ...o.cascade].filter((x): x is AffectedObject => x !== null);
  return objects
    .filter((x) => x.type === "pvc" && (x.dataLoss === "destructive" || x.dataLoss === "unknown"))
    .filter((x) => {
      const claim = claimQualified(a.inv.claims, x.name);
      return !claim || !bindings.some((b) => bindingCovers(b, claim));
    })
    .map((x) => x.name);
}

/**
 * Plans a kubectl or helm command against an inventory. Operations have the same shape as SQL
 * plans: one per object the command names or selects, each with what goes with it.
 */
export function analyzeCommand(
  command: ParsedCommand,
  inv: Inventory,
  options: {
    bindings: readonly AssetBinding[];
    manifests?: readonly ManifestResource[];
    /** The canonical command with the namespace and context it resolves to (plan identity). */
    normalized?: string;
  },
): K8sAnalysis {
  const gaps: string[] = [];
  const a = new Analyzer(inv, gaps);
  const statement = displayCommand(command.argv);
  const normalized = options.normalized ?? canonicalCommand(command);
  if (
    !isUnknown(command) &&
    command.tool === "kubectl" &&
    command.verb === "delete" &&
    command.dryRun === "none"
  ) {
    a.doomedSnapshots = doomedSnapshots(a, command, options.manifests ?? []);
  }
  let steps: Step[];
  if (isUnknown(command)) {
    steps = [unresolved("unknown", "unknown", command.reason)];
  } else if (command.tool === "kubectl") {
    steps = kubectlSteps(a, command, options.manifests ?? []);
  } else {
    steps = helmSteps(a, command);
  }
  if (steps.length === 0) {
    steps = [
      unresolved(
        "unknown",
        "unknown",
        "lifeline could not tell what this command acts on: treated as destructive",
      ),
    ];
  }
  // Reads that failed but did not stop the plan: say what the plan may miss.
  const partial = inv.gaps
    .filter((g) => !g.required)
    .map(
      (g) =>
        `${g.resource} could not be read (${g.reason}): dependents or snapshots may be missing from this plan`,
    );
  for (const step of steps) if (step.outcome.dataLoss !== "none") step.outcome.notes.push(...partial);
  const assets: Record<string, number[]> = {};
  const unbound: number[] = [];
  const operations = steps.map((step, index): PlannedOperation => {
    const o = step.outcome;
    const { owners, released } = assetsOf(a, options.bindings, step);
    for (const name of owners) (assets[name] ??= []).push(index);
    const orphans = unboundClaims(a, options.bindings, o);
    // A volume attributed through its gone claim only (a name, no labels left to check) is judged
    // by its asset's rules AND as data no asset is bound to: attributing it never loosens a plan.
    const releasedLoss = released.length > 0 && o.dataLoss !== "none";
    if ((owners.length === 0 && o.dataLoss !== "none") || orphans.length > 0 || releasedLoss)
      unbound.push(index);
    for (const r of released) {
      o.notes.push(
        `volume ${r.volume} is released: its claim ${r.claim} is gone; attributed to asset ${r.asset} by the claim's namespace and name${releasedLoss ? `, and judged as data no asset is bound to as well (lifeline cannot tell that ${r.asset}'s restore points hold it)` : ""}`,
      );
    }
    if (orphans.length > 0) {
      o.notes.push(
        `no asset in lifeline.yaml covers ${orphans.map((c) => `pvc ${c}`).join(", ")}: lifeline has no restore point of that data`,
      );
    }
    return {
      kind: step.kind,
      statementIndex: 0,
      statement,
      normalized,
      target: step.target
        ? { type: step.target.type, schema: step.target.namespace, name: step.target.name }
        : null,
      dataLoss: o.dataLoss,
      reason: o.reason,
      cascadeRequested: false,
      missingOk: step.missingOk ?? false,
      filter: null,
      resolved: o.resolved,
      rows: null,
      bytes: o.resolved?.bytes ?? null,
      cascade: dedupe(o.cascade),
      notes: [...new Set(o.notes)],
    };
  });
  const deleted = new Set(steps.flatMap((s) => s.outcome.deleted));
  const dependents = findDependents(
    inv,
    {
      pods: uniqueBy(steps.flatMap((s) => s.outcome.pods)),
      services: uniqueBy(steps.flatMap((s) => s.outcome.services)),
      configs: uniqueBy(steps.flatMap((s) => s.outcome.configs)),
    },
    deleted,
  );
  return { operations, dependents, assets, unbound, gaps: [...new Set(gaps)] };
}

function uniqueBy<T extends { uid: string }>(list: T[]): T[] {
  const seen = new Set<string>();
  return list.filter((x) => (seen.has(x.uid) ? false : (seen.add(x.uid), true)));
}

function dedupe(list: AffectedObject[]): AffectedObject[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const key = `${x.type}|${x.name}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** The claim whose qualified name (namespace/name) this is; what `claims.find(qualified(c) === name)` finds. */
function claimQualified(
  claims: readonly PersistentVolumeClaim[],
  name: string,
): PersistentVolumeClaim | undefined {
  const slash = name.indexOf("/");
  const found =
    slash >= 0
      ? claimNamed(claims, name.slice(0, slash), name.slice(slash + 1))
      : claimNamed(claims, null, name);
  return found && qualified(found) === name ? found : claims.find((c) => qualified(c) === name);
}
