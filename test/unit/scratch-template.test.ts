import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import {
  templateCacheDir,
  templateName,
  type TemplateKey,
} from "../../src/scratch/embedded-postgres/template-cache.js";

const key: TemplateKey = {
  format: 1,
  version: "postgres (PostgreSQL) 15.20",
  binaries: [{ path: "/usr/lib/postgresql/15/bin/postgres", bytes: 9007080, modified: 1 }],
  uid: 101,
  gid: 104,
  initdb: ["--encoding=UTF8", "--locale=C"],
  database: "drill",
  encoding: "UTF8",
  locale: { provider: "libc", collate: "C", ctype: "C", icuLocale: null },
};

describe("scratch template cache", () => {
  it("lives in LIFELINE_CACHE_DIR, else XDG_CACHE_HOME/lifeline, else ~/.cache/lifeline", () => {
    assert.equal(
      templateCacheDir({ LIFELINE_CACHE_DIR: "/c", XDG_CACHE_HOME: "/x" }),
      path.join("/c", "scratch-templates"),
    );
    assert.equal(
      templateCacheDir({ XDG_CACHE_HOME: "/x" }),
      path.join("/x", "lifeline", "scratch-templates"),
    );
    assert.equal(templateCacheDir({}), path.join(os.homedir(), ".cache", "lifeline", "scratch-templates"));
  });

  it("names a template after everything it depends on", () => {
    const name = templateName(key);
    assert.match(name, /^pg15-[0-9a-f]{24}$/);
    assert.equal(templateName({ ...key }), name, "stable");
    const variants: Partial<TemplateKey>[] = [
      { version: "postgres (PostgreSQL) 15.21" },
      { binaries: [{ path: "/usr/lib/postgresql/15/bin/postgres", bytes: 9007080, modified: 2 }] },
      { uid: 1000 },
      { gid: 1000 },
      { initdb: ["--encoding=UTF8", "--locale=C", "--data-checksums"] },
      { database: "shop" },
      { encoding: "LATIN1" },
      { locale: { provider: "libc", collate: "en_US.UTF-8", ctype: "en_US.UTF-8", icuLocale: null } },
      { locale: { provider: "icu", collate: "C", ctype: "C", icuLocale: "de-DE" } },
      { format: 2 },
    ];
    const names = variants.map((v) => templateName({ ...key, ...v }));
    assert.equal(new Set([name, ...names]).size, variants.length + 1);
  });
});
