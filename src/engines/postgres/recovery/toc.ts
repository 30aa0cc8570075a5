/**
 * A pg_dump archive's table of contents, as `pg_restore --list --verbose` prints it, and the SQL
 * that `pg_restore --verbose --schema-only --file=-` prints for each entry: what a selective restore
 * reads to choose the entries that bring some tables back with everything they need. No I/O here.
 */
import { qualifiedName } from "../connection.js";
import { splitQualifiedName } from "../dump-archive.js";

export interface TocEntry {
  /** The dump id: what `depends on:` lines and list files name. */
  id: number;
  /** The entry's kind as pg_dump names it: "TABLE", "TABLE DATA", "FK CONSTRAINT"… */
  desc: string;
  /** The line as pg_restore printed it (what a list file given to `pg_restore -L` holds). */
  line: string;
  dependsOn: number[];
}

/** Every kind pg_dump writes, longest first so "TABLE DATA" is never read as "TABLE". */
const DESCS = [
  "ACCESS METHOD",
  "ACL",
  "AGGREGATE",
  "BLOB",
  "BLOB DATA",
  "BLOBS",
  "CAST",
  "CHECK CONSTRAINT",
  "COLLATION",
  "COMMENT",
  "CONSTRAINT",
  "CONVERSION",
  "DATABASE",
  "DATABASE PROPERTIES",
  "DEFAULT",
  "DEFAULT ACL",
  "DOMAIN",
  "ENCODING",
  "EVENT TRIGGER",
  "EXTENSION",
  "FK CONSTRAINT",
  "FOREIGN DATA WRAPPER",
  "FOREIGN SERVER",
  "FOREIGN TABLE",
  "FUNCTION",
  "INDEX",
  "INDEX ATTACH",
  "LARGE OBJECT",
  "MATERIALIZED VIEW",
  "MATERIALIZED VIEW DATA",
  "OPERATOR",
  "OPERATOR CLASS",
  "OPERATOR FAMILY",
  "POLICY",
  "PROCEDURAL LANGUAGE",
  "PROCEDURE",
  "PUBLICATION",
  "PUBLICATION TABLE",
  "PUBLICATION TABLES IN SCHEMA",
  "ROW SECURITY",
  "RULE",
  "SCHEMA",
  "SEARCHPATH",
  "SECURITY LABEL",
  "SEQUENCE",
  "SEQUENCE OWNED BY",
  "SEQUENCE SET",
  "SERVER",
  "SHELL TYPE",
  "STATISTICS",
  "STDSTRINGS",
  "SUBSCRIPTION",
  "TABLE",
  "TABLE ATTACH",
  "TABLE DATA",
  "TEXT SEARCH CONFIGURATION",
  "TEXT SEARCH DICTIONARY",
  "TEXT SEARCH PARSER",
  "TEXT SEARCH TEMPLATE",
  "TRANSFORM",
  "TRIGGER",
  "TYPE",
  "USER MAPPING",
  "VIEW",
].sort((a, b) => b.length - a.length);

const ENTRY = /^(\d+);\s+(\d+)\s+(\d+)\s+(.*)$/;
const DEPENDS = /^;\s*depends on:\s*([\d\s]*)$/;

/** Parses `pg_restore --list --verbose`: entries in restore order, with their dependencies. */
export function parseToc(text: string): TocEntry[] {
  const entries: TocEntry[] = [];
  let last: TocEntry | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const entry = ENTRY.exec(line);
    if (entry) {
      const rest = entry[4] ?? "";
      const desc = DESCS.find((d) => rest === d || rest.startsWith(`${d} `)) ?? rest.split(" ")[0] ?? "";
      last = { id: Number(entry[1]), desc, line, dependsOn: [] };
      entries.push(last);
      continue;
    }
    const depends = DEPENDS.exec(line);
    if (depends && last) {
      last.dependsOn.push(...(depends[1] ?? "").trim().split(/\s+/).filter(Boolean).map(Number));
    }
  }
  for (const e of entries) e.dependsOn = [...new Set(e.dependsOn)];
  return entries;
}

