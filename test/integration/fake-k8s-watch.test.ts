/**
 * Watches of the simulated API server (src/demo/cluster/watch.ts) as real clients use them: raw
 * HTTPS streams (resourceVersion semantics, 410 Expired, bookmarks, timeoutSeconds, controllers'
 * deletions), client-node 1.x informers (makeInformer: list, then watch, relist on 410), and the
 * real `kubectl get pvc -w`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { request } from "node:https";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { makeInformer, type V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { SIMULATED, SIMULATED_TOKEN, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";

interface WatchEvent {
  type: string;
  object: {
    kind?: string;
    code?: number;
    reason?: string;
    metadata: { name?: string; namespace?: string; resourceVersion?: string };
  };
}

interface Stream {
  events: WatchEvent[];
  status: number;
  /** Resolves when the server ends the stream. */
  ended: Promise<void>;
  waitFor(predicate: (events: WatchEvent[]) => boolean, ms?: number): Promise<void>;
  close(): void;
}

const NS = SIMULATED.namespace;
let cluster: FakeCluster;
let dir: string;

function watch(pathAndQuery: string): Promise<Stream> {
  const url = new URL(pathAndQuery, cluster.url);
  return new Promise((resolve, reject) => {
    const events: WatchEvent[] = [];
    let buffered = "";
    let endResolve: () => void = () => undefined;
    const ended = new Promise<void>((r) => (endResolve = r));
    const waiters = new Set<() => void>();
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        ca: cluster.ca,
        headers: { Authorization: `Bearer ${SIMULATED_TOKEN}` },
      },
      (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line.trim()) events.push(JSON.parse(line) as WatchEvent);
          }
          for (const w of waiters) w();
        });
        res.on("end", endResolve);
        res.on("close", endResolve);
        resolve({
          events,
          status: res.statusCode ?? 0,
          ended,
          waitFor: (predicate, ms = 3_000) =>
            new Promise<void>((ok, fail) => {
              if (predicate(events)) return ok();
              const timer = setTimeout(() => {
                waiters.delete(check);
                fail(
                  new Error(
                    `timed out; events: ${JSON.stringify(events.map((e) => [e.type, e.object.metadata.name]))}`,
                  ),
                );
              }, ms);
              const check = () => {
                if (predicate(events)) {
                  clearTimeout(timer);
                  waiters.delete(check);
                  ok();
                }
              };
              waiters.add(check);
            }),
          close: () => req.destroy(),
        });
      },
    );
    req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
    req.end();
  });
}

const claimBody = (name: string): V1PersistentVolumeClaim => ({
  metadata: { name, labels: { app: "watch-test" } },
  spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
});

const names = (events: WatchEvent[], type?: string) =>
  events.filter((e) => type === undefined || e.type === type).map((e) => e.object.metadata.name);

