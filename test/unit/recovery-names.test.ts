import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { stagingDatabaseName } from "../../src/core/restore/restore.js";
import { rolesInRestoreScript } from "../../src/engines/postgres/recovery/archive-roles.js";
import { isStagingOf } from "../../src/engines/postgres/recovery/databases.js";
import { alterSettingSql, grantSql, splitSettingList } from "../../src/engines/postgres/recovery/settings.js";

describe("postgres recovery: staging names, database settings and grants, archive roles", () => {
  it("recognises the staging databases of one database only, long names clipped", () => {
    assert.equal(isStagingOf("shop", stagingDatabaseName("shop", "ab12")), true);
    assert.equal(isStagingOf("shop", stagingDatabaseName("shop2", "ab12")), false);
    assert.equal(isStagingOf("shop2", stagingDatabaseName("shop", "ab12")), false);
    assert.equal(isStagingOf("shop", "shop"), false);
    assert.equal(isStagingOf("shop", "shop_lifeline_staging_AB"), false);
    const long = "a".repeat(60);
    const name = stagingDatabaseName(long, "0123456789");
    assert.ok(Buffer.byteLength(name) <= 63);
    assert.equal(isStagingOf(long, name), true);
    assert.equal(isStagingOf("b" + "a".repeat(59), name), false);
  });

  it("gives back database settings as they were set, list settings item by item", () => {
    assert.deepEqual(splitSettingList('"$user", public'), ["$user", "public"]);
    assert.deepEqual(splitSettingList('"a""b",c , "d,e"'), ['a"b', "c", "d,e"]);
    assert.equal(alterSettingSql("shop", null, "work_mem=7MB"), `ALTER DATABASE "shop" SET work_mem = '7MB'`);
    assert.equal(
      alterSettingSql("shop", null, 'search_path="$user", public'),
      `ALTER DATABASE "shop" SET search_path = '$user', 'public'`,
    );
    assert.equal(
      alterSettingSql("shop", "app", "myapp.tenant=it's"),
      `ALTER ROLE "app" IN DATABASE "shop" SET myapp.tenant = 'it''s'`,
    );
    assert.equal(
      alterSettingSql("shop", null, "DateStyle=ISO, YMD"),
      `ALTER DATABASE "shop" SET DateStyle = 'ISO, YMD'`,
    );
  });

  it("gives back a database privilege as a GRANT", () => {
    assert.equal(
      grantSql("shop", { grantee: null, privilege: "TEMPORARY", grantable: false }),
      'GRANT TEMPORARY ON DATABASE "shop" TO PUBLIC',
    );
    assert.equal(
      grantSql("shop", { grantee: "Read Er", privilege: "CONNECT", grantable: true }),
      'GRANT CONNECT ON DATABASE "shop" TO "Read Er" WITH GRANT OPTION',
    );
    assert.throws(() => grantSql("shop", { grantee: "x", privilege: "CONNECT; DROP", grantable: false }));
  });

  it("lists the roles a restore with owners and privileges names", () => {
    const sql = [
      "-- Name: t; Type: TABLE; Schema: public; Owner: commented",
      "ALTER TABLE public.t OWNER TO app;",
      'ALTER SCHEMA "Sales" OWNER TO "Sales Owner";',
      "ALTER LARGE OBJECT 16400 OWNER TO lo_owner;",
      "REVOKE ALL ON SCHEMA public FROM PUBLIC;",
      "REVOKE ALL ON TABLE public.t FROM app;",
      "GRANT SELECT ON TABLE public.t TO reader;",
      'GRANT ALL ON TABLE public.t TO "we""ird" WITH GRANT OPTION;',
      "GRANT USAGE ON SCHEMA public TO PUBLIC;",
      "ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA public GRANT SELECT ON TABLES TO report;",
      "SELECT 1;",
    ].join("\n");
    assert.deepEqual(rolesInRestoreScript(sql), [
      "Sales Owner",
      "app",
      "lo_owner",
      "reader",
      "report",
      'we"ird',
    ]);
  });
});
