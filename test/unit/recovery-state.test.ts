import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEntry, AuditKind } from "../../src/core/audit/chain.js";
import type { DiscardAudit, RestoreAudit, StandbyAudit } from "../../src/core/restore/restore.js";
import { recoveryState } from "../../src/core/restore/state.js";

let seq = 0;
function entry(
  kind: AuditKind,
  asset: string | null,
  data: object,
  at = `2026-11-27T10:00:${String(seq).padStart(2, "0")}Z`,
): AuditEntry {
  seq++;
  return {
    seq,
    at,
    kind,
    identity: "ops@example.com",
    host: "h",
    asset,
    planId: null,
    data: data as Record<string, unknown>,
    prevHash: "0".repeat(64),
    hash: String(seq).padStart(64, "0"),
  };
}

function restore(fields: Partial<RestoreAudit>): RestoreAudit {
  return {
    result: "succeeded",
    mode: "into",
    restorePointId: "20261127T090000Z-aaaaaa",
    unverifiedSource: false,
    target: "postgres://admin@db:5432/shop_copy",
    tables: 2,
    rows: 2500,
    restoreSeconds: 10,
    verifySeconds: 2,
    verified: true,
    previous: null,
    error: null,
    ...fields,
  };
}

function standby(fields: Partial<StandbyAudit>): StandbyAudit {
  return {
    result: "succeeded",
    restorePointId: "20261127T090000Z-aaaaaa",
    target: "postgres://admin@db2:5432/shop_standby",
    database: "shop_standby",
    replaced: null,
    restoreSeconds: 5,
    verifySeconds: 1,
    verified: true,
    error: null,
    ...fields,
  };
}

describe("recoveryState", () => {
  it("lists a previous database kept by an in-place restore until it is discarded", () => {
    const previous = {
      database: "shop_before_20261127t090000z_aaaaaa",
      target: "postgres://admin@db:5432/shop_before_20261127t090000z_aaaaaa",
    };
    const kept = [entry("restore", "shop", restore({ mode: "in-place", previous }))];
    const state = recoveryState(kept);
    assert.equal(state.previous.length, 1);
    assert.deepEqual(
      {
        asset: state.previous[0]?.asset,
        database: state.previous[0]?.database,
        rp: state.previous[0]?.restorePointId,
      },
      { asset: "shop", database: previous.database, rp: "20261127T090000Z-aaaaaa" },
    );
    const discard: DiscardAudit = { database: previous.database, target: previous.target };
    const after = recoveryState([...kept, entry("discard", "shop", discard)]);
    assert.deepEqual(after.previous, []);
  });

  it("a failed in-place restore keeps no previous database", () => {
    const previous = { database: "shop_before_x", target: "postgres://admin@db:5432/shop_before_x" };
    const state = recoveryState([
      entry("restore", "shop", restore({ mode: "in-place", previous, result: "failed" })),
    ]);
    assert.deepEqual(state.previous, []);
  });

  it("a failed standby refresh keeps the old standby serving", () => {
    const created = entry("standby", "shop", standby({}));
    const refreshFailed = entry(
      "standby",
      "shop",
      standby({
        result: "failed",
        restorePointId: "20261127T110000Z-bbbbbb",
        replaced: "20261127T090000Z-aaaaaa",
        verified: false,
        error: "ARTIFACT_CORRUPT: …",
      }),
    );
    const state = recoveryState([created, refreshFailed]);
    assert.equal(state.standbys.length, 1);
    assert.equal(state.standbys[0]?.restorePointId, "20261127T090000Z-aaaaaa");
    assert.equal(state.standbys[0]?.at, created.at);
  });

  it("a standby recorded without its password and refreshed since (recorded masked) is one standby", () => {
    const state = recoveryState([
      entry("standby", "shop", standby({ target: "postgres://admin@db2:5432/shop_standby" })),
      entry(
        "standby",
        "shop",
        standby({
          target: "postgres://admin:*****@db2:5432/shop_standby",
          restorePointId: "20261127T110000Z-bbbbbb",
          replaced: "20261127T090000Z-aaaaaa",
        }),
      ),
    ]);
    assert.deepEqual(
      state.standbys.map((s) => [s.target, s.restorePointId]),
      [["postgres://admin:*****@db2:5432/shop_standby", "20261127T110000Z-bbbbbb"]],
    );
  });

  it("a refresh that succeeds replaces the standby's restore point (one standby per target)", () => {
    const state = recoveryState([
      entry("standby", "shop", standby({})),
      entry(
        "standby",
        "shop",
        standby({ restorePointId: "20261127T110000Z-bbbbbb", replaced: "20261127T090000Z-aaaaaa" }),
      ),
      entry("standby", "shop", standby({ target: "postgres://admin@db3:5432/shop_standby" })),
    ]);
    assert.deepEqual(
      state.standbys.map((s) => [s.target, s.restorePointId]),
      [
        ["postgres://admin@db2:5432/shop_standby", "20261127T110000Z-bbbbbb"],
        ["postgres://admin@db3:5432/shop_standby", "20261127T090000Z-aaaaaa"],
      ],
    );
  });

  it("lastRestores keeps the newest succeeded, verified whole-database restore, ignoring unverified and selective ones", () => {
    const state = recoveryState([
      entry("restore", "shop", restore({ restoreSeconds: 30, verifySeconds: 8 })),
      entry("restore", "shop", restore({ mode: "tables", restoreSeconds: 1, verifySeconds: 1 })),
      entry("restore", "shop", restore({ verified: false, restoreSeconds: 2, verifySeconds: 2 })),
      entry(
        "restore",
        "shop",
        restore({ result: "failed", restoreSeconds: 3, verifySeconds: 0, verified: false }),
      ),
      entry("restore", "crm", restore({ mode: "tables" })),
    ]);
    assert.equal(state.lastRestores.length, 1);
    assert.deepEqual(
      {
        asset: state.lastRestores[0]?.asset,
        restore: state.lastRestores[0]?.restoreSeconds,
        verify: state.lastRestores[0]?.verifySeconds,
      },
      { asset: "shop", restore: 30, verify: 8 },
    );
  });

  it("ignores entries it cannot read and entries of other kinds", () => {
    const state = recoveryState([
      entry("standby", "shop", { nonsense: true }),
      entry("standby", null, standby({})),
      entry("run", "shop", standby({})),
      entry("restore", "shop", "not an object" as unknown as object),
    ]);
    assert.deepEqual(state, { previous: [], standbys: [], lastRestores: [], restoredTables: [] });
  });
});
