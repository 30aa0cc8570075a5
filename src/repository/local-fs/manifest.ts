/**
 * Reading and validating manifests: a manifest that does not parse, does not match its digest or
 * describes another restore point makes its restore point damaged.
 */
import { readFile as readFileCallback, readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { promisify } from "node:util";
import path from "node:path";
import type * as z from "zod";
import { restorePointDamaged } from "../../core/errors.js";
import { RESTORE_POINT_ID, type Manifest } from "../../core/restore-point/restore-point.js";
import { parseJson, parseManifest, sha256, type ManifestRead, type Parsed } from "../manifest-text.js";
import { MANIFEST, RESTORE_POINTS, assets, entries } from "./layout.js";

export { manifestDigest, sha256, type Parsed } from "../manifest-text.js";

/** fs.readFile with a callback: a third faster than fs/promises' (no FileHandle) for the many small files status reads. */
const readFile = promisify(readFileCallback);

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
  return parseJson(text.value, schema);
}

/**
 * Reads a manifest file and checks it (see parseManifest); with the sha256 of its text, which the
 * index records. `known`: that sha256 as the index has it (the text was checked when indexed).
 */
export async function readManifest(
  file: string,
  asset: string,
  id: string,
  known?: string,
): Promise<Parsed<ManifestRead & { textDigest: string }>> {
  const text = await readText(file);
  if (!text.ok) return text;
  const textDigest = `sha256:${sha256(text.value)}`;
  const read = parseManifest(text.value, asset, id, known === textDigest);
  return read.ok ? { ok: true, value: { ...read.value, textDigest } } : read;
}

/** Whether the manifest's bytes still have the sha256 `known` (see Repository.manifestUnchanged). */
export async function manifestUnchanged(
  root: string,
  asset: string,
  id: string,
  known: string,
): Promise<boolean> {
  if (!RESTORE_POINT_ID.test(id)) return false;
  try {
    // At once (see loadIndex): status reads two manifests of each asset.
    const bytes = readFileSync(path.join(root, RESTORE_POINTS, asset, id, MANIFEST));
    return `sha256:${sha256(bytes)}` === known;
  } catch {
    return false;
  }
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
  known?: string,
): Promise<Manifest | undefined> {
  if (!RESTORE_POINT_ID.test(id)) return undefined;
  const dir = path.join(root, RESTORE_POINTS, asset, id);
  const read = await readManifest(path.join(dir, MANIFEST), asset, id, known);
  if (read.ok) return read.value.manifest;
  // No restore point there (no such directory) is not a damaged one: asked only when the read failed.
  try {
    if (!(await stat(dir)).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  throw restorePointDamaged(
    asset,
    id,
    `${path.posix.join(RESTORE_POINTS, asset, id, MANIFEST)}: ${read.problem}`,
  );
}
