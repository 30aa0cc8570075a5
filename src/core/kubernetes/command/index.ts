/**
 * A pure parser of kubectl and helm command lines. It follows the tools' own argument rules
 * (cobra finds the command word, pflag parses the flags, kubectl's resource builder interprets the
 * resource arguments, helm's strvals splits --set) so that what lifeline plans is what the tool
 * would do. Anything the tool itself would reject, and anything ambiguous, becomes an
 * UnknownCommand with the reason: the caller then fails closed.
 *
 * `argv`, `flags`, `set[].value` and `patch.body` hold the command as given, secrets included (the
 * command may have to be run later). Anything shown or stored goes through displayCommand,
 * canonicalCommand or redactArgv, which mask them; an UnknownCommand's reason is masked the same
 * way (it never quotes what displayCommand masks). canonicalCommand, given a digest, puts each
 * masked value's digest where the others put the mask, so that a plan identity still binds it.
 */
export type {
  Connection,
  HelmCommand,
  HelmSetEntry,
  HelmSetFlag,
  KubectlCommand,
  ParsedCommand,
  ResourceKind,
  ResourceTarget,
  UnknownCommand,
} from "./types.js";
export { isUnknown } from "./types.js";
export { resolveResourceType } from "./resources.js";
export { parseCommand } from "./parse.js";
export { redactArgv } from "./mask.js";
export { canonicalCommand, displayCommand } from "./canonical.js";
