import { Option, type Command } from "commander";
import type { CliEnv } from "../env.js";
import { parseDuration } from "../../core/duration.js";
import { LifelineError } from "../../core/errors.js";
import { out, json } from "../io.js";
import { init, type InitOptions } from "../../app/init.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("init")
    .description(
      "Write a commented lifeline.yaml for one asset, after checking that lifeline can connect to it.",
    )
    .requiredOption("--asset <name>", "name of the asset, e.g. shop")
    .requiredOption(
      "--url <url>",
      "connection URL; a password in it is NOT written to the file (an ${ENV_VAR} reference is)",
    )
    .addOption(
      new Option("--tier <tier>", "how protected the asset is")
        .choices(["production", "staging", "development"])
        .default("production"),
    )
    .option("--rpo <duration>", "how old the newest verified restore point may be, e.g. 24h, 1h, 7d", "24h")
    .option(
      "--repository <path>",
      "where restore points live, relative to the config file",
      ".lifeline/repository",
    )
    .option("--file <path>", "file to write", "lifeline.yaml")
    .option("--force", "overwrite an existing file")
    .option("--no-connect", "write the file without checking the connection")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  lifeline init --asset shop --url 'postgres://app:${SHOP_DB_PASSWORD}@db.internal:5432/shop' --rpo 6h\n",
    )
    .action(
      async (opts: Omit<InitOptions, "force" | "cwd" | "env"> & { force?: boolean }, command: Command) => {
        const options = env.globals(command);
        if (parseDuration(opts.rpo) === undefined) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--rpo: "${opts.rpo}" is not a duration`,
            fix: "write it like 15m, 6h, 24h or 7d",
          });
        }
        const result = await init({
          ...opts,
          force: opts.force === true,
          cwd: process.cwd(),
          env: process.env,
        });
        if (options.json) json({ init: result });
        else {
          out(
            `✓ wrote ${result.file}${result.connected ? ` (connected to ${result.display}: PostgreSQL ${result.serverVersion})` : " (connection not checked)"}`,
          );
          for (const note of result.notes) out(`  ${note}`);
          out(`  next: lifeline backup ${opts.asset} && lifeline drill ${opts.asset}`);
        }
      },
    );
}
