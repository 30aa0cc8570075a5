/**
 * Benchmark (not a test): the admission webhook's latency with its informer cache synced over a
 * big cluster, against an allow-all handler on the same server stack.
 *
 *   npm run bench:admission                      # 30 s per handler at 200 requests/s
 *   BENCH_SECONDS=6 npm run bench:admission      # a quick run
 *   BENCH_MIX=retain npm run bench:admission     # only allowed requests (no catalog): the cache's cost
 *   BENCH_RATE=100                               # another rate
 *   BENCH_CATALOG=postgres                       # the catalog in a new database on 127.0.0.1:5432
 *                                                # (dropped after; default: SQLite in a temp dir)
 *   BENCH_PROFILE=/tmp/prof                      # a CPU profile of the webhook process
 *   BENCH_AA=1                                   # A/A control: both ports allow everything (the
 *                                                # difference printed is the machine's noise)
 *   BENCH_COST=1 npm run bench:admission         # in this process, no HTTP: the event loop's busy
 *                                                # time per request by kind (a minute; see cost())
 *
 * Three processes, so that each number means one thing:
 * - the simulated API server (src/demo/cluster) with the incident scenario plus 2,000 bound claims
 *   (half reclaim Delete, half Retain) and 10,000 pods in 40 namespaces;
 * - the webhook process: `lifeline serve`'s pieces wired as the CLI wires them (serveCache: the
 *   informer cache; judgeAdmission: planCommand + gate + audit; startServer: HTTPS, body limits,
 *   metrics, one JSON log line a request, discarded here), a SQLite catalog, lifeline.yaml's asset
 *   `shop`; and, in the same process, a second startServer whose handler allows everything (the
 *   baseline: the same TLS, keep-alive, body reading, JSON parsing, logging and metrics, no judging);
 * - this process: the load, 200 requests/s over HTTPS keep-alive on loopback, open loop (a request
 *   every 5 ms whether or not the previous one answered), AdmissionReview DELETE pvc requests:
 *   a third of them protected (the asset's claims: denied, audited), a third unbound claims whose
 *   volume is Delete (denied by the unbound rule, audited), a third Retain claims (allowed).
 *
 * The two handlers take turns in 2 s slices (after a warm-up), so both see the same machine load
 * and neither competes with the other. RSS is the webhook process's (prom-client's
 * process_resident_memory_bytes from its /metrics), cache synced.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:https";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, performance as perf, PerformanceObserver } from "node:perf_hooks";

const eventLoopUtilization = perf.eventLoopUtilization.bind(perf);
import { createInterface } from "node:readline";

const ROLE = process.argv[2] ?? "main";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const NAMESPACES = 40;
const CLAIMS = 2_000;
const PODS = 10_000;
// Shorter than the server's keep-alive timeout (5 s): an idle handler's connections stay open.
const SLICE_MS = 2_000;
const WARMUP_MS = 2_000;

// ---------------------------------------------------------------- the simulated API server

async function simulator(): Promise<void> {
  const { startSimulatedCluster, simulatedFixtures } = await import("../src/demo/cluster/index.js");
  type K8sObject = ReturnType<typeof simulatedFixtures>[number];
  const created = "2026-01-01T00:00:00Z";
  const objects: K8sObject[] = [...simulatedFixtures()];
  const perNs = CLAIMS / NAMESPACES;
  const podsPerNs = PODS / NAMESPACES;
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `bench-${String(n).padStart(2, "0")}`;
    objects.push({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns, creationTimestamp: created } });
    for (let i = 0; i < perNs; i++) {
      const name = `data-${i}`;
      const pv = `pvc-bench-${n}-${i}`;
      objects.push({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name, namespace: ns, labels: { app: `app-${i % 10}` }, creationTimestamp: created },
        spec: {
          accessModes: ["ReadWriteOnce"],
          resources: { requests: { storage: "10Gi" } },
          storageClassName: "standard",
          volumeName: pv,
        },
        status: { phase: "Bound", capacity: { storage: "10Gi" } },
      });
      objects.push({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: pv, creationTimestamp: created },
        spec: {
          accessModes: ["ReadWriteOnce"],
          capacity: { storage: "10Gi" },
          claimRef: { kind: "PersistentVolumeClaim", namespace: ns, name },
          csi: { driver: "ebs.csi.aws.com", volumeHandle: `vol-${n}-${i}` },
          persistentVolumeReclaimPolicy: i % 2 === 0 ? "Delete" : "Retain",
          storageClassName: "standard",
        },
        status: { phase: "Bound" },
      });
    }
    for (let p = 0; p < podsPerNs; p++) {
      const claim = p < perNs ? `data-${p}` : null;
      objects.push({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `worker-${p}`,
          namespace: ns,
          labels: { app: `app-${p % 10}`, tier: "backend" },
          creationTimestamp: created,
        },
        spec: {
          nodeName: "node-1",
          containers: [
            {
              name: "app",
              image: "registry.example.com/app:1.0",
              env: [
                { name: "DATABASE_HOST", value: `db-${p % 10}.${ns}.svc.cluster.local` },
                { name: "MODE", value: "production" },
              ],
              command: ["/app", "--serve"],
            },
          ],
          volumes: [
            ...(claim ? [{ name: "data", persistentVolumeClaim: { claimName: claim } }] : []),
            { name: "tmp", emptyDir: {} },
          ],
        },
        status: { phase: "Running" },
      });
    }
  }
  const cluster = await startSimulatedCluster({ fixtures: objects });
  const file = process.argv[3]!;
  await cluster.writeKubeconfig(file);
  process.stdout.write(`ready ${cluster.objects("pvc").length} ${cluster.objects("pod").length}\n`);
  process.on("SIGTERM", () => void cluster.close().then(() => process.exit(0)));
}

// ---------------------------------------------------------------- the webhook process

/**
 * The judge as `lifeline serve` wires it (serveCache: the informer cache; judgeAdmission's deps:
 * planCommand + gate + audit, a SQLite catalog or BENCH_CATALOG's, lifeline.yaml's asset `shop`).
 * Shared by the webhook process and BENCH_COST's in-process measurement.
 */
