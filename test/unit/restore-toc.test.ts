import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  canonicalName,
  foreignKeyOf,
  listFile,
  parseScript,
  parseToc,
  probeOf,
  relationOf,
  selectEntries,
  type Probe,
  type SelectionInput,
} from "../../src/engines/postgres/recovery/toc.js";

/** `pg_restore --list --verbose` of a real pg_dump 15 archive (customers, products, orders, "Sales"."Order Items"…). */
const TOC = [
  "; Archive created at 2026-11-27 11:12:02 UTC",
  ";     dbname: lt_toc_6066",
  ";     TOC Entries: 52",
  ";     Compression: -1",
  ";     Dump Version: 1.14-0",
  ";     Format: DIRECTORY",
  ";     Integer: 4 bytes",
  ";     Offset: 8 bytes",
  ";     Dumped from database version: 15.20 (Debian 15.20-0+deb12u1)",
  ";     Dumped by pg_dump version: 15.20 (Debian 15.20-0+deb12u1)",
  "3407; 0 0 ENCODING - ENCODING ",
  "3408; 0 0 STDSTRINGS - STDSTRINGS ",
  "3409; 0 0 SEARCHPATH - SEARCHPATH ",
  "3410; 1262 16387 DATABASE - lt_toc_6066 postgres",
  "6; 2615 16434 SCHEMA - Sales postgres",
  "226; 1255 16412 FUNCTION public touch() postgres",
  "223; 1259 16436 TABLE Sales Order Items postgres",
  ";\tdepends on: 6",
  "222; 1259 16435 SEQUENCE Sales Order Items_id_seq postgres",
  ";\tdepends on: 223 6",
  "3411; 0 0 SEQUENCE OWNED BY Sales Order Items_id_seq postgres",
  ";\tdepends on: 222",
  "218; 1259 16398 TABLE public products postgres",
  "3412; 0 0 COMMENT public TABLE products postgres",
  ";\tdepends on: 218",
  "3413; 0 0 COMMENT public COLUMN products.sku postgres",
  ";\tdepends on: 218",
  "3414; 0 0 ACL public TABLE products postgres",
  ";\tdepends on: 218",
  "221; 1259 16430 VIEW public cheap postgres",
  ";\tdepends on: 218 218 218 218 218",
  "216; 1259 16389 TABLE public customers postgres",
  "215; 1259 16388 SEQUENCE public customers_id_seq postgres",
  ";\tdepends on: 216",
  "3415; 0 0 SEQUENCE OWNED BY public customers_id_seq postgres",
  ";\tdepends on: 215",
  "220; 1259 16415 TABLE public orders postgres",
  "219; 1259 16414 SEQUENCE public orders_id_seq postgres",
  ";\tdepends on: 220",
  "224; 1259 16448 TABLE public parted postgres",
  "225; 1259 16451 TABLE public parted_1 postgres",
  ";\tdepends on: 224",
  "217; 1259 16397 SEQUENCE public products_id_seq postgres",
  ";\tdepends on: 218",
  "3416; 0 0 SEQUENCE OWNED BY public products_id_seq postgres",
  ";\tdepends on: 217",
  "3226; 0 0 TABLE ATTACH public parted_1 postgres",
  ";\tdepends on: 225 224",
  "3231; 2604 16439 DEFAULT Sales Order Items id postgres",
  ";\tdepends on: 223 222 223",
  "3227; 2604 16392 DEFAULT public customers id postgres",
  ";\tdepends on: 216 215 216",
  "3228; 2604 16401 DEFAULT public products id postgres",
  ";\tdepends on: 217 218 218",
  "3403; 0 16436 TABLE DATA Sales Order Items postgres",
  ";\tdepends on: 223",
  "3397; 0 16389 TABLE DATA public customers postgres",
  ";\tdepends on: 216",
  "3401; 0 16415 TABLE DATA public orders postgres",
  ";\tdepends on: 220",
  "3404; 0 16451 TABLE DATA public parted_1 postgres",
  ";\tdepends on: 225",
  "3399; 0 16398 TABLE DATA public products postgres",
  ";\tdepends on: 218",
  "3417; 0 0 SEQUENCE SET Sales Order Items_id_seq postgres",
  ";\tdepends on: 222",
  "3418; 0 0 SEQUENCE SET public customers_id_seq postgres",
  ";\tdepends on: 215",
  "3419; 0 0 SEQUENCE SET public orders_id_seq postgres",
  ";\tdepends on: 219",
  "3420; 0 0 SEQUENCE SET public products_id_seq postgres",
  ";\tdepends on: 217",
  "3234; 2606 16396 CONSTRAINT public customers customers_pkey postgres",
  ";\tdepends on: 216",
  "3241; 2606 16419 CONSTRAINT public orders orders_pkey postgres",
  ";\tdepends on: 220",
  "3236; 2606 16408 CONSTRAINT public products products_pkey postgres",
  ";\tdepends on: 218",
  "3239; 2606 16410 CONSTRAINT public products products_sku_key postgres",
  ";\tdepends on: 218",
  "3242; 1259 16454 INDEX public parted_id_idx postgres",
  ";\tdepends on: 224",
  "3243; 1259 16455 INDEX public parted_1_id_idx postgres",
  ";\tdepends on: 225 225 3242",
  "3237; 1259 16411 INDEX public products_price_idx postgres",
  ";\tdepends on: 218",
  "3244; 0 0 INDEX ATTACH public parted_1_id_idx postgres",
  ";\tdepends on: 3243 3242 225 224",
  "3245; 3381 16446 STATISTICS public pst postgres",
  ";\tdepends on: 218 218",
  "3393; 2618 16447 RULE public customers r1 postgres",
  ";\tdepends on: 216 216 216",
  "3249; 2620 16413 TRIGGER public products products_touch postgres",
  ";\tdepends on: 226 218",
  "3248; 2606 16440 FK CONSTRAINT Sales Order Items Order Items_Product_fkey postgres",
  ";\tdepends on: 223 218 3236",
  "3246; 2606 16420 FK CONSTRAINT public orders orders_customer_id_fkey postgres",
  ";\tdepends on: 220 3234 216",
  "3247; 2606 16425 FK CONSTRAINT public orders orders_product_id_fkey postgres",
  ";\tdepends on: 3236 220 218",
  "3395; 3256 16445 POLICY public products p1 postgres",
  ";\tdepends on: 218",
  "3394; 0 16398 ROW SECURITY public products postgres",
  ";\tdepends on: 218",
].join("\n");

