import type { Command } from "commander";
import { guardState, installGuard, previewGuardInstall, uninstallGuard } from "../../app/guard.js";
import { guardMassChange, policyRules } from "../../config/load.js";
import { EXIT_CODES, LifelineError } from "../../core/errors.js";
import type { GuardState } from "../../ports/engine.js";
import { gateDeps, withCatalog } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { confirm, err, interactive, json, out, terminalProgress } from "../io.js";
import { planJson } from "../render/plan.js";
import { renderRun, runJson } from "../render/run.js";
import { asset as resolveAsset, contextFor, load, stateDirectory } from "../wiring.js";

export function register(program: Command, env: CliEnv): void {
  const guard = program
    .command("guard")
    .description(
      "Enforce lifeline's decision inside PostgreSQL: DROP, TRUNCATE, lossy column changes and mass DELETE/UPDATE from any client (psql, migrations, jobs) need a plan approved through lifeline.",
    )
    .addHelpText(
      "after",
      `
Examples:
  lifeline guard install shop --admin-url postgres://postgres@db:5432/shop
  lifeline guard status shop --json
  lifeline guard uninstall shop --admin-url postgres://postgres@db:5432/shop
`,
    );

  guard
    .command("install")
    .description(
      "Install (or reinstall) the guard in the asset's database: shows the SQL first, asks on a terminal (else needs --yes). Needs a superuser: --admin-url when the asset's role is not one.",
    )
    .argument("<asset>", "asset name from lifeline.yaml")
    .option("--admin-url <url>", "a superuser's connection to the same server (for this step only)")
    .option("-y, --yes", "do not ask (needed without a terminal)")
    .option("--json", "print one JSON document on stdout (the guard's state after install)")
    .addHelpText(
      "after",
      `
Examples:
  lifeline guard install shop
  lifeline guard install shop --admin-url postgres://postgres@db:5432/shop --yes

Exit codes: 0 installed; 1 runtime error; 2 usage error, not a superuser, or not confirmed.
`,
    )
    .action(async (name: string, opts: { adminUrl?: string; yes?: boolean }, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const asset = resolveAsset(loaded, name);
      const ctx = contextFor(loaded, env.signal, terminalProgress("guard"));
      const preview = previewGuardInstall(ctx, asset, guardMassChange(loaded, asset), policyRules(loaded));
      // The SQL first, always on stderr when stdout carries JSON.
      (options.json ? err : out)(preview.sql);
      if (!preview.policyRequiresApproval)
        err(
          `lifeline: warning: the policy asks no approval for destroying ${name}'s data (tier ${asset.tier}); the guard still refuses destruction that does not go through lifeline run`,
        );
      if (!opts.yes) {
        if (!interactive()) {
          throw new LifelineError({
            code: "NOT_CONFIRMED",
            kind: "usage",
            message: "install changes the database and there is no terminal to ask on",
            fix: `review the SQL above, then run again with --yes: lifeline guard install ${name} --yes`,
          });
        }
        if (!(await confirm(`Install the guard in ${name}'s database?`))) {
          err("nothing changed");
          env.setExit(EXIT_CODES.usage);
          return;
        }
      }
      const state = await withCatalog(loaded, async (catalog) =>
        installGuard(
          { ctx, gate: await gateDeps(loaded, catalog), stateDir: stateDirectory(loaded) },
          asset,
          preview,
          opts.adminUrl ?? null,
        ),
      );
      if (options.json) json({ asset: name, installed: true, state });
      else out(`Installed the guard on ${name}.\n${renderGuardState(name, state)}`);
    });

  guard
    .command("status")
    .description(
      "Is the guard installed and enabled, does its key match lifeline's, which tables or triggers it does not cover, what it cannot stop by design (not covered: large objects, mass changes split over transactions …), and who can DROP DATABASE (the guard cannot stop that).",
    )
    .argument("[asset]", "asset name (default: every postgres asset)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Examples:
  lifeline guard status shop
  lifeline guard status --json

Exit codes: 0 installed and complete; 4 not installed or weakened (a problem is listed); 1 runtime error.
`,
    )
    .action(async (name: string | undefined, _opts: unknown, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const ctx = contextFor(loaded, env.signal, terminalProgress("guard"));
      const names = name ? [name] : Object.keys(loaded.config.assets);
      const states: { asset: string; state: GuardState }[] = [];
      for (const n of names) {
        const asset = resolveAsset(loaded, n);
        if (!ctx.engine(asset.engine).guard) continue;
        states.push({ asset: n, state: await guardState(ctx, asset, stateDirectory(loaded)) });
      }
      if (options.json) json({ assets: states });
      else out(states.map((s) => renderGuardState(s.asset, s.state)).join("\n\n"));
      if (states.some((s) => !s.state.installed || s.state.problems.length > 0))
        env.setExit(EXIT_CODES.verification);
    });

  guard
    .command("uninstall")
    .description(
      "Remove the guard. Removing protection goes through the gate (operation guard-uninstall): on production it needs another person's approval of the plan, like lifeline run.",
    )
    .argument("<asset>", "asset name from lifeline.yaml")
    .option("--admin-url <url>", "a superuser's connection to the same server")
    .option("--dry-run", "stop just before removing it")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Examples:
  lifeline guard uninstall shop --admin-url postgres://postgres@db:5432/shop

Exit codes: 0 removed (or allowed, with --dry-run); 3 blocked (approval needed); 1 runtime error.
`,
    )
    .action(async (name: string, opts: { adminUrl?: string; dryRun?: boolean }, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const asset = resolveAsset(loaded, name);
      const ctx = contextFor(loaded, env.signal, terminalProgress("guard"));
      const outcome = await withCatalog(loaded, async (catalog) =>
        uninstallGuard({ ctx, gate: await gateDeps(loaded, catalog) }, asset, {
          adminUrl: opts.adminUrl ?? null,
          policy: policyRules(loaded),
          commandText: `lifeline guard uninstall ${name}`,
          dryRun: opts.dryRun === true,
          document: planJson,
        }),
      );
      if (options.json) json(runJson(outcome));
      else out(renderRun(outcome));
      env.setExit(
        outcome.status === "executed" || outcome.status === "dry-run"
          ? EXIT_CODES.ok
          : outcome.status === "failed"
            ? EXIT_CODES.runtime
            : EXIT_CODES.verdict,
      );
    });
}

