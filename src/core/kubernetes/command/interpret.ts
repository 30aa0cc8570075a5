/**
 * Reads argv as kubectl or helm would (reasons not yet masked: parse.ts masks them).
 */
import { resolve, unknown } from "./commands.js";
import { tokenize } from "./flags.js";
import { interpretHelm } from "./helm.js";
import { interpretKubectl } from "./kubectl.js";
import { type ParsedCommand } from "./types.js";

// ───────────────────────────── entry points ─────────────────────────────

export function parseUnmasked(argv: readonly string[]): ParsedCommand {
  try {
    if (!Array.isArray(argv) || argv.some((a) => typeof a !== "string"))
      return unknown(null, null, [], "the command must be a list of strings");
    const r = resolve(argv);
    if ("reason" in r) return r;
    const { toks, error } = tokenize(argv, r.remaining, r.table, r.strict, r.tool === "kubectl");
    if (error) return unknown(r.tool, r.path[0]?.name ?? null, argv, error);
    return r.tool === "kubectl" ? interpretKubectl(argv, r, toks) : interpretHelm(argv, r, toks);
  } catch (e) {
    // never expected; a plan must still fail closed rather than crash
    return unknown(
      null,
      null,
      Array.isArray(argv) ? [...argv].map(String) : [],
      `internal parser error: ${String(e)}`,
    );
  }
}
