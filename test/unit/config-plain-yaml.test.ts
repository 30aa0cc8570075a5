import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDocument } from "yaml";
import { plainYaml } from "../../src/config/plain-yaml.js";

/** What the yaml library reads (as parseConfig uses it), or undefined when it finds errors. */
function library(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) return undefined;
  return doc.toJS() as unknown;
}

const SAMPLE = `# lifeline.yaml
repository:
  path: ./repository   # beside this file
catalog: postgres://lifeline:\${CATALOG_PASSWORD}@db:5432/lifeline
assets:
  shop:
    url: postgres://shop:\${SHOP_PASSWORD}@db.internal:5432/shop?sslmode=require
    tier: production
    rpo: 24h

    drill:
      scratch:
        url: postgres://scratch@127.0.0.1:5433/postgres
  a0001:
    url: postgres://postgres@127.0.0.1:34707/a0001
    tier: staging
    rpo: 1h30m
policy:
  production:
    mass-delete: refuse
`;

describe("plainYaml: the common lifeline.yaml without the yaml library", () => {
  it("reads nested mappings of plain strings as the yaml library does", () => {
    const plain = plainYaml(SAMPLE);
    assert.ok(plain, "the sample is in the plain subset");
    assert.deepEqual(plain, library(SAMPLE));
  });

  it("leaves everything else to the yaml library", () => {
    for (const text of [
      "a:\n  - x\n", // a list
      'a: "quoted"\n',
      "a: 'quoted'\n",
      "a: 5432\n", // a number
      "a: true\n",
      "a: null\n",
      "a: ~\n",
      "a: .inf\n",
      "a: 0x1f\n",
      "a: 1e3\n",
      "a: &x b\nc: *x\n", // anchors and aliases
      "a: |\n  text\n", // block scalars
      "a: {b: c}\n", // flow
      "a: x\na: y\n", // a duplicate key (the library's error names its line)
      "a:\n\tb: c\n", // a tab
      "a: b\r\nc: d\r\n",
      "a: multi\n  line\n",
      "a: x\n  b: y\n",
      "a:\nb: c\n", // a key without a value: null
      "a:\n", // the same at the end
      "a:\n    b: x\n  c: y\n", // an indentation that matches no mapping
      "  a: b\n", // an indented document
      "1: x\n", // a key the library reads as a number
      "true: x\n",
      "__proto__: x\n",
      "a: b: c\n",
      "a: b:\n",
      "a:b\n",
      "---\na: b\n",
      "%YAML 1.2\n---\na: b\n",
      "\ufeffa: b\n",
      "a: b\u2028c\n",
      "",
      "# only a comment\n",
      "? a\n: b\n",
      "a: -b\n",
      "<<: {a: b}\n",
    ])
      assert.equal(plainYaml(text), undefined, JSON.stringify(text));
  });

  it("never reads a text otherwise than the yaml library (mutations of the sample)", () => {
    // Deterministic pseudo-random edits: a character inserted, removed or replaced anywhere.
    let seed = 42;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = " \n:#-'\"{}[],&*!|>%@`?~.0123456789aeflnrtux\\$/\t";
    let plainCount = 0;
    for (let i = 0; i < 3000; i++) {
      let text = SAMPLE;
      for (let edits = 1 + random(3); edits > 0; edits--) {
        const at = random(text.length);
        const c = alphabet[random(alphabet.length)] ?? " ";
        const kind = random(3);
        text =
          kind === 0
            ? text.slice(0, at) + c + text.slice(at)
            : kind === 1
              ? text.slice(0, at) + text.slice(at + 1)
              : text.slice(0, at) + c + text.slice(at + 1);
      }
      const plain = plainYaml(text);
      if (plain === undefined) continue;
      plainCount++;
      assert.deepEqual(plain, library(text), JSON.stringify(text));
    }
    assert.ok(plainCount > 500, `${plainCount} mutations read without the library`);
  });
});
