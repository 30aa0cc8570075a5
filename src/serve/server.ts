/**
 * `lifeline serve`'s HTTPS server: POST /validate (the admission webhook), /healthz, /readyz and
 * /metrics. Every request gets a defined answer and a log line; nothing a client sends crashes it.
 */
import { createServer, type Server } from "node:https";
import { createServer as createPlainServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Registry } from "prom-client";
import type { AddressInfo } from "node:net";
import type { AdmissionOutcome } from "../app/admission.js";
import { admissionReview } from "../core/admission/review.js";
import { LifelineError } from "../core/errors.js";
import type { Logger } from "./log.js";
import { serveMetrics, type CacheStatus } from "./metrics.js";
import { readTlsPair, watchTlsFiles, type TlsFiles } from "./tls.js";

/** An AdmissionReview is small; the API server's own request limit is 3 MiB. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;
/** Past this much, the connection is cut rather than read to its end. */
const MAX_DRAIN_BYTES = 4 * MAX_BODY_BYTES;

export interface Readiness {
  ready: boolean;
  reason: string | null;
}

export interface ServerOptions {
  host: string;
  port: number;
  /** Null: plain HTTP without the webhook (a server that only runs scheduled jobs and serves /metrics). */
  tls: TlsFiles | null;
  /** Absent: no admission webhook (POST /validate answers 404). */
  admit?: (body: unknown) => Promise<AdmissionOutcome>;
  /** More metrics on /metrics (the jobs' per-asset metrics). */
  registries?: readonly Registry[];
  readiness: () => Promise<Readiness>;
  /** The informer cache's resources, for /metrics (cache age, synced, objects). */
  cache?: () => readonly CacheStatus[];
  log: Logger;
  maxBodyBytes?: number;
  tlsPollMs?: number;
  /** How long in-flight requests may take to finish on close before their connections are cut. */
  closeGraceMs?: number;
}

