import type { Command } from "commander";
import { planCommand } from "../../app/plan-command.js";
import type { Plan } from "../../core/plan/plan.js";
import { plan } from "../../app/plan.js";
import { policyRules } from "../../config/load.js";
import { EXIT_CODES } from "../../core/errors.js";
import { recordShownPlan, recordedRestores } from "../catalog.js";
import type { CliEnv } from "../env.js";

import { json, out, terminalProgress } from "../io.js";
import { commandPlanInputs, kubernetesFlags } from "../kubernetes.js";
import { planJson, renderPlan } from "../render/plan.js";
import { sqlOrCommand } from "../sql-or-command.js";
import { asset as resolve, contextFor, load, loadOptional } from "../wiring.js";

export function register(program: Command, env: CliEnv): void {
  kubernetesFlags(
    program
      .command("plan")
      .description(
        "Show the blast radius of SQL, kubectl or helm before it runs: what it destroys, what goes with it, who depends on it, how you would get it back, and the policy verdict. Read-only.",
      )
      .usage("<asset> (--sql <statements> | -f <file>) | -- <kubectl|helm command>")
      .argument("[asset]", "asset name from lifeline.yaml (SQL plans)")
      .argument("[command...]", "after --: the kubectl or helm command to plan")
      .option("--sql <statements>", "the SQL to plan")
      .option("-f, --file <file>", "a file of SQL to plan (- for standard input)")
      .option("--exact", "count rows exactly instead of using the planner's estimates"),
    "command plans",
  )
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
lifeline's own options go before --, the command after it.

Examples:
  lifeline plan shop --sql "DROP TABLE products CASCADE"
  lifeline plan shop -f migrations/0042_cleanup.sql --json
  git diff --name-only main | grep '\\.sql$' | xargs -n1 lifeline plan shop -f
  lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop
  lifeline plan --json -- kubectl delete pvc,sts -l app.kubernetes.io/instance=postgresql -nshop
  lifeline plan -- helm uninstall postgresql -n shop

Exit codes: 0 verdict allow; 3 verdict require or deny; 1 runtime error; 2 usage error.
`,
    )
    .action(
      async (
        name: string | undefined,
        _rest: string[],
        opts: { sql?: string; file?: string; exact?: boolean; kubeconfig?: string; context?: string },
        command: Command,
      ) => {
        const options = env.globals(command);
        const what = await sqlOrCommand("plan", name, opts, env.signal);
        let result: Plan;
        if (what.kind === "command") {
          const loaded = loadOptional(options);
          const progress = terminalProgress("plan");
          progress.phase("reading the cluster");
          const { deps, options: planOptions } = await commandPlanInputs(
            loaded,
            opts,
            env.signal,
            progress,
            loaded ? { restored: recordedRestores(loaded) } : {},
          );
          result = await recordShownPlan(loaded, await planCommand(deps, what.argv, planOptions));
        } else {
          const loaded = load(options);
          const ctx = contextFor(loaded, env.signal, terminalProgress(`plan ${what.asset}`), {
            restored: recordedRestores(loaded),
          });
          result = await recordShownPlan(
            loaded,
            await plan(ctx, resolve(loaded, what.asset), what.sql, {
              exact: opts.exact === true,
              policy: policyRules(loaded),
            }),
          );
        }
        if (options.json) json(planJson(result));
        else out(renderPlan(result));
        env.setExit(result.verdict === "allow" ? EXIT_CODES.ok : EXIT_CODES.verdict);
      },
    );
}
