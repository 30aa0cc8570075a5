import type { Fingerprints, TableFingerprint } from "../restore-point/restore-point.js";

export type MismatchKind =
  | "algorithm"
  | "large-objects"
  | "table-missing"
  | "table-unexpected"
  | "rows"
  | "digest"
  | "sequence-missing"
  | "sequence-value"
  | "schema-missing"
  | "schema-unexpected"
  | "schema-changed";

export interface Mismatch {
  kind: MismatchKind;
  object: string;
  expected: string | null;
  actual: string | null;
  message: string;
}

function byKey<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [key(item), item]));
}

/**
 * Compares what the manifest says the restore point holds with what a restore actually produced.
 * Every difference is reported on its own, naming the object and both sides, so a failed drill says
 * exactly what did not come back.
 */
export function compareFingerprints(expected: Fingerprints, actual: Fingerprints): Mismatch[] {
  const mismatches: Mismatch[] = [];
  if (expected.algorithm !== actual.algorithm) {
    return [
      {
        kind: "algorithm",
        object: "fingerprints",
        expected: expected.algorithm,
        actual: actual.algorithm,
        message: `the restore point's fingerprints were made with ${expected.algorithm}, this lifeline computes ${actual.algorithm}: they cannot be compared; take a new restore point`,
      },
    ];
  }

  const actualTables = byKey(actual.tables, (t) => t.table);
  for (const want of expected.tables) {
    const got = actualTables.get(want.table);
    if (!got) {
      mismatches.push({
        kind: "table-missing",
        object: want.table,
        expected: `${want.rows} rows`,
        actual: null,
        message: `table ${want.table} is missing after restore (expected ${want.rows} rows)`,
      });
      continue;
    }
    const wantRecipe = describeRecipe(want.recipe);
    const gotRecipe = describeRecipe(got.recipe);
    if (got.rows !== want.rows) {
      mismatches.push({
        kind: "rows",
        object: want.table,
        expected: String(want.rows),
        actual: String(got.rows),
        message: `table ${want.table}: expected ${want.rows} rows, restored ${got.rows}`,
      });
    } else if (wantRecipe !== gotRecipe) {
      mismatches.push({
        kind: "algorithm",
        object: want.table,
        expected: wantRecipe,
        actual: gotRecipe,
        message: `table ${want.table}: the restore point digested its rows with ${wantRecipe}, this lifeline computed ${gotRecipe}: they cannot be compared; take a new restore point`,
      });
    } else if (got.digest !== want.digest) {
      mismatches.push({
        kind: "digest",
        object: want.table,
        expected: want.digest,
        actual: got.digest,
        message: `table ${want.table}: same row count (${want.rows}) but row contents differ (digest ${short(want.digest)} ≠ ${short(got.digest)})`,
      });
    }
  }
  const expectedTables = new Set(expected.tables.map((t) => t.table));
  for (const got of actual.tables) {
    if (!expectedTables.has(got.table)) {
      mismatches.push({
        kind: "table-unexpected",
        object: got.table,
        expected: null,
        actual: `${got.rows} rows`,
        message: `table ${got.table} exists after restore but is not in the restore point`,
      });
    }
  }

  const actualSequences = byKey(actual.sequences, (s) => s.sequence);
  for (const want of expected.sequences) {
    const got = actualSequences.get(want.sequence);
    if (!got) {
      mismatches.push({
        kind: "sequence-missing",
        object: want.sequence,
        expected: want.lastValue,
        actual: null,
        message: `sequence ${want.sequence} is missing after restore`,
      });
    } else if (got.lastValue !== want.lastValue || got.isCalled !== want.isCalled) {
      mismatches.push({
        kind: "sequence-value",
        object: want.sequence,
        expected: describeSequence(want.lastValue, want.isCalled),
        actual: describeSequence(got.lastValue, got.isCalled),
        message: `sequence ${want.sequence}: expected ${describeSequence(want.lastValue, want.isCalled)}, restored ${describeSequence(got.lastValue, got.isCalled)}`,
      });
    }
  }

  const wantLo = expected.largeObjects;
  const gotLo = actual.largeObjects;
  if (wantLo && (!gotLo || gotLo.count !== wantLo.count || gotLo.digest !== wantLo.digest)) {
    const sameCount = gotLo?.count === wantLo.count;
    mismatches.push({
      kind: "large-objects",
      object: "large objects",
      expected: `${wantLo.count} large objects`,
      actual: gotLo ? `${gotLo.count} large objects` : null,
      message: !gotLo
        ? `large objects could not be read after restore (expected ${wantLo.count})`
        : sameCount
          ? `large objects: same count (${wantLo.count}) but contents differ`
          : `large objects: expected ${wantLo.count}, restored ${gotLo.count}`,
    });
  }

  if (expected.schema.digest !== actual.schema.digest) {
    const key = (o: { kind: string; name: string }) => `${o.kind} ${o.name}`;
    const actualObjects = byKey(actual.schema.objects, key);
    const expectedObjects = byKey(expected.schema.objects, key);
    for (const [k, want] of expectedObjects) {
      const got = actualObjects.get(k);
      if (!got) {
        mismatches.push({
          kind: "schema-missing",
          object: k,
          expected: want.digest,
          actual: null,
          message: `schema: ${k} is missing after restore`,
        });
      } else if (got.digest !== want.digest) {
        mismatches.push({
          kind: "schema-changed",
          object: k,
          expected: want.digest,
          actual: got.digest,
          message: `schema: ${k} differs after restore`,
        });
      }
    }
    for (const [k, got] of actualObjects) {
      if (!expectedObjects.has(k)) {
        mismatches.push({
          kind: "schema-unexpected",
          object: k,
          expected: null,
          actual: got.digest,
          message: `schema: ${k} exists after restore but is not in the restore point`,
        });
      }
    }
    if (mismatches.every((m) => !m.kind.startsWith("schema"))) {
      mismatches.push({
        kind: "schema-changed",
        object: "schema",
        expected: expected.schema.digest,
        actual: actual.schema.digest,
        message: "schema digest differs after restore",
      });
    }
  }
  return mismatches;
}

function describeRecipe(recipe: TableFingerprint["recipe"]): string {
  return recipe ? `${recipe.name} (${recipe.hashed.join(", ")})` : "the text recipe";
}

function describeSequence(lastValue: string, isCalled: boolean): string {
  return isCalled ? `last value ${lastValue}` : `next value ${lastValue}`;
}

function short(digest: string): string {
  return digest.slice(0, 12);
}

/**
 * Compares only some tables and sequences (a selective restore into a database that holds others):
 * the other tables of the restore point are neither missing nor unexpected, the schema digest and
 * large objects are not compared (the database holds more than was restored); a restored table's
 * rows or digest, a restored sequence's value, or a restored table that is absent, are mismatches.
 */
export function compareRestored(
  expected: Fingerprints,
  actual: Fingerprints,
  restored: { tables: readonly string[]; sequences: readonly string[] },
): Mismatch[] {
  const tables = new Set(restored.tables);
  const sequences = new Set(restored.sequences);
  const only = (f: Fingerprints): Fingerprints => ({
    algorithm: f.algorithm,
    tables: f.tables.filter((t) => tables.has(t.table)),
    sequences: f.sequences.filter((s) => sequences.has(s.sequence)),
    schema: { digest: "", objects: [] },
    largeObjects: null,
  });
  return compareFingerprints(only(expected), only(actual));
}