async function judgeSetUp(kubeconfig: string, dir: string, catalogAt: string, trace: Trace | null) {
  type AdmissionDeps = import("../src/app/admission.js").AdmissionDeps;
  const { openCatalog } = await import("../src/catalog/index.js");
  const { DEFAULT_POLICY, UNBOUND_RULE } = await import("../src/core/plan/policy.js");
  const { KubernetesCluster } = await import("../src/kubernetes/cluster.js");
  const { readManifests } = await import("../src/kubernetes/manifests.js");
  const { systemClock } = await import("../src/ports/clock.js");
  const { silentProgress } = await import("../src/ports/engine.js");
  const { jsonLogger } = await import("../src/serve/log.js");
  const { serveCache, sharedCatalog } = await import("../src/serve/serve.js");
  const { LocalRepository } = await import("../src/repository/local-fs/index.js");
  const { withOverviewCache } = await import("../src/repository/local-fs/overview-cache.js");
  const { engineFor } = await import("../src/engines/index.js");
  const { embeddedScratch } = await import("../src/scratch/embedded-postgres/index.js");
  const { serverScratch } = await import("../src/scratch/server.js");

  // One JSON line a request, as `lifeline serve` writes: serialized, then discarded.
  let logged = 0;
  const log = jsonLogger((line) => void (logged += line.length));
  const catalog = sharedCatalog(() => openCatalog(catalogAt, { backgroundCheckpoints: true }));
  const cache = serveCache({ kubeconfig, context: null }, (s) => new KubernetesCluster(s, {}), log, {});
  // Built once, as `lifeline serve` builds them (not per request).
  const deps: AdmissionDeps = {
    plan: {
      deps: {
        ctx: {
          engine: (name) => engineFor(name, { postgres: {} }),
          repository: trace
            ? trace.timed(
                () => "repository",
                withOverviewCache(new LocalRepository(path.join(dir, "repository"))),
              )
            : withOverviewCache(new LocalRepository(path.join(dir, "repository"))),
          scratch: (s) => (s === "embedded" ? embeddedScratch() : serverScratch(s.url)),
          clock: systemClock,
          progress: silentProgress,
          signal: new AbortController().signal,
          backup: { jobs: 1, compression: 1 },
        },
        cluster: trace ? (s) => trace.timed(() => "cluster", cache.cluster(s)) : (s) => cache.cluster(s),
        readManifests: (files, recursive) => readManifests(files, recursive, dir),
      },
      options: {
        assets: [
          {
            name: "shop",
            engine: "postgres",
            url: "postgres://127.0.0.1:5432/unused",
            tier: "production",
            rpoSeconds: 86400,
            scratch: "embedded",
            drillJobs: 1,
            kubernetes: { namespace: "shop", release: "postgresql", pvcSelector: null, context: null },
          },
        ],
        policy: [...DEFAULT_POLICY, UNBOUND_RULE],
        kubernetes: { kubeconfig, context: null, clusterDomain: "cluster.local" },
        env: {},
      },
    },
    catalog: trace
      ? () => catalog.get().then((c) => trace.timed((m) => (m === "appendAudit" ? "append" : "catalog"), c))
      : () => catalog.get(),
    clock: systemClock,
    host: "bench",
    warn: () => undefined,
  };
  return { deps, log, catalog, cache };
}

