/**
 * The serving certificate and key, read from files and reloaded when they change (cert-manager
 * rotates them in place). A file that does not hold a valid pair (unreadable, not PEM, the key
 * not matching, expired) is refused: at start-up with an error, later with a log line while the
 * previous pair keeps serving.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { createSecureContext } from "node:tls";
import { LifelineError } from "../core/errors.js";

export interface TlsFiles {
  cert: string;
  key: string;
}

export interface TlsPair {
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint of the certificate, for logs. */
  fingerprint: string;
  validTo: string;
}

/** Reads and checks a certificate and key; throws SERVE_TLS_INVALID saying what is wrong. */
export function readTlsPair(files: TlsFiles, now: Date = new Date()): TlsPair {
  const fail = (problem: string): never => {
    throw new LifelineError({
      code: "SERVE_TLS_INVALID",
      kind: "config",
      message: `the TLS certificate ${files.cert} and key ${files.key}: ${problem}`,
      fix: "give --tls-cert and --tls-key (or serve.tls in lifeline.yaml) a PEM certificate that is valid now and its private key (cert-manager's tls.crt and tls.key)",
    });
  };
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(files.cert);
    key = readFileSync(files.key);
  } catch (error) {
    return fail(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return fail("the certificate is not a PEM certificate");
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key)))
      return fail("the key does not belong to the certificate");
  } catch (error) {
    if (error instanceof LifelineError) throw error;
    return fail("the key is not a PEM private key");
  }
  const from = new Date(x509.validFrom);
  const to = new Date(x509.validTo);
  if (to.getTime() <= now.getTime()) return fail(`the certificate expired on ${to.toISOString()}`);
  if (from.getTime() > now.getTime())
    return fail(`the certificate is not valid before ${from.toISOString()}`);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    return fail(`TLS refuses them: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { cert, key, fingerprint: x509.fingerprint256, validTo: to.toISOString() };
}

/**
 * Watches both files (by polling their stat, which follows the symlinks a mounted Secret swaps)
 * and hands every new valid pair to `apply`; an invalid one goes to `refused`. Returns the stop.
 */
export function watchTlsFiles(
  files: TlsFiles,
  current: TlsPair,
  handlers: { apply: (pair: TlsPair) => void; refused: (reason: string) => void },
  intervalMs = 2_000,
): () => void {
  let fingerprint = current.fingerprint;
  let key = current.key;
  let lastRefusal: string | null = null;
  const check = () => {
    try {
      const pair = readTlsPair(files);
      if (pair.fingerprint === fingerprint && pair.key.equals(key)) return;
      fingerprint = pair.fingerprint;
      key = pair.key;
      lastRefusal = null;
      handlers.apply(pair);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      // Once per distinct problem: the cert and key are often written one after the other.
      if (reason !== lastRefusal) handlers.refused(reason);
      lastRefusal = reason;
    }
  };
  const options = { interval: intervalMs, persistent: false };
  watchFile(files.cert, options, check);
  watchFile(files.key, options, check);
  return () => {
    unwatchFile(files.cert, check);
    unwatchFile(files.key, check);
  };
}
