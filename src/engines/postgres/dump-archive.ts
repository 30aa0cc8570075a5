import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { SequenceValue } from "../../core/restore-point/restore-point.js";
import { run } from "../../support/process.js";
import { qualifiedName } from "./connection.js";

/**
 * Splits a qualified name as PostgreSQL prints it ("Sales"."Order Seq", public.invoice_seq) into
 * its parts, undoing the quoting. Unquoted parts are taken as printed (pg_dump prints them folded).
 */
export function splitQualifiedName(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let part = "";
      i++;
      while (i < text.length) {
        if (text[i] === '"' && text[i + 1] === '"') {
          part += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else {
          part += text[i++];
        }
      }
      parts.push(part);
    } else {
      const end = text.indexOf(".", i);
      parts.push(text.slice(i, end === -1 ? text.length : end));
      i = end === -1 ? text.length : end;
    }
    if (text[i] === ".") i++;
  }
  return parts;
}

const SETVAL = /pg_catalog\.setval\('((?:[^']|'')*)',\s*(-?\d+),\s*(true|false)\)/g;

export function parseSetvals(sql: string): SequenceValue[] {
  const values: SequenceValue[] = [];
  for (const match of sql.matchAll(SETVAL)) {
    const literal = (match[1] ?? "").replace(/''/g, "'");
    const parts = splitQualifiedName(literal);
    const [schema, name] = parts.length >= 2 ? [parts[0] ?? "", parts[1] ?? ""] : ["public", parts[0] ?? ""];
    values.push({
      sequence: qualifiedName(schema, name),
      lastValue: match[2] ?? "",
      isCalled: match[3] === "true",
    });
  }
  return values.sort((a, b) => (a.sequence < b.sequence ? -1 : 1));
}

/**
 * Reads the archive back with pg_restore: proves it is readable (its table of contents lists) and
 * extracts the sequence values pg_dump recorded. Sequences are not transactional, so the values are
 * taken from the archive itself rather than from the snapshot: the drill then checks that the
 * restore set exactly these.
 */
export async function readArchive(
  pgRestore: string,
  archive: string,
  signal: AbortSignal,
): Promise<{ entries: number; sequences: SequenceValue[] }> {
  const { stdout: toc } = await run(pgRestore, ["--list", archive], {
    captureStdout: true,
    signal,
    errorCode: "ARCHIVE_UNREADABLE",
    purpose: "reading the new archive back (pg_restore --list)",
  });
  const lines = toc.split("\n").filter((line) => /^\d+;/.test(line));
  const sequenceLines = lines.filter((line) => / SEQUENCE SET /.test(line));
  if (sequenceLines.length === 0) return { entries: lines.length, sequences: [] };
  // The list file lives only as long as this one pg_restore call.
  const dir = await mkdtemp(path.join(os.tmpdir(), "lifeline-backup-"));
  try {
    const listFile = path.join(dir, "sequences.list");
    await writeFile(listFile, sequenceLines.join("\n") + "\n");
    const { stdout: sql } = await run(pgRestore, ["--use-list", listFile, "--file", "-", archive], {
      captureStdout: true,
      signal,
      errorCode: "ARCHIVE_UNREADABLE",
      purpose: "reading sequence values from the archive",
    });
    return { entries: lines.length, sequences: parseSetvals(sql) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
