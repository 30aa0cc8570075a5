import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { LifelineError } from "../../src/core/errors.js";
import { targetFromUrl } from "../../src/engines/postgres/connection.js";
import { executeSql } from "../../src/engines/postgres/execute.js";
import { createDatabase, query, type TestDatabase } from "../support/pg.js";

/** executeSql against the real PostgreSQL: it runs exactly what was planned, in one transaction. */
describe("executeSql (lifeline run --sql)", () => {
  let db: TestDatabase;
  const signal = new AbortController().signal;
  const carts = async (schema = "public") =>
    Number((await query(db.url, `SELECT count(*) AS n FROM ${schema}.carts`))[0]?.n);

  before(async () => {
    db = await createDatabase("lifeline_runsql");
  });
  after(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await query(
      db.url,
      `DROP SCHEMA IF EXISTS other CASCADE; DROP TABLE IF EXISTS public.carts CASCADE;
       CREATE TABLE public.carts (id int); INSERT INTO public.carts SELECT generate_series(1, 10);
       CREATE SCHEMA other; CREATE TABLE other.carts (id int); INSERT INTO other.carts SELECT generate_series(1, 5);`,
    );
  });

  it("runs the SQL in one transaction: a failure rolls everything back", async () => {
    await assert.rejects(
      executeSql(targetFromUrl(db.url), "DELETE FROM carts; SELECT 1/0", signal),
      (e: unknown) => e instanceof LifelineError && /rolled back/.test(e.message),
    );
    assert.equal(await carts(), 10);
    await executeSql(targetFromUrl(db.url), "DELETE FROM carts WHERE id > 4", signal);
    assert.equal(await carts(), 4);
  });

  it("refuses SQL that ends or starts transactions itself, before running anything", async () => {
    for (const sql of [
      "TRUNCATE carts; COMMIT; SELECT 1/0",
      "TRUNCATE carts; END; SELECT 1/0",
      "TRUNCATE carts; ROLLBACK; BEGIN; SELECT 1",
      "START TRANSACTION; TRUNCATE carts",
      "TRUNCATE carts; PREPARE TRANSACTION 'x'",
      "COMMIT PREPARED 'x'",
    ]) {
      await assert.rejects(
        executeSql(targetFromUrl(db.url), sql, signal),
        (e: unknown) =>
          e instanceof LifelineError &&
          e.kind === "refused" &&
          /controls transactions itself/.test(e.message),
        sql,
      );
      assert.equal(await carts(), 10, sql);
    }
    // Savepoints stay inside lifeline's transaction.
    await executeSql(
      targetFromUrl(db.url),
      "SAVEPOINT a; DELETE FROM carts; ROLLBACK TO SAVEPOINT a; RELEASE SAVEPOINT a; DELETE FROM carts WHERE id = 1",
      signal,
    );
    assert.equal(await carts(), 9);
  });

  it("reads the SQL as the planner did, even when the database sets standard_conforming_strings = off", async () => {
    await query(db.url, `ALTER DATABASE "${db.name}" SET standard_conforming_strings = off`);
    try {
      // The parser (standard_conforming_strings on) reads one SELECT of a string; with it off the
      // server would read SELECT 'a''', then DROP TABLE.
      await executeSql(targetFromUrl(db.url), "SELECT 'a\\''; DROP TABLE carts CASCADE; --'", signal);
      assert.equal(await carts(), 10);
    } finally {
      await query(db.url, `ALTER DATABASE "${db.name}" RESET standard_conforming_strings`);
    }
  });

  it("resolves names with the asset connection's search_path, the one the plan used", async () => {
    await query(db.url, `ALTER DATABASE "${db.name}" SET search_path = other, public`);
    try {
      await executeSql(targetFromUrl(db.url), "DELETE FROM carts WHERE id = 1", signal);
      assert.equal(await carts("other"), 4);
      assert.equal(await carts("public"), 10);
    } finally {
      await query(db.url, `ALTER DATABASE "${db.name}" RESET search_path`);
    }
  });

  it("says what each statement did: its command and the rows it affected", async () => {
    const one = await executeSql(targetFromUrl(db.url), "DELETE FROM carts WHERE id > 7", signal);
    assert.deepEqual(one.statements, [{ command: "DELETE", rows: 3 }]);
    const many = await executeSql(
      targetFromUrl(db.url),
      "UPDATE carts SET id = id + 100 WHERE id <= 2; INSERT INTO carts VALUES (1), (2), (3), (4); CREATE TABLE t_rows (x int); TRUNCATE other.carts; DELETE FROM carts WHERE false",
      signal,
    );
    assert.deepEqual(many.statements, [
      { command: "UPDATE", rows: 2 },
      { command: "INSERT", rows: 4 },
      { command: "CREATE", rows: null },
      { command: "TRUNCATE", rows: null },
      { command: "DELETE", rows: 0 },
    ]);
    await query(db.url, "DROP TABLE t_rows");
  });
});
