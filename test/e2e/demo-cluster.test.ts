/**
 * `lifeline demo cluster`, as a user starts it: the built CLI as a long-running process, its ready
 * line, the real kubectl with the kubeconfig it printed, SIGTERM, and what is left afterwards. Then
 * the README's walkthrough of the admission webhook: `lifeline k8s install` applied with kubectl,
 * `lifeline serve` started with the certificate from the installed Secret, and a plain
 * `kubectl delete pvc` denied by it through the simulator's mapping of the install's Service.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { cli, cliTmpDir, startCli } from "../support/cli.js";

const work = mkdtempSync(path.join(os.tmpdir(), "lifeline-demo-cluster-e2e-"));
after(() => rmSync(work, { recursive: true, force: true }));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something can listen on the port again (nothing holds it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function kubectl(kubeconfig: string, args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      "kubectl",
      args,
      {
        cwd: work,
        env: { ...process.env, KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(work, "kube-cache") },
        timeout: 60_000,
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** Starts `lifeline demo cluster ARGS` and resolves once `pattern` is in its stdout. */
async function start(args: string[], pattern: RegExp) {
  const proc = startCli(["demo", "cluster", ...args], { cwd: work });
  let stdout = "";
  let stderr = "";
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`lifeline demo cluster was not ready: ${stdout}${stderr}`)),
      30_000,
    );
    proc.child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    proc.child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
      const m = pattern.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    proc.child.once("exit", (code) => reject(new Error(`exited ${code}: ${stdout}${stderr}`)));
  });
  return { ...proc, match, stdout: () => stdout };
}

