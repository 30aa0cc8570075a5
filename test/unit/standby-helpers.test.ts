import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  dependentsService,
  recordedStandbyUrl,
  sameDatabase,
  serviceRedirect,
  withoutPassword,
} from "../../src/app/standby.js";
import type { StandbyOutcome } from "../../src/app/standby.js";
import type { AssetRecovery } from "../../src/app/status.js";
import { renderStandby, standbyJson } from "../../src/cli/render/standby.js";
import { renderStatus, statusJson } from "../../src/cli/render/restore-points.js";
import { computePosture } from "../../src/core/posture/posture.js";
import type { ResolvedAsset } from "../../src/config/load.js";

function asset(
  url: string,
  kubernetes: Partial<NonNullable<ResolvedAsset["kubernetes"]>> | null,
): ResolvedAsset {
  return {
    name: "shop",
    engine: "postgres",
    url,
    tier: "production",
    rpoSeconds: 86400,
    scratch: "embedded",
    drillJobs: 2,
    kubernetes: kubernetes
      ? { namespace: "shop", release: null, pvcSelector: null, context: null, ...kubernetes }
      : null,
  };
}

describe("standby: URLs", () => {
  it("withoutPassword drops the password from the user info and the parameters", () => {
    assert.equal(
      withoutPassword("postgres://admin:s3cret@db2:5432/shop_standby?sslmode=require&password=x"),
      "postgres://admin@db2:5432/shop_standby?sslmode=require",
    );
  });

  it("sameDatabase compares server, port and database, not user or password", () => {
    assert.ok(sameDatabase("postgres://a:x@db:5432/shop", "postgres://b@db/shop"));
    assert.ok(sameDatabase("postgres://a@localhost:5432/shop", "postgres://a@127.0.0.1:5432/shop"));
    assert.ok(!sameDatabase("postgres://a@db:5432/shop", "postgres://a@db:5433/shop"));
    assert.ok(!sameDatabase("postgres://a@db:5432/shop", "postgres://a@db:5432/shop_standby"));
  });

  it("a recorded standby on the asset's server as the asset's user is reached with the asset's password", () => {
    assert.equal(
      recordedStandbyUrl("postgres://app@db:5432/shop_standby", "postgres://app:pw@db:5432/shop"),
      "postgres://app:pw@db:5432/shop_standby",
    );
    assert.equal(
      recordedStandbyUrl("postgres://other@db:5432/shop_standby", "postgres://app:pw@db:5432/shop"),
      "postgres://other@db:5432/shop_standby",
    );
    assert.equal(
      recordedStandbyUrl("postgres://app@db2:5432/shop_standby", "postgres://app:pw@db:5432/shop"),
      "postgres://app@db2:5432/shop_standby",
    );
  });
});

