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
import { fnv, helm, kubectl, rejected, sh } from "../support/k8s-command.js";

describe("review fixes", () => {
  const canon = (line: string | string[]) =>
    canonicalCommand(parseCommand(typeof line === "string" ? sh(line) : line));

  describe("reasons never quote secret argument values", () => {
    const reasonOf = (argv: string[]) => {
      const c = parseCommand(argv);
      assert.ok(isUnknown(c), `${argv.join(" ")} should be unknown`);
      return c.reason;
    };

    it("an unterminated --set-json value", () => {
      const reason = reasonOf(
        sh(`helm upgrade postgresql c -n shop --set-json 'auth={"password":"Hunter25xyz"'`),
      );
      assert.ok(!reason.includes("Hunter25xyz"), reason);
      assert.match(reason, /invalid JSON for key "auth"/);
    });

    it("the value of a flag that is not global, before the command", () => {
      const reason = reasonOf(sh("kubectl --kube-token Hunter24xyz delete pvc x"));
      assert.ok(!reason.includes("Hunter24xyz"), reason);
      assert.match(reason, /--kube-token is not a global kubectl flag/);
    });

    it("a KEY=VALUE secret in an unexpected argument", () => {
      const reason = reasonOf(sh("helm install a ./c PGPASSWORD=Hunter26xyz"));
      assert.ok(!reason.includes("Hunter26xyz"), reason);
      assert.match(reason, /unexpected arguments/);
    });
  });

  describe("property: a random secret never reaches display, canonical form or reason", () => {
    const secretKeys = [
      "auth.postgresPassword",
      "mongodb.rootPwd",
      "adminPass",
      "auth",
      "global.redis.password",
      "apiKey",
      "tls.key",
      "tls.cert",
      "jwtSecret",
      "credentials.aws",
      "oauth.clientToken",
      "privateKey",
      "hashSalt",
      "db\\.password",
    ];
    const plainKeys = ["replicas", "image.tag", "nodeSelector.role", "note"];
    const setFlags = ["--set", "--set-string", "--set-json", "--set-literal"] as const;
    /** a fragment that carries the secret; `canonicalMasks` is false when only the display must mask it */
    type Fragment = { tool: "kubectl" | "helm"; args: string[]; canonicalMasks: boolean; anywhere: boolean };
    const flagValue = (name: string, value: string, inline: boolean) =>
      inline ? [`${name}=${value}`] : [name, value];
    const fragment = (s: string): fc.Arbitrary<Fragment> =>
      fc.oneof(
        fc
          .tuple(fc.constantFrom("--token", "--password", "--kube-token", "--client-password"), fc.boolean())
          .map(([f, inline]) => ({
            tool: "kubectl" as const,
            args: flagValue(f, s, inline),
            canonicalMasks: true,
            anywhere: true,
          })),
        fc
          .tuple(fc.constantFrom("--kube-token", "--password", "--db-token"), fc.boolean())
          .map(([f, inline]) => ({
            tool: "helm" as const,
            args: flagValue(f, s, inline),
            canonicalMasks: true,
            anywhere: true,
          })),
        fc
          .tuple(
            fc.constantFrom(...setFlags),
            fc.constantFrom(...secretKeys, ...plainKeys),
            fc.boolean(),
            fc.nat(3),
          )
          .map(([f, key, inline, shape]) => {
            const json = f === "--set-json";
            const value = json
              ? ([`"${s}"`, `{"password":"${s}"}`, `{"password":"${s}"`, `["${s}"]`][shape] ?? `"${s}"`)
              : ([s, `{${s},x}`, `a${s}`, s][shape] ?? s);
            const prefix = shape === 3 && !json && f !== "--set-literal" ? "first=1," : "";
            return {
              tool: "helm" as const,
              args: flagValue(f, `${prefix}${key}=${value}`, inline),
              canonicalMasks: secretKeys.includes(key) || (json && shape !== 0 && shape !== 3),
              anywhere: false,
            };
          }),
        fc.constantFrom("DB_PASSWORD", "PGPASSWORD", "API_TOKEN", "AWS_SECRET_ACCESS_KEY").map((k) => ({
          tool: "kubectl" as const,
          args: [`${k}=${s}`],
          canonicalMasks: true,
          anywhere: false,
        })),
      );
    const kubectlBases = [
      ["kubectl", "delete", "pvc", "data-0"],
      ["kubectl", "delete", "pvc"],
      ["kubectl", "get", "pods"],
      ["kubectl", "set", "env", "deploy/feed"],
      ["kubectl", "exec", "pg-0", "--", "env"],
      ["kubectl", "scale", "sts", "x", "--replicas=0"],
      ["kubectl", "frobnicate"],
    ];
    const helmBases = [
      ["helm", "upgrade", "pg", "./c"],
      ["helm", "install", "pg", "./c"],
      ["helm", "install", "./c"],
      ["helm", "uninstall", "pg"],
      ["helm", "template", "pg", "./c"],
      ["helm", "upgrade", "pg"],
    ];
    const extras = fc.constantFrom<readonly string[]>(
      ["-n", "shop"],
      ["--dry-run"],
      ["--bogus"],
      ["-l", "app=x"],
      ["--grace-period", "5"],
      ["--timeout", "soon"],
      ["-o", "yaml"],
      ["--raw", "/api"],
      ["--context", "prod"],
      ["-Z"],
      ["--set", "a=1"],
      ["extra"],
    );

    it("holds for secret flags, --set entries and KEY=VALUE arguments", () => {
      const cases = fc
        .stringMatching(/^[A-Za-z0-9]{6,20}$/)
        .map((tail) => `Zq${tail}`)
        .chain((secret) =>
          fc.record({
            secret: fc.constant(secret),
            f: fragment(secret),
            base: fc.nat(),
            more: fc.array(extras, { maxLength: 4 }),
            at: fc.nat(),
            beforeCommand: fc.boolean(),
          }),
        );
      fc.assert(
        fc.property(cases, ({ secret, f, base, more, at, beforeCommand }) => {
          const bases = f.tool === "kubectl" ? kubectlBases : helmBases;
          const [tool = "", ...rest] = bases[base % bases.length] ?? [];
          const pieces: string[][] = more.map((m) => [...m]);
          const front = f.anywhere && beforeCommand;
          if (!front) pieces.splice(at % (pieces.length + 1), 0, f.args);
          const argv = [tool, ...(front ? f.args : []), ...rest, ...pieces.flat()];
          const c = parseCommand(argv);
          // a --set value whose key does not look secret is shown, by design: the approver reads it
          if (!f.canonicalMasks) return;
          const shown = displayCommand(argv);
          assert.ok(!shown.includes(secret), `display leaked: ${shown}`);
          assert.ok(!redactArgv(argv).join(" ").includes(secret), "redactArgv leaked");
          if (isUnknown(c)) assert.ok(!c.reason.includes(secret), `reason leaked: ${c.reason}`);
          for (const canonical of [canonicalCommand(c), canonicalCommand(c, { digest: fnv })])
            assert.ok(!canonical.includes(secret), `canonical leaked: ${canonical}`);
        }),
        { numRuns: 3000 },
      );
    });
  });

  describe("--set values: secret keys masked when shown and in the canonical form", () => {
    it("displayCommand masks the values of secret-looking keys and keeps the keys", () => {
      assert.equal(
        displayCommand(
          sh(
            `helm upgrade pg ./c --set mongodb.rootPwd=abc,adminPass=def,replicas=3 --set-string tag=v1 --set-json 'cfg={"a":1}' --set-literal note=a,b --set-file ca=./ca.pem`,
          ),
        ),
        `helm upgrade pg ./c --set mongodb.rootPwd=*****,adminPass=*****,replicas=3 --set-string tag=v1 --set-json 'cfg={"a":1}' --set-literal note=a,b --set-file ca=./ca.pem`,
      );
      assert.equal(
        displayCommand(sh("helm upgrade pg ./c --set=tags={a,b}")),
        "helm upgrade pg ./c '--set=tags={a,b}'",
      );
      assert.equal(
        displayCommand(sh("helm upgrade pg ./c --set auth.postgresPassword=hunter22")),
        "helm upgrade pg ./c --set auth.postgresPassword=*****",
      );
    });

    it("canonicalCommand keeps plain values and masks values of secret-looking keys", () => {
      const c = canon(
        "helm upgrade pg ./c --set mongodb.rootPwd=s1,adminPass=s2,replicas=3,tls.cert=s3,hashSalt=s4,api.accessKey=s5",
      );
      for (const s of ["s1", "s2", "s3", "s4", "s5"]) assert.ok(!c.includes(`=${s}`), c);
      assert.ok(c.includes("--set=replicas=3"), c);
      assert.ok(c.includes("--set=mongodb.rootPwd=***"), c);
      const secret = helm("helm upgrade pg ./c --set mongodb.rootPwd=x,adminPass=y,replicas=3").set;
      assert.deepEqual(
        secret.map((e) => e.secret),
        [true, true, false],
      );
    });
  });

  describe("canonicalCommand ignores what does not change what is destroyed", () => {
    const same = (lines: string[]) => {
      const forms = lines.map((l) => canon(l));
      for (const [i, f] of forms.entries()) assert.equal(f, forms[0], `${lines[i]} vs ${lines[0]}`);
      assert.ok(!(forms[0] ?? "").startsWith("unknown"), forms[0]);
    };
    const differ = (a: string, b: string) => assert.notEqual(canon(a), canon(b), `${a} vs ${b}`);

    it("label selector requirements in any order, spacing and = vs ==", () => {
      same([
        "kubectl delete pvc -l a=x,b=y -n shop",
        "kubectl delete pvc -l b=y,a=x -n shop",
        "kubectl delete pvc -l 'b == y, a=x' -n shop",
        "kubectl delete pvc --selector='a==x,b=y' -n shop",
      ]);
      same([
        "kubectl delete pvc -l 'app in (b,a),!legacy,tier'",
        "kubectl delete pvc -l 'tier, !legacy, app in ( a , b )'",
      ]);
      differ("kubectl delete pvc -l a=x,b=y", "kubectl delete pvc -l a=x,b!=y");
      differ("kubectl delete pvc -l 'a in (x)'", "kubectl delete pvc -l 'a notin (x)'");
      differ("kubectl delete pvc -l a=x", "kubectl delete pvc -l a=x,b=y");
    });

    it("field selector requirements in any order", () => {
      same([
        "kubectl delete pods --field-selector=status.phase=Failed,spec.nodeName=n1",
        "kubectl delete pods --field-selector 'spec.nodeName==n1, status.phase=Failed'",
      ]);
      differ(
        "kubectl delete pods --field-selector=status.phase=Failed",
        "kubectl delete pods --field-selector=status.phase!=Failed",
      );
    });

    it("waiting, output and logging flags", () => {
      same([
        "kubectl delete pvc data-0 -n shop",
        "kubectl delete pvc data-0 -n shop --wait=false --timeout=30s -o name -v=8 --request-timeout=5s",
        "kubectl --request-timeout 10s -v 2 delete pvc data-0 -n shop --wait",
      ]);
      same(["kubectl scale sts x --replicas=0", "kubectl scale sts x --replicas=0 -o yaml --timeout=1m"]);
      same([
        "helm uninstall pg -n shop",
        "helm uninstall pg -n shop --wait --timeout 10m",
        "helm uninstall pg -n shop --debug --wait=false",
      ]);
      same(["helm upgrade pg ./c", "helm upgrade pg ./c --wait --wait-for-jobs --timeout 5m -o json"]);
    });

    it("keeps grace period, force and context", () => {
      differ("kubectl delete pod x", "kubectl delete pod x --grace-period=5");
      differ("kubectl delete pod x", "kubectl delete pod x --force");
      differ("kubectl delete pod x", "kubectl delete pod x --context prod");
      differ("helm upgrade pg ./c", "helm upgrade pg ./c --atomic");
    });
  });

  describe("raw API requests are not modelled", () => {
    for (const line of [
      "kubectl delete --raw /api/v1/namespaces/shop",
      "kubectl delete --raw=/api/v1/namespaces/shop/pods/x",
      "kubectl -n shop delete --raw /apis/apps/v1/namespaces/shop/statefulsets/pg",
      "kubectl get --raw /api/v1/namespaces",
      "kubectl create --raw /api/v1/namespaces -f ns.json",
      "kubectl replace --raw /api/v1/namespaces/shop -f ns.json",
    ]) {
      it(line, () => rejected(line, /does not model raw API requests/));
    }
  });

  describe("connection: where the command goes", () => {
    it("kubectl --server/-s, --cluster, --user, --token", () => {
      assert.deepEqual(kubectl("kubectl delete pvc x").connection, {
        server: null,
        cluster: null,
        user: null,
        tokenGiven: false,
      });
      assert.deepEqual(
        kubectl("kubectl --server https://10.0.0.1:6443 --cluster prod --user admin --token abc delete pvc x")
          .connection,
        { server: "https://10.0.0.1:6443", cluster: "prod", user: "admin", tokenGiven: true },
      );
      assert.deepEqual(kubectl("kubectl get pods -s=https://k:6443 --token=t").connection, {
        server: "https://k:6443",
        cluster: null,
        user: null,
        tokenGiven: true,
      });
    });

    it("helm --kube-apiserver, --kube-token, --kube-as-user", () => {
      assert.deepEqual(helm("helm uninstall pg").connection, {
        server: null,
        cluster: null,
        user: null,
        tokenGiven: false,
      });
      assert.deepEqual(
        helm("helm --kube-apiserver https://k:6443 --kube-token abc uninstall pg --kube-as-user ops")
          .connection,
        { server: "https://k:6443", cluster: null, user: "ops", tokenGiven: true },
      );
    });

    it("the token stays masked, the other connection values are shown", () => {
      const argv = sh("kubectl --server https://k:6443 --user admin --token abc123xyz delete pvc x");
      assert.equal(
        displayCommand(argv),
        "kubectl --server https://k:6443 --user admin --token ***** delete pvc x",
      );
      assert.ok(!canon(argv).includes("abc123xyz"));
      assert.ok(canon(argv).includes("--server=https://k:6443"));
    });
  });

  describe("plan identity: masked values still bind the canonical form", () => {
    const exec = (script: string) => [
      "kubectl",
      "exec",
      "-n",
      "shop",
      "postgresql-0",
      "--",
      "sh",
      "-c",
      script,
    ];
    const harmless = exec("PGPASSWORD=s3cret psql -c 'select 1'");
    const harmful = exec("PGPASSWORD=s3cret rm -rf /bitnami/postgresql/data");
    const digested = (argv: string[]) => canonicalCommand(parseCommand(argv), { digest: fnv });

    it("two commands that differ after a masked KEY=VALUE have different canonical forms", () => {
      assert.notEqual(digested(harmless), digested(harmful));
      for (const argv of [harmless, harmful]) {
        assert.ok(!digested(argv).includes("s3cret"), digested(argv));
        assert.ok(!canonicalCommand(parseCommand(argv)).includes("s3cret"));
      }
      assert.ok(digested(harmful).includes("rm -rf /bitnami/postgresql/data"), digested(harmful));
    });

    it("two commands that differ only in a secret have different canonical forms (with a digest)", () => {
      assert.notEqual(digested(exec("PGPASSWORD=s3cret psql")), digested(exec("PGPASSWORD=other1 psql")));
      assert.notEqual(
        digested(sh("kubectl --token abc123xyz delete pvc x")),
        digested(sh("kubectl --token def456uvw delete pvc x")),
      );
      assert.notEqual(
        digested(sh("helm upgrade pg ./c --set auth.password=hunter22")),
        digested(sh("helm upgrade pg ./c --set auth.password=hunter23")),
      );
      assert.notEqual(
        digested(sh(`kubectl patch secret db -p '{"data":{"a":"b"}}'`)),
        digested(sh(`kubectl patch secret db -p '{"data":{"a":"c"}}'`)),
      );
      assert.notEqual(
        digested(sh("psql postgres://app:hunter22@db/shop")),
        digested(sh("psql postgres://app:hunter23@db/shop")),
      );
      // without a digest the form is for display only: it masks and may collide
      assert.equal(
        canonicalCommand(parseCommand(sh("kubectl --token abc123xyz delete pvc x"))),
        canonicalCommand(parseCommand(sh("kubectl --token def456uvw delete pvc x"))),
      );
    });

    it("--set values of secret-looking keys differ by value", () => {
      assert.notEqual(
        digested(sh("helm upgrade pg ./c --set auth.enabled=true")),
        digested(sh("helm upgrade pg ./c --set auth.enabled=false")),
      );
      const json = (v: string) => digested(["helm", "upgrade", "pg", "./c", "--set-json", `primary=${v}`]);
      assert.notEqual(json(`{"session":"a","replicas":1}`), json(`{"session":"a","replicas":0}`));
      assert.ok(!json(`{"session":"Zq9secret"}`).includes("Zq9secret"));
    });

    it("displayCommand shows the rest of a shell command after a masked KEY=VALUE", () => {
      const shown = displayCommand(harmful);
      assert.ok(shown.includes("rm -rf /bitnami/postgresql/data"), shown);
      assert.ok(!shown.includes("s3cret"), shown);
      assert.equal(
        shown,
        "kubectl exec -n shop postgresql-0 -- sh -c 'PGPASSWORD=***** rm -rf /bitnami/postgresql/data'",
      );
      assert.equal(
        displayCommand(exec(`cd /x && PGPASSWORD='s3 cret' psql; DB_TOKEN="t0k" x`)),
        `kubectl exec -n shop postgresql-0 -- sh -c 'cd /x && PGPASSWORD=***** psql; DB_TOKEN=***** x'`,
      );
    });

    it("displayCommand shows --set values of plain keys, and --set-json values but their secret keys", () => {
      assert.equal(
        displayCommand(sh("helm upgrade pg ./c --set auth.enabled=true,replicas=3")),
        "helm upgrade pg ./c --set auth.enabled=*****,replicas=3",
      );
      assert.equal(
        displayCommand(
          sh(
            `helm upgrade pg ./c --set-json 'primary={"session":"Zq9secret","replicas":2,"x":{"apiKey":[1]}}'`,
          ),
        ),
        `helm upgrade pg ./c --set-json 'primary={"session":"*****","replicas":2,"x":{"apiKey":"*****"}}'`,
      );
      assert.equal(
        displayCommand(sh(`helm upgrade pg ./c --set-json 'primary={"replicas":2}'`)),
        `helm upgrade pg ./c --set-json 'primary={"replicas":2}'`,
      );
      assert.equal(
        displayCommand(sh(`helm upgrade pg ./c --set-json 'auth={"enabled":true}'`)),
        "helm upgrade pg ./c --set-json auth=*****",
      );
      assert.equal(
        displayCommand(sh("helm upgrade pg ./c --set extraEnv=PGPASSWORD=hunter22")),
        "helm upgrade pg ./c --set extraEnv=PGPASSWORD=*****",
      );
    });
  });
});
