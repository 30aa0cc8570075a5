import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pluginArgv } from "../../src/cli/plugin-argv.js";

describe("kubectl lifeline … → lifeline …", () => {
  it("plan and run take the kubectl words, lifeline's options first", () => {
    assert.deepEqual(pluginArgv(["plan", "delete", "pvc", "x", "-n", "shop"]), [
      "plan",
      "--",
      "kubectl",
      "delete",
      "pvc",
      "x",
      "-n",
      "shop",
    ]);
    assert.deepEqual(
      pluginArgv(["run", "--json", "--context", "prod", "-c", "l.yaml", "delete", "ns", "shop"]),
      ["run", "--json", "--context", "prod", "-c", "l.yaml", "--", "kubectl", "delete", "ns", "shop"],
    );
    assert.deepEqual(pluginArgv(["plan", "--", "helm", "uninstall", "pg", "-n", "shop"]), [
      "plan",
      "--",
      "helm",
      "uninstall",
      "pg",
      "-n",
      "shop",
    ]);
    assert.deepEqual(pluginArgv(["plan", "--", "delete", "pvc", "x"]), [
      "plan",
      "--",
      "kubectl",
      "delete",
      "pvc",
      "x",
    ]);
    assert.deepEqual(pluginArgv(["plan", "kubectl", "delete", "pvc", "x"]), [
      "plan",
      "--",
      "kubectl",
      "delete",
      "pvc",
      "x",
    ]);
  });

  it("nothing to plan, and other commands, pass through", () => {
    assert.deepEqual(pluginArgv(["plan", "--help"]), ["plan", "--help"]);
    assert.deepEqual(pluginArgv(["status", "--json"]), ["status", "--json"]);
    assert.deepEqual(pluginArgv([]), []);
  });
});
