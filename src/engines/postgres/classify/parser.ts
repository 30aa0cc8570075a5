import { setFlagsFromString } from "node:v8";
import type { ParsedStatement } from "./ast.js";

/** PostgreSQL's own parser: the statements of a text, or an exception with the parser's message. */
export interface Parser {
  parse(sql: string): ParsedStatement[];
}

let loaded: Promise<Parser> | undefined;

/**
 * Loads the parser (libpg-query, WebAssembly) once per process, and only for commands that parse
 * SQL (the import is dynamic).
 *
 * V8 compiles WebAssembly twice by default: a quick baseline (Liftoff), then the optimizing
 * compiler (TurboFan) on background threads. For the parser's 1.1 MB module the second pass
 * costs about 250 ms of CPU in every CLI process, competing with the database connection and
 * the catalog reads on a small machine (plan end to end: 0.45 s → 0.34 s without it). The
 * baseline code parses a migration in a few milliseconds, so only it is kept. The flag is read
 * when a module is compiled, and this is the only WebAssembly lifeline loads.
 */
export function loadParser(): Promise<Parser> {
  loaded ??= import("libpg-query").then(async (parser) => {
    setFlagsFromString("--liftoff-only");
    await parser.loadModule();
    const parseSync = parser.parseSync as (sql: string) => unknown;
    return {
      parse: (sql) => (parseSync(sql) as { stmts?: ParsedStatement[] }).stmts ?? [],
    };
  });
  return loaded;
}
