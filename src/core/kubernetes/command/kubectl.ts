/**
 * kubectl: a resolved command and its flags interpreted as a KubectlCommand, or an UnknownCommand
 * with the reason kubectl itself would refuse it.
 */
import { unknown, type ArgStyle, type Resolved } from "./commands.js";
import { Flags, goParseBool, type PosTok, type Tok } from "./flags.js";
import {
  builderError,
  resourceTypeOrNameArgs,
  resourcesAndPairs,
  target,
  targetsOf,
  type ResourceArgs,
} from "./resources.js";
import { type KubectlCommand, type UnknownCommand } from "./types.js";

// ───────────────────────────── kubectl ─────────────────────────────

export function interpretKubectl(
  argv: readonly string[],
  r: Resolved,
  toks: readonly Tok[],
): KubectlCommand | UnknownCommand {
  const flags = new Flags(toks);
  const fail = (reason: string) => unknown("kubectl", r.path[0]?.name ?? null, argv, reason);
  const positionals = toks.filter((t): t is PosTok => t.kind === "pos").map((t) => t.value);
  const last = r.path[r.path.length - 1];
  const style: ArgStyle = last?.style ?? "none";

  if (flags.has("raw"))
    return fail(
      "lifeline does not model raw API requests (--raw): the request may delete anything, so it cannot be planned",
    );
  const dryRun = dryRunOf(flags);
  if (typeof dryRun !== "string") return fail(dryRun.error);
  const cascade = cascadeOf(flags);
  if (typeof cascade !== "string") return fail(cascade.error);

  const allNamespaces = flags.bool("all-namespaces");
  const selector = flags.last("selector")?.trim() || null;
  const fieldSelector = flags.last("field-selector")?.trim() || null;
  const files = flags.list("filename");
  const help = flags.bool("help");
  const grace = flags.int("grace-period");

  const cmd: KubectlCommand = {
    tool: "kubectl",
    verb: r.path[0]?.name ?? "",
    subcommands: r.path.slice(1).map((c) => c.name),
    targets: [],
    namespace: flags.text("namespace"),
    allNamespaces,
    selector,
    fieldSelector,
    all: flags.bool("all"),
    files,
    kustomize: flags.text("kustomize"),
    recursive: flags.bool("recursive"),
    context: flags.text("context"),
    kubeconfig: flags.text("kubeconfig"),
    connection: {
      server: flags.text("server"),
      cluster: flags.text("cluster"),
      user: flags.text("user"),
      tokenGiven: flags.text("token") !== null,
    },
    dryRun,
    cascade,
    force: flags.bool("force"),
    gracePeriod: grace === null || grace < 0 ? null : grace,
    ignoreNotFound: flags.bool("ignore-not-found"),
    replicas: null,
    patch: null,
    drain: null,
    raw: null,
    help,
    args: positionals,
    flags: flags.record,
    argv: [...argv],
  };

  // Targets, best effort for every command; exact (with kubectl's own errors) for the ones planned.
  if (style === "builder" || style === "resources" || style === "pairs") {
    let resourceArgs = positionals;
    if (style === "pairs") {
      const split = resourcesAndPairs(positionals);
      if ("error" in split) return fail(split.error);
      resourceArgs = split.resources;
    }
    const parsed = resourceTypeOrNameArgs(resourceArgs, r.base);
    if ("error" in parsed) return fail(parsed.error);
    cmd.targets = targetsOf(parsed);
    if (style === "builder" && !help) {
      const fileError = filenameOptionsError(cmd);
      if (fileError) return fail(fileError);
      const verbError = validateBuilderVerb(cmd, flags, parsed);
      if (verbError) return fail(verbError);
    }
  } else if (style === "nodes") {
    for (const a of positionals) {
      if (!a.includes("/")) {
        cmd.targets.push(target("nodes", a));
        continue;
      }
      const parsed = resourceTypeOrNameArgs([a], r.base);
      if ("error" in parsed) return fail(parsed.error);
      cmd.targets.push(...targetsOf(parsed));
    }
    if (positionals.length === 0 && selector) cmd.targets.push(target("nodes", null));
  } else if (style === "pod") {
    const first = positionals[0];
    if (first !== undefined) {
      const seg = first.split("/");
      cmd.targets.push(seg.length === 2 ? target(seg[0] ?? "", seg[1] ?? "") : target("pods", first));
    } else if (selector) cmd.targets.push(target("pods", null));
  } else if (style === "named" && last?.kind) {
    const first = positionals[0];
    cmd.targets.push(target(last.kind, first ?? null));
  }

  if (r.verb === "drain") {
    if (!help) {
      if (positionals.length === 0 && !flags.has("selector")) return fail("USAGE: drain NODE [flags]");
      if (positionals.length > 0 && selector)
        return fail("error: cannot specify both a node name and a --selector option");
    }
    cmd.drain = {
      deleteEmptyDirData: flags.bool("delete-emptydir-data") || flags.bool("delete-local-data"),
      ignoreDaemonsets: flags.bool("ignore-daemonsets"),
      force: flags.bool("force"),
      disableEviction: flags.bool("disable-eviction"),
    };
  }
  return cmd;
}

