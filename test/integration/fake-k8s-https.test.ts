/**
 * The simulated API server as a real cluster looks to its clients: HTTPS with its own CA, a bearer
 * token, dry runs that change nothing, the `all` category and an OpenAPI v3 document (what kubectl
 * needs; test/e2e/kubectl.test.ts runs the real kubectl against it).
 */
import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { parse } from "yaml";
import { generateCa, issueServerCertificate } from "../../src/support/tls.js";
import {
  SIMULATED,
  SIMULATED_USER,
  clientsFor,
  rawRequest,
  startFakeCluster,
  type FakeCluster,
} from "../support/fake-k8s.js";

const NS = SIMULATED.namespace;

describe("TLS material (src/support/tls.ts)", () => {
  it("makes a CA and a serving certificate for IPs and host names that verify", () => {
    const ca = generateCa({ commonName: "test CA" });
    const serving = issueServerCertificate(ca, ["127.0.0.1", "localhost", "lifeline.lifeline.svc"]);

    const caCert = new X509Certificate(ca.cert);
    const cert = new X509Certificate(serving.cert);
    assert.equal(caCert.ca, true);
    assert.equal(cert.ca, false);
    assert.ok(caCert.verify(caCert.publicKey), "the CA is self-signed");
    assert.ok(cert.verify(caCert.publicKey), "the serving certificate is signed by the CA");
    assert.ok(cert.checkIssued(caCert));
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkHost("localhost"), "localhost");
    assert.equal(cert.checkHost("lifeline.lifeline.svc"), "lifeline.lifeline.svc");
    assert.equal(cert.checkHost("example.com"), undefined);
    assert.ok(cert.checkPrivateKey(createPrivateKey(serving.key)));
    assert.ok(new Date(cert.validTo).getTime() > Date.now() + 300 * 86_400_000);
    assert.throws(() => issueServerCertificate(ca, []), /at least one host/);
  });
});

