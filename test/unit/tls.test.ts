import assert from "node:assert/strict";
import { createSecureContext } from "node:tls";
import { X509Certificate } from "node:crypto";
import { test } from "node:test";
import { generateCa, issueServerCertificate, serialNumber } from "../../src/support/tls.js";

// CI once failed with OpenSSL's "illegal padding": a random serial whose first byte was 0x00 and
// second below 0x80 is not a minimal DER INTEGER, and OpenSSL refuses the whole certificate.
for (const first of [0x00, 0x80, 0xff, 0x7f]) {
  test(`a serial number whose random first byte is 0x${first.toString(16).padStart(2, "0")} gives a certificate OpenSSL loads`, () => {
    const bytes = new Uint8Array(16);
    bytes[0] = first;
    bytes[1] = 0x01;
    const ca = generateCa({ serialBytes: bytes });
    const server = issueServerCertificate(ca, ["127.0.0.1", "localhost"], { serialBytes: bytes });
    for (const pair of [ca, server]) {
      assert.doesNotThrow(() => createSecureContext({ cert: pair.cert, key: pair.key }));
      const serial = new X509Certificate(pair.cert).serialNumber;
      assert.equal(serial.length, 32, serial);
    }
    assert.ok(new X509Certificate(server.cert).verify(new X509Certificate(ca.cert).publicKey));
  });
}

test("serialNumber: positive and minimal, the rest of the random bytes kept", () => {
  const s = serialNumber(Uint8Array.from([0x00, 0x00, 0x05]));
  assert.ok(s[0]! >= 0x01 && s[0]! <= 0x7f);
  assert.deepEqual([...s.subarray(1)], [0x00, 0x05]);
  assert.throws(() => serialNumber(new Uint8Array(0)));
});
