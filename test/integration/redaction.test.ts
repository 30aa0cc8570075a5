/**
 * Plan text that is stored (the catalog's plan record: command text and document; its audit entry)
 * or sent (webhook bodies) passes the one redactor: a password in SQL or a secret on a command line
 * never reaches the catalog file or a webhook, whatever path planned it.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { recordPlan, type GateDeps } from "../../src/app/gate.js";
import { run } from "../../src/app/run.js";
import type { Plan } from "../../src/core/plan/plan.js";
import { plan as planSql } from "../../src/app/plan.js";
import { planCommand } from "../../src/app/plan-command.js";
import { openCatalog } from "../../src/catalog/index.js";
import { planJson } from "../../src/cli/render/plan.js";
import { DEFAULT_POLICY } from "../../src/core/plan/policy.js";
import { notify } from "../../src/notify/webhook.js";
import { secrets } from "../../src/core/redact.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, tempDir, type TestDatabase } from "../support/pg.js";

let received: string[] = [];
let hook = "";
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString("utf8")));
  req.on("end", () => {
    received.push(body);
    res.writeHead(200).end();
  });
});

let db: TestDatabase;
const tmp = tempDir("lifeline-redaction-");

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  hook = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/hooks/T/B/X`;
  db = await createDatabase("lifeline_redaction");
});
after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await db?.drop();
  tmp.remove();
});

/** Every byte of the catalog: the SQLite file and its write-ahead log. */
function catalogBytes(file: string): string {
  return fs
    .readdirSync(path.dirname(file))
    .filter((f) => f.startsWith(path.basename(file)))
    .map((f) => fs.readFileSync(path.join(path.dirname(file), f)).toString("latin1"))
    .join("\n");
}

/** Records the plan and runs it until the gate asks for an approval (announced to the webhook). */
async function storeAndAnnounce(file: string, p: Plan): Promise<void> {
  const catalog = await openCatalog(file);
  try {
    const deps: GateDeps = {
      catalog,
      identity: { id: "alice", source: "env", host: "h", authenticated: false },
      clock: { now: () => new Date() },
      notify: (message) => notify([hook], message, { backoffMs: 1 }),
      warn: () => {},
    };
    await recordPlan(deps, p, planJson(p));
    const needsApproval: Plan = {
      ...p,
      verdict: "require",
      requirements: [{ kind: "approvals", needed: 1, met: false, detail: "1 approval", fix: null }],
    };
    const outcome = await run(deps, {
      planner: async () => needsApproval,
      document: planJson,
      executor: async () => ({ exitCode: 0 }),
      dryRun: false,
    });
    assert.equal(outcome.status, "blocked");
  } finally {
    await catalog.close();
  }
}

function assertNowhere(secret: string, file: string): void {
  assert.ok(received.length > 0, "the webhook was called");
  for (const body of received) assert.ok(!body.includes(secret), `${secret} sent to the webhook: ${body}`);
  const stored = catalogBytes(file);
  assert.ok(stored.includes("alice"), "the catalog holds the records");
  assert.ok(!stored.includes(secret), `${secret} stored in the catalog`);
}

describe("secrets in plans never reach the catalog or a webhook", () => {
  const sqlCases: [string, string][] = [
    ["ALTER ROLE x PASSWORD 'hunter2sql'", "hunter2sql"],
    // the parser rejects it: no password literal is registered as a secret on the way
    ["ALTER ROLE x PASSWORD 'hunter2bad' garbage here", "hunter2bad"],
    ["CREATE ROLE y LOGIN ENCRYPTED PASSWORD $$hunter2dollar$$ nonsense(", "hunter2dollar"],
  ];
  for (const [sql, secret] of sqlCases) {
    it(`SQL: ${sql}`, async () => {
      received = [];
      const file = path.join(tmp.dir, `sql-${secret}.db`);
      const p = await planSql(testContext(path.join(tmp.dir, "repo")), testAsset("shop", db.url), sql, {
        exact: false,
        policy: DEFAULT_POLICY,
      });
      await storeAndAnnounce(file, p);
      assertNowhere(secret, file);
    });
  }

  const commandCases: [string[], string][] = [
    [["helm", "upgrade", "pg", "./c", "--set", "db.password=hunter2set", "--dry-run"], "hunter2set"],
    [["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:p@ss2word@h/db", "--dry-run"], "ss2word"],
    [["kubectl", "--token=t0kenvalue9", "delete", "pvc", "data-0", "--dry-run=client"], "t0kenvalue9"],
    // a password lifeline knows (lifeline.yaml's database URL), where no pattern can see it
    [["helm", "upgrade", "pg", "./c", "--set", "initdb.args=-pkn0wnpass", "--dry-run"], "kn0wnpass"],
  ];
  for (const [argv, secret] of commandCases) {
    it(`command: ${argv.join(" ")}`, async () => {
      received = [];
      secrets.add("kn0wnpass");
      const file = path.join(tmp.dir, `cmd-${secret}.db`);
      const p = await planCommand(
        {
          ctx: null,
          cluster: () => {
            throw new Error("a dry run needs no cluster");
          },
          readManifests: async () => [],
          signal: new AbortController().signal,
        },
        argv,
        {
          assets: [],
          policy: DEFAULT_POLICY,
          kubernetes: { kubeconfig: null, context: null, clusterDomain: "cluster.local" },
        },
      );
      await storeAndAnnounce(file, p);
      assertNowhere(secret, file);
    });
  }
});
