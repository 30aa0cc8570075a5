import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type pg from "pg";
import { LifelineError, interrupted } from "../../../core/errors.js";
import { secrets } from "../../../core/redact.js";
import { assertRestoreToolFits, parseToolVersion } from "../../../core/versions.js";
import type { RestoreOptions, TableRestore, Target } from "../../../ports/engine.js";
import { run } from "../../../support/process.js";
import { DUMP_DIRECTORY } from "../backup.js";
import { qualifiedName, sqlIdent, toolConnection, withClient } from "../connection.js";
import type { PgTools } from "../tools.js";
import {
  listFile,
  parseScript,
  parseToc,
  withoutGuard,
  probeOf,
  relationOf,
  selectEntries,
  type Probe,
  type Selection,
  type ForeignKeyDefinition,
  type ReportedKey,
  indexOf,
} from "./toc.js";
import { splitQualifiedName } from "../dump-archive.js";

/** Relations of the target's user schemas (canonical names): a restored relation never replaces one. */
async function existingRelations(client: pg.Client): Promise<Set<string>> {
  const r = await client.query<{ schema: string; name: string }>(`
    SELECT n.nspname AS schema, c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
       AND n.nspname NOT LIKE 'pg\\_temp\\_%'`);
  return new Set(r.rows.map((row) => qualifiedName(row.schema, row.name)));
}

/** Which prerequisites exist in the target, one query per kind. */
async function probeAll(client: pg.Client, probes: readonly Probe[]): Promise<Set<string>> {
  const present = new Set<string>();
  const byKind = new Map<string, string[]>();
  for (const p of probes) {
    if (p.kind === "relation") continue;
    const value = p.kind === "function" ? p.signature : p.name;
    byKind.set(p.kind, [...(byKind.get(p.kind) ?? []), value]);
  }
  const check: Record<string, string> = {
    // to_reg* return NULL (no error) for a name that does not resolve, or a type that does not exist.
    function: "SELECT x FROM unnest($1::text[]) x WHERE to_regprocedure(x) IS NOT NULL",
    type: "SELECT x FROM unnest($1::text[]) x WHERE to_regtype(x) IS NOT NULL",
    collation: "SELECT x FROM unnest($1::text[]) x WHERE to_regcollation(x) IS NOT NULL",
    extension: "SELECT extname AS x FROM pg_extension WHERE extname = ANY($1::text[])",
  };
  for (const [kind, values] of byKind) {
    const sql = check[kind];
    if (!sql) continue;
    // A malformed name (it should not happen) counts as missing: the restore then says what failed.
    const r = await client.query<{ x: string }>(sql, [values]).catch(() => ({ rows: [] as { x: string }[] }));
    for (const row of r.rows) present.add(`${kind}:${row.x}`);
  }
  return present;
}

const probeKey = (p: Probe) => `${p.kind}:${p.kind === "function" ? p.signature : p.name}`;

function restoreFailed(message: string, details: readonly string[] = []): LifelineError {
  return new LifelineError({
    code: "RESTORE_FAILED",
    kind: "runtime",
    message: `${message}; nothing was restored (the transaction was rolled back)`,
    details,
  });
}

/**
 * Streams `pg_restore --use-list` into psql inside one transaction: BEGIN first, COMMIT only after
 * pg_restore exited 0 and handed over all its output. Whatever else happens (an error, Ctrl-C,
 * lifeline killed), psql ends without COMMIT and PostgreSQL rolls everything back.
 */
