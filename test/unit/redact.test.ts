import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  MASK,
  Masker,
  Redactor,
  maskKeyValue,
  maskUrls,
  redactUrl,
  redactValue,
} from "../../src/core/redact.js";

describe("redactUrl", () => {
  it("masks the password of a postgres:// URL and keeps the rest readable", () => {
    assert.equal(
      redactUrl("postgres://app:s3cret@db.example.com:5432/shop"),
      `postgres://app:${MASK}@db.example.com:5432/shop`,
    );
  });

  it("masks postgresql:// URLs and query strings stay", () => {
    assert.equal(
      redactUrl("postgresql://app:hunter22@db/shop?sslmode=require"),
      `postgresql://app:${MASK}@db/shop?sslmode=require`,
    );
  });

  it("masks a percent-encoded password whole", () => {
    const out = redactUrl("postgres://app:p%40ss%2Fw%3Ard@db:5432/shop");
    assert.equal(out, `postgres://app:${MASK}@db:5432/shop`);
    assert.ok(!out.includes("p%40ss"));
  });

  it("masks a password containing a raw @ whole (the userinfo ends at the last @)", () => {
    const out = redactUrl("postgres://app:p@ss@db:5432/shop");
    assert.equal(out, `postgres://app:${MASK}@db:5432/shop`);
    assert.ok(!out.includes("ss@db"), out);
  });

  it("masks the password when the user name contains an @ (user@server)", () => {
    const out = redactUrl("postgres://admin@myserver:t0psecret@myserver.example.com/shop");
    assert.equal(out, `postgres://admin@myserver:${MASK}@myserver.example.com/shop`);
  });

  it("masks a password containing a colon whole", () => {
    assert.equal(redactUrl("postgres://app:pa:ss@db/shop"), `postgres://app:${MASK}@db/shop`);
  });

  it("leaves an empty password empty", () => {
    assert.equal(redactUrl("postgres://app:@db/shop"), "postgres://app:@db/shop");
  });

  it("leaves a URL without password unchanged, including one with a port", () => {
    assert.equal(redactUrl("postgres://app@db:5432/shop"), "postgres://app@db:5432/shop");
    assert.equal(redactUrl("postgres://db:5432/shop"), "postgres://db:5432/shop");
    assert.equal(
      redactUrl("postgres:///shop?host=/var/run/postgresql"),
      "postgres:///shop?host=/var/run/postgresql",
    );
  });

  it("keeps ${ENV} and ${ENV:-default} references, which are not secrets", () => {
    assert.equal(
      redactUrl("postgres://app:${SHOP_DB_PASSWORD}@db/shop"),
      "postgres://app:${SHOP_DB_PASSWORD}@db/shop",
    );
    assert.equal(redactUrl("postgres://app:${PW:-dev}@db/shop"), "postgres://app:${PW:-dev}@db/shop");
  });

  it("masks a value that only looks like a reference", () => {
    assert.equal(redactUrl("postgres://app:${not valid}@db/shop"), `postgres://app:${MASK}@db/shop`);
    assert.equal(redactUrl("postgres://app:x${PW}@db/shop"), `postgres://app:${MASK}@db/shop`);
  });

  it("masks a password with characters that need percent-encoding (space, #, ?, /) whole", () => {
    // The URL parser accepts a raw space; the others make the URL invalid, and the invalid URL is
    // then shown in the error message.
    for (const password of ["two words", "a#b", "a?b", "a/b", "a/b@c", "a b#c?d/e@f"]) {
      const out = redactUrl(`postgres://app:${password}@db:5432/shop`);
      assert.equal(out, `postgres://app:${MASK}@db:5432/shop`, `password ${JSON.stringify(password)}`);
    }
  });

  it("never leaves the password readable when an @ follows in the query", () => {
    const out = redactUrl("postgres://app:s3cret@db/shop?application_name=me@laptop");
    assert.equal(out, `postgres://app:${MASK}@db/shop?application_name=me@laptop`);
    assert.equal(
      redactUrl("postgres://app:s3cret@db?application_name=me@laptop"),
      `postgres://app:${MASK}@db?application_name=me@laptop`,
    );
  });
});