async function webhook(): Promise<void> {
  const [kubeconfig, dir] = [process.argv[3]!, process.argv[4]!];
  const { judgeAdmission } = await import("../src/app/admission.js");
  const { startServer } = await import("../src/serve/server.js");
  const { parseAdmissionReview } = await import("../src/core/admission/review.js");
  // BENCH_TRACE=1: where the judge's time goes, on stderr at the end (admit time by decision, the
  // audit appends, garbage collection pauses, event-loop delay).
  const trace = process.env.BENCH_TRACE ? startTrace() : null;
  const catalogAt = process.argv[5] || path.join(dir, "catalog.sqlite");
  const { deps, log, catalog, cache } = await judgeSetUp(kubeconfig, dir, catalogAt, trace);
  const allowEverything = async (body: unknown) => {
    const parsed = parseAdmissionReview(body);
    const uid = parsed.ok ? parsed.request.uid : (parsed.uid ?? "");
    return {
      response: { uid, allowed: true },
      httpStatus: 200,
      decision: "allowed" as const,
      resource: parsed.ok ? parsed.request.resource.resource : "unknown",
      operation: parsed.ok ? parsed.request.operation : "unknown",
      log: { uid },
    };
  };
  const judge = await startServer({
    host: "127.0.0.1",
    port: 0,
    tls: { cert: path.join(dir, "tls.crt"), key: path.join(dir, "tls.key") },
    // BENCH_AA=1: the control of the control: the "judge" port allows everything too, so that the
    // difference printed is this machine's noise between two identical handlers.
    admit: process.env.BENCH_AA
      ? allowEverything
      : trace
        ? async (body) => {
            const t0 = performance.now();
            const outcome = await judgeAdmission(deps, body);
            trace.admit(outcome.decision, t0, performance.now() - t0, String(outcome.log.uid ?? ""));
            return outcome;
          }
        : (body) => judgeAdmission(deps, body),
    readiness: async () => cache.readiness(),
    cache: () => cache.cache.states(),
    log,
  });
  const allowAll = await startServer({
    host: "127.0.0.1",
    port: 0,
    tls: { cert: path.join(dir, "tls.crt"), key: path.join(dir, "tls.key") },
    admit: allowEverything,
    readiness: async () => ({ ready: true, reason: null }),
    log,
  });
  const started = performance.now();
  await cache.start();
  // BENCH_ALLOC=FILE: a sampling allocation profile (garbage included) of the run, written at the end.
  const alloc = process.env.BENCH_ALLOC ? await startAllocationProfile(process.env.BENCH_ALLOC) : null;
  process.stdout.write(
    `ports ${judge.port} ${allowAll.port} ${Math.round(performance.now() - started)} ${JSON.stringify(cache.readiness())}\n`,
  );
  process.on("SIGTERM", () => {
    trace?.report(path.join(dir, "trace.json"));
    alloc?.();
    cache.stop();
    void Promise.all([judge.close(), allowAll.close(), catalog.close()]).then(() => process.exit(0));
  });
}

