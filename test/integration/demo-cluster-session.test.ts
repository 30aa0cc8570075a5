import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import {
  DEFAULT_WEBHOOK_SERVICE,
  parsePort,
  parseWebhookService,
  parseWebhookUrl,
  startClusterSession,
} from "../../src/demo/cluster-session.js";
import { isLifelineError } from "../../src/core/errors.js";

const usage = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (e: unknown) => isLifelineError(e) && e.kind === "usage" && message.test(e.message));

describe("lifeline demo cluster's options", () => {
  it("--webhook-service: namespace/name[:port], port 443 by default", () => {
    assert.equal(parseWebhookService("lifeline/lifeline"), DEFAULT_WEBHOOK_SERVICE);
    assert.equal(parseWebhookService("guard/lifeline:8443"), "guard/lifeline:8443");
    usage(() => parseWebhookService("lifeline"), /not NAMESPACE\/NAME\[:PORT\]/);
    usage(() => parseWebhookService("lifeline/lifeline:0"), /not NAMESPACE\/NAME/);
    usage(() => parseWebhookService("Lifeline/x"), /not NAMESPACE\/NAME/);
  });

  it("--webhook-url: https only (the API server calls webhooks over HTTPS)", () => {
    assert.equal(parseWebhookUrl("https://127.0.0.1:9443/"), "https://127.0.0.1:9443");
    usage(() => parseWebhookUrl("http://127.0.0.1:8443"), /not an https:\/\/ URL/);
    usage(() => parseWebhookUrl("127.0.0.1:8443"), /not an https:\/\/ URL/);
  });

  it("--port: 0 to 65535", () => {
    assert.equal(parsePort("0"), 0);
    assert.equal(parsePort("6443"), 6443);
    usage(() => parsePort("65536"), /not a port number/);
    usage(() => parsePort("0x10"), /not a port number/);
  });
});

describe("startClusterSession", () => {
  it("maps the webhook Service, writes the kubeconfig into --dir and removes only it at stop", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "lifeline-cluster-session-"));
    try {
      const session = await startClusterSession({
        dir: path.join(dir, "sub"),
        webhookService: "guard/lifeline",
        webhookUrl: "https://127.0.0.1:9443",
      });
      assert.deepEqual(session.webhook, { service: "guard/lifeline:443", url: "https://127.0.0.1:9443" });
      assert.equal(session.kubeconfig, path.join(dir, "sub", "kubeconfig"));
      assert.ok(session.claims.names.includes("data-postgresql-primary-0"));
      assert.ok(existsSync(session.kubeconfig));
      await session.stop();
      await session.stop();
      assert.equal(existsSync(session.kubeconfig), false);
      assert.ok(existsSync(path.join(dir, "sub")));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
