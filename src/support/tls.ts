/**
 * TLS material made on the spot: a certificate authority and serving certificates it signs, as PEM,
 * for servers that must speak HTTPS like a real cluster (the simulated API server, `lifeline serve`,
 * the manifests of `lifeline k8s install`).
 *
 * Why this way: keys are ECDSA P-256 made by Node's own crypto (under a millisecond; an RSA-2048
 * key takes 130–230 ms here, two of them miss a 200 ms budget), and the certificates are encoded by
 * `@peculiar/asn1-x509` (the X.509 ASN.1 schema, pure JavaScript, no install script, no global
 * side effects) and signed by Node's crypto. Not `@peculiar/x509`: it needs `reflect-metadata`
 * loaded globally (tsyringe) and brings 20 packages. Not `node-forge`: its certificates are RSA
 * only, hence the slow key generation. Not the `openssl` binary: users' machines may not have it.
 * Kubernetes clients (kubectl's Go TLS stack, Node's https) accept ECDSA P-256 with SHA-256.
 * Measured here: a CA and a serving certificate in ~130 ms for the first pair of a process (module
 * and schema set-up), ~10 ms each after that; no network, no files.
 */
import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
} from "node:crypto";
import { isIP } from "node:net";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_serverAuth,
} from "@peculiar/asn1-x509";

/** A certificate and its private key, PEM-encoded (key in PKCS#8). */
export interface CertificateAndKey {
  cert: string;
  key: string;
}

export interface CertificateOptions {
  /** Common name of the subject. */
  commonName?: string;
  /** Validity in days from now (default 365 for a serving certificate, 3650 for a CA). */
  days?: number;
  /** Random bytes for the serial number (default 16 fresh random bytes); see `serialNumber`. */
  serialBytes?: Uint8Array;
}

const ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
const COMMON_NAME = "2.5.4.3";
const ORGANIZATION = "2.5.4.10";

/** A self-signed certificate authority (CA:TRUE, may sign certificates). */
export function generateCa(options: CertificateOptions = {}): CertificateAndKey {
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = keys.publicKey.export({ format: "der", type: "spki" });
  const name = distinguishedName(options.commonName ?? "lifeline CA");
  const keyId = keyIdentifier(spki);
  const cert = signCertificate({
    subject: name,
    issuer: name,
    spki,
    serial: serialNumber(options.serialBytes ?? randomBytes(16)),
    days: options.days ?? 3650,
    signingKey: keys.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    extensions: [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
      extension(
        id_ce_keyUsage,
        true,
        new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature),
      ),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyId)),
    ],
  });
  return { cert, key: keys.privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
}

/**
 * A serving certificate signed by `ca` for these host names and IP addresses (subject alternative
 * names; clients check the host they dialled against them).
 */
export function issueServerCertificate(
  ca: CertificateAndKey,
  hosts: readonly string[],
  options: CertificateOptions = {},
): CertificateAndKey {
  if (hosts.length === 0) throw new Error("a serving certificate needs at least one host name or IP address");
  const caCert = new X509Certificate(ca.cert);
  const caSpki = caCert.publicKey.export({ format: "der", type: "spki" });
  const issuer = AsnConvert.parse(caCert.raw, Certificate).tbsCertificate.subject;
  const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = keys.publicKey.export({ format: "der", type: "spki" });
  const altNames = new SubjectAlternativeName(
    hosts.map((h) => (isIP(h) ? new GeneralName({ iPAddress: h }) : new GeneralName({ dNSName: h }))),
  );
  const cert = signCertificate({
    subject: distinguishedName(options.commonName ?? hosts[0]!),
    issuer,
    spki,
    serial: serialNumber(options.serialBytes ?? randomBytes(16)),
    days: options.days ?? 365,
    signingKey: ca.key,
    extensions: [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth])),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifier(spki))),
      extension(
        id_ce_authorityKeyIdentifier,
        false,
        new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyIdentifier(caSpki)) }),
      ),
      extension(id_ce_subjectAltName, false, altNames),
    ],
  });
  return { cert, key: keys.privateKey.export({ format: "pem", type: "pkcs8" }).toString() };
}

function distinguishedName(commonName: string): Name {
  return new Name([
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({
        type: ORGANIZATION,
        value: new AttributeValue({ utf8String: "lifeline" }),
      }),
    ]),
    new RelativeDistinguishedName([
      new AttributeTypeAndValue({ type: COMMON_NAME, value: new AttributeValue({ utf8String: commonName }) }),
    ]),
  ]);
}

function extension(extnID: string, critical: boolean, value: object): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/** RFC 5280 method 1: SHA-1 of the public key bits (here of the whole SPKI, as method 2 allows any). */
function keyIdentifier(spki: Buffer): ArrayBuffer {
  return toArrayBuffer(createHash("sha1").update(spki).digest());
}

/**
 * A certificate serial number from random bytes, as DER's INTEGER needs it: positive (top bit of the
 * first byte clear) and minimal (the first byte is not zero, or OpenSSL refuses the whole
 * certificate with "illegal padding"; clearing only the top bit gave that one time in 256).
 */
export function serialNumber(random: Uint8Array): Buffer {
  if (random.length === 0) throw new Error("a serial number needs at least one byte");
  const serial = Buffer.from(random);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  return serial;
}

function signCertificate(input: {
  subject: Name;
  issuer: Name;
  spki: Buffer;
  serial: Buffer;
  days: number;
  signingKey: string;
  extensions: Extension[];
}): string {
  const now = Date.now();
  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: toArrayBuffer(input.serial),
    signature: algorithm,
    issuer: input.issuer,
    // An hour back: clocks of client and server differ a little.
    validity: new Validity({
      notBefore: new Date(now - 3_600_000),
      notAfter: new Date(now + input.days * 86_400_000),
    }),
    subject: input.subject,
    subjectPublicKeyInfo: AsnConvert.parse(input.spki, SubjectPublicKeyInfo),
    extensions: new Extensions(input.extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign("sha256", tbsDer, { key: createPrivateKey(input.signingKey), dsaEncoding: "der" });
  const certificate = new Certificate({
    tbsCertificate: tbs,
    signatureAlgorithm: algorithm,
    signatureValue: toArrayBuffer(signature),
  });
  return pem("CERTIFICATE", Buffer.from(AsnConvert.serialize(certificate)));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function toArrayBuffer(buffer: Buffer): ArrayBuffer {
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
}
