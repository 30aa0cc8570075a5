/**
 * The few object-store operations the repository needs, over @aws-sdk/client-s3 (multipart
 * uploads through @aws-sdk/lib-storage). Every failure becomes a LifelineError naming the problem
 * and the fix (errors.ts); credentials come from the usual AWS chain and never reach a message.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { S3Client } from "@aws-sdk/client-s3";
import { ChunkAuthenticationError } from "../encryption.js";
import { describeFailure, storeError } from "./errors.js";

export interface S3Location {
  bucket: string;
  /** Key prefix without leading or trailing "/" ("" for the whole bucket). */
  prefix: string;
  endpoint?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
}

/** s3://bucket/prefix → bucket and prefix; undefined when it is not an s3:// URL. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | undefined {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m || !m[1]) return undefined;
  return { bucket: m[1], prefix: (m[2] ?? "").replace(/^\/+|\/+$/g, "") };
}

export interface ObjectInfo {
  key: string;
  bytes: number;
}

/** Object lock retention of an object version: until then the store refuses to delete it. */
export interface Retention {
  mode: "GOVERNANCE" | "COMPLIANCE";
  until: Date;
}

/** One version of an object in a versioned bucket, or a delete marker hiding the versions below it. */
export interface ObjectVersion {
  key: string;
  versionId: string;
  latest: boolean;
  deleteMarker: boolean;
}

/**
 * Whether the bucket has object lock: "enabled" (versioned, objects can be retained), "disabled"
 * (a bucket created without it; a store that does not implement it, s3rver, says so too) or
 * "unknown" with why (e.g. the credentials may not read the bucket's lock configuration).
 */
export type BucketLock =
  | { state: "enabled"; defaultRetention: string | null }
  | { state: "disabled"; why: string }
  | { state: "unknown"; why: string };

/** The SDK's lock parameters for a put (a checksum is required with them: CRC32, computed by the SDK). */
function lockParams(retention: Retention | undefined) {
  return retention
    ? {
        ObjectLockMode: retention.mode,
        ObjectLockRetainUntilDate: retention.until,
        ChecksumAlgorithm: "CRC32" as const,
      }
    : {};
}

const PART_SIZE = 8 * 1024 * 1024;

type Sdk = typeof import("@aws-sdk/client-s3") & { Upload: typeof import("@aws-sdk/lib-storage").Upload };

/** The SDK is loaded by the first command that reaches object storage (not by every CLI start). */
let sdkLoading: Promise<Sdk> | undefined;
function loadSdk(): Promise<Sdk> {
  sdkLoading ??= Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/lib-storage")]).then(
    ([s3, storage]) => ({ ...s3, Upload: storage.Upload }),
  );
  return sdkLoading;
}

/** How long a connection and a request (until the answer's headers) may take; a body stalled as long fails too. */
export interface StoreTimeouts {
  connectMs: number;
  requestMs: number;
}

/** Defaults, or LIFELINE_S3_CONNECT_TIMEOUT_MS / LIFELINE_S3_REQUEST_TIMEOUT_MS. */
export function storeTimeouts(env: NodeJS.ProcessEnv = process.env): StoreTimeouts {
  const ms = (value: string | undefined, fallback: number) => {
    const n = Number(value);
    return value !== undefined && Number.isFinite(n) && n > 0 ? n : fallback;
  };
  return {
    connectMs: ms(env.LIFELINE_S3_CONNECT_TIMEOUT_MS, 10_000),
    requestMs: ms(env.LIFELINE_S3_REQUEST_TIMEOUT_MS, 60_000),
  };
}

export class ObjectStore {
  readonly region: string;
  readonly timeouts: StoreTimeouts;
  private connecting: Promise<{ client: S3Client; sdk: Sdk }> | undefined;

  constructor(
    readonly where: S3Location,
    timeouts: Partial<StoreTimeouts> = {},
  ) {
    this.region = where.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1";
    this.timeouts = { ...storeTimeouts(), ...timeouts };
  }

