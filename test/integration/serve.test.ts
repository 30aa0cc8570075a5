/**
 * `lifeline serve`'s webhook over real HTTPS (a certificate made by openssl), against the simulated
 * cluster (@kubernetes/client-node over HTTP) and a SQLite catalog: the same planCommand and gate
 * as `lifeline plan -- kubectl …` and `lifeline run`.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import os from "node:os";
import path from "node:path";
import { connect as connectTls, type TLSSocket } from "node:tls";
import { after, before, beforeEach, describe, it } from "node:test";
import { judgeAdmission, type AdmissionDeps } from "../../src/app/admission.js";
import { approve } from "../../src/app/approve.js";
import { breakGlass } from "../../src/app/break-glass.js";
import { recordPlan, type GateDeps } from "../../src/app/gate.js";
import { planCommand } from "../../src/app/plan-command.js";
import { openCatalog } from "../../src/catalog/index.js";
import type { ResolvedAsset } from "../../src/config/load.js";
import { DEFAULT_POLICY, UNBOUND_RULE, type PolicyRule } from "../../src/core/plan/policy.js";
import { KubernetesCluster } from "../../src/kubernetes/cluster.js";
import { readManifests } from "../../src/kubernetes/manifests.js";
import type { Catalog } from "../../src/ports/catalog.js";
import { systemClock } from "../../src/ports/clock.js";
import type { Logger } from "../../src/serve/log.js";
import { readinessProbe, sharedCatalog } from "../../src/serve/serve.js";
import { startServer, type Readiness, type RunningServer } from "../../src/serve/server.js";
import { testContext } from "../support/context.js";
import { SIMULATED, startFakeCluster, type FakeCluster } from "../support/fake-k8s.js";
import { makeCert, type TestCert } from "../support/tls-certs.js";

const shop: ResolvedAsset = {
  name: "shop",
  engine: "postgres",
  url: "postgres://127.0.0.1:5432/unused",
  tier: "production",
  rpoSeconds: 86400,
  scratch: "embedded",
  drillJobs: 1,
  kubernetes: { namespace: "shop", release: "postgresql", pvcSelector: null, context: null },
};

/** Approvals only (break-glass waives approvals, not restore points), and the default unprotect rule. */
const POLICY: PolicyRule[] = [
  {
    name: "production-destructive",
    match: { tier: ["production"], dataLoss: ["destructive", "unknown"] },
    require: { approvals: 1 },
  },
  ...DEFAULT_POLICY.filter((r) => r.name === "production-unprotect"),
  UNBOUND_RULE,
];

let cluster: FakeCluster;
let dir: string;
let kubeconfig: string;
let catalog: Catalog;
let cert: TestCert;
let tls: { cert: string; key: string };
let server: RunningServer;
const logs: Record<string, unknown>[] = [];
const logger: Logger = { log: (level, event, fields) => logs.push({ level, event, ...fields }) };

function planDeps(): AdmissionDeps["plan"] {
  return {
    deps: {
      ctx: testContext(path.join(dir, "repository")),
      cluster: (s) => new KubernetesCluster(s, {}),
      readManifests: (files, recursive) => readManifests(files, recursive, dir),
    },
    options: {
      assets: [shop],
      policy: POLICY,
      kubernetes: { kubeconfig, context: null, clusterDomain: "cluster.local" },
    },
  };
}

function admissionDeps(open: () => Promise<Catalog> = async () => catalog): AdmissionDeps {
  return {
    plan: planDeps(),
    catalog: open,
    clock: systemClock,
    host: "test",
    warn: () => undefined,
    identities: { carol: { kubernetes: { users: [], groups: ["oncall"] } } },
  };
}

