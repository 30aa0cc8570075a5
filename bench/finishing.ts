/**
 * Benchmark (not a test): how the admission webhook finds the decision a control-plane deletion
 * finishes (the namespace controller deleting a claim after `kubectl delete ns` was allowed, the
 * garbage collector, the StatefulSet controller), with a day's audit log of recorded denials.
 *
 *   npm run bench:finishing                      # 100,000 recorded denials, SQLite catalog
 *   BENCH_ENTRIES=500000 npm run bench:finishing
 *   BENCH_CATALOG=postgres npm run bench:finishing   # a new database on 127.0.0.1:5432 (dropped after)
 *
 * Baseline: what lifeline 0.2 read for each such request until the catalog indexed what decisions
 * destroy (migration 3): every `admission` and `run` entry of the last 24 hours, parsed, then
 * searched for the object's uid. Now: Catalog.auditDestroying(uid, since), by index. Both return
 * the same decision (checked). Every denial is recorded, so the log grows with denied requests:
 * anyone allowed to send a DELETE can grow it.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { openCatalog } from "../src/catalog/index.js";
import { takenDecisionOf } from "../src/core/admission/allowance.js";
import type { Catalog } from "../src/ports/catalog.js";

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 100_000);
const ROUNDS = 5;
const ADMIN = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

function psql(url: string, command: string): void {
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", command], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function seed(catalog: Catalog, now: number): Promise<void> {
  const at = new Date(now - 3_600_000).toISOString();
  const started = performance.now();
  for (let b = 0; b < ENTRIES; b += 1_000) {
    await Promise.all(
      Array.from({ length: Math.min(1_000, ENTRIES - b) }, (_, i) =>
        catalog.appendAudit(
          {
            at,
            kind: "admission",
            identity: "mallory@example.com",
            host: "bench",
            asset: "shop",
            planId: `plan-${b + i}`,
            data: {
              result: "denied",
              reason: "verdict require-approval",
              command: `kubectl delete pvc data-${i % 50} -n shop`,
              verdict: "require-approval",
              operation: "DELETE",
              resource: "persistentvolumeclaims",
              namespace: "shop",
              name: `data-${i % 50}`,
              objectUid: `uid-denied-${b + i}`,
              uid: `request-${b + i}`,
              user: "mallory@example.com",
              groups: ["system:authenticated"],
              dryRun: false,
            },
          },
          { waitForDisk: false },
        ),
      ),
    );
    if (process.stderr.isTTY) process.stderr.write(`\r  seeding ${b + 1_000} of ${ENTRIES}`);
  }
  if (process.stderr.isTTY) process.stderr.write("\n");
  // The decision the controller's deletion finishes: `kubectl delete ns shop`, allowed.
  await catalog.appendAudit({
    at: new Date(now - 60_000).toISOString(),
    kind: "admission",
    identity: "alice@example.com",
    host: "bench",
    asset: "shop",
    planId: "plan-delete-ns",
    data: { result: "allowed", command: "kubectl delete ns shop", destroys: ["uid-ns", "uid-claim"] },
  });
  console.log(`${ENTRIES} recorded denials seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-finishing-bench-"));
  let location = path.join(dir, "catalog.sqlite");
  let drop = () => undefined as void;
  if (process.env.BENCH_CATALOG === "postgres") {
    const db = `lifeline_finbench_${Date.now().toString(36)}`;
    psql(ADMIN, `CREATE DATABASE ${db}`);
    drop = () => psql(ADMIN, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    const u = new URL(ADMIN);
    u.pathname = `/${db}`;
    location = u.toString();
  }
  try {
    const catalog = await openCatalog(location, { backgroundCheckpoints: !location.includes("://") });
    try {
      const now = Date.now();
      await seed(catalog, now);
      const since = new Date(now - 24 * 3_600_000).toISOString();
      const before: number[] = [];
      const after: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        let t = performance.now();
        const all = (
          await Promise.all([
            catalog.audit({ kind: "admission", since }),
            catalog.audit({ kind: "run", since }),
          ])
        ).flat();
        const old = all.map(takenDecisionOf).find((d) => d?.destroys.includes("uid-claim"));
        before.push(performance.now() - t);
        t = performance.now();
        const found = (await catalog.auditDestroying("uid-claim", since))
          .map(takenDecisionOf)
          .find((d) => d?.destroys.includes("uid-claim"));
        after.push(performance.now() - t);
        if (!old || !found || old.seq !== found.seq)
          throw new Error("the two reads found different decisions");
      }
      const range = (xs: number[]) =>
        `median ${median(xs).toFixed(2)} ms (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
      console.log(
        `catalog: ${process.env.BENCH_CATALOG === "postgres" ? "PostgreSQL" : "SQLite"}, ${ROUNDS} rounds`,
      );
      console.log(`  read the day's log (baseline)    ${range(before)}`);
      console.log(`  auditDestroying (by uid)         ${range(after)}`);
      console.log(`  ratio ${(median(before) / median(after)).toFixed(0)}x`);
    } finally {
      await catalog.close();
    }
  } finally {
    drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
