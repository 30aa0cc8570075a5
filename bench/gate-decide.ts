/**
 * Benchmark (not a test): the gate's check (decide) against an SQLite catalog whose audit log holds
 * N entries (N = 1,000 / 10,000 / 100,000 by default), next to reading the whole log (what decide
 * did before it read only the entries it needs, by index). Prints the median of BENCH_ROUNDS.
 *
 *   node --import tsx bench/gate-decide.ts      # BENCH_SIZES=1000,10000,100000 BENCH_ROUNDS=20
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { approve } from "../src/app/approve.js";
import { decide, recordPlan, type GateDeps } from "../src/app/gate.js";
import type { Plan } from "../src/core/plan/plan.js";
import { openCatalog } from "../src/catalog/index.js";
import {
  auditRef,
  canonicalJson,
  chainNext,
  type AuditEntry,
  type AuditInput,
} from "../src/core/audit/chain.js";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const sha256 = (t: string) => createHash("sha256").update(t, "utf8").digest("hex");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const PLAN_ID = "be7c" + "0".repeat(60);
const recoverability = { restorePoint: null, notContained: [], changesNotCovered: null, summary: "" };
const plan: Plan = {
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
  requirements: [{ kind: "approvals", needed: 1, met: false, detail: "", fix: null }],
  planningMs: 0,
};

/** N entries of the kinds a busy catalog holds (plans, approvals, runs), chained, in one transaction. */
function fill(file: string, n: number): void {
  const db = new Database(file);
  const insert = db.prepare(
    "INSERT INTO lifeline_audit (seq, at, kind, identity, host, asset, plan_id, data, prev_hash, hash, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  let head: AuditEntry | null = null;
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const kind = (["plan", "run", "approve", "run"] as const)[i % 4] ?? "run";
      const input: AuditInput = {
        at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        kind,
        identity: i % 2 ? "alice" : "bob",
        host: "h",
        asset: "shop",
        planId: (i % 997).toString(16).padStart(64, "0"),
        data: kind === "approve" ? { approval: `apr-${i}`, expiresAt: "2026-01-01T01:00:00.000Z" } : { i },
      };
      head = chainNext(sha256, head, input);
      insert.run(
        head.seq,
        head.at,
        head.kind,
        head.identity,
        head.host,
        head.asset,
        head.planId,
        canonicalJson(head.data),
        head.prevHash,
        head.hash,
        auditRef(head.kind, head.data),
      );
    }
    const last = head as AuditEntry | null;
    if (last)
      db.prepare("UPDATE lifeline_audit_head SET seq = ?, hash = ? WHERE id = 1").run(last.seq, last.hash);
  })();
  db.close();
}

const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-decidebench-"));
try {
  for (const n of SIZES) {
    const file = path.join(work, `catalog-${n}.db`);
    await (await openCatalog(file)).close();
    fill(file, n);
    const catalog = await openCatalog(file);
    const deps = (id: string): GateDeps => ({
      catalog,
      identity: { id, source: "env", host: "h", authenticated: false },
      clock: { now: () => new Date() },
      notify: async () => [],
      warn: () => undefined,
    });
    await recordPlan(deps("alice"), plan, {});
    await approve(deps("bob"), { planId: PLAN_ID, comment: null, ttlSeconds: 3600 });
    const decideMs: number[] = [];
    const fullMs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let t = performance.now();
      const d = await decide(deps("alice"), plan);
      decideMs.push(performance.now() - t);
      if (d.verdict !== "allow") throw new Error(`expected allow, got ${d.verdict}`);
      t = performance.now();
      await catalog.audit();
      fullMs.push(performance.now() - t);
    }
    await catalog.close();
    console.log(
      `${n.toLocaleString("en-US").padStart(8)} entries: decide ${median(decideMs).toFixed(2)} ms; reading the whole log ${median(fullMs).toFixed(1)} ms (median of ${ROUNDS})`,
    );
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
