import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Kysely, SqliteDialect, sql } from "kysely";
import { runCompiled } from "../../src/catalog/compiled.js";
import type { CatalogDatabase } from "../../src/catalog/schema.js";

describe("queries compiled once per shape", () => {
  const database = new Database(":memory:");
  database.exec("CREATE TABLE lifeline_approvals (id text, plan_id text, created_at text)");
  database.exec(
    "INSERT INTO lifeline_approvals VALUES ('a1', 'p1', '2026-01-01'), ('a2', 'p2', '2026-01-02'), ('a3', 'p1', '2026-01-03')",
  );
  const db = new Kysely<CatalogDatabase>({ dialect: new SqliteDialect({ database }) });
  const byPlan = (planId: string, limit: number) =>
    runCompiled(db, "test:byPlan", [planId, limit], (id, n) =>
      db
        .selectFrom("lifeline_approvals")
        .select("id")
        .where("plan_id", "=", id as string)
        .orderBy("created_at")
        .limit(n as unknown as number),
    );

  it("runs the SQL compiled the first time with each call's values, constants kept", async () => {
    assert.deepEqual((await byPlan("p1", 10)).rows, [{ id: "a1" }, { id: "a3" }]);
    assert.deepEqual((await byPlan("p2", 10)).rows, [{ id: "a2" }]);
    assert.deepEqual((await byPlan("p1", 1)).rows, [{ id: "a1" }]);
    const constant = (planId: string) =>
      runCompiled(db, "test:constant", [planId], (id) =>
        db
          .selectFrom("lifeline_approvals")
          .select("id")
          .where("plan_id", "=", id as string)
          .where("id", "!=", "a1"),
      );
    assert.deepEqual((await constant("p1")).rows, [{ id: "a3" }]);
    assert.deepEqual((await constant("p2")).rows, [{ id: "a2" }]);
  });

  it("refuses a query whose argument is not exactly one parameter (it would run with the wrong value)", async () => {
    assert.throws(
      () => runCompiled(db, "test:dropped", ["p1"], () => db.selectFrom("lifeline_approvals").select("id")),
      /every argument must be exactly one parameter/,
    );
    assert.throws(
      () =>
        runCompiled(db, "test:inside", ["p1"], (id) =>
          db
            .selectFrom("lifeline_approvals")
            .select("id")
            .where(sql<boolean>`plan_id = ${sql.lit(id)}`),
        ),
      /every argument must be exactly one parameter/,
    );
  });
});
