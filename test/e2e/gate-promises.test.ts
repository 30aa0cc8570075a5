/**
 * What the gate promises a requester and an approver, end to end with the built CLI: the plan
 * `plan` shows can be approved, an approval is used by the execution it authorises, the approver
 * sees the whole plan, `run` says what it did, and a damaged or forged catalog row is reported or
 * ignored, never a crash.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import { cli, startCli } from "../support/cli.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface RunDoc {
  status: string;
  planId: string;
  detail: string | null;
  statements: { command: string; rows: number | null }[] | null;
  ignoredApprovals: { id: string; why: string }[];
}

describe("the gate's promises, end to end", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-gate-promises-");
  const catalogFile = () => path.join(work.dir, ".lifeline/catalog.sqlite");
  const as = (user: string, args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: user } });
  const runJson = async (user: string, args: string[]) => {
    const result = await as(user, ["run", "--json", ...args]);
    return { result, doc: JSON.parse(result.stdout) as RunDoc };
  };
  const stock = async () =>
    Number((await query<{ s: string }>(db.url, "SELECT sum(stock)::text AS s FROM products"))[0]?.s);
  const sqlite = <T>(fn: (db: Database.Database) => T): T => {
    const handle = new Database(catalogFile());
    try {
      return fn(handle);
    } finally {
      handle.close();
    }
  };

  before(async () => {
    db = await createDatabase("lifeline_gate_promises");
    await query(db.url, SHOP_SCHEMA);
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: production\n`,
    );
    assert.equal((await as("alice", ["backup", "shop"])).code, 0);
    assert.equal((await as("alice", ["drill", "shop"])).code, 0);
  });

  after(async () => {
    await db.drop();
    work.remove();
  });

  it("plan → approve (another person, who sees the whole plan) → run executes, says the rows, and the approval is used: run again is refused", async () => {
    const sql = "UPDATE products SET stock = stock + 1";
    const planned = await as("alice", ["plan", "shop", "--sql", sql]);
    assert.equal(planned.code, 3, planned.stdout + planned.stderr);
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(planned.stdout)?.[1];
    assert.ok(planId, planned.stdout);

    // The requester of a plan recorded by `plan` is whoever ran it.
    const self = await as("alice", ["approve", planId]);
    assert.equal(self.code, 3, self.stderr);
    assert.match(self.stderr, /cannot approve it too/);

    // `show` prints the plan as `plan` printed it, from the catalog.
    const shown = await as("bob", ["show", planId.slice(0, 8)]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stdout.startsWith(planned.stdout.trimEnd()), `${shown.stdout}\n---\n${planned.stdout}`);
    assert.match(shown.stdout, /Requested by alice/);
    assert.match(shown.stdout, /Approvals\n {2}none yet/);

    const approved = await as("bob", ["approve", planId, "--comment", "stock recount"]);
    assert.equal(approved.code, 0, approved.stderr);
    // The approver sees what the requester saw (operations, rows, recoverability, requirements).
    assert.ok(approved.stdout.startsWith(planned.stdout.trimEnd()), approved.stdout);
    assert.match(approved.stdout, /Approved plan .* for alice: UPDATE products/);
    assert.match(approved.stdout, /for one execution/);

    // Once approved, the plan's requirements are judged with its approvals: the approval line no
    // longer says "0 so far" above the valid approval it lists (show, and approve by a third person).
    const approvedShown = await as("carol", ["show", planId]);
    assert.equal(approvedShown.code, 0, approvedShown.stderr);
    assert.match(approvedShown.stdout, /^Plan [0-9a-f]{12} for shop: ALLOW$/m);
    assert.match(
      approvedShown.stdout,
      /✓ 1 approval of plan [0-9a-f]{12} by another person: bob \("stock recount"\) \(1 so far\)/,
    );
    assert.doesNotMatch(approvedShown.stdout, /✗ 1 approval|0 so far/);
    assert.match(approvedShown.stdout, /by bob: valid \(0 of 1 use taken\)/);
    // approve prints the plan judged the same way (here the requester, refused after the review).
    const reviewedAgain = await as("alice", ["approve", planId]);
    assert.equal(reviewedAgain.code, 3, reviewedAgain.stderr);
    assert.match(reviewedAgain.stdout, /^Plan [0-9a-f]{12} for shop: ALLOW$/m);
    assert.match(
      reviewedAgain.stdout,
      /✓ 1 approval of plan [0-9a-f]{12} by another person: bob .*\(1 so far\)/,
    );
    assert.doesNotMatch(reviewedAgain.stdout, /0 so far/);
    const shownJson = JSON.parse((await as("carol", ["show", "--json", planId])).stdout) as {
      verdict: string;
      requirements: { kind: string; met: boolean }[];
    };
    assert.equal(shownJson.verdict, "allow");
    assert.deepEqual(
      shownJson.requirements.map((r) => [r.kind, r.met]),
      [
        ["verified-restore-point", true],
        ["approvals", true],
      ],
    );

    const before = await stock();
    const done = await as("alice", ["run", "shop", "--sql", sql]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.match(done.stdout, /EXECUTED plan/);
    assert.match(done.stdout, /1\. UPDATE: 2,000 rows affected/);
    assert.equal(await stock(), before + 2000);

    const again = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(again.result.code, 3, again.result.stdout);
    assert.equal(again.doc.status, "blocked");
    assert.equal(again.doc.planId.slice(0, 12), planId, "the same plan");
    assert.match(
      again.doc.ignoredApprovals.map((x) => x.why).join(" "),
      /used: it authorised 1 execution already/,
    );
    assert.equal(await stock(), before + 2000, "not run a second time");

    const json = JSON.parse((await as("bob", ["show", "--json", planId])).stdout) as {
      planId: string;
      plan: { operations: unknown[]; requirements: unknown[] };
      approvals: { by: string; used: number; uses: number; state: string }[];
      uses: { approval: string }[];
      executions: { result: string; statements?: { command: string; rows: number }[] }[];
    };
    assert.equal(json.planId.slice(0, 12), planId);
    assert.equal(json.plan.operations.length, 1);
    assert.deepEqual(
      json.approvals.map((a) => [a.by, a.used, a.uses, a.state]),
      [["bob", 1, 1, "used"]],
    );
    assert.equal(json.uses.length, 1);
    assert.deepEqual(
      json.executions.map((e) => e.result),
      ["succeeded", "blocked"],
    );
    assert.deepEqual(json.executions[0]?.statements, [{ command: "UPDATE", rows: 2000 }]);

    // The rows are in the audit log's run entry too.
    const audit = JSON.parse((await as("alice", ["audit", "--json", "--kind", "run"])).stdout) as {
      entries: { data: { status?: string; statements?: unknown } }[];
    };
    assert.deepEqual(audit.entries.find((e) => e.data.status === "executed")?.data.statements, [
      { command: "UPDATE", rows: 2000 },
    ]);
    assert.equal((await as("alice", ["audit", "verify"])).code, 0);
  });

  it("approve --uses 2 authorises two executions, not a third; --json carries the rows affected", async () => {
    const unknown = await as("bob", ["show", "deadbeef00"]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.match(unknown.stderr, /no plan deadbeef00/);
    const sql = "UPDATE products SET stock = stock + 2 WHERE id <= 10";
    const blocked = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(blocked.result.code, 3);
    assert.equal((await as("bob", ["approve", blocked.doc.planId, "--uses", "0"])).code, 2);
    const approved = await as("bob", ["approve", blocked.doc.planId, "--uses", "2"]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /for 2 executions/);
    const first = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(first.doc.status, "executed", first.result.stdout);
    assert.deepEqual(first.doc.statements, [{ command: "UPDATE", rows: 10 }]);
    assert.equal((await runJson("alice", ["shop", "--sql", sql])).doc.status, "executed");
    const third = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(third.result.code, 3);
    assert.match(JSON.stringify(third.doc.ignoredApprovals), /authorised 2 executions already/);
  });

  it("a dry run and a blocked run do not use the approval; a failed execution does", async () => {
    const sql = "UPDATE products SET stock = stock + 3 WHERE id = 1; SELECT 1 / 0";
    const blocked = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal((await as("bob", ["approve", blocked.doc.planId])).code, 0);
    assert.equal((await runJson("alice", ["--dry-run", "shop", "--sql", sql])).doc.status, "dry-run");
    assert.equal((await runJson("alice", ["--dry-run", "shop", "--sql", sql])).doc.status, "dry-run");
    const failed = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(failed.doc.status, "failed", failed.result.stdout);
    const again = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(again.doc.status, "blocked", "the failed execution used it (it ran)");
  });

  it("three processes racing for a single-use approval: exactly one executes", async () => {
    const sql = "UPDATE products SET stock = stock + 100 WHERE id <= 5";
    const blocked = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal((await as("bob", ["approve", blocked.doc.planId])).code, 0);
    const before = await stock();
    const runs = await Promise.all(
      [0, 1, 2].map(
        () =>
          startCli(["run", "--json", "shop", "--sql", sql], {
            cwd: work.dir,
            env: { LIFELINE_USER: "alice" },
          }).done,
      ),
    );
    const statuses = runs.map((r) => (JSON.parse(r.stdout) as RunDoc).status);
    assert.deepEqual(
      statuses.filter((s) => s === "executed"),
      ["executed"],
      runs.map((r) => r.stdout + r.stderr).join("\n"),
    );
    assert.deepEqual(runs.map((r) => r.code).sort(), [0, 3, 3]);
    assert.equal(await stock(), before + 500, "the UPDATE ran once");
    assert.equal((await as("alice", ["audit", "verify"])).code, 0);
  });

  it("status does not show a break-glass grant written into the catalog by hand (run ignores it too)", async () => {
    sqlite((h) =>
      h
        .prepare(
          "INSERT INTO lifeline_break_glass (id, asset, identity, reason, granted_at, expires_at, granted_by, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        )
        .run(
          "bg-forged000001",
          "shop",
          "alice",
          "forged",
          new Date(Date.now() - 60_000).toISOString(),
          "2099-01-01T00:00:00.000Z",
          JSON.stringify({ id: "alice", source: "env", host: "h", authenticated: false }),
        ),
    );
    const status = await as("alice", ["status"]);
    assert.doesNotMatch(status.stdout, /BREAK-GLASS/, status.stdout);
    const json = JSON.parse((await as("alice", ["status", "--json"])).stdout) as { breakGlass: unknown[] };
    assert.deepEqual(json.breakGlass, []);
    const ran = await runJson("alice", ["shop", "--sql", "DELETE FROM orders WHERE status = 'new'"]);
    assert.equal(ran.result.code, 3);
  });

  it("a malformed approval row does not count and is said so; it is not an unexpected failure", async () => {
    const sql = "DELETE FROM orders WHERE status = 'paid'";
    const blocked = await runJson("alice", ["shop", "--sql", sql]);
    const approval = JSON.parse((await as("bob", ["approve", "--json", blocked.doc.planId])).stdout) as {
      approval: { id: string };
    };
    sqlite((h) =>
      h.prepare("UPDATE lifeline_approvals SET approver = 'bob' WHERE id = ?").run(approval.approval.id),
    );
    const again = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(again.result.code, 3, again.result.stdout + again.result.stderr);
    assert.match(again.result.stderr, /damaged/);
    assert.match(JSON.stringify(again.doc.ignoredApprovals), /damaged/);
    const shown = await as("alice", ["show", blocked.doc.planId]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /damaged/);
  });

  it("the audit listing has a header and aligned columns; a damaged entry is listed, and verify names it (exit 4)", async () => {
    const listing = await as("alice", ["audit", "--limit", "8"]);
    assert.equal(listing.code, 0, listing.stderr);
    const lines = listing.stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^\s*SEQ\s+AT \(UTC\)\s+KIND\s+IDENTITY\s+ASSET\s+PLAN\s+RESULT\s+WHAT$/);
    for (const column of ["KIND", "IDENTITY", "PLAN"]) {
      const at = lines[0]!.indexOf(column);
      for (const line of lines.slice(1)) {
        assert.equal(line[at - 1], " ", `${column} column in: ${line}`);
        assert.notEqual(line[at], " ", `${column} column in: ${line}`);
      }
    }

    const seq =
      sqlite((h) => h.prepare("SELECT max(seq) AS s FROM lifeline_audit").pluck().get() as number) - 1;
    sqlite((h) => h.prepare("UPDATE lifeline_audit SET data = '{oops' WHERE seq = ?").run(seq));
    const verify = await as("alice", ["audit", "verify"]);
    assert.equal(verify.code, 4, verify.stdout + verify.stderr);
    assert.match(verify.stdout, new RegExp(`entry ${seq}: entry ${seq} is damaged: its data is not JSON`));
    const json = JSON.parse((await as("alice", ["audit", "verify", "--json"])).stdout) as {
      breaks: { seq: number }[];
    };
    assert.equal(json.breaks[0]?.seq, seq);
    const listed = await as("alice", ["audit"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^\\s*${seq}\\s.*DAMAGED: its data is not JSON`, "m"));
    assert.match(listed.stderr, /damaged/);
    assert.equal((await as("alice", ["audit", "--json"])).code, 0);
  });
});

describe("a kubectl plan without lifeline.yaml", () => {
  let cluster: FakeCluster;
  const work = tempDir("lifeline-gate-noconfig-");
  const kubeconfig = path.join(work.dir, "kubeconfig");

  before(async () => {
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
  });
  after(async () => {
    await cluster.close();
    work.remove();
  });

  it("does not print an approve command that cannot work, and says what to do instead", async () => {
    const result = await cli(["plan", "--", "kubectl", "delete", "pvc", SIMULATED.readPvc, "-n", "shop"], {
      cwd: work.dir,
      env: { KUBECONFIG: kubeconfig, LIFELINE_USER: "alice" },
    });
    assert.equal(result.code, 3, result.stdout + result.stderr);
    assert.match(result.stdout, /approval/);
    assert.doesNotMatch(result.stdout, /lifeline approve [0-9a-f]/);
    assert.match(result.stdout, /no lifeline\.yaml/);
  });
});
