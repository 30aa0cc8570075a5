import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  GENESIS_HASH,
  canonicalJson,
  chainNext,
  verifyChain,
  type AuditEntry,
  type AuditInput,
  type Identity,
} from "../../src/core/audit.js";
import {
  activeBreakGlass,
  countingApprovals,
  withApprovals,
  type Approval,
  type BreakGlass,
} from "../../src/core/gate.js";
import type { Requirement } from "../../src/core/plan.js";

const sha256 = (t: string) => createHash("sha256").update(t).digest("hex");
const who = (id: string): Identity => ({ id, source: "env", host: "h", authenticated: false });
const now = new Date("2026-11-26T12:00:00Z");

function approval(over: Partial<Approval> = {}): Approval {
  return {
    id: "apr-1",
    planId: "a".repeat(64),
    approver: who("bob"),
    comment: null,
    createdAt: "2026-11-26T11:30:00Z",
    expiresAt: "2026-11-26T12:30:00Z",
    revokedAt: null,
    revokedBy: null,
    ...over,
  };
}

function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (let i = 0; i < n; i++) {
    const input: AuditInput = {
      at: `2026-11-26T12:00:0${i}Z`,
      kind: "run",
      identity: i % 2 ? "alice" : "bob",
      host: "h",
      asset: "shop",
      planId: "p",
      data: { i, nested: { b: 1, a: [1, 2] } },
    };
    out.push(chainNext(sha256, out[out.length - 1] ?? null, input));
  }
  return out;
}

describe("approvals that count", () => {
  const input = { planId: "a".repeat(64), runner: "alice", now };

  it("counts an approval of this exact plan by someone else, unexpired, unrevoked", () => {
    assert.equal(countingApprovals([approval()], input).valid.length, 1);
  });

  it("refuses self-approval, other plans, expired and revoked approvals, and double counting", () => {
    const { valid, ignored } = countingApprovals(
      [
        approval({ id: "self", approver: who("Alice") }),
        approval({ id: "other", planId: "b".repeat(64) }),
        approval({ id: "old", expiresAt: "2026-11-26T11:59:59Z" }),
        approval({ id: "gone", revokedAt: "2026-11-26T11:45:00Z", revokedBy: "bob" }),
        approval({ id: "ok" }),
        approval({ id: "twice" }),
      ],
      input,
    );
    assert.deepEqual(
      valid.map((a) => a.id),
      ["ok"],
    );
    assert.deepEqual(
      ignored.map((x) => [x.approval.id, x.why.split(" ")[0]]),
      [
        ["self", "an"],
        ["other", "it"],
        ["old", "expired"],
        ["gone", "revoked"],
        ["twice", "bob"],
      ],
    );
  });

  it("meets the approvals requirement, or keeps it unmet with the approve command", () => {
    const reqs: Requirement[] = [
      { kind: "verified-restore-point", met: true, detail: "rp", fix: null },
      { kind: "approvals", needed: 1, met: false, detail: "x", fix: "y" },
    ];
    const none = withApprovals(reqs, { valid: [], breakGlass: null, planId: "a".repeat(64) });
    assert.equal(none.verdict, "require");
    assert.match(none.requirements[1]?.fix ?? "", /lifeline approve aaaaaaaaaaaa/);
    const one = withApprovals(reqs, { valid: [approval()], breakGlass: null, planId: "a".repeat(64) });
    assert.equal(one.verdict, "allow");
    const two = withApprovals([{ ...reqs[1]!, needed: 2 }], {
      valid: [approval()],
      breakGlass: null,
      planId: "a".repeat(64),
    });
    assert.equal(two.verdict, "require");
  });

  it("break-glass waives approvals only, never a deny or a missing restore point", () => {
    const grant: BreakGlass = {
      id: "bg-1",
      asset: "shop",
      identity: "alice",
      reason: "INC-1",
      grantedAt: "2026-11-26T11:50:00Z",
      expiresAt: "2026-11-26T12:20:00Z",
      grantedBy: who("alice"),
      revokedAt: null,
    };
    const reqs: Requirement[] = [
      { kind: "verified-restore-point", met: false, detail: "none", fix: "backup" },
      { kind: "approvals", needed: 1, met: false, detail: "x", fix: "y" },
    ];
    const r = withApprovals(reqs, { valid: [], breakGlass: grant, planId: "p" });
    assert.equal(r.requirements[1]?.met, true);
    assert.equal(r.verdict, "require", "the restore point is still required");
    const denied = withApprovals([{ kind: "deny", met: false, detail: "no", fix: null }], {
      valid: [],
      breakGlass: grant,
      planId: "p",
    });
    assert.equal(denied.verdict, "deny");
  });

  it("break-glass is active only for its identity, asset and window", () => {
    const grant: BreakGlass = {
      id: "bg-1",
      asset: "shop",
      identity: "alice",
      reason: "INC-1",
      grantedAt: "2026-11-26T11:50:00Z",
      expiresAt: "2026-11-26T12:20:00Z",
      grantedBy: who("alice"),
      revokedAt: null,
    };
    assert.equal(activeBreakGlass([grant], { identity: "alice", assets: ["shop"], now })?.id, "bg-1");
    assert.equal(activeBreakGlass([grant], { identity: "bob", assets: ["shop"], now }), null);
    assert.equal(activeBreakGlass([grant], { identity: "alice", assets: ["billing"], now }), null);
    assert.equal(
      activeBreakGlass([grant], {
        identity: "alice",
        assets: ["shop"],
        now: new Date("2026-11-26T12:20:00Z"),
      }),
      null,
      "expires on time",
    );
    assert.equal(
      activeBreakGlass([{ ...grant, revokedAt: "2026-11-26T11:55:00Z" }], {
        identity: "alice",
        assets: ["shop"],
        now,
      }),
      null,
    );
    // A grant for one asset does not cover a plan that also touches another, or unbound data.
    assert.equal(activeBreakGlass([grant], { identity: "alice", assets: ["shop", "billing"], now }), null);
    assert.equal(
      activeBreakGlass([grant], { identity: "alice", assets: ["shop"], unbound: true, now }),
      null,
    );
    assert.equal(
      activeBreakGlass([grant, { ...grant, id: "bg-2", asset: "billing" }], {
        identity: "alice",
        assets: ["shop", "billing"],
        now,
      })?.id,
      "bg-1",
    );
  });
});

