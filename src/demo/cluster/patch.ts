/**
 * Patches as the API server applies them: RFC 7386 JSON merge patch, RFC 6902 JSON patch, and
 * strategic merge patch, applied here as a JSON merge patch without its directives.
 */
import { ApiStatusError, badRequest, invalid } from "./errors.js";
import { canonicalJson, clone, isObj, type Json, type ResourceType } from "./model.js";

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Json = isObj(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key], value);
  }
  return out;
}

/** Drops strategic-merge directives that have no meaning for a JSON merge patch. */
function stripStrategicDirectives(patch: unknown): unknown {
  if (Array.isArray(patch)) return patch.map(stripStrategicDirectives);
  if (!isObj(patch)) return patch;
  const out: Json = {};
  for (const [key, value] of Object.entries(patch)) {
    if (
      key.startsWith("$setElementOrder/") ||
      key.startsWith("$deleteFromPrimitiveList/") ||
      key === "$retainKeys"
    )
      continue;
    out[key] = stripStrategicDirectives(value);
  }
  return out;
}

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== "string") throw new Error("path must be a string");
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function getAt(doc: unknown, tokens: string[]): unknown {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      if (!/^\d+$/.test(t) || Number(t) >= cur.length) throw new Error(`no element at index ${t}`);
      cur = cur[Number(t)];
    } else if (isObj(cur)) {
      if (!(t in cur)) throw new Error(`missing key ${JSON.stringify(t)}`);
      cur = cur[t];
    } else throw new Error(`cannot descend into a scalar at ${JSON.stringify(t)}`);
  }
  return cur;
}

/** Applies one change at a pointer in place. `doc` is the root container (wrapped). */
function mutateAt(
  root: { value: unknown },
  tokens: string[],
  op: "add" | "replace" | "remove",
  value?: unknown,
): unknown {
  if (tokens.length === 0) {
    const old = root.value;
    if (op === "remove") root.value = undefined;
    else root.value = clone(value);
    return old;
  }
  const parent = getAt(root.value, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) {
    if (op === "add") {
      const index = last === "-" ? parent.length : /^\d+$/.test(last) ? Number(last) : NaN;
      if (!(index >= 0 && index <= parent.length)) throw new Error(`invalid array index ${last}`);
      parent.splice(index, 0, clone(value));
      return undefined;
    }
    if (!/^\d+$/.test(last) || Number(last) >= parent.length) throw new Error(`no element at index ${last}`);
    const index = Number(last);
    const old = parent[index];
    if (op === "remove") parent.splice(index, 1);
    else parent[index] = clone(value);
    return old;
  }
  if (isObj(parent)) {
    const exists = Object.prototype.hasOwnProperty.call(parent, last);
    if (op !== "add" && !exists) throw new Error(`missing key ${JSON.stringify(last)}`);
    const old = parent[last];
    if (op === "remove") delete parent[last];
    else parent[last] = clone(value);
    return old;
  }
  throw new Error(`cannot change a scalar at ${JSON.stringify(last)}`);
}

/** RFC 6902 JSON patch: add, remove, replace, move, copy, test. */
export function applyJsonPatch(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) {
    throw new Error("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  }
  const root = { value: clone(doc) };
  for (const op of operations) {
    if (!isObj(op)) throw new Error("each operation must be an object");
    const path = parsePointer(op.path);
    switch (op.op) {
      case "add":
      case "replace":
        if (!("value" in op)) throw new Error(`${op.op} operation needs a value`);
        mutateAt(root, path, op.op, op.value);
        break;
      case "remove":
        mutateAt(root, path, "remove");
        break;
      case "move": {
        const from = parsePointer(op.from);
        const value = clone(getAt(root.value, from));
        mutateAt(root, from, "remove");
        mutateAt(root, path, "add", value);
        break;
      }
      case "copy":
        mutateAt(root, path, "add", clone(getAt(root.value, parsePointer(op.from))));
        break;
      case "test":
        if (canonicalJson(getAt(root.value, path)) !== canonicalJson(op.value)) {
          throw new Error(`testing value ${String(op.path)} failed`);
        }
        break;
      default:
        throw new Error(`unexpected kind of operation ${JSON.stringify(op.op)}`);
    }
  }
  return root.value;
}

/** The patched document for a PATCH request, by its content type. */
export function patchDocument(
  type: ResourceType,
  name: string,
  current: unknown,
  rawBody: string,
  contentType: string,
): unknown {
  let patch: unknown;
  try {
    patch = JSON.parse(rawBody);
  } catch {
    throw badRequest(`the body of the request was not valid JSON (content type ${contentType || "none"})`);
  }
  switch (contentType) {
    case "application/merge-patch+json":
      if (!isObj(patch)) throw badRequest("merge patch must be a JSON object");
      return applyMergePatch(current, patch);
    case "application/strategic-merge-patch+json":
      if (!isObj(patch)) throw badRequest("strategic merge patch must be a JSON object");
      return applyMergePatch(current, stripStrategicDirectives(patch));
    case "application/json-patch+json":
      if (!Array.isArray(patch)) {
        throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
      }
      try {
        return applyJsonPatch(current, patch);
      } catch (e) {
        throw invalid(type, name, (e as Error).message);
      }
    default:
      throw new ApiStatusError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (simulated server; got ${JSON.stringify(contentType)})`,
      );
  }
}
