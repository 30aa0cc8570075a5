/**
 * As root the embedded scratch runs as the postgres user: a temporary directory that user cannot
 * enter (mktemp -d makes it 0700) is named with the fix, not left to PostgreSQL's "Permission denied".
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { embeddedScratch } from "../../src/scratch/embedded-postgres/index.js";
import { tempDir } from "../support/pg.js";

const asRoot = process.getuid?.() === 0;

describe("embedded scratch and a private TMPDIR", { skip: asRoot ? false : "only as root" }, () => {
  const work = tempDir("lifeline-scratch-tmpdir-");
  const previous = process.env.TMPDIR;
  after(() => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    work.remove();
  });

  it("a TMPDIR the server user cannot enter is named, with the fix, and nothing is left in it", async () => {
    const tmp = path.join(work.dir, "private");
    mkdirSync(tmp);
    chmodSync(tmp, 0o700);
    process.env.TMPDIR = tmp;
    const scratch = embeddedScratch({ cacheDir: path.join(work.dir, "cache") });
    await assert.rejects(
      scratch.provision({
        minMajor: 15,
        encoding: "UTF8",
        database: "drill",
        signal: new AbortController().signal,
      }),
      (error: Error & { code?: string; fix?: string }) => {
        assert.equal(error.code, "SCRATCH_UNAVAILABLE");
        assert.match(error.message, /postgres user.*cannot enter the temporary directory/);
        assert.ok(error.message.includes(tmp), error.message);
        assert.match(error.fix ?? "", /TMPDIR/);
        return true;
      },
    );
    assert.deepEqual(readdirSync(tmp), [], "the scratch directory was removed");
  });
});
