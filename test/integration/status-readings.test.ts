import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { postgresEngine } from "../../src/engines/postgres/index.js";
import { statusReadings } from "../../src/engines/postgres/status-readings.js";
import type { StatusReading } from "../../src/ports/engine.js";
import { createDatabase, query, urlFor, type TestDatabase } from "../support/pg.js";

/** A loopback port nothing listens on (connections to it are refused at once). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe("status's live reads of many databases (statusReadings: one session per database)", () => {
  let a: TestDatabase;
  let b: TestDatabase;
  before(async () => {
    a = await createDatabase("lifeline_readings");
    b = await createDatabase("lifeline_readings");
    await query(a.url, "CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 10)");
  });
  after(async () => {
    await a.drop();
    await b.drop();
  });

  // Leftovers are the server's (status lists every staging copy no lifeline holds), and the server
  // is shared: other tests' kill cases leave theirs for a moment. Only this test's databases count.
  const own = (remains: StatusReading["remains"]) =>
    remains && {
      ...remains,
      leftovers: remains.leftovers.filter((name) => name.startsWith(a.name) || name.startsWith(b.name)),
    };

  for (const concurrency of [1, 8]) {
    it(`reads each database, names each one that cannot be read (${concurrency} at a time)`, async () => {
      const engine = postgresEngine();
      const port = await closedPort();
      const refused = ["r1", "r2", "r3"].map((d) => `postgres://postgres@127.0.0.1:${port}/${d}`);
      const urls = [a.url, ...refused, urlFor(`lifeline_missing_${Date.now()}`), b.url, a.url];
      const readings = await statusReadings(
        urls.map((url) => ({ target: engine.target(url), guardKey: null })),
        concurrency,
      );
      assert.equal(readings.length, urls.length);
      const [first, r1, r2, r3, missing, second, again] = readings as StatusReading[];
      for (const ok of [first, second, again]) {
        assert.ok(ok && !("error" in ok.live), JSON.stringify(ok?.live));
        assert.ok(ok.live.databaseBytes > 0);
        assert.equal(ok.guard?.installed, false, "the guard is read on the same session");
        assert.deepEqual(own(ok.remains), { interrupted: [], leftovers: [] });
      }
      assert.ok(first && !("error" in first.live));
      assert.ok(first.live.activity.tables.some((t) => t.table.endsWith("t")));
      // The same database twice: the same reading.
      assert.deepEqual(again, first);
      // A refused server: every asset on it says so, each with its own URL; nothing else read.
      for (const [i, r] of [r1, r2, r3].entries()) {
        assert.ok(r && "error" in r.live);
        assert.equal(r.live.error, `cannot connect to ${refused[i]}: connection refused`);
        assert.equal(r.guard, null);
        assert.equal(r.remains, null);
      }
      // A database that does not exist on a server that answers: its own error, the server's remains.
      assert.ok(missing && "error" in missing.live);
      assert.match(missing.live.error, /does not exist/);
      assert.equal(missing.guard, null);
      assert.deepEqual(own(missing.remains), { interrupted: [], leftovers: [] });
    });
  }
});