async function serve(
  deps: AdmissionDeps,
  readiness: () => Promise<Readiness> = async () => ({ ready: true, reason: null }),
) {
  return startServer({
    host: "127.0.0.1",
    port: 0,
    tls,
    // A denial's audit entry is committed just after its answer (judgeAdmission's `recorded`):
    // these tests read the log the moment they have the answer, so they wait for it here.
    admit: async (body) => {
      const outcome = await judgeAdmission(deps, body);
      await outcome.recorded;
      return outcome;
    },
    readiness,
    log: logger,
    tlsPollMs: 50,
  });
}

interface Reply {
  status: number;
  body: string;
  fingerprint: string;
}

function call(
  s: RunningServer,
  method: string,
  pathname: string,
  body?: string | Buffer,
  ca: string = cert.pem,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: s.port,
        method,
        path: pathname,
        ca,
        agent: false,
        headers: { "Content-Type": "application/json" },
      },
      (res) => {
        let text = "";
        const fingerprint = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, fingerprint }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

interface ReviewResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  warnings?: string[];
}

let seq = 0;
function review(request: Record<string, unknown>) {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: `uid-${++seq}`,
      userInfo: { username: "alice@example.com", groups: ["sre", "system:authenticated"] },
      ...request,
    },
  };
}

const claim = (name: string, extra: Record<string, unknown> = {}) => ({
  operation: "DELETE",
  resource: { group: "", version: "v1", resource: "persistentvolumeclaims" },
  name,
  namespace: "shop",
  oldObject: { metadata: { name, namespace: "shop" } },
  ...extra,
});

async function validate(body: unknown, s: RunningServer = server): Promise<ReviewResponse> {
  const reply = await call(s, "POST", "/validate", JSON.stringify(body));
  assert.equal(reply.status, 200, reply.body);
  const doc = JSON.parse(reply.body) as { apiVersion: string; kind: string; response: ReviewResponse };
  assert.equal(doc.apiVersion, "admission.k8s.io/v1");
  assert.equal(doc.kind, "AdmissionReview");
  return doc.response;
}

