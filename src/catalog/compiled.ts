/**
 * Queries compiled once per shape. Kysely builds a query's tree and compiles it to SQL on every
 * call: on the reads `lifeline serve` makes for every protected admission request, that cost more
 * than SQLite's own work. A query compiled here is built once per backend and shape with a
 * placeholder per argument; later calls run the same SQL text with the arguments in the
 * placeholders' places (and the statement better-sqlite3 prepared for that text: index.ts).
 *
 * `shape` must name everything the query's form depends on (which filters are present, the
 * backend); an argument is only ever a value.
 */
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from "kysely";
import type { CatalogDatabase } from "./schema.js";

/** Where each parameter of the compiled SQL comes from: an argument (its index) or a constant. */
type Source = { arg: number } | { constant: unknown };

const PLACEHOLDER = "\u0000lifeline-argument-";

const compiled = new Map<string, { sql: string; sources: Source[] }>();

/**
 * Runs the query `build` makes, compiled once per `shape`: `build` gets a placeholder for each of
 * `args` (in order) and is called only the first time the shape is run.
 */
export function runCompiled<Row>(
  db: Pick<Kysely<CatalogDatabase>, "executeQuery">,
  shape: string,
  args: readonly unknown[],
  build: (...placeholders: string[]) => Compilable<Row>,
): Promise<QueryResult<Row>> {
  let c = compiled.get(shape);
  if (c === undefined) {
    const query = build(...args.map((_, i) => `${PLACEHOLDER}${i}`)).compile();
    const sources = query.parameters.map((p): Source =>
      typeof p === "string" && p.startsWith(PLACEHOLDER)
        ? { arg: Number(p.slice(PLACEHOLDER.length)) }
        : { constant: p },
    );
    // A placeholder that did not come out as a whole parameter (used inside an expression, or
    // dropped) would run with the wrong value: refuse the shape instead.
    const used = new Set(sources.flatMap((s) => ("arg" in s ? [s.arg] : [])));
    if (used.size !== args.length || query.sql.includes(PLACEHOLDER)) {
      throw new Error(`query ${shape}: every argument must be exactly one parameter`);
    }
    compiled.set(shape, (c = { sql: query.sql, sources }));
  }
  const parameters = c.sources.map((s) => ("arg" in s ? args[s.arg] : s.constant));
  return db.executeQuery(CompiledQuery.raw(c.sql, parameters) as CompiledQuery<Row>);
}
