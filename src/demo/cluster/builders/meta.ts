/**
 * The smallest builders of simulated objects: stable uids (derived from kind, namespace and name,
 * so tests can refer to them), object metadata, hashes and a deep merge.
 */
import { createHash } from "node:crypto";
import type { Json, ObjectMeta } from "../model.js";

/** A stable uid for a fixture object: the same kind, namespace and name always give the same uid. */
export function simulatedUid(kind: string, namespace: string | undefined, name: string): string {
  const h = createHash("sha256")
    .update(`lifeline-simulated/${kind}/${namespace ?? ""}/${name}`)
    .digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The name of the dynamically provisioned volume of a claim: "pvc-" + the claim's uid. */
export function simulatedVolumeName(namespace: string, claim: string): string {
  return `pvc-${simulatedUid("PersistentVolumeClaim", namespace, claim)}`;
}

export function meta(
  kind: string,
  name: string,
  namespace: string | undefined,
  created: string,
  extra: Partial<ObjectMeta> = {},
): ObjectMeta {
  return {
    name,
    ...(namespace ? { namespace } : {}),
    uid: simulatedUid(kind, namespace, name),
    creationTimestamp: created,
    ...extra,
  };
}

export function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

export function shortHash(seed: string, length: number): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const digest = createHash("sha256").update(seed).digest();
  let out = "";
  for (let i = 0; out.length < length; i++) out += alphabet[digest[i]! % alphabet.length];
  return out;
}

export function hexHash(seed: string, length: number): string {
  return createHash("sha256").update(seed).digest("hex").slice(0, length);
}

/** Deep merge: objects merge key by key, everything else (arrays, null) replaces. */
export function merge<T>(base: T, patch: unknown): T {
  const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(base) || !isObject(patch)) return structuredClone(patch) as T;
  const out: Json = structuredClone(base);
  for (const [key, value] of Object.entries(patch)) out[key] = merge(out[key], value);
  return out as T;
}
