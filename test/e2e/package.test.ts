import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { REPO } from "../support/repo.js";

const ROOT = REPO;

interface Packed {
  size: number;
  files: { path: string; size: number }[];
}

describe("the npm package", () => {
  it("ships the bundle the CLI runs, its lazily loaded chunks, the LICENSE, and nothing else", () => {
    // The build is already there (npm run build before the end-to-end tests); prepack would build again.
    const [packed] = JSON.parse(
      execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }),
    ) as Packed[];
    assert.ok(packed);
    const files = packed.files.map((f) => f.path).sort();
    assert.ok(files.includes("LICENSE"), files.join("\n"));
    assert.match(
      readFileSync(path.join(ROOT, "LICENSE"), "utf8"),
      /Apache License\s+Version 2\.0, January 2004/,
    );
    assert.ok(files.includes("dist/cli/main.js"));
    // The database guard's install script, read by `lifeline guard install` from beside the bundle.
    assert.ok(files.includes("dist/cli/lifeline-guard.sql"), files.join("\n"));
    const unexpected = files.filter(
      (f) =>
        !["LICENSE", "README.md", "package.json", "dist/cli/lifeline-guard.sql"].includes(f) &&
        !/^dist\/cli\/[^/]+\.js$/.test(f),
    );
    assert.deepEqual(unexpected, [], "no source maps, no unbundled copy of the code");
    // Every module the bundle imports by a relative path (its chunks, loaded on use) is in the package.
    for (const file of files.filter((f) => f.endsWith(".js"))) {
      const source = readFileSync(path.join(ROOT, file), "utf8");
      for (const [, target] of source.matchAll(/(?:from|import\()\s*"(\.\/[^"]+)"/g)) {
        const wanted = path.posix.join(path.posix.dirname(file), target ?? "");
        assert.ok(files.includes(wanted), `${file} imports ${wanted}, which is not in the package`);
      }
    }
    assert.ok(packed.size < 1_000_000, `the tarball is ${packed.size} bytes`);
  });

  it("npm pack on a clean clone builds first (prepack)", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
      files: string[];
    };
    assert.equal(pkg.scripts.prepack, "npm run build");
    assert.deepEqual(pkg.files, ["dist"]);
  });
});
