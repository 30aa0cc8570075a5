/**
 * What every repository adapter reads the same way: a manifest's text checked against its digest,
 * a JSON document checked against its schema. Pure (no I/O): the adapter fetches the text.
 */
import { createHash } from "node:crypto";
import type * as z from "zod";
import {
  UNDIGESTED_MANIFEST_FIELDS,
  canonicalJson,
  type Manifest,
} from "../core/restore-point/restore-point.js";
import { describeZodError, manifestSchema } from "../core/restore-point/schemas.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

export function sha256(text: string | Buffer): string {
  return createHash("sha256").update(text).digest("hex");
}

/** "sha256:<hex>" of the canonical JSON of a manifest (as parsed from its file) without its digest field. */
export function manifestDigest(raw: Record<string, unknown>): string {
  const body: Record<string, unknown> = { ...raw };
  delete body.digest;
  return `sha256:${sha256(canonicalJson(body))}`;
}

/** The manifest as written: its fields and the digest of them, digest last. */
export function manifestText(manifest: Manifest): { text: string; digest: string } {
  const body = JSON.parse(JSON.stringify(manifest)) as Record<string, unknown>;
  delete body.digest;
  const digest = manifestDigest(body);
  return { text: JSON.stringify({ ...body, digest }, null, 2) + "\n", digest };
}

export function parseJson<T>(
  text: string,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: z.ZodError } },
): Parsed<T> {
  let value: unknown;
  try {
    value = JSON.parse(text);
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
 * Parses a manifest and checks it against its digest: a manifest that does not parse, does not
 * match its digest, or describes another restore point is damaged ("problem").
 */
export function parseManifest(
  text: string,
  asset: string,
  id: string,
  /**
   * The caller found these very bytes (by their sha256, which an index records) accepted before as
   * this restore point: their canonical digest need not be computed again.
   */
  unchanged = false,
): Parsed<ManifestRead> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, problem: "not valid JSON (truncated or corrupt)" };
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    return { ok: false, problem: "not a JSON object" };
  const record = raw as Record<string, unknown>;
  let digest: string;
  let isProtected: boolean;
  if (unchanged && "digest" in record && typeof record.digest === "string") {
    digest = record.digest;
    isProtected = true;
  } else if ("digest" in record) {
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
    digest = `sha256:${sha256(text)}`;
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
