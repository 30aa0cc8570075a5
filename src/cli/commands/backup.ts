import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load, contextFor, asset as resolve } from "../wiring.js";
import { out, json, terminalProgress } from "../io.js";
import { backup } from "../../app/backup.js";
import { backupJson, renderBackup } from "../render/restore-points.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("backup")
    .description(
      "Take a restore point: pg_dump on an exported snapshot, with per-table fingerprints of that same snapshot.",
    )
    .argument("<asset>", "asset name from lifeline.yaml")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  lifeline backup shop\n  lifeline backup shop --json | jq -r .restorePoint.id\n",
    )
    .action(async (name: string, _opts, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const ctx = contextFor(loaded, env.signal, terminalProgress(`backup ${name}`));
      const manifest = await backup(ctx, resolve(loaded, name));
      if (options.json) json(backupJson(manifest));
      else out(renderBackup(manifest));
    });
}
