/**
 * The entry point: parseCommand, whose reasons never quote what displayCommand masks.
 */
import { parseUnmasked } from "./interpret.js";
import { maskReason } from "./mask.js";
import { isUnknown, type ParsedCommand } from "./types.js";

/**
 * Parses a kubectl or helm command line. Anything the tool would reject, and anything lifeline
 * does not model, is an UnknownCommand whose reason never quotes what displayCommand masks.
 */
export function parseCommand(argv: readonly string[]): ParsedCommand {
  const c = parseUnmasked(argv);
  if (!isUnknown(c)) return c;
  try {
    return { ...c, reason: maskReason(c.reason, c.argv) };
  } catch {
    return { ...c, reason: "the command could not be read" };
  }
}
