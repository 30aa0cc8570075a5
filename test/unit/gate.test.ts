import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  GENESIS_HASH,
  canonicalJson,
  auditRef,
  chainNext,
  entryInChain,
  verifyChain,
  type AuditEntry,
  type AuditInput,
  type Identity,
} from "../../src/core/audit/chain.js";
import {
  activeBreakGlass,
  countingApprovals,
  usesOf,
  vouchedApprovals,
  vouchedGrants,
  withApprovals,
  type Approval,
  type BreakGlass,
} from "../../src/core/approval/approval.js";
import { decideApprovals, liveApprovals } from "../../src/core/approval/decide.js";
import { noRecoverability } from "../../src/core/plan/plan.js";
import type { Requirement } from "../../src/core/plan/policy.js";

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

/** alice's break-glass grant for shop, active at `now`. */
const ALICE_GRANT: BreakGlass = {
  id: "bg-1",
  asset: "shop",
  identity: "alice",
  reason: "INC-1",
  grantedAt: "2026-11-26T11:50:00Z",
  expiresAt: "2026-11-26T12:20:00Z",
  grantedBy: who("alice"),
  revokedAt: null,
};

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
    const grant = ALICE_GRANT;
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

describe("decideApprovals: the verdict from the vouched approvals and grants", () => {
  const planId = "a".repeat(64);
  const plan = {
    planId,
    assets: [{ name: "shop", tier: "production", recoverability: noRecoverability("x") }],
    requirements: [{ kind: "approvals", needed: 1, met: false, detail: "x", fix: "y" }] as Requirement[],
  };
  const grant = ALICE_GRANT;
  const vouched = (approvals: Approval[], forged: Approval[] = []) => ({
    approvals,
    forged: forged.map((approval) => ({ approval, why: "not in the audit log" })),
    used: new Map<string, number>(),
  });

  it("another person's approval allows; the forged ones and the runner's own are listed as ignored", () => {
    const d = decideApprovals({
      plan,
      runner: "alice",
      now,
      vouched: vouched(
        [approval(), approval({ id: "apr-2", approver: who("alice") })],
        [approval({ id: "apr-3" })],
      ),
      grants: [],
    });
    assert.equal(d.verdict, "allow");
    assert.deepEqual(
      d.approvals.map((a) => a.id),
      ["apr-1"],
    );
    assert.deepEqual(
      d.ignored.map((i) => i.approval.id),
      ["apr-3", "apr-2"],
    );
    assert.equal(d.breakGlass, null);
  });

  it("without approvals, an active grant of the runner waives them, never for unbound data", () => {
    const waived = decideApprovals({ plan, runner: "alice", now, vouched: vouched([]), grants: [grant] });
    assert.equal(waived.verdict, "allow");
    assert.equal(waived.breakGlass?.id, "bg-1");
    const other = decideApprovals({ plan, runner: "carol", now, vouched: vouched([]), grants: [grant] });
    assert.equal(other.verdict, "require");
    const unbound = decideApprovals({
      plan: { ...plan, unbound: true },
      runner: "alice",
      now,
      vouched: vouched([]),
      grants: [grant],
    });
    assert.equal(unbound.verdict, "require");
    assert.equal(unbound.breakGlass, null);
  });

  it("liveApprovals: not revoked, not expired, not used up", () => {
    const live = liveApprovals(
      [
        approval(),
        approval({ id: "revoked", revokedAt: "2026-11-26T11:45:00Z" }),
        approval({ id: "expired", expiresAt: "2026-11-26T11:59:00Z" }),
        approval({ id: "used" }),
        approval({ id: "twice", uses: 2 }),
      ],
      new Map([
        ["used", 1],
        ["twice", 1],
      ]),
      now,
    );
    assert.deepEqual(
      live.map((a) => a.id),
      ["apr-1", "twice"],
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

  it("canonical JSON is the first implementation's text for every value (hashes of existing logs)", () => {
    // The implementation every existing audit log was hashed with.
    const reference = (value: unknown): string => {
      if (value === null || typeof value !== "object") {
        if (typeof value === "number" && !Number.isFinite(value)) return "null";
        return JSON.stringify(value) ?? "null";
      }
      if (Array.isArray(value)) return `[${value.map(reference).join(",")}]`;
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(",")}}`;
    };
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const keys = ["a", "B", "é", "10", "2", "", "z\u0000", "\ud83d\ude00", "aa", "_", "Z", "ß"];
    const value = (depth: number): unknown => {
      const r = random();
      if (depth > 3 || r < 0.3) {
        const leaves = [null, undefined, 0, -1.5, NaN, Infinity, true, false, "x", '"quoted"\n', "é\u2028"];
        return leaves[Math.floor(random() * leaves.length)];
      }
      if (r < 0.55) {
        const list: unknown[] = Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
        if (random() < 0.2) list[list.length + 1] = 1; // a hole
        return list;
      }
      const out: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 5); i > 0; i--)
        out[keys[Math.floor(random() * keys.length)]!] = value(depth + 1);
      return out;
    };
    for (let i = 0; i < 2_000; i++) {
      const v = value(0);
      assert.equal(canonicalJson(v), reference(v));
    }
  });

  it("an entry hashed with its data's canonical text given is the entry hashed without it", () => {
    let seed = 11;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const words = ["a", "é", "10", "", '"q"\n', "\ud83d\ude00", "z\u0000"];
    const value = (depth: number): unknown =>
      depth > 2 || random() < 0.4
        ? pick([null, 0, -1.5, true, "x", ...words])
        : random() < 0.5
          ? Array.from({ length: Math.floor(random() * 3) }, () => value(depth + 1))
          : Object.fromEntries(words.slice(0, Math.floor(random() * 4)).map((k) => [k, value(depth + 1)]));
    let head: AuditEntry | null = null;
    for (let i = 0; i < 500; i++) {
      const data = Object.fromEntries(
        words.slice(0, 1 + Math.floor(random() * 5)).map((k) => [k, value(1)]),
      ) as Record<string, unknown>;
      const input = {
        at: pick(["2026-11-26T12:00:00.000Z", "é"]),
        kind: pick(["admission", "approve"] as const),
        identity: pick(["alice@example.com", ""]),
        host: "h",
        asset: pick([null, "shop", undefined as unknown as null]),
        planId: pick([null, "p1"]),
        data,
      };
      const plain = chainNext(sha256, head, input);
      assert.deepEqual(chainNext(sha256, head, input, canonicalJson(data)), plain);
      head = plain;
    }
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

/** Entries as the gate appends them, chained. */
function gateChain(inputs: Omit<AuditInput, "at" | "host">[]): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const i of inputs)
    out.push(chainNext(sha256, out[out.length - 1] ?? null, { ...i, at: "2026-11-26T11:30:00Z", host: "h" }));
  return out;
}

describe("what the audit log vouches for", () => {
  const planId = "a".repeat(64);
  const approve = (id: string, extra: Record<string, unknown> = {}) => ({
    kind: "approve" as const,
    identity: "bob",
    asset: "shop",
    planId,
    data: { approval: id, expiresAt: "2026-11-26T12:30:00Z", ...extra },
  });
  const use = (id: string) => ({
    kind: "use" as const,
    identity: "alice",
    asset: "shop",
    planId,
    data: { approval: id },
  });

  it("an approval counts only with its approve entry (same plan, approver, expiry, uses); uses come from use entries", () => {
    const entries = gateChain([approve("apr-1"), approve("apr-2", { uses: 2 }), use("apr-1"), use("apr-2")]);
    const v = vouchedApprovals(
      [
        approval({ id: "apr-1" }),
        approval({ id: "apr-2", uses: 2 }),
        approval({ id: "apr-3" }), // no entry: written by hand
        approval({ id: "apr-4", uses: 5 }), // no entry either
      ],
      entries,
    );
    assert.deepEqual(
      v.approvals.map((a) => a.id),
      ["apr-1", "apr-2"],
    );
    assert.deepEqual(
      v.forged.map((f) => f.approval.id),
      ["apr-3", "apr-4"],
    );
    assert.deepEqual(
      [...v.used],
      [
        ["apr-1", 1],
        ["apr-2", 1],
      ],
    );
    // A row edited to allow more uses than its entry gave does not count.
    const edited = vouchedApprovals([approval({ id: "apr-1", uses: 9 })], entries);
    assert.match(edited.forged[0]?.why ?? "", /not in the audit log as given/);
    // A damaged row never counts.
    const damaged = vouchedApprovals([approval({ id: "apr-1", damaged: "approver is not JSON" })], entries);
    assert.match(damaged.forged[0]?.why ?? "", /damaged \(approver is not JSON\)/);
  });

  it("a used approval does not count again (single use by default; --uses N allows N)", () => {
    const input = { planId, runner: "alice", now };
    const once = countingApprovals([approval({ id: "apr-1" })], { ...input, used: new Map([["apr-1", 1]]) });
    assert.equal(once.valid.length, 0);
    assert.match(
      once.ignored[0]?.why ?? "",
      /used: it authorised 1 execution already \(it was given for 1\)/,
    );
    const twice = approval({ id: "apr-2", uses: 2 });
    assert.equal(countingApprovals([twice], { ...input, used: new Map([["apr-2", 1]]) }).valid.length, 1);
    assert.equal(countingApprovals([twice], { ...input, used: new Map([["apr-2", 2]]) }).valid.length, 0);
    assert.equal(countingApprovals([approval()], input).valid.length, 1, "unused");
    assert.equal(usesOf(undefined), 1);
    assert.equal(usesOf(0), 1);
    assert.equal(usesOf(2.5), 1);
    assert.equal(usesOf(3), 3);
  });

  it("a grant counts only with its break-glass entry, and not after a break-glass-revoke entry", () => {
    const grant: BreakGlass = {
      id: "bg-1",
      asset: "shop",
      identity: "alice",
      reason: "INC",
      grantedAt: "2026-11-26T11:50:00Z",
      expiresAt: "2026-11-26T12:20:00Z",
      grantedBy: who("alice"),
      revokedAt: null,
    };
    const granted = gateChain([
      {
        kind: "break-glass",
        identity: "alice",
        asset: "shop",
        planId: null,
        data: { grant: "bg-1", expiresAt: grant.expiresAt },
      },
    ]);
    assert.deepEqual(vouchedGrants([grant], granted), [grant]);
    assert.deepEqual(vouchedGrants([{ ...grant, id: "bg-2" }], granted), [], "written by hand");
    assert.deepEqual(
      vouchedGrants([{ ...grant, expiresAt: "2099-01-01T00:00:00Z" }], granted),
      [],
      "extended by hand",
    );
    const ended = gateChain([
      {
        kind: "break-glass",
        identity: "alice",
        asset: "shop",
        planId: null,
        data: { grant: "bg-1", expiresAt: grant.expiresAt },
      },
      { kind: "break-glass-revoke", identity: "bob", asset: "shop", planId: null, data: { grant: "bg-1" } },
    ]);
    assert.deepEqual(vouchedGrants([grant], ended), []);
  });

  it("auditRef names the approval or grant an entry is about", () => {
    assert.equal(auditRef("approve", { approval: "apr-1" }), "apr-1");
    assert.equal(auditRef("use", { approval: "apr-1" }), "apr-1");
    assert.equal(auditRef("revoke", { approval: "apr-1" }), "apr-1");
    assert.equal(auditRef("break-glass", { grant: "bg-1" }), "bg-1");
    assert.equal(auditRef("break-glass-revoke", { grant: "bg-1" }), "bg-1");
    assert.equal(auditRef("run", { approval: "apr-1" }), null);
    assert.equal(auditRef("approve", { approval: 5 }), null);
  });

  it("entryInChain: an entry counts when it matches its hash, is within the head, and is linked to the next", () => {
    const entries = chain(4);
    const head = { seq: 4, hash: entries[3]!.hash };
    assert.equal(entryInChain(sha256, entries[1]!, entries[2], head), true);
    assert.equal(entryInChain(sha256, entries[3]!, undefined, head), true, "the head itself");
    // Edited content.
    assert.equal(entryInChain(sha256, { ...entries[1]!, identity: "mallory" }, entries[2], head), false);
    // A forged entry with a correct own hash but nothing after it pointing at it.
    const forged = chainNext(sha256, entries[0]!, { ...entries[1]!, identity: "mallory" });
    assert.equal(entryInChain(sha256, forged, entries[2], head), false);
    // Beyond the head (appended by hand), or no head at all.
    const beyond = chainNext(sha256, entries[3]!, { ...entries[0]! });
    assert.equal(entryInChain(sha256, beyond, undefined, head), false);
    assert.equal(entryInChain(sha256, entries[1]!, entries[2], null), false);
    // Damaged.
    assert.equal(entryInChain(sha256, { ...entries[1]!, damaged: "x" }, entries[2], head), false);
  });

  it("verifyChain names a damaged entry", () => {
    const entries = chain(3);
    entries[1] = { ...entries[1]!, data: {}, damaged: "its data is not JSON (Unexpected token)" };
    const v = verifyChain(sha256, entries, { seq: 3, hash: entries[2]!.hash });
    assert.equal(v.ok, false);
    assert.deepEqual(v.breaks[0], {
      seq: 2,
      problem: "entry 2 is damaged: its data is not JSON (Unexpected token)",
    });
  });
});
