/**
 * `lifeline k8s install` against the simulated cluster: its YAML piped into the REAL kubectl
 * (`kubectl create -f -`), and `--apply --yes` through lifeline's own cluster client.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { cli } from "../support/cli.js";
import { startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { tempDir } from "../support/pg.js";

const KINDS = [
  ["Namespace", "lifeline", undefined],
  ["ServiceAccount", "lifeline", "lifeline"],
  ["ClusterRole", "lifeline", undefined],
  ["ClusterRoleBinding", "lifeline", undefined],
  ["ConfigMap", "lifeline-config", "lifeline"],
  ["Secret", "lifeline-tls", "lifeline"],
  ["Deployment", "lifeline", "lifeline"],
  ["Service", "lifeline", "lifeline"],
  ["ValidatingWebhookConfiguration", "lifeline", undefined],
] as const;

describe("lifeline k8s install against the simulated cluster", () => {
  let cluster: FakeCluster;
  const work = tempDir("lifeline-k8s-install-e2e-");
  const kubeconfig = path.join(work.dir, "kubeconfig");
  const run = (args: string[]) => cli(args, { cwd: work.dir, env: { KUBECONFIG: kubeconfig } });
  const kubectl = (args: string[], input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        "kubectl",
        args,
        {
          cwd: work.dir,
          env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(work.dir, "cache") },
          timeout: 60_000,
        },
        (error, stdout, stderr) =>
          resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(input ?? "");
    });

  before(async () => {
    cluster = await startFakeCluster();
    await cluster.writeKubeconfig(kubeconfig);
  });
  after(async () => {
    await cluster.close();
    work.remove();
  });
  beforeEach(() => cluster.reset());

  it("lifeline k8s install | kubectl create -f -: every object accepted, the webhook configuration listed", async () => {
    const printed = await run(["k8s", "install"]);
    assert.equal(printed.code, 0, printed.stderr);
    const created = await kubectl(["create", "-f", "-"], printed.stdout);
    assert.equal(created.code, 0, created.stderr);
    for (const [kind, name] of KINDS)
      assert.match(
        created.stdout,
        new RegExp(`^${kind.toLowerCase()}[a-z0-9.]*/${name} created$`, "m"),
        kind,
      );
    for (const [kind, name, ns] of KINDS) assert.ok(cluster.server.has(kind, name, ns), `${kind} ${name}`);
    const got = await kubectl(["get", "validatingwebhookconfiguration", "lifeline"]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /^NAME\b/);
    assert.match(got.stdout, /\nlifeline\b/);
  });

  it("--apply --yes creates them through the cluster client; a second run reports them as existing", async () => {
    const first = await run(["k8s", "install", "--apply", "--yes", "--json", "--replicas", "3"]);
    assert.equal(first.code, 0, first.stderr);
    const doc = JSON.parse(first.stdout) as {
      applied: boolean;
      objects: { object: string; outcome: string }[];
    };
    assert.equal(doc.objects.length, KINDS.length);
    assert.ok(
      doc.objects.every((o) => o.outcome === "created"),
      first.stdout,
    );
    for (const [kind, name, ns] of KINDS) assert.ok(cluster.server.has(kind, name, ns), `${kind} ${name}`);
    const deploy = cluster.objects("Deployment", "lifeline")[0] as unknown as { spec: { replicas: number } };
    assert.equal(deploy.spec.replicas, 3);

    const second = await run(["k8s", "install", "--apply", "--yes"]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /exists, kept +ValidatingWebhookConfiguration lifeline/);
    assert.match(second.stdout, /0 created, 9 already there/);
  });

  it("--apply into another namespace beside an existing install is refused before anything is created", async () => {
    const first = await run(["k8s", "install", "--apply", "--yes"]);
    assert.equal(first.code, 0, first.stderr);
    const second = await run(["k8s", "install", "-n", "other", "--apply", "--yes"]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      /already installed in namespace "lifeline" .*ClusterRoleBinding lifeline, ValidatingWebhookConfiguration lifeline.*nothing was created/,
    );
    assert.match(second.stderr, /lifeline k8s install -n lifeline \| kubectl delete --ignore-not-found -f -/);
    assert.doesNotMatch(second.stderr, /\n\s+at /, "no stack trace");
    for (const [kind, name] of [
      ["Namespace", "other"],
      ["ServiceAccount", "lifeline"],
      ["Deployment", "lifeline"],
    ] as const)
      assert.equal(cluster.server.has(kind, name, kind === "Namespace" ? undefined : "other"), false, kind);
    // The same namespace again is still fine: the objects are there, kept.
    const again = await run(["k8s", "install", "--apply", "--yes"]);
    assert.equal(again.code, 0, again.stderr);
  });

  const caBundles = () =>
    (
      cluster.objects("ValidatingWebhookConfiguration") as unknown as {
        webhooks: { clientConfig: { caBundle?: string } }[];
      }[]
    ).flatMap((w) => w.webhooks.map((h) => h.clientConfig.caBundle));
  const secretCa = () =>
    (
      cluster.objects("Secret", "lifeline") as unknown as {
        metadata: { name: string };
        data: Record<string, string>;
      }[]
    ).find((x) => x.metadata.name === "lifeline-tls")?.data["ca.crt"];

  const assertTrusts = (ca: string, message?: string) => {
    const bundles = caBundles();
    assert.ok(bundles.length > 0, "a webhook configuration");
    for (const b of bundles) assert.equal(b, ca, message);
  };

  it("a re-run after the webhook configuration was deleted: the new one trusts the kept certificate's CA", async () => {
    assert.equal((await run(["k8s", "install", "--apply", "--yes"])).code, 0);
    const ca = secretCa();
    assert.ok(ca);
    assertTrusts(ca);
    const deleted = await kubectl(["delete", "validatingwebhookconfiguration", "lifeline"]);
    assert.equal(deleted.code, 0, deleted.stderr);

    const again = await run(["k8s", "install", "--apply", "--yes"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /created +ValidatingWebhookConfiguration lifeline/);
    assert.equal(secretCa(), ca, "the Secret is kept");
    assertTrusts(ca, "the webhook trusts the CA of the certificate it serves");
  });

  it("a re-run after the TLS Secret was deleted (the webhook configuration left): refused, nothing created", async () => {
    assert.equal((await run(["k8s", "install", "--apply", "--yes"])).code, 0);
    const before = caBundles();
    await cluster.core.deleteNamespacedSecret({ name: "lifeline-tls", namespace: "lifeline" });

    const again = await run(["k8s", "install", "--apply", "--yes"]);
    assert.equal(again.code, 2, again.stdout + again.stderr);
    assert.match(again.stderr, /ValidatingWebhookConfiguration lifeline .*Secret lifeline-tls/);
    assert.match(again.stderr, /kubectl delete validatingwebhookconfiguration lifeline/);
    assert.doesNotMatch(again.stderr, /\n\s+at /, "no stack trace");
    assert.equal(cluster.server.has("Secret", "lifeline-tls", "lifeline"), false, "nothing created");
    assert.deepEqual(caBundles(), before);

    // As told: the webhook configuration deleted, the run creates both, matching.
    assert.equal((await kubectl(["delete", "validatingwebhookconfiguration", "lifeline"])).code, 0);
    assert.equal((await run(["k8s", "install", "--apply", "--yes"])).code, 0);
    const ca = secretCa();
    assert.ok(ca);
    assertTrusts(ca);
  });

  it("only the ClusterRoleBinding left of another namespace's install: refused; the removal it suggests works", async () => {
    assert.equal((await run(["k8s", "install", "--apply", "--yes"])).code, 0);
    // Everything but the ClusterRoleBinding removed by hand.
    const printed = await run(["k8s", "install"]);
    const rest = printed.stdout
      .split(/^---$/m)
      .filter((doc) => !/^kind: ClusterRoleBinding$/m.test(doc))
      .join("\n---\n");
    const removedByHand = await kubectl(["delete", "--ignore-not-found", "-f", "-"], rest);
    assert.equal(removedByHand.code, 0, removedByHand.stderr);
    assert.ok(cluster.server.has("ClusterRoleBinding", "lifeline"));

    const other = await run(["k8s", "install", "-n", "other", "--apply", "--yes"]);
    assert.equal(other.code, 2, other.stderr);
    assert.match(
      other.stderr,
      /already installed in namespace "lifeline" .*\(ClusterRoleBinding lifeline name it\)/,
    );
    const fix =
      /fix: .*remove it first: (lifeline k8s install -n lifeline \| kubectl delete [^\n]*-f -)/.exec(
        other.stderr,
      )?.[1];
    assert.ok(fix, other.stderr);
    const removed = await kubectl(
      [
        "delete",
        ...fix
          .replace(/^.*kubectl delete /, "")
          .replace(/ -f -$/, "")
          .split(" ")
          .filter(Boolean),
        "-f",
        "-",
      ],
      (await run(["k8s", "install", "-n", "lifeline"])).stdout,
    );
    assert.equal(removed.code, 0, `${fix}: ${removed.stderr}`);
    const installed = await run(["k8s", "install", "-n", "other", "--apply", "--yes"]);
    assert.equal(installed.code, 0, installed.stderr);
  });

  it("--apply without a terminal and without --yes changes nothing (exit 2)", async () => {
    const refused = await run(["k8s", "install", "--apply"]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--yes/);
    assert.equal(cluster.server.has("ValidatingWebhookConfiguration", "lifeline"), false);
  });
});
