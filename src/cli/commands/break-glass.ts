import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load, asset as resolveAsset } from "../wiring.js";
import { parseDuration } from "../../core/duration.js";
import { LifelineError } from "../../core/errors.js";
import { withCatalog, gateDeps } from "../catalog.js";
import { breakGlass, endBreakGlass } from "../../app/break-glass.js";
import { err, out, json } from "../io.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("break-glass")
    .description(
      "For an incident: let yourself run on one asset without approvals, for a bounded time, with a reason. Loudly recorded and announced; it never skips the plan or the record.",
    )
    .option("--asset <asset>", "the asset")
    .option("--for <duration>", "how long (at most breakGlass.max, default 1h)")
    .option("--reason <text>", "the incident and what you will do")
    .option("--end <grantId>", "end a grant before its time (its id is in `lifeline status`)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      '\nExample:\n  lifeline break-glass --asset shop --for 30m --reason "INC-4411 restore"\n',
    )
    .action(
      async (opts: { asset?: string; for?: string; reason?: string; end?: string }, command: Command) => {
        const options = env.globals(command);
        const loaded = load(options);
        if (opts.end) {
          const ended = await withCatalog(loaded, async (catalog) =>
            endBreakGlass(await gateDeps(loaded, catalog), opts.end ?? ""),
          );
          if (options.json) json({ breakGlass: ended });
          else out(`Ended break-glass ${ended.id} on ${ended.asset} for ${ended.identity}.`);
          return;
        }
        if (!opts.asset || !opts.for || !opts.reason) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: "break-glass needs --asset, --for and --reason (or --end ID)",
            fix: 'lifeline break-glass --asset shop --for 30m --reason "INC-4411 restore"',
          });
        }
        resolveAsset(loaded, opts.asset);
        const seconds = parseDuration(opts.for);
        const max = parseDuration(loaded.config.breakGlass.max) ?? 3600;
        if (seconds === undefined) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--for ${opts.for}: not a duration`,
            fix: "write it like 30m",
          });
        }
        const asset = opts.asset;
        const reason = opts.reason;
        const grant = await withCatalog(loaded, async (catalog) =>
          breakGlass(await gateDeps(loaded, catalog), { asset, seconds, maxSeconds: max, reason }),
        );
        if (loaded.config.assets[asset]?.kubernetes) {
          // The admission webhook lets the grant through only for the Kubernetes names it is mapped to.
          const k = loaded.config.identities[grant.identity]?.kubernetes;
          const names = k
            ? [...k.users.map((u) => `user ${u}`), ...k.groups.map((g) => `group ${g}`)].join(", ")
            : null;
          err(
            names
              ? `At the Kubernetes API it counts for ${names} (identities: in lifeline.yaml).`
              : `${grant.identity} is mapped to no Kubernetes user or group: the admission webhook will not let plain kubectl through; add to lifeline.yaml identities: { ${grant.identity}: { kubernetes: { users: [<what kubectl auth whoami shows>] } } } (lifeline run works regardless).`,
          );
        }
        if (options.json) json({ breakGlass: grant });
        else
          out(
            `BREAK-GLASS ${grant.id}: ${grant.identity} may run on ${grant.asset} without approvals until ${grant.expiresAt}. Everything is still planned and recorded. End it early: lifeline break-glass --end ${grant.id}`,
          );
      },
    );
}
