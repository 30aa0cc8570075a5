import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import {
  installObjects,
  otherInstall,
  READ_RESOURCES,
  type InstallObject,
} from "../../src/app/k8s-install.js";
import { cacheRbacRules } from "../../src/kubernetes/informer-cache.js";
import { installYaml } from "../../src/cli/commands/k8s.js";
import { inRepo } from "../support/repo.js";

const find = (objects: InstallObject[], kind: string, name?: string) => {
  const o = objects.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  assert.ok(o, `${kind} ${name ?? ""} is generated`);
  return o as InstallObject & Record<string, unknown>;
};

interface Webhook {
  failurePolicy: string;
  sideEffects: string;
  timeoutSeconds: number;
  admissionReviewVersions: string[];
  namespaceSelector: { matchExpressions: { key: string; operator: string; values: string[] }[] };
  rules: { operations: string[]; apiGroups: string[]; resources: string[] }[];
  clientConfig: {
    service: { namespace: string; name: string; path: string; port: number };
    caBundle?: string;
  };
}

describe("lifeline k8s install: the generated objects", () => {
  const objects = installObjects({
    namespace: "guard",
    image: "reg/lifeline:1",
    replicas: 3,
    certManager: false,
  });

  it("are in dependency order, everything namespaced in the given namespace", () => {
    assert.deepEqual(
      objects.map((o) => o.kind),
      [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "ValidatingWebhookConfiguration",
      ],
    );
    for (const o of objects.filter(
      (x) =>
        !["Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration"].includes(
          x.kind,
        ),
    ))
      assert.equal(o.metadata.namespace, "guard", o.kind);
  });

  it("RBAC: only get/list/watch on what planCommand reads, plus create on selfsubjectreviews", () => {
    const role = find(objects, "ClusterRole") as unknown as {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const verbs = new Set(role.rules.flatMap((r) => r.verbs));
    assert.deepEqual([...verbs].sort(), ["create", "get", "list", "watch"]);
    const creates = role.rules.filter((r) => r.verbs.includes("create"));
    assert.deepEqual(creates, [
      { apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"], verbs: ["create"] },
    ]);
    for (const r of role.rules.filter((x) => !x.verbs.includes("create")))
      assert.deepEqual(r.verbs, ["get", "list", "watch"]);
    const read = role.rules.flatMap((r) => r.resources);
    for (const needed of [
      "persistentvolumeclaims",
      "persistentvolumes",
      "namespaces",
      "statefulsets",
      "secrets",
      "volumesnapshots",
    ])
      assert.ok(read.includes(needed), needed);
    // Exactly what the cluster adapter lists (its read("...") calls), no more.
    const listed = [
      ...readFileSync(inRepo("src/kubernetes/cluster.ts"), "utf8").matchAll(/read\("([a-z]+)"/g),
    ].map((m) => m[1]);
    assert.deepEqual(READ_RESOURCES.flatMap((r) => r.resources).sort(), listed.sort());
    // And exactly what `lifeline serve`'s informers watch, each with get, list and watch.
    const byGroup = (rules: { apiGroups: string[]; resources: string[] }[]) =>
      rules.map((r) => `${r.apiGroups.join(",")}:${[...r.resources].sort().join(",")}`).sort();
    const granted = role.rules.filter((r) => r.verbs.includes("watch"));
    assert.deepEqual(byGroup(granted), byGroup(cacheRbacRules()));
    for (const r of granted) assert.deepEqual([...r.verbs].sort(), ["get", "list", "watch"]);
    const binding = find(objects, "ClusterRoleBinding") as unknown as {
      subjects: unknown[];
      roleRef: { name: string };
    };
    assert.deepEqual(binding.subjects, [{ kind: "ServiceAccount", name: "lifeline", namespace: "guard" }]);
    assert.equal(binding.roleRef.name, "lifeline");
  });

  it("the webhook: the issue's rules, Fail, NoneOnDryRun, 10 s, v1, the Service, a selector without kube-system and its namespace", () => {
    const config = find(objects, "ValidatingWebhookConfiguration", "lifeline") as unknown as {
      webhooks: Webhook[];
    };
    assert.equal(config.webhooks.length, 1);
    const hook = config.webhooks[0]!;
    assert.equal(hook.failurePolicy, "Fail");
    assert.equal(hook.sideEffects, "NoneOnDryRun");
    assert.equal(hook.timeoutSeconds, 10);
    assert.deepEqual(hook.admissionReviewVersions, ["v1"]);
    assert.deepEqual(hook.clientConfig.service, {
      namespace: "guard",
      name: "lifeline",
      path: "/validate",
      port: 443,
    });
    assert.deepEqual(hook.namespaceSelector.matchExpressions, [
      { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["kube-system", "guard"] },
    ]);
    const pairs = hook.rules
      .flatMap((r) =>
        r.operations.flatMap((op) =>
          r.resources.map((res) => `${op} ${r.apiGroups[0] ? `${res}.${r.apiGroups[0]}` : res}`),
        ),
      )
      .sort();
    assert.deepEqual(pairs, [
      "DELETE namespaces",
      "DELETE persistentvolumeclaims",
      "DELETE persistentvolumes",
      "DELETE statefulsets.apps",
      "UPDATE persistentvolumes",
      "UPDATE statefulsets.apps",
    ]);
  });

  it("caBundle is the CA that signed the serving certificate, whose SAN is lifeline.<ns>.svc", () => {
    const config = find(objects, "ValidatingWebhookConfiguration") as unknown as { webhooks: Webhook[] };
    const ca = new X509Certificate(Buffer.from(config.webhooks[0]!.clientConfig.caBundle!, "base64"));
    assert.equal(ca.ca, true);
    const secret = find(objects, "Secret", "lifeline-tls") as unknown as {
      type: string;
      data: Record<string, string>;
    };
    assert.equal(secret.type, "kubernetes.io/tls");
    const serving = new X509Certificate(Buffer.from(secret.data["tls.crt"]!, "base64"));
    assert.ok(serving.verify(ca.publicKey), "signed by the caBundle's CA");
    assert.ok(serving.checkIssued(ca));
    assert.equal(serving.checkHost("lifeline.guard.svc"), "lifeline.guard.svc");
    assert.match(serving.subjectAltName ?? "", /DNS:lifeline\.guard\.svc\b/);
    assert.match(Buffer.from(secret.data["tls.key"]!, "base64").toString(), /BEGIN PRIVATE KEY/);
  });

  it("the Deployment runs lifeline serve with TLS, probes over HTTPS, resources, non-root; the Service maps 443 to 8443", () => {
    const deploy = find(objects, "Deployment") as unknown as {
      spec: {
        replicas: number;
        template: { spec: Record<string, unknown> & { containers: Record<string, unknown>[] } };
      };
    };
    assert.equal(deploy.spec.replicas, 3);
    const pod = deploy.spec.template.spec;
    assert.equal(pod.serviceAccountName, "lifeline");
    assert.equal((pod.securityContext as { runAsNonRoot: boolean }).runAsNonRoot, true);
    const c = pod.containers[0]! as {
      image: string;
      args: string[];
      readinessProbe: { httpGet: { path: string; scheme: string } };
      livenessProbe: { httpGet: { path: string; scheme: string } };
      resources: { requests: object; limits: object };
      env: { name: string }[];
      ports: { containerPort: number }[];
    };
    assert.equal(c.image, "reg/lifeline:1");
    assert.deepEqual(c.args, [
      "--tls-cert",
      "/tls/tls.crt",
      "--tls-key",
      "/tls/tls.key",
      "--listen",
      "0.0.0.0:8443",
      "--shutdown-delay",
      "5",
    ]);
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "https", scheme: "HTTPS" });
    assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "https", scheme: "HTTPS" });
    assert.ok(c.resources.requests && c.resources.limits);
    assert.deepEqual(
      c.env.map((e) => e.name),
      ["LIFELINE_CONFIG", "LIFELINE_CATALOG_URL"],
    );
    assert.equal(c.ports[0]!.containerPort, 8443);
    const svc = find(objects, "Service") as unknown as {
      spec: { ports: { port: number; targetPort: string }[] };
    };
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.port, p.targetPort]),
      [[443, "https"]],
    );
    const cm = find(objects, "ConfigMap") as unknown as { data: Record<string, string> };
    assert.match(cm.data["lifeline.yaml"]!, /catalog: \$\{LIFELINE_CATALOG_URL\}/);
  });

  it("--cert-manager: Issuer + Certificate, the inject-ca-from annotation and no caBundle nor generated Secret", () => {
    const cm = installObjects({ namespace: "lifeline", image: "i", replicas: 2, certManager: true });
    assert.equal(cm.filter((o) => o.kind === "Secret").length, 0);
    assert.equal(cm.filter((o) => o.kind === "Issuer").length, 2);
    const cert = find(cm, "Certificate", "lifeline") as unknown as {
      spec: { dnsNames: string[]; secretName: string };
    };
    assert.ok(cert.spec.dnsNames.includes("lifeline.lifeline.svc"));
    assert.equal(cert.spec.secretName, "lifeline-tls");
    const config = find(cm, "ValidatingWebhookConfiguration") as unknown as {
      metadata: { annotations: Record<string, string> };
      webhooks: Webhook[];
    };
    assert.equal(config.metadata.annotations["cert-manager.io/inject-ca-from"], "lifeline/lifeline");
    assert.equal(config.webhooks[0]!.clientConfig.caBundle, undefined);
    // cert-manager objects come before the Deployment that mounts their Secret.
    const kinds = cm.map((o) => o.kind);
    assert.ok(kinds.lastIndexOf("Certificate") < kinds.indexOf("Deployment"));
  });

  it("refuses a bad namespace or replica count; the YAML parses back to the same objects", () => {
    assert.throws(
      () => installObjects({ namespace: "Bad_NS", image: "i", replicas: 2, certManager: false }),
      /namespace/,
    );
    assert.throws(
      () => installObjects({ namespace: "ok", image: "i", replicas: 0, certManager: false }),
      /replicas/,
    );
    const docs = parseAllDocuments(installYaml(objects, "guard")).map((d) => d.toJS() as unknown);
    assert.deepEqual(docs, objects);
  });
});

