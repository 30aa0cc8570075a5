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
    assert.match(result.stdout, /65 row changes/);
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
    assert.match(result.stdout, /The audit chain holds: 6 entries/);
    assert.deepEqual(leftovers(), before, "the demo cleans up after itself");
    assert.deepEqual(readdirSync(work.dir), [], "nothing written to the working directory");
  });

  it("--json prints one document", async () => {
    const result = await cli(["demo", "--json"], { cwd: work.dir });
    assert.equal(result.code, 0, result.stderr);
    const doc = JSON.parse(result.stdout) as {
      demo: {
        drill: { result: string };
        check: { ok: boolean };
        kubernetes: {
          simulated: boolean;
          before: { verdict: string };
          after: { verdict: string; dataLoss: string };
        };
      };
    };
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
