import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseListen, serveSettings } from "../../src/cli/commands/serve.js";
import { parseConfig, type LoadedConfig } from "../../src/config/load.js";

const ASSETS = "assets:\n  shop:\n    url: postgres://h/db\n";

function loaded(serve: string): LoadedConfig {
  const config = parseConfig(`${ASSETS}${serve}`, "/etc/lifeline/lifeline.yaml", {});
  return {
    config,
    file: "/etc/lifeline/lifeline.yaml",
    dir: "/etc/lifeline",
    repositoryPath: "/tmp/r",
  } as LoadedConfig;
}

describe("lifeline serve's settings", () => {
  it("listen and TLS files from lifeline.yaml (paths beside it), flags first", () => {
    const l = loaded(
      "serve:\n  listen: 127.0.0.1:9443\n  tls:\n    cert: tls/tls.crt\n    key: tls/tls.key\n",
    );
    assert.deepEqual(serveSettings(l, {}), {
      host: "127.0.0.1",
      port: 9443,
      tls: { cert: "/etc/lifeline/tls/tls.crt", key: "/etc/lifeline/tls/tls.key" },
    });
    const flags = serveSettings(l, { listen: "[::]:8443", tlsCert: "/c", tlsKey: "/k" });
    assert.deepEqual(flags, { host: "::", port: 8443, tls: { cert: "/c", key: "/k" } });
    assert.deepEqual(parseListen(":8443", "--listen"), { host: "0.0.0.0", port: 8443 });
  });

  it("config errors name the path and the fix", () => {
    assert.throws(
      () => loaded("serve:\n  listen: localhost\n"),
      (e: Error & { fix?: string }) =>
        /serve\.listen: is not HOST:PORT; write 0\.0\.0\.0:8443/.test(e.message),
    );
    assert.throws(() => loaded("serve:\n  tls:\n    cert: a\n"), /serve\.tls\.key/);
    assert.throws(
      () => serveSettings(loaded(""), {}),
      (e: Error & { fix?: string }) =>
        /serve\.tls: lifeline serve needs a TLS certificate and key/.test(e.message) &&
        /--tls-cert FILE --tls-key FILE/.test(e.fix ?? ""),
    );
    assert.throws(
      () => parseListen("1.2.3.4:99999", "--listen"),
      /--listen: "1\.2\.3\.4:99999" is not HOST:PORT/,
    );
  });
});
