/**
 * Client-side encryption of a repository, after restic's design: a random master key, stored in
 * the repository only wrapped by a key derived from the passphrase (scrypt), so that changing the
 * passphrase rewraps that key and re-encrypts nothing; every object encrypted with AES-256-GCM in
 * chunks whose nonce and associated data bind the object's name, the chunk's index and whether it
 * is the last one: a changed, reordered, swapped or truncated chunk fails authentication and is
 * never decrypted into garbage.
 *
 *   object = "LLE1" | nonce prefix (8 bytes, random) | chunk size (uint32 BE) | chunk…
 *   chunk  = AES-256-GCM(master key, nonce = prefix | index (uint32 BE),
 *                        aad = "lifeline" | name | index | last ? 1 : 0) (plaintext ≤ chunk size) | tag (16)
 *
 * Every object has at least one chunk (an empty one for an empty plaintext); only the last is
 * marked last. Sizes are not hidden: an object's size tells its plaintext's (listing needs them).
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import * as z from "zod";
import { LifelineError } from "../core/errors.js";

const MAGIC = Buffer.from("LLE1");
const HEADER = 16;
const TAG = 16;
export const CHUNK_SIZE = 1024 * 1024;

/** The plaintext of a chunk that failed authentication: tampered, reordered, truncated or corrupt. */
export class ChunkAuthenticationError extends Error {
  constructor(
    readonly object: string,
    readonly chunk: number,
    why: string,
  ) {
    super(`${object}: ${why} (chunk ${chunk}); the object was changed, truncated or is corrupt`);
  }
}

function chunkNonce(prefix: Buffer, index: number): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0, 0, 8);
  nonce.writeUInt32BE(index, 8);
  return nonce;
}

function chunkAad(name: string, index: number, last: boolean): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt32BE(index, 0);
  tail.writeUInt8(last ? 1 : 0, 4);
  return Buffer.concat([Buffer.from(`lifeline\0${name}\0`), tail]);
}

/** The size of an object holding `bytes` bytes of plaintext. */
export function encryptedSize(bytes: number, chunkSize = CHUNK_SIZE): number {
  const chunks = Math.max(1, Math.ceil(bytes / chunkSize));
  return HEADER + bytes + chunks * TAG;
}

export class ObjectCipher {
  constructor(
    private readonly key: Buffer,
    readonly chunkSize = CHUNK_SIZE,
  ) {}

  private sealChunk(name: string, prefix: Buffer, index: number, last: boolean, plain: Buffer): Buffer {
    const cipher = createCipheriv("aes-256-gcm", this.key, chunkNonce(prefix, index));
    cipher.setAAD(chunkAad(name, index, last));
    return Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  }

  private openChunk(name: string, prefix: Buffer, index: number, last: boolean, sealed: Buffer): Buffer {
    if (sealed.length < TAG) throw new ChunkAuthenticationError(name, index, "truncated");
    const decipher = createDecipheriv("aes-256-gcm", this.key, chunkNonce(prefix, index));
    decipher.setAAD(chunkAad(name, index, last));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG));
    try {
      return Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG)), decipher.final()]);
    } catch {
      throw new ChunkAuthenticationError(name, index, "fails authentication");
    }
  }

  private header(prefix: Buffer): Buffer {
    const header = Buffer.alloc(HEADER);
    MAGIC.copy(header, 0);
    prefix.copy(header, 4);
    header.writeUInt32BE(this.chunkSize, 12);
    return header;
  }

  private readHeader(name: string, header: Buffer): Buffer {
    if (header.length < HEADER || !header.subarray(0, 4).equals(MAGIC))
      throw new ChunkAuthenticationError(name, 0, "not an encrypted lifeline object");
    if (header.readUInt32BE(12) !== this.chunkSize)
      throw new ChunkAuthenticationError(name, 0, "written with another chunk size");
    return Buffer.from(header.subarray(4, 12));
  }

  seal(name: string, plain: Buffer): Buffer {
    const prefix = randomBytes(8);
    const parts = [this.header(prefix)];
    const chunks = Math.max(1, Math.ceil(plain.length / this.chunkSize));
    for (let i = 0; i < chunks; i++)
      parts.push(
        this.sealChunk(
          name,
          prefix,
          i,
          i === chunks - 1,
          plain.subarray(i * this.chunkSize, (i + 1) * this.chunkSize),
        ),
      );
    return Buffer.concat(parts);
  }

  open(name: string, sealed: Buffer): Buffer {
    const prefix = this.readHeader(name, sealed.subarray(0, HEADER));
    const step = this.chunkSize + TAG;
    const body = sealed.subarray(HEADER);
    const chunks = Math.max(1, Math.ceil(body.length / step));
    const parts: Buffer[] = [];
    for (let i = 0; i < chunks; i++)
      parts.push(this.openChunk(name, prefix, i, i === chunks - 1, body.subarray(i * step, (i + 1) * step)));
    return Buffer.concat(parts);
  }

  /** Encrypts a stream as it flows (one chunk held back: the last one is marked last). */
  encryptStream(name: string): Transform {
    const prefix = randomBytes(8);
    let pending = Buffer.alloc(0);
    let index = 0;
    let started = false;
    const size = this.chunkSize;
    const seal = this.sealChunk.bind(this);
    const header = this.header(prefix);
    return new Transform({
      transform(chunk: Buffer, _enc, done: TransformCallback) {
        if (!started) {
          this.push(header);
          started = true;
        }
        pending = Buffer.concat([pending, chunk]);
        while (pending.length > size) {
          this.push(seal(name, prefix, index++, false, pending.subarray(0, size)));
          pending = pending.subarray(size);
        }
        done();
      },
      flush(done: TransformCallback) {
        if (!started) this.push(header);
        this.push(seal(name, prefix, index, true, pending));
        done();
      },
    });
  }

  /** Decrypts a stream as it flows; an unauthentic chunk stops it with a ChunkAuthenticationError. */
  decryptStream(name: string): Transform {
    let pending = Buffer.alloc(0);
    let prefix: Buffer | undefined;
    let index = 0;
    const step = this.chunkSize + TAG;
    const open = this.openChunk.bind(this);
    const readHeader = this.readHeader.bind(this);
    return new Transform({
      transform(chunk: Buffer, _enc, done: TransformCallback) {
        try {
          pending = Buffer.concat([pending, chunk]);
          if (!prefix) {
            if (pending.length < HEADER) return done();
            prefix = readHeader(name, pending.subarray(0, HEADER));
            pending = pending.subarray(HEADER);
          }
          while (pending.length > step) {
            this.push(open(name, prefix, index++, false, pending.subarray(0, step)));
            pending = pending.subarray(step);
          }
          done();
        } catch (error) {
          done(error as Error);
        }
      },
      flush(done: TransformCallback) {
        try {
          if (!prefix) throw new ChunkAuthenticationError(name, 0, "truncated");
          this.push(open(name, prefix, index, true, pending));
          done();
        } catch (error) {
          done(error as Error);
        }
      },
    });
  }
}

