/**
 * The template cache: initdb once per key (binaries, server user, encoding, locale, database), a
 * copy of the stopped template cluster per drill. Templates are published atomically, checked on
 * every copy, and a damaged one is never used but rebuilt; concurrent first drills agree on one.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { LifelineError, interrupted } from "../../core/errors.js";
import type { DatabaseLocale } from "../../core/restore-point/restore-point.js";
import { fileSize, fsyncPath, isPidAlive, listFiles } from "../../support/files.js";
import { run } from "../../support/process.js";
import { createDatabaseSql, localeError } from "../../engines/postgres/connection.js";
import { reachableByServerUser, type Binaries } from "./binaries.js";
import { SCRATCH_PREFIX, THROWAWAY_SETTINGS, startServer, stopServer } from "./server-process.js";

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

export async function templateKey(
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

export interface TemplateMarker {
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
export async function discard(dir: string): Promise<void> {
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

export interface Template {
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
  const staging = await mkdtemp(path.join(os.tmpdir(), SCRATCH_PREFIX));
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

/**
 * Copies a template cluster into `data` (which must not exist yet) and checks the copy against the
 * template's marker: a damaged cached template is never used but discarded and rebuilt, once.
 * Returns the template the copy came from.
 */
export async function copyTemplate(
  bin: Binaries,
  key: TemplateKey,
  user: { uid: number; gid: number } | undefined,
  signal: AbortSignal,
  cacheDir: string,
  data: string,
): Promise<Template> {
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
  return template;
}