function block(id: number, header: string, sql: string): string {
  return `--\n-- TOC entry ${id} (class 1259 OID ${16000 + id})\n-- Name: ${header}\n--\n\n${sql}\n\n`;
}

/** The parts of `pg_restore --verbose --schema-only --file=-` the selection reads. */
const SCRIPT = [
  "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n",
  block(
    6,
    "Sales; Type: SCHEMA; Schema: -; Owner: postgres",
    'CREATE SCHEMA "Sales";\n\n\nALTER SCHEMA "Sales" OWNER TO postgres;',
  ),
  block(
    226,
    "touch(); Type: FUNCTION; Schema: public; Owner: postgres",
    "CREATE FUNCTION public.touch() RETURNS trigger\n    LANGUAGE plpgsql\n    AS $$BEGIN RETURN NEW; END$$;",
  ),
  block(
    223,
    "Order Items; Type: TABLE; Schema: Sales; Owner: postgres",
    'CREATE TABLE "Sales"."Order Items" (\n    id integer NOT NULL,\n    "Product" integer\n);',
  ),
  block(
    222,
    "Order Items_id_seq; Type: SEQUENCE; Schema: Sales; Owner: postgres",
    'CREATE SEQUENCE "Sales"."Order Items_id_seq"\n    AS integer;',
  ),
  block(
    218,
    "products; Type: TABLE; Schema: public; Owner: postgres",
    "CREATE TABLE public.products (\n    id integer NOT NULL,\n    CONSTRAINT products_price_check CHECK ((price >= (0)::numeric))\n);",
  ),
  block(
    221,
    "cheap; Type: VIEW; Schema: public; Owner: postgres",
    "CREATE VIEW public.cheap AS\n SELECT products.id FROM public.products;",
  ),
  block(
    216,
    "customers; Type: TABLE; Schema: public; Owner: postgres",
    "CREATE TABLE public.customers (\n    id integer NOT NULL\n);",
  ),
  block(
    215,
    "customers_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres",
    "CREATE SEQUENCE public.customers_id_seq\n    AS integer;",
  ),
  block(
    220,
    "orders; Type: TABLE; Schema: public; Owner: postgres",
    "CREATE TABLE public.orders (\n    id bigint NOT NULL\n);",
  ),
  block(
    219,
    "orders_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres",
    "ALTER TABLE public.orders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (\n    SEQUENCE NAME public.orders_id_seq\n    START WITH 1\n);",
  ),
  block(
    224,
    "parted; Type: TABLE; Schema: public; Owner: postgres",
    "CREATE TABLE public.parted (\n    id integer\n)\nPARTITION BY RANGE (k);",
  ),
  block(
    225,
    "parted_1; Type: TABLE; Schema: public; Owner: postgres",
    "CREATE TABLE public.parted_1 (\n    id integer\n);",
  ),
  block(
    217,
    "products_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres",
    "CREATE SEQUENCE public.products_id_seq\n    AS integer;",
  ),
  block(
    3248,
    "Order Items Order Items_Product_fkey; Type: FK CONSTRAINT; Schema: Sales; Owner: postgres",
    'ALTER TABLE ONLY "Sales"."Order Items"\n    ADD CONSTRAINT "Order Items_Product_fkey" FOREIGN KEY ("Product") REFERENCES public.products(id);',
  ),
  block(
    3246,
    "orders orders_customer_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres",
    "ALTER TABLE ONLY public.orders\n    ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers(id);",
  ),
  block(
    3247,
    "orders orders_product_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres",
    "ALTER TABLE ONLY public.orders\n    ADD CONSTRAINT orders_product_id_fkey FOREIGN KEY (product_id) REFERENCES public.products(id);",
  ),
  "--\n-- PostgreSQL database dump complete\n--\n",
].join("");

