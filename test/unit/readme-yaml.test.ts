/**
 * Every lifeline.yaml example in the README parses as YAML: users copy them. (Two did not: a `${VAR}`
 * inside a flow map or sequence, `{ passphrase: ${…} }` and `[https://…/${…}]`, is a YAML error.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseDocument } from "yaml";
import { inRepo } from "../support/repo.js";

const readme = readFileSync(inRepo("README.md"), "utf8");
const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");

describe("README's YAML examples", () => {
  it("there are some", () => assert.ok(blocks.length >= 5, `${blocks.length} yaml blocks`));
  for (const [i, block] of blocks.entries()) {
    it(`example ${i + 1} (${block.split("\n")[0]}) parses`, () => {
      const doc = parseDocument(block);
      assert.deepEqual(
        doc.errors.map((e) => e.message.split("\n")[0]),
        [],
        block,
      );
    });
  }
});
