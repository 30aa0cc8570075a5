import type { Command } from "commander";
import { planCommand } from "../../app/plan-command.js";
import { serviceRedirect, standby, type StandbyOutcome } from "../../app/standby.js";
import { LifelineError } from "../../core/errors.js";
import type { Plan } from "../../core/plan/plan.js";
import { interpolate, type LoadedConfig, type ResolvedAsset } from "../../config/load.js";
import { gateDeps, recordShownPlan, recordedRestores, withCatalog } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { json, out, terminalProgress } from "../io.js";
import { commandPlanInputs, kubernetesFlags } from "../kubernetes.js";
import { renderStandby, standbyJson, type Redirection } from "../render/standby.js";
import { asset as resolve, contextFor, kubernetesSettings, load, type KubernetesFlags } from "../wiring.js";

interface StandbyOptions extends KubernetesFlags {
  to?: string;
  refresh?: boolean;
  jobs?: string;
}

function jobsOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const jobs = Number(raw);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--jobs ${raw} is not a number of parallel restore jobs`,
      fix: "give a whole number from 1 to 64, e.g. --jobs 4",
    });
  }
  return jobs;
}

/** The cluster's answer to "what would this patch do", or why it could not be read. */
async function planRedirect(
  loaded: LoadedConfig,
  flags: KubernetesFlags,
  argv: readonly string[],
  signal: AbortSignal,
): Promise<{ plan: Plan | null; planError: string | null }> {
  try {
    const progress = terminalProgress("standby");
    progress.phase("planning the kubectl patch against the cluster");
    const { deps, options } = await commandPlanInputs(loaded, flags, signal, progress);
    const plan = await planCommand(deps, argv, options);
    // planCommand turns an unreachable cluster into an unmet requirement: here, no plan was made.
    const unreachable = plan.requirements.find(
      (r) => r.kind === "complete-view" && !r.met && r.detail.startsWith("the cluster could be read: "),
    );
    if (unreachable) {
      return {
        plan: null,
        planError: `the cluster could not be read (${unreachable.detail.slice("the cluster could be read: ".length)})`,
      };
    }
    return { plan: await recordShownPlan(loaded, plan), planError: null };
  } catch (error) {
    if (signal.aborted) throw error;
    return { plan: null, planError: error instanceof Error ? error.message : String(error) };
  }
}

/** The Service patch for a Kubernetes-bound asset and its plan against the cluster (never applied). */
export async function redirectionFor(
  loaded: LoadedConfig,
  asset: ResolvedAsset,
  outcome: StandbyOutcome,
  flags: KubernetesFlags,
  signal: AbortSignal,
): Promise<Redirection> {
  const redirect = serviceRedirect(asset, outcome.url, kubernetesSettings(loaded, flags).clusterDomain);
  if (redirect === null) return { kind: "none" };
  if ("unavailable" in redirect) return { kind: "unavailable", reason: redirect.unavailable };
  return { kind: "patch", redirect, ...(await planRedirect(loaded, flags, redirect.argv, signal)) };
}

export function register(program: Command, env: CliEnv): void {
  kubernetesFlags(
    program
      .command("standby")
      .description(
        "Keep a read-only copy of the newest verified restore point that dependents can read from while the asset is recovered: restored beside, verified, swapped in by rename. --refresh replaces it only with a newer verified restore point.",
      )
      .argument("<asset>", "asset name from lifeline.yaml")
      .option(
        "--to <url>",
        "the standby database: one that does not exist yet, is empty, or is this asset's standby",
      )
      .option(
        "--refresh",
        "refresh the recorded standby (with --to: that one) from a newer verified restore point",
      )
      .option("--jobs <n>", "parallel restore jobs (default: the asset's drill.jobs)"),
    "the kubectl patch's plan",
  )
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
The standby serves the newest verified restore point, read-only (default_transaction_read_only):
a write fails with SQLSTATE 25006. Readers never see a half-restored database: the copy is restored
and verified beside it, then takes its name in one short step. A refresh that fails leaves the
previous standby serving. It is not gated (it never replaces anyone's data: the target must not
exist, be empty, or be this asset's standby) and it is recorded in the audit log.

For an asset bound to Kubernetes, it prints the kubectl patch of the Service its dependents use that
would send them to the standby, with that patch's plan; it never applies it.

--to takes \${VAR} references like lifeline.yaml (in single quotes, the password stays out of the
command line and the shell history). A refresh reconnects to the recorded standby with the asset's password when it is on the asset's
server as the asset's user; otherwise with PGPASSWORD or ~/.pgpass, or give --to again.

Examples:
  lifeline standby shop --to 'postgres://admin:\${STANDBY_PW}@db2:5432/shop_standby'
  lifeline standby shop --refresh
  lifeline standby shop --refresh --to 'postgres://admin:\${STANDBY_PW}@db2:5432/shop_standby' --json

Exit codes: 0 ready, refreshed or unchanged; 1 runtime error (no verified restore point, server
unreachable); 2 usage error (target holds data, no standby to refresh); 4 corrupt restore point or a
copy that does not match it.
`,
    )
    .action(async (name: string, opts: StandbyOptions, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const asset = resolve(loaded, name);
      if (opts.to !== undefined && opts.to.trim() === "") {
        throw new LifelineError({
          code: "USAGE",
          kind: "usage",
          message: "--to is empty",
          fix: `give the standby's URL: lifeline standby ${name} --to postgres://user@host:5432/${name}_standby`,
        });
      }
      const jobs = jobsOf(opts.jobs, asset.drillJobs);
      const ctx = contextFor(loaded, env.signal, terminalProgress(`standby ${name}`), {
        restored: recordedRestores(loaded),
      });
      const outcome = await withCatalog(loaded, async (catalog) =>
        standby(ctx, await gateDeps(loaded, catalog), {
          asset,
          // ${VAR} as in lifeline.yaml: a single-quoted '${PW}' keeps the password off the command line.
          to: opts.to === undefined ? null : interpolate(opts.to, "--to", process.env),
          refresh: opts.refresh === true,
          jobs,
        }),
      );
      const redirection = await redirectionFor(loaded, asset, outcome, opts, env.signal);
      if (options.json) json(standbyJson(outcome, redirection));
      else out(renderStandby(outcome, redirection));
    });
}
