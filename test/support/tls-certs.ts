/**
 * Serving certificates for tests, made by the openssl binary: self-signed for 127.0.0.1 and
 * localhost, valid now, or expired (openssl ca sets past dates; req -x509 cannot in OpenSSL 3.0).
 */
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface TestCert {
  cert: string;
  key: string;
  /** PEM text of the certificate (the client's CA). */
  pem: string;
  fingerprint: string;
}

const SAN = "subjectAltName=IP:127.0.0.1,DNS:localhost";

export function makeCert(dir: string, name: string, options: { expired?: boolean } = {}): TestCert {
  const work = path.join(dir, `${name}.d`);
  mkdirSync(work, { recursive: true });
  const cert = path.join(work, "tls.crt");
  const key = path.join(work, "tls.key");
  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: work, stdio: "pipe" });
  if (!options.expired) {
    openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      `/CN=lifeline-${name}`,
      "-addext",
      SAN,
    ]);
  } else {
    writeFileSync(path.join(work, "index.txt"), "");
    writeFileSync(path.join(work, "serial"), "01\n");
    writeFileSync(
      path.join(work, "ca.cnf"),
      "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n",
    );
    openssl([
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      "r.csr",
      "-subj",
      `/CN=lifeline-${name}`,
      "-addext",
      SAN,
    ]);
    openssl([
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-selfsign",
      "-keyfile",
      key,
      "-in",
      "r.csr",
      "-out",
      cert,
      "-startdate",
      "20200101000000Z",
      "-enddate",
      "20200102000000Z",
      "-notext",
    ]);
  }
  const pem = readFileSync(cert, "utf8");
  return { cert, key, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}
