/**
 * The common lifeline.yaml read without the yaml library: nested block mappings whose keys are
 * plain words and whose values are plain strings (`url: postgres://…`, `rpo: 24h`), comments and
 * blank lines. The yaml library reads a 1,000-asset file in about 250 ms of a cold process (its
 * code is not compiled yet); this reads it in a few.
 *
 * Anything else (a list, a quoted or multi-line value, a number, true/false/null, an anchor, a
 * duplicate key, a tab, an odd indentation…) returns undefined: the caller parses the text with the
 * yaml library, which gives what it gives today, errors with their line included. What this returns
 * is what the yaml library's toJS() returns for the same text (test/unit/config-plain-yaml.test.ts).
 */

/** A key: a plain word that YAML's core schema reads as a string. */
const LINE = /^( *)([A-Za-z_][A-Za-z0-9_.-]*):(?: +(.*))?$/;
/** Plain scalars the core schema reads as null, a boolean or a number, not a string. */
const NOT_A_STRING =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
/** Characters a plain scalar cannot start with (YAML's indicators). */
const INDICATOR = /^[-?:,[\]{}#&*!|>'"%@`]/;
/** Control characters, and what some YAML readers take for line breaks or a byte order mark. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const ODD_CHARACTERS = /[\x00-\x09\x0b-\x1f\x7f\u0085\u2028\u2029\ufeff]/;
const MAX_DEPTH = 64;

type Mapping = Record<string, unknown>;

export function plainYaml(text: string): Mapping | undefined {
  if (ODD_CHARACTERS.test(text)) return undefined;
  const root: Mapping = {};
  const stack: { indent: number; map: Mapping }[] = [{ indent: 0, map: root }];
  /** A key without a value on its line: the lines after it must hold its mapping. */
  let open: { indent: number; map: Mapping; key: string } | null = null;
  let any = false;
  for (const line of text.split("\n")) {
    const trimmed = line.trimStart();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) return undefined;
    const indent = (m[1] ?? "").length;
    const key = m[2] ?? "";
    if (NOT_A_STRING.test(key) || key === "__proto__") return undefined;
    let into: Mapping;
    if (open) {
      if (indent <= open.indent || stack.length >= MAX_DEPTH) return undefined;
      into = {};
      open.map[open.key] = into;
      stack.push({ indent, map: into });
      open = null;
    } else {
      while (stack.length > 1 && (stack.at(-1)?.indent ?? 0) > indent) stack.pop();
      const top = stack.at(-1);
      if (!top || top.indent !== indent) return undefined;
      into = top.map;
    }
    if (Object.hasOwn(into, key)) return undefined;
    any = true;
    let value = m[3] ?? "";
    const comment = value.startsWith("#") ? 0 : value.indexOf(" #");
    if (comment >= 0) value = value.slice(0, comment);
    value = value.trimEnd();
    if (value === "") {
      into[key] = null;
      open = { indent, map: into, key };
      continue;
    }
    if (INDICATOR.test(value) || /:( |$)/.test(value) || NOT_A_STRING.test(value)) return undefined;
    into[key] = value;
  }
  return open || !any ? undefined : root;
}
