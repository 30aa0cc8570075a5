/**
 * `lifeline k8s protect` against a cluster whose admission webhook refuses the reclaim-policy
 * patch: the error says a webhook denied it (its name and message) and what to do, not that the
 * credentials may not list something (what a 403 from RBAC means). The built CLI as a process,
 * the simulated API server calling a real HTTPS webhook.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api } from "@kubernetes/client-node";
import { cli } from "../support/cli.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { tempDir } from "../support/pg.js";
import { makeTestCertificates, startTestWebhook, type TestWebhookServer } from "../support/webhook-server.js";

const HOOK = "volume-policy.example.com";

describe("k8s protect when an admission webhook denies the reclaim-policy patch", () => {
  let cluster: FakeCluster;
  let webhook: TestWebhookServer;
  const work = tempDir("lifeline-k8s-protect-denied-");
  const kubeconfig = path.join(work.dir, "kubeconfig");
  const run = (args: string[]) => cli(args, { cwd: work.dir, env: { KUBECONFIG: kubeconfig } });

  before(async () => {
    webhook = await startTestWebhook(makeTestCertificates());
    webhook.handler = () => ({
      allowed: false,
      status: { message: "reclaim policies are managed by the storage team (ticket STOR-42)" },
    });
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
    await cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api).createValidatingWebhookConfiguration({
      body: {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        metadata: { name: "storage-policy" },
        webhooks: [
          {
            name: HOOK,
            admissionReviewVersions: ["v1"],
            sideEffects: "None",
            clientConfig: { url: `${webhook.url}/validate`, caBundle: webhook.certificates.caBundle },
            rules: [
              {
                operations: ["UPDATE"],
                apiGroups: [""],
                apiVersions: ["v1"],
                resources: ["persistentvolumes"],
                scope: "Cluster",
              },
            ],
          },
        ],
      },
    });
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: postgres://postgres@127.0.0.1:5432/postgres\n    tier: production\n    kubernetes:\n      namespace: shop\n      release: postgresql\n`,
    );
  });

  after(async () => {
    await cluster.close();
    await webhook.close();
    work.remove();
  });

  it("names the webhook and its message, and the fix; not the credentials", async () => {
    const result = await run(["k8s", "protect", "shop", "--yes"]);
    assert.equal(webhook.received.length > 0, true, "the webhook was asked");
    assert.notEqual(result.code, 0, result.stdout);
    assert.doesNotMatch(result.stderr, /may not list/);
    assert.match(result.stderr, /admission webhook "volume-policy\.example\.com" denied/);
    assert.match(result.stderr, /reclaim policies are managed by the storage team \(ticket STOR-42\)/);
    assert.match(result.stderr, /fix: .*webhook/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);

    const json = await run(["k8s", "protect", "shop", "--yes", "--json"]);
    const doc = JSON.parse(json.stdout) as { error: { code: string; message: string; fix: string } };
    assert.equal(doc.error.code, "K8S_PATCH_DENIED");
    assert.match(doc.error.message, /STOR-42/);
    const pv = await cluster.core.readPersistentVolume({ name: SIMULATED.primaryPv });
    assert.equal(pv.spec?.persistentVolumeReclaimPolicy, "Delete", "nothing was changed");
  });
});
