/** Helpers of the kubernetes/command unit tests: a POSIX-like splitter, parse-and-expect shortcuts. */
import assert from "node:assert/strict";
import {
  isUnknown,
  parseCommand,
  type HelmCommand,
  type KubectlCommand,
  type ParsedCommand,
  type ResourceTarget,
} from "../../src/core/kubernetes/command/index.js";

/** A stand-in for the caller's keyed digest: 32-bit FNV-1a, hex (it never contains the value). */
export function fnv(value: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(value)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `fnv${h.toString(16).padStart(8, "0")}`;
}

/** Splits a command line as a POSIX shell would for these tests: quotes and backslashes. */
export function sh(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && /["\\$`]/.test(line[i + 1] ?? "")) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\") {
      cur += line[++i] ?? "";
      inWord = true;
    } else if (c === " ") {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

export const t = (
  resource: ResourceTarget["resource"],
  typed: string,
  name: string | null,
): ResourceTarget => ({
  resource,
  typed,
  name,
});

export function kubectl(line: string): KubectlCommand {
  const c = parseCommand(sh(line));
  assert.ok(!isUnknown(c), `${line}: ${isUnknown(c) ? c.reason : ""}`);
  assert.equal(c.tool, "kubectl");
  return c as KubectlCommand;
}

export function helm(line: string): HelmCommand {
  const c = parseCommand(sh(line));
  assert.ok(!isUnknown(c), `${line}: ${isUnknown(c) ? c.reason : ""}`);
  assert.equal(c.tool, "helm");
  return c as HelmCommand;
}

export function rejected(line: string | string[], reason: RegExp): void {
  const argv = typeof line === "string" ? sh(line) : line;
  const c = parseCommand(argv);
  assert.ok(isUnknown(c), `${argv.join(" ")} should be unknown`);
  assert.match(c.reason, reason);
}

/** Checks only the fields given, so each row states what it is about. */
export function expectFields(c: ParsedCommand, expected: Record<string, unknown>): void {
  const actual = Object.fromEntries(
    Object.keys(expected).map((k) => [k, (c as unknown as Record<string, unknown>)[k]]),
  );
  assert.deepEqual(actual, expected);
}
