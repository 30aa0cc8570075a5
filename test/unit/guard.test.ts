import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { guardObjects, guardRisk } from "../../src/app/guard-objects.js";
import { guardMassChange, parseConfig, type LoadedConfig } from "../../src/config/load.js";
import { isLifelineError } from "../../src/core/errors.js";
import type { Plan } from "../../src/core/plan/plan.js";
import type { AffectedObject, PlannedOperation } from "../../src/core/plan/policy.js";
import { parseToc, withoutGuard } from "../../src/engines/postgres/recovery/toc.js";
import type { GuardState } from "../../src/ports/engine.js";

const object = (o: Partial<AffectedObject> & Pick<AffectedObject, "type" | "name">): AffectedObject => ({
  identity: null,
  rows: null,
  rowsExact: false,
  bytes: null,
  dataLoss: "destructive",
  how: "target",
  ...o,
});

const operation = (o: Partial<PlannedOperation>): PlannedOperation => ({
  kind: "drop-table",
  statementIndex: 0,
  statement: "",
  normalized: "",
  target: null,
  resolved: null,
  dataLoss: "destructive",
  reason: "",
  cascadeRequested: false,
  missingOk: false,
  filter: null,
  rows: null,
  bytes: null,
  cascade: [],
  notes: [],
  ...o,
});

const planOf = (operations: PlannedOperation[]) => ({ operations }) as unknown as Plan;

describe("the objects lifeline run's approval covers", () => {
  it("tables, materialized views, sequences and columns of the plan, with the OIDs it saw; not views or indexes", () => {
    const objects = guardObjects(
      planOf([
        operation({
          resolved: object({ type: "table", name: "public.items", identity: "oid=17606,relfilenode=17606" }),
          cascade: [
            object({ type: "view", name: "public.item_names", identity: "oid=17700" }),
            object({ type: "table", name: "public.items_archive", identity: "oid=17610,relfilenode=1" }),
            object({ type: "materialized view", name: "public.totals", identity: "oid=17800,relfilenode=1" }),
            object({
              type: "column",
              name: "public.other.item_ref",
              table: "public.other",
              identity: "oid=17900,relfilenode=1,attnum=3",
            }),
          ],
        }),
        operation({
          kind: "alter-table-drop-column",
          target: { type: "column", schema: "public", name: "orders.note" },
          resolved: object({ type: "table", name: "public.orders", identity: "oid=16400,relfilenode=16400" }),
        }),
        operation({ kind: "truncate", resolved: object({ type: "table", name: "public.items" }) }),
      ]),
    );
    assert.deepEqual(objects, [
      { type: "table", relation: "public.items", oid: 17606 },
      { type: "table", relation: "public.items_archive", oid: 17610 },
      { type: "materialized view", relation: "public.totals", oid: 17800 },
      { type: "column", relation: "public.other", column: "item_ref", oid: 17900 },
      { type: "table", relation: "public.orders", oid: 16400 },
      { type: "column", relation: "public.orders", column: "note", oid: 16400 },
    ]);
  });
});

describe("restores leave the guard's triggers out", () => {
  it("drops its table and event triggers, keeps everything else (a user trigger with a similar name too)", () => {
    const toc = parseToc(
      [
        "216; 1259 17455 TABLE public orders postgres",
        "3248; 2620 17541 TRIGGER public child lifeline_guard_delete postgres",
        "3246; 2620 17543 TRIGGER public orders lifeline_guard_truncate postgres",
        "3247; 2620 17545 TRIGGER public orders lifeline_guard_update postgres",
        "3249; 2620 17546 TRIGGER public orders lifeline_guard_audit postgres",
        "3250; 2620 17547 TRIGGER public orders orders_touch postgres",
        "3240; 3466 17539 EVENT TRIGGER - lifeline_guard_ddl postgres",
        "3239; 3466 17538 EVENT TRIGGER - lifeline_guard_drop postgres",
        "3241; 3466 17540 EVENT TRIGGER - audit_ddl postgres",
      ].join("\n"),
    );
    assert.deepEqual(
      withoutGuard(toc).map((e) => e.id),
      [216, 3249, 3250, 3241],
    );
  });
});

describe("guard.massChange in lifeline.yaml", () => {
  const loaded = (text: string): LoadedConfig => ({
    file: "lifeline.yaml",
    dir: "/",
    repositoryPath: "/r",
    config: parseConfig(text, "lifeline.yaml", {}),
  });
  const assets = `assets:
  shop: { url: "postgres://app@db/shop", tier: production }
  cache: { url: "postgres://app@db/cache", tier: staging, guard: { massChange: { rows: 50 } } }
`;

  it("asset over tier over the default; false turns it off", () => {
    const c = loaded(
      `${assets}guard:\n  staging: { massChange: false }\n  production: { massChange: { rows: 500, percent: 5 } }\n`,
    );
    assert.deepEqual(guardMassChange(c, { name: "shop", tier: "production" }), {
      rows: 500,
      percent: 5,
      minRows: 100,
    });
    assert.deepEqual(guardMassChange(c, { name: "cache", tier: "staging" }), {
      rows: 50,
      percent: null,
      minRows: 100,
    });
    const d = loaded(assets.replace(", guard: { massChange: { rows: 50 } }", ""));
    assert.deepEqual(guardMassChange(d, { name: "shop", tier: "production" }), {
      rows: 1000,
      percent: 10,
      minRows: 100,
    });
    const off = loaded(`${assets}guard:\n  production: { massChange: false }\n`);
    assert.equal(guardMassChange(off, { name: "shop", tier: "production" }), null);
  });

  it("errors name the path and the fix", () => {
    const problem = (text: string) => {
      try {
        parseConfig(text, "lifeline.yaml", {});
      } catch (error) {
        assert.ok(isLifelineError(error));
        return [error.message, ...(error.details ?? [])].join("\n");
      }
      return "no error";
    };
    assert.match(
      problem(`${assets}guard:\n  production: { massChange: { rows: 0 } }\n`),
      /guard\.production\.massChange\.rows: is at least 1 row/,
    );
    assert.match(problem(`${assets}guard:\n  prod: { massChange: false }\n`), /guard: .*"prod"/);
    assert.match(
      problem(assets.replace("{ rows: 50 }", "{ rows: 50, percent: 300 }")),
      /assets\.cache\.guard\.massChange\.percent/,
    );
  });
});

describe("lifeline status words a weakened guard as a risk", () => {
  const state = (problems: string[], installed = true): GuardState => ({
    installed,
    version: 1,
    asset: "shop",
    tier: "production",
    massChange: null,
    eventTriggers: [],
    keyMatches: true,
    disabledTriggers: [],
    tablesWithoutTruncateTrigger: [],
    tablesWithoutMassTriggers: [],
    canDropDatabase: [],
    problems,
    notCovered: [],
  });
  it("none when complete or absent; the problems otherwise", () => {
    assert.equal(guardRisk(state([])), null);
    assert.equal(guardRisk(state(["x"], false)), null);
    assert.match(
      guardRisk(state(["trigger t on orders is disabled"])) ?? "",
      /database guard weakened: trigger t on orders is disabled/,
    );
  });
});
