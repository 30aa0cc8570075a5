import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load } from "../wiring.js";
import { withCatalog, gateDeps } from "../catalog.js";
import { revoke } from "../../app/approve.js";
import { out, json } from "../io.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("revoke")
    .description("Withdraw an approval before it is used.")
    .argument("<approvalId>", "the approval id printed by `lifeline approve`")
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", "\nExample:\n  lifeline revoke apr-3f9a0c1b2d4e\n")
    .action(async (id: string, _opts, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const approval = await withCatalog(loaded, async (catalog) =>
        revoke(await gateDeps(loaded, catalog), id),
      );
      if (options.json) json({ approval });
      else
        out(
          `Revoked approval ${approval.id} of plan ${approval.planId.slice(0, 12)} (given by ${approval.approver.id})`,
        );
    });
}
