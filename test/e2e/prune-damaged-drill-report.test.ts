/**
 * `lifeline prune` with a drill report that does not read: the restore point it belongs to was
 * drilled (what the drill found is unknown), so retention keeps it and says why; `check` names the
 * file. Through the built CLI, with the asset's index removed so that it is rebuilt from the files.
 */
import assert from "node:assert/strict";
import { readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { cli, type CliResult } from "../support/cli.js";
import { ADMIN_URL, createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

interface PruneJson {
  removed: string[];
  decisions: { id: string; remove: boolean; reasons: string[] }[];
  copies: {
    to: string;
    removed: string[];
    decisions: { id: string; remove: boolean; reasons: string[] }[];
  }[];
}

describe("lifeline prune with a damaged drill report (real CLI, PostgreSQL, local directory)", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-e2e-prune-damaged-drill-");
  const run = (args: string[]): Promise<CliResult> => cli(args, { cwd: work.dir });
  const repo = () => path.join(work.dir, ".lifeline", "repository");

  before(async () => {
    db = await createDatabase("lifeline_e2e_prune_damaged_drill");
    await query(db.url, "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 20)");
    writeFileSync(
      path.join(work.dir, "lifeline.yaml"),
      `copies:\n  - url: offsite\nassets:\n  shop:\n    url: ${db.url}\n    drill: { scratch: { url: ${ADMIN_URL} }, jobs: 1 }\n    retention: { keepLast: 3, daily: 0, weekly: 0 }\n`,
    );
  });
  after(async () => {
    await db.drop();
    work.remove();
  });

  it("keeps a restore point whose drill report is damaged, and says why", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const backup = await run(["backup", "shop", "--json"]);
      assert.equal(backup.code, 0, backup.stderr);
      ids.push((JSON.parse(backup.stdout) as { restorePoint: { id: string } }).restorePoint.id);
      const drill = await run(["drill", "shop", "--json"]);
      assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    }
    const [a] = ids as [string, string, string];
    const reportDir = path.join(repo(), "drills", "shop", a);
    const [report] = readdirSync(reportDir).filter((n) => n.endsWith(".json"));
    assert.ok(report, "A has a drill report");
    // In the repository and in the copy (the copy judged on its own drill reports).
    for (const root of [repo(), path.join(work.dir, "offsite")]) {
      writeFileSync(path.join(root, "drills", "shop", a, report), "{broken");
      rmSync(path.join(root, "index", "shop.json"));
    }

    const dry = await run(["prune", "shop", "--dry-run"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.doesNotMatch(dry.stdout, /never drilled/);
    assert.match(dry.stdout, /drill report of it is damaged/);

    const pruned = await run(["prune", "shop", "--json"]);
    assert.equal(pruned.code, 0, pruned.stdout + pruned.stderr);
    const result = JSON.parse(pruned.stdout) as PruneJson;
    assert.deepEqual(result.removed, []);
    const kept = result.decisions.find((d) => d.id === a);
    assert.equal(kept?.remove, false);
    assert.ok(
      kept?.reasons.some((r) => /drill report of it is damaged/.test(r)),
      JSON.stringify(kept),
    );
    assert.ok(readdirSync(path.join(repo(), "restore-points", "shop")).includes(a), "A is still there");
    const [copy] = result.copies;
    assert.deepEqual(copy?.removed, []);
    const keptInCopy = copy?.decisions.find((d) => d.id === a);
    assert.equal(keptInCopy?.remove, false);
    assert.ok(
      keptInCopy?.reasons.some((r) => /drill report of it is damaged/.test(r)),
      JSON.stringify(keptInCopy),
    );
    assert.ok(readdirSync(path.join(work.dir, "offsite", "restore-points", "shop")).includes(a));

    const check = await run(["check", "--json"]);
    assert.equal(check.code, 4, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`drills/shop/${a}/${report.replace(".", "\\.")}`));

    // The report removed: retention judges A on the drills that read.
    for (const root of [repo(), path.join(work.dir, "offsite")])
      rmSync(path.join(root, "drills", "shop", a, report));
    const again = await run(["prune", "shop", "--dry-run"]);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stdout, /drill report of it is damaged/);
  });
});
