import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  TYPED_RECIPE,
  chooseRecipe,
  rowHash,
  typedHashOf,
  type TableToFingerprint,
} from "../../src/engines/postgres/fingerprint.js";

function table(columns: [string, string | null][]): TableToFingerprint {
  return { schema: "public", name: "t", bytes: 0, columns: columns.map(([name, type]) => ({ name, type })) };
}

describe("the typed fingerprint recipe", () => {
  it("hashes by type only the types whose hash tells every stored value apart", () => {
    for (const type of [
      "int2",
      "int4",
      "int8",
      "text",
      "varchar(n)",
      "bpchar(n)",
      "numeric(n)",
      "uuid",
      "timestamp",
    ])
      assert.notEqual(typedHashOf(type), null, type);
    for (const type of ["bool", "date", "timestamptz", "bytea"])
      assert.equal(typedHashOf(type), "hash_record_extended");
    // -0/0, 1.0/1.00, '1 day'/'24 hours', trailing spaces of an unbounded bpchar, array shapes, enum OIDs…
    for (const type of [
      "float4",
      "float8",
      "numeric",
      "interval",
      "bpchar",
      "_int4",
      "jsonb",
      "json",
      "timetz",
      "point",
      "oid",
      "regclass",
      "char",
      "name",
    ])
      assert.equal(typedHashOf(type), null, type);
    // Not a pg_catalog type, or a nondeterministic collation: listTables reports no type at all.
    assert.equal(typedHashOf(null), null);
    assert.equal(typedHashOf("constructor"), null, "only the table's own entries");
  });

  it("at backup, chooses every column of a safe type; none means the text recipe", () => {
    assert.deepEqual(
      chooseRecipe(
        table([
          ["a", "int4"],
          ["b", "float8"],
          ["c", "text"],
        ]),
      ),
      {
        name: TYPED_RECIPE,
        hashed: ["a", "c"],
      },
    );
    assert.equal(
      chooseRecipe(
        table([
          ["a", "float8"],
          ["m", null],
        ]),
      ),
      null,
    );
  });

  it("at a drill, uses exactly the recipe the manifest records (none, or an unknown one: text)", () => {
    const t = table([
      ["a", "int4"],
      ["b", "int4"],
    ]);
    assert.deepEqual(chooseRecipe(t, { name: TYPED_RECIPE, hashed: ["a"] }), {
      name: TYPED_RECIPE,
      hashed: ["a"],
    });
    assert.equal(chooseRecipe(t, null), null);
    assert.equal(chooseRecipe(t, { name: "typed-hash-v9", hashed: ["a"] }), null);
  });

  it("keeps the original text recipe (and digest) for a table without a recipe", () => {
    const t = table([
      ["a", "int4"],
      ["B c", "text"],
    ]);
    assert.deepEqual(rowHash(t, null), {
      sql: 'hashtextextended(ROW("a", "B c")::text, 0)',
      description: "a,B c",
    });
  });

  it("seeds each hashed column by its position, hashes the record types together and the rest as text", () => {
    const t = table([
      ["a", "int4"],
      ["at", "timestamptz"],
      ["b", "int4"],
      ["f", "float8"],
      ["ok", "bool"],
      ["t", "text"],
    ]);
    const { sql, description } = rowHash(t, { name: TYPED_RECIPE, hashed: ["a", "at", "b", "ok", "t"] });
    assert.equal(
      sql,
      'pg_catalog.hashint8extended(coalesce(pg_catalog.hashint4extended("a", 1), 1) # coalesce(pg_catalog.hashint4extended("b", 2), 2) # ' +
        'coalesce(pg_catalog.hashtextextended("t", 3), 3) # pg_catalog.hash_record_extended(ROW("at", "ok"), 4) # ' +
        'pg_catalog.hashtextextended(ROW("f")::text, 0), 0)',
    );
    assert.equal(
      description,
      "typed-hash-v1|a:hashint4extended,b:hashint4extended,t:hashtextextended|record:at,ok|text:f|missing:",
    );
  });

  it("a recorded column that is gone or whose type changed changes the description, so the digest differs", () => {
    const recipe = { name: TYPED_RECIPE, hashed: ["a", "b"] };
    const before = rowHash(
      table([
        ["a", "int4"],
        ["b", "int4"],
      ]),
      recipe,
    ).description;
    assert.notEqual(rowHash(table([["a", "int4"]]), recipe).description, before);
    assert.notEqual(
      rowHash(
        table([
          ["a", "int4"],
          ["b", "float8"],
        ]),
        recipe,
      ).description,
      before,
    );
    assert.notEqual(
      rowHash(
        table([
          ["a", "int4"],
          ["b", "int8"],
        ]),
        recipe,
      ).description,
      before,
    );
  });
});
