/**
 * Masking a command line: which argument positions hold secrets (secret flags, --set values of
 * secret-looking keys, patch bodies, KEY=VALUE, URL passwords), decided with the parser, masked by
 * the one engine of core/redact.ts.
 */
import { H_VALUES, resolve, toolOf } from "./commands.js";
import { table, tokenize, type FlagTable, type FlagTok, type PosTok } from "./flags.js";
import { SET_FLAGS, splitHelmSet } from "./helm-set.js";
import { parseUnmasked } from "./interpret.js";
import { isUnknown, type HelmSetFlag } from "./types.js";
import {
  MASK,
  Masker,
  SECRET_KEY,
  SECRET_NAME,
  maskDocument,
  maskJsonValue,
  maskKeyValue,
  maskUrls,
} from "../../redact.js";

// ───────────────────────────── redaction ─────────────────────────────

/**
 * One --set entry's value as shown: masked whole when its key looks secret; a --set-json value
 * that names a secret-looking key has those keys' values masked (the whole value when it cannot be
 * read); other values are shown, secret-named KEY=VALUE and URL passwords in them masked.
 */
export function maskSetEntry(
  flag: HelmSetFlag,
  key: string,
  typed: string,
  value: string,
  m: Masker,
): string {
  if (flag === "--set-file") return maskUrls(typed, m);
  if (typed === "") return "";
  if (SECRET_KEY.test(key.replace(/\\/g, ""))) return m.hide(typed, value);
  if (flag === "--set-json" && SECRET_KEY.test(value)) {
    try {
      return JSON.stringify(maskJsonValue(JSON.parse(value), m));
    } catch {
      return m.hide(typed, value);
    }
  }
  return maskUrls(maskKeyValue(typed, m), m);
}

/** A --set-kind flag's argument as shown: keys kept, values masked as maskSetEntry says. */
export function maskSetValue(flag: HelmSetFlag, text: string, m: Masker): string {
  const { pieces, error, errorAt } = splitHelmSet(text, flag);
  let out = text;
  if (error) {
    // the entry helm could not read: its key is shown (the reason quotes it), the rest masked
    const rest = text.slice(errorAt);
    const eq = rest.indexOf("=");
    if (flag === "--set-file" || eq < 0) out = text.slice(0, errorAt) + maskUrls(rest, m);
    else out = `${text.slice(0, errorAt)}${rest.slice(0, eq + 1)}${m.hide(rest.slice(eq + 1))}`;
  }
  for (const p of [...pieces].reverse()) {
    const typed = out.slice(p.start, p.end);
    out = out.slice(0, p.start) + maskSetEntry(flag, p.key, typed, p.value, m) + out.slice(p.end);
  }
  return out;
}

/** Their values are label or field selectors, shown as typed: label values are not secrets. */
export const SELECTOR_FLAGS = new Set(["selector", "field-selector", "pod-selector"]);

export const SET_ARG = /^(--set(?:-string|-json|-literal|-file)?)(?:(=)(.*))?$/s;

/**
 * Not a command lifeline could resolve: mask what looks like a secret flag's value, helm --set
 * values, KEY=VALUE secrets, URL passwords.
 */
export function redactUnresolved(argv: readonly string[], mask: Masker): string[] {
  const out = argv.map((a, i) => (i === 0 ? a : maskUrls(maskKeyValue(a, mask), mask)));
  const helm = toolOf(argv[0] ?? "")?.tool === "helm";
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] ?? "";
    const set = helm ? SET_ARG.exec(a) : null;
    if (set) {
      const flag = set[1] as HelmSetFlag;
      if (set[2] === "=") out[i] = `${flag}=${maskSetValue(flag, set[3] ?? "", mask)}`;
      else if (i + 1 < argv.length) {
        i++;
        out[i] = maskSetValue(flag, argv[i] ?? "", mask);
      }
      continue;
    }
    const m = /^(--?[A-Za-z0-9_-]+)(=?)(.*)$/s.exec(a);
    if (!m || !SECRET_NAME.test(m[1] ?? "")) continue;
    if (m[2] === "=") out[i] = `${m[1]}=${mask.hide(m[3] ?? "")}`;
    else if (i + 1 < argv.length) {
      i++;
      out[i] = mask.hide(argv[i] ?? "");
    }
  }
  return out;
}

export const T_H_SETS = table(H_VALUES.filter((d) => d.startsWith("set")));

export function withSetFlags(t: FlagTable): FlagTable {
  const byLong = new Map(t.byLong);
  for (const [name, spec] of T_H_SETS.byLong) if (!byLong.has(name)) byLong.set(name, spec);
  return { byLong, byShort: t.byShort };
}

