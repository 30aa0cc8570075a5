import { quoteLiteral, sqlIdent } from "../connection.js";

/**
 * Settings whose value is a list of quoted items (pg_dump's GUC_LIST_QUOTE variables): stored as
 * `"$user", public`, they must be given back item by item, or the whole list becomes one item.
 */
const LIST_QUOTED = new Set([
  "search_path",
  "temp_tablespaces",
  "session_preload_libraries",
  "local_preload_libraries",
  "shared_preload_libraries",
  "unix_socket_directories",
]);

/** Splits a stored list value (`"$user", public`) into its items, undoing the double quotes. */
export function splitSettingList(value: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    while (value[i] === " " || value[i] === "\t") i++;
    if (i >= value.length) break;
    let item = "";
    if (value[i] === '"') {
      i++;
      while (i < value.length) {
        if (value[i] === '"' && value[i + 1] === '"') {
          item += '"';
          i += 2;
        } else if (value[i] === '"') {
          i++;
          break;
        } else item += value[i++];
      }
      while (i < value.length && value[i] !== ",") i++;
    } else {
      const end = value.indexOf(",", i);
      item = value.slice(i, end === -1 ? value.length : end).trim();
      i = end === -1 ? value.length : end;
    }
    items.push(item);
    if (value[i] === ",") i++;
  }
  return items;
}

/**
 * `ALTER DATABASE <database> SET …` (or `ALTER ROLE <role> IN DATABASE …`) giving back one entry of
 * pg_db_role_setting.setconfig (`name=value`) as it was set.
 */
export function alterSettingSql(database: string, role: string | null, setting: string): string {
  const at = setting.indexOf("=");
  const name = at === -1 ? setting : setting.slice(0, at);
  const value = at === -1 ? "" : setting.slice(at + 1);
  const items = LIST_QUOTED.has(name.toLowerCase()) ? splitSettingList(value) : [value];
  const rendered = items.length === 0 ? "''" : items.map(quoteLiteral).join(", ");
  const subject =
    role === null
      ? `DATABASE ${sqlIdent(database)}`
      : `ROLE ${sqlIdent(role)} IN DATABASE ${sqlIdent(database)}`;
  // Setting names are case-insensitive and may be dotted (myapp.tenant): quoted only when they must be.
  const variable = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)*$/.test(name) ? name : sqlIdent(name);
  return `ALTER ${subject} SET ${variable} = ${rendered}`;
}

/** One entry of aclexplode(datacl), given back as a GRANT (grantee null: PUBLIC). */
export function grantSql(
  database: string,
  entry: { grantee: string | null; privilege: string; grantable: boolean },
): string {
  const to = entry.grantee === null ? "PUBLIC" : sqlIdent(entry.grantee);
  if (!/^[A-Z]+$/.test(entry.privilege)) throw new Error(`unexpected database privilege ${entry.privilege}`);
  const privilege = entry.privilege;
  return `GRANT ${privilege} ON DATABASE ${sqlIdent(database)} TO ${to}${entry.grantable ? " WITH GRANT OPTION" : ""}`;
}
