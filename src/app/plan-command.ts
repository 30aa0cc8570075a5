import { LifelineError } from "../core/errors.js";
import { secrets } from "../core/redact.js";
import type { ParsedCommand } from "../core/kubernetes/command/index.js";
import {
  canonicalCommand,
  displayCommand,
  isUnknown,
  parseCommand,
} from "../core/kubernetes/command/index.js";
import type { K8sAnalysis } from "../core/kubernetes/analyze.js";
import { analyzeCommand } from "../core/kubernetes/analyze.js";
import { emptyInventory, type Inventory } from "../core/kubernetes/inventory.js";
import type { ManifestResource } from "../core/kubernetes/kubectl-delete.js";
import {
  assemblePlan,
  commandRecoverability,
  noRecoverability,
  planIdOf,
  type AssetAssessment,
  type Plan,
  type PolicySubject,
} from "../core/plan/plan.js";
import {
  UNBOUND_TIER,
  type PlannedOperation,
  type PolicyRule,
  type Requirement,
} from "../core/plan/policy.js";
import type { ResolvedAsset } from "../config/load.js";
import type { Cluster, ClusterSelection } from "../ports/cluster.js";
import type { AppContext } from "./context.js";
import { bindingsFor } from "./k8s.js";
import { PLAN_ASSEMBLY, assessRecoverability } from "./plan.js";

export interface CommandPlanDeps {
  /** Null when there is no lifeline.yaml: no assets, no restore points, the default policy. */
  ctx: AppContext | null;
  cluster: (selection: ClusterSelection) => Cluster;
  /** Reads the resources named by `kubectl delete -f` manifests. */
  readManifests: (files: readonly string[], recursive: boolean) => Promise<ManifestResource[]>;
  signal: AbortSignal;
}

export interface CommandPlanOptions {
  assets: readonly ResolvedAsset[];
  policy: readonly PolicyRule[];
  /**
   * kubeconfig lifeline reads (its --kubeconfig or lifeline.yaml; else kubectl's own), and the
   * context lifeline.yaml or --context EXPECTS: kubectl does not read lifeline.yaml, so a command
   * that would reach another context is not planned against the expected one: it fails closed.
   */
  kubernetes: { kubeconfig: string | null; context: string | null; clusterDomain: string };
  /** The environment the command would run with (HELM_NAMESPACE, HELM_KUBECONTEXT, HELM_DRIVER). */
  env?: Readonly<Record<string, string | undefined>>;
  /** A keyed digest (letters and digits) for values the command line masks: they bind the plan id. */
  digest?: (secret: string) => string;
}

/** What lifeline plans for: kubectl and helm; other programs are unknown (fail closed). */
function commandKind(parsed: ParsedCommand): Plan["command"]["kind"] {
  return parsed.tool ?? "unknown";
}

/** Whether the command needs the cluster at all: reads, dry runs and unparseable input do not. */
function needsCluster(parsed: ParsedCommand): boolean {
  if (isUnknown(parsed)) return false;
  if (parsed.tool === "kubectl") return parsed.dryRun === "none";
  return !parsed.dryRun;
}

/**
 * The blast radius of a kubectl or helm command: resolved against the cluster the command would
 * reach, bound to assets through lifeline.yaml, judged by the same policy as SQL. Read-only.
 */
