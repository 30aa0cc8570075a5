import type { Engine, Target } from "../../ports/engine.js";
import type { Fingerprints, Manifest } from "../../core/restore-point/restore-point.js";
import { backup } from "./backup.js";
import { databaseName, targetFromUrl, withClient, withDatabase } from "./connection.js";
import {
  FINGERPRINT_ALGORITHM,
  fingerprintContents,
  readLargeObjects,
  readSequences,
} from "./fingerprint.js";
import { createClassifier } from "./classify/index.js";
import { planImpact } from "./impact/index.js";
import { executeSql, sqlRefusal } from "./execute.js";
import { describeSource } from "./inspect.js";
import { liveOn, statusReadings } from "./status-readings.js";
import { postgresRecovery } from "./recovery/index.js";
import { restore } from "./restore.js";
import { databaseChanges, sampleDatabase } from "./sample.js";
import { PgTools } from "./tools.js";
import {
  guardInstallSql,
  guardStatus,
  installGuard,
  HIDE_FROM_LOG_SQL,
  UNINSTALL_SQL,
  uninstallGuard,
} from "./guard/index.js";

export interface PostgresEngineOptions {
  /** Directory holding pg_dump and pg_restore; PATH when undefined. */
  pgBin?: string;
  /** Connections used to fingerprint a restored copy. */
  fingerprintJobs?: number;
}

export function postgresEngine(options: PostgresEngineOptions = {}): Engine {
  const tools = new PgTools(options.pgBin);
  const jobs = Math.max(1, options.fingerprintJobs ?? 2);
  return {
    name: "postgres",
    target: targetFromUrl,
    database: (target) => databaseName(target.url),
    withDatabase,
    probe: (target) => withClient(target, describeSource),
    backup: (target, backupOptions) => backup(tools, target, backupOptions),
    scratchMajorFor: (manifest: Manifest) => manifest.source.serverMajor,
    restore: async (into, restoreOptions) => ({ tools: await restore(tools, into, restoreOptions) }),
    fingerprint: (target, signal, expected, tables) =>
      fingerprintRestored(target, jobs, signal, expected, tables),
    sql: {
      classify: async (text) => (await createClassifier()).classify(text),
      impact: planImpact,
      refusal: sqlRefusal,
      execute: executeSql,
    },
    recovery: postgresRecovery(tools),
    sample: sampleDatabase,
    changes: databaseChanges,
    guard: {
      installSql: () => `${HIDE_FROM_LOG_SQL}\n${guardInstallSql()}`,
      uninstallSql: () => UNINSTALL_SQL,
      install: installGuard,
      uninstall: uninstallGuard,
      status: guardStatus,
    },
    live: (target) => withClient(target, liveOn),
    statusReadings,
  };
}

async function fingerprintRestored(
  target: Target,
  jobs: number,
  signal: AbortSignal,
  expected?: Fingerprints,
  only?: readonly string[],
): Promise<Fingerprints> {
  // A subset (a selective restore): those tables, the sequences they own or use, no schema digest
  // and no large objects (the database holds more than was restored).
  const { tables, schema, more } = await fingerprintContents(
    target,
    {
      jobs,
      signal,
      applicationName: "lifeline verify",
      ...(expected ? { expected } : {}),
      ...(only ? { tables: only } : {}),
    },
    async (first) => ({
      sequences: await readSequences(first, only),
      largeObjects: only ? null : await readLargeObjects(first),
    }),
  );
  return { algorithm: FINGERPRINT_ALGORITHM, tables, schema, ...more };
}
