import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LifelineError } from "../../src/core/errors.js";
import {
  MAX_IDENTIFIER_BYTES,
  previousDatabaseName,
  refuseDatabaseName,
  stagingDatabaseName,
} from "../../src/core/restore/restore.js";
import { databaseName, targetFromUrl, withDatabase } from "../../src/engines/postgres/connection.js";

const NAMES = ["a/b", "a;b", "a$b", "a b", "o'k\"q", "UPPER", "ünï", "a%b", "a?b#c", "a+b", "😀", "a%2Fb"];

describe("restore target names", () => {
  it("withDatabase and databaseName round-trip any name (encoded once, decoded once)", () => {
    const base = targetFromUrl("postgres://u:pw@127.0.0.1:5432/shop?sslmode=disable");
    for (const name of NAMES) {
      const target = withDatabase(base, name);
      assert.equal(databaseName(target.url), name, target.url);
      assert.equal(databaseName(withDatabase(target, name).url), name);
      assert.ok(target.url.endsWith("?sslmode=disable"), target.url);
    }
    assert.equal(databaseName("postgres://h:5432/"), "");
    assert.equal(databaseName("postgres://h:5432"), "");
  });

  it("a '%' that is not a percent-encoding in the database name is refused", () => {
    assert.throws(
      () => targetFromUrl("postgres://h:5432/a%zzb"),
      (e: unknown) =>
        e instanceof LifelineError && e.code === "URL_INVALID" && /percent-encod/.test(e.fix ?? ""),
    );
  });

  it("refuses no database name and names over 63 bytes, with the limit and an example", () => {
    const refused = (name: string) =>
      assert.throws(
        () => refuseDatabaseName(name, "postgres://h:5432/x", "postgres://h:5432/shop_copy"),
        (e: unknown) => e instanceof LifelineError && e.code === "USAGE" && e.kind === "usage",
      );
    refused("");
    refused("x".repeat(64));
    refused("é".repeat(32));
    assert.throws(() => refuseDatabaseName("x".repeat(64), "d", "e"), /at most 63 bytes/);
    refuseDatabaseName("x".repeat(63), "d", "e");
    refuseDatabaseName("é".repeat(31), "d", "e");
  });

  it("staging and previous names are clipped between characters, never inside one", () => {
    for (const name of ["x".repeat(63), "é".repeat(31), `ab${"😀".repeat(15)}`, `a${"😀".repeat(15)}`]) {
      for (const clipped of [
        stagingDatabaseName(name, "0a1b2c3d"),
        previousDatabaseName(name, "20261127T120000Z-abc123"),
      ]) {
        assert.ok(Buffer.byteLength(clipped) <= MAX_IDENTIFIER_BYTES, clipped);
        assert.ok(!clipped.includes("\ufffd"));
        assert.equal(clipped, Buffer.from(clipped, "utf8").toString("utf8"), "no lone surrogate");
        assert.doesNotThrow(() => encodeURIComponent(clipped));
      }
    }
  });
});
