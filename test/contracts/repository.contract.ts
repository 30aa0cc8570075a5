/**
 * The contract of the Repository port, said once: repository.test.ts runs it against every adapter
 * (the local directory today; the offsite one will run the same suite). Each adapter only supplies
 * a fresh repository and how to damage it or crash into it behind lifeline's back.
 */
import assert from "node:assert/strict";
import { cp, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { passedDrill } from "../support/repository.js";
import { isLifelineError } from "../../src/core/errors.js";
import { newRestorePointId, type Manifest } from "../../src/core/restore-point/restore-point.js";
import type { Repository } from "../../src/ports/repository.js";
import { testAsset, testContext } from "../support/context.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

/** A fresh repository of one adapter, and the ways around it that only a test needs. */
export interface RepositorySubject {
  repository: Repository;
  /** Another Repository on the same store (another process would see the same). */
  reopen(): Repository;
  /** Rewrites the stored manifest of a restore point, as corruption or tampering would. */
  editManifest(asset: string, id: string, edit: (text: string) => string): Promise<void>;
  /** Rewrites a stored drill report (drills/<asset>/<restore point>/<drill>.json), as corruption would. */
  editDrillReport(
    asset: string,
    restorePointId: string,
    drillId: string,
    edit: (text: string) => string,
  ): Promise<void>;
  /** Changes a stored artifact of a restore point (its size). */
  damageArtifact(manifest: Manifest): Promise<void>;
  /** A backup whose process was killed after writing artifacts, before its manifest was committed. */
  killedBackup(asset: string, id: string): Promise<void>;
  cleanup(): Promise<void>;
}

const at = (day: number, ms = 0) => new Date(Date.UTC(2026, 10, day, 10, 0, 0, ms)).toISOString();
const idAt = (day: number, hex: string) => newRestorePointId(new Date(at(day)), hex);

async function rejectsDamaged(promise: Promise<unknown>, id: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isLifelineError(error), String(error));
    assert.equal(error.code, "RESTORE_POINT_DAMAGED");
    assert.equal(error.exitCode, 4);
    assert.ok(error.message.includes(id), error.message);
    assert.ok(error.fix, "names the fix");
    return true;
  });
}

