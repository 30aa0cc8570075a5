/**
 * The incident, enforced where every deletion passes: the real kubectl talks to the
 * simulated API server, which calls `lifeline serve` (the built CLI, as a process) as a validating
 * admission webhook. Plain `kubectl delete pvc` of a production asset's claim is denied with
 * lifeline's message and changes nothing; `--dry-run=server` shows the plan as warnings; with the
 * webhook killed, the deletion fails closed.
 */
import assert from "node:assert/strict";
import { request } from "node:https";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, startCli } from "../support/cli.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { tempDir } from "../support/pg.js";
import { makeCert } from "../support/tls-certs.js";

const NS = SIMULATED.namespace;

describe("the admission webhook (lifeline serve) refuses the incident's kubectl delete pvc, with the real kubectl", () => {
  const work = tempDir("lifeline-webhook-e2e-");
  const kubeconfig = path.join(work.dir, "kubeconfig");
  let cluster: FakeCluster;
  let serve: ReturnType<typeof startCli>;
  let stderr = "";

  const kubectl = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        "kubectl",
        args,
        {
          cwd: work.dir,
          env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(work.dir, "cache") },
          timeout: 60_000,
        },
        (error, stdout, err) =>
          resolve({
            code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
            stdout,
            stderr: err,
          }),
      );
    });

  const as = (user: string, args: string[]) =>
    cli(args, {
      cwd: work.dir,
      env: { LIFELINE_USER: user, KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(work.dir, "cache") },
    });
  const admissions = async () =>
    (
      JSON.parse((await as("carol@example.com", ["audit", "--json", "--kind", "admission"])).stdout) as {
        entries: { identity: string; data: Record<string, unknown> }[];
      }
    ).entries;

  before(async () => {
    // Two more people, as the API server authenticates their tokens (kubectl --token …).
    cluster = await startFakeCluster({
      users: {
        "alice-token": { username: "alice@acme.com", groups: ["system:authenticated"] },
        "bob-token": { username: "bob@acme.com", groups: ["dev", "system:authenticated"] },
      },
    });
    await cluster.writeKubeconfig(kubeconfig);
    const cert = makeCert(work.dir, "serve");
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:
  shop:
    url: postgres://127.0.0.1:5432/unused
    tier: production
    kubernetes:
      namespace: ${NS}
      release: postgresql
kubernetes:
  kubeconfig: kubeconfig
identities:
  alice:
    kubernetes: { users: [alice@acme.com] }
  oncall:
    kubernetes: { groups: [sre] }
policy:
  rules:
    - name: approvals
      match: { tier: production, dataLoss: [destructive, unknown] }
      require: { approvals: 1 }
    - name: unprotect
      match: { tier: production, kind: patch-pv-reclaim-policy-delete }
      require: { approvals: 1 }
serve:
  listen: 127.0.0.1:0
  tls:
    cert: ${cert.cert}
    key: ${cert.key}
`,
    );
    serve = startCli(["serve"], { cwd: work.dir });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`lifeline serve did not listen: ${stderr}`)), 30_000);
      serve.child.stderr?.on("data", (c: Buffer) => {
        stderr += c.toString("utf8");
        const m = /"event":"listening","address":"127\.0\.0\.1:(\d+)"/.exec(stderr);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    // Ready once its informers have synced the cluster (until then, protected requests are denied).
    const deadline = Date.now() + 20_000;
    const readyz = () =>
      new Promise<number>((resolve) => {
        request({ host: "127.0.0.1", port, path: "/readyz", ca: cert.pem, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
          .on("error", () => resolve(0))
          .end();
      });
    while ((await readyz()) !== 200) {
      assert.ok(Date.now() < deadline, `lifeline serve never became ready: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The ValidatingWebhookConfiguration `lifeline k8s install` will write, applied with kubectl.
    const config = path.join(work.dir, "webhook.yaml");
    writeFileSync(
      config,
      JSON.stringify({
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        metadata: { name: "lifeline" },
        webhooks: [
          {
            name: "deletions.lifeline.dev",
            admissionReviewVersions: ["v1"],
            sideEffects: "NoneOnDryRun",
            failurePolicy: "Fail",
            timeoutSeconds: 10,
            clientConfig: {
              url: `https://127.0.0.1:${port}/validate`,
              caBundle: Buffer.from(cert.pem).toString("base64"),
            },
            rules: [
              {
                operations: ["DELETE"],
                apiGroups: [""],
                apiVersions: ["v1"],
                resources: ["persistentvolumeclaims", "persistentvolumes", "namespaces"],
              },
              {
                operations: ["UPDATE"],
                apiGroups: [""],
                apiVersions: ["v1"],
                resources: ["persistentvolumes"],
              },
            ],
          },
        ],
      }),
    );
    const applied = await kubectl(["create", "-f", config]);
    assert.equal(applied.code, 0, applied.stderr);
  });

  after(async () => {
    if (serve.child.exitCode === null) serve.child.kill("SIGTERM");
    await serve.done.catch(() => undefined);
    await cluster.close();
    work.remove();
  });

  it("kubectl delete pvc is denied with lifeline's message; the claim is still there", async () => {
    const r = await kubectl(["delete", "pvc", SIMULATED.primaryPvc, "-n", NS]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /admission webhook "deletions\.lifeline\.dev" denied the request/);
    assert.match(r.stderr, new RegExp(`lifeline run -- kubectl delete pvc ${SIMULATED.primaryPvc} -n ${NS}`));
    const still = await kubectl(["get", "pvc", SIMULATED.primaryPvc, "-n", NS]);
    assert.equal(still.code, 0, still.stderr);
  });

  it("--dry-run=server gets the same decision and the plan as warnings; nothing changes", async () => {
    const r = await kubectl(["delete", "pvc", SIMULATED.primaryPvc, "-n", NS, "--dry-run=server"]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied the request/);
    assert.match(r.stderr, /Warning: /);
    const still = await kubectl(["get", "pvc", SIMULATED.primaryPvc, "-n", NS]);
    assert.equal(still.code, 0, still.stderr);
  });

  it("kubectl delete ns is denied", async () => {
    const r = await kubectl(["delete", "ns", NS]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied the request/);
    const still = await kubectl(["get", "ns", NS]);
    assert.equal(still.code, 0, still.stderr);
  });

  it("lifeline run with another person's approval passes the webhook; a plain kubectl delete of another protected claim is still denied", async () => {
    const cmd = ["--", "kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", NS];
    const blocked = await as("alice@example.com", ["run", "--json", ...cmd]);
    assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
    const planId = (JSON.parse(blocked.stdout) as { planId: string }).planId;
    const approved = await as("bob@example.com", ["approve", planId]);
    assert.equal(approved.code, 0, approved.stderr);
    const ran = await as("alice@example.com", ["run", ...cmd]);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.match(ran.stdout, new RegExp(`persistentvolumeclaim "${SIMULATED.primaryPvc}" deleted`));
    assert.notEqual((await kubectl(["get", "pvc", SIMULATED.primaryPvc, "-n", NS])).code, 0);
    const other = await kubectl(["delete", "pvc", SIMULATED.readPvc, "-n", NS]);
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /denied the request/);
    const entries = await admissions();
    const ran1 = entries.find((e) => e.data.name === SIMULATED.primaryPvc && e.data.result === "allowed");
    assert.match(String(ran1?.data.reason), /lifeline run executing approved plan .* as Kubernetes user /);
    // Its volume (reclaim Delete) went with it: the volume controller finished the allowed deletion.
    assert.notEqual((await kubectl(["get", "pv", SIMULATED.primaryPv])).code, 0, "the volume is reclaimed");
    const reclaimed = entries.find((e) => e.data.name === SIMULATED.primaryPv);
    assert.equal(reclaimed?.identity, "system:serviceaccount:kube-system:persistent-volume-binder");
    assert.equal(reclaimed?.data.result, "allowed");
    assert.match(
      String(reclaimed?.data.reason),
      /the volume controller \(reclaim\) finishing allowed decision/,
    );
  });

  it("k8s protect --undo is no way around it: blocked without approval; approved by another person, its patches pass the webhook", async () => {
    const reclaim = async (pv: string) =>
      (await kubectl(["get", "pv", pv, "-o", "jsonpath={.spec.persistentVolumeReclaimPolicy}"])).stdout;
    // (The primary claim went with the run above: the read replica's volume is left.)
    const protect = await as("alice@example.com", ["k8s", "protect", "shop", "--yes"]);
    assert.equal(protect.code, 0, protect.stdout + protect.stderr);
    assert.equal(await reclaim(SIMULATED.readPv), "Retain");
    const blocked = await as("alice@example.com", ["k8s", "protect", "shop", "--undo", "--yes", "--json"]);
    assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
    const plans = (JSON.parse(blocked.stdout) as { plans: { run: { planId: string } }[] }).plans;
    assert.equal(plans.length, 1);
    assert.equal(await reclaim(SIMULATED.readPv), "Retain", "nothing changed");
    for (const p of plans) assert.equal((await as("bob@example.com", ["approve", p.run.planId])).code, 0);
    const undo = await as("alice@example.com", ["k8s", "protect", "shop", "--undo", "--yes"]);
    assert.equal(undo.code, 0, undo.stdout + undo.stderr);
    assert.equal(await reclaim(SIMULATED.readPv), "Delete");
    const entries = await admissions();
    const passed = entries.find(
      (e) =>
        e.data.name === SIMULATED.readPv &&
        e.data.result === "allowed" &&
        /executing/.test(String(e.data.reason)),
    );
    assert.match(String(passed?.data.reason), /lifeline run executing approved plan .* as Kubernetes user /);
  });

  it("a claim whose volume is Retain may go; making a production volume's reclaim policy Delete is denied", async () => {
    const kept = await kubectl(["delete", "pvc", SIMULATED.uploadsPvc, "-n", NS]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal((await kubectl(["get", "pv", SIMULATED.uploadsPv])).code, 0, "the Retain volume stays");
    const retain = await kubectl([
      "patch",
      "pv",
      SIMULATED.readPv,
      "-p",
      '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}',
    ]);
    assert.equal(retain.code, 0, retain.stderr);
    const armed = await kubectl([
      "patch",
      "pv",
      SIMULATED.readPv,
      "-p",
      '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}',
    ]);
    assert.notEqual(armed.code, 0);
    assert.match(armed.stderr, /denied the request/);
    const pv = await kubectl([
      "get",
      "pv",
      SIMULATED.readPv,
      "-o",
      "jsonpath={.spec.persistentVolumeReclaimPolicy}",
    ]);
    assert.equal(pv.stdout, "Retain");
  });

  it("break-glass lets the mapped Kubernetes user through, nobody else; the audit log shows who, what and why", async () => {
    const del = (token: string) => kubectl(["--token", token, "delete", "pvc", SIMULATED.readPvc, "-n", NS]);
    const arm = (token: string) =>
      kubectl([
        "--token",
        token,
        "patch",
        "pv",
        SIMULATED.readPv,
        "-p",
        '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}',
      ]);
    const before = await arm("alice-token");
    assert.notEqual(before.code, 0, "no grant yet");
    assert.match(before.stderr, /denied the request/);
    const grant = await as("alice", [
      "break-glass",
      "--asset",
      "shop",
      "--for",
      "10m",
      "--reason",
      "INC-7 replica disk corrupt",
    ]);
    assert.equal(grant.code, 0, grant.stderr);
    assert.match(
      grant.stderr,
      /At the Kubernetes API it counts for user alice@acme\.com \(identities: in lifeline\.yaml\)/,
    );
    const unmapped = await as("dave", [
      "break-glass",
      "--asset",
      "shop",
      "--for",
      "1m",
      "--reason",
      "INC-7 look",
    ]);
    assert.match(unmapped.stderr, /dave is mapped to no Kubernetes user or group.*identities:/);
    assert.match((await arm("bob-token")).stderr, /denied the request/, "bob is not mapped to alice");
    const armed = await arm("alice-token");
    assert.equal(armed.code, 0, armed.stderr);
    const bob = await del("bob-token");
    assert.notEqual(bob.code, 0, "bob is not mapped to alice");
    assert.match(bob.stderr, /denied the request/);
    const alice = await del("alice-token");
    assert.equal(alice.code, 0, alice.stderr);
    assert.notEqual((await kubectl(["get", "pvc", SIMULATED.readPvc, "-n", NS])).code, 0);
    const entries = await admissions();
    const passed = entries.find((e) => e.data.name === SIMULATED.readPvc && e.data.result === "allowed");
    assert.equal(passed?.identity, "alice@acme.com");
    assert.equal(passed?.data.user, "alice@acme.com");
    assert.deepEqual(passed?.data.groups, ["system:authenticated"]);
    assert.equal(passed?.data.lifelineIdentity, "alice");
    assert.equal(passed?.data.grantReason, "INC-7 replica disk corrupt");
    assert.match(String(passed?.data.breakGlass), /^bg-/);
    assert.equal(passed?.data.command, `kubectl delete pvc ${SIMULATED.readPvc} -n ${NS}`);
    // The table `lifeline audit` prints says it too: who, what, why.
    const table = (await as("carol@example.com", ["audit", "--kind", "admission"])).stdout;
    const row = table
      .split("\n")
      .find((l) => l.includes("alice@acme.com") && l.includes(`delete pvc ${SIMULATED.readPvc}`));
    assert.match(
      row ?? table,
      new RegExp(
        `kubectl delete pvc ${SIMULATED.readPvc} -n ${NS}: break-glass grant bg-\\w+ of alice \\(Kubernetes user alice@acme\\.com\\): INC-7 replica disk corrupt`,
      ),
    );
    const refused = entries.find((e) => e.data.name === SIMULATED.readPvc && e.identity === "bob@acme.com");
    assert.equal(refused?.data.result, "denied");
    // The volume (reclaim Delete again) was reclaimed by the volume controller, finishing alice's decision.
    assert.notEqual((await kubectl(["get", "pv", SIMULATED.readPv])).code, 0);
  });

  it("kubectl delete ns through lifeline run: the namespace and volume controllers finish it, as the run's decision", async () => {
    const cmd = ["--", "kubectl", "delete", "ns", NS];
    const blocked = await as("alice@example.com", ["run", "--json", ...cmd]);
    assert.equal(blocked.code, 3, blocked.stdout + blocked.stderr);
    const planId = (JSON.parse(blocked.stdout) as { planId: string }).planId;
    assert.equal((await as("bob@example.com", ["approve", planId])).code, 0);
    const ran = await as("alice@example.com", ["run", ...cmd]);
    assert.equal(ran.code, 0, ran.stdout + ran.stderr);
    assert.notEqual(
      (await kubectl(["get", "ns", NS])).code,
      0,
      "the namespace is gone, not stuck Terminating",
    );
    for (const pv of SIMULATED.mongoPvs) assert.notEqual((await kubectl(["get", "pv", pv])).code, 0, pv);
    assert.equal((await kubectl(["get", "pv", SIMULATED.uploadsPv])).code, 0, "the Retain volume stays");
    const entries = await admissions();
    const by = (user: string) =>
      entries.filter((e) => e.identity === `system:serviceaccount:kube-system:${user}`);
    assert.ok(by("namespace-controller").every((e) => e.data.result === "allowed"));
    // The first decision that destroys them, in the log's order: the run's (its `executing` entry
    // is recorded before its kubectl runs; the webhook's entry about that request follows).
    const finished = by("namespace-controller").filter((e) =>
      /the namespace controller finishing allowed decision \d+ \(kubectl delete ns shop\)/.test(
        String(e.data.reason),
      ),
    );
    // (datadir-mongodb-0 has a ready snapshot: its own verdict is allow.)
    assert.deepEqual(
      finished.map((e) => e.data.name).sort(),
      [SIMULATED.legacyPvc, SIMULATED.mongoPvcs[1]].sort(),
    );
    assert.ok(by("persistent-volume-binder").some((e) => e.data.name === SIMULATED.mongoPvs[0]));
  });

  it("with the webhook killed, the deletion fails closed", async () => {
    serve.child.kill("SIGKILL");
    await serve.done.catch(() => undefined);
    const r = await kubectl(["delete", "ns", SIMULATED.analyticsNamespace]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /failed calling webhook/);
    const still = await kubectl(["get", "ns", SIMULATED.analyticsNamespace]);
    assert.equal(still.code, 0, still.stderr);
  });
});
