/**
 * The record `k8s protect` keeps of what it changed, written by several runs at once (two
 * `--undo` at the same time, or protect beside an undo): each change is read, changed and written
 * under a lock, so that none is lost; a lock left by a dead process is taken over.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { recordProtectChange, type ProtectRecord } from "../../src/app/k8s.js";

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const stateDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), "lifeline-protect-record-"));
  dirs.push(d);
  return d;
};
const plan = { asset: "shop", context: "kind-shop" };
const change = (i: number) => ({
  volume: `pvc-${i}`,
  uid: `uid-${i}`,
  claim: `data-${i}`,
  from: "Delete",
  to: "Retain",
});
const file = (dir: string) => path.join(dir, "k8s-protect-shop.json");
const volumes = (dir: string) =>
  (JSON.parse(readFileSync(file(dir), "utf8")) as ProtectRecord).changes.map((c) => c.volume).sort();

describe("k8s protect's record, changed by runs at once", () => {
  it("keeps every change when 40 are recorded at once, and forgets every one put back at once", async () => {
    const dir = stateDir();
    const n = 40;
    await Promise.all(
      Array.from({ length: n }, (_, i) => recordProtectChange(dir, plan, change(i), "protected")),
    );
    assert.deepEqual(volumes(dir), Array.from({ length: n }, (_, i) => `pvc-${i}`).sort());
    await Promise.all(
      Array.from({ length: n - 1 }, (_, i) => recordProtectChange(dir, plan, change(i), "put back")),
    );
    assert.deepEqual(volumes(dir), [`pvc-${n - 1}`]);
    await recordProtectChange(dir, plan, change(n - 1), "put back");
    assert.equal(existsSync(file(dir)), false, "nothing left to undo: no record");
    assert.equal(existsSync(`${file(dir)}.lock`), false, "no lock left behind");
  });

  it("takes over a lock whose process is gone", async () => {
    const dir = stateDir();
    // A pid that is surely gone: a process that has exited.
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    }).stdout;
    writeFileSync(`${file(dir)}.lock`, gone);
    await recordProtectChange(dir, plan, change(1), "protected");
    assert.deepEqual(volumes(dir), ["pvc-1"]);
    assert.equal(existsSync(`${file(dir)}.lock`), false);
  });
});
