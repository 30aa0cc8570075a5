/**
 * The Repository contract (repository.contract.ts) run against every adapter: a local directory
 * (the offsite repository will be added here and run the same suite).
 */
import { spawn } from "node:child_process";
import { appendFile, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Manifest } from "../../src/core/restore-point/restore-point.js";
import { LocalRepository } from "../../src/repository/local-fs/index.js";
import { tempDir } from "../support/pg.js";
import { manifestPath } from "../support/repository.js";
import { repositoryContract } from "./repository.contract.js";

const localFs = path.resolve(import.meta.dirname, "../../src/repository/local-fs/index.ts");

/** Stages a restore point in another process, writes an artifact, and kills it (SIGKILL) before it commits. */
function killedBackup(root: string, asset: string, id: string): Promise<void> {
  const script =
    `import { writeFileSync } from "node:fs"; import path from "node:path";` +
    `import { LocalRepository } from ${JSON.stringify(localFs)};` +
    `const staged = await new LocalRepository(${JSON.stringify(root)}).stage(${JSON.stringify(asset)}, ${JSON.stringify(id)});` +
    `writeFileSync(path.join(staged.directory, "toc.dat"), "half a dump");` +
    `process.stdout.write("staged\\n"); setInterval(() => undefined, 1000);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("staged")) child.kill("SIGKILL");
    });
    child.on("exit", (code, signal) =>
      signal === "SIGKILL" ? resolve() : reject(new Error(`exit ${code}: ${stderr}`)),
    );
  });
}

repositoryContract("local directory", async () => {
  const dir = tempDir("lifeline-repository-contract-");
  const root = path.join(dir.dir, "repository");
  return {
    repository: new LocalRepository(root),
    reopen: () => new LocalRepository(root),
    editManifest: async (asset, id, edit) => {
      const file = manifestPath(root, asset, id);
      await writeFile(file, edit(await readFile(file, "utf8")));
    },
    damageArtifact: async (manifest: Manifest) => {
      const artifact = manifest.artifacts[0];
      if (!artifact) throw new Error("a restore point without artifacts");
      await appendFile(path.join(root, "restore-points", manifest.asset, manifest.id, artifact.path), "x");
    },
    killedBackup: (asset, id) => killedBackup(root, asset, id),
    cleanup: async () => dir.remove(),
  };
});
