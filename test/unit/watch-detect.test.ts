import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEntry } from "../../src/core/audit/chain.js";
import {
  alertText,
  openWatchAlerts,
  openedAuditData,
  resolvedAuditData,
  resolvedText,
  wayBack,
} from "../../src/core/watch/alert.js";
import { openAlerts } from "../../src/core/posture/check.js";
import { DEFAULT_THRESHOLDS, rowsFell, watchStep, type OpenAlert } from "../../src/core/watch/detect.js";
import type { AssetSample, ClaimSample, PostureSample, TableSample } from "../../src/core/watch/sample.js";

const view = {
  kind: "view",
  name: "public.merchant_feed",
  on: "public.products",
  how: "pg_depend (its definition reads it)",
};

function table(name: string, rows: number, extra: Partial<TableSample> = {}): TableSample {
  return {
    identity: `oid-${name}`,
    name,
    rows,
    storage: `fn-${name}`,
    changes: { inserts: rows, updates: 0, deletes: 0 },
    dependents: [],
    ...extra,
  };
}

const verified: PostureSample = {
  rpoMet: true,
  rpoSeconds: 60,
  rpoTargetSeconds: 86400,
  verified: {
    id: "20261126T102040Z-3fa9c1",
    snapshotTime: "2026-11-26T10:20:40Z",
    drilledAt: "2026-11-26T10:25:00Z",
    tables: ["public.products", "public.orders"],
  },
};

function sample(
  tables: TableSample[] | "missing" | "unreachable",
  extra: Partial<AssetSample> = {},
): AssetSample {
  const at = "2026-11-27T10:00:00Z";
  return {
    asset: "shop",
    database:
      tables === "missing"
        ? { state: "missing", at, database: "shop", error: "does not exist" }
        : tables === "unreachable"
          ? { state: "unreachable", at, database: "shop", error: "connection refused" }
          : { state: "present", at, database: "shop", tables, schema: "s" },
    cluster: null,
    posture: verified,
    standbys: [],
    ...extra,
  };
}

function step(baseline: AssetSample | null, next: AssetSample, open: OpenAlert[] = []) {
  return watchStep({
    baseline,
    sample: next,
    open,
    thresholds: DEFAULT_THRESHOLDS,
    now: "2026-11-27T10:00:30Z",
  });
}

const products = table("public.products", 5000, { dependents: [view] });
const orders = table("public.orders", 20000);

