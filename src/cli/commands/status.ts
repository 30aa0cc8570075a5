import type { Command } from "commander";
import { existsSync } from "node:fs";
import {
  recoveryStatus,
  restoredInto,
  status,
  statusInputs,
  type AssetStatusInput,
} from "../../app/status.js";
import { openAlerts, postureBreaches, type OpenAlert } from "../../core/posture/check.js";
import { EXIT_CODES } from "../../core/errors.js";
import { redactUrl } from "../../core/redact.js";
import type { RecoveryState } from "../../core/restore/state.js";
import type { LoadedConfig } from "../../config/load.js";
import { activeGrants, catalogLocation, recordedRecoveryState, withCatalog } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { err, json, out, terminalProgress } from "../io.js";
import { renderBreakGlass } from "../render/gate.js";
import { renderStatus, statusJson } from "../render/restore-points.js";
import { contextFor, load, stateDirectory } from "../wiring.js";
import { readGuardKey } from "../../app/guard.js";

/**
 * What recoveries left (standbys, previous databases, last restores) from the audit log; empty when
 * there is no catalog yet, null when it cannot be read (status shows the rest all the same).
 */
async function recordedRecovery(loaded: LoadedConfig): Promise<RecoveryState | null> {
  try {
    return await recordedRecoveryState(loaded);
  } catch (error) {
    err(
      `lifeline: warning: the catalog ${redactUrl(catalogLocation(loaded))} could not be read, standbys and previous databases are not shown: ${error instanceof Error ? error.message : String(error)}`,
    );
    return null;
  }
}

/**
 * The alerts open in the audit log; none without a catalog. A catalog that cannot be read fails
 * the check: an unknown state is not a healthy one.
 */
async function recordedAlerts(loaded: LoadedConfig): Promise<OpenAlert[]> {
  const location = catalogLocation(loaded);
  if (!/^postgres/.test(location) && !existsSync(location)) return [];
  return withCatalog(loaded, async (catalog) => openAlerts(await catalog.latestAlerts()));
}

export function register(program: Command, env: CliEnv): void {
  program
    .command("status")
    .description(
      "Posture of every asset: newest and newest verified restore point, RPO against target, RTO from the last drill and the last restore, changes not covered, standbys and previous databases kept by in-place restores.",
    )
    .argument("[assets...]", "assets to show (default: all)")
    .option("--json", "print one JSON document on stdout")
    .option(
      "--check",
      "exit 5 when any asset breaches its RPO, its last drill failed, or an alert about it is open (a drop detected, a scheduled job that failed); for cron jobs and CI",
    )
    .addHelpText(
      "after",
      "\nExample:\n  lifeline status\n  lifeline status shop --json | jq '.assets[0].rpoSeconds'\n  lifeline status --check || page-oncall\n\nExit codes with --check: 0 every asset is fine, 5 a breach (listed on stderr, and in .check of --json).\n",
    )
    .action(async (names: string[], opts: { check?: boolean }, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const ctx = contextFor(loaded, env.signal, terminalProgress("status"));
      const wanted = names.length > 0 ? names : Object.keys(loaded.config.assets);
      // Read while the assets are; their tables restored (--tables) count changes from the restore.
      const recorded = recordedRecovery(loaded);
      const inputs: AssetStatusInput[] = statusInputs(loaded, wanted).map((input) => {
        const restored = restoredInto(recorded, input.name);
        return input.asset
          ? { ...input, guardKey: readGuardKey(stateDirectory(loaded), input.name), restored }
          : input;
      });
      const [postures, grants, state, alerts] = await Promise.all([
        status(ctx, inputs),
        activeGrants(loaded),
        recorded,
        opts.check ? recordedAlerts(loaded) : Promise.resolve([]),
      ]);
      const breaches = opts.check ? postureBreaches(postures, alerts) : [];
      const recovery = state
        ? await recoveryStatus(
            ctx,
            inputs.map((i) => i.name),
            state,
            inputs.flatMap((i) => (i.asset ? [i.asset] : [])),
          )
        : null;
      const check = opts.check
        ? {
            ok: breaches.length === 0,
            breaches,
            alerts: alerts.filter((a) => wanted.includes(a.asset ?? "")),
          }
        : undefined;
      if (options.json)
        json({ ...statusJson(postures, recovery), breakGlass: grants, ...(check ? { check } : {}) });
      else out([renderStatus(postures, recovery), ...renderBreakGlass(grants, new Date())].join("\n"));
      if (check && !check.ok) {
        if (!options.json) for (const b of breaches) err(`lifeline: BREACH: ${b.message}`);
        env.setExit(EXIT_CODES.breach);
      }
    });
}
