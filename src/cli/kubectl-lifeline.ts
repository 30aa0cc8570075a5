#!/usr/bin/env node
/** The kubectl plugin entry point (`kubectl lifeline …`): lifeline's CLI with the words mapped. */
import { pluginArgv } from "./plugin-argv.js";

process.argv = [
  process.argv[0] ?? "node",
  process.argv[1] ?? "kubectl-lifeline",
  ...pluginArgv(process.argv.slice(2)),
];
await import("./main.js");
