import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load, contextFor } from "../wiring.js";
import { EXIT_CODES } from "../../core/errors.js";
import { out, json, terminalProgress } from "../io.js";
import { checkJson, renderCheck } from "../render/restore-points.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("check")
    .description(
      "Integrity of the repository: every manifest parses, every artifact exists with its size and sha256, nothing unexplained.",
    )
    .option("--json", "print one JSON document on stdout")
    .option(
      "--read-data",
      "object storage: download every artifact and compare its sha256 (without it: sizes and the checksums in object metadata); a local repository always reads every byte",
    )
    .option("--repair-index", "rebuild every asset's index from the manifests and drill reports")
    .option(
      "--undelete",
      "object storage with object lock: bring back restore points deleted without lifeline (delete markers) whose locked versions remain",
    )
    .addHelpText(
      "after",
      "\nExample:\n  lifeline check\n  lifeline check --read-data\n  lifeline check --undelete\n  lifeline check --json | jq '.findings[].message'\n\nExit code 4 when there are findings.\n",
    )
    .action(
      async (opts: { readData?: boolean; repairIndex?: boolean; undelete?: boolean }, command: Command) => {
        const options = env.globals(command);
        const loaded = load(options);
        const ctx = contextFor(loaded, env.signal, terminalProgress("check"));
        const result = await ctx.repository.check({
          readData: opts.readData === true,
          repairIndex: opts.repairIndex === true,
          undelete: opts.undelete === true,
        });
        if (options.json) json(checkJson(ctx.repository.location, result));
        else out(renderCheck(ctx.repository.location, result));
        if (result.findings.length > 0) env.setExit(EXIT_CODES.verification);
      },
    );
}
