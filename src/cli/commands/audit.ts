import type { Command } from "commander";
import type { CliEnv } from "../env.js";
import { load } from "../wiring.js";
import { parseDuration } from "../../core/duration.js";
import { LifelineError, EXIT_CODES } from "../../core/errors.js";
import { withCatalog } from "../catalog.js";
import { out, err, json } from "../io.js";
import { renderAuditTable } from "../render/audit.js";
import { AUDIT_KINDS, type AuditKind, verifyChain } from "../../core/audit/chain.js";

export function register(program: Command, env: CliEnv): void {
  const audit = program
    .command("audit")
    .description("The audit log: every plan, approval, execution and break-glass, hash-chained.")
    .option("--asset <asset>", "only this asset")
    .option("--identity <id>", "only this person")
    .option(
      "--kind <kind>",
      "plan, approve, use, revoke, run, break-glass, break-glass-revoke, prepare, notify-failed, restore, standby, discard, admission, alert, guard-install, guard-uninstall",
    )
    .option("--since <when>", "ISO time, or a duration ago (24h)")
    .option("--limit <n>", "at most n entries (the newest)")
    .option("--json", "print one JSON document on stdout")
    .addHelpText("after", "\nExamples:\n  lifeline audit --asset shop --since 24h\n  lifeline audit verify\n")
    .action(
      async (
        opts: { asset?: string; identity?: string; kind?: string; since?: string; limit?: string },
        command: Command,
      ) => {
        const options = env.globals(command);
        const loaded = load(options);
        const ago = opts.since ? parseDuration(opts.since) : undefined;
        const sinceDate = opts.since
          ? ago !== undefined
            ? new Date(Date.now() - ago * 1000)
            : new Date(opts.since)
          : null;
        if (sinceDate && Number.isNaN(sinceDate.getTime())) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--since ${opts.since}: neither a duration nor a time`,
            fix: "write a duration ago (24h, 7d) or an ISO time (2026-11-26T09:00:00Z)",
          });
        }
        const since = sinceDate?.toISOString();
        const limit = opts.limit === undefined ? undefined : Number(opts.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit <= 0)) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--limit ${opts.limit}: not a positive whole number`,
            fix: "e.g. --limit 50",
          });
        }
        if (opts.kind !== undefined && !AUDIT_KINDS.includes(opts.kind as AuditKind)) {
          throw new LifelineError({
            code: "USAGE",
            kind: "usage",
            message: `--kind ${opts.kind}: not a kind of audit entry`,
            fix: `one of: ${AUDIT_KINDS.join(", ")}`,
          });
        }
        const entries = await withCatalog(loaded, (c) =>
          c.audit({
            ...(opts.asset ? { asset: opts.asset } : {}),
            ...(opts.identity ? { identity: opts.identity } : {}),
            ...(opts.kind ? { kind: opts.kind as AuditKind } : {}),
            ...(since ? { since } : {}),
          }),
        );
        const limited = limit ? entries.slice(-limit) : entries;
        if (options.json) json({ entries: limited });
        else out(limited.length === 0 ? "No audit entries." : renderAuditTable(limited));
        const damaged = limited.filter((e) => e.damaged !== undefined);
        if (damaged.length > 0)
          err(
            `lifeline: warning: ${damaged.length} audit entr${damaged.length === 1 ? "y is" : "ies are"} damaged (${damaged.map((e) => e.seq).join(", ")}): run lifeline audit verify`,
          );
      },
    );

  audit
    .command("verify")
    .description("Recompute the hash chain and report the first broken link.")
    .option("--json", "print one JSON document on stdout")
    .addHelpText(
      "after",
      "\nExample:\n  lifeline audit verify\n\nExit codes: 0 the chain holds; 4 it is broken.\n",
    )
    .action(async (_opts, command: Command) => {
      const options = env.globals(command);
      const loaded = load(options);
      const [entries, head] = await withCatalog(loaded, async (c) => Promise.all([c.audit(), c.auditHead()]));
      // The same hash the catalog chains its entries with.
      const { sha256hex } = await import("../../catalog/index.js");
      const verdict = verifyChain(sha256hex, entries, head);
      if (head === null && entries.length > 0) {
        // Every append records the head: entries without one means it was removed or zeroed.
        verdict.ok = false;
        verdict.breaks.push({
          seq: entries[entries.length - 1]?.seq ?? 0,
          problem: "the head record of the log is missing: the newest entries may have been removed",
        });
      }
      if (options.json) json(verdict);
      else if (verdict.ok) out(`The audit chain holds: ${verdict.entries} entries.`);
      else
        out(
          [
            `The audit chain is BROKEN (${verdict.entries} entries):`,
            ...verdict.breaks.map((b) => `  entry ${b.seq}: ${b.problem}`),
          ].join("\n"),
        );
      if (!verdict.ok) env.setExit(EXIT_CODES.verification);
    });
}