export interface RunningServer {
  host: string;
  port: number;
  /**
   * Going away soon (SIGTERM with --shutdown-delay): /readyz answers 503 "shutting down", requests
   * are still answered, each with `Connection: close` so that clients (the API server) open their
   * next connection to a replica that stays.
   */
  drain(): void;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

const JUDGED_RESOURCES = new Set([
  "persistentvolumeclaims",
  "persistentvolumes",
  "namespaces",
  "statefulsets",
]);

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

type Body = { ok: true; text: string } | { ok: false; status: number; reason: string };

function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (b: Body) => {
      if (!settled) {
        settled = true;
        resolve(b);
      }
    };
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > MAX_DRAIN_BYTES) {
        done({ ok: false, status: 413, reason: `the body is over ${limit} bytes` });
        req.destroy();
      }
    });
    req.on("end", () =>
      done(
        size > limit
          ? { ok: false, status: 413, reason: `the body is ${size} bytes, over the limit of ${limit}` }
          : { ok: true, text: Buffer.concat(chunks).toString("utf8") },
      ),
    );
    req.on("error", (error) =>
      done({ ok: false, status: 400, reason: `the request failed: ${error.message}` }),
    );
    req.on("aborted", () => done({ ok: false, status: 400, reason: "the client aborted the request" }));
  });
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { log } = options;
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const metrics = serveMetrics(options.cache);
  const tlsFiles = options.tls;
  let pair = tlsFiles ? readTlsPair(tlsFiles) : null;
  const admit = options.admit;
  // Judgements in flight and the audit entries of denials committed after their answers: close()
  // waits for them.
  const recording = new Set<Promise<void>>();
  const track = (work: Promise<unknown>) => {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    recording.add(settled);
    void settled.then(() => recording.delete(settled));
  };

  const validate = async (req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const observe = (verdict: string, resource: string, operation: string) =>
      metrics.observe(
        { verdict, resource: JUDGED_RESOURCES.has(resource) ? resource : "other", operation },
        (performance.now() - started) / 1000,
      );
    const body = await readBody(req, limit);
    if (!body.ok) {
      log.log("warn", "admission-rejected", { status: body.status, reason: body.reason });
      observe("invalid", "unknown", "unknown");
      if (!res.headersSent && !res.destroyed)
        send(res, body.status, "text/plain", `lifeline: ${body.reason}\n`);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(body.text);
    } catch (error) {
      const reason = `the body is not JSON: ${error instanceof Error ? error.message : String(error)}`;
      log.log("warn", "admission-rejected", { status: 400, reason });
      observe("invalid", "unknown", "unknown");
      send(res, 400, "text/plain", `lifeline: ${reason}\n`);
      return;
    }
    let outcome: AdmissionOutcome;
    try {
      if (!admit) throw new Error("no admission webhook");
      const judging = admit(json);
      // Tracked from the start: a client gone meanwhile does not let close() pass its entry.
      track(judging.then((o) => o.recorded));
      outcome = await judging;
    } catch (error) {
      // admit never throws; should it, the request is still answered (and denied: no allowed:true).
      const reason = `internal error: ${error instanceof Error ? error.message : String(error)}`;
      log.log("error", "admission-failed", { reason });
      observe("invalid", "unknown", "unknown");
      send(res, 500, "text/plain", `lifeline: ${reason}\n`);
      return;
    }
    observe(outcome.decision, outcome.resource, outcome.operation);
    log.log(outcome.decision === "denied" ? "warn" : "info", "admission", {
      decision: outcome.decision,
      resource: outcome.resource,
      operation: outcome.operation,
      ms: Math.round(performance.now() - started),
      ...outcome.log,
    });
    if (!outcome.response) {
      send(
        res,
        outcome.httpStatus,
        "text/plain",
        `lifeline: ${String(outcome.log.reason ?? "not an AdmissionReview")}\n`,
      );
      return;
    }
    send(res, outcome.httpStatus, "application/json", JSON.stringify(admissionReview(outcome.response)));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/validate" && admit) {
      if (req.method !== "POST") return send(res, 405, "text/plain", "lifeline: POST an AdmissionReview\n");
      return validate(req, res);
    }
    if (req.method !== "GET" && req.method !== "HEAD")
      return send(res, 405, "text/plain", "method not allowed\n");
    if (path === "/healthz") return send(res, 200, "text/plain", "ok\n");
    if (path === "/readyz") {
      if (draining) return send(res, 503, "text/plain", "not ready: shutting down\n");
      const r = await options.readiness();
      return r.ready
        ? send(res, 200, "text/plain", "ok\n")
        : send(res, 503, "text/plain", `not ready: ${r.reason ?? "unknown"}\n`);
    }
    if (path === "/metrics") {
      const texts = [await metrics.registry.metrics()];
      for (const r of options.registries ?? []) texts.push(await r.metrics());
      return send(res, 200, metrics.registry.contentType, texts.join("\n"));
    }
    return send(
      res,
      404,
      "text/plain",
      `not found: lifeline serves ${admit ? "/validate, " : ""}/healthz, /readyz, /metrics\n`,
    );
  };

  let draining = false;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.setHeader("Connection", "close");
    handle(req, res).catch((error: unknown) => {
      log.log("error", "request-failed", {
        path: req.url,
        reason: error instanceof Error ? error.message : String(error),
      });
      if (!res.headersSent) send(res, 500, "text/plain", "lifeline: internal error\n");
      else res.destroy();
    });
  };
  const server: Server | ReturnType<typeof createPlainServer> = pair
    ? createServer({ cert: pair.cert, key: pair.key }, onRequest)
    : createPlainServer(onRequest);
  server.on("tlsClientError", (error) => log.log("warn", "tls-client-error", { reason: error.message }));
  server.on("clientError", (error, socket) => {
    log.log("warn", "client-error", { reason: error.message });
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new LifelineError({
          code: "SERVE_LISTEN_FAILED",
          kind: "runtime",
          message: `cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`,
          fix: "choose another address with --listen HOST:PORT (or serve.listen in lifeline.yaml), or stop what holds the port",
        }),
      ),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  server.on("error", (error) => log.log("error", "server-error", { reason: error.message }));
  const secure = "setSecureContext" in server ? server : null;
  const stopWatching =
    tlsFiles && pair && secure
      ? watchTlsFiles(
          tlsFiles,
          pair,
          {
            apply: (next) => {
              secure.setSecureContext({ cert: next.cert, key: next.key });
              pair = next;
              log.log("info", "tls-reloaded", { fingerprint: next.fingerprint, validTo: next.validTo });
            },
            refused: (reason) =>
              log.log("error", "tls-reload-refused", {
                reason,
                keeping: pair?.fingerprint,
                validTo: pair?.validTo,
              }),
          },
          options.tlsPollMs,
        )
      : () => undefined;
  const address = server.address() as AddressInfo;
  log.log("info", "listening", {
    address: `${address.address}:${address.port}`,
    ...(pair ? { fingerprint: pair.fingerprint, validTo: pair.validTo } : { tls: false }),
  });
  let closing: Promise<void> | null = null;
  return {
    host: address.address,
    port: address.port,
    drain() {
      draining = true;
    },
    close() {
      // A request still arriving (on a connection that had carried none, which closeIdleConnections
      // leaves open) is answered as during a drain: not ready, and its connection closed.
      draining = true;
      closing ??= new Promise<void>((resolve) => {
        stopWatching();
        const grace = setTimeout(() => server.closeAllConnections(), options.closeGraceMs ?? 10_000);
        grace.unref();
        server.close(() => {
          clearTimeout(grace);
          // The last denials' audit entries are committed before the catalog is closed.
          void Promise.all(recording).then(() => resolve());
        });
        // Idle keep-alive connections would hold close() open; busy ones finish their request first.
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
