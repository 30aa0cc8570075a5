/**
 * `lifeline serve` (the built CLI) with only a watch: section: no TLS, no Kubernetes. It samples
 * the asset every interval, a DROP TABLE reaches the webhook receiver and the audit log, and
 * SIGTERM stops it cleanly (exit 0). Config errors of the watch: section name the path and the fix.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, startCli } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

const work = tempDir("lifeline-serve-watch-");
let db: TestDatabase;
let receiver: Server;
let hook = "";
const received: { text: string }[] = [];

before(async () => {
  db = await createDatabase("lifeline_serve_watch");
  await query(
    db.url,
    "CREATE TABLE customers (id int PRIMARY KEY); INSERT INTO customers SELECT generate_series(1, 2000)",
  );
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      received.push(JSON.parse(body) as { text: string });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const address = receiver.address();
  hook = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/services/T0/B0/HOOKSECRET`;
});

after(async () => {
  await db?.drop();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  work.remove();
});

function config(watch: string): string {
  return [
    "assets:",
    "  crm:",
    `    url: ${db.url}`,
    "notifications:",
    `  webhooks: ["${hook}"]`,
    watch,
    "",
  ].join("\n");
}

describe("lifeline serve with only the watch", () => {
  it("alerts a dropped table to the webhook and the audit log; SIGTERM stops it", async () => {
    writeFileSync(path.join(work.dir, "lifeline.yaml"), config("watch:\n  interval: 300ms"));
    const { child, done } = startCli(["serve", "--listen", "127.0.0.1:0"], { cwd: work.dir });
    let stderr = "";
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    // Whatever fails below, the server does not outlive the test.
    after(() => void child.kill("SIGKILL"));
    const deadline = Date.now() + 20_000;
    const wait = async (what: string, ok: () => boolean) => {
      while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    // Without a restore point the first round says so (the RPO); then the drop.
    await wait("the first alert", () => received.some((r) => /passed the RPO/.test(r.text)));
    await query(db.url, "DROP TABLE customers");
    await wait("the drop alert", () =>
      received.some((r) => /table public\.customers was dropped/.test(r.text)),
    );
    // /metrics (plain HTTP without TLS): the alerts by kind and state.
    await wait("the listening line", () => /"listening"/.test(stderr));
    const port = /"address":"[^"]*:(\d+)"/.exec(stderr)?.[1];
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /lifeline_watch_alerts_total\{asset="crm",kind="table-dropped",state="open"\} 1/);
    assert.match(metrics, /lifeline_watch_round_duration_seconds \d/);
    child.kill("SIGTERM");
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const events = result.stderr
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => (JSON.parse(l) as { event: string }).event);
    assert.ok(events.includes("watch-started") && events.includes("stopped"), events.join(", "));
    assert.ok(!result.stderr.includes("HOOKSECRET"));
    const drop = received.find((r) => /customers was dropped/.test(r.text))?.text ?? "";
    assert.match(drop, /before → after: 2,000 rows → dropped/);
    assert.match(drop, /lifeline backup crm && lifeline drill crm/);

    const audit = await cli(["audit", "--kind", "alert", "--json"], { cwd: work.dir });
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /table-dropped:public\.customers/);
  });

  it("a wrong interval names the path and the fix", async () => {
    writeFileSync(path.join(work.dir, "lifeline.yaml"), config("watch:\n  interval: often"));
    const result = await cli(["serve", "--listen", "127.0.0.1:0"], { cwd: work.dir });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /watch\.interval: is not an interval; write it like 30s, 5m or 500ms/);
  });
});
