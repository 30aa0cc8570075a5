import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LifelineError } from "../../src/core/errors.js";
import { assertTargetFits, restoreCommand } from "../../src/core/restore/options.js";
import { restoreCommandText } from "../../src/cli/commands/restore.js";

const usage = (fn: () => unknown, message: RegExp, fix?: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LifelineError);
    assert.equal(e.kind, "usage");
    assert.equal(e.exitCode, 2);
    assert.match(e.message, message);
    if (fix) assert.match(e.fix ?? "", fix);
    return true;
  });

describe("restore options", () => {
  it("one mode each", () => {
    assert.deepEqual(restoreCommand("shop", { to: "postgres://h/x" }).action, {
      kind: "into",
      to: "postgres://h/x",
      replace: false,
    });
    assert.deepEqual(restoreCommand("shop", { to: "postgres://h/x", replace: true }).action, {
      kind: "into",
      to: "postgres://h/x",
      replace: true,
    });
    assert.deepEqual(restoreCommand("shop", { tables: "public.a, b ,", schema: "sales" }).action, {
      kind: "tables",
      to: null,
      tables: ["public.a", "b"],
      schemas: ["sales"],
    });
    assert.deepEqual(restoreCommand("shop", { inPlace: true }).action, { kind: "in-place" });
    assert.deepEqual(restoreCommand("shop", { discardPrevious: true }).action, { kind: "discard-previous" });
    const picked = restoreCommand("shop", {
      inPlace: true,
      restorePoint: "20261126T102040Z-3fa9c1",
      unverified: true,
    });
    assert.equal(picked.restorePointId, "20261126T102040Z-3fa9c1");
    assert.equal(picked.unverified, true);
  });

  it("wrong combinations are usage errors naming the fix", () => {
    usage(() => restoreCommand("shop", {}), /say where to restore/, /--to/);
    usage(() => restoreCommand("shop", { inPlace: true, to: "postgres://h/x" }), /--in-place/, /choose one/);
    usage(() => restoreCommand("shop", { replace: true }), /--replace needs --to/, /--in-place/);
    usage(
      () => restoreCommand("shop", { discardPrevious: true, inPlace: true }),
      /takes no --in-place/,
      /restore shop --discard-previous/,
    );
    // With several previous databases kept, --restore-point picks the one kept by restoring it.
    assert.equal(
      restoreCommand("shop", { discardPrevious: true, restorePoint: "20261126T102040Z-3fa9c1" })
        .restorePointId,
      "20261126T102040Z-3fa9c1",
    );
    usage(() => restoreCommand("shop", { discardPrevious: true, unverified: true }), /--unverified/);
    usage(() => restoreCommand("shop", { inPlace: true, tables: "a" }), /--tables/);
    usage(() => restoreCommand("shop", { tables: "a", to: "postgres://h/x", replace: true }), /--replace/);
    usage(() => restoreCommand("shop", { tables: " , " }), /name nothing/);
    usage(() => restoreCommand("shop", { to: " " }), /--to is empty/);
  });

  it("a restore point id that is not one (a path) is refused before anything is read", () => {
    for (const bad of ["../20261126T102040Z-3fa9c1", "20261126T102040Z-3fa9c1/..", "a/b", "..", "x"])
      usage(() => restoreCommand("shop", { inPlace: true, restorePoint: bad }), /is not a restore point id/);
  });

  it("a target server older than the source is refused with the fix", () => {
    assert.throws(
      () =>
        assertTargetFits(
          { display: "postgres://h/x", serverMajor: 14, serverVersion: "14.10" },
          { serverMajor: 15, serverVersion: "15.4" },
        ),
      (e: unknown) =>
        e instanceof LifelineError &&
        e.code === "RESTORE_TARGET_TOO_OLD" &&
        /PostgreSQL 15 or newer/.test(e.fix ?? ""),
    );
    assertTargetFits(
      { display: "postgres://h/x", serverMajor: 16, serverVersion: "16.1" },
      { serverMajor: 15, serverVersion: "15.4" },
    );
  });

  it("the command text of a plan never holds the password", () => {
    const text = restoreCommandText(
      "shop",
      restoreCommand("shop", { to: "postgres://admin:s3cret@db2:5432/copy", replace: true }),
    );
    assert.doesNotMatch(text, /s3cret/);
    assert.match(text, /^lifeline restore shop --to postgres:\/\/admin:.*@db2:5432\/copy --replace$/);
  });
});
