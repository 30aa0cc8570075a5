import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalCommand,
  displayCommand,
  isUnknown,
  parseCommand,
  redactArgv,
} from "../../src/core/kubernetes/command/index.js";

describe("robustness", () => {
  const vocabulary = fc.constantFrom(
    "kubectl",
    "helm",
    "delete",
    "scale",
    "patch",
    "drain",
    "uninstall",
    "upgrade",
    "rollback",
    "install",
    "get",
    "create",
    "secret",
    "pvc",
    "sts/x",
    "pvc,sts",
    "all",
    "-n",
    "-nshop",
    "--namespace=x",
    "-A",
    "-Aowide",
    "--all",
    "-l",
    "--selector=a=b",
    "-f",
    "-k",
    "-R",
    "--dry-run",
    "--dry-run=server",
    "--cascade",
    "--cascade=orphan",
    "--force",
    "--grace-period=0",
    "--now",
    "--replicas=0",
    "-p",
    "{}",
    "--type=json",
    "--set",
    "a.password=x,b={1,2}",
    "--set-json",
    'a={"b":[1,2]}',
    "-i",
    "--",
    "-",
    "",
    "--raw",
    "/api",
    "=",
    "-=",
    "--=x",
    "---x",
    "\\",
    "--token",
  );
  const argvs = fc.oneof(
    fc.array(fc.string()),
    fc.array(vocabulary, { maxLength: 12 }),
    fc
      .tuple(
        fc.constantFrom("kubectl", "helm", "oc"),
        fc.array(fc.oneof(vocabulary, fc.string()), { maxLength: 10 }),
      )
      .map(([tool, rest]) => [tool, ...rest]),
  );

  it("parseCommand never throws and canonicalCommand is deterministic", () => {
    fc.assert(
      fc.property(argvs, (argv) => {
        const a = parseCommand(argv);
        const b = parseCommand([...argv]);
        assert.deepEqual(a, b);
        assert.equal(canonicalCommand(a), canonicalCommand(b));
        assert.equal(typeof displayCommand(argv), "string");
        assert.equal(redactArgv(argv).length, argv.length);
        if (isUnknown(a)) assert.ok(a.reason.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects values that are not string lists instead of throwing", () => {
    const c = parseCommand([1, 2] as unknown as string[]);
    assert.ok(isUnknown(c));
    assert.ok(isUnknown(parseCommand(null as unknown as string[])));
  });
});
