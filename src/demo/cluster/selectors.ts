/** Label selectors (equality, set-based, exists) and field selectors, as the API server applies them. */
import { badRequest } from "./errors.js";
import { isObj, type K8sObject, type ResourceType } from "./model.js";

export type LabelOperator = "=" | "!=" | "in" | "notin" | "exists" | "!" | "gt" | "lt";

export interface LabelRequirement {
  key: string;
  operator: LabelOperator;
  values: string[];
}

const KEY = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?`;
const VALUE = String.raw`(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const NOT_EXISTS = new RegExp(`^!\\s*(${KEY})$`);
const EXISTS = new RegExp(`^(${KEY})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\((.*)\\)$`);
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const COMPARE = new RegExp(`^(${KEY})\\s*(>|<)\\s*(-?\\d+)$`);
const VALUE_ONLY = new RegExp(`^${VALUE}$`);

/** Split at commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
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
  return parts;
}

/**
 * Parses a label selector in the syntax of `kubectl -l` / `labelSelector=`: `a=b`, `a==b`, `a!=b`,
 * `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-joined (all must hold).
 * Throws an Error with the offending requirement.
 */
export function parseLabelSelector(selector: string): LabelRequirement[] {
  if (selector.trim() === "") return [];
  return splitTopLevel(selector).map((raw) => {
    const part = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = NOT_EXISTS.exec(part))) return { key: m[1]!, operator: "!", values: [] };
    if ((m = EXISTS.exec(part))) return { key: m[1]!, operator: "exists", values: [] };
    if ((m = SET.exec(part))) {
      const values = m[3]!.split(",").map((v) => v.trim());
      if (
        values.length === 0 ||
        values.some((v) => !VALUE_ONLY.test(v)) ||
        (values.length === 1 && values[0] === "")
      ) {
        throw new Error(
          `unable to parse requirement: values for "${m[1]}" ${m[2]} must be non-empty valid label values: ${part}`,
        );
      }
      return { key: m[1]!, operator: m[2] as "in" | "notin", values };
    }
    if ((m = EQUALITY.exec(part)))
      return { key: m[1]!, operator: m[2] === "!=" ? "!=" : "=", values: [m[3]!] };
    if ((m = COMPARE.exec(part)))
      return { key: m[1]!, operator: m[2] === ">" ? "gt" : "lt", values: [m[3]!] };
    throw new Error(
      `unable to parse requirement: invalid label selector requirement ${JSON.stringify(part)}`,
    );
  });
}

export function matchesLabelRequirements(
  labels: Record<string, string> | undefined,
  requirements: readonly LabelRequirement[],
): boolean {
  const l = labels ?? {};
  return requirements.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const value = l[r.key];
    switch (r.operator) {
      case "=":
        return has && value === r.values[0];
      case "!=":
        return !has || value !== r.values[0];
      case "in":
        return has && r.values.includes(value!);
      case "notin":
        return !has || !r.values.includes(value!);
      case "exists":
        return has;
      case "!":
        return !has;
      case "gt":
      case "lt": {
        if (!has || !/^-?\d+$/.test(value!)) return false;
        const n = Number(value);
        const bound = Number(r.values[0]);
        return r.operator === "gt" ? n > bound : n < bound;
      }
    }
  });
}

/** True when the labels satisfy the selector string. */
export function matchesLabelSelector(labels: Record<string, string> | undefined, selector: string): boolean {
  return matchesLabelRequirements(labels, parseLabelSelector(selector));
}

/** A `matchLabels` map as a selector string, as `status.selector` of a Scale shows it. */
export function selectorString(matchLabels: Record<string, string> | undefined): string {
  return Object.entries(matchLabels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

const FIELD_SELECTORS: Record<string, string[]> = {
  Pod: [
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
  ],
  Secret: ["type"],
  Namespace: ["status.phase"],
  Node: ["spec.unschedulable"],
  Job: ["status.successful"],
  ReplicaSet: ["status.replicas"],
};

function fieldValue(obj: K8sObject, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    cur = isObj(cur) ? cur[part] : undefined;
  }
  if (cur === undefined || cur === null)
    return path === "spec.unschedulable" || path === "spec.hostNetwork" ? "false" : "";
  return String(cur);
}

export function fieldFilter(type: ResourceType, selector: string): (obj: K8sObject) => boolean {
  if (selector.trim() === "") return () => true;
  const allowed = new Set(["metadata.name", "metadata.namespace", ...(FIELD_SELECTORS[type.kind] ?? [])]);
  const reqs = selector.split(",").map((raw) => {
    const m = /^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${raw}'`);
    if (!allowed.has(m[1]!) && !type.custom) throw badRequest(`field label not supported: ${m[1]}`);
    return { field: m[1]!, negate: m[2] === "!=", value: m[3]! };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.field) === r.value) !== r.negate);
}
