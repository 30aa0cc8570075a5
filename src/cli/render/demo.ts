import {
  DEMO_APPROVER,
  DEMO_GATE_SQL,
  DEMO_PLAN_SQL,
  DEMO_REQUESTER,
  type DemoResult,
} from "../../demo/demo.js";
import { renderPlan } from "./plan.js";
import { renderProtectPlan } from "./k8s.js";
import { renderBackup, renderDrill, renderStatus } from "./restore-points.js";
import { count } from "../io.js";
import {
  DEMO_FEED_SQL,
  DEMO_LOSS_COMMENT,
  DEMO_LOSS_SQL,
  DEMO_RESTORE_COMMAND,
  DEMO_STANDBY_WRITE_SQL,
} from "../../demo/recovery.js";

const indent = (text: string) =>
  text
    .split("\n")
    .map((l) => "   " + l)
    .join("\n");

export function renderDemo(r: DemoResult): string {
  const rows = r.manifest.fingerprints.tables.reduce((s, t) => s + t.rows, 0);
  const passed = r.drill.result === "passed";
  const changes = r.posture.changesNotCovered?.rows ?? 0;
  return [
    `lifeline demo — the whole loop on a throwaway PostgreSQL ${r.serverVersion}; nothing is left behind`,
    "",
    "1. A shop: merchants, products (read by the merchant_feed view a marketplace pulls), orders and their items.",
    "",
    `2. Backup: pg_dump read an exported snapshot while lifeline fingerprinted the same snapshot (${rows.toLocaleString("en-US")} rows).`,
    indent(renderBackup(r.manifest)),
    "",
    "3. Drill: the restore point was restored into a second, scratch PostgreSQL and fingerprinted again.",
    indent(renderDrill(r.drill, r.manifest)),
    "",
    `4. Status, after the shop kept selling (${count(r.activity.newOrders, "new order")}, ${count(r.activity.stockUpdates, "stock update")}):`,
    indent(renderStatus([r.posture])),
    "",
    passed
      ? [
          "What this proved: not that a backup file exists, but that this data comes back — every table, row for row,",
          `every sequence, the same schema — in ${(r.drill.restoreSeconds + r.drill.verifySeconds).toFixed(1)}s (your RTO estimate). It also shows what is`,
          `at risk right now: ${count(changes, "row change")} ${changes === 1 ? "was" : "were"} made after the verified restore point and would be lost.`,
        ].join("\n")
      : "The drill FAILED: this restore point would not bring the data back as it was. That is what drills are for.",
    "",
    `5. Plan: someone wants to run \`${DEMO_PLAN_SQL}\`. Before it runs, lifeline shows what goes, who depends on it,`,
    "   how you would get it back, and what the policy requires (nothing was dropped):",
    indent(renderPlan(r.plan)),
    "",
    "6. The incident lifeline comes from, on a SIMULATED Kubernetes cluster (an in-process fake of the API, not a real",
    "   cluster): the shop database runs as a Helm release whose volumes reclaim with Delete, and a feed generator",
    "   and a nightly export in other namespaces use it. Someone is about to delete the primary's claim:",
    indent(`$ lifeline plan -- ${r.k8s.before.command.text}`),
    indent(renderPlan(r.k8s.before)),
    "",
    "   lifeline k8s protect shop makes the volumes survive their claims:",
    indent(renderProtectPlan(r.k8s.protect)),
    "",
    "   The same command, planned again:",
    indent(renderPlan(r.k8s.after)),
    "",
    `7. The gate: ${DEMO_REQUESTER} wants to run \`${DEMO_GATE_SQL}\` on production (identities simulated):`,
    indent(`$ LIFELINE_USER=${DEMO_REQUESTER} lifeline run shop --sql "${DEMO_GATE_SQL}"`),
    indent(gateLine(r.gate.blocked)),
    ...r.gate.blocked.decision.requirements.map((q) => indent(`  ${q.met ? "✓" : "✗"} ${q.detail}`)),
    indent(
      `$ LIFELINE_USER=${DEMO_APPROVER} lifeline approve ${r.gate.blocked.plan.planId.slice(0, 12)} --comment "${r.gate.approval.comment ?? ""}"`,
    ),
    indent(
      `approved plan ${r.gate.approval.planId.slice(0, 12)}, only this exact plan, until ${r.gate.approval.expiresAt}`,
    ),
    indent(`$ LIFELINE_USER=${DEMO_REQUESTER} lifeline run shop --sql "${DEMO_GATE_SQL}"`),
    indent(gateLine(r.gate.executed)),
    indent(`$ lifeline audit verify`),
    indent(
      r.gate.chain.ok
        ? `The audit chain holds: ${count(r.gate.entries, "entry", "entries")} (${r.gate.recorded.join(", ")}), each with the hash of the one before.`
        : `The audit chain is BROKEN: ${r.gate.chain.breaks.map((b) => b.problem).join("; ")}`,
    ),
    "",
    ...renderRecovery(r),
    "",
    "Next, on your own database:",
    "   lifeline init --asset shop --url 'postgres://app:${SHOP_DB_PASSWORD}@db:5432/shop'",
    "   lifeline backup shop && lifeline drill shop && lifeline status",
    '   lifeline plan shop --sql "DROP TABLE products"',
    "   lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop      # with kubernetes: {namespace, release} on the asset",
    '   lifeline run shop --sql "TRUNCATE carts"      # blocked until another person runs: lifeline approve <plan id>',
    "   lifeline restore shop --tables public.products      # after a DROP TABLE: only that, back into the live database, verified",
    "   lifeline standby shop --to 'postgres://app:${SHOP_DB_PASSWORD}@db2:5432/shop_standby'   # a read-only fallback",
    ...(r.ok
      ? []
      : [
          "",
          "✗ The demo did NOT go as expected (exit 4):",
          ...r.expectations
            .filter((e) => !e.ok)
            .map((e) => `   - ${e.step}: expected ${e.expected}; ${e.actual ?? ""}`),
        ]),
  ].join("\n");
}

