import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  ChunkAuthenticationError,
  ObjectCipher,
  encryptedSize,
  newMasterKey,
  unwrapKey,
  wrapKey,
} from "../../src/repository/encryption.js";

const SMALL = 64; // small chunks: many chunks from little data
const cipher = new ObjectCipher(newMasterKey(), SMALL);
const name = "restore-points/app/20261120T100000Z-aaaaaa/dump/3340.dat.gz";

async function streamed(transform: NodeJS.ReadWriteStream, input: Buffer, piece = 7): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < input.length; i += piece) pieces.push(input.subarray(i, i + piece));
  return buffer(Readable.from(pieces).pipe(transform));
}

const rejectsTampered = (fn: () => unknown) =>
  assert.throws(
    fn,
    (e: unknown) => e instanceof ChunkAuthenticationError && e.message.startsWith(`${name}: `),
  );

describe("encrypted objects: AES-256-GCM chunks bound to name, index and end", () => {
  it("round-trips any content, streamed or whole, at the size encryptedSize says", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 700 }), async (bytes) => {
        const plain = Buffer.from(bytes);
        const sealed = await streamed(cipher.encryptStream(name), plain);
        assert.equal(sealed.length, encryptedSize(plain.length, SMALL));
        assert.ok(cipher.open(name, sealed).equals(plain));
        assert.ok((await streamed(cipher.decryptStream(name), sealed, 13)).equals(plain));
        assert.ok(cipher.open(name, cipher.seal(name, plain)).equals(plain));
      }),
      { numRuns: 60 },
    );
  });

  it("a flipped bit, reordered chunks, a dropped last chunk, an appended chunk or another name fail", async () => {
    const plain = Buffer.from("x".repeat(SMALL * 3 + 10));
    const sealed = cipher.seal(name, plain);
    const step = SMALL + 16;
    const header = sealed.subarray(0, 16);
    const chunks = [0, 1, 2, 3].map((i) => sealed.subarray(16 + i * step, 16 + (i + 1) * step));
    const flipped = Buffer.from(sealed);
    flipped.writeUInt8(flipped.readUInt8(30) ^ 1, 30);
    for (const damaged of [
      flipped,
      Buffer.concat([
        header,
        chunks[1] ?? Buffer.alloc(0),
        chunks[0] ?? Buffer.alloc(0),
        chunks[2] ?? Buffer.alloc(0),
        chunks[3] ?? Buffer.alloc(0),
      ]),
      sealed.subarray(0, 16 + 3 * step), // truncated at a chunk boundary: the last one is not marked last
      Buffer.concat([sealed, chunks[1] ?? Buffer.alloc(0)]),
      sealed.subarray(0, 10),
    ]) {
      rejectsTampered(() => cipher.open(name, damaged));
      await assert.rejects(streamed(cipher.decryptStream(name), damaged), ChunkAuthenticationError);
    }
    assert.throws(
      () => cipher.open("restore-points/app/other/dump/toc.dat", sealed),
      ChunkAuthenticationError,
    );
    assert.throws(() => new ObjectCipher(newMasterKey(), SMALL).open(name, sealed), ChunkAuthenticationError);
  });

  it("the master key opens with its passphrase only; a rewrap keeps the key", async () => {
    const master = newMasterKey();
    const file = await wrapKey(master, "correct horse battery staple");
    assert.ok((await unwrapKey(file, "correct horse battery staple"))?.equals(master));
    assert.equal(await unwrapKey(file, "Correct horse battery staple"), undefined);
    assert.ok(!JSON.stringify(file).includes(master.toString("base64")));
    const rewrapped = await wrapKey(master, "another passphrase");
    assert.ok((await unwrapKey(rewrapped, "another passphrase"))?.equals(master));
    assert.notEqual(rewrapped.kdf.salt, file.kdf.salt);
  });
});
