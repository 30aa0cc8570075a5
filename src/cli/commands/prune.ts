import type { Command } from "commander";
import { currentIdentity } from "../../app/identity.js";
import { prune, type PruneResult } from "../../app/prune.js";
import { assetRetention } from "../../config/load.js";
import { LifelineError } from "../../core/errors.js";
import { withCatalog } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { count, json, out, terminalProgress } from "../io.js";
import { asset as resolve, contextFor, load } from "../wiring.js";

export function renderPrune(result: PruneResult): string {
  const lines: string[] = [];
  const verb = result.dryRun ? "would remove" : "removed";
  // Locked restore points (object lock) stay whether or not this is a dry run.
  const locked = new Set(result.locked.map((l) => l.id));
  const removing = result.decisions.filter((d) => d.remove && !locked.has(d.id));
  const p = result.policy;
  lines.push(
    `${result.asset}: retention keepLast ${p.keepLast}, daily ${p.daily}, weekly ${p.weekly} — ${verb} ${count(result.dryRun ? removing.length : result.removed.length, "restore point")}, keeps ${result.decisions.length - removing.length}`,
  );
  for (const d of result.decisions) {
    const failed = result.failures.find((f) => f.id === d.id);
    const already = result.removedAlready.includes(d.id);
    const locked = result.locked.find((l) => l.id === d.id);
    const mark = !d.remove
      ? "keep  "
      : locked
        ? "locked"
        : failed
          ? "FAILED"
          : result.dryRun
            ? "remove"
            : already
              ? "gone"
              : "removed";
    lines.push(
      `  ${mark.padEnd(7)} ${d.id}  ${d.reasons.join("; ")}${failed ? ` — not removed: ${failed.error}` : ""}${locked ? ` — kept: locked until ${locked.until} (object lock)` : ""}${already ? " — removed already (by another prune)" : ""}`,
    );
  }
  if (result.dryRun && removing.length > 0)
    lines.push(`run \`lifeline prune ${result.asset}\` to remove them`);
  return lines.join("\n");
}

export function register(program: Command, env: CliEnv): void {
  program
    .command("prune")
    .description(
      "Remove the restore points an asset's retention policy (retention: in lifeline.yaml) no longer keeps, saying why for each; never the newest verified one, one being drilled or restored, or one a standby serves. Removals are recorded in the audit log.",
    )
    .argument("<asset>", "asset name from lifeline.yaml")
    .option("--dry-run", "only say what would be removed and why")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Examples:
  lifeline prune shop --dry-run
  lifeline prune shop --json | jq '.removed'

lifeline.yaml:
  assets:
    shop:
      retention: { keepLast: 3, daily: 7, weekly: 4 }

Exit code 1 when a restore point that was to go could not be removed (it stays).
`,
    )
    .action(async (name: string, opts: { dryRun?: boolean }, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      resolve(loaded, name); // ASSET_UNKNOWN with the known names
      const policy = assetRetention(loaded, name);
      if (!policy) {
        throw new LifelineError({
          code: "USAGE",
          kind: "usage",
          message: `${name} has no retention policy in ${loaded.file}: lifeline prune removes nothing without one`,
          fix: `add to assets.${name} in lifeline.yaml: retention: { keepLast: 3, daily: 7, weekly: 4 }`,
        });
      }
      const ctx = contextFor(loaded, env.signal, terminalProgress(`prune ${name}`));
      const identity = await currentIdentity();
      const result = await withCatalog(loaded, (catalog) =>
        prune(ctx, catalog, name, policy, {
          dryRun: opts.dryRun === true,
          identity: identity.id,
          host: identity.host,
        }),
      );
      if (options.json)
        json({
          asset: result.asset,
          dryRun: result.dryRun,
          policy: result.policy,
          removed: result.dryRun ? result.decisions.filter((d) => d.remove).map((d) => d.id) : result.removed,
          removedAlready: result.removedAlready,
          failures: result.failures,
          locked: result.locked,
          decisions: result.decisions,
          auditSeq: result.audit?.seq ?? null,
        });
      else out(renderPrune(result));
      if (result.failures.length > 0) env.setExit(1);
    });
}
