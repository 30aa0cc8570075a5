import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { breakGlass } from "../../src/app/break-glass.js";
import type { GateDeps } from "../../src/app/gate.js";
import { LifelineError } from "../../src/core/errors.js";

// The input is checked before anything is read or written: no catalog is needed.
const deps = {} as unknown as GateDeps;

describe("break-glass input", () => {
  it("a reason that is too short says so, rather than that there is none", async () => {
    await assert.rejects(
      breakGlass(deps, { asset: "shop", seconds: 1800, maxSeconds: 3600, reason: "x" }),
      (e: unknown) =>
        e instanceof LifelineError &&
        /at least 3 characters/.test(e.message) &&
        /"x" is too short/.test(e.message) &&
        /--asset shop /.test(e.fix ?? ""),
    );
  });

  it("no reason at all still asks for one", async () => {
    await assert.rejects(
      breakGlass(deps, { asset: "shop", seconds: 1800, maxSeconds: 3600, reason: "  " }),
      (e: unknown) => e instanceof LifelineError && /needs a reason of at least 3 characters/.test(e.message),
    );
  });
});
