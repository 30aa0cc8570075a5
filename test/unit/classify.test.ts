import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import fc from "fast-check";
import { isDestructive } from "../../src/core/plan/operation.js";
import { createClassifier, type Classifier } from "../../src/engines/postgres/classify/index.js";

let classifier: Classifier;
before(async () => {
  classifier = await createClassifier();
});
const classifySql = (sql: string) => classifier.classify(sql);

type Row = [sql: string, kind: string, dataLoss: string, target?: string, extra?: Record<string, unknown>];

const TABLE: Row[] = [
  ["DROP TABLE products", "drop-table", "destructive", "products"],
  [
    'drop table if exists "Sales"."Order Items" cascade',
    "drop-table",
    "destructive",
    "Sales.Order Items",
    { cascadeRequested: true, missingOk: true },
  ],
  ["DROP TABLE public.a, b", "drop-table", "destructive", "public.a"],
  ["DROP DATABASE shop", "drop-database", "destructive", "shop"],
  ["DROP DATABASE IF EXISTS shop WITH (FORCE)", "drop-database", "destructive", "shop", { missingOk: true }],
  ["DROP SCHEMA sales CASCADE", "drop-schema", "destructive", "sales", { cascadeRequested: true }],
  ["DROP MATERIALIZED VIEW mv_daily", "drop-materialized-view", "destructive", "mv_daily"],
  ["DROP SEQUENCE invoice_seq", "drop-sequence", "destructive", "invoice_seq"],
  ["DROP TYPE mood CASCADE", "drop-type", "destructive", "mood", { cascadeRequested: true }],
  ["DROP EXTENSION hstore", "drop-extension", "destructive", "hstore"],
  ["DROP OWNED BY app_user", "drop-owned", "destructive", "app_user"],
  ["DROP INDEX CONCURRENTLY idx_orders_at", "drop-index", "recoverable", "idx_orders_at"],
  ["DROP VIEW merchant_feed", "drop-view", "recoverable", "merchant_feed"],
  ["DROP FUNCTION f(int)", "drop-function", "recoverable"],
  ["TRUNCATE orders", "truncate", "destructive", "orders", { filter: "all-rows" }],
  [
    "TRUNCATE TABLE ONLY orders, items RESTART IDENTITY CASCADE",
    "truncate",
    "destructive",
    "orders",
    { cascadeRequested: true },
  ],
  ["DELETE FROM orders", "delete", "destructive", "orders", { filter: "all-rows" }],
  ["DELETE FROM orders WHERE true", "delete", "destructive", "orders", { filter: "always-true" }],
  ["DELETE FROM orders WHERE 1 = 1", "delete", "destructive", "orders", { filter: "always-true" }],
  ["delete from orders where id = id", "delete", "destructive", "orders", { filter: "always-true" }],
  ["DELETE FROM orders WHERE 1 = 1 OR id = 3", "delete", "destructive", "orders", { filter: "always-true" }],
  ["DELETE FROM orders WHERE id = 3", "delete", "destructive", "orders", { filter: "filtered" }],
  [
    "DELETE FROM ONLY s.orders o USING items i WHERE o.id = i.order_id",
    "delete",
    "destructive",
    "s.orders",
    { filter: "filtered" },
  ],
  ["UPDATE products SET price = 0", "update", "destructive", "products", { filter: "all-rows" }],
  [
    "update products set price = 0 where 'x' = 'x'",
    "update",
    "destructive",
    "products",
    { filter: "always-true" },
  ],
  [
    "UPDATE products SET price = 0 WHERE sku = 'A'",
    "update",
    "destructive",
    "products",
    { filter: "filtered" },
  ],
  [
    "WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone",
    "delete",
    "destructive",
    "orders",
  ],
  [
    "INSERT INTO t SELECT * FROM (WITH x AS (UPDATE u SET a = 1 RETURNING *) SELECT * FROM x) s",
    "update",
    "destructive",
    "u",
  ],
  ["INSERT INTO t (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET v = 2", "upsert", "destructive", "t"],
  ["INSERT INTO t (id) VALUES (1) ON CONFLICT DO NOTHING", "insert", "none"],
  ["ALTER TABLE orders DROP COLUMN note", "alter-table-drop-column", "destructive", "orders.note"],
  [
    "ALTER TABLE IF EXISTS orders DROP COLUMN IF EXISTS note CASCADE",
    "alter-table-drop-column",
    "destructive",
    "orders.note",
    { missingOk: true, cascadeRequested: true },
  ],
  ["ALTER TABLE orders ALTER COLUMN total TYPE int", "alter-column-type", "destructive", "orders.total"],
  ["ALTER TABLE orders ALTER COLUMN total SET NOT NULL", "alter-column-set-not-null", "none"],
  ["ALTER TABLE orders DROP CONSTRAINT orders_pkey", "alter-table-drop-constraint", "recoverable"],
  ["ALTER TABLE orders ADD COLUMN note text", "alter-table", "none"],
  ["SELECT lo_unlink(16403)", "function-call", "destructive", "lo_unlink"],
  ["SELECT pg_catalog.lo_unlink(oid) FROM pg_largeobject_metadata", "function-call", "destructive"],
  ["DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$", "unknown", "unknown"],
  ["CALL archive_orders()", "unknown", "unknown", "archive_orders"],
  ["EXECUTE stmt1", "unknown", "unknown"],
  ["SELECT cleanup_old_rows()", "function-call", "unknown", "cleanup_old_rows"],
  ["SELECT count(*), max(id) FROM orders", "read", "none"],
  ["CREATE TABLE t (id int primary key)", "create", "none"],
  ["CREATE INDEX CONCURRENTLY i ON t (a)", "index", "none"],
  ["VACUUM FULL orders", "vacuum", "none"],
  ["MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "merge", "destructive", "t"],
  ["this is not sql", "unknown", "unknown"],
];

describe("classifySql: table of statements", () => {
  for (const [sql, kind, dataLoss, target, extra] of TABLE) {
    it(`${sql} → ${kind} (${dataLoss})`, () => {
      const ops = classifySql(sql);
      assert.ok(ops.length > 0, "at least one operation");
      const first = ops[0];
      assert.equal(first?.kind, kind);
      assert.equal(first?.dataLoss, dataLoss);
      if (target) {
        const t = first?.target;
        assert.equal(t ? [t.schema, t.name].filter(Boolean).join(".") : "", target);
      }
      for (const [key, value] of Object.entries(extra ?? {})) {
        assert.equal((first as unknown as Record<string, unknown>)[key], value, key);
      }
      assert.ok(first?.reason.length, "every operation says why");
    });
  }
});

describe("classifySql: statements and spellings", () => {
  it("splits multi-statement input and keeps each statement's text (comments, $$ bodies, unicode)", () => {
    const sql = `-- cleanup\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n/* x */ DROP TABLE "Ünïcode Tàble";\nTRUNCATE a;`;
    const ops = classifySql(sql);
    assert.deepEqual(
      ops.map((o) => [o.statementIndex, o.kind]),
      [
        [0, "create-function"],
        [1, "drop-table"],
        [2, "truncate"],
      ],
    );
    assert.match(ops[1]?.statement ?? "", /DROP TABLE "Ünïcode Tàble"$/);
    assert.equal(ops[1]?.target?.name, "Ünïcode Tàble");
    assert.equal(ops[2]?.statement, "TRUNCATE a");
  });

  it("case, quoting and schema qualification do not matter", () => {
    for (const sql of [
      "drop table PUBLIC.Orders",
      'DROP TABLE "public"."orders"',
      "DrOp TaBlE public.orders",
    ]) {
      const [first] = classifySql(sql);
      assert.equal(first?.kind, "drop-table", sql);
      assert.equal(first?.target?.schema, "public");
      assert.equal(first?.target?.name, "orders");
    }
  });

  it("empty input and comments only give no operations", () => {
    assert.deepEqual(classifySql(""), []);
    assert.deepEqual(classifySql("-- nothing\n/* at all */"), []);
  });

  it("a parse error names the parser's message and is treated as destructive", () => {
    const [first] = classifySql("DROP TABLEX orders");
    assert.equal(first?.kind, "unknown");
    assert.match(first?.reason ?? "", /syntax error/);
    assert.ok(isDestructive(first?.dataLoss ?? "none"));
  });
});

const identifier = fc.oneof(
  fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/),
  fc.string({ minLength: 1, maxLength: 8 }).map((s) => `"${s.replace(/"/g, '""').replace(/\0/g, "")}"`),
);
const qualified = fc
  .tuple(fc.option(identifier, { nil: undefined }), identifier)
  .map(([s, n]) => (s ? `${s}.${n}` : n));
