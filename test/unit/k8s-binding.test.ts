import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { analyzeCommand } from "../../src/core/kubernetes/analyze.js";
import { goneClaim, type AssetBinding } from "../../src/core/kubernetes/binding.js";
import { parseCommand } from "../../src/core/kubernetes/command/index.js";
import { scanInventory } from "../../src/core/kubernetes/scan.js";
import { InventoryBuilder } from "../support/inventory.js";

const shop: AssetBinding = { asset: "shop", namespace: "shop", release: "postgresql", pvcSelector: null };
const labels = { "app.kubernetes.io/instance": "postgresql" };
const toDelete = (pv: string) => [
  "kubectl",
  "patch",
  "pv",
  pv,
  "-p",
  '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}',
];

/** A claim of `namespace`, protected (Retain), then deleted: its volume is Released. */
function released(namespace: string, claim: string) {
  const b = new InventoryBuilder();
  b.namespace(namespace);
  const { volume } = b.claim(namespace, claim, { reclaim: "Retain", labels });
  if (!volume) throw new Error("the builder binds claims");
  volume.phase = "Released";
  b.inv.claims = b.inv.claims.filter((c) => c.name !== claim);
  return { b, volume };
}

describe("goneClaim: a volume whose claim is gone, attributed by its claimRef", () => {
  it("the asset's namespace and a name carrying the release as whole parts", () => {
    assert.equal(goneClaim(shop, { namespace: "shop", name: "data-postgresql-primary-0" }), true);
    assert.equal(goneClaim(shop, { namespace: "shop", name: "postgresql" }), true);
    assert.equal(goneClaim({ ...shop, release: null }, { namespace: "shop", name: "anything" }), true);
  });

  it("not a claim the binding never covered: another namespace, another release, a name merely containing it", () => {
    assert.equal(goneClaim(shop, { namespace: "staging", name: "data-postgresql-primary-0" }), false);
    assert.equal(goneClaim(shop, { namespace: "shop", name: "data-redis-0" }), false);
    assert.equal(goneClaim(shop, { namespace: "shop", name: "data-postgresqlx-0" }), false);
    assert.equal(goneClaim(shop, { namespace: "shop", name: "data-mypostgresql-0" }), false);
  });
});

describe("the analysis of a Released volume", () => {
  it("is attributed to the asset of its gone claim, marked released, and still judged as unbound", () => {
    const { b, volume } = released("shop", "data-postgresql-primary-0");
    const analysis = analyzeCommand(parseCommand(toDelete(volume.name)), b.inv, { bindings: [shop] });
    const op = analysis.operations[0]!;
    assert.equal(op.kind, "patch-pv-reclaim-policy-delete");
    assert.equal(op.dataLoss, "destructive");
    assert.deepEqual(analysis.assets, { shop: [0] });
    // Attributing it never loosens the plan: the rule for data no asset is bound to still applies.
    assert.deepEqual(analysis.unbound, [0]);
    assert.ok(
      op.notes.some((n) =>
        /volume pvc-data-postgresql-primary-0 is released: its claim shop\/data-postgresql-primary-0 is gone; attributed to asset shop/.test(
          n,
        ),
      ),
      op.notes.join("\n"),
    );
  });

  it("whose claim never matched the asset is not attributed to it", () => {
    for (const [namespace, claim] of [
      ["staging", "data-postgresql-primary-0"],
      ["shop", "data-redis-0"],
    ] as const) {
      const { b, volume } = released(namespace, claim);
      const analysis = analyzeCommand(parseCommand(toDelete(volume.name)), b.inv, { bindings: [shop] });
      assert.deepEqual(analysis.assets, {}, `${namespace}/${claim}`);
      assert.deepEqual(analysis.unbound, [0]);
      assert.ok(!analysis.operations[0]!.notes.some((n) => n.includes("attributed")));
    }
  });

  it("a bound volume is attributed through its claim, not as released", () => {
    const b = new InventoryBuilder();
    b.namespace("shop");
    const { volume } = b.claim("shop", "data-postgresql-primary-0", { reclaim: "Retain", labels });
    const analysis = analyzeCommand(parseCommand(toDelete(volume!.name)), b.inv, { bindings: [shop] });
    assert.deepEqual(analysis.assets, { shop: [0] });
    assert.deepEqual(analysis.unbound, []);
    assert.ok(!analysis.operations[0]!.notes.some((n) => n.includes("released")));
  });
});

describe("k8s scan of a Released volume", () => {
  it("names the asset of its gone claim; one whose claim never matched the asset is unattributed", () => {
    const { b, volume } = released("shop", "data-postgresql-primary-0");
    const other = released("shop", "data-redis-0");
    b.inv.volumes.push(other.volume);
    const found = scanInventory(b.inv, [shop], null).filter((f) => f.code === "released-volume");
    assert.deepEqual(
      found.map((f) => [f.severity, f.namespace, f.asset, f.message.split(":")[0]]),
      [
        ["low", "shop", "shop", `PV ${volume.name} is Released`],
        ["low", "shop", null, `PV ${other.volume.name} is Released`],
      ],
    );
    assert.match(found[0]?.message ?? "", /claim data-postgresql-primary-0 \(asset shop\) is gone/);
    assert.equal(
      found[0]?.fix,
      `keep it while the data may be needed; to delete it, plan it: lifeline plan -- kubectl delete pv ${volume.name}`,
    );
  });
});
