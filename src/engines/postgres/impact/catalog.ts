import type pg from "pg";

export interface Relation {
  oid: number;
  relfilenode: number;
  schema: string;
  name: string;
  relkind: string;
  reltuples: number;
}

export interface ForeignKey {
  name: string;
  table: number;
  references: number;
  onDelete: string;
  /** The referencing columns, the referenced ones, and those ON DELETE SET NULL/DEFAULT sets. */
  columns: string[];
  referenced: string[];
  setColumns: string[];
}

const USER_NAMESPACES = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

export const RELKIND_TYPE: Record<string, string> = {
  r: "table",
  p: "table",
  v: "view",
  m: "materialized view",
  S: "sequence",
  f: "foreign table",
};

/**
 * The catalog, read in a handful of bulk queries (relations, foreign keys, view dependencies) and
 * walked in memory.
 */
export class Catalog {
  readonly relations = new Map<number, Relation>();
  readonly keysByReferenced = new Map<number, ForeignKey[]>();
  readonly viewsByBase = new Map<number, number[]>();
  readonly partitions = new Map<number, number[]>();
  readonly sizes = new Map<number, number>();
  readonly exactRows = new Map<number, number>();

  static async load(client: pg.Client): Promise<Catalog> {
    const catalog = new Catalog();
    // One client runs one query at a time; these are sequential round trips.
    const relations = await client.query<Relation>(
      `SELECT c.oid::int AS oid, c.relfilenode::int AS relfilenode, n.nspname AS schema, c.relname AS name,
                c.relkind::text AS relkind, c.reltuples::float8 AS reltuples
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r','p','v','m','S','f') AND ${USER_NAMESPACES}`,
    );
    const keys = await client.query<{
      name: string;
      tbl: number;
      ref: number;
      deltype: string;
      cols: string[];
      refcols: string[];
      setcols: string[];
    }>(
      `SELECT k.conname AS name, k.conrelid::int AS tbl, k.confrelid::int AS ref, k.confdeltype::text AS deltype,
              ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i) AS cols,
              ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i)
                      JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i) AS refcols,
              ARRAY(SELECT a.attname::text FROM unnest(coalesce(k.confdelsetcols, k.conkey)) WITH ORDINALITY u(n, i)
                      JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i) AS setcols
           FROM pg_constraint k WHERE k.contype = 'f' AND k.conparentid = 0`,
    );
    const views = await client.query<{ view: number; base: number }>(
      `SELECT DISTINCT rw.ev_class::int AS view, d.refobjid::int AS base
           FROM pg_depend d JOIN pg_rewrite rw ON rw.oid = d.objid
          WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass AND rw.ev_class <> d.refobjid`,
    );
    const inherits = await client.query<{ parent: number; child: number }>(
      "SELECT inhparent::int AS parent, inhrelid::int AS child FROM pg_inherits",
    );
    for (const r of relations.rows) catalog.relations.set(r.oid, r);
    for (const k of keys.rows) {
      const list = catalog.keysByReferenced.get(k.ref) ?? [];
      list.push({
        name: k.name,
        table: k.tbl,
        references: k.ref,
        onDelete: k.deltype,
        columns: k.cols,
        referenced: k.refcols,
        setColumns: k.setcols.length > 0 ? k.setcols : k.cols,
      });
      catalog.keysByReferenced.set(k.ref, list);
    }
    for (const v of views.rows)
      catalog.viewsByBase.set(v.base, [...(catalog.viewsByBase.get(v.base) ?? []), v.view]);
    for (const i of inherits.rows)
      catalog.partitions.set(i.parent, [...(catalog.partitions.get(i.parent) ?? []), i.child]);
    return catalog;
  }

  /** Views and materialized views built on a relation, recursively (views on views). */
  dependentViews(oid: number): Relation[] {
    const found = new Map<number, Relation>();
    const queue = [oid];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      for (const view of this.viewsByBase.get(current) ?? []) {
        const rel = this.relations.get(view);
        if (rel && !found.has(view) && view !== oid) {
          found.set(view, rel);
          queue.push(view);
        }
      }
    }
    return [...found.values()];
  }

  referencingKeys(oid: number): ForeignKey[] {
    return (this.keysByReferenced.get(oid) ?? []).filter((k) => k.table !== oid);
  }

  /** Tables reached through foreign keys, recursively, optionally only through ON DELETE CASCADE keys. */
  referencingTables(oid: number, onlyCascade: boolean): { rel: Relation; key: string; fk: ForeignKey }[] {
    const found = new Map<number, { rel: Relation; key: string; fk: ForeignKey }>();
    const queue = [oid];
    for (let current = queue.shift(); current !== undefined; current = queue.shift()) {
      for (const fk of this.referencingKeys(current)) {
        if ((onlyCascade && fk.onDelete !== "c") || found.has(fk.table) || fk.table === oid) continue;
        const rel = this.relations.get(fk.table);
        if (rel) {
          found.set(fk.table, { rel, key: fk.name, fk });
          queue.push(fk.table);
        }
      }
    }
    return [...found.values()];
  }

  /**
   * The tables among a relation, its inheritance children and partitions, whose rows have no
   * estimate (reltuples -1: never analysed, or truncated since): estimatedRows leaves them out.
   */
  unestimated(rel: Relation): Relation[] {
    const own = (rel.relkind === "r" || rel.relkind === "m") && rel.reltuples < 0 ? [rel] : [];
    const children = (this.partitions.get(rel.oid) ?? [])
      .map((c) => this.relations.get(c))
      .filter((c): c is Relation => c !== undefined && c.oid !== rel.oid);
    return [...own, ...children.flatMap((c) => this.unestimated(c))];
  }

  /**
   * Estimated rows; with children, those of inheritance children and partitions too (what a
   * DELETE, UPDATE or TRUNCATE without ONLY reaches). A partitioned table always sums its partitions.
   */
  estimatedRows(rel: Relation, withChildren = false): number | null {
    const children = (this.partitions.get(rel.oid) ?? [])
      .map((c) => this.relations.get(c))
      .filter((c): c is Relation => c !== undefined);
    if (rel.relkind === "p") return children.reduce((sum, c) => sum + (this.estimatedRows(c, true) ?? 0), 0);
    if (rel.relkind !== "r" && rel.relkind !== "m") return null;
    const own = rel.reltuples < 0 ? null : Math.round(rel.reltuples);
    if (!withChildren || children.length === 0) return own;
    return children.reduce<number | null>((sum, c) => {
      const rows = this.estimatedRows(c, true);
      return sum === null || rows === null ? null : sum + rows;
    }, own);
  }
}