export function renderGuardState(asset: string, s: GuardState): string {
  const lines: string[] = [];
  if (!s.installed) {
    lines.push(`${asset}: no database guard. Install it: lifeline guard install ${asset}`);
  } else {
    lines.push(
      `${asset}: database guard version ${s.version ?? "?"} for ${s.asset ?? "?"} (${s.tier ?? "?"}), ${s.problems.length === 0 ? "complete" : `${s.problems.length} problem${s.problems.length === 1 ? "" : "s"}`}`,
    );
    lines.push(
      `  event triggers: ${s.eventTriggers.map((e) => `${e.name} ${e.enabled ? "enabled" : "DISABLED"}`).join(", ") || "none"}`,
    );
    lines.push(
      `  key: ${s.keyMatches === null ? "not compared" : s.keyMatches ? "matches lifeline's" : "DOES NOT MATCH lifeline's"}`,
    );
    lines.push(
      `  mass DELETE/UPDATE check: ${s.massChange ? `more than ${s.massChange.rows} rows${s.massChange.percent !== null ? `, or ${s.massChange.percent}% of the table above ${s.massChange.minRows} rows` : ""}` : "off"}`,
    );
    for (const p of s.problems) lines.push(`  problem: ${p}`);
    for (const n of s.notCovered) lines.push(`  not covered: ${n}`);
  }
  lines.push(
    `  DROP DATABASE cannot be refused inside PostgreSQL; who can drop it: ${s.canDropDatabase.map((r) => `${r.role} (${r.why})`).join(", ") || "?"}. Keep application roles out of that list (not the owner, not a member of the owner role, not superusers).`,
  );
  return lines.join("\n");
}