async function startAllocationProfile(file: string): Promise<() => void> {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post("HeapProfiler.enable");
  await post("HeapProfiler.startSampling", {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return () => {
    session.post("HeapProfiler.stopSampling", (error, result) => {
      if (!error) writeFileSync(file, JSON.stringify(result.profile));
    });
  };
}

type Trace = ReturnType<typeof startTrace>;

function startTrace() {
  const admits: { decision: string; start: number; ms: number; uid: string }[] = [];
  const gcs: { kind: string; start: number; ms: number }[] = [];
  const kinds: Record<number, string> = { 1: "scavenge", 2: "mark-compact", 4: "incremental", 8: "weak" };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind =
        kinds[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0] ?? "other";
      gcs.push({ kind, start: e.startTime, ms: e.duration });
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const summary = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const sum = s.reduce((a, b) => a + b, 0);
    return `n ${s.length} p50 ${percentile(s, 50).toFixed(2)} p99 ${percentile(s, 99).toFixed(2)} max ${(s[s.length - 1] ?? 0).toFixed(2)} total ${sum.toFixed(0)} ms`;
  };
  const spans: { cat: string; start: number; ms: number }[] = [];
  const wrapped = new WeakMap<object, unknown>();
  return {
    /** `target` with every method's promise timed, as a span of category `cat(method)`. */
    timed<T extends object>(cat: (method: string) => string, target: T): T {
      let w = wrapped.get(target) as T | undefined;
      if (w === undefined) {
        w = new Proxy(target, {
          get(t, key, receiver) {
            const value = Reflect.get(t, key, receiver) as unknown;
            if (typeof value !== "function" || typeof key !== "string") return value;
            return (...args: unknown[]) => {
              const t0 = performance.now();
              const result = (value as (...a: unknown[]) => unknown).apply(t, args);
              if (result instanceof Promise) {
                return result.finally(() =>
                  spans.push({ cat: cat(key), start: t0, ms: performance.now() - t0 }),
                );
              }
              return result;
            };
          },
        });
        wrapped.set(target, w);
      }
      return w;
    },
    admit(decision: string, start: number, ms: number, uid: string) {
      admits.push({ decision, start, ms, uid });
    },
    report(file: string) {
      // For the load's side: what happened when, on the wall clock it shares (timeOrigin + now).
      const at = (t: number) => performance.timeOrigin + t;
      writeFileSync(
        file,
        JSON.stringify({
          gcs: gcs.map((g) => ({ at: at(g.start), ms: g.ms, kind: g.kind })),
          spans: spans.map((a) => ({ at: at(a.start), ms: a.ms, cat: a.cat })),
          admits: admits.map((a) => ({ at: at(a.start), ms: a.ms, decision: a.decision, uid: a.uid })),
        }),
      );
      const out = (line: string) => process.stderr.write(`trace ${line}\n`);
      for (const d of new Set(admits.map((a) => a.decision)))
        out(`admit ${d}: ${summary(admits.filter((a) => a.decision === d).map((a) => a.ms))}`);
      for (const k of new Set(gcs.map((g) => g.kind)))
        out(`gc ${k}: ${summary(gcs.filter((g) => g.kind === k).map((g) => g.ms))}`);
      out(
        `event-loop delay: p50 ${(delay.percentile(50) / 1e6).toFixed(2)} p99 ${(delay.percentile(99) / 1e6).toFixed(2)} max ${(delay.max / 1e6).toFixed(2)} ms`,
      );
    },
  };
}

/**
 * The i-th AdmissionReview of a kind: a DELETE of a protected claim (0: the asset's, denied and
 * audited), of an unbound claim whose volume is Delete (1: denied, audited) or Retain (2: allowed).
 */
function review(kind: number, i: number, uid: string) {
  const shopClaims = ["data-postgresql-primary-0", "data-postgresql-read-0"];
  const n = i % NAMESPACES;
  const ns = kind === 0 ? "shop" : `bench-${String(n).padStart(2, "0")}`;
  const c = (i >> 2) % (CLAIMS / NAMESPACES / 2);
  const name = kind === 0 ? shopClaims[i % 2]! : `data-${kind === 1 ? 2 * c : 2 * c + 1}`;
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: "PersistentVolumeClaim" },
      resource: { group: "", version: "v1", resource: "persistentvolumeclaims" },
      name,
      namespace: ns,
      operation: "DELETE",
      userInfo: { username: "alice@example.com", groups: ["system:authenticated"] },
      oldObject: { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name, namespace: ns } },
      dryRun: false,
    },
  };
}

/**
 * BENCH_COST=1: what judging costs the event loop, in this process (no HTTP, no load process):
 * main-thread busy time (event-loop utilization), the main thread's CPU time (Linux; on a shared
 * machine busy time also counts the moments the thread waited for a CPU, CPU time does not) and
 * latency per request, by kind, with requests
 * back to back and one every 5 ms (as the load sends them). The second is what the bench's p99
 * follows: the same request costs 2-3 times more when it comes after an idle gap (caches gone
 * cold). A change that does not move these figures will not move the p99. Each decision is
 * checked (a judge that fails fast, "catalog unavailable", must not look cheap).
 */
