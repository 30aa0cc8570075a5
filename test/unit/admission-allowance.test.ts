import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CONTROL_PLANE_USERS,
  destroyedBy,
  finishingDecision,
  identitiesOf,
  isRunsRequest,
  runUserOf,
  takenDecisionOf,
  type TakenDecision,
} from "../../src/core/admission/allowance.js";

const identities = {
  "alice@acme.com": { kubernetes: { users: ["alice@acme.com"], groups: [] } },
  oncall: { kubernetes: { users: [], groups: ["sre"] } },
  "bob@acme.com": { kubernetes: { users: ["bob", "bob@acme.com"], groups: ["dba"] } },
};

describe("identities: which lifeline identities a Kubernetes user acts as", () => {
  it("by username or by group, exactly; none when unmapped", () => {
    assert.deepEqual(identitiesOf({ username: "alice@acme.com", uid: null, groups: [] }, identities), [
      { identity: "alice@acme.com", via: { user: "alice@acme.com" } },
    ]);
    assert.deepEqual(
      identitiesOf({ username: "carol", uid: null, groups: ["system:authenticated", "sre"] }, identities),
      [{ identity: "oncall", via: { group: "sre" } }],
    );
    assert.deepEqual(
      identitiesOf({ username: "bob", uid: null, groups: ["sre"] }, identities).map((m) => m.identity),
      ["oncall", "bob@acme.com"],
    );
    // Case matters in Kubernetes names; the unmapped and the anonymous act as nobody.
    assert.deepEqual(identitiesOf({ username: "Alice@acme.com", uid: null, groups: [] }, identities), []);
    assert.deepEqual(identitiesOf({ username: "mallory", uid: null, groups: ["dev"] }, identities), []);
    assert.deepEqual(identitiesOf({ username: "", uid: null, groups: ["sre"] }, identities), []);
  });
});

describe("lifeline run's Kubernetes user", () => {
  it("only the user the run recorded passes; a run that recorded none lets nobody through", () => {
    const runUser = runUserOf({
      status: "executing",
      kubernetesUser: { username: "alice", groups: ["sre"] },
    });
    assert.deepEqual(runUser, { username: "alice", groups: ["sre"] });
    assert.equal(isRunsRequest({ username: "alice", uid: null, groups: [] }, runUser), true);
    assert.equal(isRunsRequest({ username: "bob", uid: null, groups: ["sre"] }, runUser), false);
    assert.equal(runUserOf({ status: "executing" }), null);
    assert.equal(runUserOf({ kubernetesUser: { username: "" } }), null);
    assert.equal(runUserOf({ kubernetesUser: "alice" }), null);
    assert.equal(isRunsRequest({ username: "alice", uid: null, groups: [] }, null), false);
  });
});

