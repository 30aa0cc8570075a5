import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalCommand,
  displayCommand,
  isUnknown,
  parseCommand,
  redactArgv,
} from "../../src/core/kubernetes/command/index.js";
import { UNKEYED } from "../../src/core/kubernetes/command/canonical.js";
import { MASK } from "../../src/core/redact.js";
import { fnv, sh } from "../support/k8s-command.js";

describe("secrets never reach displayed or canonical commands", () => {
  const leaks = (line: string, secret: string) => {
    const argv = sh(line);
    const c = parseCommand(argv);
    for (const [out, mask] of [
      [displayCommand(argv), MASK],
      [canonicalCommand(c), UNKEYED],
      [redactArgv(argv).join(" "), MASK],
    ] as const) {
      assert.ok(!out.includes(secret), `${secret} leaked in: ${out}`);
      assert.ok(out.includes(mask), `no mask in: ${out}`);
    }
  };

  it("helm --set values of secret keys", () => {
    leaks("helm upgrade pg bitnami/postgresql --set auth.postgresPassword=hunter22", "hunter22");
    leaks("helm upgrade pg ./c --set auth.password=hunter22,auth.username=app", "hunter22");
    leaks("helm upgrade pg ./c --set-string mongodb.auth.rootPassword=hunter22", "hunter22");
    leaks("helm upgrade pg ./c --set=global.postgresql.auth.password=hunter22", "hunter22");
    leaks("helm upgrade pg ./c --set-literal auth.password=hunter22,still-secret", "still-secret");
    leaks(`helm upgrade pg ./c --set-json 'auth={"password":"hunter22"}'`, "hunter22");
    leaks("helm upgrade pg ./c --set 'a=1,db.password=hun\\,ter22,b=2'", "ter22");
  });

  it("keeps --set keys and non-secret values readable, shown and in the canonical form", () => {
    const argv = sh("helm upgrade pg ./c --set auth.password=hunter22,image.tag=v2,replicas=3");
    assert.equal(
      displayCommand(argv),
      "helm upgrade pg ./c --set auth.password=*****,image.tag=v2,replicas=3",
    );
    assert.match(
      canonicalCommand(parseCommand(argv)),
      /--set=auth.password=\*\*\* --set=image.tag=v2 --set=replicas=3$/,
    );
  });

  it("--token, --password, --kube-token in every spelling", () => {
    leaks("kubectl --token abc123xyz get pods", "abc123xyz");
    leaks("kubectl get pods --token=abc123xyz", "abc123xyz");
    leaks("kubectl delete pvc x --password hunter22 --username admin", "hunter22");
    leaks("helm upgrade pg oci://r/c --password hunter22 --username u", "hunter22");
    leaks("helm upgrade pg oci://r/c --password=hunter22", "hunter22");
    leaks("helm --kube-token abc123xyz uninstall pg", "abc123xyz");
  });

  it("passwords in URLs, literals of a Secret, patches of a Secret, env assignments", () => {
    leaks("helm repo add private https://bob:hunter22@charts.example.com", "hunter22");
    leaks("helm upgrade pg ./c --repo https://bob:hunter22@charts.example.com", "hunter22");
    leaks("kubectl create secret generic db --from-literal=pw=hunter22", "hunter22");
    leaks(`kubectl patch secret db -p '{"data":{"user":"aHVudGVyMjI="}}'`, "aHVudGVyMjI=");
    leaks(`kubectl patch cm app -p '{"data":{"db_password":"hunter22"}}'`, "hunter22");
    leaks("kubectl exec pg-0 -- env PGPASSWORD=hunter22 psql", "hunter22");
    leaks("kubectl set env deploy/feed DB_PASSWORD=hunter22", "hunter22");
    leaks("kubectl config set users.admin.token abc123xyz", "abc123xyz");
  });

  it("masks secrets even when the command is rejected or the tool unknown", () => {
    leaks("kubectl delete pvc --token abc123xyz --bogus", "abc123xyz");
    leaks("helm upgrade x --set auth.password=hunter22", "hunter22");
    leaks("mysql --password=hunter22 -e 'drop table x'", "hunter22");
    leaks("psql postgres://app:hunter22@db/shop", "hunter22");
  });

  it("redactArgv keeps the shape of argv", () => {
    const argv = sh("kubectl --token abc get pods -n shop");
    assert.deepEqual(redactArgv(argv), ["kubectl", "--token", MASK, "get", "pods", "-n", "shop"]);
    assert.deepEqual(redactArgv(["helm", "upgrade", "x", "c", "--set=a.password=p"]), [
      "helm",
      "upgrade",
      "x",
      "c",
      `--set=a.password=${MASK}`,
    ]);
  });

  it("never leaks a random secret passed as a helm value or a token", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{6,20}$/), fc.boolean(), (s, inline) => {
        const secret = `Zq${s}`;
        const lines = [
          [
            "helm",
            "upgrade",
            "pg",
            "./c",
            ...(inline ? [`--set=auth.password=${secret}`] : ["--set", `auth.password=${secret}`]),
          ],
          ["kubectl", ...(inline ? [`--token=${secret}`] : ["--token", secret]), "delete", "pvc", "x"],
        ];
        for (const argv of lines) {
          assert.ok(!displayCommand(argv).includes(secret));
          assert.ok(!canonicalCommand(parseCommand(argv)).includes(secret));
        }
      }),
    );
  });
});

