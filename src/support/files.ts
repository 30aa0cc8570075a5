import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readdir, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Every regular file below dir, as forward-slash paths relative to dir, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .sort();
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}

export async function fsyncPath(p: string): Promise<void> {
  const handle = await open(p, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes a file so that it is either absent or complete: temp name, fsync, rename, fsync the directory. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await writeFile(temp, content, { mode: 0o644 });
  await fsyncPath(temp);
  await rename(temp, file);
  await fsyncPath(path.dirname(file));
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
