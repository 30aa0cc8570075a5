import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CLI, cli, cliTmpDir, startCli } from "../support/cli.js";
import { createDatabase, query, tempDir, type TestDatabase } from "../support/pg.js";

function noStackTrace(text: string): void {
  assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+\)?/, "no stack trace");
  assert.doesNotMatch(text, /Unhandled|unhandled/, "no unhandled rejection");
}

/** The plan echoes the SQL it planned: a 300 kB comment makes a 300 kB document cheaply. */
const BIG_SQL = `SELECT count(*) FROM orders;\n-- ${"x".repeat(300_000)}\n`;

function config(url: string): string {
  return `assets:
  shop:
    url: ${url}
    tier: production
`;
}

describe("output, exits and input limits of the CLI, run as a process", () => {
  let db: TestDatabase;
  const work = tempDir("lifeline-io-e2e-");
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) => cli(args, { cwd: work.dir, env });

  before(async () => {
    db = await createDatabase("lifeline_io_e2e");
    await query(
      db.url,
      `CREATE TABLE orders (id int PRIMARY KEY, note text);
       INSERT INTO orders SELECT i, 'n' || i FROM generate_series(1, 100) i;`,
    );
    writeFileSync(path.join(work.dir, "lifeline.yaml"), config(db.url));
    writeFileSync(path.join(work.dir, "big.sql"), BIG_SQL);
  });
  after(async () => {
    await db.drop();
    work.remove();
  });

  /** The CLI in a shell pipeline, as a user runs it: `lifeline … | reader`. */
  const pipeline = async (args: string, reader: string) => {
    const child = spawn("sh", ["-c", `"${process.execPath}" "${CLI}" ${args} 2>stderr.txt | ${reader}`], {
      cwd: work.dir,
      env: { ...process.env, LIFELINE_CONFIG: "", TMPDIR: cliTmpDir() },
    });
    let stdout = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { code, stdout, stderr: readFileSync(path.join(work.dir, "stderr.txt"), "utf8") };
  };

  it("a JSON document larger than a pipe's buffer reaches a slow reader whole", async () => {
    const result = await pipeline("plan shop -f big.sql --json", "(sleep 1; cat)");
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stdout.length > 300_000, `got ${result.stdout.length} bytes`);
    const doc = JSON.parse(result.stdout) as { command: { text: string }; verdict: string };
    assert.equal(doc.command.text, BIG_SQL);
    assert.equal(doc.verdict, "allow");
  });

  it("a reader that goes away early (| head) is no failure: no EPIPE, no stack trace", async () => {
    const result = await pipeline("plan shop -f big.sql --json", "head -c 100");
    assert.equal(result.code, 0);
    assert.equal(result.stdout.length, 100);
    assert.equal(result.stderr, "");
  });

  describe("the asset's server is down and it has a verified restore point", () => {
    const down = tempDir("lifeline-io-down-");
    before(async () => {
      writeFileSync(path.join(down.dir, "lifeline.yaml"), config(db.url));
      const backup = await cli(["backup", "shop"], { cwd: down.dir });
      assert.equal(backup.code, 0, backup.stderr);
      const drill = await cli(["drill", "shop"], { cwd: down.dir });
      assert.equal(drill.code, 0, drill.stderr + drill.stdout);
      // Nothing listens on port 1: the server is down.
      writeFileSync(
        path.join(down.dir, "lifeline.yaml"),
        config(db.url.replace("127.0.0.1:5432", "127.0.0.1:1")),
      );
    });
    after(() => down.remove());

    for (const command of ["plan", "run"]) {
      it(`${command} prints the error, and no stack trace`, async () => {
        for (let i = 0; i < 3; i++) {
          const result = await cli([command, "shop", "--sql", "DELETE FROM orders"], { cwd: down.dir });
          assert.equal(result.code, 1, result.stderr);
          assert.match(result.stderr, /^error: /m);
          assert.match(result.stderr, /ECONNREFUSED|connect/);
          noStackTrace(result.stderr);
        }
      });
    }
  });

  describe("SQL input is bounded", () => {
    for (const command of ["plan", "run"]) {
      it(
        `${command} -f /dev/zero stops at the limit with an error naming it and the fix (exit 2)`,
        { timeout: 30_000 },
        async () => {
          const result = await run([command, "shop", "-f", "/dev/zero"], {
            LIFELINE_MAX_SQL_BYTES: String(4 * 1024 * 1024),
          });
          assert.equal(result.code, 2, result.stderr);
          assert.match(result.stderr, /^error: \/dev\/zero is larger than 4 MiB \(4194304 bytes\)/m);
          assert.match(result.stderr, /fix: .*LIFELINE_MAX_SQL_BYTES=8388608/);
          noStackTrace(result.stderr);
        },
      );
    }

    it(
      "the default limit is 64 MiB; standard input and --sql are bounded too",
      { timeout: 60_000 },
      async () => {
        const file = await run(["plan", "shop", "-f", "/dev/zero"]);
        assert.equal(file.code, 2, file.stderr);
        assert.match(file.stderr, /larger than 64 MiB \(67108864 bytes\)/);

        const { child, done } = startCli(["plan", "shop", "-f", "-"], {
          cwd: work.dir,
          env: { LIFELINE_MAX_SQL_BYTES: "100000" },
          stdin: "pipe",
        });
        child.stdin?.on("error", () => undefined); // the CLI stops reading
        child.stdin?.write(`-- ${"y".repeat(200_000)}\n`);
        const stdin = await done;
        assert.equal(stdin.code, 2, stdin.stderr);
        assert.match(stdin.stderr, /error: standard input is larger than 100000 bytes/);

        const arg = await run(["plan", "shop", "--sql", `SELECT 1; -- ${"z".repeat(2000)}`], {
          LIFELINE_MAX_SQL_BYTES: "1000",
        });
        assert.equal(arg.code, 2, arg.stderr);
        assert.match(arg.stderr, /error: --sql is larger than 1000 bytes/);

        const bad = await run(["plan", "shop", "--sql", "SELECT 1"], { LIFELINE_MAX_SQL_BYTES: "lots" });
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(bad.stderr, /LIFELINE_MAX_SQL_BYTES: "lots" is not a positive number of bytes/);
      },
    );

    it("SIGTERM stops reading an endless standard input (exit 130)", { timeout: 30_000 }, async () => {
      const { child, done } = startCli(["plan", "shop", "-f", "-"], { cwd: work.dir, stdin: "pipe" });
      child.stdin?.on("error", () => undefined);
      // Some SQL, then a pipe that stays open and says nothing more.
      child.stdin?.write("SELECT 1;\n".repeat(1000));
      try {
        await new Promise((r) => setTimeout(r, 1000));
        child.kill("SIGTERM");
        const result = await done;
        assert.equal(result.code, 130, result.stderr);
        assert.match(result.stderr, /SIGTERM received/);
        noStackTrace(result.stderr);
      } finally {
        child.kill("SIGKILL");
      }
    });
  });
});
