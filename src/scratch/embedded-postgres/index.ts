/**
 * The embedded Scratch adapter: composes the server binaries (./binaries.ts), a copy of a cached
 * template cluster (./template-cache.ts) and the server process (./server-process.ts).
 */
import { randomBytes } from "node:crypto";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { LifelineError } from "../../core/errors.js";
import type { Scratch, ScratchInstance } from "../../ports/scratch.js";
import { quoteLiteral, targetFromUrl } from "../../engines/postgres/connection.js";
import {
  assertServerUserCanEnter,
  locateServerBinaries,
  reachableByServerUser,
  serverUser,
} from "./binaries.js";
import {
  SCRATCH_PREFIX,
  THROWAWAY_SETTINGS,
  freePort,
  reapAbandonedScratch,
  startServer,
  stopServer,
  type RunningServer,
} from "./server-process.js";
import { copyTemplate, discard, templateCacheDir, templateKey } from "./template-cache.js";

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
 * A throwaway PostgreSQL: a copy of a cached template cluster (see copyTemplate) in a private temp
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

      const dir = await mkdtemp(path.join(os.tmpdir(), SCRATCH_PREFIX));
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
            if (user) {
              await chown(dir, user.uid, user.gid);
              await assertServerUserCanEnter(dir, user);
            }
            return user ? { ...bin, ...(await reachableByServerUser(bin, user, dir)) } : bin;
          })(),
        ]);
        const data = path.join(dir, "data");

        const template = await copyTemplate(bin, key, user, signal, cacheDir, data);

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
