import type { Command } from "commander";
import { status, type AssetStatusInput } from "../../app/status.js";
import { resolveAsset } from "../../config/load.js";
import { parseDuration } from "../../core/duration.js";
import { activeGrants } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { json, out, terminalProgress } from "../io.js";
import { renderBreakGlass } from "../render/gate.js";
import { renderStatus, statusJson } from "../render/restore-points.js";
import { asset as resolve, contextFor, load } from "../wiring.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("status")
    .description(
      "Posture of every asset: newest and newest verified restore point, RPO against target, RTO from the last drill, changes not covered.",
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
      const [postures, grants] = await Promise.all([status(ctx, inputs), activeGrants(loaded)]);
      if (options.json) json({ ...statusJson(postures), breakGlass: grants });
      else out([renderStatus(postures), ...renderBreakGlass(grants, new Date())].join("\n"));
    });
}
