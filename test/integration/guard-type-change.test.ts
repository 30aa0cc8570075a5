import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { losslessTypeChange } from "../../src/engines/postgres/classify/type-change.js";
import { guardInstallSql } from "../../src/engines/postgres/guard/index.js";
import { createDatabase, query, type TestDatabase } from "../support/pg.js";

/**
 * The guard (in SQL, at ddl_command_end) and `lifeline plan` (in TypeScript) must judge a column
 * type change alike: the same change is lossless for both or lossy for both.
 */
const TYPES = [
  "smallint",
  "integer",
  "bigint",
  "numeric",
  "numeric(10,2)",
  "numeric(12,2)",
  "numeric(12,4)",
  "numeric(8,0)",
  "numeric(19,0)",
  "numeric(20,0)",
  "varchar",
  "varchar(10)",
  "varchar(20)",
  "varchar(11)",
  "varchar(20)[]",
  "char(5)",
  "char(10)",
  "text",
  "timestamp",
  "timestamp(3)",
  "timestamptz",
  "timestamptz(3)",
  "time",
  "timetz(2)",
  "date",
  "uuid",
  "inet",
  "cidr",
  "boolean",
  "bit(3)",
  "varbit(5)",
  "varbit(8)",
  "real",
  "double precision",
  "jsonb",
  "json",
  "interval",
];

describe("guard and plan judge column type changes alike", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createDatabase("lifeline_guard_types");
    await query(db.url, guardInstallSql());
    await query(db.url, `CREATE TABLE t (${TYPES.map((t, i) => `c${i} ${t}`).join(", ")})`);
  });
  after(async () => db.drop());

  it(`agrees on all ${TYPES.length * TYPES.length} pairs`, async () => {
    const columns = await query<{ attnum: number; name: string | null; typmod: number }>(
      db.url,
      `SELECT attnum, lifeline_guard.base_type_name(atttypid) AS name, atttypmod AS typmod
         FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 ORDER BY attnum`,
    );
    const pairs = columns.flatMap((from) => columns.map((to) => ({ from, to })));
    const sql = await query<{ lossless: boolean }>(
      db.url,
      `SELECT lifeline_guard.lossless(f, fm, t, tm) AS lossless
         FROM unnest($1::text[], $2::int[], $3::text[], $4::int[]) AS p(f, fm, t, tm)`,
      [
        pairs.map((p) => p.from.name),
        pairs.map((p) => p.from.typmod),
        pairs.map((p) => p.to.name),
        pairs.map((p) => p.to.typmod),
      ],
    );
    const typmods = await query<{ mods: number[] }>(
      db.url,
      "SELECT lifeline_guard.typmods(t, m) AS mods FROM unnest($1::text[], $2::int[]) AS p(t, m)",
      [columns.map((c) => c.name), columns.map((c) => c.typmod)],
    );
    const disagreements: string[] = [];
    let lossless = 0;
    pairs.forEach((p, i) => {
      const written = typmods[p.to.attnum - 1]?.mods ?? [];
      const ts =
        losslessTypeChange(
          { name: p.from.name, typmod: p.from.typmod },
          { name: p.to.name, typmods: written, array: false },
        ) !== null;
      if (ts) lossless++;
      if (ts !== sql[i]?.lossless)
        disagreements.push(
          `${TYPES[p.from.attnum - 1]} → ${TYPES[p.to.attnum - 1]}: plan says ${ts ? "lossless" : "lossy"}`,
        );
    });
    assert.deepEqual(disagreements, []);
    // The matrix holds both kinds (a test that cannot fail proves nothing).
    assert.ok(lossless > 40 && lossless < pairs.length - 100, `${lossless} lossless`);
  });
});
