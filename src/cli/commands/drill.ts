import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load, contextFor, asset as resolve, refusePlaintextCopy, repositoryAt } from "../wiring.js";
import { copyRepository, type CopyResult } from "../../app/copy.js";
import { EXIT_CODES, LifelineError } from "../../core/errors.js";
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
      const copies: { to: string; result?: CopyResult; error?: string }[] = [];
      if (report.result === "passed")
        for (const copy of loaded.config.copies ?? []) {
          const to = repositoryAt(loaded, copy.url, copy.encryption?.passphrase, loaded.dir);
          try {
            await refusePlaintextCopy(ctx.repository, to, {
              passphrase: copy.encryption?.passphrase,
              allowPlaintext: copy.allowPlaintext === true,
              fix: `give this copies: entry encryption: { passphrase: \${VARIABLE} } in lifeline.yaml, or allowPlaintext: true to copy without encryption on purpose`,
            });
            const result = await copyRepository(ctx.repository, to, {
              asset: name,
              restorePointId: report.restorePointId,
              signal: env.signal,
              progress: ctx.progress,
            });
            copies.push({ to: to.location, result });
            if (result.skipped.length > 0) env.setExit(EXIT_CODES.verification);
          } catch (error) {
            const message =
              error instanceof LifelineError && error.fix
                ? `${error.message} (fix: ${error.fix})`
                : error instanceof Error
                  ? error.message
                  : String(error);
            ctx.progress.warn(`could not copy ${report.restorePointId} to ${to.location}: ${message}`);
            copies.push({ to: to.location, error: message });
            env.setExit(EXIT_CODES.runtime);
          }
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
