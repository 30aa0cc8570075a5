import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { createClassifier, type Classifier } from "../../src/engines/postgres/classify/index.js";

let classifier: Classifier;
before(async () => {
  classifier = await createClassifier();
});
const deleteAsSelect = (statement: string) => classifier.deleteAsSelect(statement);

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
