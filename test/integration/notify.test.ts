import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { notify } from "../../src/notify/webhook.js";
import { secrets } from "../../src/core/redact.js";

/** A real HTTP receiver: answers with the statuses queued, then 200. */
let statuses: number[] = [];
let received: unknown[] = [];
let url = "";
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString("utf8")));
  req.on("end", () => {
    received.push(JSON.parse(body));
    res.writeHead(statuses.shift() ?? 200).end();
  });
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/hooks/T1/B2/TOKEN123`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const message = {
  text: "plan abc needs an approval: lifeline approve abc",
  event: { event: "approval-needed" },
};

describe("webhook notifications", () => {
  it("posts a Slack-compatible message", async () => {
    statuses = [];
    received = [];
    assert.deepEqual(await notify([url], message, { backoffMs: 1 }), []);
    assert.deepEqual(received, [{ text: message.text, lifeline: message.event }]);
  });

  it("retries a failing receiver and succeeds", async () => {
    statuses = [503, 500];
    received = [];
    assert.deepEqual(await notify([url], message, { backoffMs: 1 }), []);
    assert.equal(received.length, 3);
  });

  it("gives up after three attempts and reports it without the secret path; does not retry a 4xx", async () => {
    statuses = [500, 500, 500];
    received = [];
    const failures = await notify([url], message, { backoffMs: 1 });
    assert.equal(failures.length, 1);
    assert.equal(failures[0]?.attempts, 3);
    assert.doesNotMatch(JSON.stringify(failures), /TOKEN123/);
    assert.ok(secrets.redact(`posting to ${url}`).includes("*****"), "the URL is registered as a secret");
    statuses = [404];
    received = [];
    await notify([url], message, { backoffMs: 1 });
    assert.equal(received.length, 1);
  });

  it("the body passes the one redactor: known secrets and secret patterns in the text and the event", async () => {
    statuses = [];
    received = [];
    secrets.add("hunter2notify");
    await notify(
      [url],
      {
        text: "alice approved `psql -c \"ALTER ROLE x PASSWORD 'pw1sql'\"`: hunter2notify",
        event: {
          event: "approved",
          comment: "PGPASSWORD=pw2env and --token=pw3tok",
          nested: ["hunter2notify"],
        },
      },
      { backoffMs: 1 },
    );
    const body = JSON.stringify(received);
    for (const secret of ["hunter2notify", "pw1sql", "pw2env", "pw3tok"])
      assert.ok(!body.includes(secret), body);
    assert.ok(body.includes("alice approved"), body);
  });

  it("an unreachable receiver fails without throwing", async () => {
    const failures = await notify(["http://127.0.0.1:9/x"], message, { backoffMs: 1 });
    assert.equal(failures.length, 1);
  });
});
