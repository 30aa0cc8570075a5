/**
 * The Scratch contract (scratch.contract.ts) run against every adapter: the embedded PostgreSQL and
 * a configured scratch server (here the PostgreSQL on this machine, as a role of its own).
 */
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { embeddedScratch } from "../../src/scratch/embedded-postgres/index.js";
import { serverScratch } from "../../src/scratch/server.js";
import { ADMIN_URL, query, tempDir } from "../support/pg.js";
import { scratchContract } from "./scratch.contract.js";

/** Processes whose command line names a path under dir (a scratch server left running). */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (cmdline.includes(dir)) found.push(`process ${pid}: ${cmdline.trim()}`);
  }
  return found;
}

scratchContract("embedded PostgreSQL", async () => {
  // A private temp directory for the scratches of this test, so that what is left there is theirs;
  // the server user (postgres, when the tests run as root) must be able to reach it.
  const work = tempDir("lifeline-scratch-contract-");
  chmodSync(work.dir, 0o711);
  const tmp = path.join(work.dir, "tmp");
  mkdirSync(tmp, { mode: 0o711 });
  chmodSync(tmp, 0o711);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
  return {
    scratch: embeddedScratch({ cacheDir: path.join(work.dir, "cache") }),
    leftovers: async () => [
      ...readdirSync(tmp).map((name) => `directory ${path.join(tmp, name)}`),
      ...processesUnder(tmp),
    ],
    cleanup: async () => {
      if (previous === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previous;
      work.remove();
    },
  };
});

scratchContract("scratch server", async () => {
  // A role of its own: the databases it owns are exactly the ones this adapter created.
  const role = `lifeline_scratch_${randomBytes(4).toString("hex")}`;
  await query(ADMIN_URL, `CREATE ROLE ${role} LOGIN CREATEDB`);
  const url = new URL(ADMIN_URL);
  url.username = role;
  url.password = "";
  const owned = async () =>
    (
      await query<{ datname: string }>(
        ADMIN_URL,
        "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY 1",
        [role],
      )
    ).map((r) => r.datname);
  return {
    scratch: serverScratch(url.toString()),
    leftovers: async () => (await owned()).map((name) => `database ${name}`),
    cleanup: async () => {
      for (const name of await owned()) await query(ADMIN_URL, `DROP DATABASE "${name}" WITH (FORCE)`);
      await query(ADMIN_URL, `DROP ROLE ${role}`);
    },
  };
});
