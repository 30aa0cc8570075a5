import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareRestored } from "../../src/core/drill/compare.js";
import type { Fingerprints } from "../../src/core/restore-point/restore-point.js";

const D1 = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2";
const D2 = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
const D3 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/** The restore point: three tables, two sequences, a schema and large objects. */
function manifest(): Fingerprints {
  return {
    algorithm: "v1",
    largeObjects: { count: 2, digest: "lo" },
    tables: [
      { table: "public.customers", rows: 3, digest: D1 },
      { table: "public.products", rows: 10, digest: D2 },
      { table: '"Sales"."Order Items"', rows: 5, digest: D3 },
    ],
    sequences: [
      { sequence: "public.customers_id_seq", lastValue: "3", isCalled: true },
      { sequence: "public.products_id_seq", lastValue: "12", isCalled: true },
    ],
    schema: { digest: "whole", objects: [{ kind: "table", name: "public.customers", digest: "t1" }] },
  };
}

/** What a subset fingerprint of the restored products returns. */
function restoredProducts(): Fingerprints {
  return {
    algorithm: "v1",
    largeObjects: null,
    tables: [{ table: "public.products", rows: 10, digest: D2 }],
    sequences: [{ sequence: "public.products_id_seq", lastValue: "12", isCalled: true }],
    schema: { digest: "", objects: [] },
  };
}

const products = { tables: ["public.products"], sequences: ["public.products_id_seq"] };

describe("compareRestored", () => {
  it("a restored table that matches: no mismatch, the others are neither missing nor unexpected, schema and large objects not compared", () => {
    assert.deepEqual(compareRestored(manifest(), restoredProducts(), products), []);
  });

  it("ignores other tables and sequences the database holds (not restored)", () => {
    const actual = restoredProducts();
    actual.tables.push({ table: "public.customers", rows: 99, digest: D3 });
    actual.tables.push({ table: "public.created_since", rows: 1, digest: D1 });
    actual.sequences.push({ sequence: "public.customers_id_seq", lastValue: "500", isCalled: true });
    assert.deepEqual(compareRestored(manifest(), actual, products), []);
  });

  it("reports a restored table's row count", () => {
    const actual = restoredProducts();
    actual.tables[0] = { table: "public.products", rows: 9, digest: D2 };
    const m = compareRestored(manifest(), actual, products);
    assert.deepEqual(
      m.map((x) => [x.kind, x.object, x.expected, x.actual]),
      [["rows", "public.products", "10", "9"]],
    );
  });

  it("reports a restored table's digest", () => {
    const actual = restoredProducts();
    actual.tables[0] = { table: "public.products", rows: 10, digest: D1 };
    const m = compareRestored(manifest(), actual, products);
    assert.deepEqual(
      m.map((x) => [x.kind, x.object]),
      [["digest", "public.products"]],
    );
  });

  it("reports a restored sequence's value", () => {
    const actual = restoredProducts();
    actual.sequences[0] = { sequence: "public.products_id_seq", lastValue: "10", isCalled: true };
    const m = compareRestored(manifest(), actual, products);
    assert.deepEqual(
      m.map((x) => [x.kind, x.object, x.expected, x.actual]),
      [["sequence-value", "public.products_id_seq", "last value 12", "last value 10"]],
    );
  });

  it("reports a restored table or sequence that is absent", () => {
    const actual = restoredProducts();
    actual.tables = [];
    actual.sequences = [];
    const m = compareRestored(manifest(), actual, products);
    assert.deepEqual(
      m.map((x) => [x.kind, x.object]),
      [
        ["table-missing", "public.products"],
        ["sequence-missing", "public.products_id_seq"],
      ],
    );
  });

  it("a recipe change of a restored table is an algorithm mismatch, as in a drill", () => {
    const expected = manifest();
    expected.tables[1] = { ...expected.tables[1]!, recipe: { name: "typed-hash-v1", hashed: ["id"] } };
    const m = compareRestored(expected, restoredProducts(), products);
    assert.deepEqual(
      m.map((x) => x.kind),
      ["algorithm"],
    );
  });
});
