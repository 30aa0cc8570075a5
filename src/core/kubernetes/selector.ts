/**
 * Kubernetes label selectors, as `kubectl -l` and the API accept them:
 * `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, joined with commas.
 */

export type Requirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists" };

export class SelectorError extends Error {}

/** Splits at commas that are not inside parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key)) throw new SelectorError(`"${key}" in selector "${selector}" is not a label key`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!VALUE.test(value))
    throw new SelectorError(`"${value}" in selector "${selector}" is not a label value`);
  return value;
}

/** Parses a selector; throws SelectorError naming the part that is wrong. */
export function parseSelector(selector: string): Requirement[] {
  return splitTop(selector).map((part): Requirement => {
    const set = /^([^\s!=()]+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (set) {
      const values = (set[3] ?? "")
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v.length > 0)
        .map((v) => checkValue(v, selector));
      return { key: checkKey(set[1] ?? "", selector), op: set[2] === "in" ? "in" : "notin", values };
    }
    const eq = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s]*)$/.exec(part);
    if (eq) {
      return {
        key: checkKey(eq[1] ?? "", selector),
        op: eq[2] === "!=" ? "!=" : "=",
        value: checkValue(eq[3] ?? "", selector),
      };
    }
    const not = /^!\s*([^\s]+)$/.exec(part);
    if (not) return { key: checkKey(not[1] ?? "", selector), op: "!exists" };
    return { key: checkKey(part, selector), op: "exists" };
  });
}

export function matchesRequirements(
  requirements: readonly Requirement[],
  labels: Record<string, string>,
): boolean {
  return requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    switch (r.op) {
      case "=":
        return value === r.value;
      case "!=":
        return value !== r.value;
      case "in":
        return value !== undefined && r.values.includes(value);
      case "notin":
        return value === undefined || !r.values.includes(value);
      case "exists":
        return has;
      case "!exists":
        return !has;
    }
  });
}

export function matchesSelector(selector: string, labels: Record<string, string>): boolean {
  return matchesRequirements(parseSelector(selector), labels);
}

/** A matchLabels map as a selector string ("a=b,c=d"); null for an empty map. */
export function selectorOf(matchLabels: Record<string, string> | null | undefined): string | null {
  if (!matchLabels) return null;
  const parts = Object.entries(matchLabels).map(([k, v]) => `${k}=${v}`);
  return parts.length > 0 ? parts.sort().join(",") : null;
}

/** A service's selector matches a pod when every selector label is on the pod. */
export function subsetOf(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}
