import type { ObjectRef, Operation } from "../../../core/plan/operation.js";
import { child, isNode, list, names, rangeVarName, statementNode, str } from "./ast.js";

/**
 * What earlier statements of a script changed that the plan (made against the database as it is)
 * cannot see: the session (search_path, role …), the triggers and rules DML fires, and the objects
 * created, renamed or dropped. Later statements that depend on it are `unknown`.
 */

/** Operations that change rows of a table: triggers and rules on it run with them. */
export const DML_KINDS = new Set(["insert", "upsert", "update", "delete", "merge", "copy-from", "truncate"]);

/** Session settings that change which objects later statements reach, or which triggers fire. */
const SESSION_SETTINGS = new Set([
  "search_path",
  "role",
  "session_authorization",
  "session_replication_role",
]);

const TRIGGER_ENABLING = new Set([
  "AT_EnableTrig",
  "AT_EnableAlwaysTrig",
  "AT_EnableReplicaTrig",
  "AT_EnableTrigAll",
  "AT_EnableTrigUser",
  "AT_EnableRule",
  "AT_EnableAlwaysRule",
  "AT_EnableReplicaRule",
]);

/** What earlier statements of a script changed that makes later ones unplannable. */
export interface ScriptState {
  /** Why the session changed (search_path, role, …), once it did. */
  session: string | null;
  /** Why DML no longer does only what it says (a trigger or rule was created), once it did. */
  triggers: string | null;
  /** Relation (and other object) names created, renamed or dropped earlier. */
  names: Set<string>;
  /** Schemas created, renamed or dropped earlier. */
  schemas: Set<string>;
  /**
   * Tables created earlier in this script (plain CREATE, no IF NOT EXISTS): if that CREATE
   * succeeded, the table is new, so nothing that existed before the script is lost with it.
   */
  fresh: Set<string>;
}

export function newScriptState(): ScriptState {
  return { session: null, triggers: null, names: new Set(), schemas: new Set(), fresh: new Set() };
}

/** The operation made `unknown`, for a reason that comes first. */
export function escalate(operation: Operation, why: string): Operation {
  if (operation.dataLoss === "unknown" && operation.reason.startsWith(why)) return operation;
  return { ...operation, dataLoss: "unknown", reason: `${why} (otherwise: ${operation.reason})` };
}

function targetChanged(state: ScriptState, target: ObjectRef | null): boolean {
  if (!target || target.type === "function" || target.type === "procedure") return false;
  if (target.schema === null ? state.schemas.size > 0 : state.schemas.has(target.schema)) return true;
  for (const name of state.names) {
    if (target.name === name || (target.type === "column" && target.name.startsWith(`${name}.`))) return true;
  }
  return false;
}

/** Applies what earlier statements did to this statement's operations. */
export function applyState(state: ScriptState, operations: Operation[]): Operation[] {
  return operations.map((operation) => {
    let o = operation;
    const name = o.target?.type === "column" ? o.target.name.split(".")[0] : o.target?.name;
    // Same schema as written: an unqualified name resolves where an unqualified CREATE put it.
    const fresh =
      name !== undefined &&
      state.fresh.has(`${o.target?.schema ?? ""}.${name}`) &&
      (o.target?.schema === null || !state.schemas.has(o.target?.schema ?? ""));
    if (fresh) o = { ...o, createdEarlier: true };
    if (fresh && (o.dataLoss === "destructive" || o.dataLoss === "recoverable")) {
      // A table this script creates holds only what the script put there: nothing earlier is lost.
      o = {
        ...o,
        dataLoss: "none",
        reason: `${name} is created earlier in this script: nothing that existed before is lost (otherwise: ${o.reason})`,
      };
    }
    if (state.session) {
      o = escalate(
        o,
        `runs after ${state.session} earlier in this script: the plan cannot tell which objects it reaches`,
      );
    }
    if (state.triggers && DML_KINDS.has(o.kind)) {
      o = escalate(o, `runs after ${state.triggers} earlier in this script: what it does now is not known`);
    }
    if (!fresh && targetChanged(state, o.target)) {
      o = escalate(o, "its target is changed earlier in this script: the plan cannot resolve it");
    }
    return o;
  });
}

function addName(state: ScriptState, name: string | undefined): void {
  if (!name) return;
  state.names.add(name);
  // Renamed, dropped or moved: no longer the table this script created.
  for (const key of [...state.fresh]) if (key.endsWith(`.${name}`)) state.fresh.delete(key);
}

