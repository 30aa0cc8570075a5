import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { compareFingerprints } from "../../src/core/drill/compare.js";
import type { Fingerprints } from "../../src/core/restore-point/restore-point.js";

const D1 = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2";
const D2 = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

function fingerprints(): Fingerprints {
  return {
    algorithm: "v1",
    largeObjects: null,
    tables: [
      { table: "public.customers", rows: 3, digest: D1 },
      { table: '"Sales"."Order Items"', rows: 10, digest: D2 },
    ],
    sequences: [
      { sequence: "public.customers_id_seq", lastValue: "3", isCalled: true },
      { sequence: '"Sales"."Order Number Seq"', lastValue: "42", isCalled: false },
    ],
    schema: {
      digest: "schema-digest-1",
      objects: [
        { kind: "table", name: "public.customers", digest: "t1" },
        { kind: "index", name: "public.customers_pkey", digest: "i1" },
      ],
    },
  };
}

describe("compareFingerprints", () => {
  it("reports nothing for identical fingerprints", () => {
    assert.deepEqual(compareFingerprints(fingerprints(), fingerprints()), []);
  });

  it("ignores the order of tables and sequences", () => {
    const actual = fingerprints();
    actual.tables.reverse();
    actual.sequences.reverse();
    assert.deepEqual(compareFingerprints(fingerprints(), actual), []);
  });

  it("reports a table missing after restore with the expected row count", () => {
    const actual = fingerprints();
    actual.tables = actual.tables.filter((t) => t.table !== '"Sales"."Order Items"');
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.equal(mismatches.length, 1);
    const [m] = mismatches;
    assert.ok(m);
    assert.equal(m.kind, "table-missing");
    assert.equal(m.object, '"Sales"."Order Items"');
    assert.equal(m.expected, "10 rows");
    assert.equal(m.actual, null);
    assert.match(m.message, /"Sales"\."Order Items"/);
    assert.match(m.message, /missing/);
    assert.match(m.message, /10 rows/);
  });

  it("reports a table that exists after restore but not in the restore point", () => {
    const actual = fingerprints();
    actual.tables.push({ table: "public.intruder", rows: 7, digest: D1 });
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.deepEqual(
      mismatches.map((m) => [m.kind, m.object, m.expected, m.actual]),
      [["table-unexpected", "public.intruder", null, "7 rows"]],
    );
    assert.match(mismatches[0]?.message ?? "", /public\.intruder/);
    assert.match(mismatches[0]?.message ?? "", /not in the restore point/);
  });

  it("reports a row count difference naming the table and both counts (not also a digest difference)", () => {
    const actual = fingerprints();
    actual.tables[0] = { table: "public.customers", rows: 2, digest: D2 };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.equal(mismatches.length, 1);
    const [m] = mismatches;
    assert.ok(m);
    assert.equal(m.kind, "rows");
    assert.equal(m.object, "public.customers");
    assert.equal(m.expected, "3");
    assert.equal(m.actual, "2");
    assert.equal(m.message, "table public.customers: expected 3 rows, restored 2");
  });

  it("reports same row count with different contents, showing both digests", () => {
    const actual = fingerprints();
    actual.tables[1] = { table: '"Sales"."Order Items"', rows: 10, digest: D1 };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.equal(mismatches.length, 1);
    const [m] = mismatches;
    assert.ok(m);
    assert.equal(m.kind, "digest");
    assert.equal(m.object, '"Sales"."Order Items"');
    assert.equal(m.expected, D2);
    assert.equal(m.actual, D1);
    assert.ok(m.message.includes('"Sales"."Order Items"'), m.message);
    assert.ok(m.message.includes("(10)"), m.message);
    assert.ok(m.message.includes(D2.slice(0, 12)), m.message);
    assert.ok(m.message.includes(D1.slice(0, 12)), m.message);
  });

  it("reports a sequence missing after restore", () => {
    const actual = fingerprints();
    actual.sequences = actual.sequences.slice(1);
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.equal(mismatches.length, 1);
    const [m] = mismatches;
    assert.ok(m);
    assert.equal(m.kind, "sequence-missing");
    assert.equal(m.object, "public.customers_id_seq");
    assert.equal(m.expected, "3");
    assert.equal(m.actual, null);
    assert.match(m.message, /public\.customers_id_seq is missing/);
  });

  it("reports a sequence with a different value, naming both values", () => {
    const actual = fingerprints();
    actual.sequences[0] = { sequence: "public.customers_id_seq", lastValue: "1", isCalled: true };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.equal(mismatches.length, 1);
    const [m] = mismatches;
    assert.ok(m);
    assert.equal(m.kind, "sequence-value");
    assert.equal(m.object, "public.customers_id_seq");
    assert.equal(m.expected, "last value 3");
    assert.equal(m.actual, "last value 1");
    assert.equal(m.message, "sequence public.customers_id_seq: expected last value 3, restored last value 1");
  });

  it("reports a sequence whose is_called differs even when the value is equal", () => {
    const actual = fingerprints();
    actual.sequences[1] = { sequence: '"Sales"."Order Number Seq"', lastValue: "42", isCalled: true };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.equal(mismatches.length, 1);
    const [m] = mismatches;
    assert.ok(m);
    assert.equal(m.kind, "sequence-value");
    assert.equal(m.expected, "next value 42");
    assert.equal(m.actual, "last value 42");
    assert.ok(m.message.includes('"Sales"."Order Number Seq"'));
    assert.ok(m.message.includes("next value 42") && m.message.includes("last value 42"));
  });

  it("ignores schema objects while the overall schema digest is equal", () => {
    const actual = fingerprints();
    actual.schema.objects = [];
    assert.deepEqual(compareFingerprints(fingerprints(), actual), []);
  });

  it("names a schema object that is missing after restore", () => {
    const actual = fingerprints();
    actual.schema = { digest: "schema-digest-2", objects: [actual.schema.objects[0]!] };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.deepEqual(
      mismatches.map((m) => [m.kind, m.object, m.expected, m.actual]),
      [["schema-missing", "index public.customers_pkey", "i1", null]],
    );
    assert.equal(mismatches[0]?.message, "schema: index public.customers_pkey is missing after restore");
  });

  it("names a schema object that changed", () => {
    const actual = fingerprints();
    actual.schema = {
      digest: "schema-digest-2",
      objects: [
        { kind: "table", name: "public.customers", digest: "t2" },
        { kind: "index", name: "public.customers_pkey", digest: "i1" },
      ],
    };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.deepEqual(
      mismatches.map((m) => [m.kind, m.object, m.expected, m.actual]),
      [["schema-changed", "table public.customers", "t1", "t2"]],
    );
    assert.match(mismatches[0]?.message ?? "", /table public\.customers differs/);
  });

  it("names a schema object that is unexpected after restore", () => {
    const actual = fingerprints();
    actual.schema = {
      digest: "schema-digest-2",
      objects: [...actual.schema.objects, { kind: "trigger", name: "public.customers.audit", digest: "x1" }],
    };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.deepEqual(
      mismatches.map((m) => [m.kind, m.object, m.expected, m.actual]),
      [["schema-unexpected", "trigger public.customers.audit", null, "x1"]],
    );
    assert.match(mismatches[0]?.message ?? "", /trigger public\.customers\.audit exists after restore/);
  });

  it("treats the same name under a different kind as a different object", () => {
    const actual = fingerprints();
    actual.schema = {
      digest: "schema-digest-2",
      objects: [
        { kind: "view", name: "public.customers", digest: "t1" },
        { kind: "index", name: "public.customers_pkey", digest: "i1" },
      ],
    };
    const kinds = compareFingerprints(fingerprints(), actual).map((m) => `${m.kind}: ${m.object}`);
    assert.deepEqual(kinds, [
      "schema-missing: table public.customers",
      "schema-unexpected: view public.customers",
    ]);
  });

  it("falls back to the overall digest when no object explains the difference", () => {
    const actual = fingerprints();
    actual.schema = { ...actual.schema, digest: "schema-digest-2" };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.deepEqual(mismatches, [
      {
        kind: "schema-changed",
        object: "schema",
        expected: "schema-digest-1",
        actual: "schema-digest-2",
        message: "schema digest differs after restore",
      },
    ]);
  });

  it("still adds the schema fallback when only non-schema mismatches exist", () => {
    const actual = fingerprints();
    actual.schema = { ...actual.schema, digest: "schema-digest-2" };
    actual.tables[0] = { table: "public.customers", rows: 0, digest: D1 };
    const kinds = compareFingerprints(fingerprints(), actual).map((m) => m.kind);
    assert.deepEqual(kinds, ["rows", "schema-changed"]);
  });

  it("reports every difference on its own", () => {
    const actual: Fingerprints = {
      algorithm: "v1",
      largeObjects: null,
      tables: [{ table: "public.customers", rows: 4, digest: D1 }],
      sequences: [{ sequence: "public.customers_id_seq", lastValue: "4", isCalled: true }],
      schema: { digest: "other", objects: [] },
    };
    const kinds = compareFingerprints(fingerprints(), actual).map((m) => `${m.kind} ${m.object}`);
    assert.deepEqual(kinds, [
      "rows public.customers",
      'table-missing "Sales"."Order Items"',
      "sequence-value public.customers_id_seq",
      'sequence-missing "Sales"."Order Number Seq"',
      "schema-missing table public.customers",
      "schema-missing index public.customers_pkey",
    ]);
  });

  it("refuses to compare digests made by another recipe, and says so once", () => {
    const actual = { ...fingerprints(), algorithm: "v2", tables: [] };
    const mismatches = compareFingerprints(fingerprints(), actual);
    assert.equal(mismatches.length, 1);
    assert.equal(mismatches[0]?.kind, "algorithm");
    assert.match(mismatches[0]?.message ?? "", /v1.*v2.*new restore point/);
  });

  it("large objects: missing, fewer, or same count with other contents", () => {
    const want = { ...fingerprints(), largeObjects: { count: 2, digest: "a" } };
    assert.deepEqual(compareFingerprints(want, { ...want }), []);
    const fewer = compareFingerprints(want, { ...want, largeObjects: { count: 1, digest: "b" } });
    assert.equal(fewer[0]?.kind, "large-objects");
    assert.match(fewer[0]?.message ?? "", /expected 2, restored 1/);
    const other = compareFingerprints(want, { ...want, largeObjects: { count: 2, digest: "b" } });
    assert.match(other[0]?.message ?? "", /same count \(2\) but contents differ/);
    const unreadable = compareFingerprints(want, { ...want, largeObjects: null });
    assert.match(unreadable[0]?.message ?? "", /could not be read/);
    // Not fingerprinted at backup (no privilege): nothing to compare.
    assert.deepEqual(compareFingerprints({ ...want, largeObjects: null }, want), []);
  });

  it("compares a table digested with the typed recipe like any other when both sides used it", () => {
    const expected = fingerprints();
    const recipe = { name: "typed-hash-v1", hashed: ["id"] };
    expected.tables[0] = { table: "public.customers", rows: 3, digest: D1, recipe };
    const actual = fingerprints();
    actual.tables[0] = { table: "public.customers", rows: 3, digest: D2, recipe: { ...recipe } };
    assert.deepEqual(
      compareFingerprints(expected, actual).map((m) => [m.kind, m.object]),
      [["digest", "public.customers"]],
    );
    actual.tables[0] = { table: "public.customers", rows: 3, digest: D1, recipe: { ...recipe } };
    assert.deepEqual(compareFingerprints(expected, actual), []);
  });

  it("says a table was digested with another recipe instead of calling its rows different", () => {
    const expected = fingerprints();
    expected.tables[0] = {
      table: "public.customers",
      rows: 3,
      digest: D1,
      recipe: { name: "typed-hash-v9", hashed: ["id"] },
    };
    const mismatches = compareFingerprints(expected, fingerprints());
    assert.equal(mismatches.length, 1);
    assert.equal(mismatches[0]?.kind, "algorithm");
    assert.equal(mismatches[0]?.object, "public.customers");
    assert.match(mismatches[0]?.message ?? "", /typed-hash-v9 \(id\).*text recipe.*take a new restore point/);
  });

  it("reports a lost row as a row count difference even when the recipes differ", () => {
    const expected = fingerprints();
    expected.tables[0] = {
      table: "public.customers",
      rows: 3,
      digest: D1,
      recipe: { name: "typed-hash-v9", hashed: ["id"] },
    };
    const actual = fingerprints();
    actual.tables[0] = { table: "public.customers", rows: 2, digest: D1 };
    assert.deepEqual(
      compareFingerprints(expected, actual).map((m) => m.kind),
      ["rows"],
    );
  });
});
