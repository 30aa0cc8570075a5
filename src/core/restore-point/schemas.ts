import * as z from "zod";
import { DRILL_FORMAT, type DrillReport } from "../drill/drill.js";
import { MANIFEST_FORMAT, type Manifest } from "./restore-point.js";

/** Validation of what lifeline reads back from a repository: a manifest is trusted only once it parses. */
const artifact = z.object({
  path: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
const tableFingerprint = z.object({
  table: z.string(),
  rows: z.number().int().nonnegative(),
  digest: z.string(),
  // Added in v0.2; manifests without it were digested as text.
  recipe: z.object({ name: z.string(), hashed: z.array(z.string()) }).optional(),
});
const sequenceValue = z.object({ sequence: z.string(), lastValue: z.string(), isCalled: z.boolean() });
const schemaObject = z.object({ kind: z.string(), name: z.string(), digest: z.string() });
const activity = z.object({
  statsReset: z.string().nullable(),
  // Optional (older manifests lack them), here and in the tables: what tells rows that went uncounted.
  database: z.string().optional(),
  tables: z.array(
    z.object({
      table: z.string(),
      inserts: z.number(),
      updates: z.number(),
      deletes: z.number(),
      oid: z.number().optional(),
      relfilenode: z.number().optional(),
      liveRows: z.number().optional(),
      insertsSinceVacuum: z.number().optional(),
      vacuums: z.number().optional(),
      rows: z.number().optional(),
    }),
  ),
});

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  id: z.string(),
  asset: z.string(),
  engine: z.string(),
  createdAt: z.string(),
  snapshotTime: z.string(),
  source: z.object({
    database: z.string(),
    encoding: z.string(),
    roles: z.array(z.string()),
    locale: z
      .object({
        collate: z.string(),
        ctype: z.string(),
        provider: z.enum(["libc", "icu"]),
        icuLocale: z.string().nullable(),
      })
      .nullable(),
    url: z.string(),
    serverVersion: z.string(),
    serverMajor: z.number().int(),
    systemIdentifier: z.string().nullable(),
    databaseBytes: z.number(),
  }),
  tools: z.record(z.string(), z.string()),
  dump: z.object({ format: z.string(), jobs: z.number().int(), compression: z.number().int() }),
  artifacts: z.array(artifact).min(1),
  fingerprints: z.object({
    algorithm: z.string(),
    tables: z.array(tableFingerprint),
    sequences: z.array(sequenceValue),
    schema: z.object({ digest: z.string(), objects: z.array(schemaObject) }),
    largeObjects: z.object({ count: z.number().int().nonnegative(), digest: z.string() }).nullable(),
  }),
  activity,
  durations: z.object({ dumpSeconds: z.number(), fingerprintSeconds: z.number(), totalSeconds: z.number() }),
  digest: z
    .string()
    .regex(/^sha256:[0-9a-f]{64}$/)
    .optional(),
}) satisfies z.ZodType<Manifest>;

const mismatch = z.object({
  kind: z.enum([
    "algorithm",
    "large-objects",
    "table-missing",
    "table-unexpected",
    "rows",
    "digest",
    "sequence-missing",
    "sequence-value",
    "schema-missing",
    "schema-unexpected",
    "schema-changed",
  ]),
  object: z.string(),
  expected: z.string().nullable(),
  actual: z.string().nullable(),
  message: z.string(),
});

export const drillReportSchema = z.object({
  format: z.literal(DRILL_FORMAT),
  id: z.string(),
  asset: z.string(),
  restorePointId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  result: z.enum(["passed", "failed"]),
  failure: z.object({ code: z.string(), message: z.string() }).nullable(),
  scratch: z.object({ kind: z.string(), serverVersion: z.string().nullable() }),
  tools: z.record(z.string(), z.string()),
  restoreSeconds: z.number(),
  verifySeconds: z.number(),
  mismatches: z.array(mismatch),
}) satisfies z.ZodType<DrillReport>;

/** "fingerprints.tables.3.rows: expected number" — the first few problems, for a finding. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
}