describe("the simulated API server over HTTPS, like a real cluster", () => {
  let k8s: FakeCluster;

  before(async () => {
    k8s = await startFakeCluster();
  });
  after(async () => {
    await k8s.close();
  });
  beforeEach(() => {
    k8s.reset();
  });

  it("serves HTTPS; the kubeconfig carries its CA and a token, not insecure-skip-tls-verify", async () => {
    assert.match(k8s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const config = parse(k8s.kubeconfig) as {
      clusters: { cluster: Record<string, unknown> }[];
      users: { user: Record<string, unknown> }[];
    };
    const cluster = config.clusters[0]!.cluster;
    assert.equal(cluster["insecure-skip-tls-verify"], undefined);
    assert.equal(Buffer.from(String(cluster["certificate-authority-data"]), "base64").toString(), k8s.ca);
    assert.equal(typeof config.users[0]!.user.token, "string");
    // client-node 1.x trusts the CA from the kubeconfig.
    const pvcs = await k8s.core.listNamespacedPersistentVolumeClaim({ namespace: NS });
    assert.equal(pvcs.items.length, 6);
  });

  it("a client that does not trust the cluster's CA is refused by TLS", async () => {
    const other = generateCa();
    await assert.rejects(rawRequest({ url: k8s.url, ca: other.cert }, "/version"), /certificate/);
    const untrusting = clientsFor(
      k8s.kubeconfig.replace(
        /certificate-authority-data: .*/,
        `certificate-authority-data: ${Buffer.from(other.cert).toString("base64")}`,
      ),
    );
    await assert.rejects(untrusting.core.listNamespace(), (e: Error) =>
      /certificate/i.test(String(e.message) + String((e as { cause?: unknown }).cause ?? "")),
    );
  });

  it("answers 401 without a token or with a wrong one, like a real API server", async () => {
    for (const token of [null, "wrong-token"]) {
      const res = await rawRequest(k8s, "/api/v1/namespaces/shop/persistentvolumeclaims", { token });
      assert.equal(res.status, 401);
      assert.equal((res.json() as { reason: string }).reason, "Unauthorized");
    }
    assert.equal((await rawRequest(k8s, "/api/v1/namespaces/shop/persistentvolumeclaims")).status, 200);
  });

  it("honours dryRun in the DeleteOptions body (kubectl delete --dry-run=server): answers as if done, changes nothing", async () => {
    const deleted = await k8s.core.deleteNamespacedPersistentVolumeClaim({
      name: SIMULATED.primaryPvc,
      namespace: NS,
      body: { dryRun: ["All"] },
    });
    assert.equal(deleted.metadata?.name, SIMULATED.primaryPvc);
    assert.ok(deleted.metadata?.deletionTimestamp);
    assert.ok(k8s.server.has("pvc", SIMULATED.primaryPvc, NS));
    assert.ok(k8s.server.has("pv", SIMULATED.primaryPv));

    const ns = await rawRequest(k8s, `/api/v1/namespaces/${NS}`, {
      method: "DELETE",
      body: { kind: "DeleteOptions", apiVersion: "v1", dryRun: ["All"], propagationPolicy: "Background" },
    });
    assert.equal(ns.status, 200);
    assert.equal((ns.json() as { status: { phase: string } }).status.phase, "Terminating");
    assert.ok(k8s.server.has("Namespace", NS));
    assert.equal(k8s.objects("pvc", NS).length, 6);

    const collection = await rawRequest(k8s, `/api/v1/namespaces/${NS}/persistentvolumeclaims`, {
      method: "DELETE",
      body: { dryRun: ["All"] },
    });
    assert.equal(collection.status, 200, collection.text);
    assert.equal((collection.json() as { items: unknown[] }).items.length, 6);
    assert.equal(k8s.objects("pvc", NS).length, 6);

    // Without dryRun the same deletion happens.
    await k8s.core.deleteNamespacedPersistentVolumeClaim({ name: SIMULATED.primaryPvc, namespace: NS });
    assert.equal(k8s.server.has("pvc", SIMULATED.primaryPvc, NS), false);
  });

  it("honours ?dryRun=All for create, update and patch", async () => {
    const created = await rawRequest(k8s, `/api/v1/namespaces/${NS}/configmaps?dryRun=All`, {
      method: "POST",
      body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "dry" }, data: { a: "1" } },
    });
    assert.equal(created.status, 201);
    assert.equal(k8s.server.has("ConfigMap", "dry", NS), false);

    const pv = k8s.server.get("pv", SIMULATED.primaryPv)!;
    const patched = await rawRequest(k8s, `/api/v1/persistentvolumes/${SIMULATED.primaryPv}?dryRun=All`, {
      method: "PATCH",
      body: { spec: { persistentVolumeReclaimPolicy: "Retain" } },
      headers: { "content-type": "application/merge-patch+json" },
    });
    assert.equal(patched.status, 200);
    assert.equal(
      (patched.json() as { spec: { persistentVolumeReclaimPolicy: string } }).spec
        .persistentVolumeReclaimPolicy,
      "Retain",
    );

    const updated = await rawRequest(k8s, `/api/v1/persistentvolumes/${SIMULATED.primaryPv}?dryRun=All`, {
      method: "PUT",
      body: { ...pv, spec: { ...(pv.spec as object), persistentVolumeReclaimPolicy: "Retain" } },
    });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(
      (k8s.server.get("pv", SIMULATED.primaryPv)!.spec as { persistentVolumeReclaimPolicy: string })
        .persistentVolumeReclaimPolicy,
      "Delete",
    );
  });

  it("puts workloads in the `all` category (kubectl get all) and claims, volumes and secrets out of it", async () => {
    const all = new Set<string>();
    for (const gv of ["/api/v1", "/apis/apps/v1", "/apis/batch/v1"]) {
      const list = (await rawRequest(k8s, gv)).json() as {
        resources: { name: string; categories?: string[] }[];
      };
      for (const r of list.resources) if (r.categories?.includes("all")) all.add(r.name);
    }
    assert.deepEqual([...all].sort(), [
      "cronjobs",
      "daemonsets",
      "deployments",
      "jobs",
      "pods",
      "replicasets",
      "services",
      "statefulsets",
    ]);
  });

  it("serves an OpenAPI v3 document that tells kubectl the server validates fields", async () => {
    const root = (await rawRequest(k8s, "/openapi/v3")).json() as {
      paths: Record<string, { serverRelativeURL: string }>;
    };
    assert.ok(root.paths["api/v1"]);
    assert.ok(root.paths["apis/apps/v1"]);
    const core = (await rawRequest(k8s, root.paths["api/v1"]!.serverRelativeURL)).json() as {
      paths: Record<
        string,
        { patch: { "x-kubernetes-group-version-kind": object; parameters: { name: string }[] } }
      >;
    };
    const pvc = core.paths["/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"]!;
    assert.deepEqual(pvc.patch["x-kubernetes-group-version-kind"], {
      group: "",
      version: "v1",
      kind: "PersistentVolumeClaim",
    });
    assert.ok(pvc.patch.parameters.some((p) => p.name === "fieldValidation"));
    assert.equal((await rawRequest(k8s, "/openapi/v3/apis/nothing/v1")).status, 404);
  });

  it("answers kubectl's Accept: as=Table with the columns of a real cluster", async () => {
    const accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    const table = (
      await rawRequest(k8s, `/api/v1/namespaces/${NS}/persistentvolumeclaims`, { headers: { accept } })
    ).json() as {
      kind: string;
      columnDefinitions: { name: string }[];
      rows: { cells: unknown[]; object: { kind: string; metadata: { name: string } } }[];
    };
    assert.equal(table.kind, "Table");
    assert.deepEqual(table.columnDefinitions.map((c) => c.name).slice(0, 5), [
      "Name",
      "Status",
      "Volume",
      "Capacity",
      "Access Modes",
    ]);
    const primary = table.rows.find((r) => r.cells[0] === SIMULATED.primaryPvc)!;
    assert.equal(primary.cells[1], "Bound");
    assert.equal(primary.cells[2], SIMULATED.primaryPv);
    assert.equal(primary.object.kind, "PartialObjectMetadata");
    assert.equal(primary.object.metadata.name, SIMULATED.primaryPvc);
    const one = (
      await rawRequest(k8s, `/api/v1/persistentvolumes/${SIMULATED.primaryPv}`, { headers: { accept } })
    ).json() as { rows: { cells: unknown[] }[] };
    assert.equal(one.rows.length, 1);
    assert.equal(one.rows[0]!.cells[3], "Delete");
    // Without the Accept parameter: the plain list, as client-node asks for it.
    const plain = (await rawRequest(k8s, `/api/v1/namespaces/${NS}/persistentvolumeclaims`)).json() as {
      kind: string;
    };
    assert.equal(plain.kind, "PersistentVolumeClaimList");
  });

  it("answers SelfSubjectReview (who the token is) and SelfSubjectAccessReview, storing nothing", async () => {
    const who = await rawRequest(k8s, "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      method: "POST",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    });
    assert.equal(who.status, 201, who.text);
    assert.equal(
      (who.json() as { status: { userInfo: { username: string } } }).status.userInfo.username,
      SIMULATED_USER,
    );
    const ask = (verb: string) =>
      rawRequest(k8s, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        method: "POST",
        body: { spec: { resourceAttributes: { verb, resource: "persistentvolumeclaims", namespace: NS } } },
      }).then((r) => (r.json() as { status: { allowed: boolean } }).status.allowed);
    assert.equal(await ask("delete"), true);
    k8s.server.forbid("pvc");
    assert.equal(await ask("delete"), false);
    assert.equal(
      (await rawRequest(k8s, "/apis/authentication.k8s.io/v1/selfsubjectreviews")).status,
      405,
      "create only",
    );
  });
});
