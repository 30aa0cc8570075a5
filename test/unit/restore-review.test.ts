import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AuditEntry } from "../../src/core/audit/chain.js";
import { isLifelineError } from "../../src/core/errors.js";
import { refuseSystemDatabase } from "../../src/core/restore/restore.js";
import { foreignKeyOf } from "../../src/engines/postgres/recovery/toc.js";
import { renderAuditTable } from "../../src/cli/render/audit.js";

describe("restore review fixes", () => {
  it("a server's own databases are never a restore target", () => {
    for (const db of ["postgres", "template0", "template1"]) {
      assert.throws(
        () => refuseSystemDatabase(db, `postgres://h/${db}`),
        (e: unknown) => isLifelineError(e) && e.kind === "usage" && e.message.includes(db),
      );
    }
    assert.doesNotThrow(() => refuseSystemDatabase("shop_restored", "postgres://h/shop_restored"));
  });

  it("a reported foreign key's definition is only the statement (no psql meta-commands, no blank lines)", () => {
    const fk = foreignKeyOf({
      id: 3,
      name: "orders orders_product_fkey",
      type: "FK CONSTRAINT",
      schema: "public",
      owner: "postgres",
      sql: "ALTER TABLE ONLY public.orders\n    ADD CONSTRAINT orders_product_fkey FOREIGN KEY (product) REFERENCES public.products(id);\n\n\n\\unrestrict abc123\n\n",
    });
    assert.ok(fk);
    assert.equal(
      fk.definition,
      "ALTER TABLE ONLY public.orders\n    ADD CONSTRAINT orders_product_fkey FOREIGN KEY (product) REFERENCES public.products(id);",
    );
  });

  it("the audit table says what a restore, a standby and a discard did", () => {
    const entry = (kind: AuditEntry["kind"], data: Record<string, unknown>, seq: number): AuditEntry => ({
      seq,
      at: "2026-11-27T10:00:00.000Z",
      kind,
      identity: "alice",
      host: "h",
      asset: "shop",
      planId: null,
      data,
      prevHash: "0",
      hash: "1",
    });
    const text = renderAuditTable([
      entry(
        "restore",
        {
          result: "succeeded",
          mode: "in-place",
          restorePointId: "20261127T090000Z-abcdef",
          target: "postgres://db/shop",
          verified: true,
        },
        1,
      ),
      entry(
        "standby",
        {
          result: "succeeded",
          restorePointId: "20261127T090000Z-abcdef",
          target: "postgres://db/shop_standby",
          database: "shop_standby",
          verified: true,
        },
        2,
      ),
      entry("discard", { database: "shop_before_x", target: "postgres://db/shop_before_x" }, 3),
    ]);
    assert.match(text, /restore in-place 20261127T090000Z-abcdef → postgres:\/\/db\/shop \(verified\)/);
    assert.match(text, /standby 20261127T090000Z-abcdef → postgres:\/\/db\/shop_standby/);
    assert.match(text, /dropped shop_before_x/);
  });
});

describe("show of a recovery plan the policy allows", () => {
  it("names the asset without an empty tier and needs no approval", async () => {
    const { renderShown } = await import("../../src/cli/render/gate.js");
    const text = renderShown(
      {
        planId: "a".repeat(64),
        assets: ["shop"],
        command: { kind: "lifeline", text: "lifeline restore shop --tables public.products" },
        verdict: "allow",
        requestedBy: { id: "alice", source: "env", host: "h", authenticated: false },
        createdAt: "2026-11-27T10:00:00.000Z",
        document: {
          planId: "a".repeat(64),
          asset: "shop",
          assets: ["shop"],
          command: { kind: "lifeline", text: "lifeline restore shop --tables public.products" },
          cluster: null,
          verdict: "allow",
          operations: [],
          dependents: [],
          consumers: [],
          recoverability: { restorePoint: null, notContained: [], changesNotCovered: null, summary: "" },
          requirements: [],
          planningMs: 1,
        },
      },
      [],
      [],
    );
    assert.doesNotMatch(text, /shop \(\)/);
    assert.match(text, /none needed: the policy allows this plan/);
  });
});

describe("selecting a partitioned table", () => {
  it("says it holds no rows of its own and to name its partitions", async () => {
    const { selectTables } = await import("../../src/core/restore/restore.js");
    for (const asked of ["public.meas", "meas"]) {
      assert.throws(
        () =>
          selectTables(["public.meas_2025", "public.meas_2026"], { tables: [asked], schemas: [] }, [
            "public.meas",
            "public.meas_2025",
            "public.meas_2026",
          ]),
        (e: unknown) =>
          isLifelineError(e) &&
          /partitioned table/.test(e.message) &&
          /name its partitions/.test(e.fix ?? ""),
      );
    }
  });
});

describe("restore progress from pg_restore --verbose", () => {
  it("counts each table once, also when parallel workers' lines interleave", async () => {
    const { restoreProgress } = await import("../../src/engines/postgres/restore.js");
    const phases: string[] = [];
    const read = restoreProgress(3, { phase: (m) => phases.push(m), warn: () => undefined });
    for (const line of [
      'pg_restore: pg_restore: processing data for table "public.orders"',
      'processing data for table "public.products"',
      'pg_restore: processing data for table "public.owned"',
      'pg_restore: processing data for table "public.owned"',
      'pg_restore: creating INDEX "public.orders_idx"',
    ])
      read(line);
    assert.ok(
      phases.some((p) => p.startsWith("restoring: table 3/3 ")),
      phases.join("\n"),
    );
    assert.ok(!phases.some((p) => p.includes("4/3")));
    assert.ok(phases.some((p) => p.includes("building indexes and constraints (1 so far)")));
    assert.equal(read("pg_restore: error: could not execute query"), false, "errors stay in the tail");
  });
});

describe("selecting tables by name", () => {
  it("folds unquoted names to lower case as PostgreSQL does; quoted names are taken as written", async () => {
    const { selectTables } = await import("../../src/core/restore/restore.js");
    const available = ["public.products", '"Sales"."Order Items"', "public.orders"];
    const pick = (tables: string[], schemas: string[] = []) => selectTables(available, { tables, schemas });
    assert.deepEqual(pick(["PUBLIC.PRODUCTS"]), ["public.products"]);
    assert.deepEqual(pick(["Products"]), ["public.products"]);
    assert.deepEqual(pick(['"Sales"."Order Items"']), ['"Sales"."Order Items"']);
    // A name that only matches as typed (not folded) is still found.
    assert.deepEqual(pick([], ["Sales"]), ['"Sales"."Order Items"']);
    assert.throws(
      () => pick(['"PRODUCTS"']),
      (e: unknown) => isLifelineError(e),
    );
  });
});
