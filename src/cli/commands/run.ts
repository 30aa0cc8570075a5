import type { Command } from "commander";
import { prepareSteps, runPrepare } from "../../app/prepare.js";
import { planRequest, runRequest, whatRuns, type RunOutcome, type RunRequest } from "../../app/run.js";
import { commandSelection } from "../../app/plan-command.js";
import { policyRules } from "../../config/load.js";
import { EXIT_CODES } from "../../core/errors.js";
import { digestOf, gateDeps, recordedRestores, withCatalog } from "../catalog.js";
import type { CliEnv } from "../env.js";

import { err, json, out, terminalProgress } from "../io.js";
import { commandPlanInputs, k8sDeps, kubernetesFlags } from "../kubernetes.js";
import { planJson } from "../render/plan.js";
import { renderRun, runJson } from "../render/run.js";
import { sqlOrCommand } from "../sql-or-command.js";
import {
  asset as resolveAsset,
  boundAssets,
  contextFor,
  kubernetesSettings,
  load,
  stateDirectory,
} from "../wiring.js";
import { readGuardKey } from "../../app/guard.js";

export function register(program: Command, env: CliEnv): void {
  kubernetesFlags(
    program
      .command("run")
      .description(
        "Plan, check every requirement (restore point, approvals, policy), re-plan to catch drift, then execute — SQL in one transaction, or the kubectl/helm command — and record everything.",
      )
      .argument("[asset]", "asset name (SQL)")
      .argument("[command...]", "after --: the kubectl or helm command")
      .option("--sql <statements>", "the SQL to run")
      .option("-f, --file <file>", "a file of SQL to run")
      .option(
        "--prepare",
        "first meet what lifeline can meet itself: a fresh restore point and a passing drill, k8s protect",
      )
      .option("--dry-run", "stop just before executing and say what would run")
      .option("--exact", "count rows exactly in the plan"),
    "commands",
  )
    .option("--json", "print one JSON document on stdout (the command's own output goes to stderr)")
    .addHelpText(
      "after",
      `
Examples:
  lifeline run shop --sql "TRUNCATE carts"
  lifeline run shop -f migrations/0042_cleanup.sql --dry-run
  lifeline run -- kubectl delete pvc data-postgresql-0 -n shop
  lifeline run --prepare -- kubectl delete pvc data-postgresql-0 -n shop

Exit codes: 0 executed (or allowed, with --dry-run); 3 blocked (requirements unmet, denied, drift);
1 the SQL or command failed (its exit code is in the output); 2 usage error.
`,
    )
    .action(
      async (
        name: string | undefined,
        _rest: string[],
        opts: {
          sql?: string;
          file?: string;
          prepare?: boolean;
          dryRun?: boolean;
          exact?: boolean;
          kubeconfig?: string;
          context?: string;
        },
        command: Command,
      ) => {
        const options = env.globals(command);
        const loaded = load(options);
        const progress = terminalProgress("run");
        const restored = recordedRestores(loaded);
        const ctx = contextFor(loaded, env.signal, progress, { restored });
        const what = await sqlOrCommand("run", name, opts, env.signal);
        let request: RunRequest;
        if (what.kind === "command") {
          const planProgress = terminalProgress("plan");
          const inputs = await commandPlanInputs(loaded, opts, env.signal, planProgress, { restored });
          // The command runs against the kubeconfig lifeline planned with (lifeline.yaml or --kubeconfig).
          const kubeconfig = inputs.options.kubernetes.kubeconfig;
          request = {
            kind: "command",
            argv: what.argv,
            planDeps: inputs.deps,
            planOptions: inputs.options,
            output: options.json ? "stderr" : "stdout",
            env: kubeconfig ? { ...process.env, KUBECONFIG: kubeconfig } : process.env,
            progress: planProgress,
            whoami: async () =>
              (await import("../../kubernetes/whoami.js")).whoami(
                commandSelection(what.argv, inputs.options),
                process.env,
              ),
          };
        } else {
          request = {
            kind: "sql",
            ctx,
            asset: resolveAsset(loaded, what.asset),
            sql: what.sql,
            exact: opts.exact === true,
            policy: policyRules(loaded),
            // A guarded database lets the run's transaction through with an approval for its plan.
            guardKey: readGuardKey(stateDirectory(loaded), what.asset),
          };
        }
        // The catalog first: if it cannot be reached, nothing (not even --prepare) happens.
        const outcome = await withCatalog(loaded, async (catalog) => {
          const deps = await gateDeps(loaded, catalog);
          if (opts.prepare) {
            const first = await planRequest(request);
            const assets = request.kind === "command" ? boundAssets(loaded) : [request.asset];
            const steps = prepareSteps(first, assets);
            if (steps.length === 0) err("prepare: nothing lifeline can meet by itself is missing");
            else {
              err(`prepare: before asking for approval, lifeline will:`);
              for (const s of steps) err(`  - ${s.command}   (${s.why})`);
              await runPrepare(
                steps,
                {
                  ctx,
                  k8s: await k8sDeps(loaded, env.signal, progress),
                  kubernetes: kubernetesSettings(loaded, opts),
                  assets,
                },
                (line) => err(line),
                async (step) => {
                  await catalog.appendAudit({
                    at: new Date().toISOString(),
                    kind: "prepare",
                    identity: deps.identity.id,
                    host: deps.identity.host,
                    asset: step.asset,
                    planId: first.planId,
                    data: { step: step.kind, command: step.command, why: step.why },
                  });
                },
              );
            }
          }
          return runRequest(deps, request, {
            document: planJson,
            dryRun: opts.dryRun === true,
            signal: env.signal,
            digest: digestOf(loaded, whatRuns(request)),
          });
        });
        if (options.json) json(runJson(outcome));
        else out(renderRun(outcome));
        env.setExit(exitFor(outcome));
      },
    );
}

/** The exit code of a run: 0 executed or allowed (--dry-run), 3 blocked, 1 failed, 130 interrupted. */
function exitFor(outcome: RunOutcome): number {
  switch (outcome.status) {
    case "executed":
    case "dry-run":
      return EXIT_CODES.ok;
    case "blocked":
    case "drift":
      return EXIT_CODES.verdict;
    case "failed":
      return EXIT_CODES.runtime;
    case "interrupted":
      return EXIT_CODES.interrupted;
  }
}
