import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { assertRestoreToolFits, parseToolVersion } from "../../core/versions.js";
import type { Progress, RestoreOptions, Target } from "../../ports/engine.js";
import { run } from "../../support/process.js";
import { sqlIdent, toolConnection, withClient } from "./connection.js";
import { DUMP_DIRECTORY } from "./backup.js";
import { archiveRoles } from "./recovery/archive-roles.js";
import type { PgTools } from "./tools.js";
import { listFile, parseToc, withoutGuard } from "./recovery/toc.js";

/**
 * Restores a restore point with pg_restore. --exit-on-error: a restore that "succeeds" with errors is
 * a failed drill. No owners, privileges or tablespaces: scratch has none of the source's roles or
 * tablespaces, and they are not what a drill proves. No subscriptions: a scratch copy must never
 * start replicating from production.
 *
 * `ownership: "keep"` (a restore into a live server): owners and privileges as the archive records
 * them, when the connecting role is a superuser and every role the archive names as owner, grantee
 * or grantor exists on the target; otherwise as a drill, with a warning naming what is missing.
 */
export async function restore(
  tools: PgTools,
  into: Target,
  options: RestoreOptions,
): Promise<Record<string, string>> {
  const pgRestore = await tools.info("pg_restore");
  const dumpMajor = parseToolVersion(`(PostgreSQL) ${options.manifest.tools.pg_dump ?? ""}`)?.major ?? 0;
  assertRestoreToolFits(pgRestore.major, pgRestore.version, dumpMajor);
  // Policies and user mappings name roles; without them the restore fails on a scratch instance
  // that has none of the source's roles. They are created without login and without privileges.
  if (options.manifest.source.roles.length > 0) {
    await withClient(into, async (client) => {
      for (const role of options.manifest.source.roles) {
        const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
        if (exists.rowCount === 0) {
          await client.query(`CREATE ROLE ${sqlIdent(role)} NOLOGIN`);
          if (options.ownership === "keep") {
            options.progress.warn(
              `created role ${role} (NOLOGIN, no privileges) on ${into.display}: the restore point's policies or user mappings name it`,
            );
          }
        }
      }
    });
  }
  const archive = path.join(options.directory, DUMP_DIRECTORY);
  const keepOwners =
    options.ownership === "keep" && (await ownersCanBeKept(pgRestore.path, archive, into, options));
  const connection = toolConnection(into);
  const total = options.manifest.fingerprints.tables.length;
  const bytes = options.manifest.artifacts.reduce((sum, a) => sum + a.bytes, 0);
  options.progress.phase(
    `restoring ${total} tables (${formatBytes(bytes)} of archive) with pg_restore ${pgRestore.version} (${options.jobs} jobs)`,
  );
  // pg_restore --verbose says when each table's data is loaded: progress for a person watching.
  const onStderrLine = restoreProgress(total, options.progress);
  // The database guard's triggers are left out (see withoutGuard): only when the archive has any.
  const toc = parseToc(
    (
      await run(pgRestore.path, ["--list", archive], {
        captureStdout: true,
        signal: options.signal,
        errorCode: "RESTORE_FAILED",
        purpose: "pg_restore --list",
      })
    ).stdout,
  );
  const kept = withoutGuard(toc);
  const listDir =
    kept.length < toc.length ? await mkdtemp(path.join(os.tmpdir(), "lifeline-restore-")) : null;
  const useList = listDir ? path.join(listDir, "restore.list") : null;
  if (useList) await writeFile(useList, listFile(kept), { mode: 0o600 });
  try {
    await run(
      pgRestore.path,
      [
        "--exit-on-error",
        ...(keepOwners ? [] : ["--no-owner", "--no-privileges"]),
        "--no-tablespaces",
        "--no-subscriptions",
        "--no-password",
        "--verbose",
        `--jobs=${options.jobs}`,
        `--dbname=${connection.dbname}`,
        ...(useList ? [`--use-list=${useList}`] : []),
        archive,
      ],
      {
        env: connection.env,
        signal: options.signal,
        errorCode: "RESTORE_FAILED",
        purpose: options.ownership === "keep" ? `pg_restore into ${into.display}` : "pg_restore into scratch",
        onStderrLine,
        dieWithParent: true,
      },
    );
  } finally {
    if (listDir) await rm(listDir, { recursive: true, force: true });
  }
  return { pg_restore: pgRestore.version };
}

/**
 * Reads pg_restore --verbose lines into progress (tables loaded / total, indexes built); returns
 * true for a line that is only progress (kept out of an error's tail).
 */
export function restoreProgress(total: number, progress: Progress): (line: string) => boolean {
  let built = 0;
  const loaded = new Set<string>();
  return (line: string): boolean => {
    // Parallel workers share stderr and pg_restore writes its "pg_restore: " prefix apart from the
    // message, so two workers' lines can interleave: matched anywhere in the line, counted once each.
    for (const m of line.matchAll(/processing data for table "([^"]+)"/g)) {
      if (m[1] === undefined || loaded.has(m[1])) continue;
      loaded.add(m[1]);
      progress.phase(`restoring: table ${Math.min(loaded.size, total)}/${total} ${m[1]}`);
    }
    for (const _ of line.matchAll(/creating (?:INDEX|CONSTRAINT|FK CONSTRAINT) /g)) {
      built += 1;
      progress.phase(`restoring: building indexes and constraints (${built} so far)`);
    }
    return /^pg_restore: (?!error|warning|detail|hint)/i.test(line);
  };
}

function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${Math.ceil(n / 1024)} KiB`;
}

/** Whether owners and privileges can be restored as the archive records them; warns when not. */
async function ownersCanBeKept(
  pgRestore: string,
  archive: string,
  into: Target,
  options: RestoreOptions,
): Promise<boolean> {
  const roles = await archiveRoles(pgRestore, archive, options.signal);
  const { superuser, missing } = await withClient(into, async (client) => {
    const su = await client.query<{ superuser: boolean }>(
      "SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user",
    );
    const present = await client.query<{ rolname: string }>(
      "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])",
      [roles],
    );
    const have = new Set(present.rows.map((r) => r.rolname));
    return { superuser: su.rows[0]?.superuser === true, missing: roles.filter((r) => !have.has(r)) };
  });
  if (superuser && missing.length === 0) return true;
  const why = [
    ...(missing.length > 0 ? [`the role(s) ${missing.join(", ")} do not exist on ${into.display}`] : []),
    ...(superuser ? [] : ["the connecting role is not a superuser"]),
  ];
  options.progress.warn(
    `restoring without the restore point's owners and privileges (objects belong to the connecting role): ${why.join(" and ")}; create the roles (or connect as a superuser) and restore again to keep them`,
  );
  return false;
}
