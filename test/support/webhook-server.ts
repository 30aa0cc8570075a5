/**
 * A real HTTPS admission webhook for tests of the simulated API server: a throwaway CA and a
 * server certificate made with `openssl`, and a server that records every AdmissionReview it
 * receives and answers with what the test's handler says.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestCertificates {
  /** PEM of the CA that signed the server certificate. */
  ca: string;
  /** The CA as a webhook's `clientConfig.caBundle` (base64 of the PEM). */
  caBundle: string;
  cert: string;
  key: string;
}

/** A CA and a server certificate for 127.0.0.1, localhost and the given DNS names (valid one day). */
export function makeTestCertificates(dnsNames: readonly string[] = []): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), "lifeline-webhook-tls-"));
  try {
    const run = (...args: string[]): void => {
      execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    run(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "1",
      "-subj",
      "/CN=lifeline test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
    run("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=webhook");
    const sans = ["IP:127.0.0.1", "DNS:localhost", ...dnsNames.map((n) => `DNS:${n}`)].join(",");
    writeFileSync(
      path.join(dir, "ext.cnf"),
      `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`,
    );
    run(
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.crt",
      "-days",
      "1",
      "-extfile",
      "ext.cnf",
    );
    const ca = readFileSync(path.join(dir, "ca.crt"), "utf8");
    return {
      ca,
      caBundle: Buffer.from(ca).toString("base64"),
      cert: readFileSync(path.join(dir, "server.crt"), "utf8"),
      key: readFileSync(path.join(dir, "server.key"), "utf8"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  requestKind?: { group: string; version: string; kind: string };
  requestResource?: { group: string; version: string; resource: string };
  name?: string;
  namespace?: string;
  operation: string;
  userInfo: { username: string; groups?: string[] };
  object: { metadata: { name: string; labels?: Record<string, string> } } | null;
  oldObject: { metadata: { name: string; labels?: Record<string, string> } } | null;
  dryRun: boolean;
  options: Record<string, unknown>;
}

export interface Received {
  path: string;
  request: AdmissionRequest;
}

/** What the handler answers: a response (uid is filled in), "hang" (never answers) or raw HTTP. */
export type Answer =
  | { allowed: boolean; status?: Record<string, unknown>; warnings?: string[] }
  | "hang"
  | { raw: string; code?: number };

export type Handler = (request: AdmissionRequest) => Answer;

export interface TestWebhookServer {
  url: string;
  port: number;
  certificates: TestCertificates;
  received: Received[];
  handler: Handler;
  close(): Promise<void>;
}

export async function startTestWebhook(certificates: TestCertificates): Promise<TestWebhookServer> {
  const hanging = new Set<import("node:http").ServerResponse>();
  const state: TestWebhookServer = {
    url: "",
    port: 0,
    certificates,
    received: [],
    handler: () => ({ allowed: true }),
    close: async () => {
      for (const res of hanging) res.destroy();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  const server = https.createServer({ cert: certificates.cert, key: certificates.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request: AdmissionRequest };
      state.received.push({ path: req.url ?? "", request: review.request });
      const answer = state.handler(review.request);
      if (answer === "hang") {
        hanging.add(res);
        return;
      }
      if ("raw" in answer) {
        res.writeHead(answer.code ?? 200, { "Content-Type": "application/json" });
        res.end(answer.raw);
        return;
      }
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          response: { uid: review.request.uid, ...answer },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `https://127.0.0.1:${state.port}`;
  return state;
}
