import type pg from "pg";
import type { PlannedOperation } from "../../../core/plan/policy.js";
import { createClassifier } from "../classify/index.js";
import { qualifiedName, sqlIdent } from "../connection.js";
import type { Catalog } from "./catalog.js";

/** One query inside a savepoint: a failure (a statement lifeline could not rebuild) costs nothing. */
async function guarded<T>(client: pg.Client, run: () => Promise<T>): Promise<T | null> {
  await client.query("SAVEPOINT lifeline_count");
  try {
    const result = await run();
    await client.query("RELEASE SAVEPOINT lifeline_count");
    return result;
  } catch {
    await client.query("ROLLBACK TO SAVEPOINT lifeline_count");
    return null;
  }
}

/**
 * The rows a DELETE takes through its foreign keys, without deleting: the rows of every ON DELETE
 * CASCADE table (and those ON DELETE SET NULL/DEFAULT overwrite) that reference the deleted rows,
 * by the foreign-key join from the DELETE's own FROM/USING/WHERE — counted under --exact, estimated
 * by EXPLAIN otherwise. Where that join cannot be built (WHERE CURRENT OF, a self-referencing
 * cascade, a cycle), the figure stays what it was: every row of the table, labelled as a bound.
 * Under --exact a filtered DELETE's own rows are counted the same way.
 */
export async function countDeletes(
  client: pg.Client,
  catalog: Catalog,
  planned: PlannedOperation[],
  exact: boolean,
): Promise<void> {
  const classifier = await createClassifier();
  for (const p of planned) {
    if (p.kind !== "delete" || !p.resolved) continue;
    const bounded = p.cascade.filter((c) => c.rowsBound);
    const build = classifier.deleteAsSelect(p.statement);
    const root = [...catalog.relations.values()].find(
      (r) => `oid=${r.oid},relfilenode=${r.relfilenode}` === p.resolved?.identity,
    );
    if (build && root && exact && p.filter === "filtered") {
      const n = await guarded(client, async () => {
        const r = await client.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM (${build([])}) AS deleted`,
        );
        return Number(r.rows[0]?.n ?? 0);
      });
      if (n !== null) {
        p.rows = n;
        p.resolved.rows = n;
        p.resolved.rowsExact = true;
        p.notes = p.notes.filter((note) => !note.startsWith("rows estimated by EXPLAIN"));
        p.notes.push(
          "rows counted with the DELETE's own FROM/USING/WHERE in a read-only transaction (nothing was deleted)",
        );
      }
    }
    if (bounded.length === 0) continue;
    const deletedSet = new Set([
      root?.oid,
      ...catalog.referencingTables(root?.oid ?? -1, true).map((d) => d.rel.oid),
    ]);
    const selfCascade = [...deletedSet].some((oid) =>
      (catalog.keysByReferenced.get(oid ?? -1) ?? []).some((k) => k.table === oid && k.onDelete === "c"),
    );
    let alias = 0;
    /** SQL selecting `columns` of the rows of `oid` the DELETE takes; null on a cycle. */
    const rowsOf = (oid: number, columns: string[], visiting: Set<number>): string | null => {
      if (!build || !root) return null;
      if (oid === root.oid) return build(columns);
      const rel = catalog.relations.get(oid);
      if (!rel || visiting.has(oid)) return null;
      const keys = [...deletedSet].flatMap((parent) =>
        catalog.referencingKeys(parent ?? -1).filter((k) => k.table === oid && k.onDelete === "c"),
      );
      const x = `x${++alias}`;
      const conditions: string[] = [];
      for (const k of keys) {
        const parentRows = rowsOf(k.references, k.referenced, new Set([...visiting, oid]));
        if (parentRows === null) return null;
        conditions.push(`(${k.columns.map((c) => `${x}.${sqlIdent(c)}`).join(", ")}) IN (${parentRows})`);
      }
      if (conditions.length === 0) return null;
      const selected = columns.length > 0 ? columns.map((c) => `${x}.${sqlIdent(c)}`).join(", ") : "1";
      return `SELECT ${selected} FROM ${sqlIdent(rel.schema)}.${sqlIdent(rel.name)} ${x} WHERE ${conditions.join(" OR ")}`;
    };
    for (const c of bounded) {
      const rel = [...catalog.relations.values()].find(
        (r) => c.identity === `oid=${r.oid},relfilenode=${r.relfilenode}`,
      );
      let sql: string | null = null;
      if (rel && !selfCascade && c.type === "column") {
        // SET NULL / SET DEFAULT: the referencing rows of every table whose rows are deleted.
        const keys = [...deletedSet].flatMap((parent) =>
          catalog
            .referencingKeys(parent ?? -1)
            .filter(
              (k) =>
                k.table === rel.oid &&
                (k.onDelete === "n" || k.onDelete === "d") &&
                c.name === `${qualifiedName(rel.schema, rel.name)}.${k.setColumns.join(",")}`,
            ),
        );
        const x = `x${++alias}`;
        const conditions = keys.map((k) => {
          const parentRows = rowsOf(k.references, k.referenced, new Set());
          return parentRows === null
            ? null
            : `(${k.columns.map((col) => `${x}.${sqlIdent(col)}`).join(", ")}) IN (${parentRows})`;
        });
        if (conditions.length > 0 && conditions.every((cond) => cond !== null))
          sql = `SELECT 1 FROM ${sqlIdent(rel.schema)}.${sqlIdent(rel.name)} ${x} WHERE ${conditions.join(" OR ")}`;
      } else if (rel && !selfCascade) sql = rowsOf(rel.oid, [], new Set());
      const counted =
        sql === null
          ? null
          : await guarded(client, async () => {
              if (exact) {
                const r = await client.query<{ n: string }>(
                  `SELECT count(*)::text AS n FROM (${sql}) AS taken`,
                );
                return Number(r.rows[0]?.n ?? 0);
              }
              const r = await client.query<{ "QUERY PLAN": { Plan: { "Plan Rows"?: number } }[] }>(
                `EXPLAIN (FORMAT JSON) ${sql}`,
              );
              return r.rows[0]?.["QUERY PLAN"][0]?.Plan["Plan Rows"] ?? null;
            });
      if (counted === null) {
        c.rowsExact = false;
        c.how = `${c.how}; up to every row of the table (a bound, not a count${selfCascade ? ": a self-referencing cascade" : ""})`;
        continue;
      }
      c.rows = counted;
      c.rowsExact = exact;
      delete c.rowsBound;
      c.how = `${c.how}; ${exact ? "counted" : "estimated"} by the foreign-key join (nothing was deleted)`;
    }
  }
}

export async function explainRows(client: pg.Client, statement: string): Promise<number | null> {
  // EXPLAIN without ANALYZE plans the statement and never runs it (allowed in a read-only transaction).
  await client.query("SAVEPOINT lifeline_explain");
  try {
    const r = await client.query<{
      "QUERY PLAN": { Plan: { "Plan Rows"?: number; Plans?: { "Plan Rows"?: number }[] } }[];
    }>(`EXPLAIN (FORMAT JSON) ${statement}`);
    await client.query("RELEASE SAVEPOINT lifeline_explain");
    const plan = r.rows[0]?.["QUERY PLAN"][0]?.Plan;
    return plan?.Plans?.[0]?.["Plan Rows"] ?? plan?.["Plan Rows"] ?? null;
  } catch {
    await client.query("ROLLBACK TO SAVEPOINT lifeline_explain");
    return null;
  }
}