async function cost(kubeconfig: string, dir: string): Promise<void> {
  const { judgeAdmission } = await import("../src/app/admission.js");
  const { deps, log, catalog, cache } = await judgeSetUp(
    kubeconfig,
    dir,
    path.join(dir, "catalog.sqlite"),
    null,
  );
  await cache.start();
  const names = ["protected", "unbound", "retain"];
  let uid = 0;
  // The main thread's own CPU time (Linux: /proc, clock ticks): unlike the busy time, not inflated
  // when the machine is shared and the thread waits for a CPU in the middle of its work.
  const threadCpuMs = () => {
    try {
      const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    } catch {
      return NaN;
    }
  };
  const round = async (kind: number, n: number, paceMs: number) => {
    const latencies: number[] = [];
    const c0 = threadCpuMs();
    const e0 = eventLoopUtilization();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const outcome = await judgeAdmission(deps, review(kind, i, `cost-${++uid}`));
      latencies.push(performance.now() - t0);
      const expected = kind === 2 ? "allowed" : "denied";
      if (outcome.decision !== expected || /unavailable|could not/.test(String(outcome.log.reason ?? "")))
        throw new Error(`${names[kind]}: ${outcome.decision}: ${String(outcome.log.reason)}`);
      log.log("info", "admission", { decision: outcome.decision, ...outcome.log });
      await outcome.recorded;
      if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
    }
    const busy = eventLoopUtilization(e0).active;
    const cpu = threadCpuMs() - c0;
    latencies.sort((a, b) => a - b);
    return {
      busyMs: busy / n,
      cpuMs: cpu / n,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
    };
  };
  for (let k = 0; k < 3; k++) await round(k, 300, 0); // warm-up
  const n = Number(process.env.BENCH_COST_N ?? 500);
  for (const pace of [0, 5]) {
    console.log(pace === 0 ? "back to back" : `one every ${pace} ms`);
    for (let k = 0; k < 3; k++) {
      const runs: { busyMs: number; cpuMs: number; p50: number; p99: number }[] = [];
      for (let r = 0; r < 3; r++) runs.push(await round(k, n, pace));
      const med = (f: (x: (typeof runs)[number]) => number) =>
        percentile(
          runs.map(f).sort((a, b) => a - b),
          50,
        );
      console.log(
        `  ${names[k]!.padEnd(10)} busy ${(med((x) => x.busyMs) * 1000).toFixed(0).padStart(5)} µs/request (runs ${runs.map((x) => (x.busyMs * 1000).toFixed(0)).join(", ")}), main-thread CPU ${(med((x) => x.cpuMs) * 1000).toFixed(0).padStart(5)} µs/request (runs ${runs.map((x) => (x.cpuMs * 1000).toFixed(0)).join(", ")}), latency p50 ${med((x) => x.p50).toFixed(2)} p99 ${med((x) => x.p99).toFixed(2)} ms`,
      );
    }
  }
  // Control: a pure function of lifeline's size (JSON and SHA-256, no I/O, nothing of lifeline's)
  // timed the same two ways. When it too costs more every 5 ms than back to back, the difference
  // is the machine's (caches, the virtual CPU), not lifeline's code.
  const { createHash } = await import("node:crypto");
  const doc = {
    claims: Array.from({ length: 200 }, (_, i) => ({
      name: `data-${i}`,
      namespace: "shop",
      bytes: i * 1024,
    })),
  };
  const pure = () => {
    for (let k = 0; k < 3; k++) {
      const text = JSON.stringify(doc);
      createHash("sha256").update(text).digest("hex");
      JSON.parse(text);
    }
  };
  for (const pace of [0, 5]) {
    const times: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const t0 = performance.now();
      pure();
      times.push(performance.now() - t0);
      if (pace > 0) await new Promise((r) => setTimeout(r, pace));
    }
    times.sort((a, b) => a - b);
    console.log(
      `control (a pure function, no lifeline code) ${pace === 0 ? "back to back" : `one every ${pace} ms`}: p50 ${percentile(times, 50).toFixed(2)} ms`,
    );
  }
  cache.stop();
  await catalog.close();
}

// ---------------------------------------------------------------- the load

function psql(url: string, command: string): void {
  const r = spawnSync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", command], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(r.stderr);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function child(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): { proc: ChildProcess; line: Promise<string> } {
  // BENCH_PROFILE=DIR: a CPU profile of the webhook process (node --cpu-prof) in DIR.
  const profile =
    process.env.BENCH_PROFILE && args[0] === "webhook"
      ? [
          "--cpu-prof",
          "--cpu-prof-interval",
          process.env.BENCH_PROFILE_INTERVAL ?? "1000",
          "--cpu-prof-dir",
          process.env.BENCH_PROFILE,
        ]
      : [];
  // BENCH_NODE_FLAGS="--max-semi-space-size=32": V8 flags for the webhook process (as NODE_OPTIONS would give serve).
  const flags =
    args[0] === "webhook" ? (process.env.BENCH_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean) : [];
  const proc = spawn(
    process.execPath,
    [...flags, ...profile, "--import", "tsx", import.meta.filename, ...args],
    {
      stdio: ["ignore", "pipe", "inherit"],
      env,
    },
  );
  const line = new Promise<string>((resolve, reject) => {
    createInterface(proc.stdout!).once("line", resolve);
    proc.once("exit", (code) => reject(new Error(`${args[0]} exited with ${code}`)));
  });
  return { proc, line };
}

