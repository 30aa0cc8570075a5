import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseSetvals, splitQualifiedName } from "../../src/engines/postgres/dump-archive.js";

describe("splitQualifiedName", () => {
  it("splits an unquoted name", () => {
    assert.deepEqual(splitQualifiedName("public.invoice_seq"), ["public", "invoice_seq"]);
  });

  it("returns a single part for an unqualified name", () => {
    assert.deepEqual(splitQualifiedName("invoice_seq"), ["invoice_seq"]);
    assert.deepEqual(splitQualifiedName('"Invoice Seq"'), ["Invoice Seq"]);
  });

  it("undoes quoting", () => {
    assert.deepEqual(splitQualifiedName('"Sales"."Order Number Seq"'), ["Sales", "Order Number Seq"]);
  });

  it('turns "" inside quotes into one "', () => {
    assert.deepEqual(splitQualifiedName('"we""ird"."a""""b"'), ['we"ird', 'a""b']);
  });

  it("keeps dots inside quotes", () => {
    assert.deepEqual(splitQualifiedName('"v1.2"."seq.with.dots"'), ["v1.2", "seq.with.dots"]);
  });

  it("mixes quoted and unquoted parts", () => {
    assert.deepEqual(splitQualifiedName('public."Order Seq"'), ["public", "Order Seq"]);
    assert.deepEqual(splitQualifiedName('"Sales".order_seq'), ["Sales", "order_seq"]);
  });

  it("keeps three parts apart", () => {
    assert.deepEqual(splitQualifiedName('db."My Schema".seq'), ["db", "My Schema", "seq"]);
  });
});

describe("parseSetvals", () => {
  it("reads schema, name, value and is_called, quoting names as PostgreSQL prints them", () => {
    const sql = [
      "--",
      "-- Name: Order Number Seq; Type: SEQUENCE SET; Schema: Sales; Owner: app",
      "--",
      "",
      `SELECT pg_catalog.setval('"Sales"."Order Number Seq"', 42, false);`,
      "",
      `SELECT pg_catalog.setval('public.invoice_seq', 1000, true);`,
    ].join("\n");
    assert.deepEqual(parseSetvals(sql), [
      { sequence: '"Sales"."Order Number Seq"', lastValue: "42", isCalled: false },
      { sequence: "public.invoice_seq", lastValue: "1000", isCalled: true },
    ]);
  });

  it("reads negative values and values beyond Number precision as exact strings", () => {
    const sql = [
      "SELECT pg_catalog.setval('public.down_seq', -5, true);",
      "SELECT pg_catalog.setval('public.big_seq', 9223372036854775807, true);",
    ].join("\n");
    assert.deepEqual(parseSetvals(sql), [
      { sequence: "public.big_seq", lastValue: "9223372036854775807", isCalled: true },
      { sequence: "public.down_seq", lastValue: "-5", isCalled: true },
    ]);
  });

  it("undoes '' inside the literal for names containing a quote", () => {
    const sql = `SELECT pg_catalog.setval('public."it''s_seq"', 7, true);`;
    assert.deepEqual(parseSetvals(sql), [{ sequence: `public."it's_seq"`, lastValue: "7", isCalled: true }]);
  });

  it('keeps "" escapes and dots in names', () => {
    const sql = `SELECT pg_catalog.setval('"a.b"."say ""hi"""', 3, false);`;
    assert.deepEqual(parseSetvals(sql), [
      { sequence: '"a.b"."say ""hi"""', lastValue: "3", isCalled: false },
    ]);
  });

  it("puts an unqualified name in public", () => {
    assert.deepEqual(parseSetvals("SELECT pg_catalog.setval('lonely_seq', 1, false);"), [
      { sequence: "public.lonely_seq", lastValue: "1", isCalled: false },
    ]);
  });

  it("does not quote names that need no quotes, even when pg_dump quoted them", () => {
    assert.deepEqual(parseSetvals(`SELECT pg_catalog.setval('"public"."plain_seq"', 2, true);`), [
      { sequence: "public.plain_seq", lastValue: "2", isCalled: true },
    ]);
  });

  it("returns sequences sorted by name", () => {
    const sql = ["zeta_seq", "alpha_seq", "mid_seq"]
      .map((n, i) => `SELECT pg_catalog.setval('public.${n}', ${i + 1}, true);`)
      .join("\n");
    assert.deepEqual(
      parseSetvals(sql).map((s) => s.sequence),
      ["public.alpha_seq", "public.mid_seq", "public.zeta_seq"],
    );
  });

  it("returns nothing for SQL without setval calls", () => {
    assert.deepEqual(parseSetvals("SET statement_timeout = 0;\nSELECT 1;\n"), []);
    assert.deepEqual(parseSetvals(""), []);
  });
});
