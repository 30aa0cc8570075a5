import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { SHOP_SCHEMA } from "../../src/demo/shop.js";
import { cli } from "../support/cli.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface RunDoc {
  status: string;
  planId: string;
  verdict: string;
  exitCode: number | null;
  detail: string | null;
  requirements: { kind: string; met: boolean; detail: string; fix: string | null }[];
  execution: { id: string; result: string };
}

/** A webhook receiver that fails its first request (to see the retry) and keeps what it got. */
async function webhook(): Promise<{
  url: string;
  messages: { text: string; lifeline: { event: string } }[];
  close(): Promise<void>;
}> {
  const messages: { text: string; lifeline: { event: string } }[] = [];
  let calls = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      calls++;
      if (calls === 1) {
        res.writeHead(503).end();
        return;
      }
      messages.push(JSON.parse(body) as { text: string; lifeline: { event: string } });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/SECRETPATH`,
    messages,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("the gate, end to end with two people", () => {
  let db: TestDatabase;
  let hook: Awaited<ReturnType<typeof webhook>>;
  let cluster: FakeCluster;
  const work = tempDir("lifeline-gate-e2e-");
  const kubeconfig = path.join(work.dir, "kubeconfig");
  const as = (user: string, args: string[]) =>
    cli(args, {
      cwd: work.dir,
      // The real kubectl (on PATH) against the simulated cluster, with its own discovery cache.
      env: { LIFELINE_USER: user, KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(work.dir, "kube-cache") },
    });
  const runJson = async (user: string, args: string[]) => {
    const result = await as(user, ["run", "--json", ...args]);
    return { result, doc: JSON.parse(result.stdout) as RunDoc };
  };

  before(async () => {
    db = await createDatabase("lifeline_gate_e2e");
    await query(db.url, SHOP_SCHEMA);
    hook = await webhook();
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:
  shop:
    url: ${db.url}
    tier: production
    kubernetes: { namespace: shop, release: postgresql }
breakGlass:
  max: 1h
notifications:
  webhooks: ["${hook.url}"]
`,
    );
    assert.equal((await as("alice", ["backup", "shop"])).code, 0);
    assert.equal((await as("alice", ["drill", "shop"])).code, 0);
  });

  after(async () => {
    await cluster.close();
    await hook.close();
    await db.drop();
    work.remove();
  });

  it("requester is blocked with the approve command; self-approval refused; another person approves; then it runs; the chain verifies", async () => {
    const sql = "TRUNCATE order_items";
    const blocked = await as("alice", ["run", "shop", "--sql", sql]);
    assert.equal(blocked.code, 3, blocked.stderr + blocked.stdout);
    const planId = /lifeline approve ([0-9a-f]{12})/.exec(blocked.stdout)?.[1];
    assert.ok(planId, blocked.stdout);
    assert.match(blocked.stdout, /BLOCKED: nothing was run/);
    assert.equal(
      (await query<{ n: string }>(db.url, "SELECT count(*) AS n FROM order_items"))[0]?.n,
      "15000",
    );

    const self = await as("alice", ["approve", planId]);
    assert.equal(self.code, 3);
    assert.match(self.stderr, /cannot approve it too/);

    const approved = await as("bob", ["approve", planId, "--comment", "checked with feed team"]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /Approved plan .* for alice: TRUNCATE order_items/);

    const dry = await runJson("alice", ["--dry-run", "shop", "--sql", sql]);
    assert.equal(dry.result.code, 0, dry.result.stdout);
    assert.equal(dry.doc.status, "dry-run");
    assert.equal(
      (await query<{ n: string }>(db.url, "SELECT count(*) AS n FROM order_items"))[0]?.n,
      "15000",
    );

    const done = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(done.result.code, 0, done.result.stdout + done.result.stderr);
    assert.equal(done.doc.status, "executed");
    assert.equal(done.doc.requirements.find((r) => r.kind === "approvals")?.met, true);
    assert.equal((await query<{ n: string }>(db.url, "SELECT count(*) AS n FROM order_items"))[0]?.n, "0");

    const verify = await as("alice", ["audit", "verify"]);
    assert.equal(verify.code, 0, verify.stdout);
    assert.match(verify.stdout, /The audit chain holds/);
    const audit = JSON.parse((await as("alice", ["audit", "--json", "--asset", "shop"])).stdout) as {
      entries: { kind: string }[];
    };
    const kinds = new Set(audit.entries.map((e) => e.kind));
    for (const k of ["plan", "approve", "run"]) assert.ok(kinds.has(k), `audit has ${k}`);

    const events = hook.messages.map((m) => m.lifeline.event);
    assert.ok(
      events.includes("approval-needed") && events.includes("approval") && events.includes("execution"),
      events.join(","),
    );
    const all =
      JSON.stringify(hook.messages) +
      blocked.stdout +
      blocked.stderr +
      done.result.stdout +
      done.result.stderr;
    assert.doesNotMatch(all, /SECRETPATH/, "the webhook URL is a secret");
  });

  it("an approval of plan A does not unlock plan B; revoked and expired approvals do not count", async () => {
    const a = await runJson("alice", ["shop", "--sql", "DELETE FROM orders WHERE status = 'cancelled'"]);
    assert.equal(a.result.code, 3);
    assert.equal((await as("bob", ["approve", a.doc.planId])).code, 0);
    const b = await runJson("alice", ["shop", "--sql", "DELETE FROM orders WHERE status = 'new'"]);
    assert.equal(b.result.code, 3, "plan B is not approved");
    assert.notEqual(b.doc.planId, a.doc.planId);

    // Revoked.
    const c = await runJson("alice", ["shop", "--sql", "UPDATE products SET stock = 0"]);
    const approval = JSON.parse((await as("bob", ["approve", "--json", c.doc.planId])).stdout) as {
      approval: { id: string };
    };
    assert.equal((await as("bob", ["revoke", approval.approval.id])).code, 0);
    assert.equal((await runJson("alice", ["shop", "--sql", "UPDATE products SET stock = 0"])).result.code, 3);

    // Expired.
    const d = await runJson("alice", ["shop", "--sql", "UPDATE products SET stock = 1"]);
    assert.equal((await as("bob", ["approve", d.doc.planId, "--for", "1s"])).code, 0);
    await new Promise((r) => setTimeout(r, 1500));
    const late = await runJson("alice", ["shop", "--sql", "UPDATE products SET stock = 1"]);
    assert.equal(late.result.code, 3);
    assert.ok(JSON.stringify(late.doc).includes("expired"));
  });

  it("a new restore point between approval and run is drift: blocked, and said so", async () => {
    const sql = "DELETE FROM orders WHERE status = 'shipped'";
    const first = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal((await as("bob", ["approve", first.doc.planId])).code, 0);
    assert.equal((await as("alice", ["backup", "shop"])).code, 0);
    assert.equal((await as("alice", ["drill", "shop"])).code, 0);
    const again = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(again.result.code, 3);
    assert.equal(again.doc.status, "drift");
    assert.match(again.doc.detail ?? "", /plan changed since it was approved \(drift\)/);
  });

  it("a change of the objects between approval and run (the table recreated) is drift", async () => {
    await query(
      db.url,
      "CREATE TABLE scratch_notes (id int PRIMARY KEY); INSERT INTO scratch_notes VALUES (1), (2)",
    );
    const sql = "TRUNCATE scratch_notes";
    const first = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal((await as("bob", ["approve", first.doc.planId])).code, 0);
    // Someone drops and recreates it: same name, another object (OID, relfilenode).
    await query(
      db.url,
      "DROP TABLE scratch_notes; CREATE TABLE scratch_notes (id int PRIMARY KEY); INSERT INTO scratch_notes VALUES (3)",
    );
    const again = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(again.result.code, 3);
    assert.equal(again.doc.status, "drift");
    assert.deepEqual(await query(db.url, "SELECT id FROM scratch_notes"), [{ id: 3 }]);
  });

  it("a failing statement leaves the database unchanged (rolled back) and is recorded as failed", async () => {
    const sql = "UPDATE products SET price = price * 2; SELECT 1 / 0";
    const before = await query<{ s: string }>(db.url, "SELECT sum(price)::text AS s FROM products");
    const blocked = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal((await as("bob", ["approve", blocked.doc.planId])).code, 0);
    const failed = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(failed.result.code, 1, failed.result.stdout);
    assert.equal(failed.doc.status, "failed");
    assert.equal(failed.doc.execution.result, "failed");
    assert.match(failed.doc.detail ?? "", /rolled back, nothing changed: division by zero/);
    assert.deepEqual(await query(db.url, "SELECT sum(price)::text AS s FROM products"), before);
  });

  it("a kubectl command against the (simulated) cluster: blocked, approved, executed with its output", async () => {
    const cmd = ["--", "kubectl", "delete", "pvc", SIMULATED.readPvc, "-n", "shop"];
    const blocked = await runJson("alice", cmd);
    assert.equal(blocked.result.code, 3, blocked.result.stdout + blocked.result.stderr);
    assert.equal((await as("bob", ["approve", blocked.doc.planId])).code, 0);
    const ran = await as("alice", ["run", ...cmd]);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout, new RegExp(`persistentvolumeclaim "${SIMULATED.readPvc}" deleted`));
    assert.match(ran.stdout, /EXECUTED plan/);
    assert.equal(cluster.server.has("PersistentVolumeClaim", SIMULATED.readPvc, "shop"), false);
    assert.equal(
      cluster.server.has("PersistentVolume", SIMULATED.readPv),
      false,
      "reclaim Delete took the volume",
    );
  });

  it("--prepare meets what lifeline can itself (k8s protect), then the volume is kept when the claim goes", async () => {
    const cmd = ["--", "kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"];
    const result = await as("alice", ["run", "--prepare", ...cmd]);
    assert.match(result.stderr, /prepare: before asking for approval, lifeline will:/);
    assert.match(result.stderr, /lifeline k8s protect shop --yes/);
    // Protected and freshly verified, deleting the claim is recoverable: the default policy allows it.
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /EXECUTED plan .* \(allowed by the policy\)/);
    assert.equal(cluster.server.has("PersistentVolumeClaim", SIMULATED.primaryPvc, "shop"), false);
    const pv = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Retain");
    assert.equal(pv.status?.phase, "Released", "the data is still there");
  });

  it("break-glass lets one person run without approvals, bounded, shown in status", async () => {
    const tooLong = await as("alice", [
      "break-glass",
      "--asset",
      "shop",
      "--for",
      "2h",
      "--reason",
      "INC-4411 restore",
    ]);
    assert.equal(tooLong.code, 2);
    assert.match(tooLong.stderr, /at most 1h/);
    const granted = await as("alice", [
      "break-glass",
      "--asset",
      "shop",
      "--for",
      "5m",
      "--reason",
      "INC-4411 restore",
    ]);
    assert.equal(granted.code, 0, granted.stderr);
    const status = await as("alice", ["status"]);
    assert.match(status.stdout, /BREAK-GLASS active on shop: alice/);
    const ran = await runJson("alice", ["shop", "--sql", "DELETE FROM orders WHERE status = 'paid'"]);
    assert.equal(ran.result.code, 0, ran.result.stdout);
    assert.match(
      ran.doc.requirements.find((r) => r.kind === "approvals")?.detail ?? "",
      /waived by break-glass/,
    );
    // It expires on time.
    const short = await as("carol", [
      "break-glass",
      "--asset",
      "shop",
      "--for",
      "1s",
      "--reason",
      "INC-4412 short",
    ]);
    assert.equal(short.code, 0, short.stderr);
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(
      (await runJson("carol", ["shop", "--sql", "DELETE FROM orders WHERE status = 'new'"])).result.code,
      3,
    );
    // Only for alice.
    const bob = await runJson("bob", ["shop", "--sql", "DELETE FROM orders WHERE status = 'new'"]);
    assert.equal(bob.result.code, 3);
    assert.ok(hook.messages.some((m) => m.lifeline.event === "break-glass" && /BREAK-GLASS/.test(m.text)));
    const id = /BREAK-GLASS (bg-[0-9a-f]+)/.exec(granted.stdout)?.[1] ?? "";
    assert.equal((await as("bob", ["break-glass", "--end", id])).code, 0);
    assert.equal(
      (await runJson("alice", ["shop", "--sql", "DELETE FROM orders WHERE status = 'new'"])).result.code,
      3,
      "ended",
    );
  });

  it("an approval written into the catalog by hand, not in the audit log, does not count", async () => {
    const sql = "DELETE FROM orders WHERE status = 'cancelled' AND id < 100";
    const blocked = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(blocked.result.code, 3);
    const sqlite = new Database(path.join(work.dir, ".lifeline/catalog.sqlite"));
    try {
      const columns = (
        sqlite.prepare("PRAGMA table_info(lifeline_approvals)").all() as { name: string }[]
      ).map((c) => c.name);
      const row: Record<string, unknown> = {
        id: "apr-forged00001",
        plan_id: blocked.doc.planId,
        approver: JSON.stringify({ id: "bob", source: "env", host: "h", authenticated: false }),
        comment: null,
        created_at: new Date().toISOString(),
        expires_at: "2099-01-01T00:00:00.000Z",
        revoked_at: null,
        revoked_by: null,
      };
      const keys = columns.filter((c) => c in row);
      sqlite
        .prepare(
          `INSERT INTO lifeline_approvals (${keys.join(",")}) VALUES (${keys.map(() => "?").join(",")})`,
        )
        .run(...keys.map((k) => row[k]));
    } finally {
      sqlite.close();
    }
    const again = await runJson("alice", ["shop", "--sql", sql]);
    assert.equal(again.result.code, 3, again.result.stdout);
    assert.match(JSON.stringify(again.doc), /not in the audit log/);
  });

  it("usage errors of the gate commands are clear (exit 2)", async () => {
    assert.equal((await as("alice", ["audit", "--since", "garbage"])).code, 2);
    assert.equal((await as("alice", ["audit", "--limit", "abc"])).code, 2);
    assert.equal((await as("alice", ["audit", "--kind", "bogus"])).code, 2);
    const plan = await runJson("alice", ["shop", "--sql", "DELETE FROM orders WHERE id = 1"]);
    const tooLong = await as("bob", ["approve", plan.doc.planId, "--for", "30d"]);
    assert.equal(tooLong.code, 2);
    assert.match(tooLong.stderr, /at most 1d/);
    assert.ok(
      JSON.parse((await as("alice", ["audit", "--json", "--kind", "prepare"])).stdout).entries.length > 0,
      "prepare steps are audited",
    );
  });

  it("tampering with the stored audit log is detected", async () => {
    const file = path.join(work.dir, ".lifeline/catalog.sqlite");
    const sqlite = new Database(file);
    try {
      sqlite.prepare("UPDATE lifeline_audit SET identity = 'mallory' WHERE seq = 2").run();
    } finally {
      sqlite.close();
    }
    const verify = await as("alice", ["audit", "verify", "--json"]);
    assert.equal(verify.code, 4);
    const doc = JSON.parse(verify.stdout) as { ok: boolean; breaks: { seq: number; problem: string }[] };
    assert.equal(doc.ok, false);
    assert.equal(doc.breaks[0]?.seq, 2);
  });
});

