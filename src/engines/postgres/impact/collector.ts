import type pg from "pg";
import type { AffectedObject } from "../../../core/plan/policy.js";
import { qualifiedName, sqlIdent } from "../connection.js";
import { type Catalog, type Relation, RELKIND_TYPE } from "./catalog.js";

/** Builds affected objects now and fills sizes (and exact counts) in one batch later. */
export class Collector {
  private readonly pending: { object: AffectedObject; oid: number; only: boolean }[] = [];

  constructor(
    private readonly catalog: Catalog,
    private readonly exact: boolean,
  ) {}

  /**
   * `reach`: "children" counts inheritance children and partitions too (DML without ONLY);
   * "only" just the table itself.
   */
  affected(
    rel: Relation,
    dataLoss: AffectedObject["dataLoss"],
    how: string,
    reach: "table" | "children" | "only" = "table",
  ): AffectedObject {
    const object: AffectedObject = {
      type: RELKIND_TYPE[rel.relkind] ?? "relation",
      name: qualifiedName(rel.schema, rel.name),
      identity: `oid=${rel.oid},relfilenode=${rel.relfilenode}`,
      rows: dataLoss === "destructive" ? this.catalog.estimatedRows(rel, reach === "children") : null,
      rowsExact: false,
      bytes: null,
      dataLoss,
      how,
    };
    this.pending.push({ object, oid: rel.oid, only: reach === "only" });
    return object;
  }

  /** A column dropped with its values: every row of its table loses one. */
  affectedColumn(rel: Relation, column: string, attnum: number, how: string): AffectedObject {
    const object: AffectedObject = {
      type: "column",
      name: `${qualifiedName(rel.schema, rel.name)}.${column}`,
      table: qualifiedName(rel.schema, rel.name),
      identity: `oid=${rel.oid},relfilenode=${rel.relfilenode},attnum=${attnum}`,
      rows: this.catalog.estimatedRows(rel),
      rowsExact: false,
      bytes: null,
      dataLoss: "destructive",
      how,
    };
    this.pending.push({ object, oid: rel.oid, only: false });
    return object;
  }

  async fill(client: pg.Client): Promise<void> {
    const oids = [...new Set(this.pending.map((p) => p.oid))];
    if (oids.length === 0) return;
    const sizes = await client.query<{ oid: number; bytes: number }>(
      "SELECT o::int AS oid, pg_total_relation_size(o)::float8 AS bytes FROM unnest($1::oid[]) AS o",
      [oids],
    );
    for (const s of sizes.rows) this.catalog.sizes.set(s.oid, s.bytes);
    const onlyRows = new Map<number, number>();
    if (this.exact) {
      const wanted = this.pending.filter(
        (p) => p.object.rows !== null || p.object.dataLoss === "destructive",
      );
      for (const [only, oids] of [
        [false, new Set(wanted.filter((p) => !p.only).map((p) => p.oid))],
        [true, new Set(wanted.filter((p) => p.only).map((p) => p.oid))],
      ] as const) {
        for (const oid of oids) {
          const rel = this.catalog.relations.get(oid);
          if (!rel || !["r", "p", "m"].includes(rel.relkind)) continue;
          // Without ONLY, count(*) reads inheritance children and partitions too.
          const r = await client.query<{ n: string }>(
            `SELECT count(*)::text AS n FROM ${only ? "ONLY " : ""}${sqlIdent(rel.schema)}.${sqlIdent(rel.name)}`,
          );
          (only ? onlyRows : this.catalog.exactRows).set(oid, Number(r.rows[0]?.n ?? 0));
        }
      }
    }
    for (const { object, oid, only } of this.pending) {
      if (object.type !== "column") object.bytes = this.catalog.sizes.get(oid) ?? null;
      const exactRows = (only ? onlyRows : this.catalog.exactRows).get(oid);
      if (object.dataLoss === "destructive" && exactRows !== undefined) {
        object.rows = exactRows;
        // A bound stays a bound, however exactly it is counted.
        object.rowsExact = object.rowsBound !== true;
      }
    }
  }
}
