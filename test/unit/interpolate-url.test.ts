import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { interpolate } from "../../src/config/load.js";
import { isLifelineError } from "../../src/core/errors.js";
import { secrets } from "../../src/core/redact.js";
import { targetFromUrl, toolConnection } from "../../src/engines/postgres/connection.js";

describe("passwords from the environment in connection URLs", () => {
  it("a password with '@' and '/' stays one password and is never printed", () => {
    const url = interpolate("postgres://app:${PW}@db.internal:5432/shop", "assets.shop.url", {
      PW: "s3cr@tHost/xyzzy",
    });
    const target = targetFromUrl(url);
    assert.equal(new URL(url).hostname, "db.internal");
    assert.equal(toolConnection(target).env.PGPASSWORD, "s3cr@tHost/xyzzy");
    assert.ok(!target.display.includes("tHost"));
    assert.ok(!secrets.redact(`cannot connect to ${url}`).includes("xyzzy"));
  });

  it("a value outside the user info is taken as it is (a whole URL in one variable)", () => {
    assert.equal(
      interpolate("${DATABASE_URL}", "x", { DATABASE_URL: "postgres://a@b/c" }),
      "postgres://a@b/c",
    );
    assert.equal(
      interpolate("postgres://app@${HOST}/shop", "x", { HOST: "db:5432" }),
      "postgres://app@db:5432/shop",
    );
  });

  it("a raw '%' in a literal password is a config error that says to percent-encode", () => {
    try {
      targetFromUrl("postgres://app:100%sure@db/shop");
      assert.fail("expected an error");
    } catch (error) {
      assert.ok(isLifelineError(error));
      assert.equal(error.code, "URL_INVALID");
      assert.equal(error.kind, "config");
      assert.match(error.fix ?? "", /percent-encode/);
    }
  });
});
