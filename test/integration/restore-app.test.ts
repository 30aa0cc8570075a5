import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import type { GateDeps } from "../../src/app/gate.js";
import { previousDatabases, restore } from "../../src/app/restore.js";
import { standby } from "../../src/app/standby.js";
import { openCatalog } from "../../src/catalog/index.js";
import { LifelineError } from "../../src/core/errors.js";
import { DEFAULT_POLICY } from "../../src/core/plan/policy.js";
import { restoreCommand } from "../../src/core/restore/options.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import type { Catalog } from "../../src/ports/catalog.js";
import { systemClock } from "../../src/ports/clock.js";
import type { Engine, Recovery, Target } from "../../src/ports/engine.js";
import type { Repository } from "../../src/ports/repository.js";
import { testAsset, testContext } from "../support/context.js";
import {
  ADMIN_URL,
  createDatabase,
  databaseExists,
  query,
  tempDir,
  urlFor,
  type TestDatabase,
} from "../support/pg.js";
import { passedDrill } from "../support/repository.js";

describe("restore (the use case) against the real PostgreSQL", () => {
  let db: TestDatabase;
  let catalog: Catalog;
  let manifest: Manifest;
  const work = tempDir("lifeline-restore-app-");
  const repoDir = path.join(work.dir, "repository");
  const names: string[] = [];
  const deps = (): GateDeps => ({
    catalog,
    identity: { id: "alice", source: "env", host: "test", authenticated: false },
    clock: systemClock,
    notify: async () => [],
    warn: () => undefined,
  });
  const request = (flags: Parameters<typeof restoreCommand>[1]) => ({
    asset: testAsset("shop", db.url),
    command: restoreCommand("shop", flags),
    commandText: "lifeline restore shop",
    policy: DEFAULT_POLICY,
    dryRun: false,
    document: (p: unknown) => p,
  });

  before(async () => {
    db = await createDatabase("ll_restore_app");
    await query(
      db.url,
      "CREATE TABLE merchants (id int PRIMARY KEY, name text); INSERT INTO merchants SELECT i, 'm' || i FROM generate_series(1, 50) i;" +
        "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes SELECT i, 'n' || i FROM generate_series(1, 20) i",
    );
    const ctx = testContext(repoDir);
    manifest = await backup(ctx, testAsset("shop", db.url));
    await ctx.repository.writeDrillReport(passedDrill("shop", manifest.id, new Date().toISOString()));
    catalog = await openCatalog(path.join(work.dir, "catalog.sqlite"));
  });

  after(async () => {
    await catalog.close();
    for (const name of names) await query(ADMIN_URL, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await db.drop();
    work.remove();
  });

  it("a restored copy that does not match the restore point is not swapped in: verified false, the table named, the target untouched, recorded as failed", async () => {
    const target = `${db.name}_mismatch`;
    names.push(target);
    // The restore point as read says another digest for notes (as a damaged archive would restore).
    const base = testContext(repoDir);
    const real = base.repository;
    const repository: Repository = Object.create(real) as Repository;
    repository.getRestorePoint = async (asset, id) => {
      const m = await real.getRestorePoint(asset, id);
      if (!m) return m;
      const copy = structuredClone(m);
      for (const t of copy.fingerprints.tables)
        if (t.table === "public.notes") t.digest = "0".repeat(t.digest.length);
      return copy;
    };
    const ctx = { ...base, repository };
    const outcome = await restore(ctx, deps(), request({ to: urlFor(target) }));
    assert.equal(outcome.status, "restored");
    assert.ok(outcome.status === "restored");
    assert.equal(outcome.result.verified, false);
    assert.deepEqual(
      outcome.result.mismatches.map((m) => m.object),
      ["public.notes"],
    );
    assert.equal(await databaseExists(target), false, "nothing took the target's name");
    const staging = await query(ADMIN_URL, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [
      target,
    ]);
    assert.deepEqual(staging, [], "the staging copy is dropped");
    const entries = await catalog.audit({ asset: "shop", kind: "restore" });
    const last = entries[entries.length - 1]?.data as { result: string; verified: boolean; error: string };
    assert.equal(last.result, "failed");
    assert.equal(last.verified, false);
    assert.match(last.error, /RESTORE_VERIFY_FAILED/);
  });

  it("a refused restore (target not empty) is recorded as failed with its code; the target is untouched", async () => {
    const full = await createDatabase("ll_restore_app_full");
    names.push(full.name);
    await query(full.url, "CREATE TABLE keep (id int)");
    await assert.rejects(
      restore(testContext(repoDir), deps(), request({ to: full.url })),
      (e: unknown) => e instanceof LifelineError && e.code === "RESTORE_TARGET_NOT_EMPTY",
    );
    const entries = await catalog.audit({ asset: "shop", kind: "restore" });
    const last = entries[entries.length - 1]?.data as { result: string; error: string; target: string };
    assert.equal(last.result, "failed");
    assert.match(last.error, /^RESTORE_TARGET_NOT_EMPTY/);
    assert.ok(last.target.endsWith(full.name));
    assert.deepEqual(await query(full.url, "SELECT to_regclass('public.keep') IS NOT NULL AS here"), [
      { here: true },
    ]);
  });

  it("the in-place plan has the same id on the blocked attempt and the next one (approvals bind to it)", async () => {
    const first = await restore(testContext(repoDir), deps(), request({ inPlace: true }));
    const second = await restore(testContext(repoDir), deps(), request({ inPlace: true }));
    assert.ok(first.status === "gated" && second.status === "gated");
    assert.equal(first.gate.status, "blocked");
    assert.equal(second.gate.plan.planId, first.gate.plan.planId);
    assert.equal(first.gate.plan.operations[0]?.kind, "restore-in-place");
    assert.deepEqual(
      first.gate.decision.requirements.filter((r) => !r.met).map((r) => r.kind),
      ["approvals"],
    );
    // A table created since the restore point is part of the blast radius, and changes the plan.
    await query(db.url, "CREATE TABLE created_since (id int)");
    try {
      const third = await restore(testContext(repoDir), deps(), request({ inPlace: true }));
      assert.ok(third.status === "gated");
      assert.notEqual(third.gate.plan.planId, first.gate.plan.planId);
      assert.ok(third.gate.plan.operations[0]?.cascade.some((c) => c.name === "public.created_since"));
    } finally {
      await query(db.url, "DROP TABLE created_since");
    }
  });

  it("--tables --to a new database: a restore that ran into it once it existed never loses its tables to one that failed", async () => {
    const target = `${db.name}_race`;
    names.push(target);
    const base = testContext(repoDir);
    // The other restore: the same table into the same database (what two people restoring at once do).
    const other: { outcome?: Promise<unknown> } = {};
    const runOther = () =>
      restore(testContext(repoDir), deps(), request({ tables: "public.notes", to: urlFor(target) }));
    // Deterministic interleaving: whenever this restore releases a recovery lock on the target and the
    // target exists, the other restore runs to its end before this one goes on (once). Every engine
    // ctx.engine() returns is wrapped: the app asks for the engine again in each step (recoverTables).
    const engineOf = (name: string): Engine => {
      const engine = base.engine(name);
      const real = engine.recovery as Recovery;
      const recovery: Recovery = {
        ...real,
        lock: async (t: Target) => {
          const held = await real.lock(t);
          if (!held || engine.database(t) !== target) return held;
          return {
            release: async () => {
              await held.release();
              if (other.outcome === undefined && (await real.inspect(t)).exists) {
                other.outcome = runOther().then(
                  (o) => o,
                  (e: unknown) => e,
                );
                await other.outcome;
              }
            },
          };
        },
      };
      return { ...engine, recovery };
    };
    const mine = await restore(
      { ...base, engine: engineOf },
      deps(),
      request({ tables: "public.notes", to: urlFor(target) }),
    ).then(
      (o) => o,
      (e: unknown) => e,
    );
    assert.ok(other.outcome, "the other restore ran once the target existed");
    const theirs = await other.outcome;
    const outcomes = [mine, theirs];
    const restored = outcomes.filter((o) => !(o instanceof Error));
    const refused = outcomes.filter((o): o is LifelineError => o instanceof LifelineError);
    assert.equal(restored.length, 1, String(outcomes));
    assert.equal(refused.length, 1, String(outcomes));
    assert.ok(["RESTORE_BUSY", "RESTORE_TABLES_EXIST"].includes(refused[0]?.code ?? ""), refused[0]?.code);
    assert.equal(await databaseExists(target), true, "the database holding the restored table is kept");
    assert.deepEqual(await query(urlFor(target), "SELECT count(*)::int AS n FROM notes"), [{ n: 20 }]);
  });

  it("a standby into a new database never drops the tables a --tables restore put there once the standby had looked", async () => {
    const target = `${db.name}_sbrace`;
    names.push(target);
    const base = testContext(repoDir);
    const other: { outcome?: unknown } = {};
    let inspected = false;
    // Deterministic interleaving: once the standby has inspected the target (absent), the other restore
    // (--tables into the same new database) runs to its end before the standby takes the recovery lock.
    const engineOf = (name: string): Engine => {
      const engine = base.engine(name);
      const real = engine.recovery as Recovery;
      const recovery: Recovery = {
        ...real,
        inspect: async (t: Target) => {
          const state = await real.inspect(t);
          if (engine.database(t) === target) inspected = true;
          return state;
        },
        lock: async (t: Target) => {
          if (inspected && !("outcome" in other) && engine.database(t) === target) {
            other.outcome = await restore(
              testContext(repoDir),
              deps(),
              request({ tables: "public.notes", to: urlFor(target) }),
            ).then(
              (o) => o.status,
              (e: unknown) => e,
            );
          }
          return real.lock(t);
        },
      };
      return { ...engine, recovery };
    };
    const outcome = await standby({ ...base, engine: engineOf }, deps(), {
      asset: testAsset("shop", db.url),
      to: urlFor(target),
      refresh: false,
      jobs: 2,
    }).then(
      (o) => o,
      (e: unknown) => e,
    );
    assert.equal(other.outcome, "restored", String(other.outcome));
    assert.ok(outcome instanceof LifelineError, `the standby was refused: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.code, "RESTORE_TARGET_NOT_EMPTY", outcome.message);
    assert.ok(outcome.fix, "it says what to do");
    assert.deepEqual(await query(urlFor(target), "SELECT count(*)::int AS n FROM notes"), [{ n: 20 }]);
    assert.deepEqual(
      await query(ADMIN_URL, "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", [
        target,
      ]),
      [{ datname: target }],
      "no staging copy is left",
    );
  });

  it("--tables --to a database dropped by someone else after it was inspected: a clear error, not 'check the database name'", async () => {
    const target = `${db.name}_gone`;
    names.push(target);
    await query(ADMIN_URL, `CREATE DATABASE "${target}"`);
    const base = testContext(repoDir);
    let inspected = false;
    let dropped = false;
    // Deterministic: once the restore has inspected the target, someone drops it before the lock.
    const engineOf = (name: string): Engine => {
      const engine = base.engine(name);
      const real = engine.recovery as Recovery;
      const recovery: Recovery = {
        ...real,
        inspect: async (t: Target) => {
          const state = await real.inspect(t);
          if (engine.database(t) === target) inspected = true;
          return state;
        },
        lock: async (t: Target) => {
          if (inspected && !dropped && engine.database(t) === target) {
            dropped = true;
            await query(ADMIN_URL, `DROP DATABASE "${target}" WITH (FORCE)`);
          }
          return real.lock(t);
        },
      };
      return { ...engine, recovery };
    };
    const outcome = await restore(
      { ...base, engine: engineOf },
      deps(),
      request({ tables: "public.notes", to: urlFor(target) }),
    ).then(
      (o) => o,
      (e: unknown) => e,
    );
    assert.ok(dropped);
    assert.ok(outcome instanceof LifelineError, String(outcome));
    // Was DB_NOT_FOUND "cannot connect … does not exist", fix "check the database name at the end of the URL".
    assert.equal(outcome.code, "RESTORE_TARGET_CHANGED", outcome.message);
    assert.match(outcome.message, /no longer exists: it was dropped after this restore inspected it/);
    assert.match(outcome.message, /nothing was restored/);
    assert.doesNotMatch(outcome.fix ?? "", /check the database name/);
    assert.equal(await databaseExists(target), false, "nothing was created in its place");
    const entries = await catalog.audit({ kind: "restore" });
    const last = entries.at(-1)?.data as { result: string; error: string; target: string };
    assert.equal(last.result, "failed");
    assert.match(last.error, /^RESTORE_TARGET_CHANGED: /);
  });

  it("--discard-previous and an in-place restore at once: a previous database on the server is never recorded as discarded", async () => {
    const own = `${db.name}_ip`;
    names.push(own);
    await query(ADMIN_URL, `CREATE DATABASE "${own}"`);
    await query(urlFor(own), "CREATE TABLE written_since (id int); INSERT INTO written_since VALUES (1)");
    const asset = testAsset("shop", urlFor(own), { tier: "development" });
    const inPlace = (ctx: ReturnType<typeof testContext>) =>
      restore(ctx, deps(), { ...request({ inPlace: true, restorePoint: manifest.id }), asset });
    const first = await inPlace(testContext(repoDir));
    assert.equal(first.status, "restored", JSON.stringify(first));
    const [kept, ...more] = (await previousDatabases(deps(), "shop")).map((p) => p.database);
    assert.ok(kept !== undefined && more.length === 0, JSON.stringify([kept, ...more]));
    names.push(kept);
    // Deterministic interleaving: right after the discard has dropped the kept database, and before it
    // records that, another in-place restore from the same restore point runs to its end (it keeps the
    // database as it is now under the same name).
    const base = testContext(repoDir);
    const other: { outcome?: unknown } = {};
    const engineOf = (name: string): Engine => {
      const engine = base.engine(name);
      const real = engine.recovery as Recovery;
      const recovery: Recovery = {
        ...real,
        drop: async (t: Target) => {
          await real.drop(t);
          if (engine.database(t) === kept && !("outcome" in other))
            other.outcome = await inPlace(testContext(repoDir)).then(
              (o) => o.status,
              (e: unknown) => e,
            );
        },
      };
      return { ...engine, recovery };
    };
    const discard = await restore({ ...base, engine: engineOf }, deps(), {
      ...request({ discardPrevious: true }),
      asset,
    }).then(
      (o) => o.status,
      (e: unknown) => e,
    );
    assert.ok("outcome" in other, "the other restore ran");
    const onServer = await databaseExists(kept);
    const recorded = (await previousDatabases(deps(), "shop")).map((p) => p.database);
    assert.equal(
      recorded.includes(kept),
      onServer,
      `on the server: ${String(onServer)}, recorded: ${JSON.stringify(recorded)}; discard: ${String(discard)}, in-place: ${String(other.outcome)}`,
    );
    // Before: both succeeded, and the database the second in-place restore kept was listed nowhere.
    assert.equal(discard, "discarded");
    assert.ok(other.outcome instanceof LifelineError, String(other.outcome));
    assert.equal(other.outcome.code, "RESTORE_BUSY");
    assert.equal(onServer, false);
  });

  for (const kind of ["--tables", "whole"] as const) {
    it(`${kind} --to a new database: one someone else creates while the restore runs is never replaced`, async () => {
      const target = `${db.name}_born_${kind === "whole" ? "w" : "t"}`;
      names.push(target);
      const base = testContext(repoDir);
      let created = false;
      // Deterministic: right before the restored copy takes the target's name, someone creates a
      // database of that name and writes into it (the target did not exist under the recovery lock).
      const engineOf = (name: string): Engine => {
        const engine = base.engine(name);
        const real = engine.recovery as Recovery;
        const recovery: Recovery = {
          ...real,
          swap: async (t, replacement, previousName, options) => {
            if (!created && engine.database(t) === target) {
              created = true;
              await query(ADMIN_URL, `CREATE DATABASE "${target}"`);
              await query(urlFor(target), "CREATE TABLE theirs (id int); INSERT INTO theirs VALUES (1), (2)");
            }
            return real.swap(t, replacement, previousName, options);
          },
        };
        return { ...engine, recovery };
      };
      const outcome = await restore(
        { ...base, engine: engineOf },
        deps(),
        request(kind === "whole" ? { to: urlFor(target) } : { tables: "public.notes", to: urlFor(target) }),
      ).then(
        (o) => o,
        (e: unknown) => e,
      );
      assert.ok(created);
      assert.deepEqual(await query(urlFor(target), "SELECT count(*)::int AS n FROM theirs"), [{ n: 2 }]);
      assert.ok(outcome instanceof LifelineError, JSON.stringify(outcome));
      assert.equal(outcome.code, "RESTORE_TARGET_NOT_EMPTY", outcome.message);
      assert.match(outcome.message, /created .*while this restore ran/);
      assert.deepEqual(
        await query(ADMIN_URL, "SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", [
          target,
        ]),
        [{ datname: target }],
        "the restored copy was removed",
      );
    });
  }

  it("--tables --to a new database: a failed restore drops the database it created, nothing else", async () => {
    const target = `${db.name}_failed`;
    names.push(target);
    const base = testContext(repoDir);
    const engineOf = (name: string): Engine => {
      const engine = base.engine(name);
      const real = engine.recovery as Recovery;
      const recovery: Recovery = {
        ...real,
        restoreTables: async () => {
          throw new LifelineError({
            code: "RESTORE_FAILED",
            kind: "runtime",
            message: "pg_restore failed (injected)",
          });
        },
      };
      return { ...engine, recovery };
    };
    await assert.rejects(
      restore({ ...base, engine: engineOf }, deps(), request({ tables: "public.notes", to: urlFor(target) })),
      (e: unknown) => e instanceof LifelineError && e.code === "RESTORE_FAILED",
    );
    assert.equal(await databaseExists(target), false);
    assert.deepEqual(
      await query(ADMIN_URL, "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [target]),
      [],
    );
  });

  it("--to a new database: one another restore put tables in after it was inspected is not replaced (nothing it holds is dropped)", async () => {
    const target = `${db.name}_stale`;
    names.push(target);
    const base = testContext(repoDir);
    let ran = false;
    // Deterministic interleaving: right after this restore first inspects the (absent) target, another
    // restore brings one table into it and a client writes a row there; then this one goes on.
    const engineOf = (name: string): Engine => {
      const engine = base.engine(name);
      const real = engine.recovery as Recovery;
      const recovery: Recovery = {
        ...real,
        inspect: async (t: Target) => {
          const state = await real.inspect(t);
          if (!ran && engine.database(t) === target && !state.exists) {
            ran = true;
            const other = await restore(
              testContext(repoDir),
              deps(),
              request({ tables: "public.notes", to: urlFor(target) }),
            );
            assert.equal(other.status, "restored");
            await query(urlFor(target), "INSERT INTO notes VALUES (1000, 'written after')");
          }
          return state;
        },
      };
      return { ...engine, recovery };
    };
    await assert.rejects(
      restore({ ...base, engine: engineOf }, deps(), request({ to: urlFor(target) })),
      (e: unknown) => e instanceof LifelineError && e.code === "RESTORE_TARGET_NOT_EMPTY",
    );
    assert.ok(ran, "the other restore ran after the target was inspected");
    assert.deepEqual(await query(urlFor(target), "SELECT count(*)::int AS n FROM notes"), [{ n: 21 }]);
    assert.deepEqual(
      await query(urlFor(target), "SELECT to_regclass('public.merchants') IS NULL AS absent"),
      [{ absent: true }],
    );
    assert.deepEqual(
      await query(
        ADMIN_URL,
        "SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $1",
        [target],
      ),
      [],
      "the restored copy is removed",
    );
  });
});
