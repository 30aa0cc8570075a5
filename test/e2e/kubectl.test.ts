/**
 * The real kubectl (the one installed on these machines) against the simulated cluster, as a new
 * user would use it: a kubeconfig with the cluster's CA and a token, HTTPS, discovery, the `all`
 * category, server-side dry runs, apply with validation. (test/e2e/gate.test.ts runs it through
 * `lifeline run` with an approval.)
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { generateCa } from "../../src/support/tls.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { tempDir } from "../support/pg.js";

const NS = SIMULATED.namespace;

/** kubectl as found on PATH (the real one; /usr/bin/kubectl on these machines). */
function kubectlPath(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "kubectl");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  return undefined;
}

describe("the real kubectl against the simulated cluster", () => {
  let cluster: FakeCluster;
  const work = tempDir("lifeline-kubectl-e2e-");
  const kubeconfig = path.join(work.dir, "kubeconfig");
  const kubectl = (args: string[], config = kubeconfig) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "kubectl",
        args,
        {
          cwd: work.dir,
          // Its own discovery cache: nothing shared with other tests or the user's ~/.kube.
          env: { ...process.env, KUBECONFIG: config, KUBECACHEDIR: path.join(work.dir, "cache") },
          timeout: 60_000,
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });

  before(async () => {
    assert.ok(kubectlPath(), "the real kubectl must be on PATH (.ci/run checks it too)");
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
  });
  after(async () => {
    await cluster.close();
    work.remove();
  });
  beforeEach(() => {
    cluster.reset();
  });

  it("kubectl get pvc -n shop lists the claims over HTTPS with the token", async () => {
    const result = await kubectl(["get", "pvc", "-n", NS]);
    assert.equal(result.code, 0, result.stderr);
    // Server-side printing: the columns a real cluster shows.
    assert.match(result.stdout, /^NAME +STATUS +VOLUME +CAPACITY +ACCESS MODES +STORAGECLASS\b/);
    assert.match(
      result.stdout,
      new RegExp(`${SIMULATED.primaryPvc} +Bound +${SIMULATED.primaryPv} +\\S+ +RWO`),
    );
    for (const name of [SIMULATED.primaryPvc, SIMULATED.readPvc])
      assert.match(result.stdout, new RegExp(name));
    assert.equal(result.stderr, "", "no discovery or OpenAPI errors at start");
    const version = await kubectl(["version", "-o", "json"]);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /lifeline-simulated/);
  });

  it("is refused without the cluster's token (401), and TLS is verified against the CA", async () => {
    const wrong = path.join(work.dir, "wrong-token");
    writeFileSync(wrong, cluster.kubeconfig.replace(/token: .*/, "token: not-the-token"));
    const refused = await kubectl(["get", "pvc", "-n", NS], wrong);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Unauthorized/);

    const otherCa = path.join(work.dir, "other-ca");
    writeFileSync(
      otherCa,
      cluster.kubeconfig.replace(
        /certificate-authority-data: .*/,
        `certificate-authority-data: ${Buffer.from(generateCa().cert).toString("base64")}`,
      ),
    );
    const untrusted = await kubectl(["get", "pvc", "-n", NS], otherCa);
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /certificate/);
  });

  it("kubectl delete pvc --dry-run=server answers as if deleted and deletes nothing", async () => {
    const result = await kubectl(["delete", "pvc", SIMULATED.primaryPvc, "-n", NS, "--dry-run=server"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`persistentvolumeclaim "${SIMULATED.primaryPvc}" deleted \\(server dry run\\)`),
    );
    assert.ok(cluster.server.has("pvc", SIMULATED.primaryPvc, NS));
    assert.ok(cluster.server.has("pv", SIMULATED.primaryPv));

    const ns = await kubectl(["delete", "namespace", NS, "--dry-run=server"]);
    assert.equal(ns.code, 0, ns.stderr);
    assert.ok(cluster.server.has("Namespace", NS));
    assert.equal(cluster.objects("pvc", NS).length, 6);
  });

  it("kubectl delete pvc deletes the claim (and reclaim Delete its volume)", async () => {
    const result = await kubectl(["delete", "pvc", SIMULATED.readPvc, "-n", NS]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`persistentvolumeclaim "${SIMULATED.readPvc}" deleted`));
    assert.equal(cluster.server.has("pvc", SIMULATED.readPvc, NS), false);
    assert.equal(cluster.server.has("pv", SIMULATED.readPv), false);
    const missing = await kubectl(["delete", "pvc", SIMULATED.readPvc, "-n", NS]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NotFound/);
  });

  it("kubectl get all and kubectl delete all --all resolve the `all` category", async () => {
    const all = await kubectl(["get", "all", "-n", NS]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /statefulset\.apps\/postgresql-primary/);
    assert.match(all.stdout, /pod\/postgresql-primary-0/);
    assert.doesNotMatch(all.stdout, /persistentvolumeclaim/);
    const dry = await kubectl(["delete", "all", "--all", "-n", NS, "--dry-run=server"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /statefulset\.apps "postgresql-primary" deleted \(server dry run\)/);
    assert.ok(cluster.server.has("StatefulSet", "postgresql-primary", NS));
  });

  it("kubectl apply validates against the OpenAPI document; apply --server-side and create work too", async () => {
    const manifest = path.join(work.dir, "cm.yaml");
    const write = (value: string) =>
      writeFileSync(
        manifest,
        `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: ${NS}\ndata:\n  mode: "${value}"\n`,
      );
    write("a");
    const applied = await kubectl(["apply", "-f", manifest]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /configmap\/settings created/);
    write("b");
    const again = await kubectl(["apply", "-f", manifest]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /configmap\/settings configured/);
    assert.deepEqual(cluster.server.get("ConfigMap", "settings", NS)?.data, { mode: "b" });
    write("c");
    const serverSide = await kubectl(["apply", "--server-side", "-f", manifest]);
    assert.equal(serverSide.code, 0, serverSide.stderr);
    assert.match(serverSide.stdout, /configmap\/settings serverside-applied/);
    assert.deepEqual(cluster.server.get("ConfigMap", "settings", NS)?.data, { mode: "c" });
    const created = await kubectl(["create", "configmap", "other", "-n", NS, "--from-literal=k=v"]);
    assert.equal(created.code, 0, created.stderr);
    assert.ok(cluster.server.has("ConfigMap", "other", NS));
  });

  it("kubectl auth whoami and auth can-i answer (SelfSubjectReview, SelfSubjectAccessReview)", async () => {
    const whoami = await kubectl(["auth", "whoami"]);
    assert.equal(whoami.code, 0, whoami.stderr);
    assert.match(whoami.stdout, /Username +simulated-admin/);
    const may = await kubectl(["auth", "can-i", "delete", "pvc", "-n", NS]);
    assert.equal(may.code, 0, may.stderr);
    assert.match(may.stdout, /^yes/);
    cluster.server.forbid("persistentvolumeclaims");
    const mayNot = await kubectl(["auth", "can-i", "delete", "pvc", "-n", NS]);
    assert.equal(mayNot.code, 1);
    assert.match(mayNot.stdout, /^no/);
  });
});
