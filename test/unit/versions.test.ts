import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LifelineError } from "../../src/core/errors.js";
import {
  assertDumpToolFits,
  assertRestoreToolFits,
  parseToolVersion,
  serverMajorFromNum,
} from "../../src/core/versions.js";

describe("parseToolVersion", () => {
  it("parses Debian-style output", () => {
    assert.deepEqual(parseToolVersion("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"), {
      version: "15.20",
      major: 15,
    });
  });

  it("parses Ubuntu-style output with a trailing newline", () => {
    assert.deepEqual(parseToolVersion("pg_dump (PostgreSQL) 14.11 (Ubuntu 14.11-0ubuntu0.22.04.1)\n"), {
      version: "14.11",
      major: 14,
    });
  });

  it("parses plain output", () => {
    assert.deepEqual(parseToolVersion("pg_restore (PostgreSQL) 16.4"), { version: "16.4", major: 16 });
    assert.deepEqual(parseToolVersion("pg_dump (PostgreSQL) 17.0\n"), { version: "17.0", major: 17 });
  });

  it("parses a development version", () => {
    assert.deepEqual(parseToolVersion("pg_dump (PostgreSQL) 18beta1"), { version: "18beta1", major: 18 });
  });

  it("parses a pre-10 three-part version with its first number as major", () => {
    assert.deepEqual(parseToolVersion("pg_dump (PostgreSQL) 9.6.24"), { version: "9.6.24", major: 9 });
  });

  it("reads only the first version when more lines follow", () => {
    assert.deepEqual(parseToolVersion("pg_dump (PostgreSQL) 16.2\nsomething else (PostgreSQL) 12.1"), {
      version: "16.2",
      major: 16,
    });
  });

  it("returns undefined for output that is not a PostgreSQL tool version", () => {
    assert.equal(parseToolVersion(""), undefined);
    assert.equal(parseToolVersion("command not found: pg_dump"), undefined);
    assert.equal(parseToolVersion("pg_dump 16.4"), undefined);
    assert.equal(parseToolVersion("pg_dump (PostgreSQL) unknown"), undefined);
  });
});

describe("serverMajorFromNum", () => {
  it("maps server_version_num to the major version", () => {
    assert.equal(serverMajorFromNum(150020), 15);
    assert.equal(serverMajorFromNum(160004), 16);
    assert.equal(serverMajorFromNum(100000), 10);
    assert.equal(serverMajorFromNum(90624), 9);
  });
});

function thrown(fn: () => void): LifelineError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof LifelineError, `expected a LifelineError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a LifelineError to be thrown");
}

describe("assertDumpToolFits", () => {
  it("accepts a tool of the same or a newer major version", () => {
    assert.doesNotThrow(() => assertDumpToolFits("pg_dump", 16, "16.4", 16));
    assert.doesNotThrow(() => assertDumpToolFits("pg_dump", 17, "17.0", 15));
  });

  it("refuses a tool older than the server, with TOOL_TOO_OLD and a fix naming the version to install", () => {
    const error = thrown(() => assertDumpToolFits("pg_dump", 15, "15.20", 16));
    assert.equal(error.code, "TOOL_TOO_OLD");
    assert.equal(error.kind, "config");
    assert.match(error.message, /pg_dump 15\.20 is older than the server \(PostgreSQL 16\)/);
    assert.ok(error.fix, "a fix is given");
    assert.match(error.fix, /postgresql-client-16/);
    assert.match(error.fix, /tools\.pgBin/);
    assert.match(error.fix, /LIFELINE_PG_BIN/);
  });
});

describe("assertRestoreToolFits", () => {
  it("accepts a pg_restore of the same or a newer major version than the pg_dump", () => {
    assert.doesNotThrow(() => assertRestoreToolFits(16, "16.4", 16));
    assert.doesNotThrow(() => assertRestoreToolFits(17, "17.2", 15));
  });

  it("refuses a pg_restore older than the pg_dump that wrote the archive", () => {
    const error = thrown(() => assertRestoreToolFits(14, "14.11", 16));
    assert.equal(error.code, "TOOL_TOO_OLD");
    assert.equal(error.kind, "config");
    assert.match(error.message, /pg_restore 14\.11 is older than the pg_dump \(16\)/);
    assert.ok(error.fix);
    assert.match(error.fix, /PostgreSQL 16 client tools/);
  });
});