const secs = (s: number) => `${s < 1 ? s.toFixed(2) : s.toFixed(1)}s`;

/** Steps 8–10: the loss, the standby as the fallback, the restore of what was lost. */
function renderRecovery(r: DemoResult): string[] {
  const { loss, standby, restore, feedBefore, feedBroken, feedAfter, orders } = r.recovery;
  const t = restore.result;
  return [
    `8. The loss: ${DEMO_APPROVER} approves the \`${DEMO_LOSS_SQL}\` of step 5 ("${DEMO_LOSS_COMMENT}") and`,
    `   ${DEMO_REQUESTER} runs it. The gate does not stop what two people agree to; a proven restore point is the way back.`,
    indent(`$ LIFELINE_USER=${DEMO_REQUESTER} lifeline run shop --sql "${DEMO_LOSS_SQL}"`),
    indent(gateLine(loss.blocked)),
    indent(
      `$ LIFELINE_USER=${DEMO_APPROVER} lifeline approve ${loss.blocked.plan.planId.slice(0, 12)} --comment "${DEMO_LOSS_COMMENT}"`,
    ),
    indent(`$ LIFELINE_USER=${DEMO_REQUESTER} lifeline run shop --sql "${DEMO_LOSS_SQL}"`),
    indent(`${gateLine(loss.executed)} (${secs(loss.seconds)} for the three commands)`),
    indent(
      feedBroken.ok
        ? `The merchant feed still answers (${feedBroken.rows ?? 0} rows): the drop did not take it.`
        : `The merchant feed is broken: merchant-feed-generator's \`${DEMO_FEED_SQL}\` fails: ${feedBroken.error ?? ""}`,
    ),
    ...renderWatchAlert(r),
    "",
    "9. The fallback while the live database is repaired: a standby, a read-only copy of the verified restore point",
    "   for the services that only read (the feed generator can point at it):",
    indent(`$ lifeline standby shop --to ${standby.url}`),
    indent(
      `standby ${standby.result.database} serves restore point ${standby.result.restorePointId}: ${count(standby.result.tables, "table")}, ` +
        `${count(standby.result.rows, "row")}, ${standby.result.verified ? "verified against the restore point" : "NOT verified"}, ` +
        `in ${secs(standby.seconds)} (restore ${secs(standby.result.restoreSeconds)}, verify ${secs(standby.result.verifySeconds)})`,
    ),
    indent(
      standby.feed.ok
        ? `the merchant feed reads from it: ${count(standby.feed.rows ?? 0, "product")}`
        : `the merchant feed does NOT read from it: ${standby.feed.error ?? ""}`,
    ),
    indent(
      standby.write.failed
        ? `a write into it fails, as it should: ${DEMO_STANDBY_WRITE_SQL.split(" (")[0]} … → ${standby.write.error ?? ""}`
        : "a write into it SUCCEEDED: it is not read-only",
    ),
    indent(
      `it holds the data as of the restore point (${r.manifest.snapshotTime}): what was written since is not in it.`,
    ),
    "",
    "10. The recovery: only what was lost, back into the live database, through the gate (a restore never",
    "    overwrites a table that exists):",
    indent(`$ LIFELINE_USER=${DEMO_REQUESTER} ${DEMO_RESTORE_COMMAND}`),
    ...(restore.gate ? [indent(restoreGateLine(restore.gate))] : []),
    indent(
      `RESTORED ${t.tables.join(", ")} (${count(t.rows, "row")}), ` +
        `${t.verified ? "verified against the restore point" : `NOT verified: ${t.mismatches.map((m) => m.object).join(", ")}`}, ` +
        `in ${secs(restore.seconds)} (restore ${secs(t.restoreSeconds)}, verify ${secs(t.verifySeconds)})`,
    ),
    ...(restore.viewBack
      ? [
          indent(
            "the view merchant_feed came back with it: CASCADE had dropped it, and a restore brings back the views over",
          ),
          indent("the restored tables that the database lacks"),
        ]
      : [indent("the view merchant_feed did NOT come back: recreate it from its definition")]),
    ...t.foreignKeys.map((fk) =>
      indent(
        `reported, not restored: ${fk.name} (${fk.table} → ${fk.references}): ${fk.why}; to add it:\n     ${fk.definition.replace(/\s+/g, " ")}`,
      ),
    ),
    indent(
      feedAfter.ok
        ? `The merchant feed works again: ${count(feedAfter.rows ?? 0, "product")} (${count(feedBefore.rows ?? 0, "product")} before the loss).`
        : `The merchant feed still FAILS: ${feedAfter.error ?? ""}`,
    ),
    indent(
      `Lost for good: the ${count(r.activity.stockUpdates, "stock update")} made to products after the restore point (the changes at risk).`,
    ),
    indent(
      `Not touched: the other tables (orders: ${count(orders.before, "row")} before the loss, ${count(orders.after, "row")} after the restore).`,
    ),
    ...(r.watch.resolved
      ? [
          indent("lifeline serve's watch sees the table back and says so in the channel:"),
          indent(`  ${r.watch.resolved}`),
        ]
      : []),
    indent("$ lifeline audit verify"),
    indent(
      r.audit.chain.ok
        ? `The audit chain holds: ${count(r.audit.entries, "entry", "entries")}; since step 7: ${r.audit.recorded.slice(r.gate.entries).join(", ")}.`
        : `The audit chain is BROKEN: ${r.audit.chain.breaks.map((b) => b.problem).join("; ")}`,
    ),
  ];
}

