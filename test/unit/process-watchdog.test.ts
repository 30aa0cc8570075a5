// A long-running tool lifeline starts (pg_restore, pg_dump) must not outlive a killed lifeline.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { REPO } from "../support/repo.js";

const root = REPO;

/** The pid of `sleep MARKER` (unique to the test), or null. */
function pidOf(marker: string): number | null {
  const ps = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  for (const line of ps.split("\n")) {
    const m = /^\s*(\d+)\s+(.*)$/.exec(line);
    if (m?.[2]?.trim() === `sleep ${marker}`) return Number(m[1]);
  }
  return null;
}
const alive = (marker: string) => pidOf(marker) !== null;

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

describe("run(…, { dieWithParent })", () => {
  for (const dieWithParent of [true, false]) {
    it(`a tool ${dieWithParent ? "dies" : "survives (without it)"} when lifeline is killed with SIGKILL`, async () => {
      const marker = `30.${Date.now()}${dieWithParent ? 1 : 0}`;
      const script = `import { run } from ${JSON.stringify(path.join(root, "src/support/process.ts"))};
        run("sleep", [${JSON.stringify(marker)}], { dieWithParent: ${dieWithParent} }).catch(() => undefined);`;
      const parent = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        cwd: root,
        stdio: "ignore",
      });
      try {
        assert.ok(await until(() => alive(marker), 10_000), "the tool started");
        parent.kill("SIGKILL");
        const gone = await until(() => !alive(marker), 3_000);
        assert.equal(gone, dieWithParent);
      } finally {
        parent.kill("SIGKILL");
        const left = pidOf(marker);
        if (left !== null) process.kill(left, "SIGKILL");
      }
    });
  }
});
