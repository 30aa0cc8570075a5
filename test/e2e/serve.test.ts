/**
 * `lifeline serve` as a process (the built CLI) against the simulated cluster: it answers an
 * AdmissionReview over HTTPS, and SIGTERM stops it cleanly (the request in flight is answered,
 * exit 0). And the kubectl plugin through the real kubectl's plugin discovery.
 */
import assert from "node:assert/strict";
import { execFile, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { installObjects } from "../../src/app/k8s-install.js";
import { CLI, cli, startCli } from "../support/cli.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { tempDir } from "../support/pg.js";
import { makeCert, type TestCert } from "../support/tls-certs.js";

const work = tempDir("lifeline-serve-e2e-");
const kubeconfig = path.join(work.dir, "kubeconfig");
let cluster: FakeCluster;
let cert: TestCert;

function post(
  port: number,
  body: string,
  onSent?: () => void,
): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path: "/validate", ca: cert.pem, agent: false },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString("utf8")));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: text, connection: res.headers.connection }),
        );
      },
    );
    req.on("error", reject);
    req.on("finish", () => onSent?.());
    req.end(body);
  });
}

function get(port: number, pathname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path: pathname, ca: cert.pem, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", reject)
      .end();
  });
}

/** The port serve listens on (its "listening" log line), and what it logged on stderr so far. */
async function listening(child: ChildProcess): Promise<{ port: number; stderr: () => string }> {
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line: ${stderr}`)), 30_000);
    const look = () => {
      const m = /"event":"listening","address":"127\.0\.0\.1:(\d+)"/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stderr?.on("data", look);
    child.on("exit", () => reject(new Error(`exited: ${stderr}`)));
  });
  return { port, stderr: () => stderr };
}

/** Until /readyz answers 200 (the informers have synced). */
async function ready(port: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await get(port, "/readyz")) !== 200) {
    assert.ok(Date.now() < deadline, `never ready: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const deletion = (uid: string) =>
  JSON.stringify({
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      operation: "DELETE",
      resource: { group: "", version: "v1", resource: "persistentvolumeclaims" },
      name: SIMULATED.primaryPvc,
      namespace: "shop",
      userInfo: { username: "alice@example.com", groups: ["sre"] },
      oldObject: { metadata: { name: SIMULATED.primaryPvc, namespace: "shop" } },
    },
  });

before(async () => {
  cluster = await startFakeCluster();
  await cluster.writeKubeconfig(kubeconfig);
  cert = makeCert(work.dir, "serve");
  writeFileSync(
    path.join(work.dir, "lifeline.yaml"),
    `assets:
  shop:
    url: postgres://127.0.0.1:5432/unused
    tier: production
    kubernetes:
      namespace: shop
      release: postgresql
kubernetes:
  kubeconfig: kubeconfig
serve:
  listen: 127.0.0.1:0
  tls:
    cert: ${cert.cert}
    key: ${cert.key}
`,
  );
});

after(async () => {
  await cluster.close();
  work.remove();
});

