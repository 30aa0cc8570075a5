/**
 * Runs a selective restore in its own process, so a test can SIGKILL lifeline mid-restore.
 * argv: <artifact directory> <manifest.json> <target url> <table>…
 */
import { readFileSync } from "node:fs";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { postgresEngine } from "../../src/engines/postgres/index.js";
import { silentProgress } from "../../src/ports/engine.js";

const [directory, manifestFile, url, ...tables] = process.argv.slice(2);
if (!directory || !manifestFile || !url) throw new Error("usage: <directory> <manifest.json> <url> <table>…");
const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as Manifest;
const engine = postgresEngine();
const recovery = engine.recovery;
if (!recovery) throw new Error("no recovery");
process.stdout.write("started\n");
await recovery.restoreTables(engine.target(url), {
  directory,
  manifest,
  jobs: 1,
  signal: new AbortController().signal,
  progress: silentProgress,
  tables,
});
process.stdout.write("restored\n");
