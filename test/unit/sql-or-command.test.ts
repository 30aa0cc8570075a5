import assert from "node:assert/strict";
import { test } from "node:test";
import { sqlOrCommand } from "../../src/cli/sql-or-command.js";

const signal = new AbortController().signal;
const argv = (...words: string[]) => ["node", "main.js", ...words];

test("sqlOrCommand: a command after --, for plan and run alike", async () => {
  for (const verb of ["plan", "run"] as const) {
    assert.deepEqual(
      await sqlOrCommand(
        verb,
        undefined,
        {},
        signal,
        argv(verb, "--json", "--", "kubectl", "delete", "pvc", "x"),
      ),
      { kind: "command", argv: ["kubectl", "delete", "pvc", "x"] },
    );
  }
});

test("sqlOrCommand: an asset and --sql", async () => {
  assert.deepEqual(
    await sqlOrCommand("run", "shop", { sql: "TRUNCATE carts" }, signal, argv("run", "shop")),
    {
      kind: "sql",
      asset: "shop",
      sql: "TRUNCATE carts",
    },
  );
});

test("sqlOrCommand: SQL and a command at once, no asset, or not exactly one of --sql/-f: usage errors in the verb's words", async () => {
  await assert.rejects(
    sqlOrCommand("plan", "shop", {}, signal, argv("plan", "shop", "--", "kubectl", "get", "pods")),
    { code: "USAGE", message: "plan takes either SQL for an asset or a command after --, not both" },
  );
  await assert.rejects(
    sqlOrCommand("run", undefined, { sql: "x" }, signal, argv("run", "--sql", "x", "--", "kubectl")),
    {
      code: "USAGE",
      message: "run takes either SQL for an asset or a command after --, not both",
    },
  );
  await assert.rejects(sqlOrCommand("plan", undefined, {}, signal, argv("plan")), {
    message: "plan needs an asset and SQL, or a command after --",
  });
  await assert.rejects(sqlOrCommand("plan", "shop", { sql: "x", file: "y" }, signal, argv("plan", "shop")), {
    message: "plan needs the SQL: give exactly one of --sql or -f/--file",
  });
  await assert.rejects(sqlOrCommand("run", "shop", {}, signal, argv("run", "shop")), {
    message: "run needs an asset and exactly one of --sql or -f, or a command after --",
  });
});