type Update = (state: ScriptState, body: unknown) => void;

const triggers =
  (why: string): Update =>
  (state) => {
    state.triggers ??= why;
  };

/** Statement node type → what it changes for the statements after it. */
const UPDATES: Record<string, Update> = {
  VariableSetStmt: (state, body) => {
    const name = str(child(body, "name"));
    if (child(body, "kind") === "VAR_RESET_ALL") state.session ??= "RESET ALL";
    else if (name && SESSION_SETTINGS.has(name.toLowerCase()))
      state.session ??= `a SET/RESET of ${name.toLowerCase()}`;
  },
  DiscardStmt: (state) => {
    state.session ??= "DISCARD";
  },
  CreateTrigStmt: triggers("CREATE TRIGGER"),
  RuleStmt: triggers("CREATE RULE"),
  CreateEventTrigStmt: triggers("an event trigger"),
  AlterEventTrigStmt: triggers("an event trigger"),
  CreateFunctionStmt: (state, body) => {
    if (child(body, "replace") === true) state.triggers ??= "CREATE OR REPLACE FUNCTION";
  },
  AlterFunctionStmt: triggers("ALTER FUNCTION"),
  AlterTableStmt: (state, body) => {
    for (const cmd of list(child(body, "cmds"))) {
      if (TRIGGER_ENABLING.has(str(child(child(cmd, "AlterTableCmd"), "subtype")) ?? ""))
        state.triggers ??= "ALTER TABLE … ENABLE TRIGGER/RULE";
    }
  },
  CreateStmt: (state, body) => {
    const created = rangeVarName(child(body, "relation"));
    const schema = str(
      child(child(child(body, "relation"), "RangeVar") ?? child(body, "relation"), "schemaname"),
    );
    // CREATE TABLE IF NOT EXISTS may keep an existing table with its rows: that one is "changed".
    addName(state, created);
    if (created && child(body, "if_not_exists") !== true) state.fresh.add(`${schema ?? ""}.${created}`);
  },
  CreateForeignTableStmt: (state, body) =>
    addName(state, rangeVarName(child(child(body, "base"), "relation"))),
  CreateTableAsStmt: (state, body) =>
    addName(
      state,
      rangeVarName(
        child(child(child(body, "into"), "IntoClause"), "rel") ?? child(child(body, "into"), "rel"),
      ),
    ),
  ViewStmt: (state, body) => addName(state, rangeVarName(child(body, "view"))),
  CreateSeqStmt: (state, body) => addName(state, rangeVarName(child(body, "sequence"))),
  CompositeTypeStmt: (state, body) => addName(state, rangeVarName(child(body, "typevar"))),
  IndexStmt: (state, body) => addName(state, str(child(body, "idxname"))),
  CreateSchemaStmt: (state, body) => {
    const schema = str(child(body, "schemaname"));
    if (schema) state.schemas.add(schema);
  },
  DropStmt: (state, body) => {
    for (const object of list(child(body, "objects"))) {
      const parts =
        isNode(object) && "TypeName" in object ? names(child(object.TypeName, "names")) : names(object);
      const name = parts[parts.length - 1] ?? str(child(child(object, "String"), "sval"));
      if (child(body, "removeType") === "OBJECT_SCHEMA") {
        if (name) state.schemas.add(name);
      } else addName(state, name);
    }
  },
  RenameStmt: (state, body) => {
    const newname = str(child(body, "newname"));
    if (child(body, "renameType") === "OBJECT_SCHEMA") {
      for (const schema of [str(child(body, "subname")), newname]) if (schema) state.schemas.add(schema);
      return;
    }
    addName(state, rangeVarName(child(body, "relation")));
    const objectNames = names(child(body, "object"));
    addName(state, objectNames[objectNames.length - 1]);
    addName(state, newname);
  },
  AlterObjectSchemaStmt: (state, body) => {
    addName(state, rangeVarName(child(body, "relation")));
    const objectNames = names(child(body, "object"));
    addName(state, objectNames[objectNames.length - 1]);
  },
};

/** Records what one statement changes for the statements after it. */
export function updateState(state: ScriptState, stmt: unknown): void {
  if (!isNode(stmt)) return;
  const [type, body] = statementNode(stmt);
  if (Object.hasOwn(UPDATES, type)) UPDATES[type]?.(state, body);
  // set_config('search_path', …) anywhere changes the session too.
  if (JSON.stringify(stmt).includes('"sval":"set_config"')) state.session ??= "set_config()";
}
