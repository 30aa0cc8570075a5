import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { StandbyOutcome } from "../../src/app/standby.js";
import { redirectionFor } from "../../src/cli/commands/standby.js";
import { renderStandby } from "../../src/cli/render/standby.js";
import { loadConfig, resolveAsset } from "../../src/config/load.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { tempDir } from "../support/pg.js";

/**
 * What `standby` prints for an asset bound to Kubernetes: the patch of the Service its dependents
 * use and that patch's plan, made by the same code as `lifeline plan -- kubectl patch …`, against
 * the simulated cluster; the patch is never applied.
 */
describe("standby: the Service patch for a Kubernetes-bound asset", () => {
  let cluster: FakeCluster;
  const work = tempDir("lifeline-standby-k8s-");
  const kubeconfig = path.join(work.dir, "kubeconfig");
  const down = path.join(work.dir, "down.kubeconfig");
  const signal = new AbortController().signal;

  const project = (config: string, file: string) => {
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:
  shop:
    url: postgres://app:\${SHOP_PW}@${SIMULATED.primaryService}.shop.svc.cluster.local:5432/shop
    kubernetes:
      namespace: shop
      release: postgresql
${config}kubernetes:
  kubeconfig: ${file}
`,
    );
    const loaded = loadConfig(undefined, work.dir, { SHOP_PW: "pw-not-shown" });
    return { loaded, asset: resolveAsset(loaded, "shop", { SHOP_PW: "pw-not-shown" }) };
  };
  const outcome: StandbyOutcome = {
    standby: {
      asset: "shop",
      restorePointId: "20261127T090000Z-aaaaaa",
      target: "postgres://app@standby.db.example.com:5432/shop",
      database: "shop",
      replaced: null,
      tables: 2,
      rows: 10,
      restoreSeconds: 1,
      verifySeconds: 1,
      verified: true,
      unchanged: false,
      swap: null,
    },
    url: "postgres://app@standby.db.example.com:5432/shop",
    snapshotTime: "2026-11-27T09:00:00Z",
    ageSeconds: 60,
  };

  before(async () => {
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
    writeFileSync(down, readFileSync(kubeconfig, "utf8").replace(cluster.url, "http://127.0.0.1:9"));
  });
  after(async () => {
    await cluster.close();
    work.remove();
  });

  it("plans the ExternalName patch of the Service named by the asset's host, and does not apply it", async () => {
    const { loaded, asset } = project("", kubeconfig);
    const before = await cluster.core.readNamespacedService({
      name: SIMULATED.primaryService,
      namespace: "shop",
    });
    const r = await redirectionFor(loaded, asset, outcome, {}, signal);
    assert.equal(r.kind, "patch");
    if (r.kind !== "patch") return;
    assert.equal(r.redirect.service, SIMULATED.primaryService);
    assert.equal(r.planError, null);
    assert.ok(r.plan);
    assert.match(
      r.plan.command.text,
      new RegExp(`kubectl patch service ${SIMULATED.primaryService} -n shop`),
    );
    assert.equal(r.plan.cluster?.context, "simulated");
    const text = renderStandby(outcome, r);
    assert.match(text, /NOT applied by lifeline/);
    assert.match(text, /Its plan \(as `lifeline plan -- kubectl patch …` shows it\)/);
    assert.ok(!text.includes("pw-not-shown"));
    const afterwards = await cluster.core.readNamespacedService({
      name: SIMULATED.primaryService,
      namespace: "shop",
    });
    assert.equal(afterwards.spec?.type, before.spec?.type);
    assert.equal(afterwards.spec?.externalName, undefined);
  });

  it("kubernetes.service in lifeline.yaml names the Service", async () => {
    const { loaded, asset } = project("      service: postgresql-read\n", kubeconfig);
    const r = await redirectionFor(loaded, asset, outcome, {}, signal);
    assert.ok(r.kind === "patch" && r.redirect.service === "postgresql-read");
  });

  it("prints the command and says the plan could not be made when the cluster cannot be read", async () => {
    const { loaded, asset } = project("", down);
    const r = await redirectionFor(loaded, asset, outcome, {}, signal);
    assert.equal(r.kind, "patch");
    if (r.kind !== "patch") return;
    assert.equal(r.plan, null);
    assert.ok(r.planError);
    const text = renderStandby(outcome, r);
    assert.match(text, /kubectl patch service postgresql-primary -n shop --type merge/);
    assert.match(text, /its plan could not be made: /);
  });
});
