import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkArtifacts } from "../../src/core/restore-point/check.js";
import type { Artifact } from "../../src/core/restore-point/restore-point.js";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const RP = "shop/20261126T102040Z-3fa9c1";

const listed: Artifact[] = [
  { path: "dump/toc.dat", bytes: 2048, sha256: SHA_A },
  { path: "dump/3001.dat.gz", bytes: 100, sha256: SHA_B },
];

describe("checkArtifacts", () => {
  it("finds nothing when every artifact is present with the right size and checksum", () => {
    const found = [
      { path: "dump/toc.dat", bytes: 2048, sha256: SHA_A },
      { path: "dump/3001.dat.gz", bytes: 100, sha256: SHA_B },
      { path: "manifest.json", bytes: 999 },
    ];
    assert.deepEqual(checkArtifacts(RP, listed, found), []);
  });

  it("does not report an unhashed file whose size matches", () => {
    const found = [
      { path: "dump/toc.dat", bytes: 2048 },
      { path: "dump/3001.dat.gz", bytes: 100 },
    ];
    assert.deepEqual(checkArtifacts(RP, listed, found), []);
  });

  it("reports a missing artifact with its repository-relative path", () => {
    const findings = checkArtifacts(RP, listed, [{ path: "dump/toc.dat", bytes: 2048, sha256: SHA_A }]);
    assert.deepEqual(findings, [
      {
        kind: "artifact-missing",
        path: `${RP}/dump/3001.dat.gz`,
        message: `${RP}/dump/3001.dat.gz: artifact listed in the manifest is missing`,
      },
    ]);
  });

  it("reports a wrong size with both sizes, and does not also report the checksum", () => {
    const findings = checkArtifacts(RP, listed, [
      { path: "dump/toc.dat", bytes: 2048, sha256: SHA_A },
      { path: "dump/3001.dat.gz", bytes: 99, sha256: SHA_A },
    ]);
    assert.equal(findings.length, 1);
    assert.equal(findings[0]?.kind, "artifact-size");
    assert.equal(findings[0]?.path, `${RP}/dump/3001.dat.gz`);
    assert.equal(findings[0]?.message, `${RP}/dump/3001.dat.gz: size is 99 bytes, the manifest says 100`);
  });

  it("reports a wrong sha256 with the start of both checksums", () => {
    const findings = checkArtifacts(RP, listed, [
      { path: "dump/toc.dat", bytes: 2048, sha256: SHA_B },
      { path: "dump/3001.dat.gz", bytes: 100, sha256: SHA_B },
    ]);
    assert.equal(findings.length, 1);
    const [f] = findings;
    assert.ok(f);
    assert.equal(f.kind, "artifact-checksum");
    assert.equal(f.path, `${RP}/dump/toc.dat`);
    assert.ok(f.message.startsWith(`${RP}/dump/toc.dat: sha256 `), f.message);
    assert.ok(f.message.includes("b".repeat(16)), f.message);
    assert.ok(f.message.includes("a".repeat(16)), f.message);
    assert.match(f.message, /does not match/);
  });

  it("reports a file the manifest does not explain, but never manifest.json", () => {
    const findings = checkArtifacts(RP, listed, [
      { path: "dump/toc.dat", bytes: 2048 },
      { path: "dump/3001.dat.gz", bytes: 100 },
      { path: "manifest.json", bytes: 10 },
      { path: "dump/extra.dat", bytes: 5 },
    ]);
    assert.deepEqual(findings, [
      {
        kind: "unexplained",
        path: `${RP}/dump/extra.dat`,
        message: `${RP}/dump/extra.dat: file is not listed in the manifest`,
      },
    ]);
  });

  it("only exempts manifest.json at the restore point's top level", () => {
    const findings = checkArtifacts(RP, listed, [
      { path: "dump/toc.dat", bytes: 2048 },
      { path: "dump/3001.dat.gz", bytes: 100 },
      { path: "dump/manifest.json", bytes: 10 },
    ]);
    assert.deepEqual(
      findings.map((f) => [f.kind, f.path]),
      [["unexplained", `${RP}/dump/manifest.json`]],
    );
  });

  it("reports several problems at once, listed artifacts first", () => {
    const findings = checkArtifacts(RP, listed, [
      { path: "stray.tmp", bytes: 1 },
      { path: "dump/toc.dat", bytes: 1 },
    ]);
    assert.deepEqual(
      findings.map((f) => f.kind),
      ["artifact-size", "artifact-missing", "unexplained"],
    );
  });
});
