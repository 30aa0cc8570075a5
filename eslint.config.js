import { builtinModules } from "node:module";
import path from "node:path";
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const SRC = path.join(import.meta.dirname, "src");

/**
 * The layers, enforced: src/core and src/ports are pure. They import each other and nothing else of
 * src/ (no adapter folder at any depth: engines, repository, scratch, catalog, kubernetes, notify,
 * support, app, cli, server, demo, config, …), and of the packages only the pure ones listed here:
 * no driver (pg, kysely, better-sqlite3, @kubernetes/client-node, libpg-query, …) and no Node.js
 * built-in (node:fs, node:child_process, node:net, node:http, …). Add a package here only when it
 * does no I/O.
 */
const PURE_FOLDERS = ["core", "ports"];
const PURE_PACKAGES = ["zod"];
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

const layers = {
  rules: {
    "pure-imports": {
      meta: {
        type: "problem",
        schema: [],
        messages: {
          adapter:
            '{{layer}} is pure: "{{source}}" is {{target}}, outside {{allowed}}; move what it needs into src/core or src/ports, or pass it in from src/app',
          builtin:
            '{{layer}} is pure: "{{source}}" is a Node.js built-in (I/O); do the I/O in an adapter or src/app and pass the result in',
          driver:
            '{{layer}} is pure: "{{source}}" is not one of the pure packages ({{packages}}); drivers and I/O belong to an adapter',
          dynamic: "{{layer}} is pure: import() with a computed module name cannot be checked",
        },
      },
      create(context) {
        const file = context.filename;
        const layer = `src/${path.relative(SRC, file).split(path.sep)[0]}`;
        const check = (node) => {
          if (!node) return;
          if (node.type !== "Literal" || typeof node.value !== "string") {
            context.report({ node, messageId: "dynamic", data: { layer } });
            return;
          }
          const source = node.value;
          if (source.startsWith(".")) {
            const target = path.relative(SRC, path.resolve(path.dirname(file), source));
            const folder = target.split(path.sep)[0];
            if (target.startsWith("..") || !PURE_FOLDERS.includes(folder)) {
              context.report({
                node,
                messageId: "adapter",
                data: {
                  layer,
                  source,
                  target: target.startsWith("..")
                    ? "outside src/"
                    : `src/${target.split(path.sep).join("/")}`,
                  allowed: PURE_FOLDERS.map((f) => `src/${f}`).join(" and "),
                },
              });
            }
            return;
          }
          if (BUILTINS.has(source) || BUILTINS.has(source.split("/")[0]) || source.startsWith("node:")) {
            context.report({ node, messageId: "builtin", data: { layer, source } });
            return;
          }
          const pkg = source.startsWith("@") ? source.split("/").slice(0, 2).join("/") : source.split("/")[0];
          if (!PURE_PACKAGES.includes(pkg)) {
            context.report({
              node,
              messageId: "driver",
              data: { layer, source, packages: PURE_PACKAGES.join(", ") },
            });
          }
        };
        return {
          ImportDeclaration: (node) => check(node.source),
          ExportNamedDeclaration: (node) => node.source && check(node.source),
          ExportAllDeclaration: (node) => check(node.source),
          ImportExpression: (node) => check(node.source),
          TSImportEqualsDeclaration: (node) =>
            node.moduleReference.type === "TSExternalModuleReference" &&
            check(node.moduleReference.expression),
          TSImportType: (node) => {
            const argument = node.argument?.type === "TSLiteralType" ? node.argument.literal : node.argument;
            check(argument);
          },
        };
      },
    },
  },
};

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".lifeline/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "error",
    },
  },
  {
    files: ["src/core/**/*.ts", "src/ports/**/*.ts"],
    plugins: { layers },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "layers/pure-imports": "error",
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "src/cli/**/*.ts"],
    rules: { "no-console": "off" },
  },
);