describe("watch: drop detection between two samples", () => {
  it("a dropped table with data is an alert naming its dependents; an empty one is not", () => {
    const empty = table("public.scratch", 0);
    const r = step(sample([products, orders, empty]), sample([orders]));
    assert.deepEqual(
      r.opened.map((a) => [a.kind, a.object, a.before, a.after]),
      [["table-dropped", "table public.products", "5,000 rows", "dropped"]],
    );
    assert.deepEqual(r.opened[0]?.dependents, [view]);
  });

  it("truncate (new storage, no rows) and a 90 % delete are alerts; a 40 % delete, a small table's loss and ordinary writes are not", () => {
    const truncated = table("public.products", 0, {
      storage: "fn-new",
      changes: { inserts: 5000, updates: 0, deletes: 0 },
    });
    const deleted = table("public.orders", 2000, { changes: { inserts: 20000, updates: 0, deletes: 18000 } });
    const r = step(sample([products, orders]), sample([truncated, deleted]));
    assert.deepEqual(r.opened.map((a) => [a.kind, a.after]).sort(), [
      ["rows-fell", "2,000 rows (−90 %)"],
      ["table-truncated", "truncated, 0 rows"],
    ]);
    const quiet = step(
      sample([products, orders, table("public.tiny", 900)]),
      sample([
        table("public.products", 5200, { changes: { inserts: 6000, updates: 9000, deletes: 800 } }),
        table("public.orders", 12000),
        table("public.tiny", 0),
      ]),
    );
    assert.deepEqual(quiet.opened, []);
    assert.equal(rowsFell(100_000, 49_000, DEFAULT_THRESHOLDS), true);
    assert.equal(rowsFell(100_000, 51_000, DEFAULT_THRESHOLDS), false);
    assert.equal(rowsFell(1500, 400, DEFAULT_THRESHOLDS), true);
    assert.equal(rowsFell(1500, 600, DEFAULT_THRESHOLDS), false, "900 rows lost: under 1,000");
  });

  it("VACUUM FULL (new storage, same rows), a rename, a reload under the same name and a statistics reset are not alerts", () => {
    const r = step(
      sample([products, orders]),
      sample([
        table("public.products", 5000, { storage: "fn-vacuumed" }),
        table("public.orders_old", 20000, { identity: "oid-public.orders" }),
      ]),
    );
    assert.deepEqual(r.opened, []);
    const reload = step(
      sample([products]),
      sample([table("public.products", 4900, { identity: "oid-new" })]),
    );
    assert.deepEqual(reload.opened, []);
    const reset = step(
      sample([orders]),
      sample([table("public.orders", 0, { changes: { inserts: 0, updates: 0, deletes: 0 } })]),
    );
    assert.deepEqual(reset.opened, []);
  });

  it("dropped and created again empty is a loss", () => {
    const r = step(sample([products]), sample([table("public.products", 0, { identity: "oid-2" })]));
    assert.equal(r.opened[0]?.kind, "table-dropped");
    assert.equal(r.opened[0]?.after, "dropped and created again, 0 rows");
  });

  it("deduplicates while the loss lasts, resolves when the table is back with its rows", () => {
    const first = step(sample([products, orders]), sample([orders]));
    assert.equal(first.opened.length, 1);
    const again = step(first.baseline, sample([orders]), first.open);
    assert.deepEqual(again.opened, []);
    assert.deepEqual(again.resolved, []);
    assert.equal(again.open.length, 1);
    // Unreachable in between: the loss is not known to be over; the database alert opens.
    const down = step(again.baseline, sample("unreachable"), again.open);
    assert.deepEqual(down.resolved, []);
    assert.deepEqual(
      down.opened.map((a) => a.kind),
      ["database-unreachable"],
    );
    const back = step(
      down.baseline,
      sample([orders, table("public.products", 5000, { identity: "oid-restored" })]),
      down.open,
    );
    assert.deepEqual(back.opened, []);
    assert.deepEqual(back.resolved.map((a) => a.kind).sort(), ["database-unreachable", "table-dropped"]);
    assert.match(back.resolved.find((a) => a.kind === "table-dropped")?.reason ?? "", /has 5,000 rows again/);
    assert.equal(back.open.length, 0);
  });

  it("the baseline survives a sample that could not read the data: the loss is seen against the last one that did", () => {
    const down = step(sample([products, orders]), sample("unreachable"));
    const later = step(down.baseline, sample([orders]), down.open);
    assert.deepEqual(
      later.opened.map((a) => a.kind),
      ["table-dropped"],
    );
    assert.deepEqual(
      later.resolved.map((a) => a.kind),
      ["database-unreachable"],
    );
  });

  it("a missing database, the RPO passed and a standby behind are standing alerts, resolved when they clear", () => {
    const bad = sample("missing", {
      posture: { ...verified, rpoMet: false, rpoSeconds: 90000 },
      standbys: [{ target: "postgres://h/shop_standby", restorePointId: "20261120T000000Z-aaaaaa" }],
    });
    const r = step(null, bad);
    assert.deepEqual(r.opened.map((a) => a.kind).sort(), [
      "database-missing",
      "rpo-breached",
      "standby-behind",
    ]);
    const same = step(r.baseline, bad, r.open);
    assert.deepEqual(same.opened, []);
    const good = step(same.baseline, sample([orders]), same.open);
    assert.equal(good.resolved.length, 3);
  });

  it("claims: deleted, volume deleted, reclaim policy becoming Delete; resolved when a claim is bound again", () => {
    const dep = {
      kind: "deployment",
      name: "shop/feed",
      on: "service shop/pg",
      how: "container feed env DB_HOST names pg.shop",
    };
    const claim = (c: Partial<ClaimSample>): ClaimSample => ({
      name: "shop/data-pg-0",
      uid: "u1",
      volume: "pv-1",
      volumeExists: true,
      reclaimPolicy: "Retain",
      dependents: [dep],
      ...c,
    });
    const cluster = (claims: ClaimSample[]) => ({ state: "read" as const, at: "t", claims });
    const before = sample([orders], {
      cluster: cluster([
        claim({}),
        claim({ name: "shop/data-pg-1", uid: "u2", volume: "pv-2" }),
        claim({ name: "shop/data-pg-2", uid: "u3", volume: "pv-3" }),
      ]),
    });
    const after = sample([orders], {
      cluster: cluster([
        claim({
          name: "shop/data-pg-1",
          uid: "u2",
          volume: "pv-2",
          volumeExists: false,
          reclaimPolicy: null,
        }),
        claim({ name: "shop/data-pg-2", uid: "u3", volume: "pv-3", reclaimPolicy: "Delete" }),
      ]),
    });
    const r = step(before, after);
    assert.deepEqual(
      r.opened.map((a) => [a.kind, a.object]),
      [
        ["claim-deleted", "claim shop/data-pg-0"],
        ["volume-deleted", "volume pv-2 of claim shop/data-pg-1"],
        ["reclaim-delete", "volume pv-3 of claim shop/data-pg-2"],
      ],
    );
    assert.deepEqual(r.opened[0]?.dependents, [dep]);
    const unreadable = step(
      r.baseline,
      sample([orders], { cluster: { state: "unreadable", at: "t", error: "x" } }),
      r.open,
    );
    assert.equal(unreadable.open.length, 3, "an unreadable cluster clears nothing");
    const restored = step(
      r.baseline,
      sample([orders], {
        cluster: cluster([
          claim({ uid: "u9", volume: "pv-9" }),
          claim({ name: "shop/data-pg-1", uid: "u2", volume: "pv-2b" }),
          claim({ name: "shop/data-pg-2", uid: "u3", volume: "pv-3" }),
        ]),
      }),
      r.open,
    );
    assert.deepEqual(restored.resolved.map((a) => a.kind).sort(), [
      "claim-deleted",
      "reclaim-delete",
      "volume-deleted",
    ]);
  });
});