export async function planCommand(
  deps: CommandPlanDeps,
  argv: readonly string[],
  options: CommandPlanOptions,
): Promise<Plan> {
  const started = performance.now();
  if (argv.length === 0) {
    throw new LifelineError({
      code: "PLAN_EMPTY",
      kind: "usage",
      message: "no command to plan after --",
      fix: "lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop",
    });
  }
  const env = options.env ?? {};
  // Masked values (tokens, passwords) still bind the plan id, through a keyed digest.
  const digestOption = options.digest ? { digest: options.digest } : {};
  const commandKey = JSON.stringify([argv, env.HELM_NAMESPACE, env.HELM_KUBECONTEXT, env.HELM_DRIVER]);
  const parsed = parsedCommand(commandKey, argv, env);
  const selection: ClusterSelection = {
    kubeconfig: (!isUnknown(parsed) ? parsed.kubeconfig : null) ?? options.kubernetes.kubeconfig,
    // The context the command itself reaches; lifeline's expectation is checked below.
    context: !isUnknown(parsed) ? (parsed.tool === "kubectl" ? parsed.context : parsed.kubeContext) : null,
  };
  let analysis: K8sAnalysis;
  /** Whether `analysis` is a remembered one (shared): then so is its plan id. */
  let remembered = false;
  let cluster: { context: string; server: string } | null = null;
  let unreachable: string | null = null;
  if (needsCluster(parsed)) {
    const c = deps.cluster(selection);
    cluster = { context: c.context, server: c.server };
    try {
      const served = await c.inventory(deps.signal);
      const readsFiles = !isUnknown(parsed) && parsed.tool === "kubectl" && parsed.files.length > 0;
      // Manifests are read from disk each time: only a command without -f is remembered.
      const memo = readsFiles ? null : analysesOf(served, options);
      const key = `${c.context}\u0000${commandKey}`;
      const known = memo?.get(key);
      if (known !== undefined) {
        analysis = known;
        remembered = true;
      } else {
        const inventory = { ...served, clusterDomain: options.kubernetes.clusterDomain };
        const bindings = bindingsFor(options.assets, c.context);
        const manifests = readsFiles ? await deps.readManifests(parsed.files, parsed.recursive) : [];
        const resolved = isUnknown(parsed)
          ? parsed
          : parsed.tool === "kubectl"
            ? { ...parsed, namespace: parsed.namespace ?? inventory.defaultNamespace, context: c.context }
            : {
                ...parsed,
                namespace: parsed.namespace ?? inventory.defaultNamespace,
                kubeContext: c.context,
              };
        analysis = analyzeCommand(resolved, inventory, {
          bindings,
          manifests,
          normalized: canonicalCommand(resolved, digestOption),
        });
        if (memo) {
          remember(memo, key, analysis);
          remembered = true;
        }
      }
      if (options.kubernetes.context !== null && options.kubernetes.context !== c.context) {
        // Added to this plan's copy: a remembered analysis is shared, never changed.
        analysis = {
          ...analysis,
          gaps: [
            ...analysis.gaps,
            `the command reaches context ${c.context}, but lifeline.yaml (or --context) expects ${options.kubernetes.context}: pass --context ${options.kubernetes.context} to ${parsed.tool ?? "the command"}`,
          ],
        };
      }
    } catch (error) {
      if (!(error instanceof LifelineError) || error.code !== "CLUSTER_UNREACHABLE") throw error;
      unreachable = error.message;
      analysis = analyzeCommand(
        {
          tool: parsed.tool,
          verb: isUnknown(parsed) ? parsed.verb : parsed.verb,
          argv: [...argv],
          reason: `${error.message}: what it would destroy is unknown`,
        },
        emptyInventoryFor(c),
        { bindings: [], normalized: canonicalCommand(parsed, digestOption) },
      );
      analysis.unbound = analysis.operations.map((_, i) => i);
    }
  } else {
    analysis = analyzeCommand(parsed, emptyInventoryFor(null), {
      bindings: [],
      normalized: canonicalCommand(parsed, digestOption),
    });
  }

  const touched = options.assets.filter((a) => analysis.assets[a.name]);
  const normalized = analysis.operations[0]?.normalized ?? displayCommand(argv);
  const recoverabilities = deps.ctx
    ? await Promise.all(touched.map((a) => assessRecoverability(deps.ctx as AppContext, a, "all", null)))
    : [];
  const assessments: AssetAssessment[] = touched.map((a, i) => ({
    name: a.name,
    tier: a.tier,
    recoverability: recoverabilities[i] ?? noRecoverability(`no restore points of ${a.name} were read`),
  }));
  const subjects: PolicySubject[] = touched.map((a, i) => ({
    asset: { name: a.name, tier: a.tier, rpoSeconds: a.rpoSeconds },
    operations: (analysis.assets[a.name] ?? [])
      .map((index) => analysis.operations[index])
      .filter((op) => op !== undefined),
    recoverability: assessments[i]?.recoverability ?? noRecoverability(""),
  }));
  if (analysis.unbound.length > 0) {
    subjects.push({
      asset: { name: "(no asset)", tier: UNBOUND_TIER, rpoSeconds: 0 },
      operations: analysis.unbound
        .map((index) => analysis.operations[index])
        .filter((op) => op !== undefined),
      recoverability: noRecoverability("no asset covers it"),
    });
  }
  const unmet: Requirement[] =
    unreachable || analysis.gaps.length > 0
      ? [
          {
            kind: "complete-view",
            met: false,
            detail: unreachable
              ? `the cluster could be read: ${unreachable}`
              : `every resource the plan depends on could be read: ${analysis.gaps.join("; ")}`,
            fix: `check that \`kubectl${cluster ? ` --context ${cluster.context}` : ""} get pvc,pv,pods,statefulsets,secrets -A\` works with these credentials`,
          },
        ]
      : [];
  const identity = {
    asset: touched.map((a) => a.name).join(",") || "(none)",
    normalizedStatements: [normalized, cluster?.context ?? ""],
    restorePointId: recoverabilities.map((r) => r.restorePoint?.id ?? "-").join(",") || null,
  };
  return assemblePlan(
    {
      // As for SQL: the text shown, stored and sent passes the one redactor (secrets lifeline knows).
      command: { kind: commandKind(parsed), text: secrets.redact(displayCommand(argv)) },
      cluster,
      unbound: analysis.unbound.length > 0,
      assets: assessments,
      operations: analysis.operations,
      dependents: analysis.dependents,
      consumers: [],
      identity,
      ...(remembered ? { planId: rememberedPlanId(analysis.operations, identity) } : {}),
      subjects,
      unmet,
      recoverability: commandRecoverability(assessments, analysis.unbound.length > 0),
      policy: options.policy,
      planningMs: Math.round(performance.now() - started),
    },
    PLAN_ASSEMBLY,
  );
}

