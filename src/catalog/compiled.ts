/**
 * Queries of a fixed shape compiled once per backend. Kysely builds a query's tree and compiles it
 * to SQL on every call: on the reads `lifeline serve` makes for every protected admission request
 * that costs more than SQLite's own work. A query compiled here is built once with a placeholder
 * per argument; later calls run the same SQL text with the arguments in the placeholders' places.
 *
 * The shape must not depend on the arguments (no $if on them): an argument is only ever a value.
 */
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from "kysely";
import type { CatalogDatabase } from "./schema.js";

type Executor = Pick<Kysely<CatalogDatabase>, "executeQuery">;

/** Where each parameter of the compiled SQL comes from: an argument (its index) or a constant. */
type Source = { arg: number } | { constant: unknown };

const PLACEHOLDER = "\u0000lifeline-argument-";

export function compiledOnce<Args extends readonly unknown[], Row>(
  build: (db: Kysely<CatalogDatabase>, ...args: Args) => Compilable<Row>,
): (db: Kysely<CatalogDatabase>, backend: string, ...args: Args) => Promise<QueryResult<Row>> {
  const compiled = new Map<string, { sql: string; sources: Source[] }>();
  return (db, backend, ...args) => {
    let c = compiled.get(backend);
    if (c === undefined) {
      const placeholders = args.map((_, i) => `${PLACEHOLDER}${i}`) as unknown as Args;
      const query = build(db, ...placeholders).compile();
      const sources = query.parameters.map((p): Source => {
        if (typeof p === "string" && p.startsWith(PLACEHOLDER)) return { arg: Number(p.slice(PLACEHOLDER.length)) };
        return { constant: p };
      });
      compiled.set(backend, (c = { sql: query.sql, sources }));
    }
    const parameters = c.sources.map((s) => ("arg" in s ? args[s.arg] : s.constant));
    return (db as Executor).executeQuery<Row>(CompiledQuery.raw(c.sql, parameters) as CompiledQuery<Row>);
  };
}
