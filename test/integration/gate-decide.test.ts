/**
 * The gate's use cases (decide, run, approve) against real catalogs, SQLite and PostgreSQL: what
 * counts is what the audit log vouches for, read by index (never the whole log), and an approval
 * is used by the execution it authorises, once, even when runs race for it.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { approve, revoke } from "../../src/app/approve.js";
import { decide, recordPlan, type GateDeps } from "../../src/app/gate.js";
import { run } from "../../src/app/run.js";
import type { Plan } from "../../src/core/plan/plan.js";
import { openCatalog } from "../../src/catalog/index.js";
import type { Identity } from "../../src/core/audit/chain.js";
import type { Catalog } from "../../src/ports/catalog.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

const PLAN_ID = "5e1f" + "0".repeat(60);

function plan(): Plan {
  const recoverability = { restorePoint: null, notContained: [], changesNotCovered: null, summary: "none" };
  return {
    planId: PLAN_ID,
    asset: "shop",
    assets: [{ name: "shop", tier: "production", recoverability }],
    command: { kind: "sql", text: "DELETE FROM orders" },
    cluster: null,
    verdict: "require",
    operations: [],
    dependents: [],
    consumers: [],
    recoverability,
    requirements: [{ kind: "approvals", needed: 1, met: false, detail: "1 approval", fix: null }],
    planningMs: 0,
  };
}

const who = (id: string): Identity => ({ id, source: "env", host: "h", authenticated: false });

/** The catalog as the gate sees it, except that reading the whole log is refused. */
function withoutFullLogReads(catalog: Catalog): Catalog {
  return new Proxy(catalog, {
    get(target, property, receiver) {
      if (property === "audit") return () => Promise.reject(new Error("the gate read the whole audit log"));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function deps(catalog: Catalog, id: string, warnings: string[] = []): GateDeps {
  return {
    catalog: withoutFullLogReads(catalog),
    identity: who(id),
    clock: { now: () => new Date() },
    notify: async () => [],
    warn: (m) => warnings.push(m),
  };
}

function suite(
  name: string,
  open: () => Promise<{
    catalog: Catalog;
    reopen(): Promise<Catalog>;
    sql(s: string): Promise<void>;
    close(): Promise<void>;
  }>,
) {
  describe(`the gate's use cases on ${name}`, () => {
    it("decide reads only what it needs; a hand-made or edited approval does not count; a recorded one does, once", async () => {
      const subject = await open();
      const { catalog } = subject;
      try {
        let executed = 0;
        const input = {
          planner: async () => plan(),
          document: () => ({}),
          executor: async () => {
            executed++;
            return { exitCode: 0 };
          },
          dryRun: false,
        };
        const blocked = await run(deps(catalog, "alice"), input);
        assert.equal(blocked.status, "blocked");
        await subject.sql(
          `INSERT INTO lifeline_approvals (id, plan_id, approver, comment, created_at, expires_at, revoked_at, revoked_by, uses) VALUES ('apr-byhand00001', '${PLAN_ID}', '{"id":"bob","host":"h","source":"env","authenticated":false}', NULL, '2026-01-01T00:00:00.000Z', '2099-01-01T00:00:00.000Z', NULL, NULL, NULL)`,
        );
        const forged = await decide(deps(catalog, "alice"), plan());
        assert.equal(forged.verdict, "require");
        assert.match(forged.ignored.map((x) => x.why).join(" "), /not in the audit log/);

        const given = await approve(deps(catalog, "bob"), {
          planId: PLAN_ID,
          comment: null,
          ttlSeconds: 600,
        });
        // Someone edits the row to allow more uses: it no longer matches its entry.
        await subject.sql(`UPDATE lifeline_approvals SET uses = 5 WHERE id = '${given.approval.id}'`);
        assert.equal((await decide(deps(catalog, "alice"), plan())).verdict, "require");
        await subject.sql(`UPDATE lifeline_approvals SET uses = 1 WHERE id = '${given.approval.id}'`);
        assert.equal((await decide(deps(catalog, "alice"), plan())).verdict, "allow");

        const done = await run(deps(catalog, "alice"), input);
        assert.equal(done.status, "executed");
        const again = await run(deps(catalog, "alice"), input);
        assert.equal(again.status, "blocked");
        assert.equal(executed, 1);
        // Removing the row's trace of the use does nothing: the use is in the log.
        const after = await decide(deps(catalog, "alice"), plan());
        assert.equal(after.verdict, "require");
        assert.match(after.ignored.map((x) => x.why).join(" "), /used: it authorised 1 execution/);
      } finally {
        await subject.close();
      }
    });

    it("an approve entry altered in the log does not vouch for its approval", async () => {
      const subject = await open();
      const { catalog } = subject;
      try {
        await run(deps(catalog, "alice"), {
          planner: async () => plan(),
          document: () => ({}),
          executor: async () => ({ exitCode: 0 }),
          dryRun: true,
        });
        const given = await approve(deps(catalog, "bob"), {
          planId: PLAN_ID,
          comment: null,
          ttlSeconds: 600,
        });
        await catalog.appendAudit({
          at: new Date().toISOString(),
          kind: "notify-failed",
          identity: "x",
          host: "h",
          asset: null,
          planId: null,
          data: {},
        });
        assert.equal((await decide(deps(catalog, "alice"), plan())).verdict, "allow");
        // Edited in place (someone changes who approved, then the row to match).
        await subject.sql(`UPDATE lifeline_audit SET identity = 'carol' WHERE seq = ${given.entry.seq}`);
        await subject.sql(
          `UPDATE lifeline_approvals SET approver = '{"id":"carol","host":"h","source":"env","authenticated":false}' WHERE id = '${given.approval.id}'`,
        );
        assert.equal((await decide(deps(catalog, "alice"), plan())).verdict, "require");
      } finally {
        await subject.close();
      }
    });

    it("runs racing for a single-use approval on separate connections: exactly one executes", async () => {
      const subject = await open();
      const { catalog } = subject;
      const others = await Promise.all([subject.reopen(), subject.reopen(), subject.reopen()]);
      try {
        await recordPlan(deps(catalog, "alice"), plan(), {});
        await approve(deps(catalog, "bob"), { planId: PLAN_ID, comment: null, ttlSeconds: 600 });
        let executed = 0;
        // Every runner checks first, then they all go for the use at once.
        let arrived = 0;
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let planned = 0;
        const outcomes = await Promise.all(
          [catalog, ...others].map((c) =>
            run(deps(c, "alice"), {
              planner: async () => {
                planned++;
                // The second planning happens after the check: wait there for the others.
                if (planned > 4) {
                  arrived++;
                  if (arrived === 4) release();
                  await gate;
                }
                return plan();
              },
              document: () => ({}),
              executor: async () => {
                executed++;
                return { exitCode: 0 };
              },
              dryRun: false,
            }),
          ),
        );
        assert.equal(arrived, 4, "all four passed the check");
        assert.equal(executed, 1);
        assert.deepEqual(outcomes.map((o) => o.status).sort(), ["blocked", "blocked", "blocked", "executed"]);
        assert.match(
          outcomes.find((o) => o.status === "blocked")?.detail ?? "",
          /was used by another execution \(1 of 1 use\); nothing was run/,
        );
      } finally {
        for (const c of others) await c.close();
        await subject.close();
      }
    });

    it("an approval revoked, or expired, while the plan is planned again just before executing: nothing runs", async () => {
      const subject = await open();
      const { catalog } = subject;
      try {
        await recordPlan(deps(catalog, "alice"), plan(), {});
        let executed = 0;
        const runWith = (meanwhile: () => Promise<void>) => {
          let planned = 0;
          return run(deps(catalog, "alice"), {
            planner: async () => {
              // The second planning comes after the check (reading a cluster can take seconds).
              if (++planned === 2) await meanwhile();
              return plan();
            },
            document: () => ({}),
            executor: async () => {
              executed++;
              return { exitCode: 0 };
            },
            dryRun: false,
          });
        };

        const revoked = await approve(deps(catalog, "bob"), {
          planId: PLAN_ID,
          comment: null,
          ttlSeconds: 600,
        });
        const afterRevoke = await runWith(async () => {
          await revoke(deps(catalog, "bob"), revoked.approval.id);
        });
        assert.equal(afterRevoke.status, "blocked", afterRevoke.detail ?? "");
        assert.match(afterRevoke.detail ?? "", new RegExp(`approval ${revoked.approval.id} was revoked`));
        assert.equal(executed, 0, "a revoked approval authorises nothing");

        const expiring = await approve(deps(catalog, "carol"), {
          planId: PLAN_ID,
          comment: null,
          ttlSeconds: 1,
        });
        const afterExpiry = await runWith(() => new Promise((resolve) => setTimeout(resolve, 1100)));
        assert.equal(afterExpiry.status, "blocked", afterExpiry.detail ?? "");
        assert.match(afterExpiry.detail ?? "", new RegExp(`approval ${expiring.approval.id} expired`));
        assert.equal(executed, 0, "an expired approval authorises nothing");
        // Neither was used: the log has no use entry for them.
        const uses = await catalog.auditAbout(["use"], [revoked.approval.id, expiring.approval.id]);
        assert.equal(uses.length, 0);
      } finally {
        await subject.close();
      }
    });
  });
}

const dir = tempDir("lifeline-gate-decide-");
after(() => dir.remove());
let n = 0;
suite("SQLite", async () => {
  const file = path.join(dir.dir, `catalog-${n++}.db`);
  const catalog = await openCatalog(file);
  const { default: Database } = await import("better-sqlite3");
  return {
    catalog,
    reopen: () => openCatalog(file),
    sql: async (s) => {
      const db = new Database(file);
      try {
        db.prepare(s).run();
      } finally {
        db.close();
      }
    },
    close: () => catalog.close(),
  };
});

describe("PostgreSQL", () => {
  let database: TestDatabase;
  before(async () => {
    database = await createDatabase("lifeline_gate_decide");
  });
  after(async () => {
    await database?.drop();
  });
  suite("PostgreSQL", async () => {
    const catalog = await openCatalog(database.url);
    return {
      catalog,
      reopen: () => openCatalog(database.url),
      sql: async (s) => {
        await query(database.url, s);
      },
      close: async () => {
        await catalog.close();
        const tables = await query<{ name: string }>(
          database.url,
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'lifeline\\_%'",
        );
        for (const { name } of tables) await query(database.url, `DROP TABLE "${name}"`);
      },
    };
  });
});
