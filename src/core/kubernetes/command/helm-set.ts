/**
 * helm's strvals: how --set, --set-string, --set-json, --set-literal and --set-file split into
 * entries (keys, values, where each entry sits in the text), as helm reads them.
 */
import { SECRET_KEY } from "../../redact.js";
import { type HelmSetFlag } from "./types.js";

export interface SetPiece {
  key: string;
  value: string;
  list: boolean;
  /** span of the value text in the flag's argument (for masking) */
  start: number;
  end: number;
}

export interface SetSplit {
  pieces: SetPiece[];
  /** the reason helm gives; it quotes keys, never values */
  error: string | null;
  /** where the entry that could not be read starts (its key) */
  errorAt: number;
}

/** helm's strvals parser, reduced to splitting: key=value pairs, `\` escapes, `{a,b}` lists. */
export function splitHelmSet(text: string, flag: HelmSetFlag): SetSplit {
  const pieces: SetPiece[] = [];
  const n = text.length;
  let i = 0;
  let keyStart = 0;
  const failed = (error: string): SetSplit => ({ pieces, error, errorAt: keyStart });
  while (i < n) {
    // key: up to an unescaped "=" (a literal key has no escapes)
    keyStart = i;
    let keyPlain = "";
    let sawEq = false;
    while (i < n) {
      const c = text[i] ?? "";
      if (c === "\\" && flag !== "--set-literal") {
        keyPlain += text[i + 1] ?? "";
        i += 2;
        continue;
      }
      if (c === "=") {
        sawEq = true;
        break;
      }
      if (c === "," && flag !== "--set-literal")
        return failed(`key ${JSON.stringify(keyPlain)} has no value (cannot end with ,)`);
      keyPlain += c;
      i++;
    }
    if (!sawEq) return failed(`key ${JSON.stringify(keyPlain)} has no value`);
    const key = text.slice(keyStart, i);
    i++; // "="
    const start = i;
    if (flag === "--set-literal") {
      pieces.push({ key, value: text.slice(start), list: false, start, end: n });
      return { pieces, error: null, errorAt: n };
    }
    if (flag === "--set-json") {
      while (i < n && /\s/.test(text[i] ?? "")) i++;
      if (i >= n || text[i] === ",") {
        pieces.push({ key, value: "", list: false, start, end: i });
        if (i < n) i++;
        continue;
      }
      const end = jsonValueEnd(text, i);
      const json = text.slice(i, end);
      try {
        JSON.parse(json);
      } catch {
        return failed(`invalid JSON for key ${JSON.stringify(keyPlain)}`);
      }
      pieces.push({ key, value: json, list: false, start: i, end });
      i = end;
      while (i < n && /\s/.test(text[i] ?? "")) i++;
      if (text[i] === ",") i++;
      continue;
    }
    if (text[i] === "{") {
      i++;
      let closed = false;
      while (i < n) {
        const c = text[i];
        if (c === "\\") {
          i += 2;
          continue;
        }
        i++;
        if (c === "}") {
          closed = true;
          break;
        }
      }
      if (!closed) return failed("list must terminate with '}'");
      pieces.push({ key, value: text.slice(start, i), list: true, start, end: i });
      if (text[i] === ",") i++;
      continue;
    }
    let value = "";
    while (i < n && text[i] !== ",") {
      if (text[i] === "\\") {
        value += text[i + 1] ?? "";
        i += 2;
        continue;
      }
      value += text[i];
      i++;
    }
    pieces.push({ key, value, list: false, start, end: Math.min(i, n) });
    if (i < n) i++; // ","
  }
  return { pieces, error: null, errorAt: n };
}

/** End of one JSON value starting at `i` (the decoder reads exactly one value). */
export function jsonValueEnd(text: string, start: number): number {
  let i = start;
  let depth = 0;
  const n = text.length;
  const first = text[i];
  if (first !== "{" && first !== "[" && first !== '"') {
    while (i < n && !/[\s,\]}]/.test(text[i] ?? "")) i++;
    return i;
  }
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      i++;
      while (i < n && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      i++;
      if (depth === 0) return Math.min(i, n);
      continue;
    }
    if (c === "{" || c === "[") depth++;
    if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return n;
}

export const SET_FLAGS: readonly HelmSetFlag[] = [
  "--set",
  "--set-string",
  "--set-file",
  "--set-json",
  "--set-literal",
];

/** helm merges --set-json, --set, --set-string, --set-file, --set-literal in this order. */
export const SET_MERGE_ORDER: readonly HelmSetFlag[] = [
  "--set-json",
  "--set",
  "--set-string",
  "--set-file",
  "--set-literal",
];

export function isSecretSet(flag: HelmSetFlag, key: string, value: string): boolean {
  if (flag === "--set-file") return false; // a path, not the secret
  if (SECRET_KEY.test(key.replace(/\\/g, ""))) return true;
  return flag === "--set-json" && SECRET_KEY.test(value);
}
