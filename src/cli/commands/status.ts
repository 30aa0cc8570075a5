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
import {
  activeGrants,
  catalogLocation,
  recordedRecoveryState,
  recordedUnfinishedRuns,
  UNFINISHED_WINDOW_DAYS,
  withCatalog,
  type UnfinishedRun,
} from "../catalog.js";
import type { CliEnv } from "../env.js";
import { err, json, out, terminalProgress } from "../io.js";
import { renderBreakGlass, renderUnfinished } from "../render/gate.js";
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
 * The executions that started and recorded no outcome; none without a catalog, null when it cannot
 * be read (status shows the rest all the same).
 */
async function recordedUnfinished(loaded: LoadedConfig): Promise<UnfinishedRun[] | null> {
  try {
    return await recordedUnfinishedRuns(loaded, new Date());
  } catch (error) {
    err(
      `lifeline: warning: the catalog ${redactUrl(catalogLocation(loaded))} could not be read, executions that never finished are not shown: ${error instanceof Error ? error.message : String(error)}`,
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
      `\nExample:\n  lifeline status\n  lifeline status shop --json | jq '.assets[0].rpoSeconds'\n  lifeline status --check || page-oncall\n\nAn execution that started in the last ${UNFINISHED_WINDOW_DAYS} days and recorded no outcome (a lifeline run or k8s protect --undo killed, or still running) is listed (UNFINISHED, and .unfinished of --json) with its plan id: lifeline show <plan id> says what it ran.\n\nExit codes with --check: 0 every asset is fine, 5 a breach (listed on stderr, and in .check of --json). An unfinished execution is no breach: one still running looks the same.\n`,
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
      const [postures, grants, state, alerts, allUnfinished] = await Promise.all([
        status(ctx, inputs),
        activeGrants(loaded),
        recorded,
        opts.check ? recordedAlerts(loaded) : Promise.resolve([]),
        recordedUnfinished(loaded),
      ]);
      // Those on the assets asked for; with no asset named, also those of no asset (a kubectl command).
      const unfinished =
        allUnfinished?.filter((u) => (u.asset === null ? names.length === 0 : wanted.includes(u.asset))) ??
        null;
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
      if (options.json) {
        const doc = statusJson(postures, recovery);
        json({
          ...doc,
          assets: doc.assets.map((a) => ({
            ...a,
            unfinished: unfinished?.filter((u) => u.asset === a.name).map(unfinishedJson) ?? null,
          })),
          unfinished: unfinished?.map(unfinishedJson) ?? null,
          breakGlass: grants,
          ...(check ? { check } : {}),
        });
      } else
        out(
          [
            renderStatus(postures, recovery),
            ...renderUnfinished(unfinished ?? []),
            ...renderBreakGlass(grants, new Date()),
          ].join("\n"),
        );
      if (check && !check.ok) {
        if (!options.json) for (const b of breaches) err(`lifeline: BREACH: ${b.message}`);
        env.setExit(EXIT_CODES.breach);
      }
    });
}

function unfinishedJson(u: UnfinishedRun) {
  return {
    planId: u.planId,
    asset: u.asset,
    command: u.command,
    startedBy: u.identity,
    startedAt: u.at,
    auditSeq: u.seq,
    show: `lifeline show ${u.planId.slice(0, 12)}`,
  };
}
