import { readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { LifelineError } from "../core/errors.js";
import type { ManifestResource } from "../core/kubernetes/kubectl-delete.js";

const MANIFEST = /\.(ya?ml|json)$/i;

async function filesOf(entry: string, recursive: boolean, top: boolean): Promise<string[]> {
  const info = await stat(entry).catch(() => null);
  if (!info) {
    throw new LifelineError({
      code: "MANIFEST_NOT_FOUND",
      kind: "usage",
      message: `manifest ${entry} does not exist (kubectl would fail the same way)`,
      fix: "check the path given with -f",
    });
  }
  if (info.isFile()) return [entry];
  if (!info.isDirectory() || (!top && !recursive)) return [];
  const names = (await readdir(entry)).sort();
  const out: string[] = [];
  for (const name of names) {
    const full = path.join(entry, name);
    const s = await stat(full).catch(() => null);
    if (!s) continue; // a dangling link: kubectl skips it too
    if (s.isDirectory()) {
      if (recursive) out.push(...(await filesOf(full, recursive, false)));
    } else if (MANIFEST.test(name)) out.push(full);
  }
  return out;
}

function resourcesOf(value: unknown, file: string, out: ManifestResource[]): void {
  if (typeof value !== "object" || value === null) return;
  const v = value as { kind?: unknown; items?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof v.kind === "string" && v.kind.endsWith("List") && Array.isArray(v.items)) {
    for (const item of v.items) resourcesOf(item, file, out);
    return;
  }
  if (typeof v.kind === "string" && typeof v.metadata?.name === "string") {
    out.push({
      kind: v.kind,
      name: v.metadata.name,
      namespace: typeof v.metadata.namespace === "string" ? v.metadata.namespace : null,
      file,
    });
  }
}

/**
 * The resources `kubectl delete -f` would delete: files, directories (-R for subdirectories),
 * multi-document YAML and List objects. URLs and standard input are not read: they yield nothing,
 * and the plan says what it could not see.
 */
export async function readManifests(
  entries: readonly string[],
  recursive: boolean,
  cwd: string = process.cwd(),
): Promise<ManifestResource[]> {
  const out: ManifestResource[] = [];
  for (const entry of entries) {
    if (entry === "-" || /^https?:\/\//i.test(entry)) continue;
    for (const file of await filesOf(path.resolve(cwd, entry), recursive, true)) {
      const text = await readFile(file, "utf8");
      for (const doc of parseAllDocuments(text)) {
        if ("errors" in doc && doc.errors.length > 0) {
          throw new LifelineError({
            code: "MANIFEST_INVALID",
            kind: "usage",
            message: `manifest ${file} is not valid YAML: ${doc.errors[0]?.message.split("\n")[0] ?? ""}`,
            fix: "fix the manifest (kubectl would refuse it too)",
          });
        }
        resourcesOf(doc.toJS(), path.relative(cwd, file) || file, out);
      }
    }
  }
  return out;
}
