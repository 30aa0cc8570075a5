import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load, loadOptional, boundAssets, kubernetesSettings, secretDigest } from "../wiring.js";
import { LifelineError, EXIT_CODES } from "../../core/errors.js";
import { confirm, err, interactive, json, out, terminalProgress } from "../io.js";
import { scan, planProtect, applyProtect, type K8sDeps } from "../../app/k8s.js";
import { unprotect, type UnprotectStatus } from "../../app/k8s-unprotect.js";
import { policyRules, type LoadedConfig } from "../../config/load.js";
import { gateDeps, withCatalog } from "../catalog.js";
import {
  renderScan,
  scanJson,
  renderProtectPlan,
  renderProtectDone,
  renderUnprotectPlans,
  renderUnprotectResult,
  unprotectJson,
} from "../render/k8s.js";
import { planJson } from "../render/plan.js";
import { commandPlanInputs, k8sDeps, kubernetesFlags } from "../kubernetes.js";
import { stringify as toYaml } from "yaml";
import { CATALOG_SECRET, CONFIG_MAP, DEFAULT_IMAGE } from "../../app/k8s-install-names.js";
import { objectLabel, type InstallObject } from "../../ports/installer.js";

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
  lifeline k8s protect shop --undo  # put back what protect changed (through the gate)
  lifeline k8s install | kubectl create -f -   # the admission webhook (lifeline serve) in the cluster
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
      .option(
        "--undo",
        "put back the reclaim policies protect changed, through the gate: each volume is planned as its kubectl patch and needs what the policy asks (on production, another person's approval)",
      )
      .option("-y, --yes", "do not ask (needed without a terminal)")
      .option("--dry-run", "show what would change (with --undo: the plans and their verdicts) and stop"),
  )
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Examples:
  lifeline k8s protect shop
  lifeline k8s protect shop --yes --json     # in a script
  lifeline k8s protect shop --undo --dry-run  # the plans, recorded: another person approves them
  lifeline k8s protect shop --undo --yes