  /** The SDK and a client for this store, created once. */
  connect(): Promise<{ client: S3Client; sdk: Sdk }> {
    this.connecting ??= loadSdk().then((sdk) => {
      // The SDK warns on stderr about Node 20 once; lifeline supports Node 20 and pins the SDK.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
      const client = new sdk.S3Client({
        region: this.region,
        ...(this.where.endpoint ? { endpoint: this.where.endpoint } : {}),
        forcePathStyle: this.where.forcePathStyle ?? this.where.endpoint !== undefined,
        // Checksums only where S3 requires them: many S3-compatible stores reject the CRC32 trailers
        // current SDKs send by default (lifeline checks its own sha256 of every artifact).
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
        maxAttempts: 5,
        // Without these an endpoint that accepts connections and never answers hangs every command.
        requestHandler: {
          connectionTimeout: this.timeouts.connectMs,
          requestTimeout: this.timeouts.requestMs,
          throwOnRequestTimeout: true,
          socketTimeout: this.timeouts.requestMs,
        },
      });
      return { client, sdk };
    });
    return this.connecting;
  }

  get location(): string {
    return `s3://${this.where.bucket}${this.where.prefix ? `/${this.where.prefix}` : ""}`;
  }

  /** The full key of a repository-relative name. */
  key(name: string): string {
    return this.where.prefix ? `${this.where.prefix}/${name}` : name;
  }

  private relative(key: string): string {
    return this.where.prefix ? key.slice(this.where.prefix.length + 1) : key;
  }

  fail(error: unknown, doing: string): Error {
    if (error instanceof ChunkAuthenticationError) return error;
    const failure = describeFailure(error);
    if (failure.name === "AbortError") return error as Error;
    return storeError(
      failure,
      {
        location: this.location,
        bucket: this.where.bucket,
        endpoint: this.where.endpoint,
        region: this.region,
        timeouts: this.timeouts,
      },
      doing,
    );
  }

  async getText(name: string): Promise<string | undefined> {
    return (await this.getBytes(name))?.toString("utf8");
  }