const casing = (sql: string, upper: boolean[]) =>
  [...sql].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c.toLowerCase())).join("");
const comment = fc.constantFrom("", "/* c */ ", "-- note\n", "\n\t");

/** Keyword-case changes must not touch quoted identifiers: apply casing to the template only. */
const destructiveStatement = fc
  .tuple(
    fc.constantFrom(
      "DROP TABLE %",
      "DROP TABLE IF EXISTS % CASCADE",
      "TRUNCATE %",
      "TRUNCATE TABLE ONLY % RESTART IDENTITY",
      "DELETE FROM %",
      "DELETE FROM % WHERE true",
      "DELETE FROM % WHERE id > 3",
      "UPDATE % SET a = 1",
      "DROP SCHEMA % CASCADE",
      "DROP MATERIALIZED VIEW %",
      "DROP SEQUENCE %",
      "ALTER TABLE % DROP COLUMN c",
      "WITH x AS (DELETE FROM % RETURNING 1) SELECT 1",
      "DO $$ BEGIN PERFORM 1; END $$",
    ),
    qualified,
    fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
    comment,
  )
  .map(([template, name, upper, lead]) => lead + casing(template, upper).replace("%", name));

describe("classifySql: properties", () => {
  it("never throws, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const ops = classifySql(text);
        for (const o of ops)
          assert.ok(["none", "recoverable", "destructive", "unknown"].includes(o.dataLoss));
      }),
      { numRuns: 500 },
    );
  });

  it("never calls a destructive statement harmless", () => {
    fc.assert(
      fc.property(destructiveStatement, (sql) => {
        const ops = classifySql(sql);
        assert.ok(
          ops.some((o) => isDestructive(o.dataLoss)),
          `${sql} → ${JSON.stringify(ops.map((o) => [o.kind, o.dataLoss]))}`,
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe("classifySql: every statement is in the plan (issue 9)", () => {
  it("CREATE VIEW on its own is one `none` operation, not an empty plan", () => {
    const ops = classifySql("CREATE VIEW v AS SELECT 1 AS one");
    assert.deepEqual(
      ops.map((o) => [o.kind, o.dataLoss]),
      [["create-view", "none"]],
    );
  });

  it("no statement kind vanishes from a script: each statement has at least one operation", () => {
    const statements = [
      "CREATE VIEW v AS SELECT 1 AS one",
      "CREATE OR REPLACE VIEW v2 AS SELECT 2 AS two",
      "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql",
      "GRANT SELECT ON t TO app",
      "REVOKE SELECT ON t FROM app",
      "COMMENT ON TABLE t IS 'x'",
      "SET statement_timeout = 0",
      "SET lock_timeout TO '5s'",
      "ALTER TABLE t ADD COLUMN c int, ADD COLUMN d int",
      "CREATE MATERIALIZED VIEW mv AS SELECT 1",
      "CREATE TYPE mood AS ENUM ('a')",
      "CREATE DOMAIN d AS int",
      "CREATE ROLE r",
      "CREATE AGGREGATE agg (int) (sfunc = int4pl, stype = int)",
      "ALTER DOMAIN d SET DEFAULT 1",
      "CREATE CAST (int AS text) WITH INOUT",
      "CREATE FOREIGN TABLE ft (a int) SERVER s",
      "RESET statement_timeout",
      "REASSIGN OWNED BY a TO b",
      "DROP ROLE old_app",
      "ALTER DATABASE d CONNECTION LIMIT 5",
      "ALTER ROLE r SET work_mem = '1MB'",
      "IMPORT FOREIGN SCHEMA s FROM SERVER srv INTO x",
      "SECURITY LABEL ON TABLE t IS 'x'",
      "SELECT 1",
      // Last: a DISCARD makes the statements after it unplannable (by design).
      "DISCARD PLANS",
    ];
    const ops = classifySql(statements.join(";\n"));
    const indexes = new Set(ops.map((o) => o.statementIndex));
    for (let i = 0; i < statements.length; i++)
      assert.ok(indexes.has(i), `statement ${i} (${statements[i]}) has an operation`);
    // None of these changes data: no over-block either.
    assert.deepEqual(
      ops.filter((o) => o.dataLoss !== "none" && o.dataLoss !== "recoverable").map((o) => o.statement),
      [],
    );
  });
});

describe("classifySql: statements that lose nothing (issue 9)", () => {
  it("EXPLAIN without ANALYZE does not run the statement; EXPLAIN ANALYZE does", () => {
    assert.deepEqual(
      classifySql("EXPLAIN DELETE FROM orders").map((o) => [o.kind, o.dataLoss]),
      [["read", "none"]],
    );
    assert.deepEqual(
      classifySql("EXPLAIN (COSTS OFF, FORMAT JSON) UPDATE orders SET a = 1").map((o) => o.dataLoss),
      ["none"],
    );
    for (const sql of [
      "EXPLAIN ANALYZE DELETE FROM orders",
      "EXPLAIN (ANALYZE) DELETE FROM orders",
      "EXPLAIN (ANALYZE true, BUFFERS) DELETE FROM orders",
    ]) {
      const ops = classifySql(sql);
      assert.equal(ops[0]?.kind, "delete", sql);
      assert.equal(ops[0]?.dataLoss, "destructive", sql);
    }
    assert.deepEqual(
      classifySql("EXPLAIN (ANALYZE false) DELETE FROM orders").map((o) => o.dataLoss),
      ["none"],
    );
    // A function the planner may evaluate stays unknown.
    assert.ok(classifySql("EXPLAIN SELECT cleanup()").some((o) => o.dataLoss === "unknown"));
  });

  it("MERGE with only WHEN NOT MATCHED THEN INSERT (or DO NOTHING) adds rows only", () => {
    const ops = classifySql(
      "MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id) WHEN MATCHED THEN DO NOTHING",
    );
    assert.deepEqual(
      ops.map((o) => [o.kind, o.dataLoss]),
      [["merge", "none"]],
    );
    assert.equal(
      classifySql("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v")[0]?.dataLoss,
      "destructive",
    );
    assert.equal(
      classifySql(
        "MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id) WHEN MATCHED AND s.gone THEN DELETE",
      )[0]?.dataLoss,
      "destructive",
    );
    // What the source does is still seen.
    assert.ok(
      classifySql(
        "MERGE INTO t USING (SELECT purge() AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)",
      ).some((o) => o.dataLoss === "unknown"),
    );
  });

  it("DROP TYPE / DOMAIN / COLLATION without CASCADE drops only a definition (it fails if anything uses it)", () => {
    for (const sql of ["DROP TYPE mood", "DROP DOMAIN posint", "DROP TYPE IF EXISTS a, b RESTRICT"]) {
      const [first] = classifySql(sql);
      assert.equal(first?.dataLoss, "recoverable", sql);
      assert.match(first?.reason ?? "", /fails|refuses/, sql);
    }
  });

  it("DROP … CASCADE of a type, domain, collation, extension or function may take columns: destructive until resolved", () => {
    for (const sql of [
      "DROP TYPE mood CASCADE",
      "DROP DOMAIN posint CASCADE",
      "DROP COLLATION mycoll CASCADE",
      "DROP EXTENSION citext CASCADE",
      "DROP FUNCTION f(int) CASCADE",
      "DROP OPERATOR === (int, int) CASCADE",
    ]) {
      const [first] = classifySql(sql);
      assert.equal(first?.dataLoss, "destructive", sql);
      assert.equal(first?.cascadeRequested, true, sql);
    }
  });
  it("a function named like an Object property is an unknown call, not a destructive one with a garbled reason", () => {
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const [operation] = classifySql(`SELECT ${name}()`);
      assert.equal(operation?.dataLoss, "unknown", name);
      assert.doesNotMatch(operation?.reason ?? "", /native code|function Object/, name);
    }
  });
});