Exit codes: 0 done (or nothing to do, also when another --undo at the same time put every volume
back, or allowed with --dry-run); 3 --undo blocked by the gate
(nothing changed; each plan's approve command is printed); 1 runtime error; 2 usage error or not
confirmed.
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
        if (opts.undo) return undoProtect(env, loaded, deps, name, opts, options.json === true);
        const { plan: protectPlan, cluster } = await planProtect(deps, {
          assets: boundAssets(loaded),
          kubernetes: kubernetesSettings(loaded, opts),
          asset: name,
          undo: false,
        });
        const show = (done: unknown[] | null) => {
          if (options.json) json({ ...protectPlan, applied: done !== null, done: done ?? [] });
        };
        if (!options.json) out(renderProtectPlan(protectPlan));
        if (protectPlan.changes.length === 0) return show(null);
        if (opts.dryRun) {
          if (!options.json) out(`DRY RUN: nothing changed; to apply: lifeline k8s protect ${name} --yes`);
          return show(null);
        }
        if (!opts.yes) {
          if (!interactive()) {
            throw new LifelineError({
              code: "NOT_CONFIRMED",
              kind: "usage",
              message: "protect changes the cluster and there is no terminal to ask on",
              fix: `review the plan above, then run again with --yes: lifeline k8s protect ${name} --yes`,
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

  kubernetesFlags(
    k8s
      .command("install")
      .description(
        "Print the objects that run `lifeline serve` in the cluster as the validating admission webhook (namespace, service account, least RBAC, starter config, TLS, Deployment, Service, ValidatingWebhookConfiguration) as YAML, or create them with --apply.",
      )
      .option("-n, --namespace <namespace>", "namespace for lifeline itself", "lifeline")
      .option("--image <image>", "the lifeline image (built from the repository's Dockerfile)", DEFAULT_IMAGE)
      .option("--replicas <n>", "webhook replicas", "2")
      .option(
        "--cert-manager",
        "TLS from cert-manager (Issuer + Certificate, CA injected) instead of a certificate generated now",
      )
      .option("--apply", "create the objects in the cluster (existing ones are reported, not overwritten)")
      .option("-y, --yes", "with --apply: do not ask (needed without a terminal)"),
  )
    .option("--json", "print the objects as one JSON list")
    .addHelpText(
      "after",
      `
Examples:
  lifeline k8s install > lifeline-webhook.yaml && kubectl create -f lifeline-webhook.yaml
  lifeline k8s install --image registry.example.com/lifeline:0.1.0 --cert-manager | kubectl create -f -
  lifeline k8s install --apply            # shows the objects, asks, creates them

Before the pods start: kubectl -n lifeline create secret generic ${CATALOG_SECRET} --from-literal=url=postgres://…
(the catalog), then edit the assets in the ConfigMap ${CONFIG_MAP}. The generated certificate is new
on every run: keep the output you applied.

Exit codes: 0 printed or created; 1 runtime error; 2 usage error or not confirmed.
`,
    )
    .action(
      async (
        opts: {
          namespace: string;
          image: string;
          replicas: string;
          certManager?: boolean;
          apply?: boolean;
          yes?: boolean;
          kubeconfig?: string;
          context?: string;
        },
        command: Command,
      ) => {
        const options = env.globals(command);
        if (opts.yes && !opts.apply) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: "--yes goes with --apply",
            fix: "lifeline k8s install --apply --yes",
          });
        }
        // Loaded here: its certificate code is not needed by any other command (see k8s-install-names.ts).
        const { applyInstall, checkNoOtherInstall, installObjects, matchWebhookTls } =
          await import("../../app/k8s-install.js");
        let objects = installObjects({
          namespace: opts.namespace,
          image: opts.image,
          replicas: /^\d+$/.test(opts.replicas) ? Number(opts.replicas) : NaN,
          certManager: opts.certManager === true,
        });
        if (!opts.apply) {
          if (options.json) json(objects);
          else process.stdout.write(installYaml(objects, opts.namespace));
          return;
        }
        const loaded = loadOptional(options);
        const selection = kubernetesSettings(loaded, opts);
        const { objectCreator } = await import("../../kubernetes/install.js");
        const { context, create, read } = objectCreator(selection);
        await checkNoOtherInstall(objects, read, opts.namespace, context);
        objects = await matchWebhookTls(objects, read, opts.namespace);
        if (!options.json) {
          out(`lifeline k8s install on context "${context}" creates:`);
          for (const o of objects) out(`  ${objectLabel(o)}`);
        }
        if (!opts.yes) {
          if (!interactive()) {
            throw new LifelineError({
              code: "NOT_CONFIRMED",
              kind: "usage",
              message: "install changes the cluster and there is no terminal to ask on",
              fix: "review the objects (lifeline k8s install prints them), then run again with --apply --yes",
            });
          }
          if (!(await confirm(`Create ${objects.length} objects on context "${context}"?`))) {
            err("nothing created");
            env.setExit(EXIT_CODES.usage);
            return;
          }
        }
        const results = await applyInstall(objects, create, (r) => {
          if (!options.json) out(`  ${r.outcome === "created" ? "created" : "exists, kept"}  ${r.object}`);
        });
        if (options.json) json({ context, applied: true, objects: results });
        else
          out(
            `\n${results.filter((r) => r.outcome === "created").length} created, ${results.filter((r) => r.outcome === "exists").length} already there (not changed).\n` +
              `Next: kubectl -n ${opts.namespace} create secret generic ${CATALOG_SECRET} --from-literal=url=postgres://…\n` +
              `      kubectl -n ${opts.namespace} edit configmap ${CONFIG_MAP}   # your assets`,
          );
      },
    );
}

/**
 * `k8s protect ASSET --undo`: each volume's way back to Delete is planned as its kubectl command and
 * goes through the gate (app/k8s-unprotect.ts); blocked: exit 3, each plan's approve command.
 */
async function undoProtect(
  env: CliEnv,
  loaded: LoadedConfig,
  deps: K8sDeps,
  name: string,
  opts: { yes?: boolean; dryRun?: boolean; kubeconfig?: string; context?: string },
  asJson: boolean,
): Promise<void> {
  const inputs = await commandPlanInputs(loaded, opts, env.signal, terminalProgress("plan"));
  const digest = secretDigest(loaded);
  let shown = false;
  const result = await withCatalog(loaded, async (catalog) =>
    unprotect(
      {
        k8s: deps,
        plan: inputs.deps,
        gate: await gateDeps(loaded, catalog),
        whoami: async (selection) =>
          (await import("../../kubernetes/whoami.js")).whoami(selection, process.env),
      },
      {
        assets: boundAssets(loaded),
        kubernetes: kubernetesSettings(loaded, opts),
        asset: name,
        policy: policyRules(loaded),
        ...(digest ? { digest } : {}),
        dryRun: opts.dryRun === true,
        document: planJson,
        ...(opts.yes
          ? {}
          : {
              confirm: async (checked) => {
                if (!interactive()) {
                  throw new LifelineError({
                    code: "NOT_CONFIRMED",
                    kind: "usage",
                    message: "undoing protect changes the cluster and there is no terminal to ask on",
                    fix: `run it with --dry-run to see the plans, then again with --yes: lifeline k8s protect ${name} --undo --yes`,
                  });
                }
                if (!asJson) {
                  out(renderUnprotectPlans(checked));
                  shown = true;
                }
                return confirm(
                  `Put back ${checked.volumes.length} volume${checked.volumes.length === 1 ? "" : "s"} to Delete?`,
                );
              },
            }),
      },
    ),
  );
  if (asJson) json(unprotectJson(result));
  else {
    const lines = [shown ? null : renderUnprotectPlans(result), renderUnprotectResult(result)];
    out(lines.filter((l): l is string => l !== null && l !== "").join("\n\n"));
  }
  const exit: Record<UnprotectStatus, number> = {
    nothing: EXIT_CODES.ok,
    "done-by-another": EXIT_CODES.ok,
    executed: EXIT_CODES.ok,
    "dry-run": EXIT_CODES.ok,
    blocked: EXIT_CODES.verdict,
    "not-confirmed": EXIT_CODES.usage,
    failed: EXIT_CODES.runtime,
    interrupted: EXIT_CODES.interrupted,
  };
  env.setExit(exit[result.status]);
}

/** The objects as YAML documents, with a header saying what the user still has to do. */
export function installYaml(objects: readonly InstallObject[], namespace: string): string {
  const header = [
    "# lifeline admission webhook (lifeline k8s install). Create with: kubectl create -f FILE",
    `# Then: kubectl -n ${namespace} create secret generic ${CATALOG_SECRET} --from-literal=url=postgres://USER:PASSWORD@HOST:5432/lifeline`,
    `#       kubectl -n ${namespace} edit configmap ${CONFIG_MAP}   # the assets the webhook protects`,
    "# failurePolicy is Fail: while no replica is ready, the deletions it judges are refused.",
  ].join("\n");
  return header + "\n" + objects.map((o) => "---\n" + toYaml(o, { lineWidth: 0 })).join("") + "";
}