  async getBytes(name: string): Promise<Buffer | undefined> {
    const { client, sdk } = await this.connect();
    try {
      const out = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(name) }),
      );
      return Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
    } catch (error) {
      if (describeFailure(error).name === "NoSuchKey") return undefined;
      throw this.fail(error, `cannot read ${name} in ${this.location}`);
    }
  }

  /** HeadObject of a version (the current one by default); undefined when it is absent. */
  private async headObject(name: string, doing: string, versionId?: string) {
    const { client, sdk } = await this.connect();
    try {
      return await client.send(
        new sdk.HeadObjectCommand({
          Bucket: this.where.bucket,
          Key: this.key(name),
          ...(versionId ? { VersionId: versionId } : {}),
        }),
      );
    } catch (error) {
      const f = describeFailure(error);
      if (f.name === "NotFound" || f.name === "NoSuchKey" || (f.status === 404 && f.name !== "NoSuchBucket"))
        return undefined;
      throw this.fail(error, doing);
    }
  }

  async head(name: string): Promise<{ bytes: number; metadata: Record<string, string> } | undefined> {
    const out = await this.headObject(name, `cannot read ${name} in ${this.location}`);
    return out && { bytes: out.ContentLength ?? 0, metadata: out.Metadata ?? {} };
  }

  async putText(
    name: string,
    text: string,
    metadata: Record<string, string> = {},
    retention?: Retention,
  ): Promise<void> {
    await this.putBytes(
      name,
      Buffer.from(text, "utf8"),
      { sha256: createHash("sha256").update(text).digest("hex"), ...metadata },
      retention,
    );
  }

  /**
   * Writes an object only when there is none by that name (a conditional PUT, If-None-Match: *):
   * false when one exists. Stores that ignore the condition (some S3-compatible ones) just write it;
   * callers read it back.
   */
  async putTextIfAbsent(name: string, text: string): Promise<boolean> {
    const { client, sdk } = await this.connect();
    try {
      await client.send(
        new sdk.PutObjectCommand({
          Bucket: this.where.bucket,
          Key: this.key(name),
          Body: Buffer.from(text, "utf8"),
          Metadata: { sha256: createHash("sha256").update(text).digest("hex") },
          IfNoneMatch: "*",
        }),
      );
      return true;
    } catch (error) {
      const f = describeFailure(error);
      if (
        f.name === "PreconditionFailed" ||
        f.status === 412 ||
        f.name === "ConditionalRequestConflict" ||
        f.status === 409
      )
        return false;
      throw this.fail(error, `cannot write ${name} in ${this.location}`);
    }
  }

  /** An object written in one request; `metadata` as given (an encrypted object carries none). */
  async putBytes(
    name: string,
    body: Buffer,
    metadata: Record<string, string> = {},
    retention?: Retention,
  ): Promise<void> {
    const { client, sdk } = await this.connect();
    try {
      await client.send(
        new sdk.PutObjectCommand({
          Bucket: this.where.bucket,
          Key: this.key(name),
          Body: body,
          Metadata: metadata,
          ...lockParams(retention),
        }),
      );
    } catch (error) {
      throw this.fail(error, `cannot write ${name} in ${this.location}`);
    }
  }

  /**
   * Streams a local file to the store (multipart above 8 MiB, 4 parts at a time), hashing it on
   * the way: the object is written only if the bytes sent have the sha256 expected.
   */
  async upload(
    name: string,
    file: string,
    expected: string,
    options: {
      signal?: AbortSignal | undefined;
      encrypt?: Transform | undefined;
      retention?: Retention | undefined;
    } = {},
  ): Promise<void> {
    const signal = options.signal;
    const hash = createHash("sha256");
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const stages = options.encrypt ? [hashing, options.encrypt] : [hashing];
    const body = stages[stages.length - 1] as Transform;
    // A failure anywhere (the file unreadable) destroys the body, which fails the upload.
    pipeline([createReadStream(file), ...stages]).catch(() => undefined);
    const { client, sdk } = await this.connect();
    const upload = new sdk.Upload({
      client,
      params: {
        Bucket: this.where.bucket,
        Key: this.key(name),
        Body: body,
        // An encrypted object's plaintext checksum is not published: it is in the (encrypted) manifest.
        Metadata: options.encrypt ? {} : { sha256: expected },
        ...lockParams(options.retention),
      },
      partSize: PART_SIZE,
      queueSize: 4,
      leavePartsOnError: false,
    });
    const abort = () => void upload.abort().catch(() => undefined);
    signal?.addEventListener("abort", abort, { once: true });
    let versionId: string | undefined;
    try {
      versionId = (await upload.done()).VersionId;
    } catch (error) {
      throw this.fail(error, `cannot upload ${name} to ${this.location}`);
    } finally {
      signal?.removeEventListener("abort", abort);
    }
    const actual = hash.digest("hex");
    if (actual !== expected) {
      await this.delete(name).catch(() => undefined);
      throw new Error(
        `${name} changed while it was uploaded (sha256 ${actual.slice(0, 16)}…, expected ${expected.slice(0, 16)}…)`,
      );
    }
    // The version written must be retained: a store that ignores the lock headers of a multipart
    // upload (moto 5.2.1 does) gets them set afterwards, and one that cannot is an error.
    if (options.retention) {
      const got = await this.retention(name, versionId);
      if (!got || got.until.getTime() < options.retention.until.getTime() - 1000)
        await this.retain(name, options.retention, versionId);
    }
  }

  /** Downloads an object to a file; returns its size and sha256 (computed on the way). */
  async download(
    name: string,
    file: string,
    options: { signal?: AbortSignal | undefined; decrypt?: Transform | undefined } = {},
  ): Promise<{ bytes: number; sha256: string } | undefined> {
    const signal = options.signal;
    let body: Readable;
    const { client, sdk } = await this.connect();
    try {
      const out = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.where.bucket, Key: this.key(name) }),
        signal ? { abortSignal: signal } : {},
      );
      body = out.Body as Readable;
    } catch (error) {
      if (describeFailure(error).name === "NoSuchKey") return undefined;
      throw this.fail(error, `cannot download ${name} from ${this.location}`);
    }
    await mkdir(path.dirname(file), { recursive: true });
    const hash = createHash("sha256");
    let bytes = 0;
    try {
      const counting = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          bytes += chunk.length;
          done(null, chunk);
        },
      });
      const stages = options.decrypt ? [body, options.decrypt, counting] : [body, counting];
      await pipeline([...stages, createWriteStream(file)], ...(signal ? [{ signal }] : []));
    } catch (error) {
      throw this.fail(error, `cannot download ${name} from ${this.location}`);
    }
    return { bytes, sha256: hash.digest("hex") };
  }

  /** Every object under a repository-relative prefix ("" for all), with sizes. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    for await (const page of this.pages(prefix, undefined))
      for (const o of page.Contents ?? [])
        if (o.Key) out.push({ key: this.relative(o.Key), bytes: o.Size ?? 0 });
    return out;
  }

  /** The "directories" directly under a prefix ending in "/" (names without the trailing "/"). */
  async children(prefix: string): Promise<{ directories: string[]; objects: ObjectInfo[] }> {
    const directories: string[] = [];
    const objects: ObjectInfo[] = [];
    for await (const page of this.pages(prefix, "/")) {
      for (const p of page.CommonPrefixes ?? [])
        if (p.Prefix) directories.push(this.relative(p.Prefix).slice(prefix.length).replace(/\/$/, ""));
      for (const o of page.Contents ?? [])
        if (o.Key) objects.push({ key: this.relative(o.Key), bytes: o.Size ?? 0 });
    }
    return { directories, objects };
  }

  private async *pages(prefix: string, delimiter: string | undefined) {
    let token: string | undefined;
    do {
      let page;
      const { client, sdk } = await this.connect();
      try {
        page = await client.send(
          new sdk.ListObjectsV2Command({
            Bucket: this.where.bucket,
            Prefix: this.key(prefix),
            ...(delimiter ? { Delimiter: delimiter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (error) {
        throw this.fail(error, `cannot list ${this.location}`);
      }
      yield page;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(name: string): Promise<void> {
    const { client, sdk } = await this.connect();
    try {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.key(name) }));
    } catch (error) {
      throw this.fail(error, `cannot delete ${name} in ${this.location}`);
    }
  }

  /** The bucket's object lock configuration (GetObjectLockConfiguration). */
  async bucketLock(): Promise<BucketLock> {
    const { client, sdk } = await this.connect();
    try {
      const out = await client.send(new sdk.GetObjectLockConfigurationCommand({ Bucket: this.where.bucket }));
      const config = out.ObjectLockConfiguration;
      if (config?.ObjectLockEnabled !== "Enabled")
        return { state: "disabled", why: "the bucket's object lock is not enabled" };
      const d = config.Rule?.DefaultRetention;
      return {
        state: "enabled",
        defaultRetention: d?.Mode
          ? `${d.Mode.toLowerCase()} ${d.Days !== undefined ? `${d.Days} days` : `${d.Years ?? "?"} years`}`
          : null,
      };
    } catch (error) {
      const f = describeFailure(error);
      if (f.name === "ObjectLockConfigurationNotFoundError")
        return { state: "disabled", why: "the bucket was created without object lock" };
      if (f.name === "NotImplemented" || f.status === 501 || f.status === 405)
        return { state: "disabled", why: "the store does not implement object lock" };
      if (f.name === "AccessDenied" || f.status === 403)
        return {
          state: "unknown",
          why: "the credentials may not read the bucket's object lock configuration (s3:GetBucketObjectLockConfiguration)",
        };
      throw this.fail(error, `cannot read the object lock configuration of ${this.where.bucket}`);
    }
  }

  /** A version's retention (the current one's by default, from HeadObject); undefined when it has none or is absent. */
  async retention(name: string, versionId?: string): Promise<Retention | undefined> {
    const out = await this.headObject(
      name,
      `cannot read the retention of ${name} in ${this.location}`,
      versionId,
    );
    const mode = out?.ObjectLockMode;
    const until = out?.ObjectLockRetainUntilDate;
    return (mode === "GOVERNANCE" || mode === "COMPLIANCE") && until ? { mode, until } : undefined;
  }

  /** Extends a version's retention, the current one's by default (a store never shortens one in compliance mode). */
  async retain(name: string, retention: Retention, versionId?: string): Promise<void> {
    const { client, sdk } = await this.connect();
    try {
      await client.send(
        new sdk.PutObjectRetentionCommand({
          Bucket: this.where.bucket,
          Key: this.key(name),
          ...(versionId ? { VersionId: versionId } : {}),
          Retention: { Mode: retention.mode, RetainUntilDate: retention.until },
        }),
      );
    } catch (error) {
      throw this.fail(error, `cannot extend the retention of ${name} in ${this.location}`);
    }
  }

  /** Every version and delete marker under a repository-relative prefix (a versioned bucket). */
  async versions(prefix: string): Promise<ObjectVersion[]> {
    const out: ObjectVersion[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    const { client, sdk } = await this.connect();
    do {
      let page;
      try {
        page = await client.send(
          new sdk.ListObjectVersionsCommand({
            Bucket: this.where.bucket,
            Prefix: this.key(prefix),
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(versionMarker ? { VersionIdMarker: versionMarker } : {}),
          }),
        );
      } catch (error) {
        throw this.fail(error, `cannot list the object versions in ${this.location}`);
      }
      for (const v of page.Versions ?? [])
        if (v.Key && v.VersionId)
          out.push({
            key: this.relative(v.Key),
            versionId: v.VersionId,
            latest: v.IsLatest === true,
            deleteMarker: false,
          });
      for (const m of page.DeleteMarkers ?? [])
        if (m.Key && m.VersionId)
          out.push({
            key: this.relative(m.Key),
            versionId: m.VersionId,
            latest: m.IsLatest === true,
            deleteMarker: true,
          });
      const more = page.IsTruncated === true;
      keyMarker = more ? page.NextKeyMarker : undefined;
      versionMarker = more ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
    return out;
  }

  /** Deletes one version (or delete marker) for good; the store refuses while it is retained. */
  async deleteVersion(name: string, versionId: string): Promise<void> {
    const { client, sdk } = await this.connect();
    try {
      await client.send(
        new sdk.DeleteObjectCommand({ Bucket: this.where.bucket, Key: this.key(name), VersionId: versionId }),
      );
    } catch (error) {
      throw this.fail(error, `cannot delete a version of ${name} in ${this.location}`);
    }
  }

  /**
   * Incomplete multipart uploads under a prefix (an interrupted backup's), aborted when `abort`.
   * Null when the store cannot list them (some S3-compatible servers): a bucket lifecycle rule
   * (AbortIncompleteMultipartUpload) removes them there.
   */
  async incompleteUploads(prefix: string, abort: boolean): Promise<string[] | null> {
    let uploads;
    const { client, sdk } = await this.connect();
    try {
      uploads = await client.send(
        new sdk.ListMultipartUploadsCommand({ Bucket: this.where.bucket, Prefix: this.key(prefix) }),
      );
    } catch (error) {
      const f = describeFailure(error);
      if (f.name === "NotImplemented" || f.status === 501 || f.status === 405) return null;
      throw this.fail(error, `cannot list incomplete uploads in ${this.location}`);
    }
    const found: string[] = [];
    for (const u of uploads.Uploads ?? []) {
      if (!u.Key || !u.UploadId) continue;
      found.push(this.relative(u.Key));
      if (abort)
        await client
          .send(
            new sdk.AbortMultipartUploadCommand({
              Bucket: this.where.bucket,
              Key: u.Key,
              UploadId: u.UploadId,
            }),
          )
          .catch(() => undefined);
    }
    return found;
  }
}

/** Runs fn over items with at most `limit` at a time. */
export async function bounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
