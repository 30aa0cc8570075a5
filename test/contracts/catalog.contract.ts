/**
 * The contract of the Catalog port, said once: catalog.test.ts runs it against every backend (an
 * SQLite file and the real PostgreSQL on this machine). Each backend only supplies how to open a
 * fresh catalog, reopen it, and reach its tables behind lifeline's back (to tamper).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LATEST_VERSION, MIGRATIONS } from "../../src/catalog/index.js";
import { auditRow } from "../../src/catalog/rows.js";
import { sha256hex } from "../../src/catalog/store.js";
import {
  canonicalJson,
  chainNext,
  verifyChain,
  type AuditEntry,
  type AuditInput,
} from "../../src/core/audit/chain.js";
import { alertKey, openAlerts, type OpenAlert } from "../../src/core/posture/check.js";
import { isLifelineError, type LifelineError } from "../../src/core/errors.js";
import type { BreakGlass } from "../../src/core/approval/approval.js";
import type { Catalog } from "../../src/ports/catalog.js";
import { vouchRecordedPlan } from "../../src/app/gate.js";
import { planDigest } from "../../src/core/approval/plan-vouch.js";
import {
  at,
  identity,
  input,
  planRecord,
  approval,
  grant,
  execution,
  PLAN_A,
  PLAN_B,
  PLAN_C,
} from "./catalog.samples.js";

/** A fresh catalog of one backend, and the ways around it that only a test needs. */
export interface CatalogSubject {
  catalog: Catalog;
  /** Another Catalog on the same store (a second process would see the same). */
  reopen(): Promise<Catalog>;
  /** Runs SQL directly on the store, as someone tampering with it would; the rows it returns. */
  execute(statement: string): Promise<Record<string, unknown>[]>;
  cleanup(): Promise<void>;
}