/** One entry's part of the verbose script: its header comment and its SQL. */
export interface ScriptBlock {
  id: number;
  /** From `-- Name: …; Type: …; Schema: …; Owner: …`. */
  name: string;
  type: string;
  schema: string;
  owner: string;
  sql: string;
}

/** Splits the script `pg_restore --verbose --file=-` writes into its entries (`-- TOC entry N`). */
export function parseScript(sql: string): Map<number, ScriptBlock> {
  const blocks = new Map<number, ScriptBlock>();
  const parts = sql.split(/^-- TOC entry (\d+) \(class \d+ OID \d+\)$/m);
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const id = Number(parts[i]);
    const body = parts[i + 1] ?? "";
    const header = /^-- Name: (.*); Type: (.*); Schema: (.*); Owner: (.*)$/m.exec(body);
    const code = body
      .split("\n")
      .filter((l) => !l.startsWith("--"))
      .join("\n")
      .trim();
    blocks.set(id, {
      id,
      name: header?.[1] ?? "",
      type: header?.[2] ?? "",
      schema: header?.[3] ?? "",
      owner: header?.[4] ?? "",
      sql: code,
    });
  }
  return blocks;
}

/** A possibly quoted, possibly qualified name as pg_dump prints it in SQL. */
const IDENT = String.raw`(?:"(?:[^"]|"")*"|[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)`;
const QUALIFIED = String.raw`(${IDENT}(?:\.${IDENT})?)`;

/** The name as lifeline's manifests write it (quoted only when needed). */
export function canonicalName(printed: string): string {
  const parts = splitQualifiedName(printed);
  const [schema, name] = parts.length >= 2 ? [parts[0] ?? "", parts[1] ?? ""] : ["public", parts[0] ?? ""];
  return qualifiedName(schema, name);
}

function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident;
}

/** The relation a TABLE, VIEW, MATERIALIZED VIEW or SEQUENCE entry creates (canonical), or null. */
export function relationOf(block: ScriptBlock | undefined): string | null {
  if (!block) return null;
  const created = new RegExp(
    String.raw`^CREATE (?:UNLOGGED |FOREIGN )?(?:TABLE|VIEW|MATERIALIZED VIEW|SEQUENCE) ${QUALIFIED}`,
    "m",
  ).exec(block.sql);
  if (created?.[1]) return canonicalName(created[1]);
  const identity = new RegExp(String.raw`SEQUENCE NAME ${QUALIFIED}`).exec(block.sql);
  if (identity?.[1]) return canonicalName(identity[1]);
  return null;
}

/**
 * The index an INDEX or CONSTRAINT entry creates (PRIMARY KEY, UNIQUE and EXCLUDE constraints make
 * one of the constraint's name), qualified canonically; null when it creates none. An index lives in
 * its table's schema.
 */
export function indexOf(entry: TocEntry, block: ScriptBlock | undefined): string | null {
  if (!block || (entry.desc !== "INDEX" && entry.desc !== "CONSTRAINT")) return null;
  const m =
    entry.desc === "INDEX"
      ? new RegExp(String.raw`^CREATE (?:UNIQUE )?INDEX (${IDENT}) ON`, "m").exec(block.sql)
      : new RegExp(String.raw`ADD CONSTRAINT (${IDENT}) (?:PRIMARY KEY|UNIQUE|EXCLUDE)`).exec(block.sql);
  return m?.[1] ? qualifiedName(block.schema, unquote(m[1])) : null;
}

/** The schema a SCHEMA entry creates (unquoted), or null. */
export function schemaOf(block: ScriptBlock | undefined): string | null {
  const m = block ? new RegExp(String.raw`^CREATE SCHEMA (${IDENT})`, "m").exec(block.sql) : null;
  return m?.[1] ? unquote(m[1]) : null;
}

