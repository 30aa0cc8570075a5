import type { Command } from "commander";
import { currentIdentity } from "../../app/identity.js";
import { prune, type PruneOutcome, type PruneResult } from "../../app/prune.js";
import { assetRetention } from "../../config/load.js";
import { LifelineError } from "../../core/errors.js";
import { withCatalog } from "../catalog.js";
import type { CliEnv } from "../env.js";
import { count, err, json, out, terminalProgress } from "../io.js";
import { asset as resolve, contextFor, load, requireRepository } from "../wiring.js";

function renderDecisions(result: PruneOutcome, dryRun: boolean, lines: string[], indent: string): void {
  const locked = new Set(result.locked.map((l) => l.id));
  for (const d of result.decisions) {
    const failed = result.failures.find((f) => f.id === d.id);
    const already = result.removedAlready.includes(d.id);
    const lockedUntil = locked.has(d.id) ? result.locked.find((l) => l.id === d.id) : undefined;
    const mark = !d.remove
      ? "keep  "
      : lockedUntil
        ? "locked"
        : failed
          ? "FAILED"
          : dryRun
            ? "remove"
            : already
              ? "gone"
              : "removed";
    lines.push(
      `${indent}${mark.padEnd(7)} ${d.id}  ${d.reasons.join("; ")}${failed ? ` — not removed: ${failed.error}` : ""}${lockedUntil ? ` — kept: locked until ${lockedUntil.until} (object lock)` : ""}${already ? " — removed already (by another prune)" : ""}`,
    );
  }
}

function summary(result: PruneOutcome, dryRun: boolean): { removing: number; text: string } {
  // Locked restore points (object lock) stay whether or not this is a dry run.
  const locked = new Set(result.locked.map((l) => l.id));
  const removing = result.decisions.filter((d) => d.remove && !locked.has(d.id)).length;
  const verb = dryRun ? "would remove" : "removed";
  return {
    removing,
    text: `${verb} ${count(dryRun ? removing : result.removed.length, "restore point")}, keeps ${result.decisions.length - removing}`,
  };
}

export function renderPrune(result: PruneResult): string {
  const lines: string[] = [];
  const p = result.policy;
  const own = summary(result, result.dryRun);
  lines.push(
    `${result.asset}: retention keepLast ${p.keepLast}, daily ${p.daily}, weekly ${p.weekly} — ${own.text}`,
  );
  renderDecisions(result, result.dryRun, lines, "  ");
  let removing = own.removing;
  for (const copy of result.copies) {
    if (copy.error !== undefined) {
      lines.push(`copy ${copy.to}: NOT pruned (nothing removed there): ${copy.error}`);
      continue;
    }
    const c = summary(copy, result.dryRun);
    removing += c.removing;
    const reports =
      copy.drillReports > 0
        ? ` (${count(copy.drillReports, "drill report")} of ${result.asset} brought over first)`
        : "";
    lines.push(`copy ${copy.to}: ${c.text}${reports}`);
    renderDecisions(copy, result.dryRun, lines, "  ");
  }
  if (result.dryRun && removing > 0) lines.push(`run \`lifeline prune ${result.asset}\` to remove them`);
  return lines.join("\n");
}

function outcomeJson(result: PruneOutcome, dryRun: boolean) {
  return {
    removed: dryRun ? result.decisions.filter((d) => d.remove).map((d) => d.id) : result.removed,
    removedAlready: result.removedAlready,
    failures: result.failures,
    locked: result.locked,
    decisions: result.decisions,
    auditSeq: result.audit?.seq ?? null,
  };
}

export function register(program: Command, env: CliEnv): void {
  program
    .command("prune")
    .description(
      "Remove the restore points an asset's retention policy (retention: in lifeline.yaml) no longer keeps, saying why for each; never the newest verified one, one being drilled or restored, one a standby serves, or one whose drill report is damaged. Then each copies: repository with the same rules, judged on what it holds. Removals are recorded in the audit log.",
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

With copies: in lifeline.yaml, each copy is pruned with the same rules, judged on what it holds
(its own restore points, drills and holds, plus the drill reports of restore points it shares with
this repository, which are written to it first).

Exit code 1 when a restore point that was to go could not be removed (it stays), here or in a
copy, or when a copy could not be pruned (the others are). Exit code 2 when there is no repository
at repository.path (or repository.url): a typo there is not "nothing to prune" (a repository made
by \`lifeline repository init\` and still empty is fine).
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
      // A mistyped repository.path is no empty repository: "nothing to prune" would hide it.
      await requireRepository(loaded, ctx.repository, "nothing to prune");
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
          ...outcomeJson(result, result.dryRun),
          copies: result.copies.map((c) =>
            c.error !== undefined
              ? { to: c.to, error: c.error }
              : { to: c.to, ...outcomeJson(c, result.dryRun), drillReports: c.drillReports },
          ),
        });
      else out(renderPrune(result));
      const unreached = result.copies.filter((c) => c.error !== undefined);
      if (unreached.length > 0)
        err(
          `lifeline: error: ${count(unreached.length, "copy", "copies")} NOT pruned: ${unreached.map((c) => `${c.to}: ${c.error ?? ""}`).join("; ")}`,
        );
      if (
        result.failures.length > 0 ||
        result.copies.some((c) => c.error !== undefined || c.failures.length > 0)
      )
        env.setExit(1);
    });
}