export function filenameOptionsError(cmd: KubectlCommand): string | null {
  if (cmd.files.length > 0 && cmd.kustomize) return "only one of -f or -k can be specified";
  if (cmd.kustomize && cmd.recursive) return "the -k flag can't be used with -f or -R";
  return null;
}

/** delete, scale and patch: their Complete/Validate checks and the builder's. */
export function validateBuilderVerb(cmd: KubectlCommand, flags: Flags, args: ResourceArgs): string | null {
  const paths = cmd.files.length + (cmd.kustomize ? 1 : 0);
  if (cmd.verb === "delete") {
    const grace = flags.int("grace-period") ?? -1;
    if (flags.bool("now") && grace !== -1) return "--now and --grace-period cannot be specified together";
    // kubectl delete's normalisation, so that the plan sees what is sent to the server
    let effective = flags.bool("now") ? 1 : grace;
    if (effective === 0 && !cmd.force) effective = 1;
    if (cmd.force && effective < 0) effective = 0;
    cmd.gracePeriod = effective < 0 ? null : effective;
    if ((cmd.all || cmd.selector || cmd.fieldSelector) && !flags.has("ignore-not-found"))
      cmd.ignoreNotFound = true;
    const b = builderError({
      args,
      paths,
      selector: cmd.selector !== null || cmd.fieldSelector !== null,
      selectAll: cmd.all,
      allNamespaces: cmd.allNamespaces,
    });
    if (b) return b;
    const output = flags.last("output") ?? "";
    if (output !== "" && output !== "name")
      return `unexpected -o output mode: ${output}. We only support '-o name'`;
    if (cmd.all && cmd.selector) return "cannot set --all and --selector at the same time";
    if (cmd.all && cmd.fieldSelector) return "cannot set --all and --field-selector at the same time";
    if (cmd.force && effective > 0)
      return "--force and --grace-period greater than 0 cannot be specified together";
    return null;
  }
  if (cmd.verb === "scale") {
    const replicas = flags.int("replicas") ?? -1;
    if (replicas < 0)
      return "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0";
    if ((flags.int("current-replicas") ?? -1) < -1)
      return "The --current-replicas must specify an integer of -1 or greater";
    cmd.replicas = replicas;
    // scale selects everything for a lone TYPE with --all (ResourceTypeOrNameArgs(o.All, ...)), then applies -l
    const everything = cmd.all && cmd.args.length === 1 && !(cmd.args[0] ?? "").includes("/");
    return builderError({
      args,
      paths,
      selector: cmd.selector !== null || everything,
      selectAll: false,
      allNamespaces: false,
    });
  }
  // patch
  const inline = flags.last("patch");
  const file = flags.last("patch-file");
  if (inline !== null && inline !== "" && file !== null && file !== "")
    return "-p and --patch-file cannot be used together";
  if ((inline === null || inline === "") && (file === null || file === ""))
    return "must specify --patch or --patch-file containing the contents of the patch";
  const typeText = flags.last("type") ?? "strategic";
  const type = typeText.toLowerCase();
  if (type !== "json" && type !== "merge" && type !== "strategic")
    return `--type must be one of [json merge strategic], not ${JSON.stringify(typeText)}`;
  const local = flags.bool("local");
  if (local && cmd.args.length > 0) return "cannot specify --local and server resources";
  if (local && cmd.dryRun === "server")
    return "cannot specify --local and --dry-run=server - did you mean --dry-run=client?";
  cmd.patch =
    inline !== null && inline !== ""
      ? { type, body: inline, source: "inline" }
      : { type, body: file ?? "", source: "file" };
  return builderError({ args, paths, selector: false, selectAll: false, allNamespaces: false });
}

function dryRunOf(flags: Flags): "none" | "client" | "server" | { error: string } {
  const v = flags.last("dry-run");
  if (v === null) return "none";
  const b = goParseBool(v);
  if (b !== null) return b ? "client" : "none";
  if (v === "unchanged" || v === "client") return "client";
  if (v === "server") return "server";
  if (v === "none") return "none";
  return { error: `Invalid dry-run value (${v}). Must be "none", "server", or "client".` };
}

function cascadeOf(flags: Flags): "background" | "foreground" | "orphan" | { error: string } {
  const v = flags.last("cascade");
  if (v === null) return "background";
  const b = goParseBool(v);
  if (b !== null) return b ? "background" : "orphan";
  if (v === "background" || v === "foreground" || v === "orphan") return v;
  return { error: `invalid cascade value (${v}). Must be "background", "foreground", or "orphan"` };
}
