import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apiStatusMessage, webhookDenial } from "../../src/kubernetes/cluster.js";

/** What @kubernetes/client-node throws for a non-2xx answer: the code and the Status body (text or parsed). */
const apiException = (code: number, body: unknown) =>
  Object.assign(new Error(`HTTP-Code: ${code}`), { code, body });
const status = (message: string) => ({
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  message,
  code: 403,
});

describe("Kubernetes API errors: a webhook's refusal told apart from RBAC", () => {
  it("reads the Status message from a text or parsed body", () => {
    assert.equal(apiStatusMessage(apiException(403, JSON.stringify(status("no")))), "no");
    assert.equal(apiStatusMessage(apiException(403, status("no"))), "no");
    assert.equal(apiStatusMessage(apiException(403, "<html>")), null);
    assert.equal(apiStatusMessage(new Error("socket hang up")), null);
  });

  it("a validating webhook's denial: its name and message", () => {
    const text = 'admission webhook "volumes.example.com" denied the request: managed by the storage team';
    assert.deepEqual(webhookDenial(apiException(403, JSON.stringify(status(text)))), {
      webhook: "volumes.example.com",
      message: "managed by the storage team",
    });
    assert.deepEqual(
      webhookDenial(
        apiException(403, status('admission webhook "v.example.com" denied the request without explanation')),
      ),
      { webhook: "v.example.com", message: null },
    );
  });

  it("RBAC's 403 is not a webhook denial", () => {
    const rbac = status(
      'persistentvolumes "pv-1" is forbidden: User "alice" cannot patch resource "persistentvolumes" in API group "" at the cluster scope',
    );
    assert.equal(webhookDenial(apiException(403, rbac)), null);
  });
});
