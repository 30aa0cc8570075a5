import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatBytes, formatCount, formatDuration, parseDuration } from "../../src/core/duration.js";

describe("parseDuration", () => {
  const valid: [string, number][] = [
    ["90s", 90],
    ["15m", 900],
    ["24h", 86400],
    ["7d", 604800],
    ["1w", 604800],
    ["1d12h", 129600],
    ["1h30m15s", 5415],
    ["0h5m", 300],
    ["  24h\n", 86400],
  ];
  for (const [text, seconds] of valid) {
    it(`parses ${JSON.stringify(text)} as ${seconds}s`, () => {
      assert.equal(parseDuration(text), seconds);
    });
  }

  const invalid = ["", "24", "h", "24 hours", "24 h", "1.5h", "-1h", "24H", "1y", "0s", "0d0h", "24h ago"];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseDuration(text), undefined);
    });
  }
});

describe("formatDuration", () => {
  const cases: [number, string][] = [
    [0, "0.0s"],
    [-3, "0.0s"],
    [0.25, "0.3s"],
    [9.94, "9.9s"],
    [10, "10s"],
    [45, "45s"],
    [59.4, "59s"],
    [59.6, "1m"],
    [60, "1m"],
    [61, "1m 1s"],
    [725, "12m 5s"],
    [3600, "1h"],
    [3661, "1h 1m"],
    [86400, "1d"],
    [86400 + 59, "1d"],
    [3 * 86400 + 4 * 3600 + 5 * 60, "3d 4h"],
    // Two adjacent units: minutes below hours are dropped when the hours are zero.
    [2 * 86400 + 7 * 60, "2d"],
    [2 * 86400 + 3600 + 7 * 60, "2d 1h"],
    [Infinity, "∞"],
  ];
  for (const [seconds, text] of cases) {
    it(`formats ${seconds} as ${JSON.stringify(text)}`, () => {
      assert.equal(formatDuration(seconds), text);
    });
  }
});

describe("formatBytes", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [999, "999 B"],
    [1000, "1.0 kB"],
    [1500, "1.5 kB"],
    [12_345, "12 kB"],
    [1_500_000, "1.5 MB"],
    [250_000_000, "250 MB"],
    [3_200_000_000, "3.2 GB"],
    [7_000_000_000_000, "7.0 TB"],
    [12_000_000_000_000_000, "12000 TB"],
  ];
  for (const [bytes, text] of cases) {
    it(`formats ${bytes} as ${JSON.stringify(text)}`, () => {
      assert.equal(formatBytes(bytes), text);
    });
  }
});

describe("formatCount", () => {
  it("groups digits like toLocaleString('en-US')", () => {
    for (const value of [
      0,
      7,
      999,
      1000,
      12345,
      999999,
      1000000,
      1234567890,
      -1,
      -1234,
      -1234567,
      2 ** 53 - 1,
      1.5,
      1234.5678,
      -0.25,
      1e21,
    ]) {
      assert.equal(formatCount(value), value.toLocaleString("en-US"), String(value));
    }
  });
});