async function main(): Promise<void> {
  const { generateCa, issueServerCertificate } = await import("../src/support/tls.js");
  const dir = mkdtempSync(path.join(os.tmpdir(), "lifeline-admission-bench-"));
  const procs: ChildProcess[] = [];
  let catalogUrl = "";
  const judgedRequests: { at: number; ms: number; kind: number; uid: string }[] = [];
  let dropDatabase = () => undefined as void;
  // Interrupted: the children go too.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const p of procs) p.kill("SIGTERM");
      process.exit(130);
    });
  }
  try {
    const ca = generateCa({ commonName: "bench CA" });
    const serving = issueServerCertificate(ca, ["127.0.0.1"], { commonName: "lifeline" });
    writeFileSync(path.join(dir, "tls.crt"), serving.cert);
    writeFileSync(path.join(dir, "tls.key"), serving.key, { mode: 0o600 });
    const kubeconfig = path.join(dir, "kubeconfig");
    const sim = child(["simulator", kubeconfig]);
    procs.push(sim.proc);
    const simReady = await sim.line;
    console.log(`simulated API server: ${simReady.split(" ")[1]} claims, ${simReady.split(" ")[2]} pods`);
    if (process.env.BENCH_COST) {
      await cost(kubeconfig, dir);
      return;
    }
    if (process.env.BENCH_CATALOG === "postgres") {
      const admin = process.env.LIFELINE_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
      const db = `lifeline_admbench_${Date.now().toString(36)}`;
      psql(admin, `CREATE DATABASE ${db}`);
      dropDatabase = () => psql(admin, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      const u = new URL(admin);
      u.pathname = `/${db}`;
      catalogUrl = u.toString();
    }
    const hook = child(["webhook", kubeconfig, dir, catalogUrl]);
    procs.push(hook.proc);
    const [, judgePort, allowPort, syncMs, readiness] = (await hook.line).split(" ");
    console.log(`webhook process: informer cache synced in ${syncMs} ms ${readiness}`);

    const agent = new Agent({ keepAlive: true, maxSockets: 16, ca: ca.cert });
    const get = (port: string, p: string) =>
      new Promise<string>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, path: p, agent, method: "GET" }, (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () => resolve(text));
        });
        req.on("error", reject);
        req.end();
      });
    const ready = await get(judgePort!, "/readyz");
    if (!ready.startsWith("ok")) throw new Error(`the webhook is not ready: ${ready}`);

    // The requests: protected (the asset's claims), unbound Delete, unbound Retain.
    let uid = 0;
    // BENCH_MIX: all (default: a third of each), protected, unbound or retain (only that kind).
    const mix = process.env.BENCH_MIX ?? "all";
    const kinds = { protected: 0, unbound: 1, retain: 2 } as const;
    const only = mix === "all" ? null : kinds[mix as keyof typeof kinds];
    if (only === undefined) throw new Error(`BENCH_MIX=${mix}: use all, protected, unbound or retain`);
    const body = (i: number): { text: string; expect: boolean; uid: string } => {
      const kind = only ?? i % 3;
      const id = `bench-${++uid}`;
      return { expect: kind === 2, uid: id, text: JSON.stringify(review(kind, i, id)) };
    };
    const post = (port: string, text: string) =>
      new Promise<{ ms: number; allowed: boolean }>((resolve, reject) => {
        const t0 = performance.now();
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/validate",
            method: "POST",
            agent,
            headers: { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) },
          },
          (res) => {
            let out = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (out += c));
            res.on("end", () => {
              const ms = performance.now() - t0;
              try {
                resolve({
                  ms,
                  allowed: (JSON.parse(out) as { response: { allowed: boolean } }).response.allowed,
                });
              } catch {
                reject(new Error(`not an AdmissionReview (${res.statusCode}): ${out.slice(0, 200)}`));
              }
            });
          },
        );
        req.on("error", reject);
        req.end(text);
      });

    let failures = 0;
    /** Open loop: a request every 1000/RATE ms for `ms`, each timed from its send. */
    const run = async (port: string, ms: number, judged: boolean) => {
      const interval = 1000 / RATE;
      const count = Math.round(ms / interval);
      const t0 = performance.now();
      type Result =
        | { ms: number; allowed: boolean; expect: boolean; at: number; kind: number; uid: string }
        | { error: string };
      const pending: Promise<Result>[] = [];
      for (let i = 0; i < count; i++) {
        const wait = t0 + i * interval - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const b = body(i);
        const at = performance.timeOrigin + performance.now();
        // Caught at once: a failed request is counted, it does not end the run.
        pending.push(
          post(port, b.text).then(
            (r): Result => ({
              ...r,
              expect: judged && !process.env.BENCH_AA ? b.expect : true,
              at,
              kind: only ?? i % 3,
              uid: b.uid,
            }),
            (e: unknown): Result => ({ error: e instanceof Error ? e.message : String(e) }),
          ),
        );
      }
      const results = await Promise.all(pending);
      const answered = results.filter((r): r is Exclude<Result, { error: string }> => !("error" in r));
      const failed = results.filter((r): r is { error: string } => "error" in r);
      if (failed.length > 0) {
        failures += failed.length;
        process.stderr.write(`  ${failed.length} requests failed: ${failed[0]!.error}\n`);
      }
      const wrong = answered.filter((r) => r.allowed !== r.expect).length;
      if (wrong > 0) throw new Error(`${wrong} of ${results.length} answers were not the expected decision`);
      return answered;
    };

    // The webhook process's CPU time (prom-client's process_cpu_seconds_total), per handler's slices.
    const cpu = async () =>
      Number(/^process_cpu_seconds_total (\S+)/m.exec(await get(judgePort!, "/metrics"))?.[1] ?? NaN);
    // BENCH_TRACE: how long the webhook's main thread and this process waited for a CPU (run queue).
    const runDelay = (pid: number | string) => {
      try {
        return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e6;
      } catch {
        return NaN;
      }
    };
    const waited = { judge: { hook: 0, load: 0 }, allow: { hook: 0, load: 0 } };
    const timed = async (port: string, ms: number, judged: boolean, into: number[], cpuInto: number[]) => {
      const before = await cpu();
      const [hook0, load0] = [runDelay(`${hook.proc.pid}/task/${hook.proc.pid}`), runDelay("self")];
      const answered = await run(port, ms, judged);
      const w = waited[judged ? "judge" : "allow"];
      w.hook += runDelay(`${hook.proc.pid}/task/${hook.proc.pid}`) - hook0;
      w.load += runDelay("self") - load0;
      into.push(...answered.map((r) => r.ms));
      if (judged)
        judgedRequests.push(...answered.map((r) => ({ at: r.at, ms: r.ms, kind: r.kind, uid: r.uid })));
      cpuInto.push((await cpu()) - before);
    };
    const threadCpu = () => {
      const byName = new Map<string, number>();
      for (const tid of readdirSync(`/proc/${hook.proc.pid}/task`)) {
        try {
          const stat = readFileSync(`/proc/${hook.proc.pid}/task/${tid}/stat`, "utf8");
          const name = tid === String(hook.proc.pid) ? "main" : "other threads";
          const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
          byName.set(name, (byName.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]));
        } catch {
          // the thread ended
        }
      }
      return byName;
    };
    await run(allowPort!, WARMUP_MS, false);
    await run(judgePort!, WARMUP_MS, true);
    const threadsAtStart = threadCpu();
    const load = os.loadavg()[0]!;
    const judgeMs: number[] = [];
    const allowMs: number[] = [];
    const judgeCpu: number[] = [];
    const allowCpu: number[] = [];
    for (let done = 0; done < SECONDS * 1000; done += SLICE_MS) {
      const slice = Math.min(SLICE_MS, SECONDS * 1000 - done);
      // Which handler goes first alternates (ABBA), so that neither always follows the other (the
      // first A/A runs, BENCH_AA on a loaded machine, measured the second of each pair lower).
      const judgeFirst = (done / SLICE_MS) % 2 === 1;
      if (judgeFirst) await timed(judgePort!, slice, true, judgeMs, judgeCpu);
      await timed(allowPort!, slice, false, allowMs, allowCpu);
      if (!judgeFirst) await timed(judgePort!, slice, true, judgeMs, judgeCpu);
      process.stderr.write(`  ${(done + slice) / 1000} s of ${SECONDS} s\n`);
    }
    const cpuPerRequest = (seconds: number[], n: number) => (1000 * seconds.reduce((x, y) => x + y, 0)) / n;
    const metrics = await get(judgePort!, "/metrics");
    const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
    const heap = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
    const pods = /lifeline_cache_objects\{resource="pods"\} (\d+)/.exec(metrics)?.[1];
    const claims = /lifeline_cache_objects\{resource="persistentvolumeclaims"\} (\d+)/.exec(metrics)?.[1];
    const stats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? 0 };
    };
    const j = stats(judgeMs);
    const a = stats(allowMs);
    const f = (x: number) => x.toFixed(2).padStart(7);
    console.log(
      `\n${SECONDS} s per handler at ${RATE} requests/s (HTTPS keep-alive, loopback; requests: ${mix}); cache: ${claims} claims, ${pods} pods`,
    );
    console.log(`                 requests     p50 ms   p99 ms   max ms`);
    console.log(
      `${process.env.BENCH_AA ? "allow-all (2nd)" : "lifeline judge "}  ${String(j.n).padStart(8)}   ${f(j.p50)}  ${f(j.p99)}  ${f(j.max)}`,
    );
    console.log(`allow-all        ${String(a.n).padStart(8)}   ${f(a.p50)}  ${f(a.p99)}  ${f(a.max)}`);
    console.log(
      `difference       ${" ".repeat(8)}   ${f(j.p50 - a.p50)}  ${f(j.p99 - a.p99)}  ${f(j.max - a.max)}   (ratio p50 ${(j.p50 / a.p50).toFixed(1)}x, p99 ${(j.p99 / a.p99).toFixed(1)}x)`,
    );
    if (failures > 0) console.log(`${failures} requests failed (not counted above)`);
    const jc = cpuPerRequest(judgeCpu, j.n);
    const ac = cpuPerRequest(allowCpu, a.n);
    console.log(
      `CPU of the webhook process per request: judge ${jc.toFixed(2)} ms, allow-all ${ac.toFixed(2)} ms`,
    );
    console.log(
      `webhook process RSS ${(rss / 2 ** 20).toFixed(0)} MiB (heap used ${(heap / 2 ** 20).toFixed(0)} MiB); machine load average ${load.toFixed(1)} at start, ${os.loadavg()[0]!.toFixed(1)} at end (${os.cpus().length} CPUs)`,
    );
    if (process.env.BENCH_TRACE) {
      // CPU time of the webhook process's threads while the load ran, main thread and the others.
      const byName = threadCpu();
      for (const [name, ticks] of threadsAtStart) byName.set(name, (byName.get(name) ?? 0) - ticks);
      console.log(
        `trace webhook CPU by thread while loaded (s): ${[...byName].map(([n, t]) => `${n} ${(t / 100).toFixed(2)}`).join(", ")}`,
      );
    }
    if (process.env.BENCH_TRACE)
      console.log(
        `trace waiting for a CPU per request: webhook main thread ${(waited.judge.hook / j.n).toFixed(3)} ms judging, ${(waited.allow.hook / a.n).toFixed(3)} ms allowing all; the load ${(waited.judge.load / j.n).toFixed(3)} / ${(waited.allow.load / a.n).toFixed(3)} ms`,
      );
    console.log(
      `targets: p99 <= 5 ms: ${j.p99 <= 5 ? "met" : "MISSED"}; within 2 ms of allow-all: ${j.p99 - a.p99 <= 2 ? "met" : "MISSED"}`,
    );
    console.log(
      `RESULT ${JSON.stringify({ judge: { ...j, cpuMs: jc }, allowAll: { ...a, cpuMs: ac }, rssMiB: Math.round(rss / 2 ** 20), heapMiB: Math.round(heap / 2 ** 20), load })}`,
    );
    agent.destroy();
  } finally {
    for (const p of procs) p.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    if (process.env.BENCH_TRACE) explainTail(path.join(dir, "trace.json"), judgedRequests);
    dropDatabase();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * BENCH_TRACE: what the slowest 1 % of judged requests (as the load saw them) overlapped in the
 * webhook process: garbage collection, audit appends, judging (its own and others').
 */
function explainTail(file: string, requests: { at: number; ms: number; kind: number; uid: string }[]): void {
  let trace: {
    gcs: { at: number; ms: number; kind: string }[];
    spans: { at: number; ms: number; cat: string }[];
    admits: { at: number; ms: number; uid: string }[];
  };
  try {
    trace = JSON.parse(readFileSync(file, "utf8")) as typeof trace;
  } catch {
    console.log("trace: the webhook process wrote no trace");
    return;
  }
  const overlap = (spans: { at: number; ms: number }[], at: number, ms: number) =>
    spans.reduce((t, s) => t + Math.max(0, Math.min(s.at + s.ms, at + ms) - Math.max(s.at, at)), 0);
  const cats = [...new Set(trace.spans.map((x) => x.cat))];
  const own = new Map(trace.admits.map((a) => [a.uid, a]));
  const describe = (label: string, set: { at: number; ms: number; kind: number; uid: string }[]) => {
    const n = set.length || 1;
    const sum = (f: (r: { at: number; ms: number }) => number) => set.reduce((t, r) => t + f(r), 0) / n;
    const kinds = ["protected", "unbound", "retain"].map(
      (k, i) => `${k} ${set.filter((r) => r.kind === i).length}`,
    );
    console.log(
      `trace ${label} (${set.length}; ${kinds.join(", ")}): latency ${sum((r) => r.ms).toFixed(2)} ms, of which GC ${sum((r) => overlap(trace.gcs, r.at, r.ms)).toFixed(2)} ms (${set.filter((r) => overlap(trace.gcs, r.at, r.ms) > 0).length} hit), judging ${sum((r) => overlap(trace.admits, r.at, r.ms)).toFixed(2)} ms; awaiting ${cats
        .map(
          (c) =>
            `${c} ${sum((r) =>
              overlap(
                trace.spans.filter((x) => x.cat === c),
                r.at,
                r.ms,
              ),
            ).toFixed(2)} ms`,
        )
        .join(", ")}`,
    );
    const mine = set.map((r) => ({ r, o: own.get(r.uid) })).filter((x) => x.o !== undefined);
    const m = mine.length || 1;
    const avg = (f: (x: { r: { at: number; ms: number }; o: { at: number; ms: number } }) => number) =>
      (
        mine.reduce(
          (t, x) => t + f(x as { r: { at: number; ms: number }; o: { at: number; ms: number } }),
          0,
        ) / m
      ).toFixed(2);
    console.log(
      `trace ${label}: sent → its judging starts ${avg((x) => x.o.at - x.r.at)} ms, its judging ${avg((x) => x.o.ms)} ms, judged → received ${avg((x) => x.r.at + x.r.ms - x.o.at - x.o.ms)} ms`,
    );
  };
  const sorted = [...requests].sort((a, b) => b.ms - a.ms);
  describe("slowest 1 %", sorted.slice(0, Math.ceil(sorted.length / 100)));
  describe("median 10 %", sorted.slice(Math.floor(sorted.length * 0.45), Math.floor(sorted.length * 0.55)));
}

if (ROLE === "simulator") await simulator();
else if (ROLE === "webhook") await webhook();
else await main();