describe("watch: the alert message and its audit entries", () => {
  const targets = {
    recoverTo: "postgres://postgres@db:5432/shop_recovered",
    standbyTo: "postgres://postgres@db:5432/shop_standby",
  };

  it("names the object, before → after, the dependents, the restore point and the exact commands", () => {
    const [alert] = step(sample([products]), sample([])).opened;
    assert.ok(alert);
    const way = wayBack("shop", alert, verified, targets);
    assert.deepEqual(way.commands, [
      "lifeline restore shop --tables public.products --restore-point 20261126T102040Z-3fa9c1",
      "lifeline standby shop --to postgres://postgres@db:5432/shop_standby",
    ]);
    const text = alertText(alert, way, new Date("2026-11-27T10:20:40Z"));
    assert.match(text, /shop — table public\.products was dropped/);
    assert.match(text, /before → after: 5,000 rows → dropped/);
    assert.match(text, /dependents: view public\.merchant_feed via pg_depend \(its definition reads it\)/);
    assert.match(
      text,
      /newest verified restore point: 20261126T102040Z-3fa9c1 \(taken 1d ago, drilled 23h 55m ago/,
    );
    assert.match(text, /way back: lifeline restore shop --tables public\.products/);
  });

  it("a truncated table is restored beside it (restore --tables never overwrites); a table the restore point lacks says so; no restore point says how to get one", () => {
    const truncated = step(sample([products]), sample([table("public.products", 0, { storage: "x" })]))
      .opened[0];
    assert.ok(truncated);
    assert.deepEqual(wayBack("shop", truncated, verified, targets).commands, [
      "lifeline restore shop --tables public.products --to postgres://postgres@db:5432/shop_recovered --restore-point 20261126T102040Z-3fa9c1",
      "lifeline restore shop --in-place --restore-point 20261126T102040Z-3fa9c1",
    ]);
    const fresh = step(sample([table("public.newer", 5000)]), sample([])).opened[0];
    assert.ok(fresh);
    const way = wayBack("shop", fresh, verified, targets);
    assert.equal(way.notContained, true);
    assert.match(alertText(fresh, way, new Date()), /it does not contain public\.newer/);
    assert.deepEqual(wayBack("shop", fresh, { ...verified, verified: null }, targets).commands, [
      "lifeline backup shop && lifeline drill shop",
    ]);
  });

  it("openWatchAlerts reads the audit log: the last entry per asset and key decides; what it reads checks the alert again", () => {
    const first = step(sample([products, orders]), sample([])).opened;
    const entry = (seq: number, asset: string, data: Record<string, unknown>): AuditEntry => ({
      seq,
      at: "2026-11-27T10:00:30Z",
      kind: "alert",
      identity: "lifeline-watch",
      host: "h",
      asset,
      planId: null,
      data,
      prevHash: "",
      hash: "",
    });
    const [a, b] = first;
    assert.ok(a && b);
    const entries = [
      entry(1, "shop", openedAuditData(a, wayBack("shop", a, verified, targets), "text a")),
      entry(2, "shop", openedAuditData(b, wayBack("shop", b, verified, targets), "text b")),
      entry(
        3,
        "other",
        openedAuditData({ ...a, asset: "other" }, wayBack("other", a, verified, targets), "text a"),
      ),
      entry(4, "shop", resolvedAuditData({ ...a, resolvedAt: "2026-11-27T10:01:00Z", reason: "back" })),
    ];
    const open = openWatchAlerts(entries);
    // status --check reads the same entries (every alert: the watch's and the scheduled jobs').
    assert.deepEqual(
      openAlerts(entries)
        .map((x) => [x.asset, x.key, x.alert, x.message])
        .sort(),
      [
        ["other", `other:${a.key}`, "table-dropped", "text a"],
        ["shop", `shop:${b.key}`, "table-dropped", "text b"],
      ],
    );
    assert.deepEqual(open.map((x) => [x.asset, x.key]).sort(), [
      ["other", a.key],
      ["shop", b.key],
    ]);
    const reread = open.find((x) => x.asset === "shop");
    assert.deepEqual(reread?.baseline, b.baseline);
    // What it read is enough to tell that the loss is over.
    const over = step(null, sample([table(b.baseline.table?.name ?? "", 20000)]), reread ? [reread] : []);
    assert.equal(over.resolved.length, 1);
    assert.match(
      resolvedText(over.resolved[0]!),
      /resolved: table public\.orders was dropped \(open 0\.0s\)/,
    );
  });
});