/** redactArgv, and every string it replaced by MASK. */
export function redaction(
  input: readonly string[],
  mask: Masker = new Masker(),
): { masked: string[]; hidden: string[] } {
  const hidden = mask.hidden;
  const out = input.map((a) => (typeof a === "string" ? a : String(a)));
  try {
    const r = resolve(out);
    if ("reason" in r) return { masked: redactUnresolved(out, mask), hidden };
    // keep going past bad flags and bad values, so that nothing after them escapes masking; a
    // --set where helm would reject it still has a value to mask
    const t = r.tool === "helm" ? withSetFlags(r.table) : r.table;
    const toks = tokenize(out, r.remaining, t, false, r.tool === "kubectl", true).toks;
    // Whether a patch's body is a Secret's: the command is read for it only when it has a patch
    // (redaction runs several times for every command lifeline plans or shows).
    let secretPatch: boolean | undefined;
    const patchesSecret = (): boolean => {
      if (secretPatch !== undefined) return secretPatch;
      const parsed = parseUnmasked(out);
      return (secretPatch =
        !isUnknown(parsed) && parsed.tool === "kubectl"
          ? parsed.targets.some((t) => t.resource === "secrets" || /secret/i.test(t.typed))
          : /secret/i.test(out.join(" ")));
    };
    const createsSecret = r.verb.startsWith("create secret");
    const masked = new Map<number, string>();
    const setValue = (tok: FlagTok, value: string) => {
      if (tok.valueIndex !== null) masked.set(tok.valueIndex, value);
      else if (tok.inline) {
        const arg = masked.get(tok.index) ?? out[tok.index] ?? "";
        masked.set(tok.index, arg.slice(0, arg.length - tok.value.length) + value);
      }
    };
    const secretValue = (tok: FlagTok) => setValue(tok, mask.hide(tok.value));
    for (const tok of toks) {
      if (tok.kind !== "flag") continue;
      const secretFlag = tok.spec ? tok.spec.secret : SECRET_NAME.test(tok.name);
      if (secretFlag) secretValue(tok);
      else if (r.tool === "helm" && SET_FLAGS.includes(`--${tok.name}` as HelmSetFlag))
        setValue(tok, maskSetValue(`--${tok.name}` as HelmSetFlag, tok.value, mask));
      else if (r.tool === "kubectl" && tok.name === "patch") {
        if (patchesSecret()) secretValue(tok);
        else setValue(tok, maskUrls(maskDocument(tok.value, mask), mask));
      } else if (tok.name === "from-literal" && createsSecret) {
        const eq = tok.value.indexOf("=");
        const value = mask.hide(tok.value.slice(eq + 1));
        setValue(tok, eq < 0 ? value : `${tok.value.slice(0, eq + 1)}${value}`);
      } else if (SELECTOR_FLAGS.has(tok.name)) setValue(tok, maskUrls(tok.value, mask));
      else if (tok.valueIndex !== null || tok.inline)
        setValue(tok, maskUrls(maskKeyValue(tok.value, mask), mask));
    }
    const positions = toks.filter((t): t is PosTok => t.kind === "pos");
    for (const [i, tok] of positions.entries()) {
      if (masked.has(tok.index)) continue;
      masked.set(tok.index, maskUrls(maskKeyValue(tok.value, mask), mask));
      // `kubectl exec pod -- mysql --password VALUE`: a program's own secret flag after "--"
      const next = positions[i + 1];
      const flagLike = /^--?[A-Za-z0-9_-]+$/.test(tok.value) && SECRET_NAME.test(tok.value);
      if (flagLike && next && !masked.has(next.index)) masked.set(next.index, mask.hide(next.value));
      // kubectl config set users.x.token VALUE
      if (r.verb === "config set" && i === 0 && SECRET_KEY.test(tok.value)) {
        const next = positions[1];
        if (next) masked.set(next.index, mask.hide(next.value));
      }
    }
    return {
      masked: out.map((a, i) => masked.get(i) ?? (i === 0 ? a : maskUrls(a, mask))),
      hidden,
    };
  } catch {
    return { masked: out.map((a) => mask.hide(a)), hidden };
  }
}

/**
 * The command with every secret replaced by MASK (core/redact.ts): values of --token/--password/--kube-token and
 * other secret flags, helm --set-kind values of secret-looking keys (in a --set-json value, those
 * keys' values), secret-named KEY=VALUE values (up to the next blank or quote), passwords in URLs,
 * and the body of a patch of a Secret. Same length as argv.
 */
export function redactArgv(argv: readonly string[]): string[] {
  return redaction(argv).masked;
}

/** Masked strings shorter than this are not looked for in reasons (they would garble the text). */
export const MIN_MASKED_IN_REASON = 4;

/** A reason with everything redactArgv masks in `argv` masked too, as typed or as JSON-quoted. */
export function maskReason(reason: string, argv: readonly string[]): string {
  const needles = new Set<string>();
  for (const h of redaction(argv).hidden) {
    needles.add(h);
    needles.add(JSON.stringify(h).slice(1, -1));
  }
  let out = reason;
  for (const h of [...needles].sort((a, b) => b.length - a.length)) {
    if (h.length >= MIN_MASKED_IN_REASON) out = out.split(h).join(MASK);
  }
  return out;
}