describe("lifeline serve, run as a process", () => {
  it("denies the incident's deletion over HTTPS, and SIGTERM lets the request in flight finish, exit 0", async () => {
    const { child, done } = startCli(["serve"], { cwd: work.dir });
    const { port, stderr: logged } = await listening(child);
    assert.equal(await get(port, "/healthz"), 200);
    // Ready once its informers have synced the cluster (until then, protected requests are denied).
    await ready(port, logged);
    assert.match(logged(), /"event":"cache-synced","resource":"persistentvolumeclaims"/);
    const denied = await post(port, deletion("uid-1"));
    assert.equal(denied.status, 200);
    const doc = JSON.parse(denied.body) as {
      response: { uid: string; allowed: boolean; status: { message: string } };
    };
    assert.equal(doc.response.uid, "uid-1");
    assert.equal(doc.response.allowed, false);
    assert.match(
      doc.response.status.message,
      /lifeline run -- kubectl delete pvc data-postgresql-primary-0 -n shop/,
    );
    assert.equal(await get(port, "/readyz"), 200, logged());
    // The very plan `lifeline plan -- kubectl …` shows (same code path, same plan id).
    const shown = await cli(
      ["plan", "--json", "--", "kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"],
      {
        cwd: work.dir,
      },
    );
    const planId = (JSON.parse(shown.stdout) as { planId: string }).planId;
    assert.match(doc.response.status.message, new RegExp(`\\(plan ${planId.slice(0, 12)}\\)`));
    // SIGTERM once the second request is sent: it is still answered, then the process exits 0.
    const inFlight = post(port, deletion("uid-2"), () => setTimeout(() => child.kill("SIGTERM"), 20));
    const answered = await inFlight;
    assert.equal(answered.status, 200);
    assert.equal((JSON.parse(answered.body) as { response: { uid: string } }).response.uid, "uid-2");
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stderr
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const decisions = lines.filter((l) => l.event === "admission");
    assert.equal(decisions.length, 2);
    assert.equal(decisions[0]?.decision, "denied");
    assert.equal(decisions[0]?.user, "alice@example.com");
    assert.ok(lines.some((l) => l.event === "stopped"));
    assert.doesNotMatch(result.stderr, /BEGIN|PRIVATE KEY/);
    const audit = await cli(["audit", "--json", "--kind", "admission"], { cwd: work.dir });
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /alice@example\.com/);
  });

  it("starts with the starter lifeline.yaml of lifeline k8s install (no asset yet), says so, and judges claims as unbound data", async () => {
    const objects = installObjects({ namespace: "lifeline", replicas: 2, certManager: false, image: "img" });
    const map = objects.find((o) => o.kind === "ConfigMap") as unknown as { data: Record<string, string> };
    const starter = path.join(work.dir, "starter");
    mkdirSync(starter, { recursive: true });
    writeFileSync(
      path.join(starter, "lifeline.yaml"),
      (map.data["lifeline.yaml"] ?? "")
        .replace(/listen: 0\.0\.0\.0:\d+/, "listen: 127.0.0.1:0")
        .replace("/tls/tls.crt", cert.cert)
        .replace("/tls/tls.key", cert.key),
    );
    const { child, done } = startCli(["serve"], {
      cwd: starter,
      env: { LIFELINE_CATALOG_URL: path.join(starter, "catalog.sqlite"), KUBECONFIG: kubeconfig },
    });
    const { port, stderr: logged } = await listening(child);
    assert.match(logged(), /"event":"no-assets".*lists no assets.*judged as unbound/);
    const judged = JSON.parse((await post(port, deletion("uid-starter"))).body) as {
      response: { allowed: boolean; status: { message: string } };
    };
    assert.equal(judged.response.allowed, false);
    assert.match(judged.response.status.message, /lifeline run -- kubectl delete pvc/);
    child.kill("SIGTERM");
    assert.equal((await done).code, 0);
  });

  it("--shutdown-delay: on SIGTERM it reports not ready and goes on answering for the delay, then exits 0", async () => {
    const { child, done } = startCli(["serve", "--shutdown-delay", "2"], { cwd: work.dir });
    const { port, stderr } = await listening(child);
    await ready(port, stderr);
    const signalled = Date.now();
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    // While Kubernetes takes the pod out of the endpoints: not ready, and requests still answered,
    // each closing its connection (the API server's next one goes to a replica that stays).
    assert.equal(await get(port, "/readyz"), 503);
    const during = await post(port, deletion("uid-draining"));
    assert.equal(during.status, 200);
    assert.equal(during.connection, "close");
    assert.equal((JSON.parse(during.body) as { response: { uid: string } }).response.uid, "uid-draining");
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Date.now() - signalled >= 1_900, `exited ${Date.now() - signalled} ms after SIGTERM`);
    assert.match(result.stderr, /"event":"draining","seconds":2/);
    assert.match(result.stderr, /"event":"stopped"/);
  });

  it("--shutdown-delay: a second signal during the drain stops it at once; a bad value is refused", async () => {
    const { child, done } = startCli(["serve", "--shutdown-delay", "60"], { cwd: work.dir });
    const { port, stderr } = await listening(child);
    await ready(port, stderr);
    const signalled = Date.now();
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    const result = await done;
    assert.equal(result.code, 130, result.stderr);
    assert.ok(Date.now() - signalled < 10_000);
    // Plain decimal seconds from 0 to 300 (Number() alone read 0x10 as 16 s and 1e2 as 100 s).
    for (const value of ["soon", "0x10", "1e2", "-1", "301"]) {
      const bad = await cli(["serve", "--shutdown-delay", value], { cwd: work.dir });
      assert.equal(bad.code, 2, `${value}: ${bad.stderr}`);
      assert.match(bad.stderr, /--shutdown-delay ".*" is not a number of seconds from 0 to 300/);
      assert.doesNotMatch(bad.stderr, / {4}at /);
    }
  });

  it("says what is missing without a certificate", async () => {
    const r = await cli(["serve", "-c", path.join(work.dir, "lifeline.yaml"), "--tls-cert", cert.cert], {
      cwd: work.dir,
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--tls-cert and --tls-key go together/);
  });
});

describe("kubectl lifeline (the plugin, through the real kubectl)", () => {
  it("is discovered on PATH and maps `kubectl lifeline plan delete pvc …` to lifeline plan -- kubectl …", async () => {
    const bin = path.join(work.dir, "bin");
    mkdirSync(bin, { recursive: true });
    const plugin = path.join(path.dirname(CLI), "kubectl-lifeline.js");
    chmodSync(plugin, 0o755);
    symlinkSync(plugin, path.join(bin, "kubectl-lifeline"));
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, LIFELINE_CONFIG: "" };
    const kubectl = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile("/usr/bin/kubectl", args, { cwd: work.dir, env }, (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const list = await kubectl(["plugin", "list"]);
    assert.match(list.stdout, /kubectl-lifeline/, list.stderr);
    const viaPlugin = await kubectl([
      "lifeline",
      "plan",
      "--json",
      "delete",
      "pvc",
      SIMULATED.primaryPvc,
      "-n",
      "shop",
    ]);
    assert.equal(viaPlugin.code, 3, viaPlugin.stderr);
    const direct = await cli(
      ["plan", "--json", "--", "kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"],
      {
        cwd: work.dir,
      },
    );
    assert.equal(direct.code, 3, direct.stderr);
    const a = JSON.parse(viaPlugin.stdout) as { planId: string; verdict: string; command: { text: string } };
    const b = JSON.parse(direct.stdout) as { planId: string };
    assert.equal(a.verdict, "require");
    assert.equal(a.command.text, `kubectl delete pvc ${SIMULATED.primaryPvc} -n shop`);
    assert.equal(a.planId, b.planId, "the same plan");
  });
});
