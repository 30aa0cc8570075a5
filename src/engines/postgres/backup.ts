import path from "node:path";
import { assertDumpToolFits } from "../../core/versions.js";
import type { Artifact } from "../../core/restore-point/restore-point.js";
import type { BackupOptions, BackupResult, Target } from "../../ports/engine.js";
import { run } from "../../support/process.js";
import { fileSize, listFiles, sha256File } from "../../support/files.js";
import { connect, toolConnection } from "./connection.js";
import { readArchive } from "./dump-archive.js";
import {
  FINGERPRINT_ALGORITHM,
  fingerprintContents,
  readActivity,
  readLargeObjects,
  referencedRoles,
} from "./fingerprint.js";
import { describeSource } from "./inspect.js";
import type { PgTools } from "./tools.js";

export const DUMP_DIRECTORY = "dump";

function seconds(since: number): number {
  return Math.round((performance.now() - since) / 10) / 100;
}

/**
 * Takes a restore point: exports a snapshot on a lifeline connection, runs pg_dump on that snapshot,
 * and meanwhile fingerprints the same snapshot on other connections, so the fingerprints describe
 * exactly the data in the dump.
 */
export async function backup(tools: PgTools, target: Target, options: BackupOptions): Promise<BackupResult> {
  const started = performance.now();
  // A failure on one side (dump or fingerprints) stops the other.
  const stop = new AbortController();
  const signal = AbortSignal.any([options.signal, stop.signal]);
  const [pgDump, pgRestore] = await Promise.all([tools.info("pg_dump"), tools.info("pg_restore")]);
  const control = await connect(target, "lifeline backup");
  try {
    const source = await describeSource(control);
    assertDumpToolFits("pg_dump", pgDump.major, pgDump.version, source.serverMajor);

    await control.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const exported = await control.query<{ snapshot: string; at: Date }>(
      "SELECT pg_export_snapshot() AS snapshot, now() AS at",
    );
    const { snapshot, at } = exported.rows[0] ?? { snapshot: "", at: new Date() };
    // Counters are not transactional: read them at the snapshot so "changes since" starts here.
    const activity = await readActivity(control, source.systemIdentifier);

    options.progress.phase(
      `dumping ${source.database} with pg_dump ${pgDump.version} (${options.jobs} jobs)`,
    );
    const connection = toolConnection(target);
    const archive = path.join(options.directory, DUMP_DIRECTORY);
    const dumpStarted = performance.now();
    const dump = run(
      pgDump.path,
      [
        "--format=directory",
        `--jobs=${options.jobs}`,
        `--compress=${options.compression}`,
        `--snapshot=${snapshot}`,
        // The database guard's schema holds its key and bookkeeping, not the asset's data: never in
        // a restore point (restores leave its triggers out; lifeline guard install brings a new one).
        "--exclude-schema=lifeline_guard",
        "--no-password",
        `--file=${archive}`,
        `--dbname=${connection.dbname}`,
      ],
      {
        env: connection.env,
        signal,
        errorCode: "BACKUP_FAILED",
        purpose: `pg_dump of ${source.database}`,
        dieWithParent: true,
      },
    ).then(() => seconds(dumpStarted));

    const fingerprintStarted = performance.now();
    const fingerprints = fingerprintContents(
      target,
      { jobs: options.jobs, signal, snapshot, applicationName: "lifeline fingerprint" },
      async (first) => ({ largeObjects: await readLargeObjects(first), roles: await referencedRoles(first) }),
    ).then(({ tables, schema, more }) => ({ tables, schema, ...more, seconds: seconds(fingerprintStarted) }));

    let dumpSeconds: number;
    let fp: Awaited<typeof fingerprints>;
    try {
      [dumpSeconds, fp] = await Promise.all([dump, fingerprints]);
    } catch (error) {
      stop.abort();
      await Promise.allSettled([dump, fingerprints]);
      throw error;
    }
    await control.query("COMMIT");

    options.progress.phase("reading the archive back and checksumming it");
    const { sequences } = await readArchive(pgRestore.path, archive, options.signal);
    const artifacts: Artifact[] = [];
    for (const file of await listFiles(options.directory)) {
      const full = path.join(options.directory, file);
      artifacts.push({ path: file, bytes: await fileSize(full), sha256: await sha256File(full) });
    }

    return {
      snapshotTime: at.toISOString(),
      source: { ...source, roles: fp.roles },
      tools: { pg_dump: pgDump.version, pg_restore: pgRestore.version },
      dump: { format: "directory", jobs: options.jobs, compression: options.compression },
      artifacts,
      fingerprints: {
        algorithm: FINGERPRINT_ALGORITHM,
        tables: fp.tables,
        sequences,
        schema: fp.schema,
        largeObjects: fp.largeObjects,
      },
      activity,
      durations: { dumpSeconds, fingerprintSeconds: fp.seconds, totalSeconds: seconds(started) },
    };
  } finally {
    await control.end().catch(() => undefined);
  }
}
