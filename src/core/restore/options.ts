/**
 * What `lifeline restore` is asked to do, from its flags: one mode, checked before any file or
 * database is touched (a wrong combination is a usage error naming the fix). Pure.
 */
import { LifelineError } from "../errors.js";
import { RESTORE_POINT_ID } from "../restore-point/restore-point.js";

export interface RestoreFlags {
  to?: string | undefined;
  replace?: boolean | undefined;
  inPlace?: boolean | undefined;
  tables?: string | undefined;
  schema?: string | undefined;
  discardPrevious?: boolean | undefined;
  restorePoint?: string | undefined;
  unverified?: boolean | undefined;
}

export type RestoreAction =
  /** The whole restore point into `--to` (replacing its data only with --replace, through the gate). */
  | { kind: "into"; to: string; replace: boolean }
  /** Some tables into `--to`, or (to: null) back into the asset's own database through the gate. */
  | { kind: "tables"; to: string | null; tables: string[]; schemas: string[] }
  /** The asset's own database, through the gate; the current one kept as the previous database. */
  | { kind: "in-place" }
  /** Drop the database an in-place restore kept, through the gate. */
  | { kind: "discard-previous" };

export interface RestoreCommand {
  action: RestoreAction;
  restorePointId: string | null;
  unverified: boolean;
}

function usage(message: string, fix: string): LifelineError {
  return new LifelineError({ code: "USAGE", kind: "usage", message, fix });
}

const list = (text: string | undefined): string[] =>
  (text ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** A restore point id as the repository names them; anything else (a path: `/`, `..`) is refused. */
export function checkRestorePointId(id: string): string {
  if (!RESTORE_POINT_ID.test(id)) {
    throw usage(
      `--restore-point ${JSON.stringify(id.slice(0, 80))} is not a restore point id (they look like 20261126T102040Z-3fa9c1)`,
      "copy the id from `lifeline status ASSET --json` (newestRestorePoint, newestVerifiedRestorePoint) or from the backup's output",
    );
  }
  return id;
}

/** The flags of `lifeline restore ASSET …` as one action, or a usage error that names the fix. */
export function restoreCommand(asset: string, flags: RestoreFlags): RestoreCommand {
  const restorePointId = flags.restorePoint === undefined ? null : checkRestorePointId(flags.restorePoint);
  const unverified = flags.unverified === true;
  const selective = flags.tables !== undefined || flags.schema !== undefined;
  const to = flags.to !== undefined && flags.to.trim() !== "" ? flags.to : undefined;
  if (flags.to !== undefined && to === undefined)
    throw usage(
      "--to is empty",
      `give the target as a URL: lifeline restore ${asset} --to postgres://user@host:5432/db`,
    );
  if (flags.discardPrevious) {
    const others = [
      to && "--to",
      flags.replace && "--replace",
      flags.inPlace && "--in-place",
      selective && "--tables/--schema",
      unverified && "--unverified",
    ].filter((x): x is string => typeof x === "string");
    if (others.length > 0)
      throw usage(
        `--discard-previous drops the database an in-place restore kept; it takes no ${others.join(", ")}`,
        `run it on its own: lifeline restore ${asset} --discard-previous [--restore-point ID of the restore that kept it]`,
      );
    // --restore-point picks, among several kept databases, the one kept by restoring that point.
    return { action: { kind: "discard-previous" }, restorePointId, unverified: false };
  }
  if (flags.inPlace) {
    if (to)
      throw usage(
        "--in-place restores into the asset's own database; --to names another one",
        `choose one: lifeline restore ${asset} --in-place, or lifeline restore ${asset} --to URL`,
      );
    if (selective)
      throw usage(
        "--in-place replaces the whole database; --tables/--schema restore only some tables",
        `to bring back dropped tables into the asset's database: lifeline restore ${asset} --tables schema.table (without --in-place)`,
      );
    if (flags.replace)
      throw usage(
        "--replace goes with --to (a target whose data is replaced); --in-place keeps the current database",
        `lifeline restore ${asset} --in-place`,
      );
    return { action: { kind: "in-place" }, restorePointId, unverified };
  }
  if (flags.replace && !to)
    throw usage(
      "--replace needs --to: it replaces the data of the target database",
      `lifeline restore ${asset} --to postgres://user@host:5432/db --replace, or --in-place for the asset's own database`,
    );
  if (selective) {
    if (flags.replace)
      throw usage(
        "--replace replaces a whole database; --tables/--schema never overwrite existing tables",
        `drop --replace: lifeline restore ${asset} --tables … --to URL`,
      );
    const tables = list(flags.tables);
    const schemas = list(flags.schema);
    if (tables.length === 0 && schemas.length === 0)
      throw usage(
        "--tables and --schema name nothing to restore",
        "give tables as --tables public.products,public.prices or a schema as --schema sales",
      );
    return { action: { kind: "tables", to: to ?? null, tables, schemas }, restorePointId, unverified };
  }
  if (to)
    return { action: { kind: "into", to, replace: flags.replace === true }, restorePointId, unverified };
  throw usage(
    "say where to restore: --to URL (a new or empty database), --tables/--schema (some tables), --in-place (the asset's own database), or --discard-previous",
    `e.g. lifeline restore ${asset} --to postgres://user@host:5432/${asset}_copy`,
  );
}

/** A target server older than the source may not read what the source wrote (syntax, types). */
export function assertTargetFits(
  target: { display: string; serverMajor: number; serverVersion: string },
  source: { serverMajor: number; serverVersion: string },
): void {
  if (target.serverMajor < source.serverMajor) {
    throw new LifelineError({
      code: "RESTORE_TARGET_TOO_OLD",
      kind: "usage",
      message: `the target ${target.display} runs PostgreSQL ${target.serverVersion}, older than the source of the restore point (PostgreSQL ${source.serverVersion})`,
      fix: `restore into a server of PostgreSQL ${source.serverMajor} or newer`,
    });
  }
}
