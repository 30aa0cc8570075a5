import { test } from "node:test";
import assert from "node:assert/strict";
import { indexSchema, isIndexFile, sealIndex } from "../../src/repository/local-fs/asset-index.js";

const valid = () =>
  sealIndex({
    kind: "lifeline-index",
    format: 3,
    asset: "app",
    restorePoints: [
      {
        id: "20260101T000000Z-abcdef",
        snapshotTime: "2026-01-01T00:00:00.000Z",
        bytes: 10,
        manifestDigest: "sha256:aa",
        textDigest: "sha256:bb",
        protected: false,
        damaged: null,
      },
      {
        id: "20260102T000000Z-abcdef",
        snapshotTime: "2026-01-02T00:00:00.000Z",
        bytes: 0,
        manifestDigest: null,
        textDigest: null,
        protected: true,
        damaged: "missing",
      },
    ],
    drillDirectories: ["20260101T000000Z-abcdef"],
    drills: [
      {
        id: "d1",
        restorePointId: "20260101T000000Z-abcdef",
        result: "passed",
        finishedAt: "2026-01-01T01:00:00.000Z",
        restoreSeconds: 1.5,
        verifySeconds: 0.5,
      },
    ],
    damagedDrills: [
      {
        restorePointId: "20260101T000000Z-abcdef",
        id: "20260101T020000000Z",
        path: "drills/app/20260101T000000Z-abcdef/20260101T020000000Z.json",
      },
    ],
  });

type Mutation = [string, (i: Record<string, unknown>) => void];
const point = (i: Record<string, unknown>) =>
  (i.restorePoints as Record<string, unknown>[])[0] as Record<string, unknown>;
const drill = (i: Record<string, unknown>) =>
  (i.drills as Record<string, unknown>[])[0] as Record<string, unknown>;

const mutations: Mutation[] = [
  ["as is", () => undefined],
  ["kind", (i) => (i.kind = "index")],
  ["format 1", (i) => (i.format = 1)],
  ["format as text", (i) => (i.format = "3")],
  ["asset missing", (i) => delete i.asset],
  ["asset a number", (i) => (i.asset = 3)],
  ["digest missing", (i) => delete i.digest],
  ["restorePoints an object", (i) => (i.restorePoints = {})],
  ["restorePoints empty", (i) => (i.restorePoints = [])],
  ["a restore point null", (i) => ((i.restorePoints as unknown[])[0] = null)],
  ["a restore point a list", (i) => ((i.restorePoints as unknown[])[0] = [])],
  ["id missing", (i) => delete point(i).id],
  ["snapshotTime a number", (i) => (point(i).snapshotTime = 1)],
  ["bytes text", (i) => (point(i).bytes = "10")],
  ["bytes missing", (i) => delete point(i).bytes],
  ["manifestDigest missing", (i) => delete point(i).manifestDigest],
  ["manifestDigest a number", (i) => (point(i).manifestDigest = 1)],
  ["textDigest missing", (i) => delete point(i).textDigest],
  ["protected text", (i) => (point(i).protected = "false")],
  ["damaged missing", (i) => delete point(i).damaged],
  ["damaged false", (i) => (point(i).damaged = false)],
  ["an unknown key", (i) => (point(i).extra = 1)],
  ["drillDirectories missing", (i) => delete i.drillDirectories],
  ["drillDirectories with a number", (i) => (i.drillDirectories = [1])],
  ["drills missing", (i) => delete i.drills],
  ["drills empty", (i) => (i.drills = [])],
  ["a drill null", (i) => ((i.drills as unknown[])[0] = null)],
  ["drill result unknown", (i) => (drill(i).result = "skipped")],
  ["drill restorePointId missing", (i) => delete drill(i).restorePointId],
  ["drill finishedAt a number", (i) => (drill(i).finishedAt = 0)],
  ["drill restoreSeconds text", (i) => (drill(i).restoreSeconds = "1")],
  ["drill verifySeconds missing", (i) => delete drill(i).verifySeconds],
  ["drill id missing", (i) => delete drill(i).id],
  ["format 2 (without damagedDrills)", (i) => ((i.format = 2), delete i.damagedDrills)],
  ["damagedDrills missing", (i) => delete i.damagedDrills],
  ["damagedDrills empty", (i) => (i.damagedDrills = [])],
  ["a damaged drill null", (i) => ((i.damagedDrills as unknown[])[0] = null)],
  ["a damaged drill's path missing", (i) => delete (i.damagedDrills as Record<string, unknown>[])[0]?.path],
  ["a damaged drill's id a number", (i) => ((i.damagedDrills as Record<string, unknown>[])[0]!.id = 1)],
];

test("the hand check of an index accepts what its schema accepts, and nothing else", () => {
  for (const [name, mutate] of mutations) {
    const raw = JSON.parse(JSON.stringify(valid())) as Record<string, unknown>;
    mutate(raw);
    assert.equal(isIndexFile(raw), indexSchema.safeParse(raw).success, name);
  }
  for (const raw of [null, [], "index", 2]) assert.equal(isIndexFile(raw), false);
  assert.equal(isIndexFile(JSON.parse(JSON.stringify(valid()))), true);
});