const entries = parseToc(TOC);
const blocks = parseScript(SCRIPT);
const ids = (names: string[]) =>
  new Set(
    names.map((name) => {
      const e = entries.find((x) => x.desc === "TABLE" && relationOf(blocks.get(x.id)) === name);
      if (!e) throw new Error(name);
      return e.id;
    }),
  );

function select(overrides: Partial<SelectionInput> & { tables: ReadonlySet<number> }) {
  return selectEntries({
    entries,
    blocks,
    existing: new Set<string>(),
    exists: () => true,
    acl: false,
    ...overrides,
  });
}

describe("parseToc", () => {
  it("reads ids, multi-word kinds and dependencies", () => {
    const byId = new Map(entries.map((e) => [e.id, e]));
    assert.equal(byId.get(3399)?.desc, "TABLE DATA");
    assert.equal(byId.get(3416)?.desc, "SEQUENCE OWNED BY");
    assert.equal(byId.get(3420)?.desc, "SEQUENCE SET");
    assert.equal(byId.get(3247)?.desc, "FK CONSTRAINT");
    assert.equal(byId.get(3226)?.desc, "TABLE ATTACH");
    assert.equal(byId.get(3394)?.desc, "ROW SECURITY");
    assert.equal(byId.get(218)?.desc, "TABLE");
    assert.deepEqual(byId.get(3247)?.dependsOn, [3236, 220, 218]);
    assert.deepEqual(byId.get(221)?.dependsOn, [218], "repeated dependencies once");
    assert.equal(byId.get(3410)?.desc, "DATABASE");
    assert.equal(byId.get(218)?.line, "218; 1259 16398 TABLE public products postgres");
  });

  it("ignores comments and blank lines, and handles CRLF", () => {
    assert.deepEqual(
      parseToc("; Archive created\r\n;\r\n12; 1259 1 TABLE public t me\r\n;\tdepends on: 3 4\r\n"),
      [{ id: 12, desc: "TABLE", line: "12; 1259 1 TABLE public t me", dependsOn: [3, 4] }],
    );
  });
});