describe("standby: the Service patch for dependents", () => {
  it("is null for an asset not bound to Kubernetes", () => {
    assert.equal(
      serviceRedirect(asset("postgres://app@db/shop", null), "postgres://app@db2/shop", "cluster.local"),
      null,
    );
  });

  it("takes the Service from lifeline.yaml, else from the asset URL's host in the binding's namespace", () => {
    assert.equal(
      dependentsService(asset("postgres://app@db/shop", { service: "pg" }), "cluster.local"),
      "pg",
    );
    assert.equal(
      dependentsService(asset("postgres://app@postgresql.shop.svc.cluster.local/shop", {}), "cluster.local"),
      "postgresql",
    );
    assert.equal(
      dependentsService(asset("postgres://app@postgresql.shop/shop", {}), "cluster.local"),
      "postgresql",
    );
    assert.equal(
      dependentsService(asset("postgres://app@postgresql.other.svc/shop", {}), "cluster.local"),
      null,
    );
    assert.equal(dependentsService(asset("postgres://app@db.example.com/shop", {}), "cluster.local"), null);
  });

  it("says why when it cannot name the Service", () => {
    const r = serviceRedirect(
      asset("postgres://app@db.example.com/shop", {}),
      "postgres://app@db2.example.com/shop",
      "cluster.local",
    );
    assert.ok(r && "unavailable" in r);
    assert.match(r.unavailable, /service: <name>/);
  });

  it("an ExternalName to the standby's host, with the context, the undo and the database-name caveat", () => {
    const r = serviceRedirect(
      asset("postgres://app:pw@postgresql.shop.svc.cluster.local:5432/shop", { context: "prod" }),
      "postgres://app@db2.example.com:5433/shop_standby",
      "cluster.local",
    );
    assert.ok(r && "argv" in r);
    assert.deepEqual(r.argv, [
      "kubectl",
      "patch",
      "service",
      "postgresql",
      "-n",
      "shop",
      "--context",
      "prod",
      "--type",
      "merge",
      "-p",
      '{"spec":{"type":"ExternalName","externalName":"db2.example.com"}}',
    ]);
    assert.equal(r.undo.at(-1), '{"spec":{"type":"ClusterIP","externalName":null}}');
    assert.ok(r.notes.some((n) => /5433/.test(n)));
    assert.ok(r.notes.some((n) => /database shop; the standby's is shop_standby/.test(n)));
  });

  it("refuses an IP address or localhost (an ExternalName needs a DNS name)", () => {
    for (const host of ["10.0.0.7", "localhost", "[::1]"]) {
      const r = serviceRedirect(
        asset("postgres://app@db/shop", { service: "pg" }),
        `postgres://app@${host}:5432/shop`,
        "cluster.local",
      );
      assert.ok(r && "unavailable" in r, host);
      assert.match(r.unavailable, /DNS name/);
    }
    const named = serviceRedirect(
      asset("postgres://app@db/shop", { service: "pg" }),
      "postgres://app@cafe:5432/shop",
      "cluster.local",
    );
    assert.ok(named && "argv" in named, "a host name made of hex letters is a name");
  });
});

describe("standby: output", () => {
  const outcome: StandbyOutcome = {
    standby: {
      asset: "shop",
      restorePointId: "20261127T090000Z-aaaaaa",
      target: "postgres://app@db2:5432/shop_standby",
      database: "shop_standby",
      replaced: "20261126T090000Z-bbbbbb",
      tables: 2,
      rows: 2500,
      restoreSeconds: 3.2,
      verifySeconds: 0.4,
      verified: true,
      unchanged: false,
      swap: { unavailableMs: 12, terminated: 1 },
    },
    url: "postgres://app@db2:5432/shop_standby",
    snapshotTime: "2026-11-27T09:00:00Z",
    ageSeconds: 7200,
  };

  it("says where it is, that it is read-only, which restore point and how old", () => {
    const text = renderStandby(outcome, { kind: "none" });
    assert.match(
      text,
      /standby of shop refreshed: restore point 20261127T090000Z-aaaaaa \(snapshot 2h old\)/,
    );
    assert.match(text, /where +postgres:\/\/app@db2:5432\/shop_standby/);
    assert.match(text, /read-only +yes/);
    assert.match(text, /replaced +the standby of restore point 20261126T090000Z-bbbbbb/);
    const doc = standbyJson(outcome, { kind: "none" });
    assert.deepEqual(doc.standby, outcome.standby);
    assert.equal(doc.dependents.kubernetes, null);
  });

  it("prints the patch and says when its plan could not be made", () => {
    const r = serviceRedirect(
      asset("postgres://app@db/shop", { service: "pg" }),
      "postgres://app@db2:5432/shop_standby",
      "cluster.local",
    );
    assert.ok(r && "argv" in r);
    const redirection = {
      kind: "patch" as const,
      redirect: r,
      plan: null,
      planError: "the cluster could not be read (no kubeconfig)",
    };
    const text = renderStandby(outcome, redirection);
    assert.match(text, /NOT applied by lifeline/);
    assert.match(text, /kubectl patch service pg -n shop --type merge -p/);
    assert.match(text, /its plan could not be made: the cluster could not be read/);
    const doc = standbyJson(outcome, redirection);
    assert.equal(doc.dependents.kubernetes?.applied, false);
    assert.match(String(doc.dependents.kubernetes?.command), /ExternalName/);
  });
});

describe("status: standbys, previous databases and the last restore", () => {
  const now = new Date("2026-11-27T12:00:00Z");
  const posture = computePosture({
    asset: { name: "shop", tier: "production", rpoTargetSeconds: 86400 },
    restorePoints: [{ id: "20261127T090000Z-aaaaaa", snapshotTime: "2026-11-27T09:00:00Z", bytes: 10 }],
    drills: [
      {
        restorePointId: "20261127T090000Z-aaaaaa",
        result: "passed",
        finishedAt: "2026-11-27T09:10:00Z",
        restoreSeconds: 40,
        verifySeconds: 2,
      },
    ],
    live: { error: "not read" },
    now,
  });
  const recovery: AssetRecovery = {
    standbys: [
      {
        target: "postgres://app@db2:5432/shop_standby",
        database: "shop_standby",
        restorePointId: "20261127T090000Z-aaaaaa",
        snapshotTime: "2026-11-27T09:00:00Z",
        ageSeconds: 3 * 3600,
        since: "2026-11-27T11:00:00Z",
        readOnly: true,
      },
    ],
    previousDatabases: [
      {
        database: "shop_before_20261127t090000z_aaaaaa",
        target: "postgres://app@db:5432/shop_before_20261127t090000z_aaaaaa",
        restorePointId: "20261127T090000Z-aaaaaa",
        since: "2026-11-27T10:00:00Z",
        discard: "lifeline restore --discard-previous shop",
      },
    ],
    lastRestore: {
      at: "2026-11-27T10:00:00Z",
      mode: "in-place",
      seconds: 38,
      restoreSeconds: 35,
      verifySeconds: 3,
    },
  };

  it("shows both RTOs, each standby and each previous database with its discard command", () => {
    const text = renderStatus([posture], new Map([["shop", recovery]]), now);
    assert.match(text, /42s \(drill\) · last restore 38s/);
    assert.match(
      text,
      /shop: standby postgres:\/\/app@db2:5432\/shop_standby \(read-only\) serves 20261127T090000Z-aaaaaa, snapshot 3h ago/,
    );
    assert.match(text, /previous database shop_before_20261127t090000z_aaaaaa kept since 2h ago/);
    assert.match(text, /lifeline restore --discard-previous shop/);
  });

  it("without recovery state, the RTO column is the drill's as before", () => {
    assert.doesNotMatch(renderStatus([posture]), /last restore/);
    assert.deepEqual(statusJson([posture]), { assets: [posture] });
  });

  it("--json adds standbys, previousDatabases and lastRestore; null when the catalog could not be read", () => {
    type Row = Record<string, unknown>;
    const [withState] = statusJson([posture], new Map([["shop", recovery]])).assets as unknown as Row[];
    assert.deepEqual(withState?.standbys, recovery.standbys);
    assert.deepEqual(withState?.previousDatabases, recovery.previousDatabases);
    assert.deepEqual(withState?.lastRestore, recovery.lastRestore);
    const [unknown] = statusJson([posture], null).assets as unknown as Record<string, unknown>[];
    assert.equal(unknown?.standbys, null);
    assert.match(renderStatus([posture], null, now), /unknown \(the catalog could not be read\)/);
  });
});
