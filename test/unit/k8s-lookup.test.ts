import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PersistentVolumeClaim, Pod } from "../../src/core/kubernetes/inventory.js";
import {
  byName,
  byNamespacedName,
  byUid,
  inNamespace,
  podsMounting,
} from "../../src/core/kubernetes/lookup.js";

const meta = (name: string, namespace: string | null, uid: string) => ({
  name,
  namespace,
  uid,
  labels: {},
  annotations: {},
  owners: [],
});

const claim = (name: string, namespace: string, uid: string): PersistentVolumeClaim => ({
  ...meta(name, namespace, uid),
  volumeName: null,
  storageClassName: null,
  bytes: null,
  phase: "Bound",
});

const pod = (name: string, namespace: string, claims: string[]): Pod => ({
  ...meta(name, namespace, `pod-${namespace}-${name}`),
  nodeName: null,
  phase: "Running",
  spec: { labels: {}, claims, emptyDirs: [], volumeRefs: [], containers: [] },
});

describe("indexed inventory lookups", () => {
  it("answer what the linear scans answer: the first match, in list order", () => {
    const claims = [
      claim("data", "a", "u1"),
      claim("data", "b", "u2"),
      claim("data", "a", "u3"), // a duplicate name: the first one wins, as with find()
      claim("logs", "a", "u1"), // a duplicate uid
    ];
    assert.equal(byNamespacedName(claims, "a", "data"), claims[0]);
    assert.equal(byNamespacedName(claims, "b", "data"), claims[1]);
    assert.equal(byNamespacedName(claims, "c", "data"), undefined);
    assert.equal(byUid(claims, "u1"), claims[0]);
    assert.equal(byName(claims, "logs"), claims[3]);
    assert.deepEqual(
      inNamespace(claims, "a"),
      claims.filter((c) => c.namespace === "a"),
    );
    assert.deepEqual(inNamespace(claims, "zzz"), []);
    const pods = [
      pod("p1", "a", ["data"]),
      pod("p2", "b", ["data"]),
      pod("p3", "a", ["data", "data"]), // mounted twice: listed once
      pod("p4", "a", ["logs"]),
    ];
    assert.deepEqual(
      podsMounting(pods, "a", "data"),
      pods.filter((p) => p.namespace === "a" && p.spec.claims.includes("data")),
    );
    assert.deepEqual(podsMounting(pods, "b", "logs"), []);
  });

  it("are kept per list: another list (a later inventory) is indexed afresh", () => {
    const first = [claim("data", "a", "u1")];
    assert.equal(byNamespacedName(first, "a", "data")?.uid, "u1");
    const second = [claim("data", "a", "u9")];
    assert.equal(byNamespacedName(second, "a", "data")?.uid, "u9");
    assert.equal(byNamespacedName(first, "a", "data")?.uid, "u1");
  });
});
