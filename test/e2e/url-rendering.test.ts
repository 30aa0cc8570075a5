/**
 * `restore` and `standby` show a target URL the same way, in text and in --json: the password
 * masked by the one redactor (redactUrl: `*****`), the rest of the URL as given; the password
 * itself never appears, nor in the audit log. Before, restore masked it and standby dropped it.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { cli } from "../support/cli.js";
import {
  createDatabase,
  databaseExists,
  query,
  tempDir,
  urlFor,
  ADMIN_URL,
  type TestDatabase,
} from "../support/pg.js";

const PASSWORD = "url-Rend3ring-Secret";

describe("restore and standby show a URL's password the same way", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-url-rendering-");
  const suffix = Date.now().toString(36);
  const restored = `lifeline_urlr_restored_${suffix}`;
  const standby = `lifeline_urlr_standby_${suffix}`;
  // trust authentication: the server ignores the password, lifeline must still hide it.
  const withPassword = (database: string) =>
    urlFor(database).replace("//postgres@", `//postgres:${PASSWORD}@`) + `?password=${PASSWORD}`;
  const masked = (database: string) =>
    urlFor(database).replace("//postgres@", "//postgres:*****@") + "?password=*****";
  const run = (args: string[]) => cli(args, { cwd: work.dir, env: { LIFELINE_USER: "alice" } });
  const outputs: string[] = [];

  before(async () => {
    db = await createDatabase("lifeline_urlr");
    await query(
      db.url,
      "CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 20)",
    );
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `assets:\n  shop:\n    url: ${db.url}\n    tier: staging\n`,
    );
    assert.equal((await run(["backup", "shop"])).code, 0);
    assert.equal((await run(["drill", "shop"])).code, 0);
  });

  after(async () => {
    for (const name of [restored, standby])
      if (await databaseExists(name)) await query(ADMIN_URL, `DROP DATABASE "${name}" WITH (FORCE)`);
    await db.drop();
    work.remove();
  });

  it("text: restore's target and standby's URL both carry the masked password", async () => {
    const r = await run(["restore", "shop", "--to", withPassword(restored)]);
    assert.equal(r.code, 0, r.stderr);
    const s = await run(["standby", "shop", "--to", withPassword(standby)]);
    assert.equal(s.code, 0, s.stderr);
    outputs.push(r.stdout, r.stderr, s.stdout, s.stderr);
    assert.ok(r.stdout.includes(`into ${masked(restored)}`), r.stdout);
    assert.ok(s.stdout.includes(`where      ${masked(standby)}`), s.stdout);
    assert.ok(s.stdout.includes(`Dependents can read from ${masked(standby)} `), s.stdout);
  });

  it("--json: the same rendering in restore's target and standby's target and dependents' URL", async () => {
    const r = await run(["restore", "shop", "--to", withPassword(`${restored}_2`), "--json"]);
    const s = await run(["standby", "shop", "--refresh", "--to", withPassword(standby), "--json"]);
    outputs.push(r.stdout, r.stderr, s.stdout, s.stderr);
    try {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(s.code, 0, s.stderr);
      const restoreDoc = JSON.parse(r.stdout) as { restore: { target: string } };
      const standbyDoc = JSON.parse(s.stdout) as { standby: { target: string }; dependents: { url: string } };
      assert.equal(restoreDoc.restore.target, masked(`${restored}_2`));
      assert.equal(standbyDoc.standby.target, masked(standby));
      assert.equal(standbyDoc.dependents.url, masked(standby));
    } finally {
      if (await databaseExists(`${restored}_2`))
        await query(ADMIN_URL, `DROP DATABASE "${restored}_2" WITH (FORCE)`);
    }
  });

  it("the password is nowhere: outputs, errors, the audit log", async () => {
    const audit = await run(["audit", "--json"]);
    assert.equal(audit.code, 0, audit.stderr);
    outputs.push(audit.stdout);
    assert.match(audit.stdout, /\*\*\*\*\*/);
    for (const text of outputs) assert.ok(!text.includes(PASSWORD), text);
  });
});
