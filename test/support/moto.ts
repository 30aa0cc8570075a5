/**
 * moto_server (Python moto, on PATH in CI: .ci/run checks it) on loopback, on a free port, with its
 * own TMPDIR: a real S3 HTTP server that implements object lock (buckets created with it, retention
 * per object, versioned deletes refused while retained, delete markers), which s3rver does not. Its
 * store is simulated in memory: the tests check what lifeline asks of S3, not durability.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { TEST_ACCESS_KEY, TEST_SECRET } from "./s3.js";

export interface TestMoto {
  endpoint: string;
  env: Record<string, string>;
  /** A raw SDK client on the server (for what a compromised host would do behind lifeline's back). */
  client: S3Client;
  createBucket(name: string, objectLock: boolean): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${output()}`);
    try {
      const res = await fetch(`${endpoint}/`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto_server did not answer on ${endpoint} within 20 s: ${output()}`);
}

export async function startMoto(): Promise<TestMoto> {
  const port = await freePort();
  const tmp = mkdtempSync(path.join(os.tmpdir(), "lifeline-moto-"));
  let output = "";
  const child = spawn("moto_server", ["-H", "127.0.0.1", "-p", String(port)], {
    // Its own process group: stop() ends the server and anything it started.
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TMPDIR: tmp },
  });
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (e) =>
      reject(new Error(`cannot start moto_server (${e.message}); install it: pip install 'moto[server]'`)),
    );
  });
  await spawned;
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone already
      }
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (child.exitCode === null)
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone already
        }
    }
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(endpoint, child, () => output);
  } catch (error) {
    await stop();
    throw error;
  }
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const env = {
    AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY,
    AWS_SECRET_ACCESS_KEY: TEST_SECRET,
    AWS_REGION: "us-east-1",
  };
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: TEST_ACCESS_KEY, secretAccessKey: TEST_SECRET },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  return {
    endpoint,
    env,
    client,
    createBucket: async (name, objectLock) => {
      await client.send(
        new CreateBucketCommand({
          Bucket: name,
          ...(objectLock ? { ObjectLockEnabledForBucket: true } : {}),
        }),
      );
    },
    stop: async () => {
      client.destroy();
      await stop();
    },
  };
}