describe("the kubeconfig inside a pod (lifeline serve as installed)", () => {
  it("without a kubeconfig, uses the service account's token and CA (in-cluster config)", async () => {
    const { loadKubeConfig } = await import("../../src/kubernetes/cluster.js");
    const root = mkdtempSync(path.join(os.tmpdir(), "lifeline-incluster-"));
    const saved = {
      HOME: process.env.HOME,
      host: process.env.KUBERNETES_SERVICE_HOST,
      port: process.env.KUBERNETES_SERVICE_PORT,
    };
    try {
      const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443", HOME: root };
      // No service account: the usual error.
      process.env.HOME = root;
      assert.throws(() => loadKubeConfig({ kubeconfig: null, context: null }, env, root), /no kubeconfig/);
      const dir = path.join(root, "var/run/secrets/kubernetes.io/serviceaccount");
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "token"), "sa-token");
      writeFileSync(path.join(dir, "ca.crt"), "ca");
      writeFileSync(path.join(dir, "namespace"), "lifeline");
      process.env.KUBERNETES_SERVICE_HOST = env.KUBERNETES_SERVICE_HOST;
      process.env.KUBERNETES_SERVICE_PORT = env.KUBERNETES_SERVICE_PORT;
      const kc = loadKubeConfig({ kubeconfig: null, context: null }, env, root);
      assert.equal(kc.getCurrentCluster()?.server, "https://10.96.0.1:443");
      assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, "lifeline");
    } finally {
      for (const [k, v] of [
        ["HOME", saved.HOME],
        ["KUBERNETES_SERVICE_HOST", saved.host],
        ["KUBERNETES_SERVICE_PORT", saved.port],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("the starter lifeline.yaml in the ConfigMap", () => {
  it("loads once its example asset is uncommented (a valid tier, a valid binding)", async () => {
    const { loadConfig } = await import("../../src/config/load.js");
    const objects = installObjects({ namespace: "lifeline", replicas: 2, certManager: false, image: "img" });
    const map = objects.find((o) => o.kind === "ConfigMap") as unknown as { data: Record<string, string> };
    const text = map.data["lifeline.yaml"] ?? "";
    assert.match(text, /Until one is listed/);
    const uncommented = text
      .replace("assets: {}\n", "")
      .split("\n")
      .map((line) => (/^# (assets:|identities:| {2})/.test(line) ? line.slice(2) : line))
      .join("\n");
    const dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-starter-"));
    try {
      writeFileSync(path.join(dir, "lifeline.yaml"), uncommented);
      const loaded = loadConfig(undefined, dir, {
        LIFELINE_CATALOG_URL: "postgres://lifeline@db/catalog",
        SHOP_DB_PASSWORD: "x",
      });
      assert.equal(loaded.config.assets.shop?.tier, "production");
      assert.deepEqual(loaded.config.identities["alice@acme.com"]?.kubernetes.groups, ["sre"]);
      // As installed (no asset yet) it loads too: lifeline serve starts with it.
      writeFileSync(path.join(dir, "lifeline.yaml"), text);
      const starter = loadConfig(undefined, dir, { LIFELINE_CATALOG_URL: "postgres://lifeline@db/catalog" });
      assert.deepEqual(starter.config.assets, {});
      assert.deepEqual(starter.config.identities, {});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("one install per cluster (otherInstall)", () => {
  const objects = installObjects({
    namespace: "lifeline",
    image: "lifeline/lifeline:0.1.0",
    replicas: 2,
    certManager: false,
  });
  const clusterWide = objects.filter(
    (o) => o.kind === "ClusterRoleBinding" || o.kind === "ValidatingWebhookConfiguration",
  );

  it("objects that exist for the same namespace are no conflict; none at all neither", () => {
    assert.equal(otherInstall(clusterWide, clusterWide, "lifeline"), null);
    assert.equal(otherInstall(clusterWide, [null, null], "lifeline"), null);
  });

  it("a binding and a webhook made for another namespace name that install", () => {
    const mine = installObjects({
      namespace: "other",
      image: "lifeline/lifeline:0.1.0",
      replicas: 2,
      certManager: false,
    }).filter((o) => o.kind === "ClusterRoleBinding" || o.kind === "ValidatingWebhookConfiguration");
    assert.deepEqual(otherInstall(mine, clusterWide, "other"), {
      namespace: "lifeline",
      objects: ["ClusterRoleBinding lifeline", "ValidatingWebhookConfiguration lifeline"],
    });
  });
});