describe("lifeline demo cluster: a simulated API server for the real kubectl", () => {
  it("prints the export and a ready line; kubectl get pvc -n shop works; SIGTERM stops it, frees the port, removes the kubeconfig and keeps --dir", async () => {
    const port = await freePort();
    const dir = path.join(work, "cluster");
    const proc = await start(["--port", String(port), "--dir", dir], /^ready: (https:\/\/\S+)/m);
    assert.equal(proc.match[1], `https://127.0.0.1:${port}`);
    const exported = /^ {2}export KUBECONFIG=(\S+)$/m.exec(proc.stdout());
    assert.ok(exported, proc.stdout());
    const kubeconfig = exported[1] as string;
    assert.equal(kubeconfig, path.join(dir, "kubeconfig"));
    assert.match(proc.stdout(), /SIMULATED Kubernetes API server \(not a real cluster\)/);
    const text = readFileSync(kubeconfig, "utf8");
    assert.match(text, /certificate-authority-data: \S+/);
    assert.match(text, /token: \S+/);

    const got = await kubectl(kubeconfig, ["get", "pvc", "-n", "shop"]);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, /^data-postgresql-primary-0\s+Bound\s/m);
    // The kubeconfig is what authenticates: without it (no token, no CA) kubectl is refused.
    const wrong = path.join(work, "no-token");
    writeFileSync(wrong, text.replace(/token: \S+/, "token: not-the-token"));
    const refused = await kubectl(wrong, ["get", "pvc", "-n", "shop"]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /Unauthorized|must be logged in/);

    const pid = proc.child.pid as number;
    proc.child.kill("SIGTERM");
    const done = await proc.done;
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stderr, /SIGTERM received/);
    assert.equal(alive(pid), false);
    assert.equal(await portFree(port), true, "the port is free again");
    assert.equal(existsSync(kubeconfig), false, "the kubeconfig is removed");
    assert.equal(existsSync(dir), true, "--dir is kept");
  });

  it("--json: the start-up document; without --dir the temporary directory goes at SIGTERM; the install's webhook Service reaches a local lifeline serve", async () => {
    const webhookPort = await freePort();
    const proc = await start(["--json", "--webhook-url", `https://127.0.0.1:${webhookPort}`], /^\}$/m);
    const doc = JSON.parse(proc.stdout()) as {
      simulated: boolean;
      server: string;
      kubeconfig: string;
      dir: string;
      removedOnStop: string;
      webhook: { service: string; url: string };
    };
    assert.equal(doc.simulated, true);
    assert.match(doc.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(doc.removedOnStop, "directory");
    assert.equal(path.dirname(doc.dir), cliTmpDir());
    assert.deepEqual(doc.webhook, {
      service: "lifeline/lifeline:443",
      url: `https://127.0.0.1:${webhookPort}`,
    });
    const kubeconfig = doc.kubeconfig;

    // The README's walkthrough: install, the certificate from the installed Secret, lifeline serve.
    const install = await cli(["k8s", "install"], { cwd: work });
    assert.equal(install.code, 0, install.stderr);
    const manifest = path.join(work, "lifeline-webhook.yaml");
    writeFileSync(manifest, install.stdout);
    const created = await kubectl(kubeconfig, ["create", "-f", manifest]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(
      created.stdout,
      /validatingwebhookconfiguration.admissionregistration.k8s.io\/lifeline created/,
    );
    for (const [key, file] of [
      ["tls\\.crt", "tls.crt"],
      ["tls\\.key", "tls.key"],
    ] as const) {
      const r = await kubectl(kubeconfig, [
        "-n",
        "lifeline",
        "get",
        "secret",
        "lifeline-tls",
        "-o",
        `jsonpath={.data.${key}}`,
      ]);
      assert.equal(r.code, 0, r.stderr);
      writeFileSync(path.join(work, file), Buffer.from(r.stdout, "base64"));
    }
    // Nothing listens yet: failurePolicy Fail refuses the deletion (fails closed).
    const closed = await kubectl(kubeconfig, ["delete", "pvc", "data-postgresql-primary-0", "-n", "shop"]);
    assert.notEqual(closed.code, 0);
    assert.match(closed.stderr, /failed calling webhook "deletions\.lifeline\.dev"/);

    writeFileSync(path.join(work, "lifeline.yaml"), "assets: {}\n");
    const serve = startCli(
      ["serve", "--tls-cert", "tls.crt", "--tls-key", "tls.key", "--listen", `127.0.0.1:${webhookPort}`],
      { cwd: work, env: { KUBECONFIG: kubeconfig, KUBECACHEDIR: path.join(work, "kube-cache") } },
    );
    try {
      const readyz = () =>
        new Promise<number>((resolve) => {
          request(
            {
              host: "127.0.0.1",
              port: webhookPort,
              path: "/readyz",
              rejectUnauthorized: false,
              agent: false,
            },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          )
            .on("error", () => resolve(0))
            .end();
        });
      const deadline = Date.now() + 30_000;
      while ((await readyz()) !== 200) {
        assert.ok(Date.now() < deadline, "lifeline serve never became ready");
        await new Promise((r) => setTimeout(r, 100));
      }
      const denied = await kubectl(kubeconfig, ["delete", "pvc", "data-postgresql-primary-0", "-n", "shop"]);
      assert.notEqual(denied.code, 0);
      assert.match(
        denied.stderr,
        /admission webhook "deletions\.lifeline\.dev" denied the request: lifeline requires more/,
      );
      const still = await kubectl(kubeconfig, ["get", "pvc", "data-postgresql-primary-0", "-n", "shop"]);
      assert.equal(still.code, 0, still.stderr);
    } finally {
      serve.child.kill("SIGTERM");
      await serve.done;
    }

    const pid = proc.child.pid as number;
    proc.child.kill("SIGTERM");
    const done = await proc.done;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(alive(pid), false);
    assert.equal(await portFree(Number(new URL(doc.server).port)), true);
    assert.equal(existsSync(doc.dir), false, "the temporary directory is removed");
  });

  it("a port in use: exit 1 with the reason and a fix, nothing left behind; a bad --port is a usage error", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const dir = path.join(work, "in-use");
      const r = await cli(["demo", "cluster", "--port", String(port), "--dir", dir, "--json"], { cwd: work });
      assert.equal(r.code, 1, r.stderr);
      const error = (JSON.parse(r.stdout) as { error: { code: string; message: string; fix: string } }).error;
      assert.equal(error.code, "DEMO_CLUSTER_FAILED");
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}: the port is in use`));
      assert.match(error.fix, /--port/);
      assert.equal(existsSync(path.join(dir, "kubeconfig")), false);
    } finally {
      blocker.close();
    }
    const bad = await cli(["demo", "cluster", "--port", "99999"], { cwd: work });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--port "99999" is not a port number/);
    const plain = await cli(["demo", "cluster", "--webhook-url", "http://127.0.0.1:8443"], { cwd: work });
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /is not an https:\/\/ URL/);
  });
});