// --- keys ----------------------------------------------------------------------------------------

export const keyFileSchema = z.object({
  kind: z.literal("lifeline-key"),
  kdf: z.object({ name: z.literal("scrypt"), N: z.number(), r: z.number(), p: z.number(), salt: z.string() }),
  nonce: z.string(),
  wrapped: z.string(),
  createdAt: z.string(),
});
export type KeyFile = z.infer<typeof keyFileSchema>;

/** scrypt cost: about 0.1 s and 32 MiB here, once per command. */
const KDF = { N: 2 ** 15, r: 8, p: 1 };

function derive(passphrase: string, kdf: KeyFile["kdf"]): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      passphrase.normalize("NFC"),
      Buffer.from(kdf.salt, "base64"),
      32,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 256 * kdf.N * kdf.r },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}

export function newMasterKey(): Buffer {
  return randomBytes(32);
}

/** The master key wrapped by a key derived from the passphrase. */
export async function wrapKey(master: Buffer, passphrase: string): Promise<KeyFile> {
  const kdf = { name: "scrypt" as const, ...KDF, salt: randomBytes(16).toString("base64") };
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", await derive(passphrase, kdf), nonce);
  cipher.setAAD(Buffer.from("lifeline-key"));
  const wrapped = Buffer.concat([cipher.update(master), cipher.final(), cipher.getAuthTag()]);
  return {
    kind: "lifeline-key",
    kdf,
    nonce: nonce.toString("base64"),
    wrapped: wrapped.toString("base64"),
    createdAt: new Date().toISOString(),
  };
}

/** The master key, or undefined when the passphrase is not this key file's. */
export async function unwrapKey(file: KeyFile, passphrase: string): Promise<Buffer | undefined> {
  const wrapped = Buffer.from(file.wrapped, "base64");
  if (wrapped.length !== 32 + TAG) return undefined;
  const decipher = createDecipheriv(
    "aes-256-gcm",
    await derive(passphrase, file.kdf),
    Buffer.from(file.nonce, "base64"),
  );
  decipher.setAAD(Buffer.from("lifeline-key"));
  decipher.setAuthTag(wrapped.subarray(32));
  try {
    const key = Buffer.concat([decipher.update(wrapped.subarray(0, 32)), decipher.final()]);
    return key.length === 32 && !timingSafeEqual(key, Buffer.alloc(32)) ? key : undefined;
  } catch {
    return undefined;
  }
}

export function wrongPassphrase(location: string): LifelineError {
  return new LifelineError({
    code: "REPOSITORY_PASSPHRASE_WRONG",
    kind: "config",
    message: `the passphrase does not open ${location}: none of its keys unwraps with it`,
    fix: "set the passphrase this repository was created with in lifeline.yaml: repository.encryption.passphrase (e.g. ${LIFELINE_REPO_PASSPHRASE}), or for a copy, its copies: entry's encryption.passphrase",
  });
}