/** A command line as planCommand reads it (helm's environment and the connection overrides applied). */
function parseFor(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ParsedCommand {
  let parsed = parseCommand(argv);
  // helm reads its namespace and context from the environment too.
  if (!isUnknown(parsed) && parsed.tool === "helm") {
    parsed = {
      ...parsed,
      namespace: parsed.namespace ?? (env.HELM_NAMESPACE || null),
      kubeContext: parsed.kubeContext ?? (env.HELM_KUBECONTEXT || null),
    };
  }
  const overrides = connectionOverrides(parsed, env);
  if (overrides) parsed = { tool: parsed.tool, verb: parsed.verb, argv: [...argv], reason: overrides };
  return parsed;
}

/**
 * The last commands parsed, by their words and the environment variables parseFor reads (`key`):
 * a pure function of them, and `lifeline serve` sees the same command again (a retried delete).
 * Shared, so never changed by its users (they make their own copies).
 */
const parsedCommands = new Map<string, ParsedCommand>();
const PARSED_MAX = 256;

function parsedCommand(
  key: string,
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ParsedCommand {
  const known = parsedCommands.get(key);
  if (known !== undefined) return known;
  const parsed = parseFor(argv, env);
  remember(parsedCommands, key, parsed, PARSED_MAX);
  return parsed;
}

/**
 * A command's analysis, remembered with the inventory it was made from and the options it was
 * made with: analyzeCommand is a pure function of the parsed command, the inventory, the bindings
 * (options.assets and the context) and the canonical command (options.digest). `lifeline serve`'s
 * informer cache serves the same frozen Inventory object until something in the cluster changes
 * (an event, a resource synced or broken), then a new one: a change is seen by the next request,
 * and what was worked out from the old state goes with it (WeakMap). An inventory made per plan
 * (list calls: not frozen) is not remembered at all. Shared, so never changed by its users: the
 * plan takes its operations and dependents as they are, planCommand copies before adding a gap.
 */
const analyses = new WeakMap<Inventory, WeakMap<CommandPlanOptions, Map<string, K8sAnalysis>>>();
/** Distinct commands remembered per inventory (the oldest is dropped past it). */
const ANALYSES_MAX = 512;

function analysesOf(inventory: Inventory, options: CommandPlanOptions): Map<string, K8sAnalysis> | null {
  if (!Object.isFrozen(inventory)) return null;
  let byOptions = analyses.get(inventory);
  if (!byOptions) analyses.set(inventory, (byOptions = new WeakMap()));
  let memo = byOptions.get(options);
  if (!memo) byOptions.set(options, (memo = new Map()));
  return memo;
}

/**
 * The plan id of a remembered analysis's operations with this identity (the asset, the canonical
 * command and context, the restore point relied on), made once per identity: planIdentity and its
 * SHA-256 are a pure function of them.
 */
const planIds = new WeakMap<readonly PlannedOperation[], Map<string, string>>();

function rememberedPlanId(
  operations: readonly PlannedOperation[],
  identity: { asset: string; normalizedStatements: readonly string[]; restorePointId: string | null },
): string {
  let byIdentity = planIds.get(operations);
  if (!byIdentity) planIds.set(operations, (byIdentity = new Map()));
  const key = JSON.stringify([identity.asset, identity.normalizedStatements, identity.restorePointId]);
  let planId = byIdentity.get(key);
  if (planId === undefined) {
    planId = planIdOf({ operations, identity }, PLAN_ASSEMBLY);
    remember(byIdentity, key, planId, PLAN_IDS_MAX);
  }
  return planId;
}

/** Identities remembered per analysis (one per restore point relied on, in practice). */
const PLAN_IDS_MAX = 16;

function remember<T>(memo: Map<string, T>, key: string, value: T, max = ANALYSES_MAX): void {
  if (memo.size >= max) memo.delete(memo.keys().next().value as string);
  memo.set(key, value);
}

function emptyInventoryFor(c: Pick<Cluster, "context" | "defaultNamespace"> | null) {
  return emptyInventory(c?.context ?? "", c?.defaultNamespace ?? "default");
}

/**
 * The kubeconfig and context a command itself uses (its --kubeconfig, else lifeline's; its
 * --context or helm's, else the kubeconfig's current context): where `lifeline run` executes it.
 */
export function commandSelection(argv: readonly string[], options: CommandPlanOptions): ClusterSelection {
  const parsed = parseCommand(argv);
  if (isUnknown(parsed)) return { kubeconfig: options.kubernetes.kubeconfig, context: null };
  const context =
    parsed.tool === "kubectl"
      ? parsed.context
      : (parsed.kubeContext ?? (options.env?.HELM_KUBECONTEXT || null));
  return { kubeconfig: parsed.kubeconfig ?? options.kubernetes.kubeconfig, context };
}

/**
 * Ways a command can reach another API server than the kubeconfig context lifeline resolves:
 * lifeline does not follow them, so the plan fails closed and says why.
 */
function connectionOverrides(
  parsed: ParsedCommand,
  env: Readonly<Record<string, string | undefined>>,
): string | null {
  if (isUnknown(parsed)) return null;
  const c = (
    parsed as {
      connection?: {
        server: string | null;
        cluster: string | null;
        user: string | null;
        tokenGiven: boolean;
      };
    }
  ).connection;
  const flags: string[] = [];
  if (c?.server) flags.push(parsed.tool === "helm" ? "--kube-apiserver" : "--server");
  if (c?.cluster) flags.push("--cluster");
  if (c?.user) flags.push(parsed.tool === "helm" ? "--kube-as-user" : "--user");
  if (c?.tokenGiven) flags.push(parsed.tool === "helm" ? "--kube-token" : "--token");
  if (flags.length > 0) {
    return `the command chooses its API server or credentials itself (${flags.join(", ")}); lifeline resolves only kubeconfig contexts: what it would destroy is unknown`;
  }
  const driver = env.HELM_DRIVER?.toLowerCase();
  if (parsed.tool === "helm" && driver && driver !== "secret" && driver !== "secrets") {
    return `HELM_DRIVER=${env.HELM_DRIVER}: helm keeps its releases outside Secrets, where lifeline does not read them: what it would change is unknown`;
  }
  return null;
}
