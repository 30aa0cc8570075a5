import { run } from "../../../support/process.js";

const IDENT = String.raw`("(?:[^"]|"")*"|[A-Za-z0-9_$]+)`;
const OWNER = new RegExp(String.raw` OWNER TO ${IDENT};$`);
const GRANT = new RegExp(String.raw` TO ${IDENT}(?: WITH GRANT OPTION)?(?: GRANTED BY ${IDENT})?;$`);
const REVOKE = new RegExp(String.raw` FROM ${IDENT}(?: CASCADE)?;$`);
const FOR_ROLE = new RegExp(String.raw`^ALTER DEFAULT PRIVILEGES FOR ROLE ${IDENT} `);

function unquote(ident: string): string {
  return ident.startsWith('"') ? ident.slice(1, -1).replace(/""/g, '"') : ident;
}

/**
 * The roles a restore with owners and privileges needs to exist, read from the SQL pg_restore
 * would run (`--schema-only --file -`): owners (`ALTER … OWNER TO`), grantees and grantors of
 * privileges (GRANT, REVOKE, ALTER DEFAULT PRIVILEGES FOR ROLE). PUBLIC is not a role.
 */
export function rolesInRestoreScript(sql: string): string[] {
  const roles = new Set<string>();
  for (const line of sql.split("\n")) {
    if (line.startsWith("--")) continue;
    const found: (string | undefined)[] = [];
    const owner = OWNER.exec(line);
    if (owner) found.push(owner[1]);
    if (/^(GRANT|REVOKE|ALTER DEFAULT PRIVILEGES) /.test(line)) {
      const forRole = FOR_ROLE.exec(line);
      if (forRole) found.push(forRole[1]);
      const grant = / GRANT /.test(` ${line}`) ? GRANT.exec(line) : null;
      if (grant) found.push(grant[1], grant[2]);
      const revoke = / REVOKE /.test(` ${line}`) ? REVOKE.exec(line) : null;
      if (revoke) found.push(revoke[1]);
    }
    for (const ident of found) {
      if (ident === undefined || ident === "PUBLIC") continue;
      roles.add(unquote(ident));
    }
  }
  return [...roles].sort();
}

/** Runs pg_restore on the archive to list the roles its owners and privileges name. */
export async function archiveRoles(
  pgRestore: string,
  archive: string,
  signal: AbortSignal,
): Promise<string[]> {
  const { stdout } = await run(pgRestore, ["--schema-only", "--no-tablespaces", "--file", "-", archive], {
    captureStdout: true,
    signal,
    errorCode: "RESTORE_FAILED",
    purpose: "reading the owners and privileges of the archive (pg_restore --schema-only)",
  });
  return rolesInRestoreScript(stdout);
}