async function retainPrimary() {
  await cluster.core.patchPersistentVolume({
    name: SIMULATED.primaryPv,
    body: [{ op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Retain" }],
  });
}

const gate = (id: string): GateDeps => ({
  catalog,
  identity: { id, source: "env", host: "h", authenticated: false },
  clock: systemClock,
  notify: async () => [],
  warn: () => undefined,
});

before(async () => {
  cluster = await startFakeCluster();
  dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-serve-"));
  kubeconfig = path.join(dir, "kubeconfig");
  writeFileSync(kubeconfig, cluster.kubeconfig, { mode: 0o600 });
  catalog = await openCatalog(path.join(dir, "catalog.sqlite"));
  cert = makeCert(dir, "first");
  tls = { cert: path.join(dir, "tls.crt"), key: path.join(dir, "tls.key") };
  copyFileSync(cert.cert, tls.cert);
  copyFileSync(cert.key, tls.key);
  server = await serve(admissionDeps());
});

after(async () => {
  await server.close();
  await catalog.close();
  await cluster.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => cluster.reset());

describe("POST /validate", () => {
  it("denies deleting the production claim whose volume is Delete, saying what, why and how; records who", async () => {
    const r = await validate(review(claim(SIMULATED.primaryPvc)));
    assert.equal(r.allowed, false);
    assert.equal(r.uid, `uid-${seq}`);
    assert.equal(r.status?.code, 403);
    const m = r.status?.message ?? "";
    assert.match(m, /^lifeline requires more before this change \(plan [0-9a-f]{12}\):/);
    assert.match(m, /DESTRUCTIVE pvc shop\/data-postgresql-primary-0 \(8 GiB\): .*reclaim policy Delete/);
    assert.match(m, /asset shop \(production\): no .*restore point/);
    assert.match(m, /required: .*approval/);
    assert.match(m, /see the plan: lifeline plan -- kubectl delete pvc data-postgresql-primary-0 -n shop/);
    assert.match(
      m,
      /run it through lifeline: lifeline run -- kubectl delete pvc data-postgresql-primary-0 -n shop/,
    );
    assert.ok(m.split("\n").length <= 8, m);
    assert.equal(r.warnings, undefined, "warnings only on a dry run");
    const [entry] = await catalog.audit({ kind: "admission", limit: 1000 }).then((e) => e.slice(-1));
    assert.equal(entry?.identity, "alice@example.com");
    assert.equal(entry?.asset, "shop");
    assert.equal(entry?.data.result, "denied");
    assert.deepEqual(entry?.data.groups, ["sre", "system:authenticated"]);
    assert.equal(entry?.data.command, "kubectl delete pvc data-postgresql-primary-0 -n shop");
    assert.equal(entry?.data.dryRun, false);
    const line = [...logs].reverse().find((l) => l.event === "admission");
    assert.equal(line?.decision, "denied");
    assert.equal(line?.user, "alice@example.com");
  });

  it("allows deleting a claim whose volume is Retain (recorded: it is an asset's)", async () => {
    await retainPrimary();
    const before = (await catalog.audit({ kind: "admission" })).length;
    const r = await validate(review(claim(SIMULATED.primaryPvc)));
    assert.equal(r.allowed, true, r.status?.message);
    const entries = await catalog.audit({ kind: "admission" });
    assert.equal(entries.length, before + 1);
    assert.equal(entries.at(-1)?.data.result, "allowed");
  });

  it("denies deleting the namespace", async () => {
    const r = await validate(
      review({
        operation: "DELETE",
        resource: { group: "", version: "v1", resource: "namespaces" },
        name: "shop",
        namespace: "shop",
        oldObject: { metadata: { name: "shop" } },
      }),
    );
    assert.equal(r.allowed, false);
    assert.match(r.status?.message ?? "", /namespace shop/);
    assert.match(r.status?.message ?? "", /lifeline run -- kubectl delete namespace shop/);
  });

  it("denies patching a production volume's reclaim policy to Delete", async () => {
    await retainPrimary();
    const pv = (name: string, policy: string) => ({
      metadata: { name },
      spec: { persistentVolumeReclaimPolicy: policy },
    });
    const r = await validate(
      review({
        operation: "UPDATE",
        resource: { group: "", version: "v1", resource: "persistentvolumes" },
        name: SIMULATED.primaryPv,
        oldObject: pv(SIMULATED.primaryPv, "Retain"),
        object: pv(SIMULATED.primaryPv, "Delete"),
      }),
    );
    assert.equal(r.allowed, false, JSON.stringify(r));
    assert.match(
      r.status?.message ?? "",
      /kubectl patch pv .* -p '\{"spec":\{"persistentVolumeReclaimPolicy":"Delete"\}\}'/,
    );
  });

  it("a dry run gets the same decision and the plan as warnings", async () => {
    const denied = await validate(review(claim(SIMULATED.primaryPvc, { dryRun: true })));
    assert.equal(denied.allowed, false);
    assert.match(denied.warnings?.[0] ?? "", /^lifeline: verdict require \(plan [0-9a-f]{12}\)$/);
    assert.ok(denied.warnings?.some((w) => /DESTRUCTIVE pvc shop\/data-postgresql-primary-0/.test(w)));
    assert.ok(
      denied.warnings?.some((w) => /depends on it: .*feed-generator/.test(w)),
      denied.warnings?.join("\n"),
    );
    const entry = (await catalog.audit({ kind: "admission" })).at(-1);
    assert.equal(entry?.data.dryRun, true, "a dry run's decision is recorded too, marked");
    await retainPrimary();
    const allowed = await validate(review(claim(SIMULATED.primaryPvc, { dryRun: true })));
    assert.equal(allowed.allowed, true);
    assert.ok(allowed.warnings?.some((w) => /verdict allow/.test(w)));
    assert.ok(allowed.warnings?.every((w) => w.length <= 250));
  });

  it("an approved plan is still denied: approvals are used by lifeline run, which the message names", async () => {
    const argv = ["kubectl", "delete", "pvc", SIMULATED.primaryPvc, "-n", "shop"];
    const { deps, options } = planDeps();
    const plan = await planCommand({ ...deps, signal: new AbortController().signal }, argv, options);
    await recordPlan(gate("alice@example.com"), plan, {});
    await approve(gate("bob@example.com"), { planId: plan.planId, comment: null, ttlSeconds: 600 });
    const r = await validate(review(claim(SIMULATED.primaryPvc)));
    assert.equal(r.allowed, false);
    assert.match(
      r.status?.message ?? "",
      new RegExp(
        `plan ${plan.planId.slice(0, 12)} is approved, but an approval is used by the execution it authorises`,
      ),
    );
    assert.match(r.status?.message ?? "", /lifeline run -- kubectl delete pvc/);
    // Nothing was used: lifeline run can still use the approval.
    assert.equal((await catalog.audit({ kind: "use" })).length, 0);
    // lifeline run executing it as Kubernetes user dave: dave's request is the run's, alice's is not.
    const running = await catalog.appendAudit({
      at: new Date().toISOString(),
      kind: "run",
      identity: "alice@example.com",
      host: "test",
      asset: "shop",
      planId: plan.planId,
      data: { status: "executing", kubernetesUser: { username: "dave@example.com", groups: [] } },
    });
    const other = await validate(review(claim(SIMULATED.primaryPvc)));
    assert.equal(other.allowed, false, "another user's request in the run's window");
    const denied = (await catalog.audit({ kind: "admission" })).at(-1);
    assert.match(
      String(denied?.data.reason),
      /executes this plan as Kubernetes user dave@example\.com, not alice@example\.com/,
    );
    const dave = review(claim(SIMULATED.primaryPvc));
    (dave.request.userInfo as { username: string }).username = "dave@example.com";
    const r2 = await validate(dave);
    assert.equal(r2.allowed, true, r2.status?.message);
    assert.equal((await catalog.audit({ kind: "admission" })).at(-1)?.data.run, running.seq);
    await catalog.appendAudit({
      at: new Date().toISOString(),
      kind: "run",
      identity: "alice@example.com",
      host: "test",
      asset: "shop",
      planId: plan.planId,
      data: { status: "executed", result: "succeeded" },
    });
    assert.equal((await validate(dave)).allowed, false, "the run has finished");
  });

  it("an active break-glass grant counts for the Kubernetes users and groups its identity is mapped to, audited", async () => {
    // A grant whose identity merely equals a Kubernetes username is not a mapping: it lets nobody through.
    await breakGlass(gate("erin@example.com"), {
      asset: "shop",
      seconds: 600,
      maxSeconds: 3600,
      reason: "INC-0",
    });
    const erin = review(claim(SIMULATED.primaryPvc));
    erin.request.userInfo = { username: "erin@example.com", groups: ["system:authenticated"] };
    assert.equal((await validate(erin)).allowed, false);
    const grant = await breakGlass(gate("carol"), {
      asset: "shop",
      seconds: 600,
      maxSeconds: 3600,
      reason: "INC-1 restore",
    });
    const carol = review(claim(SIMULATED.primaryPvc));
    carol.request.userInfo = { username: "carol@example.com", groups: ["oncall", "system:authenticated"] };
    const r = await validate(carol);
    assert.equal(r.allowed, true, r.status?.message);
    const entry = (await catalog.audit({ kind: "admission" })).at(-1);
    assert.equal(entry?.identity, "carol@example.com");
    assert.equal(entry?.data.breakGlass, grant.id);
    assert.equal(entry?.data.lifelineIdentity, "carol");
    assert.deepEqual(entry?.data.via, { group: "oncall" });
    assert.equal(entry?.data.grantReason, "INC-1 restore");
    assert.match(
      String(entry?.data.reason),
      /break-glass grant bg-\w+ of carol \(Kubernetes group oncall\): INC-1 restore/,
    );
    // Alice has no grant: still denied.
    assert.equal((await validate(review(claim(SIMULATED.primaryPvc)))).allowed, false);
  });

  it("break-glass grants are read only for a user mapped to a lifeline identity (one catalog read less for everyone else)", async () => {
    let grantReads = 0;
    const counting = Object.create(catalog) as Catalog;
    counting.breakGlass = (...args: Parameters<Catalog["breakGlass"]>) => {
      grantReads++;
      return catalog.breakGlass(...args);
    };
    const s = await serve(admissionDeps(async () => counting));
    try {
      // alice@example.com is mapped to no identity: denied, no grant read.
      assert.equal((await validate(review(claim(SIMULATED.primaryPvc)), s)).allowed, false);
      assert.equal(grantReads, 0);
      // carol@example.com is in group oncall, mapped to carol: her grants are read.
      const carol = review(claim(SIMULATED.primaryPvc));
      carol.request.userInfo = { username: "carol@example.com", groups: ["oncall", "system:authenticated"] };
      await validate(carol, s);
      assert.equal(grantReads, 1);
    } finally {
      await s.close();
    }
  });

  it("the control plane passes only finishing a decision taken: the garbage collector deleting a claim a lifeline run destroys", async () => {
    const uidOf = (name: string) =>
      cluster.objects("PersistentVolumeClaim", "shop").find((c) => c.metadata.name === name)?.metadata.uid ??
      "";
    const run = await catalog.appendAudit({
      at: new Date().toISOString(),
      kind: "run",
      identity: "alice@example.com",
      host: "test",
      asset: "shop",
      planId: "p-scale-down",
      data: {
        status: "executing",
        command: "kubectl scale statefulset postgresql-read --replicas=0 -n shop",
        destroys: [uidOf(SIMULATED.readPvc)],
      },
    });
    const as = (username: string, name: string) => {
      const r = review(
        claim(name, { oldObject: { metadata: { name, namespace: "shop", uid: uidOf(name) } } }),
      );
      r.request.userInfo = { username, groups: ["system:serviceaccounts", "system:authenticated"] };
      return r;
    };
    const gc = "system:serviceaccount:kube-system:generic-garbage-collector";
    const finished = await validate(as(gc, SIMULATED.readPvc));
    assert.equal(finished.allowed, true, finished.status?.message);
    const entry = (await catalog.audit({ kind: "admission" })).at(-1);
    assert.equal(entry?.identity, gc);
    assert.equal(entry?.data.finishes, run.seq);
    assert.match(
      String(entry?.data.reason),
      /the garbage collector finishing allowed decision \d+ \(kubectl scale/,
    );
    // The same username about a claim no decision destroys, and a person about this one: judged as anyone's.
    assert.equal((await validate(as(gc, SIMULATED.mongoPvcs[1]))).allowed, false);
    assert.equal((await validate(as("alice@example.com", SIMULATED.readPvc))).allowed, false);
  });

  it("a control-plane request reads only the decisions that destroy its object (by uid, indexed), never the day's log", async () => {
    // Every denial is recorded: a day's log can hold millions of entries, and a namespace deletion
    // sends one request per object. Reading them all for each took 0.4 s per 50,000 entries.
    const reads: unknown[] = [];
    const counting = Object.create(catalog) as Catalog;
    counting.audit = (...args: Parameters<Catalog["audit"]>) => {
      reads.push(args[0]);
      return catalog.audit(...args);
    };
    counting.auditDestroying = (...args: Parameters<Catalog["auditDestroying"]>) => {
      reads.push({ destroying: args[0] });
      return catalog.auditDestroying(...args);
    };
    const uid =
      cluster.objects("PersistentVolumeClaim", "shop").find((c) => c.metadata.name === SIMULATED.primaryPvc)
        ?.metadata.uid ?? "";
    const r = review(
      claim(SIMULATED.primaryPvc, {
        oldObject: { metadata: { name: SIMULATED.primaryPvc, namespace: "shop", uid } },
      }),
    );
    r.request.userInfo = {
      username: "system:serviceaccount:kube-system:namespace-controller",
      groups: ["system:serviceaccounts", "system:authenticated"],
    };
    const s = await serve(admissionDeps(async () => counting));
    try {
      await validate(r, s);
      assert.deepEqual(
        reads.filter((x) => (x as { kind?: string }).kind === "admission"),
        [],
        "no read of all admission entries",
      );
      assert.deepEqual(
        reads.filter((x) => "destroying" in (x as object)),
        [{ destroying: uid }],
      );
    } finally {
      await s.close();
    }
  });
});

describe("bad input and failures: a defined answer, a log line, never a crash", () => {
  it("malformed JSON and an oversized body: HTTP errors (the API server's failurePolicy Fail denies)", async () => {
    const bad = await call(server, "POST", "/validate", "{not json");
    assert.equal(bad.status, 400);
    assert.match(bad.body, /not JSON/);
    const big = await call(server, "POST", "/validate", Buffer.alloc(3 * 1024 * 1024 + 10, 0x20));
    assert.equal(big.status, 413);
    const noReview = await call(server, "POST", "/validate", "[]");
    assert.equal(noReview.status, 400);
    assert.ok(logs.some((l) => l.event === "admission-rejected" && /not JSON/.test(String(l.reason))));
    assert.equal((await call(server, "GET", "/healthz")).status, 200, "still serving");
  });

  it("an unknown apiVersion or kind: denied with the request's uid", async () => {
    const r = await validate({ ...review(claim("x")), apiVersion: "admission.k8s.io/v1beta1" });
    assert.equal(r.allowed, false);
    assert.equal(r.uid, `uid-${seq}`);
    assert.match(r.status?.message ?? "", /admissionReviewVersions: \["v1"\]/);
  });

  it("a DELETE without oldObject is denied; a resource the webhook does not judge is allowed", async () => {
    const none = await validate(review(claim(SIMULATED.primaryPvc, { oldObject: undefined })));
    assert.equal(none.allowed, false);
    assert.match(none.status?.message ?? "", /no oldObject/);
    const pod = await validate(
      review({
        operation: "DELETE",
        resource: { group: "", version: "v1", resource: "pods" },
        name: "x",
        namespace: "shop",
        oldObject: { metadata: { name: "x" } },
      }),
    );
    assert.deepEqual(pod, { uid: `uid-${seq}`, allowed: true });
  });

  it("the cluster unreadable: protected requests denied with the reason", async () => {
    const lift = cluster.server.forbid("/api/v1/persistentvolumes");
    try {
      const r = await validate(review(claim(SIMULATED.primaryPvc)));
      assert.equal(r.allowed, false);
      assert.match(r.status?.message ?? "", /could be read|cannot read|forbidden/i);
    } finally {
      lift();
    }
  });

  it("the catalog unavailable: protected requests denied with the reason, /readyz 503", async () => {
    const blocked = path.join(dir, "not-a-dir");
    writeFileSync(blocked, "");
    const shared = sharedCatalog(() => openCatalog(path.join(blocked, "catalog.sqlite")), 0);
    const down = await serve(
      admissionDeps(() => shared.get()),
      readinessProbe([{ name: "catalog", check: async () => void (await shared.get()) }], 0),
    );
    try {
      const r = await validate(review(claim(SIMULATED.primaryPvc)), down);
      assert.equal(r.allowed, false);
      assert.match(r.status?.message ?? "", /the catalog is unavailable/);
      const ready = await call(down, "GET", "/readyz");
      assert.equal(ready.status, 503);
      assert.match(ready.body, /^not ready: catalog: /);
      // Not protected (no asset, verdict allow): allowed without the catalog.
      const pod = await validate(review(claim("no-such-claim")), down);
      assert.equal(pod.allowed, true, pod.status?.message);
    } finally {
      await down.close();
    }
  });
});

describe("a slow catalog, and certificates refused at start-up", () => {
  it("a catalog that does not answer: denied within the request's time, with the reason", async () => {
    const hung = await serve({
      ...admissionDeps(() => new Promise<Catalog>(() => undefined)),
      timeoutMs: 300,
    });
    try {
      const started = Date.now();
      const r = await validate(review(claim(SIMULATED.primaryPvc)), hung);
      assert.equal(r.allowed, false);
      assert.match(r.status?.message ?? "", /the catalog did not answer within 0\.3 s/);
      assert.ok(Date.now() - started < 5_000);
    } finally {
      await hung.close();
    }
  });

  /** The catalog, its appends held until released (or failed), and a server that does not wait for them. */
  async function heldAppends(warn?: (m: string) => void) {
    let release!: (failure?: Error) => void;
    const gate = new Promise<Error | undefined>((resolve) => (release = resolve));
    const held = Object.create(catalog) as Catalog;
    held.appendAudit = async (...args: Parameters<Catalog["appendAudit"]>) => {
      const failure = await gate;
      if (failure) throw failure;
      return catalog.appendAudit(...args);
    };
    const warnings: string[] = [];
    const deps = { ...admissionDeps(async () => held), warn: warn ?? ((m: string) => void warnings.push(m)) };
    const s = await startServer({
      host: "127.0.0.1",
      port: 0,
      tls,
      admit: (body) => judgeAdmission(deps, body),
      readiness: async () => ({ ready: true, reason: null }),
      log: logger,
    });
    return { s, release, warnings };
  }
  const entriesAbout = async (uid: string) =>
    (await catalog.audit({ kind: "admission" })).filter((e) => e.data.uid === uid);

  it("a denial is answered without waiting for its audit entry, which follows; close() waits for it", async () => {
    const { s, release } = await heldAppends();
    const body = review(claim(SIMULATED.primaryPvc));
    const r = await validate(body, s);
    assert.equal(r.allowed, false);
    assert.match(r.status?.message ?? "", /requires more before this change/);
    assert.equal((await entriesAbout(body.request.uid)).length, 0, "answered before the entry was committed");
    const closed = s.close();
    release();
    await closed;
    const [entry] = await entriesAbout(body.request.uid);
    assert.equal(entry?.data.result, "denied");
    assert.equal(entry?.identity, "alice@example.com");
  });

  it("a request let through is answered only once its audit entry is recorded", async () => {
    await retainPrimary();
    const { s, release } = await heldAppends();
    try {
      const body = review(claim(SIMULATED.primaryPvc));
      let answered = false;
      const reply = validate(body, s).then((r) => ((answered = true), r));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(answered, false, "not let through before its entry is recorded");
      release();
      const r = await reply;
      assert.equal(r.allowed, true, r.status?.message);
      assert.equal((await entriesAbout(body.request.uid))[0]?.data.result, "allowed");
    } finally {
      await s.close();
    }
  });

  it("a denial whose entry cannot be recorded is still the denial, and the failure is logged", async () => {
    const { s, release, warnings } = await heldAppends();
    release(new Error("disk I/O error"));
    try {
      const r = await validate(review(claim(SIMULATED.primaryPvc)), s);
      assert.equal(r.allowed, false);
      assert.match(r.status?.message ?? "", /requires more before this change/);
    } finally {
      await s.close();
    }
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0]!,
      /could not record its decision about pvc shop\/data-postgresql-primary-0 \(denied, alice@example.com\) in the audit log: disk I\/O error/,
    );
  });

  it("a log that throws while a denial's failed entry is reported: no crash, close() still returns", async () => {
    let unhandled: unknown = null;
    const onUnhandled = (reason: unknown) => (unhandled = reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const { s, release } = await heldAppends(() => {
        throw new Error("stderr is gone");
      });
      release(new Error("disk I/O error"));
      const r = await validate(review(claim(SIMULATED.primaryPvc)), s);
      assert.equal(r.allowed, false);
      await s.close();
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(unhandled, null, String(unhandled));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("an expired certificate, or a key of another certificate, does not start the server", async () => {
    const expired = makeCert(dir, "old", { expired: true });
    await assert.rejects(
      startServer({
        host: "127.0.0.1",
        port: 0,
        tls: expired,
        admit: async () => assert.fail(),
        readiness: async () => ({ ready: true, reason: null }),
        log: logger,
      }),
      (e: Error & { code?: string }) =>
        e.code === "SERVE_TLS_INVALID" && /expired on 2020-01-02/.test(e.message),
    );
    const other = makeCert(dir, "other");
    await assert.rejects(
      startServer({
        host: "127.0.0.1",
        port: 0,
        tls: { cert: other.cert, key: cert.key },
        admit: async () => assert.fail(),
        readiness: async () => ({ ready: true, reason: null }),
        log: logger,
      }),
      /the key does not belong to the certificate/,
    );
  });
});

describe("closing", () => {
  it("a request on a connection opened before close() is answered not ready, and its connection closed", async () => {
    const s = await serve(admissionDeps());
    const socket = connectTls({ host: "127.0.0.1", port: s.port, ca: cert.pem });
    await new Promise((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
    // No request yet: closeIdleConnections() leaves such a connection open.
    const closing = s.close();
    let reply = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (reply += c));
    const ended = new Promise((resolve) => socket.once("close", resolve));
    socket.write("GET /readyz HTTP/1.1\r\nHost: lifeline\r\n\r\n");
    await ended;
    await closing;
    assert.match(reply, /^HTTP\/1\.1 503/);
    assert.match(reply, /\r\nconnection: close\r\n/i);
    assert.match(reply, /not ready: shutting down/);
  });
});

describe("health, readiness, metrics, certificates", () => {
  it("/healthz, /readyz and /metrics", async () => {
    assert.equal((await call(server, "GET", "/healthz")).body, "ok\n");
    assert.equal((await call(server, "GET", "/readyz")).status, 200);
    const m = await call(server, "GET", "/metrics");
    assert.equal(m.status, 200);
    assert.match(
      m.body,
      /lifeline_admission_requests_total\{verdict="denied",resource="persistentvolumeclaims",operation="DELETE"\} \d+/,
    );
    assert.match(m.body, /lifeline_admission_duration_seconds_bucket\{le="0\.1",verdict="denied"\} \d+/);
    assert.match(m.body, /process_cpu_seconds_total/);
    assert.equal((await call(server, "GET", "/nope")).status, 404);
    assert.equal((await call(server, "GET", "/validate")).status, 405);
  });

  it("reloads a replaced certificate for new connections; refuses an expired one and keeps serving", async () => {
    assert.equal((await call(server, "GET", "/healthz")).fingerprint, cert.fingerprint);
    const expired = makeCert(dir, "expired", { expired: true });
    copyFileSync(expired.cert, tls.cert);
    copyFileSync(expired.key, tls.key);
    await waitFor(() =>
      logs.some((l) => l.event === "tls-reload-refused" && /expired/.test(String(l.reason))),
    );
    assert.equal(
      (await call(server, "GET", "/healthz")).fingerprint,
      cert.fingerprint,
      "the previous pair serves",
    );
    const next = makeCert(dir, "second");
    copyFileSync(next.cert, tls.cert);
    copyFileSync(next.key, tls.key);
    await waitFor(() => logs.some((l) => l.event === "tls-reloaded" && l.fingerprint === next.fingerprint));
    const reply = await call(server, "GET", "/healthz", undefined, next.pem);
    assert.equal(reply.fingerprint, next.fingerprint);
    cert = next;
  });
});

async function waitFor(condition: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) assert.fail("timed out waiting");
    await new Promise((r) => setTimeout(r, 25));
  }
}
