import type { Command } from "commander";
import { existsSync } from "node:fs";
import { recoveryStatus, status, type AssetStatusInput } from "../../app/status.js";
import type { AuditEntry } from "../../core/audit/chain.js";
import { redactUrl } from "../../core/redact.js";
import { recoveryState, type RecoveryState } from "../../core/restore/state.js";
import type { LoadedConfig } from "../../config/load.js";
import { resolveAsset } from "../../config/load.js";
import { parseDuration } from "../../core/duration.js";
import { activeGrants, catalogLocation, withCatalog } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { err, json, out, terminalProgress } from "../io.js";
import { renderBreakGlass } from "../render/gate.js";
import { renderStatus, statusJson } from "../render/restore-points.js";
import { asset as resolve, contextFor, load, stateDirectory } from "../wiring.js";
import { readGuardKey } from "../../app/guard.js";

const EMPTY: RecoveryState = { previous: [], standbys: [], lastRestores: [] };

/**
 * What recoveries left (standbys, previous databases, last restores) from the audit log; empty when
 * there is no catalog yet, null when it cannot be read (status shows the rest all the same).
 */
async function recordedRecovery(loaded: LoadedConfig): Promise<RecoveryState | null> {
  const location = catalogLocation(loaded);
  if (!/^postgres/.test(location) && !existsSync(location)) return EMPTY;
  try {
    const entries = await withCatalog(loaded, async (catalog) => {
      const kinds = await Promise.all(
        (["restore", "standby", "discard"] as const).map((kind) => catalog.audit({ kind })),
      );
      return kinds.flat().sort((a: AuditEntry, b: AuditEntry) => a.seq - b.seq);
    });
    return recoveryState(entries);
  } catch (error) {
    err(
      `lifeline: warning: the catalog ${redactUrl(location)} could not be read, standbys and previous databases are not shown: ${error instanceof Error ? error.message : String(error)}`,
    );
    return null;
  }
}

export function register(program: Command, env: CliEnv): void {
  program
    .command("status")
    .description(
      "Posture of every asset: newest and newest verified restore point, RPO against target, RTO from the last drill and the last restore, changes not covered, standbys and previous databases kept by in-place restores.",
    )
    .argument("[assets...]", "assets to show (default: all)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  lifeline status\n  lifeline status shop --json | jq '.assets[0].rpoSeconds'\n",
    )
    .action(async (names: string[], _opts, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const ctx = contextFor(loaded, env.signal, terminalProgress("status"));
      const wanted = names.length > 0 ? names : Object.keys(loaded.config.assets);
      const inputs: AssetStatusInput[] = wanted.map((name) => {
        const raw = loaded.config.assets[name];
        if (!raw) resolve(loaded, name); // throws ASSET_UNKNOWN with the known names
        try {
          const resolved = resolveAsset(loaded, name, process.env);
          return {
            name,
            asset: resolved,
            tier: resolved.tier,
            rpoSeconds: resolved.rpoSeconds,
            resolveError: null,
            guardKey: readGuardKey(stateDirectory(loaded), name),
          };
        } catch (error) {
          return {
            name,
            asset: null,
            tier: raw?.tier ?? "production",
            rpoSeconds: parseDuration(raw?.rpo ?? "24h") ?? 86400,
            resolveError: error instanceof Error ? error.message : String(error),
          };
        }
      });
      const [postures, grants, state] = await Promise.all([
        status(ctx, inputs),
        activeGrants(loaded),
        recordedRecovery(loaded),
      ]);
      const recovery = state
        ? await recoveryStatus(
            ctx,
            inputs.map((i) => i.name),
            state,
          )
        : null;
      if (options.json) json({ ...statusJson(postures, recovery), breakGlass: grants });
      else out([renderStatus(postures, recovery), ...renderBreakGlass(grants, new Date())].join("\n"));
    });
}
