import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { losslessTypeChange } from "../../src/engines/postgres/classify/index.js";

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