describe("the control plane finishing a decision already taken", () => {
  const plan = {
    operations: [
      {
        resolved: { type: "namespace", identity: "ns-1" },
        cascade: [
          { type: "pvc", identity: "pvc-1" },
          { type: "pv", identity: "pv-1/reclaim=Delete" },
          { type: "pvc", identity: "pvc-2" },
          { type: "pv", identity: "pv-2/reclaim=Retain" },
          { type: "pv", identity: "pv-3/reclaim=Delete/snapshot=snap-1" },
          { type: "pv", identity: "pv-4/reclaim=Retain/phase=Released" },
          { type: "pv", identity: "pv-5/reclaim=Recycle" },
          { type: "statefulset", identity: "sts-1" },
          { type: "secret", identity: "secret-1" },
          { type: "pvc", identity: null },
        ],
      },
    ],
  };

  it("a plan destroys its judged objects by uid; a Retain volume is kept, unless it is released and armed", () => {
    assert.deepEqual(
      destroyedBy(plan).map((d) => d.uid),
      ["ns-1", "pvc-1", "pv-1", "pvc-2", "pv-3", "pv-4", "sts-1"],
    );
  });

  const allowed: TakenDecision = {
    seq: 7,
    result: "allowed",
    dryRun: false,
    command: "kubectl delete namespace shop",
    destroys: destroyedBy(plan).map((d) => d.uid),
  };
  const controller = (name: string) => ({
    username: `system:serviceaccount:kube-system:${name}`,
    uid: null,
    groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
  });
  const del = (username: { username: string; uid: null; groups: string[] }, uid: string | null) => ({
    operation: "DELETE",
    userInfo: username,
    oldObject: uid === null ? { metadata: { name: "x" } } : { metadata: { name: "x", uid } },
  });

  it("each controller's deletion of an object an allowed decision destroys passes, naming the decision", () => {
    for (const [name, uid] of [
      ["namespace-controller", "pvc-1"],
      ["generic-garbage-collector", "sts-1"],
      ["statefulset-controller", "pvc-2"],
      ["persistent-volume-binder", "pv-1"],
    ] as const) {
      const found = finishingDecision(del(controller(name), uid), [allowed]);
      assert.equal(found?.decision.seq, 7, name);
      assert.equal(found?.controller, CONTROL_PLANE_USERS[`system:serviceaccount:kube-system:${name}`]);
    }
    const shared = {
      username: "system:kube-controller-manager",
      uid: null,
      groups: ["system:authenticated"],
    };
    assert.equal(finishingDecision(del(shared, "pv-3"), [allowed])?.decision.seq, 7);
  });

  it("a control-plane username alone is no bypass; nor is a denied, dry-run or other object's decision", () => {
    const gc = controller("generic-garbage-collector");
    assert.equal(finishingDecision(del(gc, "pvc-9"), [allowed]), null, "not destroyed by the decision");
    assert.equal(
      finishingDecision(del(gc, "pv-2"), [allowed]),
      null,
      "a Retain volume outlives the decision",
    );
    assert.equal(finishingDecision(del(gc, null), [allowed]), null, "no uid, no evidence");
    assert.equal(finishingDecision(del(gc, "pvc-1"), [{ ...allowed, result: "denied" }]), null);
    assert.equal(finishingDecision(del(gc, "pvc-1"), [{ ...allowed, dryRun: true }]), null);
    assert.equal(finishingDecision(del(gc, "pvc-1"), []), null);
    // Someone else (a person, another service account, a look-alike name) with the same evidence.
    for (const username of [
      "alice",
      "system:serviceaccount:shop:generic-garbage-collector",
      "system:serviceaccount:kube-system:replicaset-controller",
      "system:kube-scheduler",
    ]) {
      assert.equal(finishingDecision(del({ username, uid: null, groups: [] }, "pvc-1"), [allowed]), null);
    }
    // More controllers lifeline.yaml names (a CSI driver's external-provisioner), with the same evidence.
    const csi = {
      username: "system:serviceaccount:kube-system:ebs-csi-controller-sa",
      uid: null,
      groups: [],
    };
    assert.equal(finishingDecision(del(csi, "pv-1"), [allowed]), null, "not named: judged as anyone's");
    const named = finishingDecision(del(csi, "pv-1"), [allowed], [csi.username]);
    assert.equal(named?.controller, `controller ${csi.username}`);
    assert.equal(finishingDecision(del(csi, "pvc-9"), [allowed], [csi.username]), null);
    // Only deletions are finished this way.
    assert.equal(finishingDecision({ ...del(gc, "pv-1"), operation: "UPDATE" }, [allowed]), null);
  });

  it("reads decisions from admission and executing run entries; others, damaged ones or ones without destroys count for nothing", () => {
    const data = {
      result: "allowed",
      dryRun: false,
      command: "kubectl delete pvc a -n shop",
      destroys: ["u1", 3],
    };
    assert.deepEqual(takenDecisionOf({ seq: 3, kind: "admission", data }), {
      seq: 3,
      result: "allowed",
      dryRun: false,
      command: "kubectl delete pvc a -n shop",
      destroys: ["u1"],
    });
    const run = { status: "executing", command: "kubectl scale sts db --replicas=1", destroys: ["u2"] };
    assert.equal(takenDecisionOf({ seq: 4, kind: "run", data: run })?.result, "allowed");
    assert.equal(takenDecisionOf({ seq: 5, kind: "run", data: { ...run, status: "blocked" } }), null);
    assert.equal(takenDecisionOf({ seq: 3, kind: "admission", data, damaged: "not JSON" }), null);
    assert.equal(takenDecisionOf({ seq: 3, kind: "admission", data: { result: "allowed" } }), null);
    assert.equal(takenDecisionOf({ seq: 3, kind: "plan", data }), null);
  });
});