function restoreInOneTransaction(
  commands: { pgRestore: string; psql: string },
  restoreArgs: readonly string[],
  target: Target,
  preamble: string,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(interrupted());
      return;
    }
    const connection = toolConnection(target);
    const restore = spawn(commands.pgRestore, [...restoreArgs], { stdio: ["ignore", "pipe", "pipe"] });
    const psql = spawn(
      commands.psql,
      ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", `--dbname=${connection.dbname}`],
      { env: { ...connection.env, PGAPPNAME: "lifeline restore" }, stdio: ["pipe", "ignore", "pipe"] },
    );
    let restoreErr = "";
    let psqlErr = "";
    let restoreExit: number | null | undefined;
    let psqlExit: number | null | undefined;
    let spawnError: Error | null = null;
    let committed = false;
    restore.stderr.on("data", (c: Buffer) => {
      restoreErr = (restoreErr + c.toString("utf8")).slice(-32_000);
    });
    psql.stderr.on("data", (c: Buffer) => {
      psqlErr = (psqlErr + c.toString("utf8")).slice(-32_000);
    });
    // psql gone (an error stopped it): pg_restore's writes fail; both are ended below.
    psql.stdin.on("error", () => undefined);
    restore.stdout.on("error", () => undefined);
    psql.stdin.write("BEGIN;\n" + preamble);
    restore.stdout.pipe(psql.stdin, { end: false });

    const stopBoth = () => {
      if (restoreExit === undefined) restore.kill("SIGTERM");
      if (psqlExit === undefined) psql.kill("SIGTERM");
    };
    // Once COMMIT is sent, psql finishes: stopping it then could not tell whether it committed.
    const onAbort = () => {
      if (!committed) stopBoth();
    };
    signal.addEventListener("abort", onAbort, { once: true });

    const settle = () => {
      if (restoreExit === undefined || psqlExit === undefined) return;
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted && !(committed && psqlExit === 0)) {
        reject(interrupted());
        return;
      }
      if (spawnError) {
        const missing = (spawnError as NodeJS.ErrnoException).code === "ENOENT";
        reject(
          new LifelineError({
            code: missing ? "TOOL_NOT_FOUND" : "RESTORE_FAILED",
            kind: "runtime",
            message: missing
              ? `${spawnError.message.replace(/^spawn /, "").replace(/ ENOENT$/, "")} was not found: nothing was restored`
              : `restoring the tables could not start: ${secrets.redact(spawnError.message)}`,
            fix: missing
              ? "install the PostgreSQL client tools (psql and pg_restore) or set `tools.pgBin` in lifeline.yaml / LIFELINE_PG_BIN to the directory that holds them"
              : undefined,
          }),
        );
        return;
      }
      const psqlLines = secrets.redact(psqlErr).trim().split("\n").filter(Boolean);
      const firstError = psqlLines.find((l) => /ERROR:/.test(l))?.replace(/^.*?ERROR:\s*/, "");
      if (psqlExit !== 0 || (committed && firstError)) {
        reject(
          restoreFailed(
            `restoring the tables into ${target.display} failed: ${firstError ?? (psqlExit === null ? "psql was killed" : `psql exited with code ${psqlExit}`)}`,
            psqlLines.slice(-12),
          ),
        );
        return;
      }
      if (restoreExit !== 0 || !committed) {
        const lines = secrets.redact(restoreErr).trim().split("\n").filter(Boolean);
        reject(
          restoreFailed(
            `reading the archive failed: pg_restore ${restoreExit === null ? "was killed" : `exited with code ${restoreExit}`}`,
            lines.slice(-12),
          ),
        );
        return;
      }
      resolve();
    };
    restore.on("error", (error) => {
      spawnError ??= error;
      restoreExit ??= null;
      psql.stdin.end();
      settle();
    });
    psql.on("error", (error) => {
      spawnError ??= error;
      psqlExit ??= null;
      if (restoreExit === undefined) restore.kill("SIGTERM");
      settle();
    });
    restore.on("close", (code) => {
      restoreExit = code;
      if (code === 0 && !signal.aborted && psqlExit === undefined) {
        committed = true;
        psql.stdin.end("COMMIT;\n");
      } else {
        // No COMMIT: psql reads the end of its input and the server rolls back.
        psql.stdin.end();
      }
      settle();
    });
    psql.on("close", (code) => {
      psqlExit = code;
      if (restoreExit === undefined) restore.kill("SIGTERM");
      settle();
    });
  });
}

function psqlBeside(pgRestorePath: string): string {
  return path.join(path.dirname(pgRestorePath), "psql");
}

