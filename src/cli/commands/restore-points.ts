import type { Command } from "commander";
import { formatBytes } from "../../core/duration.js";
import type { CliEnv } from "../env.js";
import { json, out, terminalProgress } from "../io.js";
import { asset as resolve, contextFor, load } from "../wiring.js";

/** One restore point as `lifeline restore-points` lists it. */
export interface RestorePointRow {
  id: string;
  snapshotTime: string;
  bytes: number;
  /** "passed": its latest drill passed (restore takes it without --unverified); "failed"; "never". */
  drill: "passed" | "failed" | "never";
  verified: boolean;
  /** What is wrong with it when it cannot be used (then restore and drill refuse it). */
  damaged: string | null;
}

export function register(program: Command, env: CliEnv): void {
  program
    .command("restore-points")
    .description(
      "List an asset's restore points, newest first: id, snapshot time, size, whether a drill verified it (its latest drill passed) and whether it is damaged. The ids are what --restore-point takes.",
    )
    .argument("<asset>", "asset name from lifeline.yaml")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Examples:
  lifeline restore-points shop
  lifeline restore-points shop --json | jq -r '.restorePoints[] | select(.verified) | .id'
  lifeline restore shop --to postgres://…/shop_copy --restore-point <id>
`,
    )
    .action(async (name: string, _opts: unknown, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      resolve(loaded, name); // ASSET_UNKNOWN with the known names
      const ctx = contextFor(loaded, env.signal, terminalProgress(`restore-points ${name}`));
      const overview = await ctx.repository.overview(name);
      const latest = new Map<string, { result: string; finishedAt: string }>();
      for (const d of overview.drills) {
        const current = latest.get(d.restorePointId);
        if (!current || d.finishedAt > current.finishedAt) latest.set(d.restorePointId, d);
      }
      const rows: RestorePointRow[] = [...overview.restorePoints]
        .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .map((rp) => {
          const result = latest.get(rp.id)?.result;
          const drill = result === "passed" ? "passed" : result === undefined ? "never" : "failed";
          return {
            id: rp.id,
            snapshotTime: rp.snapshotTime,
            bytes: rp.bytes,
            drill,
            verified: drill === "passed" && !rp.damaged,
            damaged: rp.damaged ?? null,
          };
        });
      if (options.json) {
        json({ asset: name, repository: ctx.repository.location, restorePoints: rows });
        return;
      }
      if (rows.length === 0) {
        out(`${name} has no restore point in ${ctx.repository.location}; take one: lifeline backup ${name}`);
        return;
      }
      const lines = [`${name}: ${rows.length} restore point${rows.length === 1 ? "" : "s"}, newest first`];
      for (const r of rows) {
        const state = r.damaged
          ? `DAMAGED: ${r.damaged}`
          : r.verified
            ? "verified (drill passed)"
            : r.drill === "failed"
              ? "not verified: its latest drill failed"
              : "not verified: never drilled";
        lines.push(`  ${r.id}  ${r.snapshotTime}  ${formatBytes(r.bytes).padStart(9)}  ${state}`);
      }
      out(lines.join("\n"));
    });
}
