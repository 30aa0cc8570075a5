/**
 * helm: a resolved command and its flags interpreted as a HelmCommand, or an UnknownCommand with
 * the reason helm itself would refuse it.
 */
import { unknown, type Resolved } from "./commands.js";
import { Flags, goAtoi, goParseBool, type PosTok, type Tok } from "./flags.js";
import { SET_FLAGS, isSecretSet, splitHelmSet } from "./helm-set.js";
import { type HelmCommand, type HelmSetEntry, type HelmSetFlag, type UnknownCommand } from "./types.js";

// ───────────────────────────── helm ─────────────────────────────

export const HELM_RELEASE_NAME = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

export function validReleaseName(name: string): boolean {
  return name.length > 0 && name.length <= 53 && HELM_RELEASE_NAME.test(name);
}

export function interpretHelm(
  argv: readonly string[],
  r: Resolved,
  toks: readonly Tok[],
): HelmCommand | UnknownCommand {
  const flags = new Flags(toks);
  const fail = (reason: string) => unknown("helm", r.path[0]?.name ?? null, argv, reason);
  const positionals = toks.filter((t): t is PosTok => t.kind === "pos").map((t) => t.value);
  const help = flags.bool("help");

  const set: HelmSetEntry[] = [];
  for (const tok of toks) {
    if (tok.kind !== "flag") continue;
    const flag = `--${tok.name}` as HelmSetFlag;
    if (!SET_FLAGS.includes(flag)) continue;
    const { pieces, error } = splitHelmSet(tok.value, flag);
    if (error) return fail(`failed parsing ${flag} data: ${error}`);
    for (const p of pieces) {
      const entry: HelmSetEntry = {
        key: p.key,
        value: p.value,
        flag,
        secret: isSecretSet(flag, p.key, p.value),
      };
      if (p.list) entry.list = true;
      set.push(entry);
    }
  }

  // dry-run: a boolean for uninstall and rollback, client|server|none|true|false for install/upgrade
  let dryRunMode: HelmCommand["dryRunMode"] = "none";
  const dry = flags.last("dry-run");
  if (dry !== null) {
    const b = goParseBool(dry);
    if (b !== null) dryRunMode = b ? "client" : "none";
    else if (dry === "client" || dry === "server" || dry === "none") dryRunMode = dry;
    else
      return fail("Invalid dry-run flag. Flag must one of the following: false, true, none, client, server");
  }
  const waitText = flags.last("wait");
  const wait = waitText !== null && goParseBool(waitText) !== false;
  if (
    waitText !== null &&
    goParseBool(waitText) === null &&
    !["watcher", "legacy", "hookOnly"].includes(waitText)
  )
    return fail(
      `invalid argument ${JSON.stringify(waitText)} for "--wait" flag: strconv.ParseBool: parsing ${JSON.stringify(waitText)}: invalid syntax`,
    );
  const cascadeText = flags.last("cascade") ?? "background";
  // helm falls back to background for any other value (it logs, it does not fail)
  const cascade = cascadeText === "orphan" || cascadeText === "foreground" ? cascadeText : "background";

  const cmd: HelmCommand = {
    tool: "helm",
    verb: r.path[0]?.name ?? "",
    subcommands: r.path.slice(1).map((c) => c.name),
    releases: [],
    chart: null,
    revision: null,
    namespace: flags.text("namespace"),
    kubeContext: flags.text("kube-context"),
    kubeconfig: flags.text("kubeconfig"),
    connection: {
      server: flags.text("kube-apiserver"),
      cluster: null,
      user: flags.text("kube-as-user"),
      tokenGiven: flags.text("kube-token") !== null,
    },
    keepHistory: flags.bool("keep-history"),
    dryRun: dryRunMode !== "none",
    dryRunMode,
    install: flags.bool("install"),
    values: flags.list("values"),
    set,
    reuseValues: flags.bool("reuse-values"),
    resetValues: flags.bool("reset-values"),
    resetThenReuseValues: flags.bool("reset-then-reuse-values"),
    version: flags.text("version"),
    noHooks: flags.bool("no-hooks"),
    wait,
    atomic: flags.bool("atomic") || flags.bool("rollback-on-failure"),
    force: flags.bool("force") || flags.bool("force-replace"),
    cascade,
    help,
    args: positionals,
    flags: flags.record,
    argv: [...argv],
  };
  const quoted = `"${r.base.replace(/\.exe$/i, "")} ${r.verb}"`;
  switch (r.verb) {
    case "uninstall": {
      cmd.releases = positionals;
      if (help) return cmd;
      if (positionals.length === 0) return fail(`${quoted} requires at least 1 argument`);
      const bad = positionals.find((n) => !validReleaseName(n));
      if (bad !== undefined) return fail(`uninstall: Release name is invalid: ${bad}`);
      return cmd;
    }
    case "upgrade": {
      cmd.releases = positionals.slice(0, 1);
      cmd.chart = positionals[1] ?? null;
      if (help) return cmd;
      if (positionals.length !== 2) return fail(`${quoted} requires 2 arguments`);
      if (!validReleaseName(positionals[0] ?? ""))
        return fail(`release name is invalid: ${positionals[0] ?? ""}`);
      return cmd;
    }
    case "install": {
      const generate = flags.bool("generate-name") || flags.text("name-template") !== null;
      if (help) return cmd;
      if (positionals.length === 0) return fail(`${quoted} requires at least 1 argument`);
      if (positionals.length > 2)
        return fail(
          `expected at most two arguments, unexpected arguments: ${positionals.slice(2).join(", ")}`,
        );
      if (positionals.length === 2) {
        if (generate) return fail("cannot set --generate-name and also specify a name");
        cmd.releases = [positionals[0] ?? ""];
        cmd.chart = positionals[1] ?? null;
        if (!validReleaseName(positionals[0] ?? ""))
          return fail(`release name is invalid: ${positionals[0] ?? ""}`);
        return cmd;
      }
      if (!generate) return fail("must either provide a name or specify --generate-name");
      cmd.chart = positionals[0] ?? null;
      return cmd;
    }
    case "rollback": {
      cmd.releases = positionals.slice(0, 1);
      if (help) return cmd;
      if (positionals.length === 0) return fail(`${quoted} requires at least 1 argument`);
      if (positionals.length > 1) {
        const rev = goAtoi(positionals[1] ?? "");
        if (rev === null)
          return fail(
            `could not convert revision to a number: strconv.Atoi: parsing ${JSON.stringify(positionals[1])}: invalid syntax`,
          );
        cmd.revision = rev;
      }
      if (!validReleaseName(positionals[0] ?? ""))
        return fail(`rollback: Release name is invalid: ${positionals[0] ?? ""}`);
      return cmd;
    }
    default:
      if (
        [
          "status",
          "history",
          "test",
          "get all",
          "get hooks",
          "get manifest",
          "get metadata",
          "get notes",
          "get values",
        ].includes(r.verb)
      )
        cmd.releases = positionals.slice(0, 1);
      return cmd;
  }
}