describe("the audit chain", () => {
  it("canonical JSON sorts keys at every level", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }),
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it("verifies an intact chain, with its head", () => {
    const entries = chain(5);
    assert.equal(entries[0]?.prevHash, GENESIS_HASH);
    const last = entries[4]!;
    assert.deepEqual(verifyChain(sha256, entries, { seq: last.seq, hash: last.hash }), {
      ok: true,
      entries: 5,
      breaks: [],
    });
  });

  it("detects an altered entry", () => {
    const entries = chain(5);
    entries[2] = { ...entries[2]!, data: { i: 99 } };
    const v = verifyChain(sha256, entries, null);
    assert.equal(v.ok, false);
    assert.equal(v.breaks[0]?.seq, 3);
    assert.match(v.breaks[0]?.problem ?? "", /altered/);
  });

  it("detects a deleted entry, a reordering, and a removed tail", () => {
    const entries = chain(5);
    assert.match(
      verifyChain(sha256, [entries[0]!, entries[1]!, entries[3]!, entries[4]!], null).breaks[0]?.problem ??
        "",
      /missing/,
    );
    assert.equal(verifyChain(sha256, [entries[0]!, entries[2]!, entries[1]!, entries[3]!], null).ok, false);
    const head = { seq: 5, hash: entries[4]!.hash };
    assert.match(
      verifyChain(sha256, entries.slice(0, 4), head).breaks[0]?.problem ?? "",
      /newest were removed/,
    );
  });

  it("a recomputed, re-chained forgery still fails against the recorded head", () => {
    const entries = chain(3);
    const head = { seq: 3, hash: entries[2]!.hash };
    const forged = [
      entries[0]!,
      chainNext(sha256, entries[0]!, { ...entries[1]!, data: { i: 1, forged: true } }),
    ];
    forged.push(chainNext(sha256, forged[1]!, entries[2]!));
    assert.equal(verifyChain(sha256, forged, head).ok, false);
  });

  it("property: any single-field change of any entry is detected", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom("identity", "asset", "at", "kind"),
        (index, field) => {
          const entries = chain(6);
          const e = entries[index]!;
          entries[index] = { ...e, [field]: `${String(e[field as keyof AuditEntry])}x` };
          return !verifyChain(sha256, entries, { seq: 6, hash: chain(6)[5]!.hash }).ok;
        },
      ),
    );
  });
});
