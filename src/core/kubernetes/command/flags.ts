/**
 * pflag semantics: flag declarations and tables, Go's value syntax (bools, ints, durations, CSV
 * slices), the tokenizer that splits argv into flags and positionals, and parsed flag values.
 */
import { SECRET_NAME } from "../../redact.js";
// ───────────────────────────── flag tables (pflag semantics) ─────────────────────────────

export type ValueType = "bool" | "string" | "int" | "duration" | "slice" | "array" | "float" | "map";

export interface FlagSpec {
  readonly long: string;
  readonly short: string | null;
  readonly type: ValueType;
  /** pflag's NoOptDefVal: the value of the bare flag; "" means the flag needs a value */
  readonly noOpt: string;
  readonly def: string;
  readonly secret: boolean;
}

export interface FlagTable {
  readonly byLong: ReadonlyMap<string, FlagSpec>;
  readonly byShort: ReadonlyMap<string, FlagSpec>;
}

/**
 * Compact flag declarations: `s|long` bool, `s|long=` string, `long=int|duration|slice|array|float|map`,
 * `long=secret` (a string whose value is a secret), `long?x` optional value (bare = x), `:d` default.
 */
export const SPEC_SYNTAX =
  /^(?:([A-Za-z])\|)?([a-z0-9][a-z0-9-]*)(=(string|int|duration|slice|array|float|map|secret)?)?(?:\?([A-Za-z]+))?(?::([A-Za-z0-9-]+))?$/;

export function declare(text: string): FlagSpec | null {
  const m = SPEC_SYNTAX.exec(text);
  if (!m) return null;
  const [, short, long = "", eq, typ, noOpt, dflt] = m;
  let type: ValueType;
  if (eq === undefined && noOpt === undefined) type = "bool";
  else if (typ === "secret" || typ === undefined || typ === "string") type = "string";
  else type = typ as ValueType;
  return {
    long,
    short: short ?? null,
    type,
    noOpt: type === "bool" ? "true" : (noOpt ?? ""),
    def: dflt ?? (type === "bool" ? "false" : ""),
    secret: typ === "secret",
  };
}

export function table(...groups: readonly (readonly string[])[]): FlagTable {
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const group of groups) {
    for (const text of group) {
      const spec = declare(text);
      if (!spec) continue;
      const previous = byLong.get(spec.long);
      if (previous?.short && byShort.get(previous.short) === previous) byShort.delete(previous.short);
      byLong.set(spec.long, spec);
      if (spec.short) byShort.set(spec.short, spec);
    }
  }
  return { byLong, byShort };
}

// prettier-ignore

// ───────────────────────────── Go value syntax ─────────────────────────────

export const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
export const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

export function goParseBool(s: string): boolean | null {
  if (GO_TRUE.has(s)) return true;
  if (GO_FALSE.has(s)) return false;
  return null;
}

