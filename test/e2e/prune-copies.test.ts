/**
 * `lifeline prune` with copies: in lifeline.yaml, through the built CLI: each drill copies its
 * verified restore point, prune applies the retention to the repository and to each copy, says what
 * each copy removed (text and --json), and a copy that cannot be read is an error at the end and
 * exit code 1 while the other copy is still pruned.
 */
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, type CliResult } from "../support/cli.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface PruneJson {
  removed: string[];
  copies: {
    to: string;
    removed?: string[];
    decisions?: { id: string }[];
    drillReports?: number;
    error?: string;
  }[];
}

describe("lifeline prune with copies: (real CLI, PostgreSQL, local directories)", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-e2e-prune-copies-");
  const run = (args: string[]): Promise<CliResult> => cli(args, { cwd: work.dir });
  const config = (copies: string[]) =>
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `copies:\n${copies.map((c) => `  - url: ${c}\n`).join("")}assets:\n  shop:\n    url: ${db.url}\n    drill: { scratch: { url: ${ADMIN_URL} }, jobs: 1 }\n    retention: { keepLast: 1, daily: 0, weekly: 0 }\n`,
    );
  const inCopy = () =>
    readdirSync(path.join(work.dir, "offsite", "restore-points", "shop"))
      .filter((n) => !n.startsWith("."))
      .sort();

  before(async () => {
    db = await createDatabase("lifeline_e2e_prune_copies");
    await query(db.url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 20)");
    // A regular file where a copy's directory should be: that copy cannot be read.
    writeFileSync(path.join(work.dir, "not-a-directory"), "");
  });
  after(async () => {
    await db.drop();
    work.remove();
  });

  it("prunes the copy with the same rules, reports it, and fails at the end for a copy it cannot read", async () => {
    config(["offsite"]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const backup = await run(["backup", "shop", "--json"]);
      assert.equal(backup.code, 0, backup.stderr);
      ids.push((JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id);
      const drill = await run(["drill", "shop", "--json"]);
      assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    }
    assert.deepEqual(inCopy(), [...ids].sort(), "each drill copied its restore point");
    const [a, b, c] = ids as [string, string, string];

    const dry = await run(["prune", "shop", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /copy .*offsite: would remove 2 restore points, keeps 1/);
    assert.deepEqual(inCopy(), [...ids].sort(), "a dry run removes nothing from the copy");

    config(["not-a-directory", "offsite"]);
    const pruned = await run(["prune", "shop", "--json"]);
    assert.equal(pruned.code, 1, pruned.stdout + pruned.stderr);
    const result = JSON.parse(pruned.stdout) as PruneJson;
    assert.deepEqual(result.removed.sort(), [a, b].sort());
    const [broken, offsite] = result.copies;
    assert.match(broken?.to ?? "", /not-a-directory/);
    assert.ok(broken?.error, JSON.stringify(broken));
    assert.match(offsite?.to ?? "", /offsite/);
    assert.equal(offsite?.error, undefined);
    assert.deepEqual(offsite?.removed?.sort(), [a, b].sort());
    assert.deepEqual(inCopy(), [c]);
    assert.match(pruned.stderr, /error: 1 copy NOT pruned: .*not-a-directory/);

    const audit = await run(["audit", "--kind", "prune", "--json"]);
    assert.equal(audit.code, 0, audit.stderr);
    assert.match(audit.stdout, /"copy": "[^"]*offsite"/);

    const check = await run(["check", "--json"]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  });
});