describe("watches of the simulated API server", () => {
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-watch-"));
    cluster = await startFakeCluster({ watchBookmarkMs: 50 });
  });
  after(async () => {
    await cluster.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => cluster.reset());

  it("replays the changes after a list's resourceVersion, in order, namespaced and cluster-wide, controllers' deletions too", async () => {
    const list = await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
    const rv = Number(list.metadata?.resourceVersion);
    assert.ok(rv > 0);
    for (const item of list.items) assert.ok(Number(item.metadata?.resourceVersion) <= rv);
    await cluster.core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: claimBody("w-new") });
    await cluster.core.deleteNamespacedPersistentVolumeClaim({ namespace: NS, name: SIMULATED.readPvc });
    // From the list's RV (watch=1, like watch=true): what happened after it, and only in shop.
    const claims = await watch(
      `/api/v1/namespaces/${NS}/persistentvolumeclaims?watch=1&resourceVersion=${rv}`,
    );
    assert.equal(claims.status, 200);
    await claims.waitFor((e) => names(e, "DELETED").includes(SIMULATED.readPvc));
    assert.ok(names(claims.events, "ADDED").includes("w-new"));
    const rvs = claims.events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.ok(
      rvs.every((r, i) => r > rv && (i === 0 || r > rvs[i - 1]!)),
      `increasing after ${rv}: ${rvs}`,
    );
    assert.ok(
      claims.events.every(
        (e) => e.object.metadata.namespace === NS && e.object.kind === "PersistentVolumeClaim",
      ),
    );
    // The reclaim policy Delete took the volume with it: a DELETED persistentvolume event.
    const volumes = await watch(`/api/v1/persistentvolumes?watch=true&resourceVersion=${rv}`);
    await volumes.waitFor((e) => e.some((x) => x.type === "DELETED"));
    // Live: a change after the watch started, once.
    await cluster.core.deleteNamespacedPersistentVolumeClaim({ namespace: NS, name: "w-new" });
    await claims.waitFor((e) => names(e, "DELETED").includes("w-new"));
    claims.close();
    volumes.close();

    // A namespace's deletion cascades: every pod in it is a DELETED event on a cluster-wide watch.
    const pods = await cluster.core.listPodForAllNamespaces();
    const inShop = pods.items.filter((p) => p.metadata?.namespace === NS).map((p) => p.metadata?.name);
    assert.ok(inShop.length > 0);
    const podWatch = await watch(`/api/v1/pods?watch=true&resourceVersion=${pods.metadata?.resourceVersion}`);
    await cluster.core.deleteNamespace({ name: NS });
    await podWatch.waitFor((e) => inShop.every((n) => names(e, "DELETED").includes(n)));
    podWatch.close();
  });

  it("without a resourceVersion: every object as ADDED first; selectors filter", async () => {
    const all = await watch(`/api/v1/namespaces/${NS}/persistentvolumeclaims?watch=true`);
    const listed = await cluster.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
    await all.waitFor((e) => e.length === listed.items.length);
    assert.deepEqual(names(all.events, "ADDED").sort(), listed.items.map((i) => i.metadata?.name).sort());
    const byName = await watch(
      `/api/v1/persistentvolumeclaims?watch=true&fieldSelector=metadata.name%3D${SIMULATED.primaryPvc}`,
    );
    const byLabel = await watch(`/api/v1/persistentvolumeclaims?watch=true&labelSelector=app%3Dwatch-test`);
    await cluster.core.createNamespacedPersistentVolumeClaim({
      namespace: NS,
      body: claimBody("w-labelled"),
    });
    await byLabel.waitFor((e) => names(e).includes("w-labelled"));
    await byName.waitFor((e) => e.length === 1);
    assert.deepEqual(names(byName.events), [SIMULATED.primaryPvc]);
    assert.deepEqual(names(byLabel.events), ["w-labelled"]);
    for (const s of [all, byName, byLabel]) s.close();
  });

  it("a compacted or unknown resourceVersion gets an ERROR 410 Expired and the stream ends; bookmarks; timeoutSeconds", async () => {
    const rv = Number(cluster.server.resourceVersion);
    cluster.server.watchHistory = 2;
    try {
      for (const name of ["w-a", "w-b", "w-c"])
        await cluster.core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: claimBody(name) });
      const old = await watch(`/api/v1/persistentvolumeclaims?watch=true&resourceVersion=${rv}`);
      await old.ended;
      assert.equal(old.events.length, 1);
      assert.equal(old.events[0]!.type, "ERROR");
      assert.equal(old.events[0]!.object.code, 410);
      assert.equal(old.events[0]!.object.reason, "Expired");
      const future = await watch(`/api/v1/persistentvolumeclaims?watch=true&resourceVersion=${rv + 100000}`);
      await future.ended;
      assert.equal(future.events[0]?.object.code, 410);
    } finally {
      cluster.server.watchHistory = 50_000;
    }
    const started = Date.now();
    const current = cluster.server.resourceVersion;
    const marked = await watch(
      `/api/v1/persistentvolumeclaims?watch=true&resourceVersion=${current}&allowWatchBookmarks=true&timeoutSeconds=1`,
    );
    await marked.waitFor((e) => e.some((x) => x.type === "BOOKMARK"));
    assert.equal(marked.events.find((x) => x.type === "BOOKMARK")?.object.metadata.resourceVersion, current);
    await marked.ended;
    const took = Date.now() - started;
    assert.ok(took >= 900 && took < 3_000, `ended after ${took} ms`);
    assert.equal(cluster.server.watchCount, 0);
  });

  it("client-node informers: list then watch, add/update/delete callbacks, a reset (410) lists again", async () => {
    const informer = makeInformer(cluster.kubeConfig, "/api/v1/persistentvolumeclaims", () =>
      cluster.core.listPersistentVolumeClaimForAllNamespaces(),
    );
    const seen: string[] = [];
    informer.on("add", (o: V1PersistentVolumeClaim) => seen.push(`add ${o.metadata?.name}`));
    informer.on("update", (o: V1PersistentVolumeClaim) => seen.push(`update ${o.metadata?.name}`));
    informer.on("delete", (o: V1PersistentVolumeClaim) => seen.push(`delete ${o.metadata?.name}`));
    const errors: unknown[] = [];
    informer.on("error", (e: unknown) => errors.push(e));
    const lists = () =>
      cluster.server.requestCount((r) => r.verb === "list" && r.resource === "persistentvolumeclaims");
    try {
      await informer.start();
      const count = informer.list().length;
      assert.equal(count, cluster.objects("pvc").length);
      assert.equal(lists(), 1);
      await cluster.core.createNamespacedPersistentVolumeClaim({ namespace: NS, body: claimBody("w-inf") });
      await cluster.core.patchNamespacedPersistentVolumeClaim(
        { namespace: NS, name: "w-inf", body: { metadata: { labels: { touched: "yes" } } } },
        (await import("../support/fake-k8s.js")).mergePatch,
      );
      await cluster.core.deleteNamespacedPersistentVolumeClaim({ namespace: NS, name: SIMULATED.primaryPvc });
      await until(() => seen.includes(`delete ${SIMULATED.primaryPvc}`));
      assert.ok(seen.includes("add w-inf") && seen.includes("update w-inf"), seen.join(", "));
      assert.equal(informer.get("w-inf", NS)?.metadata?.labels?.touched, "yes");
      assert.equal(lists(), 1, "the changes came by watch, not by listing again");
      // A reset replaces the history: the watch ends with 410, the informer lists again.
      cluster.reset();
      await until(
        () =>
          lists() === 1 &&
          informer.list().length === cluster.objects("pvc").length &&
          informer.get(SIMULATED.primaryPvc, NS) !== undefined,
      );
      assert.equal(informer.get("w-inf", NS), undefined);
      assert.deepEqual(errors, []);
    } finally {
      await informer.stop();
    }
  });

  it("the real kubectl get pvc -w prints the claims, then each change", async () => {
    const kubeconfig = path.join(dir, "kubeconfig");
    writeFileSync(kubeconfig, cluster.kubeconfig, { mode: 0o600 });
    const child = spawn("kubectl", ["--kubeconfig", kubeconfig, "get", "pvc", "-n", NS, "--watch"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    try {
      await until(() => out.includes(SIMULATED.primaryPvc), 10_000);
      assert.match(out, /^NAME\s+STATUS\s+VOLUME/);
      await until(() => cluster.server.watchCount > 0, 10_000);
      await cluster.core.createNamespacedPersistentVolumeClaim({
        namespace: NS,
        body: claimBody("w-kubectl"),
      });
      await until(() => out.includes("w-kubectl"), 10_000);
      assert.equal(out.match(/^NAME\s/gm)?.length, 1, out);
    } finally {
      child.kill();
    }
  });
});

async function until(predicate: () => boolean, ms = 3_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}
