/**
 * How `lifeline run` learns the Kubernetes user it acts as: a SelfSubjectReview with the command's
 * kubeconfig and context, against the simulated API server (real HTTPS, bearer tokens).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { commandSelection } from "../../src/app/plan-command.js";
import { whoami } from "../../src/kubernetes/whoami.js";
import { startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";

let cluster: FakeCluster;
let dir: string;

before(async () => {
  cluster = await startFakeCluster({
    users: { "alice-token": { username: "alice@acme.com", groups: ["sre", "system:authenticated"] } },
  });
  dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-whoami-"));
  writeFileSync(path.join(dir, "admin"), cluster.kubeconfig, { mode: 0o600 });
  writeFileSync(path.join(dir, "alice"), cluster.kubeconfig.replace(/token: .*/, "token: alice-token"), {
    mode: 0o600,
  });
});

after(async () => {
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("whoami (SelfSubjectReview)", () => {
  it("names the user the API server authenticates the kubeconfig's credentials as", async () => {
    const admin = await whoami({ kubeconfig: path.join(dir, "admin"), context: null }, {});
    assert.equal(admin.username, "simulated-admin");
    const alice = await whoami({ kubeconfig: path.join(dir, "alice"), context: null }, {});
    assert.deepEqual(alice, { username: "alice@acme.com", groups: ["sre", "system:authenticated"] });
  });

  it("uses the command's own --kubeconfig and --context, else lifeline's kubeconfig and the current context", () => {
    const options = {
      assets: [],
      policy: [],
      kubernetes: { kubeconfig: "/etc/lifeline/kubeconfig", context: "prod", clusterDomain: "cluster.local" },
    };
    assert.deepEqual(commandSelection(["kubectl", "delete", "pvc", "a"], options), {
      kubeconfig: "/etc/lifeline/kubeconfig",
      context: null,
    });
    assert.deepEqual(
      commandSelection(["kubectl", "--kubeconfig", "/k", "--context", "dev", "delete", "pvc", "a"], options),
      { kubeconfig: "/k", context: "dev" },
    );
    assert.deepEqual(
      commandSelection(["helm", "uninstall", "x"], { ...options, env: { HELM_KUBECONTEXT: "stage" } }),
      { kubeconfig: "/etc/lifeline/kubeconfig", context: "stage" },
    );
  });

  it("a refused review is an error of one line that holds no token", async () => {
    const lift = cluster.server.fail(
      (r) => r.resource === "selfsubjectreviews",
      500,
      "InternalError",
      "etcd is down",
    );
    try {
      await assert.rejects(
        whoami({ kubeconfig: path.join(dir, "alice"), context: null }, {}),
        (e: unknown) => e instanceof Error && !e.message.includes("\n") && !e.message.includes("alice-token"),
      );
    } finally {
      lift();
    }
  });
});
