/**
 * A real S3-compatible server (s3rver from npm) on loopback, on a free port, storing in its own
 * temporary directory: tests talk S3 over HTTP to it, never to a mocked SDK.
 */
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";

const require = createRequire(import.meta.url);

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** Credentials the test server accepts (besides its built-in S3RVER/S3RVER): a recognisable secret to look for in output. */
export const TEST_ACCESS_KEY = "LIFELINETESTKEY0001";
export const TEST_SECRET = "s3cr3t-LIFELINE-should-never-leak-7f3a";

let registered = false;

interface ListResult {
  objects: { key: string }[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
type ListObjects = (
  bucket: string,
  options: { delimiter?: string; prefix?: string; maxKeys?: number },
) => Promise<ListResult>;

/**
 * s3rver 3.7 lists common prefixes only one level below the prefix (its directory walk skips
 * deeper directories before it sees their objects), where S3 finds them at any depth. The test
 * server is corrected by listing without the delimiter and grouping, as S3 does.
 */
function correctCommonPrefixes(): void {
  const { prototype } = require("s3rver/lib/stores/filesystem") as {
    prototype: { listObjects: ListObjects };
  };
  const original = prototype.listObjects;
  prototype.listObjects = async function (this: unknown, bucket, options) {
    const delimiter = options.delimiter ?? "";
    if (!delimiter) return original.call(this, bucket, options);
    const prefix = options.prefix ?? "";
    const all = await original.call(this, bucket, { ...options, delimiter: "", maxKeys: Infinity });
    const commonPrefixes = new Set<string>();
    const objects = all.objects.filter((o) => {
      const idx = o.key.slice(prefix.length).indexOf(delimiter);
      if (idx === -1) return true;
      commonPrefixes.add(o.key.slice(0, prefix.length + idx + delimiter.length));
      return false;
    });
    return { objects, commonPrefixes: [...commonPrefixes].sort(), isTruncated: false };
  };
}

export interface TestS3 {
  endpoint: string;
  port: number;
  /** Buckets created at start. */
  buckets: string[];
  /** The repository URL for a prefix in the first bucket. */
  url(prefix: string): string;
  /** Where s3rver keeps its files (to damage an object behind lifeline's back). */
  directory: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startS3(buckets: string[] = ["lifeline-test"]): Promise<TestS3> {
  const S3rver = require("s3rver") as S3rverClass;
  if (!registered) {
    const { DUMMY_ACCOUNT } = require("s3rver/lib/models/account") as {
      DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
    };
    DUMMY_ACCOUNT.createKeyPair(TEST_ACCESS_KEY, TEST_SECRET);
    correctCommonPrefixes();
    registered = true;
  }
  const directory = mkdtempSync(path.join(os.tmpdir(), "lifeline-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    port: address.port,
    buckets,
    directory,
    url: (prefix) => `s3://${buckets[0]}/${prefix}`,
    env: {
      AWS_ACCESS_KEY_ID: TEST_ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: TEST_SECRET,
      AWS_REGION: "us-east-1",
    },
    stop: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
