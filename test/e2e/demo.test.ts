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
  });
});
