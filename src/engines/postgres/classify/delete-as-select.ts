import { child, isNode, list, str, withoutLocations } from "./ast.js";
import { topLevelWords } from "./bytes.js";
import type { Parser } from "./parser.js";

/**
 * The rows a DELETE would delete, as a SELECT of the given columns of its target (the same FROM,
 * USING and WHERE), so they can be counted in a read-only transaction instead of deleting them.
 * The SELECT is parsed back and checked to read exactly what the DELETE names; null when it cannot
 * be built (WHERE CURRENT OF, an unusual spelling): then the caller gives a bound, not a count.
 */
export function deleteAsSelect(parser: Parser, statement: string): ((columns: string[]) => string) | null {
  let body: unknown;
  try {
    const stmts = parser.parse(statement);
    if (stmts.length !== 1) return null;
    body = child(stmts[0]?.stmt, "DeleteStmt");
  } catch {
    return null;
  }
  if (!isNode(body) || isNode(child(body.whereClause, "CurrentOfExpr"))) return null;
  const relation = body.relation;
  const relLocation = child(relation, "location");
  if (typeof relLocation !== "number") return null;
  const bytes = Buffer.from(statement, "utf8");
  const words = topLevelWords(bytes);
  const deleteWord = words.filter((w) => w.word === "delete" && w.at < relLocation).pop();
  if (!deleteWord) return null;
  const using = list(body.usingClause);
  const firstUsing = child(child(using[0], "RangeVar") ?? using[0], "location");
  let usingWord: { at: number } | undefined;
  if (using.length > 0) {
    usingWord = words.find(
      (w) =>
        w.word === "using" && w.at > relLocation && (typeof firstUsing !== "number" || w.at < firstUsing),
    );
    if (!usingWord) return null;
  }
  const returning = words.find((w) => w.word === "returning" && w.at > relLocation);
  const end = returning ? returning.at : bytes.length;
  const only = child(relation, "inh") !== true;
  const alias = str(child(child(relation, "alias"), "aliasname")) ?? str(child(relation, "relname")) ?? "";
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const text = (from: number, to: number) => bytes.subarray(from, to).toString("utf8");
  const tail = usingWord
    ? `${text(relLocation, usingWord.at).trimEnd()}, ${text(usingWord.at + 5, end).trimStart()}`
    : text(relLocation, end);
  const build = (columns: string[]) =>
    `${text(0, deleteWord.at)}SELECT ${columns.map((c) => `${quote(alias)}.${quote(c)}`).join(", ") || "1"} FROM ${only ? "ONLY " : ""}${tail.replace(/;\s*$/, "")}`;
  // Parsed back, the SELECT must read what the DELETE names.
  try {
    const select = child(parser.parse(build(["x"]))[0]?.stmt, "SelectStmt");
    const from = list(child(select, "fromClause"));
    const same =
      from.length === using.length + 1 &&
      withoutLocations(child(from[0], "RangeVar")) === withoutLocations(relation) &&
      withoutLocations(from.slice(1)) === withoutLocations(using) &&
      withoutLocations(child(select, "whereClause")) === withoutLocations(body.whereClause) &&
      withoutLocations(child(select, "withClause")) === withoutLocations(body.withClause);
    return same ? build : null;
  } catch {
    return null;
  }
}
