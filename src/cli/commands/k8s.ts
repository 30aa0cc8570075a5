import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load, loadOptional, boundAssets, kubernetesSettings } from "../wiring.js";
import { LifelineError, EXIT_CODES } from "../../core/errors.js";
import { confirm, err, interactive, json, out, terminalProgress } from "../io.js";
import { scan, planProtect, applyProtect } from "../../app/k8s.js";
import { renderScan, scanJson, renderProtectPlan, renderProtectDone } from "../render/k8s.js";
import { k8sDeps, kubernetesFlags } from "../kubernetes.js";

export function register(program: Command, env: CliEnv): void {
  const k8s = program
    .command("k8s")
    .description(
      "Kubernetes posture: find volumes whose data goes with a single delete, and protect an asset's volumes.",
    )
    .addHelpText(
      "after",
      `
Examples:
  lifeline k8s scan                 # the whole cluster
  lifeline k8s scan -n shop --json
  lifeline k8s protect shop         # its volumes reclaim with Retain: deleting a claim keeps the data
  lifeline k8s protect shop --undo  # put back what protect changed
`,
    );

  kubernetesFlags(
    k8s
      .command("scan")
      .description(
        "Posture findings per namespace: volumes that reclaim with Delete, claims left by uninstalled releases, assets without a verified restore point. Read-only.",
      )
      .option("-n, --namespace <namespace>", "only this namespace"),
  )
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Examples:
  lifeline k8s scan
  lifeline k8s scan -n shop --json | jq '.findings[] | select(.severity == "high")'

Exit codes: 0 no high finding; 4 high findings; 1 runtime error (cluster unreachable); 2 usage error.
`,
    )
    .action(async (opts: { namespace?: string; kubeconfig?: string; context?: string }, command: Command) => {
      const options = env.globals(command);
      const loaded = loadOptional(options);
      const result = await scan(await k8sDeps(loaded, env.signal, terminalProgress("k8s")), {
        assets: loaded ? boundAssets(loaded) : [],
        kubernetes: kubernetesSettings(loaded, opts),
        namespace: opts.namespace ?? null,
      });
      if (options.json) json(scanJson(result));
      else out(renderScan(result));
      if (result.findings.some((f) => f.severity === "high")) env.setExit(EXIT_CODES.verification);
    });

  kubernetesFlags(
    k8s
      .command("protect")
      .description(
        "Make an asset's volumes survive the deletion of their claims (persistentVolumeReclaimPolicy Retain), recording what changed so --undo can put it back.",
      )
      .argument(
        "<asset>",
        "asset name from lifeline.yaml, bound with kubernetes: {namespace, release, pvcSelector}",
      )
      .option("--undo", "put back the reclaim policies protect changed")
      .option("-y, --yes", "do not ask (needed without a terminal)")
      .option("--dry-run", "show what would change and stop"),
  )
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Examples:
  lifeline k8s protect shop
  lifeline k8s protect shop --yes --json     # in a script
  lifeline k8s protect shop --undo

Exit codes: 0 done (or nothing to do); 1 runtime error; 2 usage error or not confirmed.
`,
    )
    .action(
      async (
        name: string,
        opts: { undo?: boolean; yes?: boolean; dryRun?: boolean; kubeconfig?: string; context?: string },
        command: Command,
      ) => {
        const options = env.globals(command);
        const loaded = load(options);
        const deps = await k8sDeps(loaded, env.signal, terminalProgress("k8s"));
        const { plan: protectPlan, cluster } = await planProtect(deps, {
          assets: boundAssets(loaded),
          kubernetes: kubernetesSettings(loaded, opts),
          asset: name,
          undo: opts.undo === true,
        });
        const show = (done: unknown[] | null) => {
          if (options.json) json({ ...protectPlan, applied: done !== null, done: done ?? [] });
        };
        if (!options.json) out(renderProtectPlan(protectPlan));
        if (protectPlan.changes.length === 0 || opts.dryRun) return show(null);
        if (!opts.yes) {
          if (!interactive()) {
            throw new LifelineError({
              code: "NOT_CONFIRMED",
              kind: "usage",
              message: "protect changes the cluster and there is no terminal to ask on",
              fix: `review the plan above, then run again with --yes: lifeline k8s protect ${name}${opts.undo ? " --undo" : ""} --yes`,
            });
          }
          if (
            !(await confirm(
              `Change ${protectPlan.changes.length} volume${protectPlan.changes.length === 1 ? "" : "s"}?`,
            ))
          ) {
            err("nothing changed");
            env.setExit(EXIT_CODES.usage);
            return show(null);
          }
        }
        const done = await applyProtect(deps, protectPlan, cluster);
        if (options.json) show(done);
        else out(renderProtectDone(protectPlan, done));
        if (done.length < protectPlan.changes.length) env.setExit(EXIT_CODES.interrupted);
      },
    );
}
