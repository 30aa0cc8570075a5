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

  before(async () => {
    cluster = await startFakeCluster();
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
policy:
  rules:
    - name: approvals
      match: { tier: production, dataLoss: [destructive, unknown] }
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
    const as = (user: string, args: string[]) =>
      cli(args, {
        cwd: work.dir,
        env: { LIFELINE_USER: user, KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(work.dir, "cache") },
      });
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
    const audit = await as("carol@example.com", ["audit", "--json", "--kind", "admission"]);
    assert.match(audit.stdout, /lifeline run executing approved plan/);
  });

  it("with the webhook killed, the deletion fails closed", async () => {
    serve.child.kill("SIGKILL");
    await serve.done.catch(() => undefined);
    const r = await kubectl(["delete", "pvc", SIMULATED.readPvc, "-n", NS]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /failed calling webhook/);
    const still = await kubectl(["get", "pvc", SIMULATED.readPvc, "-n", NS]);
    assert.equal(still.code, 0, still.stderr);
  });
});
