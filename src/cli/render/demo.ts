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
    "Next, on your own database:",
    "   lifeline init --asset shop --url 'postgres://app:${SHOP_DB_PASSWORD}@db:5432/shop'",
    "   lifeline backup shop && lifeline drill shop && lifeline status",
    '   lifeline plan shop --sql "DROP TABLE products"',
    "   lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop      # with kubernetes: {namespace, release} on the asset",
    '   lifeline run shop --sql "TRUNCATE carts"      # blocked until another person runs: lifeline approve <plan id>',
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
