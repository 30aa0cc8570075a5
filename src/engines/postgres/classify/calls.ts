import type { Operation } from "../../../core/plan/operation.js";
import { isNode, names } from "./ast.js";
import { op, type Context } from "./context.js";

/** Built-in functions that only read: calling them changes nothing. Anything else is checked. */
const READ_ONLY_FUNCTIONS = new Set(
  (
    "count sum min max avg now current_date current_timestamp clock_timestamp coalesce nullif greatest least lower upper " +
    "length char_length substr substring trim btrim ltrim rtrim replace concat concat_ws format to_char to_date " +
    "to_timestamp to_number date_trunc date_part extract age abs round ceil floor trunc random md5 sha256 encode decode " +
    "array_agg string_agg json_agg jsonb_agg json_build_object jsonb_build_object row_number rank dense_rank lag lead " +
    "generate_series unnest array_length cardinality position strpos split_part regexp_replace regexp_match " +
    "pg_size_pretty pg_relation_size pg_total_relation_size pg_database_size version current_setting exists bool_and " +
    "bool_or every string_to_array array_to_string jsonb_array_elements json_array_elements jsonb_each json_each " +
    "to_json to_jsonb make_interval make_date make_timestamp make_timestamptz gen_random_uuid uuid_generate_v4 " +
    "pg_sleep txid_current pg_backend_pid current_user session_user current_database current_schema lpad rpad " +
    "left right reverse initcap quote_ident quote_literal quote_nullable"
  ).split(/\s+/),
);

/** Functions that destroy data themselves. */
const DESTRUCTIVE_FUNCTIONS = new Map<string, string>([
  ["lo_unlink", "removes a large object and its data"],
  ["pg_drop_replication_slot", "drops a replication slot (consumers lose their position)"],
  ["dblink_exec", "runs arbitrary SQL on another database"],
  ["pg_truncate_visibility_map", "discards visibility information"],
]);

const NESTED_DML = new Set(["DeleteStmt", "UpdateStmt", "InsertStmt", "MergeStmt"]);

/**
 * Walks any subtree for function calls and data-modifying statements nested in it (a DELETE in a
 * WITH); `top` is the statement's own body, whose DML is the statement itself.
 */
export function nested(ctx: Context, node: unknown, out: Operation[], top: boolean): void {
  if (Array.isArray(node)) {
    for (const item of node) nested(ctx, item, out, false);
    return;
  }
  if (!isNode(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (!top && NESTED_DML.has(key)) {
      out.push(...ctx.classify({ [key]: value }));
      continue;
    }
    if (key === "FuncCall" && isNode(value)) {
      const fname = names(value.funcname);
      const name = (fname[fname.length - 1] ?? "").toLowerCase();
      const schema = fname.length > 1 ? fname[0] : undefined;
      const destroys = DESTRUCTIVE_FUNCTIONS.get(name);
      if (destroys && (!schema || schema === "pg_catalog")) {
        out.push(
          op(ctx, {
            kind: "function-call",
            dataLoss: "destructive",
            reason: `${name}() ${destroys}`,
            target: { type: "function", schema: schema ?? null, name },
          }),
        );
      } else if (!READ_ONLY_FUNCTIONS.has(name) || (schema && schema !== "pg_catalog")) {
        out.push(
          op(ctx, {
            kind: "function-call",
            dataLoss: "unknown",
            reason: `calls ${fname.join(".")}(), which may modify data; lifeline cannot tell statically`,
            target: { type: "function", schema: schema ?? null, name: fname[fname.length - 1] ?? "" },
          }),
        );
      }
    }
    nested(ctx, value, out, false);
  }
}