export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<LifelineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isLifelineError(error), `expected a LifelineError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

export async function verified(catalog: Catalog) {
  return verifyChain(sha256hex, await catalog.audit(), await catalog.auditHead());
}

// --- the contract ------------------------------------------------------------------------------

export function catalogContract(name: string, open: () => Promise<CatalogSubject>): void {
  describe(`Catalog contract: ${name}`, () => {
    let subject: CatalogSubject;
    let catalog: Catalog;

    async function fresh(): Promise<Catalog> {
      subject = await open();
      catalog = subject.catalog;
      return catalog;
    }
    async function done(): Promise<void> {
      await subject.cleanup();
    }

    it("starts empty", async () => {
      await fresh();
      try {
        assert.equal(await catalog.auditHead(), null);
        assert.deepEqual(await catalog.audit(), []);
        assert.equal(await catalog.findPlan(PLAN_A), null);
        assert.deepEqual(await catalog.approvalsFor(PLAN_A), []);
        assert.deepEqual(await catalog.executionsFor(PLAN_A), []);
        assert.deepEqual(await catalog.breakGlass({}), []);
        assert.ok(catalog.location.length > 0);
        assert.deepEqual(await verified(catalog), { ok: true, entries: 0, breaks: [] });
        await catalog.close();
      } finally {
        await done();
      }
    });

    it("savePlan keeps the first record of a plan id and still records every attempt", async () => {
      await fresh();
      try {
        const first = planRecord(PLAN_A);
        const e1 = await catalog.savePlan(
          first,
          input("plan", { planId: PLAN_A, data: { command: "TRUNCATE carts" } }),
        );
        const e2 = await catalog.savePlan(
          planRecord(PLAN_A, { verdict: "allow", requestedBy: identity("mallory@example.com") }),
          input("plan", { planId: PLAN_A, identity: "mallory@example.com", data: { again: true } }),
        );
        assert.deepEqual(await catalog.findPlan(PLAN_A), first);
        assert.deepEqual([e1.seq, e2.seq], [1, 2]);
        assert.equal(e2.prevHash, e1.hash);
        assert.deepEqual(await catalog.audit(), [e1, e2]);
        assert.deepEqual(await catalog.auditHead(), { seq: 2, hash: e2.hash });
      } finally {
        await done();
      }
    });

    it("finds plans and approvals by full id or a unique prefix of at least 8 characters", async () => {
      await fresh();
      try {
        for (const id of [PLAN_A, PLAN_B, PLAN_C])
          await catalog.savePlan(planRecord(id), input("plan", { planId: id }));
        assert.equal((await catalog.findPlan(PLAN_A))?.planId, PLAN_A);
        assert.equal((await catalog.findPlan(PLAN_A.slice(0, 9)))?.planId, PLAN_A);
        assert.equal((await catalog.findPlan(PLAN_C.slice(0, 8)))?.planId, PLAN_C);
        assert.equal(await catalog.findPlan("ffffffff"), null);
        // Ids are lower-case hex: capitals (or blanks) when typed or copied do not hide a plan.
        assert.equal((await catalog.findPlan(PLAN_A.toUpperCase()))?.planId, PLAN_A);
        assert.equal((await catalog.findPlan(` ${PLAN_C.slice(0, 8).toUpperCase()} `))?.planId, PLAN_C);

        const ambiguous = await rejectsWith(catalog.findPlan(PLAN_A.slice(0, 8)), "ID_PREFIX_AMBIGUOUS");
        assert.equal(ambiguous.kind, "usage");
        // Each id is said once: in the details (printed one a line), not in the message as well.
        assert.doesNotMatch(ambiguous.message, new RegExp(`${PLAN_A}|${PLAN_B}`));
        assert.match(ambiguous.message, /matches 2 plans:$/);
        assert.deepEqual(ambiguous.details, [PLAN_A, PLAN_B]);

        const short = await rejectsWith(catalog.findPlan(PLAN_C.slice(0, 7)), "ID_PREFIX_TOO_SHORT");
        assert.equal(short.kind, "usage");
        // Prefixes are literal: LIKE wildcards in them match nothing.
        assert.equal(await catalog.findPlan("7f3a9c0%"), null);
        assert.equal(await catalog.findPlan("7f3a9c0_a"), null);

        await catalog.addApproval(approval("apr-0a1b2c3d4e5f", PLAN_A), input("approve", { planId: PLAN_A }));
        await catalog.addApproval(approval("apr-0a1b2c999999", PLAN_A), input("approve", { planId: PLAN_A }));
        await catalog.addApproval(approval("apr-ffff00001111", PLAN_B), input("approve", { planId: PLAN_B }));
        assert.equal((await catalog.findApproval("apr-0a1b2c3d4e5f"))?.id, "apr-0a1b2c3d4e5f");
        assert.equal((await catalog.findApproval("apr-ffff"))?.id, "apr-ffff00001111");
        assert.equal((await catalog.findApproval("apr-0a1b2c3"))?.id, "apr-0a1b2c3d4e5f");
        assert.equal((await catalog.findApproval("APR-0A1B2C3D4E5F"))?.id, "apr-0a1b2c3d4e5f");
        await rejectsWith(catalog.findApproval("apr-0a1b2c"), "ID_PREFIX_AMBIGUOUS");
        await rejectsWith(catalog.findApproval("apr-0a"), "ID_PREFIX_TOO_SHORT");
        assert.equal(await catalog.findApproval("apr-12345678"), null);
      } finally {
        await done();
      }
    });

    it("approvals round-trip, revoke once, and a revoke that changes nothing records nothing", async () => {
      await fresh();
      try {
        await catalog.savePlan(planRecord(PLAN_A), input("plan", { planId: PLAN_A }));
        const a1 = approval("apr-000000000001", PLAN_A);
        const a2 = approval("apr-000000000002", PLAN_A, {
          approver: identity("carol@example.com", { source: "server", authenticated: true, host: "ci" }),
          comment: null,
          createdAt: at(5),
        });
        const other = approval("apr-000000000003", PLAN_B);
        await catalog.addApproval(a2, input("approve", { planId: PLAN_A }));
        await catalog.addApproval(a1, input("approve", { planId: PLAN_A }));
        await catalog.addApproval(other, input("approve", { planId: PLAN_B }));
        assert.deepEqual(await catalog.approvalsFor(PLAN_A), [a1, a2]);
        assert.deepEqual(await catalog.findApproval(a2.id), a2);

        const before = (await catalog.auditHead())?.seq;
        assert.equal(await catalog.revokeApproval(a1.id, "bob@example.com", at(10), input("revoke")), true);
        assert.equal(await catalog.revokeApproval(a1.id, "bob@example.com", at(11), input("revoke")), false);
        assert.equal(await catalog.revokeApproval("apr-nonexistent", "bob", at(11), input("revoke")), false);
        assert.equal((await catalog.auditHead())?.seq, (before ?? 0) + 1);
        assert.deepEqual(await catalog.findApproval(a1.id), {
          ...a1,
          revokedAt: at(10),
          revokedBy: "bob@example.com",
        });
        assert.deepEqual(await catalog.approvalsFor(PLAN_B), [other]);
      } finally {
        await done();
      }
    });

    it("a change that fails leaves neither the change nor an audit entry", async () => {
      await fresh();
      try {
        const a1 = approval("apr-000000000001", PLAN_A);
        await catalog.addApproval(a1, input("approve", { planId: PLAN_A }));
        const head = await catalog.auditHead();
        await rejectsWith(
          catalog.addApproval({ ...a1, comment: "duplicate id" }, input("approve", { planId: PLAN_A })),
          "CATALOG_FAILED",
        );
        assert.deepEqual(await catalog.auditHead(), head);
        assert.equal((await catalog.audit()).length, 1);
        assert.deepEqual(await catalog.approvalsFor(PLAN_A), [a1]);
      } finally {
        await done();
      }
    });

    it("executions round-trip, in the order they started", async () => {
      await fresh();
      try {
        const later = execution("run-000000000002", PLAN_A, {
          startedAt: at(20),
          finishedAt: at(21),
          statements: [
            { command: "DELETE", rows: 4200 },
            { command: "CREATE", rows: null },
          ],
        });
        const failed = execution("run-000000000001", PLAN_A, {
          result: "failed",
          exitCode: null,
          // Longer than 2^31 ms: bigint in both backends.
          durationMs: 3_000_000_123,
          breakGlass: "bg-0123456789ab",
          detail: "ERROR: permission denied for table carts",
          approvals: [],
        });
        await catalog.recordExecution(later, input("run", { planId: PLAN_A }));
        const entry = await catalog.recordExecution(
          failed,
          input("run", { planId: PLAN_A, data: { result: "failed" } }),
        );
        assert.deepEqual(await catalog.executionsFor(PLAN_A), [failed, later]);
        assert.deepEqual(await catalog.executionsFor(PLAN_B), []);
        assert.equal(entry.kind, "run");
      } finally {
        await done();
      }
    });

    it("break-glass grants: filtered by asset and by the window they are active in", async () => {
      await fresh();
      try {
        const active = grant("bg-active");
        const expired = grant("bg-expired", { grantedAt: at(-60), expiresAt: at(-30) });
        const future = grant("bg-future", { grantedAt: at(60), expiresAt: at(90) });
        const revoked = grant("bg-revoked", { grantedAt: at(-1) });
        const elsewhere = grant("bg-elsewhere", { asset: "billing", grantedAt: at(-2) });
        for (const g of [active, expired, future, revoked, elsewhere]) {
          await catalog.grantBreakGlass(g, input("break-glass", { asset: g.asset, data: { grant: g.id } }));
        }
        assert.equal(await catalog.revokeBreakGlass("bg-revoked", at(5), input("break-glass-revoke")), true);
        assert.equal(await catalog.revokeBreakGlass("bg-revoked", at(6), input("break-glass-revoke")), false);
        assert.equal(await catalog.revokeBreakGlass("bg-unknown", at(6), input("break-glass-revoke")), false);
        const revokedNow = { ...revoked, revokedAt: at(5) };

        const ids = (gs: BreakGlass[]) => gs.map((g) => g.id).sort();
        assert.deepEqual(ids(await catalog.breakGlass({})), [
          "bg-active",
          "bg-elsewhere",
          "bg-expired",
          "bg-future",
          "bg-revoked",
        ]);
        assert.deepEqual(await catalog.breakGlass({ asset: "shop" }), [expired, revokedNow, active, future]);
        assert.deepEqual(await catalog.breakGlass({ asset: "shop", activeAt: at(10) }), [active]);
        assert.deepEqual(ids(await catalog.breakGlass({ activeAt: at(10) })), ["bg-active", "bg-elsewhere"]);
        // The window includes its start and excludes its end; another ISO spelling of the same instant.
        assert.deepEqual(ids(await catalog.breakGlass({ asset: "shop", activeAt: at(0) })), ["bg-active"]);
        assert.deepEqual(await catalog.breakGlass({ asset: "shop", activeAt: at(30) }), []);
        assert.deepEqual(
          ids(await catalog.breakGlass({ asset: "shop", activeAt: "2026-11-26T11:15:00+01:00" })),
          ["bg-active"],
        );
        assert.deepEqual(ids(await catalog.breakGlass({ asset: "shop", activeAt: at(75) })), ["bg-future"]);
        await rejectsWith(catalog.breakGlass({ activeAt: "yesterday-ish" }), "USAGE");
      } finally {
        await done();
      }
    });

    it("audit filters: asset, identity, kind, since, limit; always in chain order", async () => {
      await fresh();
      try {
        const made: AuditEntry[] = [];
        made.push(await catalog.appendAudit(input("plan", { at: at(0), asset: "shop", identity: "alice" })));
        made.push(await catalog.appendAudit(input("approve", { at: at(1), asset: "shop", identity: "bob" })));
        made.push(
          await catalog.appendAudit(input("plan", { at: at(2), asset: "billing", identity: "alice" })),
        );
        made.push(await catalog.appendAudit(input("run", { at: at(3), asset: "shop", identity: "alice" })));
        made.push(
          await catalog.appendAudit(input("notify-failed", { at: at(4), asset: null, identity: "bob" })),
        );
        const seqs = (es: AuditEntry[]) => es.map((e) => e.seq);

        assert.deepEqual(await catalog.audit(), made);
        assert.deepEqual(seqs(await catalog.audit({ asset: "shop" })), [1, 2, 4]);
        assert.deepEqual(seqs(await catalog.audit({ identity: "alice" })), [1, 3, 4]);
        assert.deepEqual(seqs(await catalog.audit({ kind: "plan" })), [1, 3]);
        assert.deepEqual(seqs(await catalog.audit({ since: at(2) })), [3, 4, 5]);
        assert.deepEqual(seqs(await catalog.audit({ since: "2026-11-26T11:02:30+01:00" })), [4, 5]);
        assert.deepEqual(seqs(await catalog.audit({ limit: 2 })), [4, 5]);
        assert.deepEqual(seqs(await catalog.audit({ limit: 0 })), []);
        assert.deepEqual(seqs(await catalog.audit({ asset: "shop", identity: "alice", limit: 1 })), [4]);
        assert.deepEqual(seqs(await catalog.audit({ asset: "shop", kind: "approve", since: at(1) })), [2]);
        assert.deepEqual(await catalog.audit({ identity: "nobody" }), []);
        await rejectsWith(catalog.audit({ since: "not a time" }), "USAGE");
        await rejectsWith(catalog.audit({ limit: -1 }), "USAGE");
      } finally {
        await done();
      }
    });

    it("nested values round-trip exactly, and the entry returned is the entry stored", async () => {
      await fresh();
      try {
        const data = {
          z: "last key first",
          text: 'naïve café — 東京 🚀 "quoted" \\ back\nslash',
          numbers: [0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER],
          flags: { yes: true, no: false, none: null },
          list: [{ b: 2, a: 1 }, [], {}],
        };
        const entry = await catalog.appendAudit(input("prepare", { data, planId: PLAN_A }));
        const [stored] = await catalog.audit();
        assert.deepEqual(stored, entry);
        assert.deepEqual(stored?.data, data);

        const plan = planRecord(PLAN_C, {
          requestedBy: identity("zoë@example.com", { source: "server", authenticated: true, host: "höst" }),
        });
        await catalog.savePlan(plan, input("plan", { planId: PLAN_C }));
        assert.deepEqual(await catalog.findPlan(PLAN_C), plan);
        assert.deepEqual(await verified(catalog), { ok: true, entries: 2, breaks: [] });
      } finally {
        await done();
      }
    });

    it("the chain verifies after mixed mutations, and the head is the last entry", async () => {
      await fresh();
      try {
        await catalog.savePlan(planRecord(PLAN_A), input("plan", { planId: PLAN_A }));
        await catalog.addApproval(approval("apr-000000000001", PLAN_A), input("approve", { planId: PLAN_A }));
        await catalog.grantBreakGlass(grant("bg-1"), input("break-glass"));
        await catalog.revokeApproval("apr-000000000001", "bob", at(2), input("revoke"));
        await catalog.recordExecution(execution("run-1", PLAN_A), input("run", { planId: PLAN_A }));
        await catalog.revokeBreakGlass("bg-1", at(3), input("break-glass-revoke"));
        const last = await catalog.appendAudit(
          input("notify-failed", { data: { webhook: "https://hooks.example/x" } }),
        );
        const verdict = await verified(catalog);
        assert.deepEqual(verdict, { ok: true, entries: 7, breaks: [] });
        assert.deepEqual(await catalog.auditHead(), { seq: 7, hash: last.hash });
        assert.deepEqual(
          (await catalog.audit()).map((e) => e.kind),
          ["plan", "approve", "break-glass", "revoke", "run", "break-glass-revoke", "notify-failed"],
        );
      } finally {
        await done();
      }
    });

    it("20 concurrent appends get seq 1..20 and a chain that verifies", async () => {
      await fresh();
      try {
        const entries = await Promise.all(
          Array.from({ length: 20 }, (_, i) => catalog.appendAudit(input("notify-failed", { data: { i } }))),
        );
        assert.deepEqual(
          entries.map((e) => e.seq).sort((a, b) => a - b),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        assert.deepEqual(await verified(catalog), { ok: true, entries: 20, breaks: [] });
      } finally {
        await done();
      }
    });

    it("appends at once commit together, in call order; when their transaction fails every one of them fails", async () => {
      await fresh();
      try {
        await catalog.appendAudit(input("notify-failed", { data: { i: -1 } }));
        const entries = await Promise.all(
          Array.from({ length: 10 }, (_, i) => catalog.appendAudit(input("notify-failed", { data: { i } }))),
        );
        assert.deepEqual(
          entries.map((e) => [e.seq, e.data.i]),
          Array.from({ length: 10 }, (_, i) => [i + 2, i]),
        );
        // What each append returned is stored (it answered after its commit).
        const stored = await (await subject.reopen()).audit();
        assert.deepEqual(stored.slice(1), entries);
        // The head row gone: the group's transaction fails, so does each append in it; none is kept.
        await subject.execute("DELETE FROM lifeline_audit_head");
        const results = await Promise.allSettled(
          Array.from({ length: 5 }, (_, i) => catalog.appendAudit(input("notify-failed", { data: { i } }))),
        );
        for (const r of results) {
          assert.equal(r.status, "rejected");
          await rejectsWith(Promise.reject(r.reason), "CATALOG_AUDIT_HEAD_MISSING");
        }
        assert.equal((await catalog.audit()).length, 11);
      } finally {
        await done();
      }
    });

    it("two catalogs on the same store append concurrently into one chain", async () => {
      await fresh();
      const second = await subject.reopen();
      try {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            (i % 2 === 0 ? catalog : second).appendAudit(input("notify-failed", { data: { i } })),
          ),
        );
        const verdict = await verified(second);
        assert.deepEqual(verdict, { ok: true, entries: 20, breaks: [] });
        assert.deepEqual(
          (await catalog.audit()).map((e) => e.seq),
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
      } finally {
        await second.close();
        await done();
      }
    });

    /** An approval with its approve entry, as the gate records it. */
    async function approved(id: string, planId: string, uses?: number): Promise<AuditEntry> {
      return catalog.addApproval(
        approval(id, planId, uses === undefined ? {} : { uses }),
        input("approve", {
          planId,
          identity: "bob@example.com",
          data: { approval: id, expiresAt: at(61), ...(uses === undefined ? {} : { uses }) },
        }),
      );
    }
    const use = (approvalId: string, allowed: number) => ({
      approvalId,
      allowed,
      audit: input("use", { planId: PLAN_A, data: { approval: approvalId } }),
    });
    const executing = () => input("run", { planId: PLAN_A, data: { status: "executing" } });

    it("useApprovals: an approval is used once per execution, up to what it allows; then nothing is recorded", async () => {
      await fresh();
      try {
        await catalog.savePlan(planRecord(PLAN_A), input("plan", { planId: PLAN_A }));
        await approved("apr-once0000001", PLAN_A);
        await approved("apr-twice000001", PLAN_A, 2);
        assert.equal((await catalog.approvalsFor(PLAN_A)).find((a) => a.id === "apr-twice000001")?.uses, 2);
        const first = await catalog.useApprovals(
          [use("apr-once0000001", 1), use("apr-twice000001", 2)],
          executing(),
        );
        assert.ok(first.ok);
        assert.deepEqual(
          first.entries.map((e) => [e.kind, e.data.approval ?? e.data.status]),
          [
            ["use", "apr-once0000001"],
            ["use", "apr-twice000001"],
            ["run", "executing"],
          ],
        );
        const head = await catalog.auditHead();
        const again = await catalog.useApprovals([use("apr-once0000001", 1)], executing());
        assert.deepEqual(again, { ok: false, exhausted: [{ approvalId: "apr-once0000001", used: 1 }] });
        assert.deepEqual(await catalog.auditHead(), head, "nothing recorded");
        assert.ok((await catalog.useApprovals([use("apr-twice000001", 2)], executing())).ok);
        assert.equal((await catalog.useApprovals([use("apr-twice000001", 2)], executing())).ok, false);
        // Without approvals it only records the execution starting.
        const none = await catalog.useApprovals([], executing());
        assert.ok(none.ok && none.entries.length === 1);
        assert.equal((await verified(catalog)).ok, true);
      } finally {
        await done();
      }
    });

    it("useApprovals: five catalogs racing for a single-use approval: exactly one gets it", async () => {
      await fresh();
      const others = await Promise.all(Array.from({ length: 4 }, () => subject.reopen()));
      try {
        await approved("apr-race0000001", PLAN_A);
        const results = await Promise.all(
          [catalog, ...others].map((c) => c.useApprovals([use("apr-race0000001", 1)], executing())),
        );
        assert.equal(results.filter((r) => r.ok).length, 1, JSON.stringify(results));
        assert.equal(
          (await catalog.auditAbout(["use"], ["apr-race0000001"])).length,
          1,
          "one use in the log",
        );
        assert.equal((await verified(catalog)).ok, true);
      } finally {
        for (const c of others) await c.close();
        await done();
      }
    });

    it("auditAbout reads the entries about given approvals or grants by kind, only those that sit in the chain", async () => {
      await fresh();
      try {
        const a = await approved("apr-about000001", PLAN_A);
        const b = await approved("apr-other000001", PLAN_B);
        const g = await catalog.grantBreakGlass(
          grant("bg-about0000001"),
          input("break-glass", { data: { grant: "bg-about0000001", expiresAt: at(30) } }),
        );
        const r = await catalog.appendAudit(input("revoke", { data: { approval: "apr-about000001" } }));
        assert.deepEqual(await catalog.auditAbout(["approve", "revoke"], ["apr-about000001"]), [a, r]);
        assert.deepEqual(await catalog.auditAbout(["approve"], ["apr-about000001", "bg-about0000001"]), [a]);
        assert.deepEqual(await catalog.auditAbout(["break-glass"], ["bg-about0000001"]), [g]);
        assert.deepEqual(await catalog.auditAbout([], ["apr-about000001"]), []);
        assert.deepEqual(await catalog.auditAbout(["approve"], []), []);
        assert.deepEqual(await catalog.audit({ kind: "approve", planId: PLAN_B }), [b]);
        // The index column is derived from the data: an entry pointed at another id by hand is not
        // taken for an entry about that id.
        await subject.execute(`UPDATE lifeline_audit SET ref = 'apr-forged00001' WHERE seq = ${a.seq}`);
        assert.deepEqual(await catalog.auditAbout(["approve"], ["apr-forged00001"]), []);
        // An entry altered in place no longer matches its hash; one added beyond the head, or put in
        // place of another (its own hash right, but the next entry does not link to it), neither counts.
        await subject.execute(`UPDATE lifeline_audit SET identity = 'mallory' WHERE seq = ${b.seq}`);
        assert.deepEqual(await catalog.auditAbout(["approve"], ["apr-other000001"]), []);
        const forged = chainNext(sha256hex, r, input("approve", { data: { approval: "apr-beyond00001" } }));
        await subject.execute(
          `INSERT INTO lifeline_audit (seq, at, kind, identity, host, asset, plan_id, data, prev_hash, hash, ref) VALUES (${forged.seq}, '${forged.at}', 'approve', '${forged.identity}', 'build-01', 'shop', NULL, '${canonicalJson(forged.data)}', '${forged.prevHash}', '${forged.hash}', 'apr-beyond00001')`,
        );
        assert.deepEqual(await catalog.auditAbout(["approve"], ["apr-beyond00001"]), []);
        const replaced = chainNext(sha256hex, a, input("approve", { data: { approval: "apr-inplace0001" } }));
        await subject.execute(`DELETE FROM lifeline_audit WHERE seq = ${replaced.seq}`);
        await subject.execute(
          `INSERT INTO lifeline_audit (seq, at, kind, identity, host, asset, plan_id, data, prev_hash, hash, ref) VALUES (${replaced.seq}, '${replaced.at}', 'approve', '${replaced.identity}', 'build-01', 'shop', NULL, '${canonicalJson(replaced.data)}', '${replaced.prevHash}', '${replaced.hash}', 'apr-inplace0001')`,
        );
        assert.deepEqual(await catalog.auditAbout(["approve"], ["apr-inplace0001"]), []);
        // The untouched revoke entry, the head, still counts.
        assert.deepEqual(await catalog.auditAbout(["revoke"], ["apr-about000001"]), [r]);
      } finally {
        await done();
      }
    });

    it("auditDestroying reads the allowed decisions that destroy an object by its uid, since a time, only those that sit in the chain", async () => {
      await fresh();
      try {
        const decision = (kind: "admission" | "run", destroys: unknown, minutes: number, more = {}) =>
          catalog.appendAudit(
            input(kind, {
              at: at(minutes),
              data: {
                result: "allowed",
                status: "executing",
                command: "kubectl delete ns shop",
                destroys,
                ...more,
              },
            }),
          );
        const old = await decision("admission", ["uid-claim-1"], 0);
        const ns = await decision("admission", ["uid-ns", "uid-claim-1", "uid-claim-2", "uid-claim-1"], 10);
        const run = await decision("run", ["uid-claim-2"], 20);
        // Not decisions that destroy: other kinds, no list, items that are no uid.
        await catalog.appendAudit(input("plan", { at: at(21), data: { destroys: ["uid-claim-1"] } }));
        await decision("admission", "uid-claim-1", 22);
        await decision("admission", [7, null, ""], 23);
        // Appended in one group commit: each indexed.
        const [g1, g2] = await Promise.all([
          decision("admission", ["uid-group-1"], 24),
          decision("admission", ["uid-group-2"], 24),
        ]);
        assert.deepEqual(await catalog.auditDestroying("uid-claim-1", at(0)), [old, ns]);
        assert.deepEqual(await catalog.auditDestroying("uid-claim-1", at(5)), [ns]);
        assert.deepEqual(await catalog.auditDestroying("uid-claim-2", at(5)), [ns, run]);
        assert.deepEqual(await catalog.auditDestroying("uid-ns", at(0)), [ns]);
        assert.deepEqual(await catalog.auditDestroying("uid-group-2", at(0)), [g2]);
        assert.deepEqual(await catalog.auditDestroying("uid-group-1", at(0)), [g1]);
        assert.deepEqual(await catalog.auditDestroying("uid-none", at(0)), []);
        // A namespace's worth of objects in one decision (more rows than one INSERT takes).
        const many = Array.from({ length: 1_234 }, (_, i) => `uid-many-${i}`);
        const big = await decision("admission", many, 25);
        assert.deepEqual(await catalog.auditDestroying("uid-many-0", at(0)), [big]);
        assert.deepEqual(await catalog.auditDestroying("uid-many-1233", at(0)), [big]);
        await rejectsWith(catalog.auditDestroying("uid-ns", "yesterday"), "USAGE");
        // The index is derived from the data: a row pointing a uid at another entry by hand does
        // not make that entry destroy it.
        await subject.execute(
          `INSERT INTO lifeline_audit_destroys (uid, seq) VALUES ('uid-forged', ${run.seq})`,
        );
        assert.deepEqual(await catalog.auditDestroying("uid-forged", at(0)), []);
        // An entry altered in place no longer matches its hash: it counts for nothing.
        await subject.execute(`UPDATE lifeline_audit SET identity = 'mallory' WHERE seq = ${ns.seq}`);
        assert.deepEqual(await catalog.auditDestroying("uid-claim-1", at(0)), [old]);
        assert.deepEqual(await catalog.auditDestroying("uid-claim-2", at(0)), [run]);
      } finally {
        await done();
      }
    });

    it("auditDestroying finds a decision a lifeline that does not index appended (the other replica during a rolling upgrade)", async () => {
      await fresh();
      try {
        await catalog.appendAudit(input("admission", { data: { result: "denied" } }));
        // What lifeline before catalog version 3 does on append: the entry and the head, nothing more.
        const head = await catalog.auditHead();
        const entry = chainNext(
          sha256hex,
          head,
          input("admission", {
            data: {
              result: "allowed",
              command: "kubectl delete ns shop",
              destroys: ["uid-by-old", "uid-by-old-2"],
            },
          }),
        );
        const row = auditRow(entry);
        const literal = (v: unknown) => (v === null ? "NULL" : `'${String(v).replaceAll("'", "''")}'`);
        await subject.execute(
          `INSERT INTO lifeline_audit (${Object.keys(row).join(", ")}) VALUES (${Object.values(row).map(literal).join(", ")})`,
        );
        await subject.execute(
          `UPDATE lifeline_audit_head SET seq = ${entry.seq}, hash = '${entry.hash}' WHERE id = 1`,
        );
        assert.equal((await verified(catalog)).ok, true);
        assert.deepEqual(await catalog.auditDestroying("uid-by-old-2", at(-60)), [entry]);
        // And the next append of this lifeline is indexed once, as ever.
        const next = await catalog.appendAudit(
          input("run", { data: { status: "executing", destroys: ["uid-by-old", "uid-by-old"] } }),
        );
        assert.deepEqual(await catalog.auditDestroying("uid-by-old", at(-60)), [entry, next]);
      } finally {
        await done();
      }
    });

    it("a uid too long to index is not indexed, and fails no append (a PostgreSQL index entry holds 2704 bytes)", async () => {
      await fresh();
      try {
        // Incompressible: PostgreSQL compresses an index entry before it checks its size.
        const long = Array.from({ length: 125 }, (_, i) => sha256hex(`uid ${i}`)).join("");
        const [bystander, decision, other] = await Promise.all([
          catalog.appendAudit(input("admission", { data: { result: "denied" } })),
          catalog.appendAudit(
            input("admission", { data: { result: "allowed", destroys: [long, "uid-short"] } }),
          ),
          catalog.appendAudit(input("admission", { data: { result: "denied" } })),
        ]);
        assert.deepEqual([bystander.seq + 1, bystander.seq + 2], [decision.seq, other.seq]);
        assert.deepEqual(await catalog.auditDestroying("uid-short", at(-60)), [decision]);
        assert.deepEqual(await catalog.auditDestroying(long, at(-60)), []);
        assert.equal((await verified(catalog)).ok, true);
      } finally {
        await done();
      }
    });

    it("a version 2 catalog is migrated: the decisions it holds are indexed by the uids they destroy", async () => {
      await fresh();
      try {
        const a = await catalog.appendAudit(
          input("admission", { data: { result: "allowed", destroys: ["uid-v2-a", "uid-v2-b"] } }),
        );
        const r = await catalog.appendAudit(
          input("run", { data: { status: "executing", destroys: ["uid-v2-b"] } }),
        );
        await catalog.appendAudit(
          input("admission", { data: { result: "denied", reason: "destroys nothing" } }),
        );
        await catalog.close();
        await subject.execute("DROP TABLE lifeline_audit_destroys");
        await subject.execute("DELETE FROM lifeline_catalog_migrations WHERE version = 3");
        catalog = await subject.reopen();
        assert.deepEqual(await catalog.auditDestroying("uid-v2-a", at(-60)), [a]);
        assert.deepEqual(await catalog.auditDestroying("uid-v2-b", at(-60)), [a, r]);
        assert.equal((await verified(catalog)).ok, true);
      } finally {
        await catalog.close();
        await done();
      }
    });

    it("latestAlerts reads the latest alert entry of each alert, in chain order, only those that sit in the chain", async () => {
      await fresh();
      try {
        let minute = 0;
        const alert = (data: Record<string, unknown>, fields: Partial<AuditInput> = {}) =>
          catalog.appendAudit(input("alert", { at: at(minute++), data, ...fields }));
        const scheduled = (asset: string, state: string, more = {}) =>
          alert(
            { alert: "drill-failed", key: `${asset}:drill-failed`, state, message: "m", ...more },
            { asset },
          );
        const watch = (state: string) =>
          alert(
            { alert: "table-dropped", key: "shop:table-dropped:public.orders", state, message: "m" },
            { identity: "lifeline-watch" },
          );
        assert.deepEqual(await catalog.latestAlerts(), []);
        // Many fire/resolve cycles (some appended in one group commit), other kinds in between.
        for (let i = 0; i < 30; i++) {
          await Promise.all([
            scheduled("shop", "open"),
            scheduled("shop", "open", { repeated: true }),
            scheduled("billing", i % 2 === 0 ? "open" : "resolved"),
            watch(i % 3 === 0 ? "open" : "resolved"),
          ]);
          await scheduled("shop", "resolved");
          await catalog.appendAudit(
            input("notify-failed", { data: { key: "shop:drill-failed", state: "open" } }),
          );
        }
        const shopOpen = await scheduled("shop", "open");
        const billing = await scheduled("billing", "open");
        const tableResolved = await watch("resolved");
        // Without a key (or with one that is no string): by asset and alert name; "alert" when the
        // name is no string.
        const keyless = await alert({ alert: "copy-failed", state: "open" });
        const numbered = await alert({ alert: "copy-failed", key: 7, state: "resolved" }, { asset: "crm" });
        const nameless = await alert({ alert: 3, state: "open" }, { asset: null });
        // A key longer than a PostgreSQL index entry holds: indexed all the same, failing no append.
        const longKey = `shop:${Array.from({ length: 125 }, (_, i) => sha256hex(`k ${i}`)).join("")}`;
        const long = await alert({ alert: "table-dropped", key: longKey, state: "open" });
        const tail = await catalog.appendAudit(input("plan", { at: at(minute++) }));
        const expected = [shopOpen, billing, tableResolved, keyless, numbered, nameless, long];
        assert.deepEqual(await catalog.latestAlerts(), expected);
        // What reading every alert entry finds.
        const all = await catalog.audit({ kind: "alert" });
        const byKey = (alerts: OpenAlert[]) => [...alerts].sort((a, b) => (a.key < b.key ? -1 : 1));
        assert.deepEqual(byKey(openAlerts(await catalog.latestAlerts())), byKey(openAlerts(all)));
        assert.deepEqual(
          openAlerts(await catalog.latestAlerts()).map((a) => a.key),
          ["shop:drill-failed", "billing:drill-failed", "shop:copy-failed", ":alert", longKey],
        );
        // Another catalog on the same store reads the same.
        const other = await subject.reopen();
        try {
          assert.deepEqual(await other.latestAlerts(), expected);
        } finally {
          await other.close();
        }

        // Tampering: the latest entry of an alert that does not count leaves the one before it.
        const before = (entry: AuditEntry) =>
          all.filter((e) => alertKey(e) === alertKey(entry) && e.seq < entry.seq).at(-1) as AuditEntry;
        // Altered in place: no longer matches its hash.
        await subject.execute(`UPDATE lifeline_audit SET identity = 'mallory' WHERE seq = ${shopOpen.seq}`);
        // Its data no JSON: damaged.
        await subject.execute(`UPDATE lifeline_audit SET data = 'not json' WHERE seq = ${billing.seq}`);
        // Its data altered to name another alert: no longer its hash, nor the alert it is indexed under.
        await subject.execute(
          `UPDATE lifeline_audit SET data = '${canonicalJson({ ...tableResolved.data, key: "shop:elsewhere" })}' WHERE seq = ${tableResolved.seq}`,
        );
        // An index row pointing an alert at another entry by hand does not make it about that alert
        // (nor read it twice).
        await subject.execute(
          `INSERT INTO lifeline_audit_alerts (alert_key, seq) VALUES ('forged', ${keyless.seq})`,
        );
        const beyond = chainNext(
          sha256hex,
          tail,
          input("alert", {
            at: at(minute++),
            data: { alert: "copy-failed", key: 7, state: "open" },
            asset: "crm",
          }),
        );
        const row = auditRow(beyond);
        const literal = (v: unknown) => (v === null ? "NULL" : `'${String(v).replaceAll("'", "''")}'`);
        // Added beyond the head (its own hash right): indexed by the trigger, not counted.
        await subject.execute(
          `INSERT INTO lifeline_audit (${Object.keys(row).join(", ")}) VALUES (${Object.values(row).map(literal).join(", ")})`,
        );
        const counted = [before(shopOpen), before(billing), before(tableResolved)];
        assert.deepEqual(
          await catalog.latestAlerts(),
          [...counted, keyless, numbered, nameless, long].sort((a, b) => a.seq - b.seq),
        );
        assert.deepEqual(
          counted.map((e) => e.data.state),
          ["resolved", "resolved", "resolved"],
        );
        assert.deepEqual(
          openAlerts(await catalog.latestAlerts()).map((a) => a.key),
          ["shop:copy-failed", ":alert", longKey],
        );
      } finally {
        await done();
      }
    });

    it("latestAlerts finds an alert a lifeline that does not index appended (the other replica during a rolling upgrade)", async () => {
      await fresh();
      try {
        await catalog.appendAudit(
          input("alert", { data: { alert: "drill-failed", key: "shop:drill-failed", state: "open" } }),
        );
        // What lifeline before catalog version 4 does on append: the entry and the head, nothing more.
        const entry = chainNext(
          sha256hex,
          await catalog.auditHead(),
          input("alert", { data: { alert: "drill-failed", key: "shop:drill-failed", state: "resolved" } }),
        );
        const row = auditRow(entry);
        const literal = (v: unknown) => (v === null ? "NULL" : `'${String(v).replaceAll("'", "''")}'`);
        await subject.execute(
          `INSERT INTO lifeline_audit (${Object.keys(row).join(", ")}) VALUES (${Object.values(row).map(literal).join(", ")})`,
        );
        await subject.execute(
          `UPDATE lifeline_audit_head SET seq = ${entry.seq}, hash = '${entry.hash}' WHERE id = 1`,
        );
        assert.equal((await verified(catalog)).ok, true);
        assert.deepEqual(await catalog.latestAlerts(), [entry]);
        const next = await catalog.appendAudit(
          input("alert", { data: { alert: "drill-failed", key: "shop:drill-failed", state: "open" } }),
        );
        assert.deepEqual(await catalog.latestAlerts(), [next]);
      } finally {
        await done();
      }
    });

    it("a version 3 catalog is migrated: the alert entries it holds are indexed by the alert they are about", async () => {
      await fresh();
      try {
        const entries: AuditEntry[] = [];
        for (let i = 0; i < 6; i++)
          entries.push(
            await catalog.appendAudit(
              input("alert", {
                asset: i % 2 === 0 ? "shop" : "billing",
                data: { alert: "drill-failed", state: i < 4 ? "open" : "resolved" },
              }),
            ),
          );
        await catalog.appendAudit(input("plan", { data: { alert: "drill-failed" } }));
        await catalog.close();
        await subject.execute("DROP TABLE lifeline_audit_alerts");
        await subject.execute("DELETE FROM lifeline_catalog_migrations WHERE version = 4");
        catalog = await subject.reopen();
        assert.deepEqual(await catalog.latestAlerts(), [entries[4], entries[5]]);
        const next = await catalog.appendAudit(
          input("alert", { data: { alert: "drill-failed", state: "open" } }),
        );
        assert.deepEqual(await catalog.latestAlerts(), [entries[5], next]);
        assert.equal((await verified(catalog)).ok, true);
      } finally {
        await catalog.close();
        await done();
      }
    });

    it("firstPlanEntry is a plan id's first plan entry and whether it sits in the chain: the log vouches for the plan row as recorded, not for one edited by hand", async () => {
      await fresh();
      try {
        const plan = planRecord(PLAN_A);
        const digest = planDigest(sha256hex, plan.document, plan.command.text);
        const planData = { command: plan.command.text, kind: "sql", verdict: "require", digest };
        const e1 = await catalog.savePlan(plan, input("plan", { planId: PLAN_A, data: planData }));
        // Recorded again with another document: the first row stays, and so does the entry vouching for it.
        const other = { operations: [] };
        await catalog.savePlan(
          planRecord(PLAN_A, { document: other }),
          input("plan", {
            planId: PLAN_A,
            data: { ...planData, digest: planDigest(sha256hex, other, plan.command.text) },
          }),
        );
        await catalog.appendAudit(
          input("approve", { planId: PLAN_A, data: { approval: "apr-after000001" } }),
        );
        assert.deepEqual(await catalog.firstPlanEntry(PLAN_A), { entry: e1, inChain: true });
        assert.equal(await catalog.firstPlanEntry(PLAN_B), null);
        const vouch = async (id: string) => {
          const found = await catalog.findPlan(id);
          assert.ok(found);
          return vouchRecordedPlan(catalog, found);
        };
        assert.deepEqual(await vouch(PLAN_A), { vouched: true });

        const quoted = (value: unknown) => `'${JSON.stringify(value).replaceAll("'", "''")}'`;
        const tampered: [string, RegExp][] = [
          [`document = ${quoted(other)}`, /differs from what audit entry \d+ recorded/],
          [
            `command = ${quoted({ kind: "sql", text: "SELECT 1" })}`,
            /differs from what audit entry \d+ recorded/,
          ],
          [`requested_by = ${quoted(identity("bob@example.com"))}`, /says bob@example\.com requested it/],
          [`verdict = 'allow'`, /verdict is allow/],
        ];
        const original = `document = ${quoted(plan.document)}, command = ${quoted(plan.command)}, requested_by = ${quoted(plan.requestedBy)}, verdict = 'require'`;
        for (const [set, why] of tampered) {
          await subject.execute(`UPDATE lifeline_plans SET ${set} WHERE plan_id = '${PLAN_A}'`);
          const result = await vouch(PLAN_A);
          assert.equal(result.vouched, false, set);
          assert.equal(!result.vouched && result.legacy, false, set);
          assert.match(!result.vouched ? result.reason : "", why);
          await subject.execute(`UPDATE lifeline_plans SET ${original} WHERE plan_id = '${PLAN_A}'`);
          assert.deepEqual(await vouch(PLAN_A), { vouched: true }, set);
        }

        // A plan recorded before plans were vouched for: no digest to compare.
        await catalog.savePlan(
          planRecord(PLAN_B),
          input("plan", { planId: PLAN_B, data: { command: "TRUNCATE carts", verdict: "require" } }),
        );
        const legacy = await vouch(PLAN_B);
        assert.equal(!legacy.vouched && legacy.legacy, true);

        // The first entry altered in place (a digest made to match an edited row) does not sit in the chain.
        const forged = canonicalJson({
          ...planData,
          digest: planDigest(sha256hex, other, plan.command.text),
        });
        await subject.execute(`UPDATE lifeline_audit SET data = '${forged}' WHERE seq = ${e1.seq}`);
        await subject.execute(
          `UPDATE lifeline_plans SET document = ${quoted(other)} WHERE plan_id = '${PLAN_A}'`,
        );
        assert.equal((await catalog.firstPlanEntry(PLAN_A))?.inChain, false);
        const result = await vouch(PLAN_A);
        assert.match(!result.vouched ? result.reason : "", /does not sit in the audit chain/);
      } finally {
        await done();
      }
    });

    it("plansOfCommand finds the other plans of the same command text, newest first", async () => {
      await fresh();
      try {
        await catalog.savePlan(planRecord(PLAN_A, { createdAt: at(0) }), input("plan", { planId: PLAN_A }));
        await catalog.savePlan(planRecord(PLAN_B, { createdAt: at(5) }), input("plan", { planId: PLAN_B }));
        await catalog.savePlan(
          planRecord(PLAN_C, { command: { kind: "sql", text: "TRUNCATE carts " } }),
          input("plan", { planId: PLAN_C }),
        );
        assert.deepEqual(await catalog.plansOfCommand("TRUNCATE carts", { except: "x", limit: 10 }), [
          PLAN_B,
          PLAN_A,
        ]);
        assert.deepEqual(await catalog.plansOfCommand("TRUNCATE carts", { except: PLAN_B, limit: 10 }), [
          PLAN_A,
        ]);
        assert.deepEqual(await catalog.plansOfCommand("TRUNCATE carts", { except: "x", limit: 1 }), [PLAN_B]);
      } finally {
        await done();
      }
    });

    it("damaged rows: an audit entry whose data is not JSON is listed as damaged and named by verifyChain; a bad approval row is marked, a bad plan row is an error", async () => {
      await fresh();
      try {
        await catalog.savePlan(planRecord(PLAN_A), input("plan", { planId: PLAN_A }));
        await approved("apr-damaged0001", PLAN_A);
        await catalog.appendAudit(input("notify-failed", { data: { n: 3 } }));
        await subject.execute("UPDATE lifeline_audit SET data = '{not json' WHERE seq = 2");
        const entries = await catalog.audit();
        assert.equal(entries.length, 3);
        assert.match(entries[1]?.damaged ?? "", /not JSON/);
        assert.equal(entries[0]?.damaged, undefined);
        const verdict = await verified(catalog);
        assert.equal(verdict.ok, false);
        assert.equal(verdict.breaks[0]?.seq, 2);
        assert.match(verdict.breaks[0]?.problem ?? "", /entry 2 is damaged: its data is not JSON/);
        assert.deepEqual(
          await catalog.auditAbout(["approve"], ["apr-damaged0001"]),
          [],
          "a damaged entry counts for nothing",
        );

        await subject.execute("UPDATE lifeline_approvals SET approver = 'bob' WHERE id = 'apr-damaged0001'");
        const [bad] = await catalog.approvalsFor(PLAN_A);
        assert.match(bad?.damaged ?? "", /approver is not JSON/);
        await subject.execute(
          `UPDATE lifeline_approvals SET approver = '{"id":"bob","host":"h"}', expires_at = 'soon' WHERE id = 'apr-damaged0001'`,
        );
        assert.match((await catalog.findApproval("apr-damaged0001"))?.damaged ?? "", /not a time/);

        await subject.execute(`UPDATE lifeline_plans SET requested_by = '{' WHERE plan_id = '${PLAN_A}'`);
        const error = await rejectsWith(catalog.findPlan(PLAN_A), "CATALOG_ROW_DAMAGED");
        assert.ok(error.message.includes(PLAN_A), error.message);
      } finally {
        await done();
      }
    });

    it("a version 1 catalog is migrated: its entries get their refs, its plans their command digests", async () => {
      await fresh();
      try {
        await catalog.savePlan(planRecord(PLAN_A), input("plan", { planId: PLAN_A }));
        const a = await approved("apr-version1001", PLAN_A);
        const g = await catalog.grantBreakGlass(
          grant("bg-version10001"),
          input("break-glass", { data: { grant: "bg-version10001", expiresAt: at(30) } }),
        );
        await catalog.close();
        // Back to what version 1 had.
        for (const index of [
          "lifeline_audit_kind_ref",
          "lifeline_audit_kind_plan_id",
          "lifeline_plans_command_digest",
        ])
          await subject.execute(`DROP INDEX ${index}`);
        await subject.execute("ALTER TABLE lifeline_audit DROP COLUMN ref");
        await subject.execute("ALTER TABLE lifeline_approvals DROP COLUMN uses");
        await subject.execute("ALTER TABLE lifeline_executions DROP COLUMN statements");
        await subject.execute("ALTER TABLE lifeline_plans DROP COLUMN command_digest");
        await subject.execute("DROP TABLE lifeline_audit_destroys");
        await subject.execute("DROP TABLE lifeline_audit_alerts");
        await subject.execute("DELETE FROM lifeline_catalog_migrations WHERE version IN (2, 3, 4)");
        catalog = await subject.reopen();
        assert.deepEqual(await catalog.auditAbout(["approve"], ["apr-version1001"]), [a]);
        assert.deepEqual(await catalog.auditAbout(["break-glass"], ["bg-version10001"]), [g]);
        assert.deepEqual(await catalog.plansOfCommand("TRUNCATE carts", { except: "x", limit: 5 }), [PLAN_A]);
        assert.equal((await catalog.approvalsFor(PLAN_A))[0]?.uses, undefined, "as before: one use");
        assert.equal((await verified(catalog)).ok, true);
      } finally {
        await catalog.close();
        await done();
      }
    });

    describe("tampering is detected by verifyChain", () => {
      async function chainOf5(): Promise<void> {
        await fresh();
        for (let i = 1; i <= 5; i++) {
          await catalog.appendAudit(
            input("plan", { planId: PLAN_A, data: { n: i, command: "TRUNCATE carts" } }),
          );
        }
        assert.equal((await verified(catalog)).ok, true);
      }

      it("an altered entry", async () => {
        await chainOf5();
        try {
          await subject.execute(
            `UPDATE lifeline_audit SET data = '{"n":3,"command":"SELECT 1"}' WHERE seq = 3`,
          );
          const verdict = await verified(catalog);
          assert.equal(verdict.ok, false);
          assert.deepEqual(verdict.breaks[0], {
            seq: 3,
            problem: "entry 3 was altered (its content no longer matches its hash)",
          });
        } finally {
          await done();
        }
      });

      it("a deleted entry in the middle", async () => {
        await chainOf5();
        try {
          await subject.execute("DELETE FROM lifeline_audit WHERE seq = 3");
          const verdict = await verified(catalog);
          assert.equal(verdict.ok, false);
          assert.deepEqual(verdict.breaks[0], { seq: 4, problem: "entries 3–3 are missing" });
        } finally {
          await done();
        }
      });

      it("two entries that swapped places", async () => {
        await chainOf5();
        try {
          await subject.execute("UPDATE lifeline_audit SET seq = -2 WHERE seq = 2");
          await subject.execute("UPDATE lifeline_audit SET seq = 2 WHERE seq = 3");
          await subject.execute("UPDATE lifeline_audit SET seq = 3 WHERE seq = -2");
          const verdict = await verified(catalog);
          assert.equal(verdict.ok, false);
          // Read back in seq order, the swapped entry no longer follows entry 1 and its seq is not the one it was hashed with.
          assert.deepEqual(verdict.breaks.slice(0, 2), [
            { seq: 2, problem: "entry 2 does not follow entry 1 (previous hash differs)" },
            { seq: 2, problem: "entry 2 was altered (its content no longer matches its hash)" },
          ]);
        } finally {
          await done();
        }
      });

      it("the newest entry removed: the head says more were written", async () => {
        await chainOf5();
        try {
          await subject.execute("DELETE FROM lifeline_audit WHERE seq = 5");
          const verdict = await verified(catalog);
          assert.equal(verdict.ok, false);
          assert.deepEqual(verdict.breaks, [
            {
              seq: 5,
              problem:
                "the log ends at entry 4 but 5 entries were written: the newest were removed or replaced",
            },
          ]);
        } finally {
          await done();
        }
      });
    });

    it("opening again migrates nothing and keeps everything", async () => {
      await fresh();
      try {
        await catalog.savePlan(planRecord(PLAN_A), input("plan", { planId: PLAN_A }));
        const again = await subject.reopen();
        const third = await subject.reopen();
        try {
          assert.equal((await again.findPlan(PLAN_A))?.planId, PLAN_A);
          assert.deepEqual(await third.auditHead(), await catalog.auditHead());
          // Each version recorded once.
          const versions = await subject.execute(
            "SELECT version FROM lifeline_catalog_migrations ORDER BY version",
          );
          assert.deepEqual(
            versions.map((r) => Number(r.version)),
            MIGRATIONS.map((m) => m.version),
          );
        } finally {
          await again.close();
          await third.close();
        }
      } finally {
        await done();
      }
    });

    it("refuses a catalog written by a newer lifeline (an unknown migration version)", async () => {
      await fresh();
      try {
        await catalog.appendAudit(input("plan"));
        await subject.execute(
          "INSERT INTO lifeline_catalog_migrations (version, name, applied_at) VALUES (999, 'from the future', '2030-01-01T00:00:00Z')",
        );
        const error = await rejectsWith(subject.reopen(), "CATALOG_TOO_NEW");
        assert.equal(error.kind, "runtime");
        assert.match(
          error.message,
          new RegExp(`schema version 999, this lifeline knows versions up to ${LATEST_VERSION}`),
        );
        assert.match(error.fix ?? "", /upgrade lifeline/);
        // The catalog already open is unharmed.
        assert.equal((await verified(catalog)).ok, true);
      } finally {
        await done();
      }
    });
  });
}
