import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { secrets } from "../../src/core/redact.js";
import { createClassifier, type Classifier } from "../../src/engines/postgres/classify/index.js";

let classifier: Classifier;
before(async () => {
  classifier = await createClassifier();
});
const classifySql = (sql: string) => classifier.classify(sql);

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

  it("a password with '@' in a \\connect URL is masked whole (the userinfo ends at the last '@')", () => {
    const ops = classifySql("\\c postgres://app:p@ss@w0rd@db.internal/other\nSELECT 1;");
    const text = ops.map((o) => `${o.statement} ${o.reason}`).join("\n");
    for (const part of ["p@ss", "ss@w0rd", "w0rd@db"]) assert.ok(!text.includes(part), `${part} in ${text}`);
    assert.match(text, /postgres:\/\/app:\*{5}@db\.internal\/other/);
    assert.equal(secrets.redact("x p@ss@w0rd y").includes("p@ss@w0rd"), false);
  });
});