describe("Redactor", () => {
  it("masks a registered secret everywhere it appears", () => {
    const r = new Redactor();
    r.add("hunter22");
    assert.equal(
      r.redact("auth failed for hunter22; hunter22 again"),
      `auth failed for ${MASK}; ${MASK} again`,
    );
  });

  it("masks the percent-encoded form of a registered secret", () => {
    const r = new Redactor();
    r.add("p@ss w/rd");
    const out = r.redact("raw p@ss w/rd, encoded p%40ss%20w%2Frd");
    assert.equal(out, `raw ${MASK}, encoded ${MASK}`);
  });

  it("masks the longest secret whole when one secret contains another", () => {
    const r = new Redactor();
    r.add("abc");
    r.add("abcdef");
    assert.equal(r.redact("x abcdef y abc"), `x ${MASK} y ${MASK}`);
  });

  it("masks secrets containing regular expression characters literally", () => {
    const r = new Redactor();
    r.add("a.b*c");
    assert.equal(r.redact("a.b*c aXbbc"), `${MASK} aXbbc`);
  });

  it("does not register secrets shorter than 3 characters (they would mangle ordinary words)", () => {
    const r = new Redactor();
    r.add("ab");
    r.add("");
    r.add(undefined);
    r.add(null);
    assert.equal(r.redact("tab abc"), "tab abc");
    r.add("abc");
    assert.equal(r.redact("tab abc"), `tab ${MASK}`);
  });

  it("still masks a short password inside a URL", () => {
    const r = new Redactor();
    r.add("ab");
    assert.equal(r.redact("postgres://u:ab@h/db"), `postgres://u:${MASK}@h/db`);
  });

  it("masks password=... in keyword/value connection strings, bare or quoted", () => {
    const r = new Redactor();
    assert.equal(r.redact("host=db password=s3cret dbname=shop"), `host=db password=${MASK} dbname=shop`);
    assert.equal(
      r.redact("host=db password = 'two words' dbname=shop"),
      `host=db password = ${MASK} dbname=shop`,
    );
    assert.equal(r.redact("PASSWORD=Upper"), `PASSWORD=${MASK}`);
  });

  it("masks every URL inside a longer text", () => {
    const r = new Redactor();
    const text = "from postgres://a:one@h1/db to postgresql://b:two@h2/db failed";
    assert.equal(r.redact(text), `from postgres://a:${MASK}@h1/db to postgresql://b:${MASK}@h2/db failed`);
  });

  it("masks a URL password containing @, # or ? in free text", () => {
    const r = new Redactor();
    assert.equal(r.redact("url postgres://u:p@ss@h/db done"), `url postgres://u:${MASK}@h/db done`);
    assert.equal(r.redact("url postgres://u:a#b?c@h/db done"), `url postgres://u:${MASK}@h/db done`);
  });

  it("masks a registered password with a space, which no URL pattern can delimit in free text", () => {
    const r = new Redactor();
    r.add("two words");
    assert.equal(r.redact("postgres://u:two words@h/db"), `postgres://u:${MASK}@h/db`);
  });

  it("masks URL passwords it was never told about", () => {
    const r = new Redactor();
    assert.equal(
      r.redact('connect "postgres://u:unknown1@h:5432/db": refused'),
      `connect "postgres://u:${MASK}@h:5432/db": refused`,
    );
  });

  it("leaves text without secrets unchanged", () => {
    const r = new Redactor();
    r.add("hunter22");
    const text = "backup of shop finished in 3.2s (1.2 MB)";
    assert.equal(r.redact(text), text);
  });
});

