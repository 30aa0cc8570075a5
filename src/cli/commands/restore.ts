import type { Command } from "commander";
import { restore, type RestoreOutcome } from "../../app/restore.js";
import { interpolate, policyRules } from "../../config/load.js";
import { EXIT_CODES, LifelineError } from "../../core/errors.js";
import { redactUrl } from "../../core/redact.js";
import { restoreCommand, type RestoreCommand, type RestoreFlags } from "../../core/restore/options.js";
import { gateDeps, recordedRestores, withCatalog } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { json, out, terminalProgress } from "../io.js";
import { planJson } from "../render/plan.js";
import { renderRestore, restoreJson } from "../render/restore.js";
import { asset as resolveAsset, contextFor, load } from "../wiring.js";

/** The command as a plan shows it: canonical, the target without its password. */
export function restoreCommandText(asset: string, command: RestoreCommand): string {
  const parts = ["lifeline", "restore", asset];
  const a = command.action;
  if (a.kind === "into") parts.push("--to", redactUrl(a.to), ...(a.replace ? ["--replace"] : []));
  if (a.kind === "tables") {
    if (a.tables.length > 0) parts.push("--tables", a.tables.join(","));
    if (a.schemas.length > 0) parts.push("--schema", a.schemas.join(","));
    if (a.to !== null) parts.push("--to", redactUrl(a.to));
  }
  if (a.kind === "in-place") parts.push("--in-place");
  if (a.kind === "discard-previous") parts.push("--discard-previous");
  if (command.restorePointId) parts.push("--restore-point", command.restorePointId);
  if (command.unverified) parts.push("--unverified");
  return parts.join(" ");
}

export function register(program: Command, env: CliEnv): void {
  program
    .command("restore")
    .description(
      "Restore a verified restore point: into a new or empty database (--to), only some tables (--tables, --schema), or in place (--in-place, the current database kept); proven by fingerprints like a drill. Whatever replaces data goes through the gate.",
    )
    .argument("<asset>", "asset name from lifeline.yaml")
    .option(
      "--to <url>",
      "the database to restore into (created when it does not exist); ${VAR} references are expanded",
    )
    .option("--replace", "with --to: replace the data the target holds (a destructive plan through the gate)")
    .option("--tables <list>", "only these tables, comma-separated (schema.table)")
    .option("--schema <list>", "only the tables of these schemas, comma-separated")
    .option(
      "--in-place",
      "replace the asset's own database (through the gate); the current one is kept as <db>_before_<id>",
    )
    .option("--discard-previous", "drop the database an in-place restore kept (through the gate)")
    .option("--restore-point <id>", "restore this restore point (default: the newest verified)")
    .option("--unverified", "allow a restore point that no drill proved (said loudly, recorded)")
    .option("--dry-run", "check everything (and the gate) and stop just before restoring")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Examples:
  lifeline restore shop --to 'postgres://admin:\${PW}@db2:5432/shop_copy'          # a new or empty database
  lifeline restore shop --to 'postgres://admin:\${PW}@db2:5432/shop_copy' --replace # its data replaced (gated)
  lifeline restore shop --tables public.products                                  # back into shop's database (gated)
  lifeline restore shop --schema sales --to 'postgres://admin:\${PW}@db2:5432/sales_copy'
  lifeline restore shop --in-place                                                # gated; previous database kept
  lifeline restore shop --discard-previous                                        # drop it (gated)
  lifeline restore shop --discard-previous --restore-point 20261126T102040Z-3fa9c1 # the one that restore kept
  lifeline restore shop --to postgres://… --restore-point 20261126T102040Z-3fa9c1 --unverified

The source is the newest verified restore point unless --restore-point names another. Its artifacts'
checksums, pg_restore and the target's server version are checked before any target is touched.
Restored tables are fingerprinted and compared with the restore point, as a drill does.

--to takes \${VAR} references like lifeline.yaml (in single quotes, the password stays out of the
command line and the shell history); an unset variable is an error.

Exit codes: 0 restored and verified (or --dry-run: allowed); 2 usage (a wrong combination, a target
that is not empty, an unverified restore point without --unverified); 3 blocked by the gate (approve
it, then run the same command again); 4 the restore point is corrupt or the restored copy does not
match (nothing of the target was replaced); 1 another failure (unreachable, busy); 130 interrupted.
`,
    )
    .action(async (name: string, opts: RestoreFlags & { dryRun?: boolean }, command: Command) => {
      const options = env.globals(command);
      // Wrong combinations and bad ids are refused before anything is read or touched. --to takes
      // ${VAR} as standby --to and lifeline.yaml do: a single-quoted '${PW}' keeps the password off
      // the command line (an unset variable is an error, never the literal text).
      const to = opts.to === undefined ? undefined : interpolate(opts.to, "--to", process.env);
      const parsed = restoreCommand(name, { ...opts, to });
      const loaded = load(options);
      const ctx = contextFor(loaded, env.signal, terminalProgress(`restore ${name}`), {
        restored: recordedRestores(loaded),
      });
      const asset = resolveAsset(loaded, name);
      const outcome = await withCatalog(loaded, async (catalog) =>
        restore(ctx, await gateDeps(loaded, catalog), {
          asset,
          command: parsed,
          commandText: restoreCommandText(name, parsed),
          policy: policyRules(loaded),
          dryRun: opts.dryRun === true,
          document: planJson,
        }),
      );
      if (outcome.status === "restored" && !outcome.result.verified) {
        const r = outcome.result;
        const error = new LifelineError({
          code: "RESTORE_VERIFY_FAILED",
          kind: "verification",
          message: `the restored ${r.mode === "tables" ? "tables do" : "copy does"} not match restore point ${r.restorePointId}: ${r.mismatches.length} mismatch${r.mismatches.length === 1 ? "" : "es"}`,
          details: r.mismatches.map((m) => `${m.object}: ${m.message}`),
          fix:
            r.mode === "tables"
              ? `the tables were restored but differ: check them (or drop them), then drill the restore point: lifeline drill ${name} --restore-point ${r.restorePointId}`
              : `nothing was swapped in: the target is as it was; drill the restore point (lifeline drill ${name} --restore-point ${r.restorePointId}) and run lifeline check`,
        });
        if (options.json) {
          // One JSON document: the result and the error together.
          json({
            ...restoreJson(outcome),
            error: {
              code: error.code,
              message: error.message,
              fix: error.fix ?? null,
              details: error.details,
            },
          });
          env.setExit(EXIT_CODES.verification);
          return;
        }
        out(renderRestore(outcome));
        throw error;
      }
      if (options.json) json(restoreJson(outcome));
      else out(renderRestore(outcome));
      env.setExit(exitFor(outcome));
    });
}

function exitFor(outcome: RestoreOutcome): number {
  if (outcome.status !== "gated") return EXIT_CODES.ok;
  switch (outcome.gate.status) {
    case "dry-run":
    case "executed":
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
