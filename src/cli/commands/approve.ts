import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load } from "../wiring.js";
import { formatDuration, parseDuration } from "../../core/duration.js";
import { LifelineError } from "../../core/errors.js";
import { withCatalog, gateDeps } from "../catalog.js";
import { approve } from "../../app/approve.js";
import { out, json } from "../io.js";
import { renderStoredPlan } from "../render/stored-plan.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("approve")
    .description(
      "Approve one exact plan (by its id) as a person other than the one who asked: for one execution (or --uses N), for a bounded time. Prints the plan first.",
    )
    .argument(
      "<planId>",
      "the plan id (or a unique prefix of at least 8 characters) printed by `lifeline plan` or `lifeline run`",
    )
    .option("-m, --comment <text>", "why it is fine (recorded and announced)")
    .option("--for <duration>", "how long the approval is valid (default: approvals.ttl, 1h)")
    .option("--uses <n>", "how many executions it authorises (default 1: the first execution uses it)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      `
Example:
  lifeline show 7f3a9c01d2e4
  lifeline approve 7f3a9c01d2e4 --comment "checked with feed team"
  lifeline approve 7f3a9c01d2e4 --uses 3 --for 2h     # e.g. the same migration on three runs

An approval is used by the execution it authorises (an execution that ran, failed or not); a blocked
or --dry-run run does not use it. When its uses are spent, the plan needs a new approval.

Exit codes: 0 approved; 3 refused (you asked for this plan yourself); 4 the stored plan does not
match what the audit log recorded (it may have been edited: plan it again); 2 usage error (no such plan).
`,
    )
    .action(
      async (planId: string, opts: { comment?: string; for?: string; uses?: string }, command: Command) => {
        const options = env.globals(command);
        const loaded = load(options);
        const ttl = parseDuration(opts.for ?? loaded.config.approvals.ttl);
        const maxTtl = parseDuration(loaded.config.approvals.maxTtl) ?? 86400;
        if (ttl !== undefined && ttl > maxTtl) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `an approval lasts at most ${formatDuration(maxTtl)} (asked: ${formatDuration(ttl)})`,
            fix: `approve for ${formatDuration(maxTtl)} or less (approvals.maxTtl in lifeline.yaml sets the limit)`,
          });
        }
        if (ttl === undefined || ttl <= 0) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--for ${opts.for}: not a duration`,
            fix: "write it like 30m or 2h",
          });
        }
        const uses = opts.uses === undefined ? 1 : Number(opts.uses);
        if (!/^\s*\d+\s*$/.test(opts.uses ?? "1") || !Number.isSafeInteger(uses) || uses < 1) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--uses ${opts.uses}: not a whole number ≥ 1`,
            fix: "leave it out (one execution), or e.g. --uses 2",
          });
        }
        const result = await withCatalog(loaded, async (catalog) =>
          approve(await gateDeps(loaded, catalog), {
            planId,
            comment: opts.comment ?? null,
            ttlSeconds: ttl,
            uses,
            // The approver sees the plan as the requester saw it, before anything is recorded.
            review: (plan, judged) => {
              if (!options.json)
                out(
                  `${renderStoredPlan(plan, { ...judged, tierOf: (asset) => loaded.config.assets[asset]?.tier })}\n\nRequested by ${plan.requestedBy.id} at ${plan.createdAt}\n`,
                );
            },
          }),
        );
        if (options.json)
          json({
            approval: result.approval,
            plan: {
              planId: result.plan.planId,
              command: result.plan.command,
              requestedBy: result.plan.requestedBy.id,
              document: result.plan.document,
              // false only for a plan recorded before plans were vouched for (approved with a warning).
              vouched: result.vouch.vouched,
            },
          });
        else {
          out(
            [
              `Approved plan ${result.plan.planId.slice(0, 12)} for ${result.plan.requestedBy.id}: ${result.plan.command.text}`,
              `Valid until ${result.approval.expiresAt} (${formatDuration(ttl)}) for ${uses === 1 ? "one execution" : `${uses} executions`}, only for this exact plan; approval ${result.approval.id} (revoke: lifeline revoke ${result.approval.id})`,
            ].join("\n"),
          );
        }
      },
    );
}
