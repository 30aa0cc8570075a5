import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  admissionSubject,
  parseAdmissionReview,
  type AdmissionRequest,
} from "../../src/core/admission/review.js";

function review(request: Record<string, unknown>, head: Record<string, unknown> = {}) {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    ...head,
    request: {
      uid: "u-1",
      userInfo: { username: "alice", groups: ["dev", "system:authenticated"] },
      ...request,
    },
  };
}

function subject(request: Record<string, unknown>) {
  const parsed = parseAdmissionReview(review(request));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return admissionSubject((parsed as { request: AdmissionRequest }).request);
}

const core = (resource: string) => ({ group: "", version: "v1", resource });
const apps = (resource: string) => ({ group: "apps", version: "v1", resource });
const obj = (name: string, spec: Record<string, unknown> = {}) => ({ metadata: { name }, spec });

describe("AdmissionReview → the kubectl command lifeline plans", () => {
  it("reads the request: uid, user and groups, dry run", () => {
    const parsed = parseAdmissionReview(
      review({ operation: "DELETE", resource: core("pods"), name: "x", namespace: "shop", dryRun: true }),
    );
    assert.ok(parsed.ok);
    if (!parsed.ok) return;
    assert.equal(parsed.request.uid, "u-1");
    assert.deepEqual(parsed.request.userInfo, {
      username: "alice",
      uid: null,
      groups: ["dev", "system:authenticated"],
    });
    assert.equal(parsed.request.dryRun, true);
  });

  it("refuses what is not an admission.k8s.io/v1 AdmissionReview, keeping the uid when there is one", () => {
    assert.deepEqual(parseAdmissionReview([1]), {
      ok: false,
      uid: null,
      reason: "the body is not a JSON object",
    });
    const beta = parseAdmissionReview(review({}, { apiVersion: "admission.k8s.io/v1beta1" }));
    assert.equal(beta.ok, false);
    assert.equal(!beta.ok && beta.uid, "u-1");
    assert.match(
      !beta.ok ? beta.reason : "",
      /admission\.k8s\.io\/v1 AdmissionReview, not admission\.k8s\.io\/v1beta1/,
    );
    const kind = parseAdmissionReview(review({}, { kind: "Pod" }));
    assert.match(!kind.ok ? kind.reason : "", /not admission\.k8s\.io\/v1 Pod/);
    const noUid = parseAdmissionReview({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {},
    });
    assert.deepEqual(noUid, { ok: false, uid: null, reason: "the AdmissionReview request has no uid" });
    const noResource = parseAdmissionReview(review({ operation: "DELETE" }));
    assert.match(!noResource.ok ? noResource.reason : "", /no resource or operation/);
  });

  it("DELETE of claims, volumes, namespaces and StatefulSets: kubectl delete", () => {
    assert.deepEqual(
      subject({
        operation: "DELETE",
        resource: core("persistentvolumeclaims"),
        name: "data-0",
        namespace: "shop",
        oldObject: obj("data-0"),
      }),
      {
        kind: "plan",
        argv: ["kubectl", "delete", "pvc", "data-0", "-n", "shop"],
        target: "pvc shop/data-0",
        change: "delete",
      },
    );
    const pv = subject({
      operation: "DELETE",
      resource: core("persistentvolumes"),
      name: "pv-1",
      oldObject: obj("pv-1"),
    });
    assert.deepEqual(pv.kind === "plan" && pv.argv, ["kubectl", "delete", "pv", "pv-1"]);
    // A namespace request carries its own name as namespace: it is cluster-scoped all the same.
    const ns = subject({
      operation: "DELETE",
      resource: core("namespaces"),
      name: "shop",
      namespace: "shop",
      oldObject: obj("shop"),
    });
    assert.deepEqual(ns.kind === "plan" && ns.argv, ["kubectl", "delete", "namespace", "shop"]);
    const sts = subject({
      operation: "DELETE",
      resource: apps("statefulsets"),
      name: "pg",
      namespace: "shop",
      oldObject: obj("pg"),
    });
    assert.deepEqual(sts.kind === "plan" && sts.argv, [
      "kubectl",
      "delete",
      "statefulset",
      "pg",
      "-n",
      "shop",
    ]);
  });

  it("DELETE without oldObject, name or namespace: lifeline's to judge, denied as unreadable", () => {
    const noOld = subject({
      operation: "DELETE",
      resource: core("persistentvolumeclaims"),
      name: "d",
      namespace: "shop",
    });
    assert.equal(noOld.kind, "invalid");
    assert.match(noOld.kind === "invalid" ? noOld.reason : "", /no oldObject/);
    const noName = subject({ operation: "DELETE", resource: core("persistentvolumes"), oldObject: {} });
    assert.deepEqual(noName, {
      kind: "invalid",
      target: "pv (no name)",
      reason: "the request names no object",
    });
    const noNs = subject({
      operation: "DELETE",
      resource: core("persistentvolumeclaims"),
      name: "d",
      oldObject: obj("d"),
    });
    assert.equal(noNs.kind, "invalid");
    // The name comes from oldObject when the request leaves it out.
    const named = subject({
      operation: "DELETE",
      resource: core("persistentvolumes"),
      oldObject: obj("pv-9"),
    });
    assert.deepEqual(named.kind === "plan" && named.argv, ["kubectl", "delete", "pv", "pv-9"]);
  });

  it("UPDATE of a volume whose reclaim policy stops being Retain: kubectl patch pv", () => {
    const toDelete = subject({
      operation: "UPDATE",
      resource: core("persistentvolumes"),
      name: "pv-1",
      oldObject: obj("pv-1", { persistentVolumeReclaimPolicy: "Retain" }),
      object: obj("pv-1", { persistentVolumeReclaimPolicy: "Delete" }),
    });
    assert.deepEqual(toDelete, {
      kind: "plan",
      argv: ["kubectl", "patch", "pv", "pv-1", "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}'],
      target: "pv pv-1",
      change: "reclaim policy Retain → Delete",
    });
    for (const [before, after] of [
      ["Delete", "Delete"],
      ["Delete", "Retain"],
      ["Retain", "Retain"],
    ]) {
      const s = subject({
        operation: "UPDATE",
        resource: core("persistentvolumes"),
        name: "pv-1",
        oldObject: obj("pv-1", { persistentVolumeReclaimPolicy: before }),
        object: obj("pv-1", { persistentVolumeReclaimPolicy: after, capacity: { storage: "9Gi" } }),
      });
      assert.equal(s.kind, "ignore", `${before} → ${after}`);
    }
    const noOld = subject({
      operation: "UPDATE",
      resource: core("persistentvolumes"),
      name: "pv-1",
      object: obj("pv-1"),
    });
    assert.equal(noOld.kind, "invalid");
  });

  it("UPDATE of a StatefulSet whose claim retention starts deleting claims: kubectl patch statefulset", () => {
    const s = subject({
      operation: "UPDATE",
      resource: apps("statefulsets"),
      name: "pg",
      namespace: "shop",
      oldObject: obj("pg", {}),
      object: obj("pg", { persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete" } }),
    });
    assert.equal(s.kind, "plan");
    assert.deepEqual(s.kind === "plan" && s.argv, [
      "kubectl",
      "patch",
      "statefulset",
      "pg",
      "-n",
      "shop",
      "-p",
      '{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Retain"}}}',
    ]);
    const scaled = subject({
      operation: "UPDATE",
      resource: apps("statefulsets"),
      name: "pg",
      namespace: "shop",
      oldObject: obj("pg", { persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete" } }),
      object: obj("pg", {
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Delete" },
      }),
    });
    assert.equal(scaled.kind, "plan");
    const same = subject({
      operation: "UPDATE",
      resource: apps("statefulsets"),
      name: "pg",
      namespace: "shop",
      oldObject: obj("pg", { replicas: 1, persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete" } }),
      object: obj("pg", { replicas: 3, persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete" } }),
    });
    assert.equal(same.kind, "ignore");
  });

  it("everything else is not lifeline's: other resources, groups, operations and subresources", () => {
    const cases: Record<string, unknown>[] = [
      { operation: "DELETE", resource: core("pods"), name: "p", namespace: "shop", oldObject: obj("p") },
      {
        operation: "DELETE",
        resource: { group: "example.com", version: "v1", resource: "persistentvolumeclaims" },
        name: "x",
        namespace: "s",
        oldObject: obj("x"),
      },
      {
        operation: "CREATE",
        resource: core("persistentvolumeclaims"),
        name: "x",
        namespace: "s",
        object: obj("x"),
      },
      {
        operation: "UPDATE",
        resource: core("persistentvolumeclaims"),
        name: "x",
        namespace: "s",
        oldObject: obj("x"),
        object: obj("x"),
      },
      { operation: "UPDATE", resource: core("namespaces"), name: "x", oldObject: obj("x"), object: obj("x") },
      {
        operation: "UPDATE",
        resource: core("persistentvolumes"),
        subResource: "status",
        name: "x",
        oldObject: obj("x"),
        object: obj("x"),
      },
      { operation: "DELETE", resource: apps("deployments"), name: "d", namespace: "s", oldObject: obj("d") },
    ];
    for (const c of cases) assert.equal(subject(c).kind, "ignore", JSON.stringify(c));
  });
});