/** See Recovery.restoreTables. */
export async function restoreTables(
  tools: PgTools,
  into: Target,
  options: RestoreOptions & { tables: readonly string[] },
): Promise<TableRestore> {
  const pgRestore = await tools.info("pg_restore");
  const dumpMajor = parseToolVersion(`(PostgreSQL) ${options.manifest.tools.pg_dump ?? ""}`)?.major ?? 0;
  assertRestoreToolFits(pgRestore.major, pgRestore.version, dumpMajor);
  const archive = path.join(options.directory, DUMP_DIRECTORY);
  const read = (args: string[], purpose: string) =>
    run(pgRestore.path, [...args, archive], {
      captureStdout: true,
      signal: options.signal,
      errorCode: "ARCHIVE_UNREADABLE",
      purpose,
    }).then((r) => r.stdout);

  options.progress.phase("reading the restore point's table of contents");
  const entries = withoutGuard(
    parseToc(await read(["--list", "--verbose"], "listing the archive (pg_restore --list)")),
  );
  const blocks = parseScript(
    await read(["--verbose", "--schema-only", "--file=-"], "reading the archive's definitions"),
  );
  const tableIds = new Map<string, number>();
  for (const e of entries) {
    if (e.desc !== "TABLE") continue;
    const name = relationOf(blocks.get(e.id));
    if (name !== null) tableIds.set(name, e.id);
  }
  const notInArchive = options.tables.filter((t) => !tableIds.has(t));
  if (notInArchive.length > 0) {
    throw new LifelineError({
      code: "RESTORE_SELECTION_UNKNOWN",
      kind: "usage",
      message: `the restore point's archive holds no table ${notInArchive.join(", ")}`,
      fix: "name tables as the restore point's manifest names them (schema.table)",
    });
  }
  const requested = new Set(options.tables.map((t) => tableIds.get(t) ?? -1));

  const { selection, keep } = await withClient(into, async (client) => {
    const existing = await existingRelations(client);
    const clash = options.tables.filter((t) => existing.has(t));
    if (clash.length > 0) {
      throw new LifelineError({
        code: "RESTORE_TABLES_EXIST",
        kind: "usage",
        message: `${clash.join(", ")} ${clash.length === 1 ? "exists" : "exist"} in ${into.display}: lifeline never overwrites a table; nothing was restored`,
        fix: "restore into another database with --to, or rename the existing table (ALTER TABLE … RENAME TO …) or drop it first",
      });
    }
    const probes: Probe[] = [];
    for (const e of entries) {
      const p = probeOf(e, blocks.get(e.id));
      if (p) probes.push(p);
    }
    const present = await probeAll(client, probes);
    const su = await client.query<{ superuser: boolean }>(
      "SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user",
    );
    const superuser = su.rows[0]?.superuser === true;
    const choose = (acl: boolean): Selection =>
      selectEntries({
        entries,
        blocks,
        tables: requested,
        existing,
        exists: (p) => present.has(probeKey(p)),
        acl,
      });
    // An index of a restored table whose name another relation has (a table renamed aside keeps its
    // indexes' names) would fail the restore halfway: refused up front, with the names.
    const named = choose(false);
    const taken = named.entries
      .map((e) => indexOf(e, blocks.get(e.id)))
      .filter((name): name is string => name !== null && existing.has(name));
    if (taken.length > 0) {
      throw new LifelineError({
        code: "RESTORE_TABLES_EXIST",
        kind: "usage",
        message: `the restored tables' indexes need the names ${taken.join(", ")}, which other relations in ${into.display} have (a table renamed aside keeps its indexes' names); nothing was restored`,
        fix: `rename them first (ALTER INDEX ${taken[0] ?? "…"} RENAME TO …), or restore into another database with --to`,
      });
    }
    for (const statement of named.otherDefaults) {
      options.progress.warn(
        `a table that is not restored may have lost this default with the sequence the restore brings back (DROP … CASCADE); if so, restore it by hand: ${statement.replace(/\s+/g, " ")}`,
      );
    }
    for (const sequence of named.sharedSequences) {
      options.progress.warn(
        `sequence ${sequence} exists in ${into.display} and is left as it is: the restored tables' defaults use it`,
      );
    }
    if (options.ownership !== "keep") return { selection: named, keep: false };
    const withAcl = choose(true);
    const owners = [...new Set(withAcl.entries.map((e) => blocks.get(e.id)?.owner ?? "").filter(Boolean))];
    const roles = await client.query<{ rolname: string }>(
      "SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])",
      [owners],
    );
    const missing = owners.filter((o) => !roles.rows.some((r) => r.rolname === o));
    if (superuser && missing.length === 0) return { selection: withAcl, keep: true };
    options.progress.warn(
      !superuser
        ? "the restored objects belong to the connecting role, without their privileges: only a superuser may give them their original owners"
        : `the restored objects belong to the connecting role, without their privileges: the target has no role ${missing.join(", ")}`,
    );
    return { selection: choose(false), keep: false };
  });

  const dir = await mkdtemp(path.join(os.tmpdir(), "lifeline-tables-"));
  try {
    const list = path.join(dir, "tables.list");
    await writeFile(list, listFile(selection.entries));
    const preamble = selection.schemas.map((s) => `CREATE SCHEMA IF NOT EXISTS ${sqlIdent(s)};\n`).join("");
    options.progress.phase(
      `restoring ${options.tables.length} table${options.tables.length === 1 ? "" : "s"} in one transaction (pg_restore ${pgRestore.version})`,
    );
    await restoreInOneTransaction(
      { pgRestore: pgRestore.path, psql: psqlBeside(pgRestore.path) },
      [
        `--use-list=${list}`,
        "--file=-",
        "--no-tablespaces",
        ...(keep ? [] : ["--no-owner", "--no-privileges"]),
        archive,
      ],
      into,
      preamble,
      options.signal,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const reported: ReportedKey[] = [...selection.foreignKeys];
  if (selection.laterForeignKeys.length > 0) {
    options.progress.phase(
      `adding ${selection.laterForeignKeys.length} foreign key(s) to tables that were not restored`,
    );
    const leftOut = await addLaterForeignKeys(into, selection.laterForeignKeys);
    reported.push(...leftOut);
    for (const fk of leftOut)
      options.progress.warn(
        `foreign key ${fk.name} of ${fk.table} was left out: ${fk.why}; add it by hand once it holds: ${fk.definition.replace(/\s+/g, " ")}`,
      );
  }
  if (selection.views.length > 0) {
    options.progress.phase(`restored with them (missing in the target): ${selection.views.join(", ")}`);
  }
  return {
    tables: [...options.tables],
    sequences: selection.sequences,
    views: selection.views,
    foreignKeys: reported.map((fk) => ({
      name: fk.name,
      table: fk.table,
      references: fk.references,
      definition: fk.definition,
      why: fk.why,
    })),
    tools: { pg_restore: pgRestore.version },
  };
}

/** The columns of `FOREIGN KEY (a, b) REFERENCES t(c, d)`, when the definition is that simple. */
function foreignKeyColumns(definition: string): { from: string[]; to: string[] } | null {
  const m = /FOREIGN KEY \(([^()]*)\) REFERENCES [^(]*\(([^()]*)\)/.exec(definition);
  if (!m?.[1] || !m[2]) return null;
  const split = (list: string) => list.split(",").map((c) => c.trim());
  const from = split(m[1]);
  const to = split(m[2]);
  return from.length === to.length ? { from, to } : null;
}

/**
 * Adds each foreign key from a restored table to a table that was not restored, on its own
 * statement after the restore committed. One that does not hold (the rows it references changed
 * since the restore point) is left out and returned, with why and how many rows break it.
 */
async function addLaterForeignKeys(
  into: Target,
  keys: readonly ForeignKeyDefinition[],
): Promise<ReportedKey[]> {
  return withClient(into, async (client) => {
    const left: ReportedKey[] = [];
    // It locks the referenced table (SHARE ROW EXCLUSIVE): never wait long behind its clients.
    await client.query("SET lock_timeout = '5s'");
    for (const fk of keys) {
      try {
        await client.query(fk.definition);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const detail =
          typeof (error as { detail?: unknown }).detail === "string"
            ? ` (${(error as { detail: string }).detail})`
            : "";
        let count = "";
        const cols = foreignKeyColumns(fk.definition);
        if (cols) {
          const [ts, tn] = splitQualifiedName(fk.table);
          const [rs, rn] = splitQualifiedName(fk.references);
          const t = qualifiedName(ts ?? "public", tn ?? fk.table);
          const r = qualifiedName(rs ?? "public", rn ?? fk.references);
          const notNull = cols.from.map((c) => `c.${c} IS NOT NULL`).join(" AND ");
          const match = cols.from.map((c, i) => `p.${cols.to[i] ?? c} = c.${c}`).join(" AND ");
          const n = await client
            .query<{ n: string }>(
              `SELECT count(*)::text AS n FROM ${t} c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${r} p WHERE ${match})`,
            )
            .then((res) => res.rows[0]?.n ?? null)
            .catch(() => null);
          if (n !== null)
            count = `; ${n} row(s) of ${fk.table} reference rows ${fk.references} no longer has`;
        }
        left.push({
          ...fk,
          why: `it does not hold: ${secrets.redact(reason)}${secrets.redact(detail)}${count}; ${fk.references} was not restored (it changed since the restore point)`,
        });
      }
    }
    return left;
  });
}
