/**
 * Validating admission webhooks in the simulated API server: a real HTTPS webhook (a throwaway CA
 * made with openssl) receives AdmissionReview v1 requests, and its answers come back to clients
 * as the real API server returns them (403 denial text, Warning headers, "failed calling webhook").
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { AdmissionregistrationV1Api, type V1ValidatingWebhook } from "@kubernetes/client-node";
import {
  SIMULATED,
  SIMULATED_TOKEN,
  SIMULATED_USER,
  apiError,
  clientsFor,
  mergePatch,
  simulatedKubeconfig,
  startFakeCluster,
  type FakeCluster,
} from "../support/fake-k8s.js";
import { makeTestCertificates, startTestWebhook, type TestWebhookServer } from "../support/webhook-server.js";

const NS = SIMULATED.namespace;
const CLAIM = "data-postgresql-primary-0";
const HOOK = "pvc-protection.lifeline.dev";
const SERVICE = "lifeline/lifeline-webhook:443";

describe("simulated API server: validating admission webhooks", () => {
  let k8s: FakeCluster;
  let webhook: TestWebhookServer;
  let admission: AdmissionregistrationV1Api;

  before(async () => {
    const certificates = makeTestCertificates(["lifeline-webhook.lifeline.svc"]);
    webhook = await startTestWebhook(certificates);
    k8s = await startFakeCluster({
      users: {
        "alice-token": { username: "alice", uid: "u-alice", groups: ["sre", "system:authenticated"] },
        "bob-token": { username: "bob", groups: ["system:authenticated"] },
      },
      webhookServices: { [SERVICE]: webhook.url },
    });
    admission = k8s.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  });
  after(async () => {
    await k8s.close();
    await webhook.close();
  });
  beforeEach(() => {
    k8s.reset();
    webhook.received.length = 0;
    webhook.handler = () => ({ allowed: true });
  });

  /** Registers one webhook through the API (defaults: pvc DELETE, URL client config, Fail). */
  async function register(overrides: Partial<V1ValidatingWebhook> = {}): Promise<void> {
    await admission.createValidatingWebhookConfiguration({
      body: {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingWebhookConfiguration",
        metadata: { name: "lifeline" },
        webhooks: [
          {
            name: HOOK,
            admissionReviewVersions: ["v1"],
            sideEffects: "None",
            clientConfig: { url: `${webhook.url}/validate`, caBundle: webhook.certificates.caBundle },
            rules: [
              {
                operations: ["DELETE"],
                apiGroups: [""],
                apiVersions: ["v1"],
                resources: ["persistentvolumeclaims"],
                scope: "Namespaced",
              },
            ],
            ...overrides,
          },
        ],
      },
    });
  }

  function as(token: string): ReturnType<typeof clientsFor> {
    return clientsFor(simulatedKubeconfig({ server: k8s.url, ca: k8s.ca, token }));
  }

  /** A raw request to the simulated API server: status, parsed body and the raw headers. */
  async function raw(
    method: string,
    path: string,
    token = SIMULATED_TOKEN,
  ): Promise<{ code: number; body: Record<string, unknown>; headers: string[] }> {
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${k8s.url}${path}`,
        { method, ca: k8s.ca, headers: { authorization: `Bearer ${token}`, accept: "application/json" } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () =>
            resolve({
              code: res.statusCode ?? 0,
              body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
              headers: res.rawHeaders,
            }),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  const claimPath = (name = CLAIM, ns = NS): string =>
    `/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`;

  it("stores ValidatingWebhookConfigurations like other resources, served by discovery", async () => {
    await register();
    const listed = await admission.listValidatingWebhookConfiguration();
    assert.deepEqual(
      listed.items.map((c) => c.metadata?.name),
      ["lifeline"],
    );
    const got = await admission.readValidatingWebhookConfiguration({ name: "lifeline" });
    assert.equal(got.webhooks?.[0]?.name, HOOK);
    const resources = (await raw("GET", "/apis/admissionregistration.k8s.io/v1")).body as {
      resources: Array<{ name: string; namespaced: boolean; kind: string }>;
    };
    assert.deepEqual(
      resources.resources.map((r) => [r.name, r.namespaced, r.kind]),
      [["validatingwebhookconfigurations", false, "ValidatingWebhookConfiguration"]],
    );
    await admission.deleteValidatingWebhookConfiguration({ name: "lifeline" });
    assert.equal((await admission.listValidatingWebhookConfiguration()).items.length, 0);
  });

  it("sends a real AdmissionReview v1 and applies an allowed request", async () => {
    await register();
    await k8s.core.deleteNamespacedPersistentVolumeClaim({
      name: CLAIM,
      namespace: NS,
      propagationPolicy: "Foreground",
    });
    assert.equal(k8s.server.has("pvc", CLAIM, NS), false);
    assert.equal(webhook.received.length, 1);
    const { path, request } = webhook.received[0]!;
    assert.equal(path, "/validate?timeout=10s");
    assert.match(request.uid, /^[0-9a-f-]{36}$/);
    assert.deepEqual(request.kind, { group: "", version: "v1", kind: "PersistentVolumeClaim" });
    assert.deepEqual(request.resource, { group: "", version: "v1", resource: "persistentvolumeclaims" });
    assert.deepEqual(request.requestKind, request.kind);
    assert.deepEqual(request.requestResource, request.resource);
    assert.equal(request.subResource, undefined);
    assert.equal(request.name, CLAIM);
    assert.equal(request.namespace, NS);
    assert.equal(request.operation, "DELETE");
    assert.equal(request.userInfo.username, SIMULATED_USER);
    assert.equal(request.object, null);
    assert.equal(request.oldObject?.metadata.name, CLAIM);
    assert.equal(request.dryRun, false);
    assert.equal(request.options.kind, "DeleteOptions");
    assert.equal(request.options.apiVersion, "meta.k8s.io/v1");
    assert.equal(request.options.propagationPolicy, "Foreground");
  });

  it("a denial is a 403 with the real API server's text; nothing is deleted", async () => {
    await register();
    webhook.handler = () => ({
      allowed: false,
      status: {
        code: 403,
        reason: "Forbidden",
        message: "claim shop/data-postgresql-primary-0 is protected",
      },
    });
    const expected = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `admission webhook "${HOOK}" denied the request: claim shop/data-postgresql-primary-0 is protected`,
      reason: "Forbidden",
      code: 403,
    };
    const viaClient = await apiError(
      k8s.core.deleteNamespacedPersistentVolumeClaim({ name: CLAIM, namespace: NS }),
    );
    assert.equal(viaClient.code, 403);
    assert.deepEqual(viaClient.status, expected);
    const direct = await raw("DELETE", claimPath());
    assert.equal(direct.code, 403);
    assert.deepEqual(direct.body, expected);
    assert.equal(k8s.server.has("pvc", CLAIM, NS), true);
    const volume = k8s.server.get("pvc", CLAIM, NS)!.spec as { volumeName: string };
    assert.equal(k8s.server.has("pv", volume.volumeName), true);

    // Without a message or a code: "without explanation", 403.
    webhook.handler = () => ({ allowed: false });
    const bare = await raw("DELETE", claimPath());
    assert.equal(bare.code, 403);
    assert.equal(bare.body.message, `admission webhook "${HOOK}" denied the request without explanation`);
    assert.equal(bare.body.reason, undefined);
  });

  it("passes warnings on as Warning: 299 headers", async () => {
    await register();
    webhook.handler = () => ({
      allowed: true,
      warnings: ["deleting a claim of postgresql", 'a "quoted" word'],
    });
    const res = await raw("DELETE", claimPath());
    assert.equal(res.code, 200);
    const warnings = res.headers.filter(
      (_, i) => i % 2 === 1 && res.headers[i - 1]!.toLowerCase() === "warning",
    );
    assert.deepEqual(warnings, ['299 - "deleting a claim of postgresql"', '299 - "a \\"quoted\\" word"']);
  });

  it("a timeout fails the request with failurePolicy Fail and lets it through with Ignore", async () => {
    webhook.handler = () => "hang";
    await register({ timeoutSeconds: 1 });
    const failed = await raw("DELETE", claimPath());
    assert.equal(failed.code, 500);
    const message = `failed calling webhook "${HOOK}": failed to call webhook: Post "${webhook.url}/validate?timeout=1s": context deadline exceeded`;
    assert.deepEqual(failed.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `Internal error occurred: ${message}`,
      reason: "InternalError",
      details: { causes: [{ message }] },
      code: 500,
    });
    assert.equal(k8s.server.has("pvc", CLAIM, NS), true);

    await admission.deleteValidatingWebhookConfiguration({ name: "lifeline" });
    await register({ timeoutSeconds: 1, failurePolicy: "Ignore" });
    const ignored = await raw("DELETE", claimPath());
    assert.equal(ignored.code, 200);
    assert.equal(k8s.server.has("pvc", CLAIM, NS), false);
  });

  it("an unreachable webhook fails closed with Fail and open with Ignore", async () => {
    const closed = await startTestWebhook(webhook.certificates);
    const url = `${closed.url}/validate`;
    await closed.close();
    await register({ clientConfig: { url, caBundle: webhook.certificates.caBundle } });
    const failed = await raw("DELETE", claimPath());
    assert.equal(failed.code, 500);
    assert.equal(
      failed.body.message,
      `Internal error occurred: failed calling webhook "${HOOK}": failed to call webhook: Post "${url}?timeout=10s": dial tcp 127.0.0.1:${new URL(url).port}: connect: connection refused`,
    );
    assert.equal(k8s.server.has("pvc", CLAIM, NS), true);

    k8s.reset();
    await register({
      clientConfig: { url, caBundle: webhook.certificates.caBundle },
      failurePolicy: "Ignore",
    });
    assert.equal((await raw("DELETE", claimPath())).code, 200);
    assert.equal(k8s.server.has("pvc", CLAIM, NS), false);
  });

  it("verifies the webhook's certificate with caBundle", async () => {
    const other = makeTestCertificates();
    await register({ clientConfig: { url: `${webhook.url}/validate`, caBundle: other.caBundle } });
    const failed = await raw("DELETE", claimPath());
    assert.equal(failed.code, 500);
    assert.match(
      String(failed.body.message),
      /failed to call webhook: Post ".*": tls: failed to verify certificate: x509: certificate signed by unknown authority$/,
    );
    assert.equal(webhook.received.length, 0);
  });

  it("reaches a service reference through the webhookServices mapping (certificate for <name>.<namespace>.svc)", async () => {
    await register({
      clientConfig: {
        service: { namespace: "lifeline", name: "lifeline-webhook", path: "/validate/pvc" },
        caBundle: webhook.certificates.caBundle,
      },
    });
    webhook.handler = () => ({ allowed: false, status: { message: "protected" } });
    const res = await raw("DELETE", claimPath());
    assert.equal(res.code, 403);
    assert.equal(res.body.message, `admission webhook "${HOOK}" denied the request: protected`);
    assert.equal(webhook.received[0]?.path, "/validate/pvc?timeout=10s");
  });

  it("calls only the webhooks whose rules, namespaceSelector and objectSelector match", async () => {
    await register({
      namespaceSelector: { matchLabels: { "lifeline.dev/protected": "true" } },
      objectSelector: {
        matchExpressions: [{ key: "app.kubernetes.io/name", operator: "In", values: ["postgresql"] }],
      },
    });
    // Namespace not labelled: not called.
    assert.equal((await raw("DELETE", claimPath("data-postgresql-read-0"))).code, 200);
    assert.equal(webhook.received.length, 0);
    await k8s.core.patchNamespace(
      { name: NS, body: { metadata: { labels: { "lifeline.dev/protected": "true" } } } },
      mergePatch,
    );
    // Labelled namespace, object label does not match: not called.
    assert.equal((await raw("DELETE", claimPath("uploads"))).code, 200);
    // An UPDATE of a matching claim and a DELETE of another resource: not called (rules: pvc DELETE).
    await k8s.core.patchNamespacedPersistentVolumeClaim(
      { name: CLAIM, namespace: NS, body: { metadata: { labels: { touched: "yes" } } } },
      mergePatch,
    );
    await k8s.core.deleteNamespacedConfigMap({ name: SIMULATED.postgresExtendedConfigMap, namespace: NS });
    assert.equal(webhook.received.length, 0);
    // Everything matches: called.
    assert.equal((await raw("DELETE", claimPath())).code, 200);
    assert.deepEqual(
      webhook.received.map((r) => `${r.request.operation} ${r.request.name}`),
      [`DELETE ${CLAIM}`],
    );
  });

  it("dryRun: the webhook sees dryRun true and nothing changes; sideEffects Some refuses a dry run", async () => {
    await register();
    webhook.handler = () => ({ allowed: true, warnings: ["would delete"] });
    const res = await raw("DELETE", `${claimPath()}?dryRun=All`);
    assert.equal(res.code, 200);
    assert.ok(res.headers.includes('299 - "would delete"'));
    assert.equal(webhook.received[0]?.request.dryRun, true);
    assert.deepEqual(webhook.received[0]?.request.options.dryRun, ["All"]);
    assert.equal(k8s.server.has("pvc", CLAIM, NS), true);

    await admission.deleteValidatingWebhookConfiguration({ name: "lifeline" });
    await register({ sideEffects: "Some" });
    const refused = await raw("DELETE", `${claimPath()}?dryRun=All`);
    assert.equal(refused.code, 400);
    assert.equal(refused.body.reason, "BadRequest");
    assert.equal(refused.body.message, `admission webhook "${HOOK}" does not support dry run`);
    assert.equal(k8s.server.has("pvc", CLAIM, NS), true);
  });

  it("userInfo comes from the bearer token", async () => {
    await register();
    await as("alice-token").core.deleteNamespacedPersistentVolumeClaim({ name: CLAIM, namespace: NS });
    await as("bob-token").core.deleteNamespacedPersistentVolumeClaim({ name: "uploads", namespace: NS });
    assert.deepEqual(
      webhook.received.map((r) => r.request.userInfo),
      [
        { username: "alice", uid: "u-alice", groups: ["sre", "system:authenticated"] },
        { username: "bob", groups: ["system:authenticated"] },
      ],
    );
    assert.equal((await raw("DELETE", claimPath("datadir-mongodb-0"), "nobody")).code, 401);
  });

  it("a namespace deletion's claim deletions reach the webhook as the namespace controller", async () => {
    await register();
    webhook.handler = (request) =>
      request.name === CLAIM ? { allowed: false, status: { message: "protected" } } : { allowed: true };
    const res = await raw("DELETE", `/api/v1/namespaces/${NS}`, "alice-token");
    assert.equal(res.code, 200);
    const claims = webhook.received.map((r) => [r.request.name, r.request.userInfo.username]).sort();
    assert.deepEqual(
      claims,
      [
        "data-legacy-redis-master-0",
        CLAIM,
        "data-postgresql-read-0",
        "datadir-mongodb-0",
        "datadir-mongodb-1",
        "uploads",
      ].map((name) => [name, "system:serviceaccount:kube-system:namespace-controller"]),
    );
    // The refused claim stays (and its volume), so the namespace stays Terminating.
    assert.deepEqual(
      k8s.server.objects("pvc", NS).map((c) => c.metadata.name),
      [CLAIM],
    );
    const ns = k8s.server.get("namespace", NS)!;
    assert.equal((ns.status as { phase: string }).phase, "Terminating");
    assert.ok(ns.metadata.deletionTimestamp);
    const volume = (k8s.server.get("pvc", CLAIM, NS)!.spec as { volumeName: string }).volumeName;
    assert.equal(k8s.server.has("pv", volume), true);
  });

  it("a StatefulSet's claims deleted with it (whenDeleted: Delete) reach the webhook as the garbage collector, as in a real cluster", async () => {
    await register();
    await k8s.apps.patchNamespacedStatefulSet(
      {
        name: SIMULATED.primaryStatefulSet,
        namespace: NS,
        body: {
          spec: { persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" } },
        },
      },
      mergePatch,
    );
    webhook.handler = () => ({ allowed: false, status: { message: "protected" } });
    await k8s.apps.deleteNamespacedStatefulSet({ name: SIMULATED.primaryStatefulSet, namespace: NS });
    assert.deepEqual(
      webhook.received.map((r) => [r.request.name, r.request.userInfo.username]),
      [[CLAIM, "system:serviceaccount:kube-system:generic-garbage-collector"]],
    );
    assert.equal(k8s.server.has("sts", SIMULATED.primaryStatefulSet, NS), false);
    assert.equal(k8s.server.has("pvc", CLAIM, NS), true);
  });

  it("CREATE and UPDATE carry object and oldObject; rules with * and subresources; status and scale", async () => {
    await register({
      rules: [
        {
          operations: ["CREATE", "UPDATE"],
          apiGroups: ["*"],
          apiVersions: ["*"],
          resources: ["*"],
          scope: "*",
        },
        {
          operations: ["UPDATE"],
          apiGroups: ["apps"],
          apiVersions: ["v1"],
          resources: ["statefulsets/scale"],
        },
      ],
    });
    await k8s.core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: "settings", labels: { a: "1" } }, data: { x: "1" } },
      fieldManager: "tester",
    });
    await k8s.core.patchNamespacedConfigMap(
      { name: "settings", namespace: NS, body: { data: { x: "2" } } },
      mergePatch,
    );
    await k8s.apps.patchNamespacedStatefulSetScale(
      { name: SIMULATED.readStatefulSet, namespace: NS, body: { spec: { replicas: 2 } } },
      mergePatch,
    );
    // A status update is a subresource "*" does not match.
    await k8s.core.patchNamespacedPersistentVolumeClaimStatus(
      { name: CLAIM, namespace: NS, body: { status: { phase: "Bound" } } },
      mergePatch,
    );
    const [created, patched, scaled, ...rest] = webhook.received.map((r) => r.request);
    assert.equal(created?.operation, "CREATE");
    assert.equal(created?.oldObject, null);
    assert.equal(created?.object?.metadata.name, "settings");
    assert.deepEqual(created?.options, {
      kind: "CreateOptions",
      apiVersion: "meta.k8s.io/v1",
      fieldManager: "tester",
    });
    assert.equal(patched?.operation, "UPDATE");
    assert.equal(patched?.options.kind, "PatchOptions");
    assert.deepEqual((patched?.object as unknown as { data: unknown }).data, { x: "2" });
    assert.deepEqual((patched?.oldObject as unknown as { data: unknown }).data, { x: "1" });
    assert.equal(scaled?.subResource, "scale");
    assert.deepEqual(scaled?.kind, { group: "autoscaling", version: "v1", kind: "Scale" });
    assert.deepEqual(scaled?.resource, { group: "apps", version: "v1", resource: "statefulsets" });
    // The StatefulSet controller's new pod and claim are not sent (only controllers' deletions are).
    assert.deepEqual(rest, []);
  });

  it("a dry-run namespace deletion is admitted once, with no controller deletions", async () => {
    await register({
      rules: [{ operations: ["DELETE"], apiGroups: ["*"], apiVersions: ["*"], resources: ["*"] }],
    });
    const res = await raw("DELETE", `/api/v1/namespaces/${NS}?dryRun=All`);
    assert.equal(res.code, 200);
    assert.deepEqual(
      webhook.received.map((r) => [
        r.request.kind.kind,
        r.request.name,
        r.request.namespace,
        r.request.dryRun,
      ]),
      [["Namespace", NS, NS, true]],
    );
    assert.equal(k8s.server.objects("pvc", NS).length, 6);
  });

  it("the garbage collector's deletions of dependents reach the webhook with its user", async () => {
    await register({
      rules: [{ operations: ["DELETE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"] }],
    });
    webhook.handler = () => ({ allowed: false, status: { message: "keep the pod" } });
    await k8s.apps.deleteNamespacedStatefulSet({ name: SIMULATED.readStatefulSet, namespace: NS });
    assert.deepEqual(
      webhook.received.map((r) => [
        r.request.name,
        r.request.userInfo.username,
        r.request.options.propagationPolicy,
      ]),
      [[SIMULATED.readPod, "system:serviceaccount:kube-system:generic-garbage-collector", "Background"]],
    );
    assert.equal(k8s.server.has("sts", SIMULATED.readStatefulSet, NS), false);
    assert.equal(k8s.server.has("pod", SIMULATED.readPod, NS), true);
  });

  it(
    "the real kubectl prints the denial and the warnings",
    { skip: !onPath("kubectl") && "no kubectl on PATH" },
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), "lifeline-webhook-kubectl-"));
      try {
        const kubeconfig = await k8s.writeKubeconfig(path.join(dir, "kubeconfig"));
        const kubectl = (...args: string[]) =>
          new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
            execFile(
              "kubectl",
              args,
              {
                env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(dir, "cache") },
                timeout: 60_000,
              },
              (error, stdout, stderr) =>
                resolve({
                  code: error ? (typeof error.code === "number" ? error.code : 1) : 0,
                  stdout,
                  stderr,
                }),
            );
          });
        await register();
        webhook.handler = (request) =>
          request.dryRun
            ? {
                allowed: true,
                warnings: ["plan: delete claim shop/data-postgresql-primary-0 and its volume"],
              }
            : {
                allowed: false,
                status: { code: 403, reason: "Forbidden", message: "claim is protected by lifeline" },
              };
        const denied = await kubectl("delete", "pvc", CLAIM, "-n", NS);
        assert.notEqual(denied.code, 0);
        assert.match(
          denied.stderr,
          /Error from server \(Forbidden\): admission webhook "pvc-protection.lifeline.dev" denied the request: claim is protected by lifeline/,
        );
        const dry = await kubectl("delete", "pvc", CLAIM, "-n", NS, "--dry-run=server");
        assert.equal(dry.code, 0, dry.stderr);
        assert.match(
          dry.stderr,
          /Warning: plan: delete claim shop\/data-postgresql-primary-0 and its volume/,
        );
        assert.equal(k8s.server.has("pvc", CLAIM, NS), true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

function onPath(command: string): boolean {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .some((d) => d !== "" && existsSync(path.join(d, command)));
}
