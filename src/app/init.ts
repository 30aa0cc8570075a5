import { existsSync } from "node:fs";
import path from "node:path";
import { LifelineError } from "../core/errors.js";
import { redactUrl } from "../core/redact.js";
import { ASSET_NAME } from "../config/schema.js";
import { interpolate } from "../config/load.js";
import { engineFor } from "../engines/index.js";
import { writeFileAtomic } from "../support/files.js";

export interface InitOptions {
  asset: string;
  url: string;
  tier: string;
  rpo: string;
  repository: string;
  file: string;
  force: boolean;
  connect: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface InitResult {
  file: string;
  connected: boolean;
  display: string;
  serverVersion: string | null;
  notes: string[];
}

/**
 * The URL as it goes into the file: a literal password is replaced by an ${ENV} reference, so the
 * secret stays out of a file that is likely to be committed.
 */
export function urlForFile(url: string, asset: string): { url: string; passwordVariable: string | null } {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url)?.[0];
  if (!scheme) return { url, passwordVariable: null };
  const rest = url.slice(scheme.length);
  // The user info ends at the last '@' of the authority (a raw '@' may sit in the password); the
  // user name ends at the first ':' (a raw ':' may sit in the password, never in the user name).
  const pathStart = rest.indexOf("/", rest.lastIndexOf("@"));
  const authority = pathStart === -1 ? rest : rest.slice(0, pathStart);
  const at = authority.lastIndexOf("@");
  const colon = authority.indexOf(":");
  if (at === -1 || colon === -1 || colon > at) return { url, passwordVariable: null };
  const password = authority.slice(colon + 1, at);
  if (password === "" || /^\$\{[^}]*\}$/.test(password)) return { url, passwordVariable: null };
  const variable = `${asset.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_DB_PASSWORD`;
  return {
    url: `${scheme}${authority.slice(0, colon)}:\${${variable}}${rest.slice(at)}`,
    passwordVariable: variable,
  };
}

export function starterConfig(o: {
  asset: string;
  url: string;
  tier: string;
  rpo: string;
  repository: string;
}): string {
  return `# lifeline.yaml — what lifeline protects and where its restore points live.
# Reference: "Configuration" in the README. Values may use \${ENV_VAR} or \${ENV_VAR:-default}.

repository:
  # Local directory for restore points and drill reports, relative to this file.
  # It is self-describing: everything needed to list, check and restore is inside it.
  path: ${JSON.stringify(o.repository)}

# tools:
#   pgBin: /usr/lib/postgresql/16/bin   # pg_dump/pg_restore to use (default: PATH); must not be older than the server

backup:
  jobs: 2          # parallel pg_dump jobs and fingerprint connections
  compression: 1   # gzip level 0-9 for the archive (1: fast, most of the size win)

assets:
  ${o.asset}:
    engine: postgres
    # Keep passwords out of this file: reference an environment variable.
    url: ${JSON.stringify(o.url)}
    tier: ${o.tier}        # production | staging | development
    rpo: ${o.rpo}          # the newest verified restore point must be younger than this
    drill:
      # Where drills restore: "embedded" (a throwaway PostgreSQL started by lifeline) or
      # { url: postgres://user:\${PW}@scratch-host:5432/postgres } — a server where lifeline may create
      # and drop uniquely named databases. Never the source database.
      scratch: embedded
      jobs: 2
`;
}

export async function init(o: InitOptions): Promise<InitResult> {
  if (!ASSET_NAME.test(o.asset)) {
    throw new LifelineError({
      code: "USAGE",
      kind: "usage",
      message: `--asset: "${o.asset}" is not a valid asset name`,
      fix: "use lowercase letters, digits, - and _, starting with a letter or digit (e.g. shop, billing-db)",
    });
  }
  const file = path.resolve(o.cwd, o.file);
  if (existsSync(file) && !o.force) {
    throw new LifelineError({
      code: "CONFIG_EXISTS",
      kind: "usage",
      message: `${file} already exists; it was left unchanged`,
      fix: "edit it to add the asset, or pass --force to overwrite it",
    });
  }
  const engine = engineFor("postgres");
  const live = interpolate(o.url, "--url", o.env);
  const target = engine.target(live);
  const notes: string[] = [];
  let serverVersion: string | null = null;
  if (o.connect) {
    const source = await engine.probe(target);
    serverVersion = source.serverVersion;
  }
  const written = urlForFile(o.url, o.asset);
  if (written.passwordVariable) {
    notes.push(
      `the password was not written to the file: it reads \${${written.passwordVariable}}; export ${written.passwordVariable} before running lifeline`,
    );
  }
  await writeFileAtomic(file, starterConfig({ ...o, url: written.url }));
  return { file, connected: o.connect, display: redactUrl(live), serverVersion, notes };
}
