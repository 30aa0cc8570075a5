import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { LifelineError } from "../core/errors.js";

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

/**
 * Writes a file so that it is either absent or complete: temp name, fsync, rename, fsync the
 * directory. A failed write (a full disk) removes its temporary file.
 */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(temp, content, { mode: 0o644 });
    await fsyncPath(temp);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw fileSystemError(error, `cannot write ${file}`, path.dirname(file)) ?? error;
  }
  await fsyncPath(path.dirname(file));
}

/**
 * A file system error as a LifelineError that says which disk or path and what to do; undefined for
 * errors that are not about the file system's state (they stay unexpected).
 */
export function fileSystemError(error: unknown, doing: string, where: string): LifelineError | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return new LifelineError({
        code: "DISK_FULL",
        kind: "runtime",
        message: `${doing}: the disk holding ${where} is full${code === "EDQUOT" ? " (quota exceeded)" : ""}; nothing was committed`,
        fix: `free space on the disk holding ${where} (\`df -h ${where}\`), then run the command again; for the repository, old restore points can go, or repository.path in lifeline.yaml can point at a larger disk`,
      });
    case "EROFS":
      return new LifelineError({
        code: "REPOSITORY_READ_ONLY",
        kind: "runtime",
        message: `${doing}: ${where} is on a read-only file system`,
        fix: "remount it read-write (for the repository, or point repository.path in lifeline.yaml at a writable directory)",
      });
    case "EACCES":
    case "EPERM":
      return new LifelineError({
        code: "REPOSITORY_NOT_WRITABLE",
        kind: "runtime",
        message: `${doing}: permission denied on ${where}`,
        fix: `give the user running lifeline write access to ${where} (for the repository, or point repository.path in lifeline.yaml elsewhere)`,
      });
    case "ENOTDIR":
    case "EEXIST":
      return new LifelineError({
        code: "REPOSITORY_NOT_A_DIRECTORY",
        kind: "config",
        message: `${doing}: ${where} (or a directory above it) is a file, not a directory`,
        fix: "point repository.path in lifeline.yaml at a directory (it is created if missing), not at a file such as /dev/null",
      });
    default:
      return undefined;
  }
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs fn holding `lock`: a file created exclusively, naming its process; a lock whose process is
 * gone (or an empty one older than the wait) is taken over. Undefined when another live process
 * (or another caller in this one) holds it for `waitMs`.
 */
export async function withFileLock<T>(
  lock: string,
  fn: () => Promise<T>,
  waitMs = 10_000,
): Promise<T | undefined> {
  await mkdir(path.dirname(lock), { recursive: true });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const handle = await open(lock, "wx");
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
      const age = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if ((holder > 0 && !isPidAlive(holder)) || (holder === 0 && age > waitMs)) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}
