import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, describe, it } from "node:test";
import { cli, cliTmpDir } from "../support/cli.js";
import { tempDir } from "../support/pg.js";

/** What the demo could leave behind, in the private TMPDIR of this file's CLI runs (no other drill's). */
function leftovers(): string[] {
  return readdirSync(cliTmpDir()).filter(
    (n) => n.startsWith("lifeline-demo-") || n.startsWith("lifeline-scratch-"),
  );
}

describe("lifeline demo", () => {
  const work = tempDir("lifeline-demo-e2e-");
  after(() => work.remove());

  it("runs the whole loop with no config and explains what it proved", async () => {
    const before = leftovers();
    const result = await cli(["demo"], { cwd: work.dir });
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /✓ restore point \S+ of shop/);
    assert.match(result.stdout, /✓ drill passed/);
    assert.match(result.stdout, /shop\s+production/);
    assert.match(result.stdout, /What this proved/);
    // The figures are what happened: the changes status counts are the orders and updates made.
    const activity = /after the shop kept selling \((\d+) new orders?, (\d+) stock updates?\)/.exec(
      result.stdout,
    );
    assert.ok(activity, result.stdout);
    const changes = Number(activity[1]) + Number(activity[2]);
    assert.ok(changes > 0);
    assert.match(result.stdout, new RegExp(`at risk right now: ${changes} row changes were made`));
    assert.match(result.stdout, /Plan [0-9a-f]{12} for shop: REQUIRE/);
    assert.match(result.stdout, /\+ view public\.merchant_feed — dropped with CASCADE/);
    assert.match(result.stdout, /connected now: merchant-feed-generator/);
    assert.match(result.stdout, /✓ verified restore point/);
    assert.match(result.stdout, /✗ 1 approval of plan/);
    // The Kubernetes incident, on the simulated cluster, clearly labelled.
    assert.match(result.stdout, /SIMULATED Kubernetes cluster/);
    assert.match(result.stdout, /DESTRUCTIVE pvc shop\/data-postgresql-primary-0/);
    assert.match(result.stdout, /deployment feeds\/feed-generator → service shop\/postgresql-primary/);
    assert.match(result.stdout, /persistentVolumeReclaimPolicy Delete → Retain/);
    assert.match(result.stdout, /RECOVERABLE pvc shop\/data-postgresql-primary-0/);
    // The gate: blocked, approved by another person, executed; the chain holds.
    assert.match(result.stdout, /BLOCKED \(exit 3\): plan [0-9a-f]{12}/);
    assert.match(
      result.stdout,
      /EXECUTED plan [0-9a-f]{12} in one transaction, approved by bob@shop\.example/,
    );
    // The audit entries listed are the ones recorded, as many as counted.
    const chain = /The audit chain holds: (\d+) entries \((.*)\), each with the hash/.exec(result.stdout);
    assert.ok(chain, result.stdout);
    assert.equal(chain[2]?.split(", ").length, Number(chain[1]), chain[0]);
    assert.match(chain[2] ?? "", /approve/);
    // The loss: the DROP planned in step 5, approved and run; the merchant feed breaks.
    assert.match(
      result.stdout,
      /lifeline run shop --sql "DROP TABLE products CASCADE"\n\s+BLOCKED \(exit 3\)/,
    );
    assert.match(
      result.stdout,
      /EXECUTED plan [0-9a-f]{12} .*approved by bob@shop\.example.* \(\d+\.\d+s for the three commands\)/,
    );
    assert.match(result.stdout, /The merchant feed is broken: .*relation "merchant_feed" does not exist/);
    // lifeline notices the loss within one interval, not the marketing team: the alert as it reaches Slack.
    const noticed =
      /watch \(every (\d+\.\d+)s here, 30s by default\) noticed the loss (\d+\.\d+)s later/.exec(
        result.stdout,
      );
    assert.ok(noticed, result.stdout);
    assert.ok(Number(noticed[2]) <= 2 * Number(noticed[1]) + 1, noticed[0]);
    assert.match(result.stdout, /:rotating_light: lifeline: shop — table public\.products was dropped/);
    assert.match(
      result.stdout,
      /dependents: view public\.merchant_feed via pg_depend .*; foreign key public\.order_items/,
    );
    assert.match(
      result.stdout,
      /way back: lifeline restore shop --tables public\.products --restore-point \S+/,
    );
    assert.match(
      result.stdout,
      /resolved: table public\.products was dropped \(open [^)]+\): public\.products has 2,000 rows again/,
    );
    // The fallback: a verified, read-only standby that the feed reads from, and a write that fails.
    assert.match(
      result.stdout,
      /\$ lifeline standby shop --to postgres:\/\/lifeline@127\.0\.0\.1:\d+\/shop_standby/,
    );
    assert.match(
      result.stdout,
      /standby shop_standby serves restore point \S+: 4 tables, [\d,]+ rows, verified against the restore point, in \d+\.\d+s \(restore \d+\.\d+s, verify \d+\.\d+s\)/,
    );
    assert.match(result.stdout, /the merchant feed reads from it: 2,000 products/);
    assert.match(result.stdout, /a write into it fails, as it should: .*read-only transaction/);
    // The recovery: the table back into the live database through the gate, verified; the view with it.
    assert.match(
      result.stdout,
      /lifeline restore shop --tables public\.products\n\s+plan [0-9a-f]{12}: ALLOW/,
    );
    assert.match(
      result.stdout,
      /RESTORED public\.products \(2,000 rows\), verified against the restore point, in \d+\.\d+s \(restore \d+\.\d+s, verify \d+\.\d+s\)/,
    );
    assert.match(result.stdout, /the view merchant_feed came back with it/);
    assert.match(result.stdout, /reported, not restored: order_items_product_id_fkey/);
    assert.match(
      result.stdout,
      /The merchant feed works again: 2,000 products \(2,000 products before the loss\)/,
    );
    const orders = /orders: ([\d,]+) rows? before the loss, ([\d,]+) rows? after the restore/.exec(
      result.stdout,
    );
    assert.ok(orders, result.stdout);
    assert.equal(orders[1], orders[2]);
    // The loss, the standby and the restore are in the audit chain, after the gate's entries.
    const trail = /The audit chain holds: (\d+) entries; since step 7: (.*)\./.exec(result.stdout);
    assert.ok(trail, result.stdout);
    assert.equal(Number(trail[1]), Number(chain[1]) + (trail[2]?.split(", ").length ?? 0), trail[0]);
    assert.match(trail[2] ?? "", /approve, .*run \(executed\), .*standby, .*restore/);
    assert.doesNotMatch(result.stdout, /NOT verified|SUCCEEDED|still FAILS|did NOT come back|BROKEN/);
    assert.doesNotMatch(result.stdout, /did NOT go as expected/);
    assert.deepEqual(leftovers(), before, "the demo cleans up after itself");
    assert.deepEqual(readdirSync(work.dir), [], "nothing written to the working directory");
  });

  it("--json prints one document", async () => {
    const result = await cli(["demo", "--json"], { cwd: work.dir });
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout) as {
      demo: {
        ok: boolean;
        unexpected: unknown[];
        activity: { newOrders: number; stockUpdates: number };
        drill: { result: string };
        check: { ok: boolean };
        kubernetes: {
          simulated: boolean;
          before: { verdict: string };
          after: { verdict: string; dataLoss: string };
        };
        loss: { status: string; feedAfterLoss: { ok: boolean } };
        standby: { verified: boolean; write: { failed: boolean }; feed: { rows: number } };
        restore: {
          tables: string[];
          verified: boolean;
          viewBack: boolean;
          gate: { verdict: string; status: string } | null;
          feed: { ok: boolean; rows: number };
        };
      };
    };
    assert.equal(doc.demo.ok, true);
    assert.deepEqual(doc.demo.unexpected, []);
    assert.ok(doc.demo.activity.newOrders > 0 && doc.demo.activity.stockUpdates > 0);
    assert.equal(doc.demo.drill.result, "passed");
    assert.equal(doc.demo.check.ok, true);
    assert.equal(doc.demo.kubernetes.simulated, true);
    assert.equal(doc.demo.kubernetes.before.verdict, "require");
    assert.deepEqual(
      [doc.demo.kubernetes.after.verdict, doc.demo.kubernetes.after.dataLoss],
      ["allow", "recoverable"],
    );
    assert.equal(doc.demo.loss.status, "executed");
    assert.equal(doc.demo.loss.feedAfterLoss.ok, false);
    assert.equal(doc.demo.standby.verified, true);
    assert.equal(doc.demo.standby.write.failed, true);
    assert.equal(doc.demo.standby.feed.rows, 2000);
    assert.deepEqual(doc.demo.restore.tables, ["public.products"]);
    assert.equal(doc.demo.restore.verified, true);
    assert.equal(doc.demo.restore.viewBack, true);
    assert.deepEqual(doc.demo.restore.gate && [doc.demo.restore.gate.verdict, doc.demo.restore.gate.status], [
      "allow",
      "executed",
    ]);
    assert.deepEqual([doc.demo.restore.feed.ok, doc.demo.restore.feed.rows], [true, 2000]);
  });
});
