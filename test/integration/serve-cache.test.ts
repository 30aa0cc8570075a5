/**
 * `lifeline serve` judging from its informer cache (serveCache, as the CLI wires it) against the
 * simulated cluster: /readyz waits for every informer, a claim created after start is judged
 * without a list call, the plan is the list path's plan, and a watch that breaks and cannot resume
 * makes protected requests deny with the reason (and /readyz false) until it resyncs.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { judgeAdmission, type AdmissionDeps } from "../../src/app/admission.js";
import { planCommand } from "../../src/app/plan-command.js";
import { openCatalog } from "../../src/catalog/index.js";
import type { ResolvedAsset } from "../../src/config/load.js";
import { DEFAULT_POLICY, UNBOUND_RULE, type PolicyRule } from "../../src/core/plan/policy.js";
import { KubernetesCluster } from "../../src/kubernetes/cluster.js";
import { readManifests } from "../../src/kubernetes/manifests.js";
import type { Catalog } from "../../src/ports/catalog.js";
import { systemClock } from "../../src/ports/clock.js";
import type { Logger } from "../../src/serve/log.js";
import { serveCache, type ServeCache } from "../../src/serve/serve.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { testContext } from "../support/context.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { makeCert, type TestCert } from "../support/tls-certs.js";

const shop: ResolvedAsset = {
  name: "shop",
  engine: "postgres",
  url: "postgres://127.0.0.1:5432/unused",
  tier: "production",
  rpoSeconds: 86400,
  scratch: "embedded",
  drillJobs: 1,
  kubernetes: { namespace: "shop", release: "postgresql", pvcSelector: null, context: null },
};

const POLICY: PolicyRule[] = [
  {
    name: "production-destructive",
    match: { tier: ["production"], dataLoss: ["destructive", "unknown"] },
    require: { approvals: 1 },
  },
  ...DEFAULT_POLICY.filter((r) => r.name === "production-unprotect"),
  UNBOUND_RULE,
];

let cluster: FakeCluster;
let dir: string;
let kubeconfig: string;
let catalog: Catalog;
let cert: TestCert;
let server: RunningServer;
let cache: ServeCache;
const logs: Record<string, unknown>[] = [];
const logger: Logger = { log: (level, event, fields) => logs.push({ level, event, ...fields }) };

function plan(): AdmissionDeps["plan"] {
  return {
    deps: {
      ctx: testContext(path.join(dir, "repository")),
      cluster: (s) => cache.cluster(s),
      readManifests: (files, recursive) => readManifests(files, recursive, dir),
    },
    options: {
      assets: [shop],
      policy: POLICY,
      kubernetes: { kubeconfig, context: null, clusterDomain: "cluster.local" },
    },
  };
}

function call(method: string, pathname: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: server.port, method, path: pathname, ca: cert.pem, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

let seq = 0;
async function deleteClaim(name: string): Promise<{ allowed: boolean; message: string }> {
  const reply = await call(
    "POST",
    "/validate",
    JSON.stringify({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: `uid-${++seq}`,
        userInfo: { username: "alice@example.com", groups: ["system:authenticated"] },
        operation: "DELETE",
        resource: { group: "", version: "v1", resource: "persistentvolumeclaims" },
        name,
        namespace: "shop",
        oldObject: { metadata: { name, namespace: "shop" } },
      },
    }),
  );
  assert.equal(reply.status, 200, reply.body);
  const r = (JSON.parse(reply.body) as { response: { allowed: boolean; status?: { message: string } } })
    .response;
  return { allowed: r.allowed, message: r.status?.message ?? "" };
}

const lists = () => cluster.server.requestCount((r) => r.verb === "list");

async function until(predicate: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  cluster = await startFakeCluster();
  dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-serve-cache-"));
  kubeconfig = path.join(dir, "kubeconfig");
  writeFileSync(kubeconfig, cluster.kubeconfig, { mode: 0o600 });
  catalog = await openCatalog(path.join(dir, "catalog.sqlite"));
  cert = makeCert(dir, "serve");
  const tls = { cert: path.join(dir, "tls.crt"), key: path.join(dir, "tls.key") };
  copyFileSync(cert.cert, tls.cert);
  copyFileSync(cert.key, tls.key);
  cache = serveCache({ kubeconfig, context: null }, (s) => new KubernetesCluster(s, {}), logger, {});
  const deps: AdmissionDeps = {
    plan: plan(),
    catalog: async () => catalog,
    clock: systemClock,
    host: "test",
    warn: () => undefined,
  };
  server = await startServer({
    host: "127.0.0.1",
    port: 0,
    tls,
    admit: (body) => judgeAdmission(deps, body),
    readiness: async () => cache.readiness(),
    cache: () => cache.cache.states(),
    log: logger,
  });
});

after(async () => {
  cache.stop();
  await server.close();
  await catalog.close();
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("lifeline serve's informer cache", () => {
  it("/readyz is 503 and protected requests are denied until every informer has synced; then the plan is the list path's", async () => {
    const notReady = await call("GET", "/readyz");
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /cluster cache: .*persistentvolumeclaims: the watch cache is not synced yet/);
    const early = await deleteClaim(SIMULATED.primaryPvc);
    assert.equal(early.allowed, false);
    assert.match(early.message, /persistentvolumeclaims.*not synced/);

    await cache.start();
    const ready = await call("GET", "/readyz");
    assert.equal(ready.status, 200, ready.body);
    const metrics = (await call("GET", "/metrics")).body;
    assert.match(metrics, /lifeline_cache_synced\{resource="persistentvolumeclaims"\} 1/);
    assert.match(metrics, /lifeline_cache_age_seconds\{resource="pods"\} \d/);
    assert.match(metrics, /lifeline_cache_objects\{resource="persistentvolumeclaims"\} [1-9]/);

    // The same plan as `lifeline plan` reading the cluster with list calls.
    const argv = ["kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"];
    const p = plan();
    const listed = await planCommand(
      { ...p.deps, cluster: (s) => new KubernetesCluster(s, {}), signal: AbortSignal.timeout(5_000) },
      argv,
      p.options,
    );
    const before = lists();
    const cached = await planCommand({ ...p.deps, signal: AbortSignal.timeout(5_000) }, argv, p.options);
    assert.equal(lists(), before, "planned from the cache: no list call");
    assert.equal(cached.planId, listed.planId);
    assert.equal(cached.verdict, listed.verdict);
    const judged = await deleteClaim(SIMULATED.primaryPvc);
    assert.equal(judged.allowed, false);
    assert.match(judged.message, new RegExp(`plan ${listed.planId.slice(0, 12)}`));
    assert.doesNotMatch(judged.message, /not synced/);
  });

  it("a claim created and a volume changed after start are judged from the cache, without a list call", async () => {
    const before = lists();
    await cluster.core.createPersistentVolume({
      body: {
        metadata: { name: "late-volume" },
        spec: {
          capacity: { storage: "3Gi" },
          accessModes: ["ReadWriteOnce"],
          persistentVolumeReclaimPolicy: "Delete",
          storageClassName: "manual",
          hostPath: { path: "/data/late" },
          claimRef: { namespace: "shop", name: "late-claim" },
        },
      },
    });
    await cluster.core.createNamespacedPersistentVolumeClaim({
      namespace: "shop",
      body: {
        metadata: { name: "late-claim" },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: "manual",
          volumeName: "late-volume",
          resources: { requests: { storage: "3Gi" } },
        },
      },
    });
    await until(() => cache.cache.inventory().claims.some((c) => c.name === "late-claim"));
    const late = await deleteClaim("late-claim");
    assert.equal(late.allowed, false);
    assert.match(late.message, /DESTRUCTIVE pvc shop\/late-claim \(3 GiB\)/);
    // Retain on the primary's volume: the next request sees it (the event came by watch).
    await cluster.core.patchPersistentVolume({
      name: SIMULATED.primaryPv,
      body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Retain" }],
    });
    await until(
      () =>
        cache.cache.inventory().volumes.find((v) => v.name === SIMULATED.primaryPv)?.reclaimPolicy ===
        "Retain",
    );
    const retained = await deleteClaim(SIMULATED.primaryPvc);
    assert.equal(retained.allowed, true, retained.message);
    assert.equal(lists(), before, "no list call after start: the changes came by watch");
  });

  it("a command judged again is planned from what the cache remembers until the cluster changes: a volume's reclaim policy patched is seen by the next request", async () => {
    const argv = ["kubectl", "delete", "pvc", SIMULATED.readPvc, "-n", "shop"];
    const p = plan();
    const planned = () => planCommand({ ...p.deps, signal: AbortSignal.timeout(5_000) }, argv, p.options);
    const first = await planned();
    const again = await planned();
    // Nothing changed in between: the same analysis (not made again), the same plan.
    assert.equal(again.operations, first.operations);
    assert.equal(again.planId, first.planId);
    assert.equal(first.operations[0]?.dataLoss, "destructive");
    const denied = await deleteClaim(SIMULATED.readPvc);
    assert.equal(denied.allowed, false);
    assert.match(denied.message, /DESTRUCTIVE pvc shop\/data-postgresql-read-0 .*reclaim policy Delete/);
    assert.equal((await deleteClaim(SIMULATED.readPvc)).message, denied.message);

    await cluster.core.patchPersistentVolume({
      name: SIMULATED.readPv,
      body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Retain" }],
    });
    await until(
      () =>
        cache.cache.inventory().volumes.find((v) => v.name === SIMULATED.readPv)?.reclaimPolicy === "Retain",
    );
    // The very next request: planned from the new state of the cluster, not from what was remembered.
    const retained = await deleteClaim(SIMULATED.readPvc);
    assert.equal(retained.allowed, true, retained.message);
    const after = await planned();
    assert.notEqual(after.operations, first.operations);
    assert.notEqual(after.operations[0]?.dataLoss, "destructive");
    assert.equal(after.verdict, "allow");
    // The same plan as the list path's, plan id included (remembered with the new analysis).
    const listed = await planCommand(
      { ...p.deps, cluster: (s) => new KubernetesCluster(s, {}), signal: AbortSignal.timeout(5_000) },
      argv,
      p.options,
    );
    assert.equal((await planned()).planId, listed.planId);
    assert.notEqual(listed.planId, first.planId);
  });

  it("a watch that breaks and cannot resume: protected requests denied with the reason, /readyz 503; back when it resyncs", async () => {
    const lift = cluster.server.fail("/api/v1/persistentvolumeclaims", 503, "ServiceUnavailable");
    try {
      assert.ok(cluster.server.dropWatches() >= 16);
      await until(async () => (await call("GET", "/readyz")).status === 503);
      const r = await deleteClaim(SIMULATED.primaryPvc);
      assert.equal(r.allowed, false);
      assert.match(
        r.message,
        /persistentvolumeclaims could not be read: the watch cache is not synced: the API answered 503/,
      );
      assert.ok(logs.some((l) => l.event === "cache-broken" && l.resource === "persistentvolumeclaims"));
      // The others resumed from their resourceVersion: their informers did not list again.
      const states = cache.cache.states();
      assert.deepEqual(
        states.filter((s) => !s.synced).map((s) => s.resource),
        ["persistentvolumeclaims"],
      );
      assert.match(
        (await call("GET", "/metrics")).body,
        /lifeline_cache_synced\{resource="persistentvolumeclaims"\} 0/,
      );
    } finally {
      lift();
    }
    await until(async () => (await call("GET", "/readyz")).status === 200);
    const back = await deleteClaim(SIMULATED.primaryPvc);
    assert.doesNotMatch(back.message, /not synced/);
  });
});
