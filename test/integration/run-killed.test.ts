/**
 * A command the gate runs and a signal kills: recorded with the exit status shells report
 * (128 + the signal's number) and the signal's name, not a blanket 143.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, it } from "node:test";
import { run } from "../../src/app/run.js";
import type { Plan } from "../../src/core/plan/plan.js";
import { openCatalog } from "../../src/catalog/index.js";
import { runChild } from "../../src/support/process.js";
import { tempDir } from "../support/pg.js";

const work = tempDir("lifeline-run-killed-");
after(() => work.remove());

function allowed(): Plan {
  const recoverability = { restorePoint: null, notContained: [], changesNotCovered: null, summary: "none" };
  return {
    planId: "c0de" + "1".repeat(60),
    asset: null,
    assets: [],
    command: { kind: "kubectl", text: "kubectl get pods" },
    cluster: null,
    verdict: "allow",
    operations: [],
    dependents: [],
    consumers: [],
    recoverability,
    requirements: [],
    planningMs: 0,
  };
}

it("a command killed by SIGHUP fails with exit code 129 and says which signal", async () => {
  const catalog = await openCatalog(path.join(work.dir, "catalog.db"));
  try {
    const outcome = await run(
      {
        catalog,
        identity: { id: "alice", source: "env", host: "h", authenticated: false },
        clock: { now: () => new Date() },
        notify: async () => [],
        warn: () => undefined,
      },
      {
        planner: async () => allowed(),
        document: () => ({}),
        executor: () =>
          runChild(["sh", "-c", "kill -HUP $$"], { output: "stderr", signal: new AbortController().signal }),
        dryRun: false,
      },
    );
    assert.equal(outcome.status, "failed");
    assert.equal(outcome.exitCode, 129);
    assert.equal(outcome.detail, "the command was killed by SIGHUP (exit code 129)");
    const [entry] = await catalog
      .audit({ kind: "run" })
      .then((all) => all.filter((e) => e.data.status === "failed"));
    assert.equal(entry?.data.exitCode, 129);
  } finally {
    await catalog.close();
  }
});