describe("hostile secrets: the command line is masked by the one engine of core/redact.ts", () => {
  // [argv, what must never appear, what must stay readable]
  const cases: [string[], string[], string][] = [
    // the userinfo ends at the LAST "@" before the host: a password with "@" is masked whole
    [["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:p@ss@h/db"], ["p@ss", "ss@h"], "@h/db"],
    [
      ["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:p@ss@w@h/db"],
      ["p@ss", "ss@", "w@h"],
      "@h/db",
    ],
    // a user name with "@" (user@server) no longer hides the password from the pattern
    [
      ["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://admin@srv:t0psecret@h.example.com/db"],
      ["t0psecret"],
      "@h.example.com/db",
    ],
    [["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:pa:ss@h/db"], ["pa:ss", ":ss@"], "@h/db"],
    [["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:a/b@h/db"], ["a/b@"], "@h/db"],
    [
      ["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:p%40ss@h/db"],
      ["p%40ss", "40ss"],
      "@h/db",
    ],
    [
      ["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://h/db?sslmode=require&password=hunter22"],
      ["hunter22"],
      "sslmode=require",
    ],
    [["helm", "upgrade", "pg", "./c", "--set", "db.password=hunter22"], ["hunter22"], "db.password="],
    [["helm", "upgrade", "pg", "./c", "--set", "env=PGPASSWORD=hunter22"], ["hunter22"], "PGPASSWORD="],
    [["helm", "frobnicate", "--set", "db.url=postgres://u:p@ss@h/db"], ["p@ss", "ss@h"], "@h/db"],
    [
      ["kubectl", "exec", "-n", "shop", "pg-0", "--", "psql", "postgres://u:p@ss@h/db"],
      ["p@ss", "ss@h"],
      "@h/db",
    ],
    [
      [
        "kubectl",
        "exec",
        "-n",
        "shop",
        "pg-0",
        "--",
        "sh",
        "-c",
        "psql postgres://u:p@ss@h/db -c 'select 1'",
      ],
      ["p@ss", "ss@h"],
      "select 1",
    ],
    [
      ["kubectl", "exec", "-n", "shop", "pg-0", "--", "sh", "-c", "PGPASSWORD=hunter22 psql"],
      ["hunter22"],
      "psql",
    ],
    [["kubectl", "exec", "-n", "shop", "pg-0", "--", "psql", "--password=hunter22"], ["hunter22"], "psql"],
    [["kubectl", "--token=abc123xyz", "delete", "pvc", "x"], ["abc123xyz"], "delete pvc x"],
    [["kubectl", "delete", "pvc", "x", "--bogus=postgres://u:p@ss@h/db"], ["p@ss", "ss@h"], "delete"],
  ];
  const digest = (s: string) => `d${fnv(s)}`;
  for (const [argv, hidden, kept] of cases) {
    it(`${argv.join(" ")}: ${hidden.join(", ")} never shown`, () => {
      const c = parseCommand(argv);
      const outputs = [
        displayCommand(argv),
        redactArgv(argv).join(" "),
        canonicalCommand(c),
        canonicalCommand(c, { digest }),
        isUnknown(c) ? c.reason : "",
      ];
      for (const out of outputs)
        for (const h of hidden) assert.ok(!out.includes(h), `${h} leaked in: ${out}`);
      assert.ok(displayCommand(argv).includes(kept), displayCommand(argv));
      assert.ok(displayCommand(argv).includes(MASK), displayCommand(argv));
    });
  }

  it("the whole password binds the plan identity: passwords differing after their '@' differ", () => {
    const digest = (s: string) => `d${fnv(s)}`;
    const a = parseCommand(["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:p@one@h/db"]);
    const b = parseCommand(["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:p@two@h/db"]);
    assert.notEqual(canonicalCommand(a, { digest }), canonicalCommand(b, { digest }));
    assert.equal(
      displayCommand(["helm", "upgrade", "pg", "./c", "--set", "db.url=postgres://u:p@one@h/db"]),
      `helm upgrade pg ./c --set db.url=postgres://u:${MASK}@h/db`,
    );
  });
});