export interface ForeignKeyDefinition {
  name: string;
  /** The table that holds it (canonical). */
  table: string;
  /** The table it references (canonical). */
  references: string;
  definition: string;
}

/** What an FK CONSTRAINT entry's `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY … REFERENCES …` says. */
export function foreignKeyOf(block: ScriptBlock | undefined): ForeignKeyDefinition | null {
  if (!block) return null;
  const m = new RegExp(
    String.raw`ALTER TABLE (?:ONLY )?${QUALIFIED}\s+ADD CONSTRAINT (${IDENT}) FOREIGN KEY [\s\S]*?REFERENCES ${QUALIFIED}`,
  ).exec(block.sql);
  if (!m?.[1] || !m[2] || !m[3]) return null;
  return {
    name: unquote(m[2]),
    table: canonicalName(m[1]),
    references: canonicalName(m[3]),
    // Only the statement: pg_restore's script may end the block with psql meta-commands
    // (\unrestrict …) and blank lines.
    definition: block.sql
      .split("\n")
      .filter((line) => !line.startsWith("\\"))
      .join("\n")
      .trim(),
  };
}

/** How to tell whether an object an entry needs (a function, a type…) exists in the target already. */
export type Probe =
  | { kind: "function"; signature: string }
  | { kind: "type"; name: string }
  | { kind: "collation"; name: string }
  | { kind: "extension"; name: string }
  | { kind: "relation"; name: string };