export function repositoryContract(
  name: string,
  open: () => Promise<RepositorySubject>,
  options: { retains?: string } = {},
): void {
  /** A store that retains every restore point (object lock) cannot remove one now: said, and skipped. */
  const removes = options.retains ? { skip: options.retains } : {};
  describe(`Repository contract: ${name}`, () => {
    let source: TestDatabase;
    let subject: RepositorySubject;
    let repo: Repository;

    before(async () => {
      source = await createDatabase("lifeline_repo_contract");
      await query(
        source.url,
        "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)",
      );
    });
    after(async () => {
      await source?.drop();
    });

    async function fresh(): Promise<void> {
      subject = await open();
      repo = subject.repository;
    }
    const done = () => subject.cleanup();

    /** A real backup of the test database through the port. */
    const takeBackup = (asset = "app") => {
      const work = tempDir();
      const ctx = { ...testContext(work.dir), repository: repo };
      return backup(ctx, testAsset(asset, source.url)).finally(() => work.remove());
    };

    /** Another restore point with the same artifacts, saved through the port (stage, write, commit). */
    async function copyOf(manifest: Manifest, asset: string, id: string, snapshotTime: string) {
      const staged = await repo.stage(asset, id);
      const local = await repo.localArtifacts(manifest);
      assert.deepEqual(local.findings, []);
      await cp(local.directory, staged.directory, {
        recursive: true,
        filter: (file) => path.basename(file) !== "manifest.json",
      });
      await local.release();
      const copy: Manifest = { ...manifest, id, asset, snapshotTime, createdAt: snapshotTime };
      delete copy.digest;
      await staged.commit(copy);
      return copy;
    }

    it("starts empty", async () => {
      await fresh();
      try {
        assert.deepEqual(await repo.listRestorePoints(), []);
        assert.deepEqual(await repo.listRestorePoints("app"), []);
        assert.equal(await repo.getRestorePoint("app", idAt(20, "aaaaaa")), undefined);
        assert.equal(await repo.getRestorePoint("app", "../../etc"), undefined);
        assert.deepEqual(await repo.overview("app"), {
          restorePoints: [],
          drills: [],
          damagedDrillReports: [],
        });
        assert.deepEqual(await repo.listDrillReports(), []);
        const check = await repo.check();
        assert.deepEqual(check.findings, []);
        assert.equal(check.restorePoints, 0);
        assert.equal(check.drillReports, 0);
        assert.ok(repo.location.length > 0);
      } finally {
        await done();
      }
    });

    it("a saved restore point is listed and read back as it was committed, its artifacts intact", async () => {
      await fresh();
      try {
        const manifest = await takeBackup();
        for (const reader of [repo, subject.reopen()]) {
          const got = await reader.getRestorePoint("app", manifest.id);
          assert.ok(got);
          assert.equal(got.id, manifest.id);
          assert.equal(got.snapshotTime, manifest.snapshotTime);
          assert.deepEqual(got.artifacts, manifest.artifacts);
          assert.deepEqual(got.fingerprints, manifest.fingerprints);
          assert.deepEqual(
            (await reader.listRestorePoints("app")).map((m) => m.id),
            [manifest.id],
          );
          const [info] = (await reader.overview("app")).restorePoints;
          assert.deepEqual(info && [info.id, info.snapshotTime, info.damaged, info.protected], [
            manifest.id,
            manifest.snapshotTime,
            null,
            true,
          ]);
          assert.equal(
            info?.bytes,
            manifest.artifacts.reduce((sum, a) => sum + a.bytes, 0),
          );
        }
        assert.deepEqual(await repo.verifyArtifacts(manifest), []);
        const check = await repo.check();
        assert.deepEqual(check.findings, []);
        assert.equal(check.restorePoints, 1);
        for (const options of [{ readData: true }, { repairIndex: true }]) {
          const again = await repo.check(options);
          assert.deepEqual(again.findings, [], JSON.stringify(options));
          assert.equal(again.restorePoints, 1);
          if (options.repairIndex) assert.match(again.notes.join("\n"), /index\/app\.json: rebuilt/);
        }
        assert.deepEqual(
          (await subject.reopen().overview("app")).restorePoints.map((p) => p.id),
          [manifest.id],
        );
      } finally {
        await done();
      }
    });

    it("restore points are listed oldest first, per asset", async () => {
      await fresh();
      try {
        const seed = await takeBackup();
        const older = await copyOf(seed, "app", idAt(20, "aaaaaa"), at(20));
        const other = await copyOf(seed, "feed", idAt(21, "bbbbbb"), at(21));
        assert.deepEqual(
          (await repo.listRestorePoints("app")).map((m) => m.id),
          [older.id, seed.id],
        );
        assert.deepEqual(
          (await repo.overview("app")).restorePoints.map((p) => p.id),
          [older.id, seed.id],
        );
        assert.deepEqual(
          (await repo.listRestorePoints("feed")).map((m) => m.id),
          [other.id],
        );
        assert.deepEqual(
          (await repo.listRestorePoints()).map((m) => m.id).sort(),
          [older.id, other.id, seed.id].sort(),
        );
        assert.equal(await repo.getRestorePoint("feed", seed.id), undefined);
        assert.equal((await repo.check()).restorePoints, 3);
      } finally {
        await done();
      }
    });

    it("until its manifest is committed there is no restore point: staged, abandoned or aborted", async () => {
      await fresh();
      try {
        const id = idAt(22, "cccccc");
        const staged = await repo.stage("app", id);
        assert.equal(staged.id, id);
        await writeFile(path.join(staged.directory, "toc.dat"), "half a dump");
        for (const reader of [repo, subject.reopen()]) {
          assert.equal(await reader.getRestorePoint("app", id), undefined);
          assert.deepEqual(await reader.listRestorePoints(), []);
          assert.deepEqual((await reader.overview("app")).restorePoints, []);
          assert.deepEqual((await reader.check()).findings, []);
        }
        await staged.abort();
        await staged.abort();
        await assert.rejects(staged.commit({} as Manifest));
        assert.equal(await repo.getRestorePoint("app", id), undefined);
        assert.deepEqual((await repo.check()).findings, []);

        // Once committed, an abort changes nothing.
        const manifest = await takeBackup();
        const again = await repo.stage("app", idAt(23, "dddddd"));
        await again.abort();
        assert.equal((await repo.getRestorePoint("app", manifest.id))?.id, manifest.id);
      } finally {
        await done();
      }
    });

    it("a backup killed before its manifest leaves no restore point, and the next backup works", async () => {
      await fresh();
      try {
        const id = idAt(24, "eeeeee");
        await subject.killedBackup("app", id);
        assert.equal(await repo.getRestorePoint("app", id), undefined);
        assert.deepEqual((await repo.overview("app")).restorePoints, []);
        assert.deepEqual((await repo.check()).findings, []);
        const manifest = await takeBackup();
        assert.deepEqual(
          (await repo.listRestorePoints("app")).map((m) => m.id),
          [manifest.id],
        );
        assert.deepEqual((await repo.check()).findings, []);
      } finally {
        await done();
      }
    });

    it("a damaged manifest is reported as damaged, never skipped or taken for no restore point", async () => {
      await fresh();
      try {
        const seed = await takeBackup();
        const a = await copyOf(seed, "app", idAt(20, "aaaaaa"), at(20));
        const b = await copyOf(seed, "app", idAt(21, "bbbbbb"), at(21));
        await repo.writeDrillReport(passedDrill("app", b.id, at(26)));
        // Truncated.
        await subject.editManifest("app", b.id, (text) => text.slice(0, 200));
        // Changed without its digest following (a value edited by hand, or bits flipped).
        await subject.editManifest("app", a.id, (text) => text.replace(a.snapshotTime, at(19)));
        for (const id of [a.id, b.id]) await rejectsDamaged(repo.getRestorePoint("app", id), id);
        assert.deepEqual(
          (await repo.listRestorePoints("app")).map((m) => m.id),
          [seed.id],
        );
        // The overview comes from the index (a manifest damaged after it was indexed may still show
        // as it was, until a reader relies on it); it never leaves a restore point out.
        assert.deepEqual(
          (await subject.reopen().overview("app")).restorePoints.map((p) => p.id),
          [a.id, b.id, seed.id],
        );
        const check = await repo.check();
        assert.deepEqual(
          check.findings.map((f) => f.kind),
          ["manifest-invalid", "manifest-invalid"],
          JSON.stringify(check.findings),
        );
        for (const id of [a.id, b.id]) assert.ok(check.findings.some((f) => f.message.includes(id)));
      } finally {
        await done();
      }
    });

    it("check finds an artifact that no longer matches its manifest", async () => {
      await fresh();
      try {
        const manifest = await takeBackup();
        await subject.damageArtifact(manifest);
        assert.notDeepEqual(await repo.verifyArtifacts(manifest), []);
        assert.ok((await repo.check()).findings.length > 0);
      } finally {
        await done();
      }
    });

    it("drill reports: listed per asset oldest first, in the overview, counted by check; orphans found", async () => {
      await fresh();
      try {
        const seed = await takeBackup();
        const other = await copyOf(seed, "feed", idAt(21, "bbbbbb"), at(21));
        const reports = [at(26, 2), at(26, 0), at(26, 1)].map((t) => passedDrill("app", seed.id, t));
        for (const report of reports) await repo.writeDrillReport(report);
        await repo.writeDrillReport(passedDrill("feed", other.id, at(25)));
        assert.deepEqual(
          (await repo.listDrillReports("app")).map((r) => r.finishedAt),
          [at(26, 0), at(26, 1), at(26, 2)],
        );
        assert.deepEqual(
          await repo.listDrillReports("app"),
          [...reports].sort((x, y) => x.finishedAt.localeCompare(y.finishedAt)),
        );
        assert.equal((await repo.listDrillReports()).length, 4);
        assert.deepEqual(
          (await subject.reopen().overview("app")).drills
            .map((d) => [d.id, d.restorePointId, d.result])
            .sort(),
          reports.map((r) => [r.id, r.restorePointId, r.result]).sort(),
        );
        let check = await repo.check();
        assert.deepEqual(check.findings, []);
        assert.equal(check.drillReports, 4);

        await repo.writeDrillReport(passedDrill("app", idAt(1, "ffffff"), at(27)));
        check = await repo.check();
        assert.deepEqual(
          check.findings.map((f) => f.kind),
          ["drill-report-orphan"],
        );
      } finally {
        await done();
      }
    });

    it("a drill report that does not read: named in the overview (not dropped), until it reads again", async () => {
      await fresh();
      try {
        const seed = await takeBackup();
        const good = passedDrill("app", seed.id, at(26, 0));
        const bad = passedDrill("app", seed.id, at(26, 1));
        await repo.writeDrillReport(good);
        await repo.writeDrillReport(bad);
        let original = "";
        await subject.editDrillReport("app", seed.id, bad.id, (text) => ((original = text), "{broken"));
        // The index is rebuilt from the reports (as when it is missing or stale).
        const check = await repo.check({ repairIndex: true });
        assert.deepEqual(
          check.findings.map((f) => f.kind),
          ["drill-report-invalid"],
        );
        const path = `drills/app/${seed.id}/${bad.id}.json`;
        for (const reader of [repo, subject.reopen()]) {
          const overview = await reader.overview("app");
          assert.deepEqual(
            overview.drills.map((d) => d.id),
            [good.id],
          );
          assert.deepEqual(overview.damagedDrillReports, [{ restorePointId: seed.id, id: bad.id, path }]);
        }
        // Put right: read again, without repairing the index.
        await subject.editDrillReport("app", seed.id, bad.id, () => original);
        const overview = await subject.reopen().overview("app");
        assert.deepEqual(overview.damagedDrillReports, []);
        assert.deepEqual(overview.drills.map((d) => d.id).sort(), [good.id, bad.id].sort());
      } finally {
        await done();
      }
    });

    it(
      "removing a restore point: held ones are refused, a removed one is gone with its drill reports from every view",
      removes,
      async () => {
        await fresh();
        try {
          const seed = await takeBackup();
          const older = await copyOf(seed, "app", idAt(21, "cccccc"), at(21));
          await repo.writeDrillReport(passedDrill("app", older.id, at(22)));
          await repo.writeDrillReport(passedDrill("app", seed.id, at(23)));

          const release = await repo.holdRestorePoint("app", older.id, "a drill of app");
          assert.match(
            (await subject.reopen().heldRestorePoints("app")).get(older.id) ?? "",
            /a drill of app/,
          );
          await assert.rejects(repo.removeRestorePoint("app", older.id), (error: unknown) => {
            assert.ok(isLifelineError(error), String(error));
            assert.equal(error.code, "RESTORE_POINT_IN_USE");
            assert.match(error.message, /a drill of app/);
            return true;
          });
          assert.ok(await repo.getRestorePoint("app", older.id), "a refused removal removes nothing");
          await release();
          assert.equal((await repo.heldRestorePoints("app")).size, 0);

          await repo.removeRestorePoint("app", older.id);
          await repo.removeRestorePoint("app", older.id); // again: nothing left to do, no error
          for (const reader of [repo, subject.reopen()]) {
            assert.equal(await reader.getRestorePoint("app", older.id), undefined);
            assert.deepEqual(
              (await reader.listRestorePoints("app")).map((m) => m.id),
              [seed.id],
            );
            const overview = await reader.overview("app");
            assert.deepEqual(
              overview.restorePoints.map((p) => p.id),
              [seed.id],
            );
            assert.deepEqual(
              overview.drills.map((d) => d.restorePointId),
              [seed.id],
            );
            assert.deepEqual(
              (await reader.listDrillReports("app")).map((r) => r.restorePointId),
              [seed.id],
            );
          }
          const check = await repo.check();
          assert.deepEqual(check.findings, []);
          assert.equal(check.restorePoints, 1);
          assert.equal(check.drillReports, 1);
        } finally {
          await done();
        }
      },
    );

    it(
      "a hold and a removal racing: never both succeed; a hold on a removed restore point is a clear error",
      removes,
      async () => {
        await fresh();
        try {
          const seed = await takeBackup();
          const gone = await copyOf(seed, "app", idAt(20, "eeeeee"), at(20));
          await repo.removeRestorePoint("app", gone.id);
          await assert.rejects(repo.holdRestorePoint("app", gone.id, "a drill of app"), (error: unknown) => {
            assert.ok(isLifelineError(error), String(error));
            assert.equal(error.code, "RESTORE_POINT_GONE");
            assert.match(error.fix ?? "", /again/);
            return true;
          });
          assert.equal((await repo.heldRestorePoints("app")).size, 0, "a failed hold leaves no hold");
          for (let i = 0; i < 4; i++) {
            const rp = await copyOf(seed, "app", idAt(10 + i, "dddddd"), at(10 + i));
            const [hold, removal] = await Promise.allSettled([
              repo.holdRestorePoint("app", rp.id, "a restore of app"),
              subject.reopen().removeRestorePoint("app", rp.id),
            ]);
            if (hold.status === "fulfilled") {
              assert.ok(await repo.getRestorePoint("app", rp.id), "a held restore point was removed");
              assert.equal(removal.status, "rejected");
              await hold.value();
            } else {
              const error: unknown = hold.reason;
              assert.ok(isLifelineError(error), String(error));
              assert.equal(error.code, "RESTORE_POINT_GONE");
            }
            if (removal.status === "rejected") {
              const error: unknown = removal.reason;
              assert.ok(isLifelineError(error), String(error));
              assert.equal(error.code, "RESTORE_POINT_IN_USE");
            }
          }
          assert.deepEqual((await repo.check()).findings, []);
        } finally {
          await done();
        }
      },
    );

    it("concurrent drill reports lose none", async () => {
      await fresh();
      try {
        const seed = await takeBackup();
        await Promise.all(
          Array.from({ length: 20 }, (_, i) => repo.writeDrillReport(passedDrill("app", seed.id, at(26, i)))),
        );
        assert.equal((await repo.listDrillReports("app")).length, 20);
        assert.equal((await subject.reopen().overview("app")).drills.length, 20);
        assert.deepEqual((await repo.check()).findings, []);
      } finally {
        await done();
      }
    });
  });
}