describe("parseScript and names", () => {
  it("splits the verbose script by TOC entry with its header", () => {
    const table = blocks.get(223);
    assert.equal(table?.name, "Order Items");
    assert.equal(table?.type, "TABLE");
    assert.equal(table?.schema, "Sales");
    assert.equal(table?.owner, "postgres");
    assert.match(table?.sql ?? "", /^CREATE TABLE "Sales"\."Order Items"/);
  });

  it("names relations as manifests do", () => {
    assert.equal(relationOf(blocks.get(223)), '"Sales"."Order Items"');
    assert.equal(relationOf(blocks.get(218)), "public.products");
    assert.equal(relationOf(blocks.get(219)), "public.orders_id_seq", "identity sequence");
    assert.equal(relationOf(blocks.get(222)), '"Sales"."Order Items_id_seq"');
    assert.equal(relationOf(blocks.get(221)), "public.cheap");
    assert.equal(relationOf(blocks.get(3247)), null);
    assert.equal(canonicalName('"we""ird"."Tab.le"'), '"we""ird"."Tab.le"');
    assert.equal(canonicalName("public.t"), "public.t");
  });

  it("reads a foreign key's tables and definition", () => {
    assert.deepEqual(foreignKeyOf(blocks.get(3248)), {
      name: "Order Items_Product_fkey",
      table: '"Sales"."Order Items"',
      references: "public.products",
      definition:
        'ALTER TABLE ONLY "Sales"."Order Items"\n    ADD CONSTRAINT "Order Items_Product_fkey" FOREIGN KEY ("Product") REFERENCES public.products(id);',
    });
  });

  it("probes prerequisites by kind", () => {
    const fn = entries.find((e) => e.id === 226);
    assert.ok(fn);
    assert.deepEqual(probeOf(fn, blocks.get(226)), { kind: "function", signature: '"public"."touch"()' });
    const seq = entries.find((e) => e.id === 217);
    assert.ok(seq);
    assert.deepEqual(probeOf(seq, blocks.get(217)), { kind: "relation", name: "public.products_id_seq" });
  });
});

