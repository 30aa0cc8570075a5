import { describe, it } from "node:test";
import { expectFields, helm, rejected } from "../support/k8s-command.js";

const H: [string, Record<string, unknown>][] = [
  ["helm uninstall postgresql -n shop", { verb: "uninstall", releases: ["postgresql"], namespace: "shop" }],
  ["helm del mongodb --keep-history", { verb: "uninstall", releases: ["mongodb"], keepHistory: true }],
  ["helm delete mongodb", { verb: "uninstall", releases: ["mongodb"] }],
  ["helm un mongodb", { verb: "uninstall" }],
  ["helm uninstall a b c --namespace shop", { releases: ["a", "b", "c"], namespace: "shop" }],
  ["helm uninstall x --dry-run", { dryRun: true, dryRunMode: "client" }],
  ["helm uninstall x --wait --timeout 10m", { wait: true, flags: { wait: ["true"], timeout: ["10m"] } }],
  ["helm uninstall x --cascade foreground", { cascade: "foreground" }],
  ["helm uninstall x --cascade sideways", { cascade: "background" }],
  ["helm -n shop uninstall x", { namespace: "shop", releases: ["x"] }],
  [
    "helm --kube-context prod --kubeconfig /etc/kube.conf uninstall x",
    { kubeContext: "prod", kubeconfig: "/etc/kube.conf" },
  ],
  [
    "helm upgrade postgresql bitnami/postgresql -n shop --set auth.postgresPassword=x --reuse-values",
    {
      verb: "upgrade",
      releases: ["postgresql"],
      chart: "bitnami/postgresql",
      namespace: "shop",
      reuseValues: true,
      set: [{ key: "auth.postgresPassword", value: "x", flag: "--set", secret: true }],
    },
  ],
  [
    "helm upgrade -i x ./chart -f a.yaml,b.yaml",
    { install: true, chart: "./chart", values: ["a.yaml", "b.yaml"] },
  ],
  [
    "helm upgrade --install pg oci://registry.example.com/charts/postgresql --version 12.1.0 --atomic --wait",
    {
      install: true,
      chart: "oci://registry.example.com/charts/postgresql",
      version: "12.1.0",
      atomic: true,
      wait: true,
    },
  ],
  [
    "helm upgrade x ./chart --set a=1,b=2 --set-string c=3",
    {
      set: [
        { key: "a", value: "1", flag: "--set", secret: false },
        { key: "b", value: "2", flag: "--set", secret: false },
        { key: "c", value: "3", flag: "--set-string", secret: false },
      ],
    },
  ],
  [
    "helm upgrade x ./chart --set 'tags={a,b},note=x\\,y,path=a\\\\b'",
    {
      set: [
        { key: "tags", value: "{a,b}", flag: "--set", secret: false, list: true },
        { key: "note", value: "x,y", flag: "--set", secret: false },
        { key: "path", value: "a\\b", flag: "--set", secret: false },
      ],
    },
  ],
  [
    "helm upgrade x ./chart --set 'nodeSelector.kubernetes\\.io/role=db'",
    { set: [{ key: "nodeSelector.kubernetes\\.io/role", value: "db", flag: "--set", secret: false }] },
  ],
  [
    `helm upgrade x ./chart --set-json 'auth={"password":"p","user":"u"}' --set-json 'replicas=3'`,
    {
      set: [
        { key: "auth", value: `{"password":"p","user":"u"}`, flag: "--set-json", secret: true },
        { key: "replicas", value: "3", flag: "--set-json", secret: false },
      ],
    },
  ],
  [
    "helm upgrade x ./chart --set-file ca=./ca.pem",
    { set: [{ key: "ca", value: "./ca.pem", flag: "--set-file", secret: false }] },
  ],
  [
    "helm upgrade x ./chart --set-literal conf=a,b=c",
    { set: [{ key: "conf", value: "a,b=c", flag: "--set-literal", secret: false }] },
  ],
  ["helm upgrade x ./chart --dry-run=server", { dryRun: true, dryRunMode: "server" }],
  ["helm upgrade x ./chart --dry-run", { dryRun: true, dryRunMode: "client" }],
  ["helm upgrade x ./chart --reset-values --no-hooks", { resetValues: true, noHooks: true }],
  ["helm upgrade x ./chart --install=false", { install: false }],
  [
    "helm rollback postgresql 1 -n shop",
    { verb: "rollback", releases: ["postgresql"], revision: 1, namespace: "shop" },
  ],
  ["helm rollback postgresql", { revision: null }],
  ["helm rollback postgresql 0 --wait --cleanup-on-fail", { revision: 0, wait: true }],
  [
    "helm install pg bitnami/postgresql -n shop --create-namespace",
    { verb: "install", releases: ["pg"], chart: "bitnami/postgresql" },
  ],
  ["helm install bitnami/postgresql --generate-name", { releases: [], chart: "bitnami/postgresql" }],
  ["helm list -A", { verb: "list" }],
  ["helm ls -n shop", { verb: "list", namespace: "shop" }],
  ["helm status pg -n shop", { verb: "status", releases: ["pg"] }],
  ["helm get values pg", { verb: "get", subcommands: ["values"], releases: ["pg"] }],
  ["helm repo add bitnami https://charts.bitnami.com/bitnami", { verb: "repo", subcommands: ["add"] }],
  ["helm template x ./chart", { verb: "template", args: ["x", "./chart"] }],
];

const HR: [string, RegExp][] = [
  ["helm uninstall", /"helm uninstall" requires at least 1 argument/],
  ["helm uninstall -n shop", /requires at least 1 argument/],
  ["helm uninstall Bad_Name", /Release name is invalid: Bad_Name/],
  ["helm uninstall x --timeout 300", /missing unit in duration/],
  ["helm uninstall x --bogus", /unknown flag: --bogus/],
  ["helm uninstall x -n", /flag needs an argument: 'n' in -n/],
  ["helm upgrade x", /"helm upgrade" requires 2 arguments/],
  ["helm upgrade x ./chart --set foo", /failed parsing --set data: key "foo" has no value/],
  ["helm upgrade x ./chart --set a=1,b", /key "b" has no value/],
  ["helm upgrade x ./chart --set a,b=1", /has no value \(cannot end with ,\)/],
  ["helm upgrade x ./chart --set 'l={a,b'", /list must terminate with '}'/],
  ["helm upgrade x ./chart --set-json 'a={bad'", /failed parsing --set-json data/],
  ["helm upgrade x ./chart --dry-run=maybe", /Invalid dry-run flag/],
  ["helm rollback postgresql one", /could not convert revision to a number/],
  ["helm install ./chart", /must either provide a name or specify --generate-name/],
  ["helm install a ./chart extra", /expected at most two arguments/],
  ["helm --debug", /no helm command given/],
];

describe("parseCommand: helm command lines", () => {
  for (const [line, expected] of H) {
    it(line, () => expectFields(helm(line), expected));
  }
  for (const [line, reason] of HR) {
    it(`rejects ${line}`, () => rejected(line, reason));
  }
});
