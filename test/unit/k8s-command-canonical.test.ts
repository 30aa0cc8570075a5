import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { canonicalCommand, displayCommand, parseCommand } from "../../src/core/kubernetes/command/index.js";
import { sh } from "../support/k8s-command.js";

describe("canonicalCommand", () => {
  const same = (lines: string[]) => {
    const forms = lines.map((l) => canonicalCommand(parseCommand(sh(l))));
    for (const [i, f] of forms.entries()) assert.equal(f, forms[0], `${lines[i]} vs ${lines[0]}`);
    assert.ok(!(forms[0] ?? "").startsWith("unknown"), forms[0]);
  };
  const differ = (a: string, b: string) =>
    assert.notEqual(
      canonicalCommand(parseCommand(sh(a))),
      canonicalCommand(parseCommand(sh(b))),
      `${a} vs ${b}`,
    );

  it("is the same for every spelling of the namespace flag and any flag order", () =>
    same([
      "kubectl delete pvc data-0 -n shop",
      "kubectl delete pvc data-0 -nshop",
      "kubectl delete pvc data-0 -n=shop",
      "kubectl delete pvc data-0 --namespace shop",
      "kubectl delete pvc data-0 --namespace=shop",
      "kubectl -n shop delete pvc data-0",
      "kubectl delete -n shop pvc data-0",
      "kubectl delete persistentvolumeclaim/data-0 --namespace shop",
      "kubectl delete PersistentVolumeClaims data-0 -n shop",
      "/usr/bin/kubectl delete pvc/data-0 -nshop",
    ]));

  it("treats resource lists, type/name pairs and selectors by meaning", () => {
    same([
      "kubectl delete pvc,sts -l app=pg -nshop",
      "kubectl delete sts,pvc --selector=app=pg --namespace=shop",
      "kubectl delete sts,pvc --selector app=pg -n shop --ignore-not-found",
    ]);
    same(["kubectl delete pvc,sts a", "kubectl delete pvc/a sts/a", "kubectl delete sts/a pvc/a"]);
    same(["kubectl delete pvc a b", "kubectl delete pvc b a"]);
  });

  it("normalises optional-value and boolean flags", () => {
    same([
      "kubectl delete pvc x --dry-run",
      "kubectl delete pvc x --dry-run=client",
      "kubectl delete pvc x --dry-run=true",
    ]);
    same(["kubectl delete sts x --cascade=false", "kubectl delete sts x --cascade=orphan"]);
    same(["kubectl delete sts x --cascade", "kubectl delete sts x", "kubectl delete sts x --cascade=true"]);
    same(["kubectl delete pods --all", "kubectl delete pods --all=true", "kubectl delete pods --all=1"]);
    same(["kubectl delete pod x --force", "kubectl delete pod x --force --grace-period=0"]);
    same(["kubectl delete pod x --wait", "kubectl delete pod x", "kubectl delete pod x --wait=true"]);
    same([
      "kubectl delete pods --all -A",
      "kubectl delete pods --all --all-namespaces",
      "kubectl delete pods --all -A -n x",
    ]);
    same([
      "kubectl scale sts x --replicas=0",
      "kubectl scale --replicas 0 statefulset/x",
      "kubectl scale sts x --replicas=0x0",
    ]);
    same(["kubectl drain n --delete-local-data", "kubectl drain n --delete-emptydir-data"]);
  });

  it("normalises helm aliases, release order, --set and -f splitting", () => {
    same([
      "helm uninstall x -n shop",
      "helm del x --namespace=shop",
      "helm -n shop un x",
      "helm delete x -nshop",
    ]);
    same(["helm uninstall a b", "helm uninstall b a"]);
    same([
      "helm upgrade x ./c --set a=1,b=2 -f v1.yaml,v2.yaml -i",
      "helm upgrade -f v1.yaml x ./c --set a=1 --install --set b=2 --values v2.yaml",
      "helm upgrade x ./c --install=true --values=v1.yaml --values=v2.yaml --set=a=1 --set=b=2",
    ]);
    same(["helm upgrade x ./c --set a=1 --set-string b=2", "helm upgrade x ./c --set-string b=2 --set a=1"]);
    same(["helm upgrade x ./c --set 'n=a\\,b'", "helm upgrade x ./c --set n=a\\\\,b"]);
  });

  it("differs when the meaning differs", () => {
    differ("kubectl delete pvc data-0 -n shop", "kubectl delete pvc data-0 -n shop2");
    differ("kubectl delete pvc data-0 -n shop", "kubectl delete pvc data-0");
    differ("kubectl delete pvc data-0", "kubectl delete pv data-0");
    differ("kubectl delete pvc data-0", "kubectl delete pvc data-1");
    differ("kubectl delete pvc data-0", "kubectl delete pvc data-0 --dry-run=server");
    differ("kubectl delete pvc data-0 --dry-run=client", "kubectl delete pvc data-0 --dry-run=server");
    differ("kubectl delete sts x", "kubectl delete sts x --cascade=orphan");
    differ("kubectl delete pvc x --context a", "kubectl delete pvc x --context b");
    differ("kubectl delete pvc -l app=a", "kubectl delete pvc -l app=b");
    differ("kubectl scale sts x --replicas=0", "kubectl scale sts x --replicas=1");
    differ(`kubectl patch pv p -p '{"a":1}'`, `kubectl patch pv p -p '{"a":2}'`);
    differ(`kubectl patch pv p -p '{"a":1}'`, `kubectl patch pv p -p '{"a":1}' --type merge`);
    differ("kubectl get pods", "kubectl delete pods --all");
    differ("helm uninstall x", "helm uninstall x --keep-history");
    differ("helm upgrade x ./c --set a=1 --set a=2", "helm upgrade x ./c --set a=2 --set a=1");
    differ("helm upgrade x ./c -f a.yaml -f b.yaml", "helm upgrade x ./c -f b.yaml -f a.yaml");
    differ("helm upgrade x ./c --set a=1", "helm upgrade x ./c --set-string a=1");
    differ("helm upgrade x ./c --set 'a=b\\,c'", "helm upgrade x ./c --set a=b,c=");
    differ("helm rollback x 1", "helm rollback x 2");
    differ("kubectl delete pvc", "kubectl delete pv");
  });

  it("ignores key order in JSON patch bodies", () =>
    same([
      `kubectl patch pv p -p '{"a":1,"b":{"c":2,"d":3}}'`,
      `kubectl patch pv p -p '{ "b": {"d":3,"c":2}, "a": 1 }'`,
    ]));
});

describe("displayCommand", () => {
  it("quotes what a shell would split or expand", () => {
    assert.equal(
      displayCommand(["kubectl", "delete", "pvc", "-l", "app in (a,b)", "-n", "shop"]),
      "kubectl delete pvc -l 'app in (a,b)' -n shop",
    );
    assert.equal(
      displayCommand(["kubectl", "patch", "pv", "p", "-p", `{"a":'b'}`]),
      `kubectl patch pv p -p '{"a":'\\''b'\\''}'`,
    );
    assert.equal(displayCommand(["kubectl", "delete", "pvc", ""]), "kubectl delete pvc ''");
  });
});