/** strconv's underscoreOK: underscores only between digits, and only with base 0. */
export function goUnderscoreOK(input: string): boolean {
  let s = input;
  let saw = "^";
  let i = 0;
  if (s.length >= 1 && (s[0] === "-" || s[0] === "+")) s = s.slice(1);
  let hex = false;
  const p = (s[1] ?? "").toLowerCase();
  if (s.length >= 2 && s[0] === "0" && (p === "b" || p === "o" || p === "x")) {
    i = 2;
    saw = "0";
    hex = p === "x";
  }
  for (; i < s.length; i++) {
    const c = s[i] ?? "";
    const lc = c.toLowerCase();
    if ((c >= "0" && c <= "9") || (hex && lc >= "a" && lc <= "f")) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** strconv.ParseInt(s, 0, 64), which pflag's int flags use: 0x1f, 0o17, 017, 0b1, 1_000. */
export function goParseInt(s: string): number | null {
  let t = s;
  let sign = 1n;
  if (t.startsWith("+") || t.startsWith("-")) {
    if (t[0] === "-") sign = -1n;
    t = t.slice(1);
  }
  if (t === "" || !goUnderscoreOK(s)) return null;
  let base = 10;
  let digits = t;
  if (/^0[xX]/.test(t)) [base, digits] = [16, t.slice(2)];
  else if (/^0[bB]/.test(t)) [base, digits] = [2, t.slice(2)];
  else if (/^0[oO]/.test(t)) [base, digits] = [8, t.slice(2)];
  else if (t.length > 1 && t[0] === "0") [base, digits] = [8, t.slice(1)];
  digits = digits.replace(/_/g, "");
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[
    base as 2 | 8 | 10 | 16
  ];
  if (!valid.test(digits)) return null;
  let value = 0n;
  for (const d of digits) value = value * BigInt(base) + BigInt(parseInt(d, 16));
  value *= sign;
  if (value > 9223372036854775807n || value < -9223372036854775808n) return null;
  return Number(value);
}

/** strconv.Atoi: decimal only, optional sign. */
export function goAtoi(s: string): number | null {
  if (!/^[+-]?[0-9]+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

export const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

/** Go's encoding/csv reading one record, as pflag's stringSlice does for `-f a.yaml,b.yaml`. */
export function readCsvRecord(s: string): string[] | string {
  if (s === "") return [];
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (s[i] === '"') {
      i++;
      for (;;) {
        if (i >= s.length) return `extraneous or missing " in quoted-field`;
        const c = s[i] ?? "";
        if (c === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += c;
        i++;
      }
      const after = s[i];
      if (after !== undefined && after !== "," && after !== "\n" && after !== "\r")
        return `extraneous or missing " in quoted-field`;
    } else {
      while (i < s.length && s[i] !== "," && s[i] !== "\n" && s[i] !== "\r") {
        if (s[i] === '"') return `bare " in non-quoted-field`;
        field += s[i];
        i++;
      }
    }
    out.push(field);
    if (i < s.length && s[i] === ",") {
      i++;
      continue;
    }
    return out; // end of string or end of the first record
  }
}

export function checkValue(spec: FlagSpec, value: string): string | null {
  const label = spec.short ? `-${spec.short}, --${spec.long}` : `--${spec.long}`;
  const bad = (why: string) => `invalid argument ${JSON.stringify(value)} for "${label}" flag: ${why}`;
  switch (spec.type) {
    case "bool":
      return goParseBool(value) === null
        ? bad(`strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`)
        : null;
    case "int":
      return goParseInt(value) === null
        ? bad(`strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`)
        : null;
    case "duration":
      if (GO_DURATION.test(value)) return null;
      return bad(
        /^[-+]?[\d.]+$/.test(value)
          ? `time: missing unit in duration ${JSON.stringify(value)}`
          : `time: invalid duration ${JSON.stringify(value)}`,
      );
    case "float":
      return /^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i.test(value)
        ? null
        : bad(`strconv.ParseFloat: parsing ${JSON.stringify(value)}: invalid syntax`);
    case "slice": {
      const r = readCsvRecord(value);
      return typeof r === "string" ? bad(`parse error on line 1: ${r}`) : null;
    }
    case "map": {
      const r = readCsvRecord(value);
      if (typeof r === "string") return bad(`parse error on line 1: ${r}`);
      const wrong = r.find((kv) => !kv.includes("="));
      return wrong === undefined ? null : bad(`${wrong} must be formatted as key=value`);
    }
    default:
      return null;
  }
}

// ───────────────────────────── tokenizer (pflag) ─────────────────────────────

export interface FlagTok {
  kind: "flag";
  spec: FlagSpec | null;
  /** long name, or for unknown flags the name as typed */
  name: string;
  value: string;
  index: number;
  /** the argv index holding the value when it is a separate argument */
  valueIndex: number | null;
  /** the value is the tail of argv[index] (`--x=v`, `-xv`, `-x=v`) */
  inline: boolean;
}
export interface PosTok {
  kind: "pos";
  value: string;
  index: number;
}
export type Tok = FlagTok | PosTok;

/** `--name` of `--name=value`: what a reason may quote of a flag argument. */
export function flagName(arg: string): string {
  const eq = arg.indexOf("=");
  return eq < 0 ? arg : arg.slice(0, eq);
}

export function lookupLong(t: FlagTable, name: string, underscores: boolean): FlagSpec | undefined {
  return t.byLong.get(underscores ? name.replace(/_/g, "-") : name);
}

/**
 * pflag's parseArgs over argv[indices]. Strict: unknown flags are errors, as in pflag. Lenient:
 * an unknown flag is a boolean, unless its name says it carries a secret (then it takes a value,
 * so the secret is masked rather than read as a resource name). keepGoing (for masking): bad flag
 * syntax is read as an argument and bad values are accepted, so that every later flag is still seen.
 */
export function tokenize(
  argv: readonly string[],
  indices: readonly number[],
  t: FlagTable,
  strict: boolean,
  underscores: boolean,
  keepGoing = false,
): { toks: Tok[]; error: string | null } {
  const toks: Tok[] = [];
  let p = 0;
  const fail = (error: string) => ({ toks, error });
  while (p < indices.length) {
    const index = indices[p] ?? 0;
    const s = argv[index] ?? "";
    p++;
    if (s.length < 2 || s[0] !== "-") {
      toks.push({ kind: "pos", value: s, index });
      continue;
    }
    if (s[1] === "-") {
      if (s.length === 2) {
        for (; p < indices.length; p++)
          toks.push({ kind: "pos", value: argv[indices[p] ?? 0] ?? "", index: indices[p] ?? 0 });
        break;
      }
      const body = s.slice(2);
      if (body[0] === "-" || body[0] === "=") {
        if (!keepGoing) return fail(`bad flag syntax: ${flagName(s)}`);
        toks.push({ kind: "pos", value: s, index });
        continue;
      }
      const eq = body.indexOf("=");
      const name = eq < 0 ? body : body.slice(0, eq);
      const spec = lookupLong(t, name, underscores);
      if (!spec) {
        if (strict) return fail(`unknown flag: --${name}`);
        if (eq >= 0)
          toks.push({
            kind: "flag",
            spec: null,
            name,
            value: body.slice(eq + 1),
            index,
            valueIndex: null,
            inline: true,
          });
        else if (SECRET_NAME.test(name) && p < indices.length) {
          const vi = indices[p] ?? 0;
          p++;
          toks.push({
            kind: "flag",
            spec: null,
            name,
            value: argv[vi] ?? "",
            index,
            valueIndex: vi,
            inline: false,
          });
        } else
          toks.push({
            kind: "flag",
            spec: null,
            name,
            value: "true",
            index,
            valueIndex: null,
            inline: false,
          });
        continue;
      }
      let value: string;
      let valueIndex: number | null = null;
      let inline = false;
      if (eq >= 0) {
        value = body.slice(eq + 1);
        inline = true;
      } else if (spec.noOpt !== "") value = spec.noOpt;
      else if (p < indices.length) {
        valueIndex = indices[p] ?? 0;
        value = argv[valueIndex] ?? "";
        p++;
      } else return fail(`flag needs an argument: ${s}`);
      const bad = checkValue(spec, value);
      if (bad && !keepGoing) return fail(bad);
      toks.push({ kind: "flag", spec, name: spec.long, value, index, valueIndex, inline });
      continue;
    }
    // shorthands: "-abc" is a series of shorthand flags; a flag that needs a value takes the rest
    let shorts = s.slice(1);
    let consumedNext = false;
    while (shorts.length > 0) {
      const c = shorts[0] ?? "";
      const spec = t.byShort.get(c);
      if (!spec) {
        if (strict) return fail(`unknown shorthand flag: '${c}' in -${shorts}`);
        if (shorts.length > 2 && shorts[1] === "=") {
          toks.push({
            kind: "flag",
            spec: null,
            name: c,
            value: shorts.slice(2),
            index,
            valueIndex: null,
            inline: true,
          });
          shorts = "";
        } else {
          toks.push({
            kind: "flag",
            spec: null,
            name: c,
            value: "true",
            index,
            valueIndex: null,
            inline: false,
          });
          shorts = shorts.slice(1);
        }
        continue;
      }
      let value: string;
      let valueIndex: number | null = null;
      let inline = false;
      let rest = shorts.slice(1);
      if (shorts.length > 2 && shorts[1] === "=") {
        value = shorts.slice(2);
        inline = true;
        rest = "";
      } else if (spec.noOpt !== "") value = spec.noOpt;
      else if (shorts.length > 1) {
        value = shorts.slice(1);
        inline = true;
        rest = "";
      } else if (p < indices.length) {
        // pflag hands every shorthand of the group the same "next argument"; only one can take it
        valueIndex = indices[p] ?? 0;
        value = argv[valueIndex] ?? "";
        consumedNext = true;
      } else return fail(`flag needs an argument: '${c}' in -${shorts}`);
      const bad = checkValue(spec, value);
      if (bad && !keepGoing) return fail(bad);
      toks.push({ kind: "flag", spec, name: spec.long, value, index, valueIndex, inline });
      shorts = rest;
    }
    if (consumedNext) p++;
  }
  return { toks, error: null };
}

// ───────────────────────────── flag values ─────────────────────────────

export class Flags {
  readonly record: Record<string, string[]> = {};
  private readonly specs = new Map<string, FlagSpec>();

  constructor(toks: readonly Tok[]) {
    for (const tok of toks) {
      if (tok.kind !== "flag") continue;
      (this.record[tok.name] ??= []).push(tok.value);
      if (tok.spec) this.specs.set(tok.name, tok.spec);
    }
  }

  has(name: string): boolean {
    return this.record[name] !== undefined;
  }

  last(name: string): string | null {
    const values = this.record[name];
    return values === undefined ? null : (values[values.length - 1] ?? null);
  }

  /** a non-empty string value, trimmed when kubectl trims it; "" → null */
  text(name: string): string | null {
    const v = this.last(name);
    return v === null || v === "" ? null : v;
  }

  bool(name: string): boolean {
    const v = this.last(name);
    if (v === null) return goParseBool(this.specs.get(name)?.def ?? "false") ?? false;
    return goParseBool(v) ?? false;
  }

  int(name: string): number | null {
    const v = this.last(name);
    return v === null ? null : goParseInt(v);
  }

  /** stringSlice values are CSV-split and accumulate; stringArray values accumulate as given */
  list(name: string): string[] {
    const values = this.record[name] ?? [];
    const type = this.specs.get(name)?.type;
    if (type !== "slice" && type !== "map") return [...values];
    return values.flatMap((v) => {
      const r = readCsvRecord(v);
      return typeof r === "string" ? [v] : r;
    });
  }

  spec(name: string): FlagSpec | undefined {
    return this.specs.get(name);
  }
}
