import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli } from "../support/cli.js";
import { SIMULATED, mergePatch, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { createDatabase, tempDir, type TestDatabase } from "../support/pg.js";

interface UndoDoc {
  asset: string;
  undo: boolean;
  status: string;
  applied: boolean;
  done: { volume: string }[];
  plans: {
    volume: string;
    claim: string;
    from: string;
    to: string;
    command: string;
    approve: string | null;
    breakGlass: string | null;
    run: {
      status: string;
      planId: string;
      verdict: string;
      requirements: { kind: string; met: boolean }[];
      plan: { operations: { kind: string }[] };
    } | null;
  }[];
}

/**
 * `lifeline k8s protect --undo` goes through the gate: putting a production volume back to Delete is
 * what the admission webhook denies to `kubectl patch pv`, so the CLI is no way around it. The
 * built CLI as a process, against the simulated API server, with the default policy.
 */
describe("lifeline k8s protect --undo, through the gate", () => {
  let db: TestDatabase;
  let cluster: FakeCluster;
  const work = tempDir("lifeline-k8s-undo-e2e-");
  const kubeconfig = path.join(work.dir, "kubeconfig");
  const as = (user: string, args: string[]) =>
    cli(args, { cwd: work.dir, env: { KUBECONFIG: kubeconfig, LIFELINE_USER: user } });
  const policyOf = async (pv: string) =>
    (await cluster.core.readPersistentVolume({ name: pv })).spec?.persistentVolumeReclaimPolicy;
  const volumes = [SIMULATED.primaryPv, SIMULATED.readPv].sort();
  const record = () => path.join(work.dir, ".lifeline", "state", "k8s-protect-shop.json");

  before(async () => {
    db = await createDatabase("lifeline_k8s_undo_e2e");
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:
  shop:
    url: ${db.url}
    tier: production
    rpo: 24h
    kubernetes:
      namespace: shop
      release: postgresql
`,
    );
  });

  after(async () => {
    await cluster.close();
    await db.drop();
    work.remove();
  });

  it("blocked without approval (exit 3, nothing changed, approve and break-glass named); approved by another person, it runs", async () => {
    const protect = await as("alice", ["k8s", "protect", "shop", "--yes"]);
    assert.equal(protect.code, 0, protect.stderr);
    for (const pv of volumes) assert.equal(await policyOf(pv), "Retain", pv);
    const recorded = readFileSync(record(), "utf8");

    // Without approval: blocked, exit 3, every plan's approve command and the break-glass way.
    const blocked = await as("alice", ["k8s", "protect", "shop", "--undo", "--yes"]);
    assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
    assert.match(blocked.stdout, /BLOCKED: nothing was changed/);
    const ids = [...blocked.stdout.matchAll(/approves: lifeline approve ([0-9a-f]{12})/g)].map((m) => m[1]);
    assert.equal(ids.length, 2, blocked.stdout);
    assert.equal(new Set(ids).size, 2, "one plan per volume");
    assert.match(blocked.stdout, /lifeline break-glass --asset shop --for 30m/);
    for (const pv of volumes) {
      assert.match(
        blocked.stdout,
        new RegExp(
          `kubectl patch pv ${pv} --context simulated -p '\\{"spec":\\{"persistentVolumeReclaimPolicy":"Delete"\\}\\}'`,
        ),
      );
      assert.equal(await policyOf(pv), "Retain", `${pv} unchanged while blocked`);
    }
    assert.equal(readFileSync(record(), "utf8"), recorded, "the record is unchanged");

    // --json says the same: the plans, their outcome, what to do next.
    const blockedJson = await as("alice", ["k8s", "protect", "shop", "--undo", "--yes", "--json"]);
    assert.equal(blockedJson.code, 3, blockedJson.stderr);
    const doc = JSON.parse(blockedJson.stdout) as UndoDoc;
    assert.equal(doc.asset, "shop");
    assert.equal(doc.undo, true);
    assert.equal(doc.status, "blocked");
    assert.equal(doc.applied, false);
    assert.deepEqual(doc.done, []);
    assert.deepEqual(doc.plans.map((p) => p.volume).sort(), volumes);
    for (const p of doc.plans) {
      assert.equal(p.from, "Retain");
      assert.equal(p.to, "Delete");
      assert.match(p.claim, /^shop\/data-postgresql-/);
      assert.match(p.command, new RegExp(`^kubectl patch pv ${p.volume} --context simulated -p `));
      assert.equal(p.run?.status, "blocked");
      assert.equal(p.run?.verdict, "require");
      assert.equal(p.run?.plan.operations[0]?.kind, "patch-pv-reclaim-policy-delete");
      assert.equal(p.run?.requirements.find((r) => r.kind === "approvals")?.met, false);
      assert.equal(p.approve, `lifeline approve ${p.run?.planId.slice(0, 12)}`);
      assert.match(p.breakGlass ?? "", /^lifeline break-glass --asset shop --for 30m --reason/);
    }
    assert.deepEqual(doc.plans.map((p) => p.run?.planId.slice(0, 12)).sort(), [...ids].sort());
    // The very plan of `lifeline plan -- kubectl patch pv …`, and of the command the admission
    // webhook makes of the same change (its argv names no --context: the plan id is the same).
    const primary = doc.plans.find((p) => p.volume === SIMULATED.primaryPv);
    const body = '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}';
    for (const context of [["--context", "simulated"], []]) {
      const planned = await as("alice", [
        "plan",
        "--json",
        "--",
        "kubectl",
        "patch",
        "pv",
        SIMULATED.primaryPv,
        ...context,
        "-p",
        body,
      ]);
      assert.equal(planned.code, 3, planned.stderr);
      assert.equal((JSON.parse(planned.stdout) as { planId: string }).planId, primary?.run?.planId);
    }

    // Dry run: the plans, nothing changed (still blocked: exit 3).
    const dryBlocked = await as("alice", ["k8s", "protect", "shop", "--undo", "--dry-run"]);
    assert.equal(dryBlocked.code, 3, dryBlocked.stdout + dryBlocked.stderr);
    for (const pv of volumes) assert.equal(await policyOf(pv), "Retain");

    // Another person approves each plan.
    for (const id of ids) {
      const approved = await as("bob", ["approve", id ?? "", "--comment", "decommissioning shop"]);
      assert.equal(approved.code, 0, approved.stderr);
    }

    // Dry run once approved: allowed, and still nothing changed.
    const dry = await as("alice", ["k8s", "protect", "shop", "--undo", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /DRY RUN: nothing changed/);
    assert.match(dry.stdout, /approved by bob/);
    for (const pv of volumes) assert.equal(await policyOf(pv), "Retain", `${pv} unchanged by --dry-run`);
    assert.equal(readFileSync(record(), "utf8"), recorded);

    const undo = await as("alice", ["k8s", "protect", "shop", "--undo", "--yes", "--json"]);
    assert.equal(undo.code, 0, undo.stdout + undo.stderr);
    const done = JSON.parse(undo.stdout) as UndoDoc;
    assert.equal(done.status, "executed");
    assert.equal(done.applied, true);
    assert.deepEqual(done.done.map((d) => d.volume).sort(), volumes);
    for (const p of done.plans) assert.equal(p.run?.status, "executed");
    for (const pv of volumes) assert.equal(await policyOf(pv), "Delete", pv);
    assert.equal(existsSync(record()), false, "nothing left to undo");

    // The approvals were used by that execution: nothing is left to undo, and nothing runs again.
    const again = await as("alice", ["k8s", "protect", "shop", "--undo", "--yes"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to undo/);

    // The audit log has the plans, bob's approvals and the runs.
    const audit = await as("alice", ["audit", "--json"]);
    assert.equal(audit.code, 0, audit.stderr);
    const entries = JSON.parse(audit.stdout) as
      { kind: string; identity: string }[] | { entries: { kind: string; identity: string }[] };
    const list = Array.isArray(entries) ? entries : entries.entries;
    assert.ok(list.some((e) => e.kind === "approve" && e.identity === "bob"));
    assert.ok(list.some((e) => e.kind === "run" && e.identity === "alice"));
  });
  it("a volume already back (a run killed between its patch and its record): said, and forgotten from the record", async () => {
    const protect = await as("alice", ["k8s", "protect", "shop", "--yes"]);
    assert.equal(protect.code, 0, protect.stderr);
    // What `--undo` SIGKILLed just after patching the first volume leaves: the volume back to
    // Delete, the record still listing it.
    await cluster.core.patchPersistentVolume(
      { name: SIMULATED.primaryPv, body: { spec: { persistentVolumeReclaimPolicy: "Delete" } } },
      mergePatch,
    );
    const listed = () =>
      (JSON.parse(readFileSync(record(), "utf8")) as { changes: { volume: string }[] }).changes
        .map((c) => c.volume)
        .sort();
    assert.deepEqual(listed(), volumes);

    // A dry run says so and changes nothing, not even the record.
    const dry = await as("alice", ["k8s", "protect", "shop", "--undo", "--dry-run"]);
    assert.equal(dry.code, 3, dry.stdout + dry.stderr);
    assert.match(dry.stdout, new RegExp(`keep pv ${SIMULATED.primaryPv}: already Delete, as before protect`));
    assert.doesNotMatch(dry.stdout, /someone set it/);
    assert.deepEqual(listed(), volumes);

    // A run (blocked on the other volume) forgets it: it is not kept in the record forever.
    const blocked = await as("alice", ["k8s", "protect", "shop", "--undo", "--yes"]);
    assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
    assert.deepEqual(listed(), [SIMULATED.readPv]);
    assert.equal(await policyOf(SIMULATED.readPv), "Retain");

    // Once the other is back too (by hand here), nothing is left to undo and the record is gone.
    await cluster.core.patchPersistentVolume(
      { name: SIMULATED.readPv, body: { spec: { persistentVolumeReclaimPolicy: "Delete" } } },
      mergePatch,
    );
    const none = await as("alice", ["k8s", "protect", "shop", "--undo", "--yes"]);
    assert.equal(none.code, 0, none.stdout + none.stderr);
    assert.match(none.stdout, /nothing to undo/);
    assert.equal(existsSync(record()), false, "nothing left in the record");
  });
  it("two --undo runs at once: the one that finds the other put every volume back says so (exit 0), not BLOCKED", async () => {
    for (let round = 0; round < 3; round++) {
      const protect = await as("alice", ["k8s", "protect", "shop", "--yes"]);
      assert.equal(protect.code, 0, protect.stderr);
      const blocked = await as("alice", ["k8s", "protect", "shop", "--undo", "--yes"]);
      assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
      const ids = [...blocked.stdout.matchAll(/approves: lifeline approve ([0-9a-f]{12})/g)].map((m) => m[1]);
      assert.equal(ids.length, 2, blocked.stdout);
      for (const id of ids) assert.equal((await as("bob", ["approve", id ?? ""])).code, 0);

      const both = await Promise.all([
        as("alice", ["k8s", "protect", "shop", "--undo", "--yes"]),
        as("alice", ["k8s", "protect", "shop", "--undo", "--yes"]),
      ]);
      for (const pv of volumes) assert.equal(await policyOf(pv), "Delete", pv);
      assert.equal(existsSync(record()), false, "nothing left to undo");
      const said = both.map((r) => r.stdout + r.stderr).join("\n----\n");
      // Each volume was put back once, by one of them; neither says it was blocked.
      for (const r of both) {
        assert.equal(r.code, 0, said);
        assert.doesNotMatch(r.stdout, /BLOCKED|not allowed yet/, said);
      }
      const loser = both.find((r) => !/Restored 2 volumes/.test(r.stdout));
      if (loser)
        assert.match(
          loser.stdout,
          /another run at the same time (already put every volume of shop back|put back the other)|nothing to undo: no volume is still as protect left it/,
          said,
        );
    }
  });
});
