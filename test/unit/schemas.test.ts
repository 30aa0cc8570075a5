import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { describeZodError, drillReportSchema, manifestSchema } from "../../src/core/restore-point/schemas.js";
import { canonicalJson } from "../../src/core/restore-point/restore-point.js";

function validManifest(): Record<string, unknown> {
  return {
    format: 1,
    id: "20261126T102040Z-3fa9c1",
    asset: "shop",
    engine: "postgres",
    createdAt: "2026-11-26T10:20:45.000Z",
    snapshotTime: "2026-11-26T10:20:40.000Z",
    source: {
      database: "shop",
      encoding: "UTF8",
      roles: [],
      locale: { collate: "C.UTF-8", ctype: "C.UTF-8", provider: "libc", icuLocale: null },
      url: "postgres://app:${SHOP_DB_PASSWORD}@db:5432/shop",
      serverVersion: "16.4",
      serverMajor: 16,
      systemIdentifier: "7311111111111111111",
      databaseBytes: 8_000_000,
    },
    tools: { pg_dump: "16.4", pg_restore: "16.4" },
    dump: { format: "directory", jobs: 2, compression: 1 },
    artifacts: [{ path: "dump/toc.dat", bytes: 2048, sha256: "c".repeat(64) }],
    fingerprints: {
      algorithm: "v1",
      largeObjects: { count: 2, digest: "lo" },
      tables: [{ table: "public.customers", rows: 3, digest: "d1" }],
      sequences: [{ sequence: "public.customers_id_seq", lastValue: "3", isCalled: true }],
      schema: { digest: "s1", objects: [{ kind: "table", name: "public.customers", digest: "t1" }] },
    },
    activity: {
      statsReset: null,
      tables: [{ table: "public.customers", inserts: 3, updates: 0, deletes: 0 }],
    },
    durations: { dumpSeconds: 1.5, fingerprintSeconds: 0.5, totalSeconds: 2.1 },
  };
}

function failure(value: unknown): string {
  const parsed = manifestSchema.safeParse(value);
  assert.equal(parsed.success, false, "expected the manifest to be rejected");
  return parsed.success ? "" : describeZodError(parsed.error);
}

describe("manifestSchema", () => {
  it("parses a valid manifest unchanged", () => {
    const parsed = manifestSchema.safeParse(validManifest());
    assert.ok(parsed.success, parsed.success ? "" : describeZodError(parsed.error));
    assert.deepEqual(parsed.data, validManifest());
  });

  it("keeps a table's fingerprint recipe, and still reads a manifest without one (the text recipe)", () => {
    const manifest = validManifest();
    const fingerprints = manifest.fingerprints as { tables: Record<string, unknown>[] };
    fingerprints.tables.push({
      table: "public.orders",
      rows: 2,
      digest: "d2",
      recipe: { name: "typed-hash-v1", hashed: ["id", "placed_at"] },
    });
    const parsed = manifestSchema.parse(manifest);
    assert.equal(parsed.fingerprints.tables[0]?.recipe, undefined);
    assert.deepEqual(parsed.fingerprints.tables[1]?.recipe, {
      name: "typed-hash-v1",
      hashed: ["id", "placed_at"],
    });
  });

  it("rejects a recipe whose hashed columns are not a list of names", () => {
    const manifest = validManifest();
    const fingerprints = manifest.fingerprints as { tables: Record<string, unknown>[] };
    fingerprints.tables[0] = {
      table: "public.customers",
      rows: 3,
      digest: "d1",
      recipe: { name: "x", hashed: "id" },
    };
    assert.match(failure(manifest), /fingerprints\.tables\.0\.recipe\.hashed/);
  });

  it("round-trips through JSON", () => {
    const parsed = manifestSchema.parse(JSON.parse(JSON.stringify(validManifest())));
    assert.equal(parsed.fingerprints.tables[0]?.rows, 3);
  });

  it("rejects a truncated manifest, naming a missing section", () => {
    const { fingerprints: _f, activity: _a, durations: _d, ...truncated } = validManifest();
    const text = failure(truncated);
    assert.match(text, /^fingerprints: /);
    assert.match(text, /activity: /);
    assert.match(text, /durations: /);
  });

  it("names the nested path of a wrong value", () => {
    const m = validManifest();
    (m.fingerprints as { tables: { rows: unknown }[] }).tables[0]!.rows = "3";
    assert.match(failure(m), /^fingerprints\.tables\.0\.rows: /);
  });

  it("rejects a negative row count", () => {
    const m = validManifest();
    (m.fingerprints as { tables: { rows: unknown }[] }).tables[0]!.rows = -1;
    assert.match(failure(m), /^fingerprints\.tables\.0\.rows: /);
  });

  it("rejects an artifact checksum that is not a sha256", () => {
    const m = validManifest();
    m.artifacts = [{ path: "dump/toc.dat", bytes: 2048, sha256: "C".repeat(64) }];
    assert.match(failure(m), /^artifacts\.0\.sha256: /);
  });

  it("rejects a manifest without artifacts", () => {
    const m = validManifest();
    m.artifacts = [];
    assert.match(failure(m), /^artifacts: /);
  });

  it("rejects another manifest format", () => {
    const m = validManifest();
    m.format = 2;
    assert.match(failure(m), /^format: /);
  });

  it("describes a non-object as a root problem and lists at most three issues", () => {
    assert.match(failure(null), /^\(root\): /);
    const text = failure({});
    assert.equal(text.split("; ").length, 3);
  });
});

describe("drillReportSchema", () => {
  const report = {
    format: 1,
    id: "20261126T104512345Z",
    asset: "shop",
    restorePointId: "20261126T102040Z-3fa9c1",
    startedAt: "2026-11-26T10:45:00.000Z",
    finishedAt: "2026-11-26T10:45:12.345Z",
    result: "failed",
    failure: null,
    scratch: { kind: "embedded", serverVersion: "16.4" },
    tools: { pg_restore: "16.4" },
    restoreSeconds: 10,
    verifySeconds: 2,
    mismatches: [
      { kind: "rows", object: "public.customers", expected: "3", actual: "2", message: "rows differ" },
    ],
  };

  it("parses a valid drill report", () => {
    assert.deepEqual(drillReportSchema.parse(report), report);
  });

  it("rejects an unknown result and an unknown mismatch kind", () => {
    const parsed = drillReportSchema.safeParse({
      ...report,
      result: "maybe",
      mismatches: [{ ...report.mismatches[0], kind: "vibes" }],
    });
    assert.equal(parsed.success, false);
    if (!parsed.success) {
      const text = describeZodError(parsed.error);
      assert.match(text, /result: /);
      assert.match(text, /mismatches\.0\.kind: /);
    }
  });
});

describe("canonicalJson (what a manifest's digest covers)", () => {
  it("sorts keys at every level, so the same content in any key order gives one text", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { f: null, e: "x" }], c: true } }),
      '{"a":{"c":true,"d":[3,{"e":"x","f":null}]},"b":1}',
    );
    assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
  });

  it("sorts keys that look like array indexes as text too", () => {
    assert.equal(canonicalJson({ b: 0, "10": 1, "9": 2, a: 3 }), '{"10":1,"9":2,"a":3,"b":0}');
  });

  it("differs when any value differs", () => {
    assert.notEqual(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }));
    assert.notEqual(canonicalJson({ a: "x" }), canonicalJson({ a: "y" }));
  });
});
