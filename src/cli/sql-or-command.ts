import { LifelineError } from "../core/errors.js";
import { readSql } from "./io.js";

/** What `plan` and `run` take: SQL for an asset (--sql or -f), or a kubectl/helm command after --. */
export type SqlOrCommand = { kind: "sql"; asset: string; sql: string } | { kind: "command"; argv: string[] };

const USAGE = {
  plan: {
    both: {
      message: "plan takes either SQL for an asset or a command after --, not both",
      fix: "lifeline plan -- kubectl delete pvc data-postgresql-0 -n shop (assets are found from their kubernetes: bindings)",
    },
    noAsset: {
      message: "plan needs an asset and SQL, or a command after --",
      fix: 'lifeline plan shop --sql "DROP TABLE products", or lifeline plan -- kubectl delete pvc data-0 -n shop',
    },
    noSql: {
      message: "plan needs the SQL: give exactly one of --sql or -f/--file",
      fix: 'lifeline plan shop --sql "DROP TABLE products" or lifeline plan shop -f migration.sql',
    },
  },
  run: {
    both: {
      message: "run takes either SQL for an asset or a command after --, not both",
      fix: "lifeline run -- kubectl delete pvc data-postgresql-0 -n shop",
    },
    noAsset: {
      message: "run needs an asset and exactly one of --sql or -f, or a command after --",
      fix: 'lifeline run shop --sql "TRUNCATE carts", or lifeline run -- kubectl delete pvc data-0 -n shop',
    },
    noSql: {
      message: "run needs an asset and exactly one of --sql or -f, or a command after --",
      fix: 'lifeline run shop --sql "TRUNCATE carts", or lifeline run -- kubectl delete pvc data-0 -n shop',
    },
  },
} as const;

function usage(text: { message: string; fix: string }): LifelineError {
  return new LifelineError({ code: "USAGE", kind: "usage", ...text });
}

/**
 * The one reading of `<asset> (--sql <statements> | -f <file>) | -- <command>`: a command when the
 * line has `--` (then neither --sql, -f nor an asset before it), else an asset and exactly one of
 * --sql or -f, whose SQL is read (-f - reads standard input).
 */
export async function sqlOrCommand(
  verb: keyof typeof USAGE,
  asset: string | undefined,
  opts: { sql?: string; file?: string },
  signal: AbortSignal,
  argv: readonly string[] = process.argv,
): Promise<SqlOrCommand> {
  const words = USAGE[verb];
  const dashes = argv.indexOf("--");
  if (dashes !== -1) {
    const before = argv.slice(2, dashes);
    if (opts.sql !== undefined || opts.file !== undefined || before.some((a) => a === asset)) {
      throw usage(words.both);
    }
    return { kind: "command", argv: argv.slice(dashes + 1) };
  }
  if (!asset) throw usage(words.noAsset);
  if ((opts.sql === undefined) === (opts.file === undefined)) throw usage(words.noSql);
  return { kind: "sql", asset, sql: await readSql(opts, signal) };
}
