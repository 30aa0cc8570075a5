import type pg from "pg";
import type { PlannedOperation } from "../../../core/plan/policy.js";
import { losslessTypeChange } from "../classify/index.js";
import { sqlIdent } from "../connection.js";
import { relationName } from "./resolve.js";

/** Operations before `index` that change the column (or add one): its live type is not what runs. */
function columnChangedEarlier(planned: readonly PlannedOperation[], index: number): boolean {
  const op = planned[index];
  if (!op?.target) return true;
  const table = op.target.name.split(".")[0];
  return planned
    .slice(0, index)
    .some(
      (o) =>
        o.target &&
        o.target.schema === op.target?.schema &&
        ((o.kind === "alter-table" && o.target.name === table) ||
          ((o.kind === "alter-column-type" || o.kind === "alter-table-drop-column") &&
            o.target.name === op.target.name)),
    );
}

/**
 * ALTER COLUMN … TYPE against the live column: a change that cannot lose a value (a widening) is
 * not destructive, and the plan says whether PostgreSQL rewrites the table for it. Anything not
 * proven lossless stays destructive.
 */
export async function decideTypeChanges(
  client: pg.Client,
  resolved: Map<string, number | null>,
  planned: PlannedOperation[],
): Promise<void> {
  for (const [index, p] of planned.entries()) {
    if (p.kind !== "alter-column-type" || p.dataLoss !== "destructive" || !p.newType || !p.target) continue;
    if (p.newType.using || p.newType.collate || columnChangedEarlier(planned, index)) continue;
    const text = relationName(p);
    const oid = text ? (resolved.get(text) ?? null) : null;
    if (oid === null || !p.resolved) continue;
    const column = p.target.name.slice(p.target.name.indexOf(".") + 1);
    const typeText = p.newType.names.map((part) => sqlIdent(part)).join(".");
    const r = await client.query<{
      from_name: string | null;
      from_mod: number;
      shown: string;
      to_name: string | null;
      to_shown: string | null;
    }>(
      `SELECT CASE WHEN tn.nspname = 'pg_catalog' AND t.typtype = 'b' THEN t.typname::text END AS from_name,
              a.atttypmod AS from_mod, format_type(a.atttypid, a.atttypmod) AS shown,
              (SELECT CASE WHEN nn.nspname = 'pg_catalog' AND nt.typtype = 'b' THEN nt.typname::text END
                 FROM pg_type nt JOIN pg_namespace nn ON nn.oid = nt.typnamespace
                WHERE nt.oid = to_regtype($3)) AS to_name,
              format_type(to_regtype($3), NULL) AS to_shown
         FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
        WHERE a.attrelid = $1 AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [oid, column, typeText],
    );
    const row = r.rows[0];
    if (!row) continue;
    const lossless = losslessTypeChange(
      { name: row.from_name, typmod: row.from_mod },
      { name: row.to_name, typmods: p.newType.typmods, array: p.newType.array },
    );
    if (!lossless) {
      p.reason = `${p.reason}; from ${row.shown}: not proven lossless`;
      continue;
    }
    const written = `${row.to_shown ?? p.newType.names.join(".")}${p.newType.typmods.length > 0 ? `(${p.newType.typmods.join(",")})` : ""}`;
    p.dataLoss = "none";
    p.reason = `changes the type of ${p.target.name} from ${row.shown} to ${written}: ${lossless.why}; no value can change (lossless)`;
    p.resolved.dataLoss = "none";
    p.resolved.rows = null;
    p.rewrite = lossless.rewrite;
    p.notes.push(
      lossless.rewrite
        ? "PostgreSQL rewrites the table and its indexes for it (no value changes, but an ACCESS EXCLUSIVE lock blocks readers and writers meanwhile)"
        : "no table rewrite: PostgreSQL only changes the catalog (binary-coercible)",
    );
  }
}
