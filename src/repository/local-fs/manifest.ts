/**
 * Reading and validating manifests: a manifest that does not parse, does not match its digest or
 * describes another restore point makes its restore point damaged.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type * as z from "zod";
import { restorePointDamaged } from "../../core/errors.js";
import {
  RESTORE_POINT_ID,
  UNDIGESTED_MANIFEST_FIELDS,
  canonicalJson,
  type Manifest,
} from "../../core/restore-point/restore-point.js";
import { describeZodError, manifestSchema } from "../../core/restore-point/schemas.js";
import { MANIFEST, RESTORE_POINTS, assets, entries } from "./layout.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** "sha256:<hex>" of the canonical JSON of a manifest (as parsed from its file) without its digest field. */
export function manifestDigest(raw: Record<string, unknown>): string {
  const body: Record<string, unknown> = { ...raw };
  delete body.digest;
  return `sha256:${sha256(canonicalJson(body))}`;
}

export async function readText(file: string): Promise<Parsed<string>> {
  try {
    return { ok: true, value: await readFile(file, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === "ENOENT" ? "missing" : `unreadable (${code ?? String(error)})` };
  }
}

export async function readJson<T>(
  file: string,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: z.ZodError } },
): Promise<Parsed<T>> {
  const text = await readText(file);
  if (!text.ok) return text;
  let value: unknown;
  try {
    value = JSON.parse(text.value);
  } catch {
    return { ok: false, problem: "not valid JSON (truncated or corrupt)" };
  }
  const parsed = schema.safeParse(value);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, problem: describeZodError(parsed.error) };
}

export interface ManifestRead {
  manifest: Manifest;
  /** The manifest's digest; for an unprotected (0.1) manifest, the sha256 of its file. */
  digest: string;
  protected: boolean;
}

/**
 * Reads a manifest and checks it against its digest: a manifest that does not parse, does not
 * match its digest, or describes another restore point is damaged ("problem").
 */
export async function readManifest(file: string, asset: string, id: string): Promise<Parsed<ManifestRead>> {
  const text = await readText(file);
  if (!text.ok) return text;
  let raw: unknown;
  try {
    raw = JSON.parse(text.value);
  } catch {
    return { ok: false, problem: "not valid JSON (truncated or corrupt)" };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    return { ok: false, problem: "not a JSON object" };
  const record = raw as Record<string, unknown>;
  let digest: string;
  let isProtected: boolean;
  if ("digest" in record) {
    let actual: string;
    try {
      actual = manifestDigest(record);
    } catch {
      return { ok: false, problem: "nested too deeply to be a manifest" };
    }
    if (record.digest !== actual)
      return {
        ok: false,
        problem: "its content does not match its digest (the manifest was changed or is corrupt)",
      };
    digest = actual;
    isProtected = true;
  } else {
    // Without a digest only a manifest of lifeline 0.1 is acceptable: it has exactly its fields. A
    // corrupted "digest" key would otherwise pass for an old manifest.
    const unknown = Object.keys(record).filter((k) => !UNDIGESTED_MANIFEST_FIELDS.includes(k));
    if (unknown.length > 0)
      return {
        ok: false,
        problem: `it has no digest and unknown fields (${unknown.slice(0, 3).join(", ")}): a corrupted manifest`,
      };
    digest = `sha256:${sha256(text.value)}`;
    isProtected = false;
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, problem: describeZodError(parsed.error) };
  if (parsed.data.id !== id || parsed.data.asset !== asset)
    return {
      ok: false,
      problem: `describes ${parsed.data.asset}/${parsed.data.id}, not the directory it is in`,
    };
  return { ok: true, value: { manifest: parsed.data, digest, protected: isProtected } };
}

export async function listRestorePoints(root: string, asset?: string): Promise<Manifest[]> {
  const manifests: Manifest[] = [];
  for (const name of await assets(root, RESTORE_POINTS, asset)) {
    const assetDir = path.join(root, RESTORE_POINTS, name);
    for (const entry of await entries(assetDir)) {
      if (!entry.isDirectory() || !RESTORE_POINT_ID.test(entry.name)) continue;
      const read = await readManifest(path.join(assetDir, entry.name, MANIFEST), name, entry.name);
      if (read.ok) manifests.push(read.value.manifest);
    }
  }
  return manifests.sort((a, b) => a.snapshotTime.localeCompare(b.snapshotTime));
}

export async function getRestorePoint(
  root: string,
  asset: string,
  id: string,
): Promise<Manifest | undefined> {
  if (!RESTORE_POINT_ID.test(id)) return undefined;
  const dir = path.join(root, RESTORE_POINTS, asset, id);
  try {
    if (!(await stat(dir)).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  const read = await readManifest(path.join(dir, MANIFEST), asset, id);
  if (!read.ok)
    throw restorePointDamaged(
      asset,
      id,
      `${path.posix.join(RESTORE_POINTS, asset, id, MANIFEST)}: ${read.problem}`,
    );
  return read.value.manifest;
}