describe("the gate with a catalog a team shares in PostgreSQL", () => {
  let db: TestDatabase;
  let catalogDb: TestDatabase;
  const work = tempDir("lifeline-gate-pg-e2e-");
  const as = (user: string, args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: user } });

  before(async () => {
    db = await createDatabase("lifeline_gate_pg_e2e");
    catalogDb = await createDatabase("lifeline_gate_catalog");
    await query(
      db.url,
      "CREATE TABLE carts (id int PRIMARY KEY); INSERT INTO carts SELECT generate_series(1, 50)",
    );
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `catalog: ${catalogDb.url}\nassets:\n  shop:\n    url: ${db.url}\n    tier: production\n`,
    );
    assert.equal((await as("alice", ["backup", "shop"])).code, 0);
    assert.equal((await as("alice", ["drill", "shop"])).code, 0);
  });

  after(async () => {
    await db.drop();
    await catalogDb.drop();
    work.remove();
  });

  it("blocked, approved by another person, executed; the chain verifies; the state is in PostgreSQL", async () => {
    const blocked = await as("alice", ["run", "--json", "shop", "--sql", "TRUNCATE carts"]);
    assert.equal(blocked.code, 3, blocked.stderr);
    const planId = (JSON.parse(blocked.stdout) as { planId: string }).planId;
    assert.equal((await as("bob", ["approve", planId.slice(0, 10)])).code, 0);
    const ran = await as("alice", ["run", "shop", "--sql", "TRUNCATE carts"]);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.equal((await query<{ n: string }>(db.url, "SELECT count(*) AS n FROM carts"))[0]?.n, "0");
    assert.equal((await as("alice", ["audit", "verify"])).code, 0);
    const rows = await query<{ n: string }>(catalogDb.url, "SELECT count(*) AS n FROM lifeline_audit");
    assert.equal(rows[0]?.n, "7", "plan, blocked run, approval, plan, use, executing, executed");
    // The approval was used by that execution: running it again needs a new one (and a used
    // approval of the earlier plan is no drift to explain).
    const again = await as("alice", ["run", "shop", "--sql", "TRUNCATE carts"]);
    assert.equal(again.code, 3, again.stdout);
    assert.doesNotMatch(again.stdout, /drift/);
    assert.ok(
      !existsSync(path.join(work.dir, ".lifeline/catalog.sqlite")),
      "no SQLite file when the catalog is PostgreSQL",
    );
  });
});
