import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RestoreResult } from "../../src/core/restore/restore.js";
import { renderRestoreResult } from "../../src/cli/render/restore.js";

const result: RestoreResult = {
  asset: "shop",
  restorePointId: "20261126T102040Z-3fa9c1",
  unverifiedSource: false,
  mode: "in-place",
  target: "postgres://app:*****@db:5432/shop",
  tables: ["public.products"],
  rows: 2000,
  restoreSeconds: 1.5,
  verifySeconds: 0.2,
  verified: true,
  mismatches: [],
  previous: { database: "shop_before_x", target: "postgres://app:*****@db:5432/shop_before_x" },
  foreignKeys: [
    {
      name: "order_items_product_id_fkey",
      table: "public.order_items",
      references: "public.products",
      definition:
        "ALTER TABLE ONLY public.order_items\n    ADD CONSTRAINT order_items_product_id_fkey FOREIGN KEY (product_id) REFERENCES public.products(id);\n\n\n\\unrestrict abc\n",
      why: "public.order_items is not restored",
    },
  ],
  swap: { unavailableMs: 12, terminated: 3 },
  removedLeftovers: ["shop_lifeline_staging_ab12"],
};

describe("restore output", () => {
  it("says where everything is: target, tables, rows, times, verified, swap, previous database and how to discard it", () => {
    const text = renderRestoreResult(result);
    assert.match(
      text,
      /restore point 20261126T102040Z-3fa9c1 of shop into postgres:\/\/app:\*\*\*\*\*@db:5432\/shop: verified/,
    );
    assert.match(text, /1 table, 2,000 rows: public\.products/);
    assert.match(text, /restore 1\.5s, verify 0\.2s/);
    assert.match(text, /verified {3}yes/);
    assert.match(text, /unavailable 12 ms, 3 client connections terminated/);
    assert.match(text, /kept as shop_before_x/);
    assert.match(text, /lifeline restore shop --discard-previous/);
    assert.match(text, /shop_lifeline_staging_ab12/);
  });

  it("prints a foreign key's statement, without blank lines or psql meta-commands", () => {
    const text = renderRestoreResult(result);
    assert.match(
      text,
      /ALTER TABLE ONLY public\.order_items\n {6}ADD CONSTRAINT order_items_product_id_fkey/,
    );
    assert.doesNotMatch(text, /unrestrict/);
    assert.doesNotMatch(text, /\n\s*\n\s*\n/);
  });

  it("the foreign keys' heading does not say the other table is missing (it is there, only not restored)", () => {
    const text = renderRestoreResult(result);
    assert.match(text, /\nForeign keys not restored; each with why, and the statement that adds it:\n/);
    assert.match(
      text,
      /order_items_product_id_fkey on public\.order_items → public\.products: public\.order_items is not restored/,
    );
    assert.doesNotMatch(text, /once it is there/);
  });

  it("a mismatch says NO and names the tables", () => {
    const text = renderRestoreResult({
      ...result,
      verified: false,
      mismatches: [
        { kind: "rows", object: "public.products", expected: "2000", actual: "1999", message: "rows differ" },
      ],
    });
    assert.match(text, /NOT verified/);
    assert.match(text, /✗ public\.products: rows differ/);
  });
});
