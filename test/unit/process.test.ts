import assert from "node:assert/strict";
import { test } from "node:test";
import { runChild } from "../../src/support/process.js";

/** A child that kills itself with a signal: its exit status is 128 + the signal's number, as shells report it. */
async function killedBy(signal: string) {
  return runChild(["sh", "-c", `kill -${signal} $$`], {
    output: "stderr",
    signal: new AbortController().signal,
  });
}

test("runChild: a child killed by a signal exits with 128 + that signal's number", async () => {
  assert.equal((await killedBy("HUP")).exitCode, 129);
  assert.equal((await killedBy("INT")).exitCode, 130);
  assert.equal((await killedBy("QUIT")).exitCode, 131);
  assert.equal((await killedBy("KILL")).exitCode, 137);
  assert.equal((await killedBy("USR1")).exitCode, 138);
  assert.equal((await killedBy("TERM")).exitCode, 143);
});

test("runChild: the signal's name is kept for messages", async () => {
  const result = await killedBy("QUIT");
  assert.equal(result.signal, "SIGQUIT");
  const exited = await runChild(["sh", "-c", "exit 3"], {
    output: "stderr",
    signal: new AbortController().signal,
  });
  assert.deepEqual(exited, { exitCode: 3, signal: null });
});
