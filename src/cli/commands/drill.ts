import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load, contextFor, asset as resolve } from "../wiring.js";
import { copyVerified } from "../../app/copy.js";
import { EXIT_CODES } from "../../core/errors.js";
import { out, json, terminalProgress } from "../io.js";
import { drill } from "../../app/drill.js";
import { drillJson, renderDrill } from "../render/restore-points.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("drill")
    .description(
      "Restore a restore point into a scratch instance, recompute fingerprints, compare; it becomes verified only if all match.",
    )
    .argument("<asset>", "asset name from lifeline.yaml")
    .option("--restore-point <id>", "restore point to drill (default: the newest)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  lifeline drill shop\n  lifeline drill shop --restore-point 20261126T102040Z-3fa9c1 --json\n\nExit code 4 when the drill fails (mismatch, corrupt artifact, restore error).\n",
    )
    .action(async (name: string, opts: { restorePoint?: string }, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const ctx = contextFor(loaded, env.signal, terminalProgress(`drill ${name}`));
      const report = await drill(ctx, resolve(loaded, name), opts.restorePoint);
      // copies: a verified restore point (and its drill reports) goes to each second repository.
      const copies = report.result === "passed" ? await copyVerified(ctx, name, report.restorePointId) : [];
      for (const c of copies) {
        if (c.error !== undefined) env.setExit(EXIT_CODES.runtime);
        else if ((c.result?.skipped.length ?? 0) > 0) env.setExit(EXIT_CODES.verification);
      }
      if (options.json) json(copies.length > 0 ? { ...drillJson(report), copies } : drillJson(report));
      else {
        out(renderDrill(report, await ctx.repository.getRestorePoint(name, report.restorePointId)));
        for (const c of copies)
          out(
            c.result
              ? `copied to ${c.to}: ${c.result.copied.length + c.result.present.length === 1 ? "the restore point" : "nothing"}${c.result.skipped.length > 0 ? " (NOT copied: its artifacts do not match)" : ""}, ${c.result.drillReports} drill report(s)`
              : `NOT copied to ${c.to}: ${c.error ?? ""}`,
          );
      }
      if (report.result !== "passed") env.setExit(EXIT_CODES.verification);
    });
}