function quoted(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The probe for a prerequisite entry, or null for kinds lifeline assumes exist (or a SCHEMA). */
export function probeOf(entry: TocEntry, block: ScriptBlock | undefined): Probe | null {
  if (!block) return null;
  const schema = block.schema;
  switch (entry.desc) {
    case "FUNCTION":
    case "PROCEDURE":
    case "AGGREGATE": {
      const open = block.name.indexOf("(");
      if (open <= 0) return null;
      return {
        kind: "function",
        signature: `${quoted(schema)}.${quoted(block.name.slice(0, open))}${block.name.slice(open)}`,
      };
    }
    case "TYPE":
    case "DOMAIN":
      return { kind: "type", name: `${quoted(schema)}.${quoted(block.name)}` };
    case "COLLATION":
      return { kind: "collation", name: `${quoted(schema)}.${quoted(block.name)}` };
    case "EXTENSION":
      return { kind: "extension", name: block.name };
    case "SEQUENCE": {
      const relation = relationOf(block);
      return relation ? { kind: "relation", name: relation } : null;
    }
    default:
      return null;
  }
}

/** Kinds that come back with a restored table when they depend on it (ACL only when owners are kept). */
const ATTACHED = new Set([
  "TABLE DATA",
  "INDEX",
  "INDEX ATTACH",
  "CONSTRAINT",
  "CHECK CONSTRAINT",
  "DEFAULT",
  "TRIGGER",
  "SEQUENCE",
  "SEQUENCE OWNED BY",
  "SEQUENCE SET",
  "COMMENT",
  "SECURITY LABEL",
  "POLICY",
  "ROW SECURITY",
  "RULE",
  "STATISTICS",
  "TABLE ATTACH",
  "VIEW",
  "MATERIALIZED VIEW",
  "MATERIALIZED VIEW DATA",
]);

/** Kinds whose existence in the target is satisfied by their table existing there. */
const PART_OF_TABLE = new Set(["CONSTRAINT", "INDEX", "CHECK CONSTRAINT", "FK CONSTRAINT"]);

/** Kinds that create a relation (a name clash with the target is never overwritten). */
const RELATIONS = new Set(["TABLE", "VIEW", "MATERIALIZED VIEW", "SEQUENCE"]);

export interface SelectionInput {
  entries: readonly TocEntry[];
  blocks: ReadonlyMap<number, ScriptBlock>;
  /** The TABLE entries to restore. */
  tables: ReadonlySet<number>;
  /** Relations (canonical names) that exist in the target. */
  existing: ReadonlySet<string>;
  /** Whether a prerequisite (a function, type, extension, collation) exists in the target. */
  exists: (probe: Probe) => boolean;
  /** ACL entries too (owners and privileges kept). */
  acl: boolean;
}

export interface ReportedKey extends ForeignKeyDefinition {
  why: string;
}

export interface Selection {
  /** Entries to restore, in the archive's order. */
  entries: TocEntry[];
  /** Schemas (unquoted) the restored objects live in: created when missing. */
  schemas: string[];
  /** Sequences restored (canonical). */
  sequences: string[];
  /** Views and materialized views restored with the tables (they had been dropped with them). */
  views: string[];
  /** Sequences the restored tables use that exist in the target already: left as they are. */
  sharedSequences: string[];
  /** Column defaults of tables not restored that use a sequence the restore brings back: statements to apply by hand. */
  otherDefaults: string[];
  foreignKeys: ReportedKey[];
  /**
   * Foreign keys from a restored table to a table the target has and that is not restored: added
   * after the restore commits, each on its own (the rows it references may have changed since the
   * restore point); reported when they do not hold.
   */
  laterForeignKeys: ForeignKeyDefinition[];
}

/**
 * Chooses what restores `tables` usable: the tables, everything attached to them (data, indexes,
 * constraints, defaults, triggers, owned and identity sequences with their values, comments,
 * policies, rules, statistics, partition attachments, views over them that the target lacks), the
 * foreign keys whose both tables will be there, and the prerequisites the target lacks (functions,
 * types, sequences…). Foreign keys with one side missing are reported instead. Sequences and views
 * that exist in the target are left alone.
 */
export function selectEntries(input: SelectionInput): Selection {
  const byId = new Map(input.entries.map((e) => [e.id, e]));
  const dependents = new Map<number, TocEntry[]>();
  for (const e of input.entries) {
    for (const d of e.dependsOn) {
      const list = dependents.get(d) ?? [];
      list.push(e);
      dependents.set(d, list);
    }
  }
  const included = new Set<number>(input.tables);
  const relation = (id: number) => relationOf(input.blocks.get(id));
  const inTarget = (id: number): boolean => {
    const e = byId.get(id);
    if (!e) return true;
    if (RELATIONS.has(e.desc)) {
      const name = relation(id);
      return name !== null && input.existing.has(name);
    }
    // A constraint or index of a table that exists in the target is there with it.
    if (PART_OF_TABLE.has(e.desc)) {
      const tables = e.dependsOn.filter((d) => byId.get(d)?.desc === "TABLE");
      return tables.length > 0 && tables.every((d) => !included.has(d) && inTarget(d));
    }
    // Functions, types, schemas…: taken from the archive when missing (prerequisites below).
    return true;
  };
  const satisfied = (e: TocEntry) => e.dependsOn.every((d) => included.has(d) || inTarget(d));

  const foreignKeys = new Map<number, ReportedKey>();
  const later: ForeignKeyDefinition[] = [];
  const skipped = new Set<number>();
  /** Sequences the restored tables use that exist in the target: left as they are, and said. */
  const shared = new Set<number>();
  const closeOver = (queue: number[]) => {
    while (queue.length > 0) {
      const id = queue.shift();
      if (id === undefined) break;
      for (const e of dependents.get(id) ?? []) {
        if (included.has(e.id) || skipped.has(e.id)) continue;
        if (e.desc === "FK CONSTRAINT") continue;
        const acl = e.desc === "ACL" && input.acl;
        if (!ATTACHED.has(e.desc) && !acl) continue;
        // Existing relations (a sequence owned by another table, a view recreated since) stay as they are.
        if (RELATIONS.has(e.desc) && inTarget(e.id)) {
          skipped.add(e.id);
          if (e.desc === "SEQUENCE") shared.add(e.id);
          continue;
        }
        if (!satisfied(e)) continue;
        included.add(e.id);
        queue.push(e.id);
      }
    }
  };
  closeOver([...input.tables]);
  // A partition needs its partitioned table (which holds no rows of its own) to be attached to it.
  const parents: number[] = [];
  for (const id of input.tables) {
    for (const d of byId.get(id)?.dependsOn ?? []) {
      const dep = byId.get(d);
      const block = input.blocks.get(d);
      if (dep?.desc !== "TABLE" || included.has(d) || !block || !/\)\s*PARTITION BY /.test(block.sql))
        continue;
      if (inTarget(d)) continue;
      included.add(d);
      parents.push(d);
    }
  }
  closeOver(parents);

  // Foreign keys touching a restored table: restored when both tables will be there, else reported.
  const restoredTables = new Set([...input.tables].map(relation).filter((n): n is string => n !== null));
  for (const e of input.entries) {
    if (e.desc !== "FK CONSTRAINT") continue;
    const fk = foreignKeyOf(input.blocks.get(e.id));
    if (!fk) continue;
    const holds = restoredTables.has(fk.table);
    const referenced = restoredTables.has(fk.references);
    if (!holds && !referenced) continue;
    const present = (table: string) => restoredTables.has(table) || input.existing.has(table);
    if (holds && restoredTables.has(fk.references) && satisfied(e)) {
      included.add(e.id);
    } else if (holds && present(fk.references) && satisfied(e)) {
      later.push(fk);
    } else if (!holds) {
      foreignKeys.set(e.id, {
        ...fk,
        why: input.existing.has(fk.table)
          ? `${fk.table} is not restored: lifeline does not change tables it does not restore`
          : `${fk.table} is not restored and does not exist in the target`,
      });
    } else {
      foreignKeys.set(e.id, {
        ...fk,
        why: `${fk.references} is not restored and does not exist in the target`,
      });
    }
  }

  // Prerequisites the target lacks (a trigger's function, a column's type, a default's sequence).
  const schemas = new Set<string>();
  for (const table of restoredTables) schemas.add(splitQualifiedName(table)[0] ?? "public");
  const pending = [...included];
  while (pending.length > 0) {
    const id = pending.pop();
    if (id === undefined) break;
    for (const d of byId.get(id)?.dependsOn ?? []) {
      const dep = byId.get(d);
      if (!dep || included.has(d)) continue;
      if (dep.desc === "SCHEMA") {
        const schema = schemaOf(input.blocks.get(d));
        if (schema !== null) schemas.add(schema);
        continue;
      }
      const probe = probeOf(dep, input.blocks.get(d));
      if (!probe) continue;
      const present = probe.kind === "relation" ? input.existing.has(probe.name) : input.exists(probe);
      if (present) {
        if (dep.desc === "SEQUENCE") shared.add(d);
        continue;
      }
      included.add(d);
      pending.push(d);
      // A sequence comes back with its value.
      if (dep.desc === "SEQUENCE") {
        for (const s of dependents.get(d) ?? []) if (s.desc === "SEQUENCE SET") included.add(s.id);
      }
    }
  }

  // A default of a table that is not restored may use a sequence this restore brings back (one that
  // DROP … CASCADE took, and the default with it): said, with the statement, never applied.
  const defaults: string[] = [];
  for (const e of input.entries) {
    // pg_dump writes a default inline in CREATE TABLE when its sequence is dumped before the table.
    if (e.desc === "TABLE" && !included.has(e.id)) {
      const restoredSequences = e.dependsOn
        .filter((d) => byId.get(d)?.desc === "SEQUENCE" && included.has(d))
        .map(relation)
        .filter((n): n is string => n !== null);
      const block = input.blocks.get(e.id);
      const table = relation(e.id);
      if (restoredSequences.length === 0 || !block || table === null) continue;
      for (const m of block.sql.matchAll(
        new RegExp(String.raw`^\s+(${IDENT}) [^\n]*?DEFAULT (nextval\('[^']*'::regclass\))`, "gm"),
      )) {
        if (m[1] && m[2])
          defaults.push(`ALTER TABLE ONLY ${table} ALTER COLUMN ${m[1]} SET DEFAULT ${m[2]};`);
      }
      continue;
    }
    if (e.desc !== "DEFAULT" || included.has(e.id)) continue;
    const usesRestored = e.dependsOn.some((d) => byId.get(d)?.desc === "SEQUENCE" && included.has(d));
    const ofOther = e.dependsOn.some((d) => byId.get(d)?.desc === "TABLE" && !included.has(d));
    const sql = input.blocks.get(e.id)?.sql;
    if (usesRestored && ofOther && sql)
      defaults.push(
        sql
          .split("\n")
          .filter((line) => !line.startsWith("\\"))
          .join("\n")
          .trim(),
      );
  }

  // A partition whose partitioned table is in the target (not restored) is restored as a table of
  // its own with its indexes and constraints, then attached: attached first, it would get the
  // partitioned table's indexes created (a second primary key: "multiple primary keys"). Attaching
  // it last attaches its matching indexes instead; the INDEX ATTACH entries then change nothing.
  const chosen = input.entries.filter((e) => included.has(e.id));
  const intoExisting = (e: TocEntry) =>
    e.dependsOn.some((d) => {
      const dep = byId.get(d);
      return dep !== undefined && !included.has(d) && (dep.desc === "TABLE" || PART_OF_TABLE.has(dep.desc));
    });
  const attachLast = chosen.filter((e) => e.desc === "TABLE ATTACH" && intoExisting(e));
  const indexesLast =
    attachLast.length > 0 ? chosen.filter((e) => e.desc === "INDEX ATTACH" && intoExisting(e)) : [];
  const late = new Set([...attachLast, ...indexesLast]);
  const entries = [...chosen.filter((e) => !late.has(e)), ...attachLast, ...indexesLast];
  const names = (desc: string[]) =>
    entries
      .filter((e) => desc.includes(e.desc))
      .map((e) => relation(e.id))
      .filter((n): n is string => n !== null);
  return {
    entries,
    schemas: [...schemas].sort(),
    sequences: names(["SEQUENCE"]).sort(),
    views: names(["VIEW", "MATERIALIZED VIEW"]).sort(),
    otherDefaults: defaults,
    sharedSequences: [...shared]
      .map(relation)
      .filter((n): n is string => n !== null)
      .sort(),
    foreignKeys: [...foreignKeys.values()],
    laterForeignKeys: later,
  };
}

/**
 * The list file `pg_restore --use-list` reads: the chosen entries' lines, in the archive's order
 * (but partitions attached to an existing partitioned table last: see selectEntries).
 */
export function listFile(entries: readonly TocEntry[]): string {
  return entries.map((e) => e.line).join("\n") + "\n";
}

/**
 * The database guard's triggers (lifeline guard install): its table triggers and event triggers
 * call functions in the lifeline_guard schema, which backups leave out (with the guard's key), so
 * restores leave the triggers out too: a restored database never carries a guard with a stale key
 * (or a broken one); `lifeline guard install` puts a new one in place.
 */
const GUARD_ENTRY =
  /^\d+;\s+\d+\s+\d+\s+(EVENT TRIGGER - |TRIGGER \S+ \S+ )lifeline_guard_(truncate|delete|update|drop|ddl|rewrite) /;

export function isGuardEntry(entry: TocEntry): boolean {
  return (entry.desc === "TRIGGER" || entry.desc === "EVENT TRIGGER") && GUARD_ENTRY.test(entry.line);
}

export function withoutGuard(entries: readonly TocEntry[]): TocEntry[] {
  return entries.filter((e) => !isGuardEntry(e));
}