/** The gate's word on the restore's plan (what it restores is said on the next line). */
function restoreGateLine(o: DemoResult["gate"]["blocked"]): string {
  const id = o.plan.planId.slice(0, 12);
  const met = o.decision.requirements.filter((q) => q.met).map((q) => q.detail);
  return o.status === "executed"
    ? `plan ${id}: ${o.plan.verdict.toUpperCase()}${met.length > 0 ? ` (${met.join("; ")})` : ""}; ${o.plan.recoverability.summary}`
    : gateLine(o);
}

/** What the gate did with a run, as it happened: only a blocked run says that nothing was run. */
export function gateLine(
  o: Pick<DemoResult["gate"]["blocked"], "status" | "plan" | "decision" | "execution" | "detail">,
): string {
  const id = o.plan.planId.slice(0, 12);
  const detail = o.detail ? `: ${o.detail}` : "";
  switch (o.status) {
    case "executed": {
      const by = o.decision.approvals.map((a) => a.approver.id).join(", ");
      return `EXECUTED plan ${id} in one transaction${by ? `, approved by ${by}` : ""}; recorded as ${o.execution.id}`;
    }
    case "blocked":
      return `BLOCKED (exit 3): plan ${id} needs what it does not have yet; nothing was run`;
    case "drift":
      return `BLOCKED (exit 3): plan ${id} changed since it was approved (drift); nothing was run`;
    case "failed":
      return `FAILED (exit 1): plan ${id} was run and failed${detail}; recorded as ${o.execution.id}`;
    case "interrupted":
      return `INTERRUPTED (exit 130): plan ${id}${detail}; recorded as ${o.execution.id}`;
    case "dry-run":
      return `DRY RUN: plan ${id} would run; nothing was run`;
    default:
      return `${String(o.status).toUpperCase()}: plan ${id}${detail}`;
  }
}

/** Step 8's alert: lifeline notices the loss, not the marketing team; the message as it reaches Slack. */
function renderWatchAlert(r: DemoResult): string[] {
  const w = r.watch;
  if (w.alert === null || w.noticedAfterMs === null)
    return [indent(`lifeline serve's watch (every ${secs(w.intervalMs / 1000)}) did NOT notice the loss`)];
  return [
    indent(
      `lifeline serve's watch (every ${secs(w.intervalMs / 1000)} here, 30s by default) noticed the loss ${secs(w.noticedAfterMs / 1000)} later,`,
    ),
    indent("before the marketing team did; the alert as it reaches Slack (notifications.webhooks):"),
    ...w.alert.split("\n").map((line) => indent(`  ${line}`)),
  ];
}
