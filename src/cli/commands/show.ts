import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load } from "../wiring.js";
import { withCatalog } from "../catalog.js";
import { findRecordedPlan, planVouchWarning, reviewRecordedPlan, vouchRecordedPlan } from "../../app/gate.js";
import { out, json } from "../io.js";
import { renderShown } from "../render/gate.js";
import { usesOf } from "../../core/approval/approval.js";
import { unfinishedExecutions } from "../../core/audit/runs.js";

export function register(program: Command, env: CliEnv): void {
  program
    .command("show")
    .description(
      "Show a recorded plan as `plan` printed it (what it destroys, the cascade, rows, recoverability, requirements), with its approvals, their uses, and its executions.",
    )
    .argument("<planId>", "the plan id, or a unique prefix of at least 8 characters")
    .option(
      "--json",
      "print one JSON document on stdout: the stored plan document, approvals, uses, executions",
    )
    .addHelpText(
      "after",
      `
Examples:
  lifeline show 7f3a9c01d2e4
  lifeline show 7f3a9c01 --json | jq .approvals

A plan whose stored document or command does not match what the audit log recorded for it (edited
in the catalog) is shown after a warning, and --json says "vouched": false; approve refuses it.

Exit codes: 0 shown; 2 no such plan (or the prefix is ambiguous).
`,
    )
    .action(async (planId: string, _opts, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const shown = await withCatalog(loaded, async (catalog) => {
        const plan = await findRecordedPlan(catalog, planId);
        const [vouch, review, executions, uses, runs] = await Promise.all([
          vouchRecordedPlan(catalog, plan),
          reviewRecordedPlan(catalog, plan, new Date()),
          catalog.executionsFor(plan.planId),
          catalog.audit({ kind: "use", planId: plan.planId }),
          catalog.audit({ kind: "run", planId: plan.planId }),
        ]);
        return { plan, vouch, review, executions, uses, unfinished: unfinishedExecutions(runs) };
      });
      const { plan, vouch, review, executions, uses, unfinished } = shown;
      const { vouched } = review;
      const now = Date.now();
      const approvals = [
        ...vouched.approvals.map((a) => ({ approval: a, counts: true, why: null as string | null })),
        ...vouched.forged.map((f) => ({ approval: f.approval, counts: false, why: f.why })),
      ].map(({ approval: a, counts, why }) => {
        const used = vouched.used.get(a.id) ?? 0;
        const state = !counts
          ? (why ?? "does not count")
          : a.revokedAt !== null
            ? `revoked${a.revokedBy ? ` by ${a.revokedBy}` : ""}`
            : Date.parse(a.expiresAt) <= now
              ? "expired"
              : used >= usesOf(a.uses)
                ? "used"
                : "valid";
        return {
          id: a.id,
          by: a.approver.id,
          comment: a.comment,
          createdAt: a.createdAt,
          expiresAt: a.expiresAt,
          uses: usesOf(a.uses),
          used,
          revokedAt: a.revokedAt,
          state,
        };
      });
      if (options.json) {
        json({
          planId: plan.planId,
          requestedBy: plan.requestedBy,
          createdAt: plan.createdAt,
          command: plan.command,
          // Whether the audit log vouches for the stored document and command (false: it may
          // have been edited in the catalog, or was recorded before plans were vouched for).
          vouched: vouch.vouched,
          unvouched: vouch.vouched ? null : { reason: vouch.reason, recordedBeforeVouching: vouch.legacy },
          plan: plan.document,
          // The plan's requirements and verdict judged with its approvals now (the document keeps
          // them as they were when it was planned).
          verdict: review.verdict,
          requirements: review.requirements,
          approvals,
          uses: uses.map((u) => ({
            seq: u.seq,
            at: u.at,
            approval: u.data.approval ?? null,
            by: u.identity,
          })),
          executions,
          unfinished,
        });
        return;
      }
      const warning = planVouchWarning(plan, vouch);
      if (warning !== null) out(`${warning}\n`);
      out(
        renderShown(plan, approvals, executions, unfinished, {
          requirements: review.requirements,
          verdict: review.verdict,
          tierOf: (asset) => loaded.config.assets[asset]?.tier,
        }),
      );
    });
}