describe("selectEntries", () => {
  const live = new Set([
    "public.customers",
    "public.customers_id_seq",
    "public.orders",
    "public.orders_id_seq",
    '"Sales"."Order Items"',
    '"Sales"."Order Items_id_seq"',
    "public.parted",
    "public.parted_1",
  ]);

  it("after DROP TABLE products CASCADE: products with everything attached, its view, and the foreign keys of others reported", () => {
    const s = select({ tables: ids(["public.products"]), existing: live });
    assert.deepEqual(
      s.entries.map((e) => e.id),
      [218, 3412, 3413, 221, 217, 3416, 3228, 3399, 3420, 3236, 3239, 3237, 3245, 3249, 3395, 3394],
    );
    assert.ok(!s.entries.some((e) => e.desc === "ACL"), "no ACL unless owners are kept");
    assert.deepEqual(s.sequences, ["public.products_id_seq"]);
    assert.deepEqual(s.views, ["public.cheap"]);
    assert.deepEqual(s.schemas, ["public"]);
    assert.deepEqual(
      s.foreignKeys.map((fk) => [fk.table, fk.name, fk.why]),
      [
        [
          '"Sales"."Order Items"',
          "Order Items_Product_fkey",
          '"Sales"."Order Items" is not restored: lifeline does not change tables it does not restore',
        ],
        [
          "public.orders",
          "orders_product_id_fkey",
          "public.orders is not restored: lifeline does not change tables it does not restore",
        ],
      ],
    );
    assert.equal(listFile(s.entries).split("\n")[0], "218; 1259 16398 TABLE public products postgres");
  });

  it("ACLs come along when owners and privileges are kept", () => {
    const s = select({ tables: ids(["public.products"]), existing: live, acl: true });
    assert.ok(s.entries.some((e) => e.id === 3414));
  });

  it("a foreign key from a restored table to a table of the target is added after the restore; to a missing table, reported", () => {
    const s = select({ tables: ids(["public.orders"]), existing: new Set(["public.customers"]) });
    // orders → customers (customers exists, not restored): not in the transaction (customers may
    // have changed since the restore point), added after it commits.
    assert.ok(!s.entries.some((e) => e.id === 3246));
    assert.deepEqual(
      s.laterForeignKeys.map((fk) => [fk.name, fk.references]),
      [["orders_customer_id_fkey", "public.customers"]],
    );
    assert.ok(!s.entries.some((e) => e.id === 3247));
    assert.deepEqual(
      s.foreignKeys.map((fk) => [fk.name, fk.why]),
      [["orders_product_id_fkey", "public.products is not restored and does not exist in the target"]],
    );
    assert.deepEqual(s.sequences, ["public.orders_id_seq"], "the identity sequence comes with its table");
    assert.ok(
      s.entries.some((e) => e.id === 3419),
      "with its value",
    );
  });

  it("a foreign key between two restored tables is restored; schemas are created; a missing function comes from the archive", () => {
    const s = select({
      tables: ids(["public.products", '"Sales"."Order Items"']),
      exists: (p: Probe) => p.kind !== "function",
    });
    assert.ok(s.entries.some((e) => e.id === 3248));
    assert.ok(
      s.entries.some((e) => e.id === 226),
      "touch() is missing in the target: restored first",
    );
    assert.deepEqual(s.schemas, ["Sales", "public"]);
    assert.deepEqual(s.sequences, ['"Sales"."Order Items_id_seq"', "public.products_id_seq"]);
    assert.deepEqual(
      s.foreignKeys.map((fk) => fk.name),
      ["orders_product_id_fkey"],
    );
  });

  it("a sequence or view that exists in the target is left alone", () => {
    const s = select({
      tables: ids(["public.products"]),
      existing: new Set(["public.products_id_seq", "public.cheap"]),
    });
    assert.ok(!s.entries.some((e) => [217, 3416, 3420, 221].includes(e.id)));
    assert.ok(
      s.entries.some((e) => e.id === 3228),
      "the default still uses it",
    );
    assert.deepEqual(s.sequences, []);
    assert.deepEqual(s.views, []);
  });

  it("a partition comes back attached, to its parent in the target or to its partitioned parent from the archive", () => {
    const attached = select({ tables: ids(["public.parted_1"]), existing: new Set(["public.parted"]) });
    assert.ok(attached.entries.some((e) => e.id === 3226));
    assert.ok(!attached.entries.some((e) => e.id === 224), "the existing parent is left alone");
    assert.ok(
      attached.entries.some((e) => e.id === 3243),
      "the partition's index (the parent's exists)",
    );
    const alone = select({ tables: ids(["public.parted_1"]) });
    assert.deepEqual(
      alone.entries.map((e) => e.id),
      [224, 225, 3226, 3404, 3242, 3243, 3244],
      "a missing partitioned parent comes along (it holds no rows), with its index, attached",
    );
  });
});