describe("one engine: free text, command lines and documents", () => {
  it("masks secret-named KEY=VALUE in free text (PGPASSWORD=, --password=, DB_TOKEN=)", () => {
    const r = new Redactor();
    assert.equal(r.redact("PGPASSWORD=hunter22 psql -h db"), `PGPASSWORD=${MASK} psql -h db`);
    assert.equal(r.redact("psql --password=hunter22 -h db"), `psql --password=${MASK} -h db`);
    assert.equal(r.redact(`sh -c 'DB_TOKEN="t0k3n" run'`), `sh -c 'DB_TOKEN=${MASK} run'`);
    assert.equal(r.redact("replicas=3 tier=prod"), "replicas=3 tier=prod");
  });

  it("masks SQL password literals, parsed or not, and keeps columns that only contain a secret word", () => {
    const r = new Redactor();
    assert.equal(
      r.redact("ALTER ROLE x PASSWORD 'hunter22' garbage"),
      `ALTER ROLE x PASSWORD '${MASK}' garbage`,
    );
    assert.equal(
      r.redact("CREATE ROLE y ENCRYPTED PASSWORD $$it's$$ LOGIN"),
      `CREATE ROLE y ENCRYPTED PASSWORD '${MASK}' LOGIN`,
    );
    assert.equal(r.redact("ALTER ROLE x PASSWORD 'it''s'"), `ALTER ROLE x PASSWORD '${MASK}'`);
    assert.equal(r.redact(`ALTER ROLE x PASSWORD '${MASK}'`), `ALTER ROLE x PASSWORD '${MASK}'`);
    assert.equal(r.redact("UPDATE users SET password_hash=NULL"), "UPDATE users SET password_hash=NULL");
  });

  it("redactValue redacts every string of a document, keys and other values kept", () => {
    const r = new Redactor();
    r.add("kn0wnpass");
    assert.deepEqual(
      redactValue(r, { command: "x -pkn0wnpass", n: 2, ok: true, none: null, list: ["PGPASSWORD=a1b2c3 y"] }),
      { command: `x -p${MASK}`, n: 2, ok: true, none: null, list: [`PGPASSWORD=${MASK} y`] },
    );
  });

  it("masks ?password= and &sslpassword= query parameters in free text and in one URL", () => {
    const r = new Redactor();
    assert.equal(
      r.redact("psql postgres://h/db?sslmode=require&password=hunter22 failed"),
      `psql postgres://h/db?sslmode=require&password=${MASK} failed`,
    );
    assert.equal(maskUrls("postgres://h/db?sslpassword=k3y"), `postgres://h/db?sslpassword=${MASK}`);
  });

  it("maskUrls masks a command line's ${VAR} password (literal text there); redactUrl keeps lifeline.yaml's references", () => {
    assert.equal(maskUrls("postgres://u:${PW}@h/db"), `postgres://u:${MASK}@h/db`);
    assert.equal(redactUrl("postgres://u:${PW}@h/db"), "postgres://u:${PW}@h/db");
  });

  it("masks a password with '@', ':', '/' or '%40' whole in one value", () => {
    for (const pw of ["p@ss", "p@ss@w", "pa:ss", "a/b", "p%40ss"]) {
      const out = maskUrls(`postgres://u:${pw}@h/db`);
      assert.equal(out, `postgres://u:${MASK}@h/db`, pw);
    }
  });

  it("a Masker with a digest puts the digest of the whole password, and hides a value once", () => {
    const m = new Masker((s) => `D(${s})`);
    assert.equal(maskUrls("postgres://u:p@ss@h/db", m), "postgres://u:D(p@ss)@h/db");
    // KEY=VALUE then URL rules both match the query password: one digest, not a digest of a digest
    const both = new Masker((s) => `D${s.length}`);
    const once = maskUrls(maskKeyValue("postgres://h/db?password=hunter22", both), both);
    assert.ok(!once.includes("hunter22"), once);
    assert.deepEqual(
      both.hidden.filter((h) => h.includes("hunter22")),
      ["hunter22", "hunter22"],
      "hidden once (value and its unquoted spelling)",
    );
    assert.ok(once.endsWith("password=D8"), once);
  });
});

describe("redacting free text: the edges a review found", () => {
  it("an unquoted password= value ends at a quote, so the text around it survives", () => {
    const r = new Redactor();
    assert.equal(
      r.redact("select dblink_connect('password=hunter2') from x"),
      "select dblink_connect('password=*****') from x",
    );
  });

  it("an unterminated password literal is masked to the end of the text", () => {
    const r = new Redactor();
    assert.equal(r.redact("ALTER ROLE x PASSWORD 'hunter2"), "ALTER ROLE x PASSWORD '*****'");
    assert.equal(r.redact("ALTER ROLE x PASSWORD $$hunter2"), "ALTER ROLE x PASSWORD '*****'");
    assert.equal(r.redact("host=h password='hunter2"), "host=h password=*****");
  });
});

describe("Redactor: texts without '@', '=' or 'password' (the common case, checked for known secrets only)", () => {
  it("still masks a registered secret in such a text, and every pattern in the others", () => {
    const r = new Redactor();
    r.add("hunter2x");
    assert.equal(r.redact("token hunter2x in a plain message"), `token ${MASK} in a plain message`);
    assert.equal(r.redact("a0001 20261127T160250Z-000064"), "a0001 20261127T160250Z-000064");
    assert.equal(r.redact("postgres://u:pw1@h/d"), `postgres://u:${MASK}@h/d`);
    assert.equal(r.redact("PGPASSWORD=abc sh"), `PGPASSWORD=${MASK} sh`);
    assert.equal(r.redact("ALTER ROLE x PASSWORD 'y'"), `ALTER ROLE x PASSWORD '${MASK}'`);
  });
});
