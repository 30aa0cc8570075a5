import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  canonicalCommand,
  displayCommand,
  isUnknown,
  parseCommand,
  redactArgv,
  type HelmCommand,
  type KubectlCommand,
  type ParsedCommand,
  type ResourceTarget,
} from "../../src/core/kubernetes/command/index.js";
import { UNKEYED } from "../../src/core/kubernetes/command/canonical.js";
import { MASK } from "../../src/core/redact.js";

/** A stand-in for the caller's keyed digest: 32-bit FNV-1a, hex (it never contains the value). */
function fnv(value: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(value)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `fnv${h.toString(16).padStart(8, "0")}`;
}

/** Splits a command line as a POSIX shell would for these tests: quotes and backslashes. */
function sh(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? "";
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && /["\\$`]/.test(line[i + 1] ?? "")) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\") {
      cur += line[++i] ?? "";
      inWord = true;
    } else if (c === " ") {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

const t = (resource: ResourceTarget["resource"], typed: string, name: string | null): ResourceTarget => ({
  resource,
  typed,
  name,
});

function kubectl(line: string): KubectlCommand {
  const c = parseCommand(sh(line));
  assert.ok(!isUnknown(c), `${line}: ${isUnknown(c) ? c.reason : ""}`);
  assert.equal(c.tool, "kubectl");
  return c as KubectlCommand;
}

function helm(line: string): HelmCommand {
  const c = parseCommand(sh(line));
  assert.ok(!isUnknown(c), `${line}: ${isUnknown(c) ? c.reason : ""}`);
  assert.equal(c.tool, "helm");
  return c as HelmCommand;
}

function rejected(line: string | string[], reason: RegExp): void {
  const argv = typeof line === "string" ? sh(line) : line;
  const c = parseCommand(argv);
  assert.ok(isUnknown(c), `${argv.join(" ")} should be unknown`);
  assert.match(c.reason, reason);
}

/** Checks only the fields given, so each row states what it is about. */
function expectFields(c: ParsedCommand, expected: Record<string, unknown>): void {
  const actual = Object.fromEntries(
    Object.keys(expected).map((k) => [k, (c as unknown as Record<string, unknown>)[k]]),
  );
  assert.deepEqual(actual, expected);
}

const K: [string, Record<string, unknown>][] = [
  [
    "kubectl delete pvc data-postgresql-0 -n shop",
    { verb: "delete", targets: [t("persistentvolumeclaims", "pvc", "data-postgresql-0")], namespace: "shop" },
  ],
  [
    "kubectl delete pvc,sts -l app.kubernetes.io/instance=postgresql -nshop",
    {
      targets: [t("persistentvolumeclaims", "pvc", null), t("statefulsets", "sts", null)],
      selector: "app.kubernetes.io/instance=postgresql",
      namespace: "shop",
      ignoreNotFound: true,
    },
  ],
  [
    "kubectl -n shop delete pvc/data-0 sts/postgresql",
    {
      targets: [t("persistentvolumeclaims", "pvc", "data-0"), t("statefulsets", "sts", "postgresql")],
      namespace: "shop",
    },
  ],
  [
    "kubectl delete ns shop --wait=false",
    { targets: [t("namespaces", "ns", "shop")], flags: { wait: ["false"] } },
  ],
  [
    "kubectl delete pods --all -A",
    { targets: [t("pods", "pods", null)], all: true, allNamespaces: true, namespace: null },
  ],
  ["kubectl delete -f manifests/ -R", { targets: [], files: ["manifests/"], recursive: true }],
  ["kubectl delete -f https://example.com/app.yaml", { files: ["https://example.com/app.yaml"] }],
  ["kubectl delete -f a.yaml,b.yaml -f c.yaml", { files: ["a.yaml", "b.yaml", "c.yaml"] }],
  ["kubectl delete -f -", { files: ["-"] }],
  ["kubectl delete -k overlays/prod", { kustomize: "overlays/prod", files: [] }],
  ["kubectl delete pvc data-0 --dry-run=client -o name", { dryRun: "client" }],
  ["kubectl delete pvc data-0 --dry-run", { dryRun: "client" }],
  ["kubectl delete pvc data-0 --dry-run=server", { dryRun: "server" }],
  ["kubectl delete pvc data-0 --dry-run=true", { dryRun: "client" }],
  ["kubectl delete pvc data-0 --dry-run=none", { dryRun: "none" }],
  ["kubectl delete sts postgresql --cascade=orphan -n shop", { cascade: "orphan" }],
  ["kubectl delete sts postgresql --cascade=false", { cascade: "orphan" }],
  ["kubectl delete sts postgresql --cascade", { cascade: "background" }],
  ["kubectl delete sts postgresql --cascade=foreground", { cascade: "foreground" }],
  ["kubectl delete pod web-0 --grace-period=0 --force", { force: true, gracePeriod: 0 }],
  ["kubectl delete pod web-0 --force", { force: true, gracePeriod: 0 }],
  ["kubectl delete pod web-0 --now", { gracePeriod: 1 }],
  ["kubectl delete pod web-0 --grace-period=0", { gracePeriod: 1, force: false }],
  ["kubectl delete pod web-0 --grace-period 30", { gracePeriod: 30 }],
  [
    "kubectl delete pvc -n shop data-0",
    { targets: [t("persistentvolumeclaims", "pvc", "data-0")], namespace: "shop" },
  ],
  [
    "kubectl --context prod delete pvc data-0 -n shop",
    { context: "prod", namespace: "shop", targets: [t("persistentvolumeclaims", "pvc", "data-0")] },
  ],
  [
    "kubectl --kubeconfig /home/ops/.kube/prod delete ns shop",
    { kubeconfig: "/home/ops/.kube/prod", targets: [t("namespaces", "ns", "shop")] },
  ],
  ["/usr/local/bin/kubectl delete pv pvc-123", { targets: [t("persistentvolumes", "pv", "pvc-123")] }],
  ["kubectl.exe delete pvc x", { tool: "kubectl", targets: [t("persistentvolumeclaims", "pvc", "x")] }],
  ["oc delete pvc x -n shop", { tool: "kubectl", namespace: "shop" }],
  [
    "kubectl delete statefulset.apps/postgresql -n shop",
    { targets: [t("statefulsets", "statefulset.apps", "postgresql")] },
  ],
  [
    "kubectl delete deployments.apps feed-generator -n shop",
    { targets: [t("deployments", "deployments.apps", "feed-generator")] },
  ],
  ["kubectl delete deployments.v1.apps feed", { targets: [t("deployments", "deployments.v1.apps", "feed")] }],
  [
    "kubectl delete volumesnapshot.snapshot.storage.k8s.io snap-1",
    { targets: [t("volumesnapshots", "volumesnapshot.snapshot.storage.k8s.io", "snap-1")] },
  ],
  ["kubectl delete vs snap-1 -n shop", { targets: [t("volumesnapshots", "vs", "snap-1")] }],
  ["kubectl delete jobs.batch migrate", { targets: [t("jobs", "jobs.batch", "migrate")] }],
  ["kubectl delete cj nightly-export", { targets: [t("cronjobs", "cj", "nightly-export")] }],
  ["kubectl delete sc local-path", { targets: [t("storageclasses", "sc", "local-path")] }],
  [
    "kubectl delete cm,secret app-config",
    {
      targets: [t("configmaps", "cm", "app-config"), t("secrets", "secret", "app-config")],
    },
  ],
  [
    "kubectl delete svc,po,rs,ds x",
    {
      targets: [
        t("services", "svc", "x"),
        t("pods", "po", "x"),
        t("replicasets", "rs", "x"),
        t("daemonsets", "ds", "x"),
      ],
    },
  ],
  [
    "kubectl delete persistentvolumeclaim data-0 data-1 data-2 -n shop",
    {
      targets: ["data-0", "data-1", "data-2"].map((n) =>
        t("persistentvolumeclaims", "persistentvolumeclaim", n),
      ),
    },
  ],
  [
    "kubectl delete pvc,sts a b",
    {
      targets: [
        t("persistentvolumeclaims", "pvc", "a"),
        t("persistentvolumeclaims", "pvc", "b"),
        t("statefulsets", "sts", "a"),
        t("statefulsets", "sts", "b"),
      ],
    },
  ],
  [
    "kubectl delete PersistentVolumeClaim data-0",
    { targets: [t("persistentvolumeclaims", "PersistentVolumeClaim", "data-0")] },
  ],
  ["kubectl delete widgets.example.com w1", { targets: [t(null, "widgets.example.com", "w1")] }],
  ["kubectl delete sts.example.com w1", { targets: [t(null, "sts.example.com", "w1")] }],
  [
    "kubectl delete pvc x -- -weird-name",
    { targets: [t("persistentvolumeclaims", "pvc", "x"), t("persistentvolumeclaims", "pvc", "-weird-name")] },
  ],
  [
    "kubectl delete pvc data-0 --namespace=shop --ignore-not-found",
    { ignoreNotFound: true, namespace: "shop" },
  ],
  [
    "kubectl delete pods --field-selector=status.phase=Failed -A",
    { fieldSelector: "status.phase=Failed", allNamespaces: true, targets: [t("pods", "pods", null)] },
  ],
  ["kubectl delete pvc -l 'app in (a,b)' -n shop", { selector: "app in (a,b)" }],
  ["kubectl delete pvc data-0 --all=false", { all: false }],
  ["kubectl delete pvc data-0 -n ''", { namespace: null }],
  ["kubectl delete pvc --help", { help: true, subcommands: [] }],
  [
    "kubectl scale statefulset/x --replicas=0",
    { verb: "scale", replicas: 0, targets: [t("statefulsets", "statefulset", "x")] },
  ],
  ["kubectl scale --replicas=0 sts x", { replicas: 0, targets: [t("statefulsets", "sts", "x")] }],
  [
    "kubectl scale sts postgresql-primary --replicas=0 -n shop",
    { replicas: 0, namespace: "shop", targets: [t("statefulsets", "sts", "postgresql-primary")] },
  ],
  [
    "kubectl scale deploy --all --replicas=0 -n shop",
    { all: true, targets: [t("deployments", "deploy", null)] },
  ],
  ["kubectl scale --replicas=3 --current-replicas=2 deployment/mysql", { replicas: 3 }],
  ["kubectl scale --replicas=010 sts x", { replicas: 8 }],
  ["kubectl scale --replicas=0 -f sts.yaml", { replicas: 0, files: ["sts.yaml"] }],
  [
    `kubectl patch pv pvc-123 -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'`,
    {
      verb: "patch",
      targets: [t("persistentvolumes", "pv", "pvc-123")],
      patch: {
        type: "strategic",
        body: `{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}`,
        source: "inline",
      },
    },
  ],
  [
    `kubectl patch pv/pvc-123 --type=json -p '[{"op":"replace","path":"/spec/persistentVolumeReclaimPolicy","value":"Retain"}]'`,
    {
      targets: [t("persistentvolumes", "pv", "pvc-123")],
      patch: {
        type: "json",
        body: `[{"op":"replace","path":"/spec/persistentVolumeReclaimPolicy","value":"Retain"}]`,
        source: "inline",
      },
    },
  ],
  [
    `kubectl patch pv pvc-123 --type merge --patch '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}'`,
    {
      patch: { type: "merge", body: `{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}`, source: "inline" },
    },
  ],
  [
    "kubectl patch pv pvc-123 --patch-file retain.yaml",
    { patch: { type: "strategic", body: "retain.yaml", source: "file" } },
  ],
  [
    "kubectl drain node-a --ignore-daemonsets --delete-emptydir-data",
    {
      verb: "drain",
      targets: [t("nodes", "nodes", "node-a")],
      drain: { deleteEmptyDirData: true, ignoreDaemonsets: true, force: false, disableEviction: false },
    },
  ],
  [
    "kubectl drain node-a --delete-local-data --force --grace-period=30",
    {
      drain: { deleteEmptyDirData: true, ignoreDaemonsets: false, force: true, disableEviction: false },
      gracePeriod: 30,
    },
  ],
  ["kubectl drain node/node-a --disable-eviction", { targets: [t("nodes", "node", "node-a")] }],
  [
    "kubectl drain -l role=db --ignore-daemonsets",
    { targets: [t("nodes", "nodes", null)], selector: "role=db" },
  ],
  // reads and commands lifeline does not plan: parsed, the caller classifies them
  ["kubectl get pods -n shop", { verb: "get", targets: [t("pods", "pods", null)], namespace: "shop" }],
  [
    "kubectl get pvc -Aowide",
    { allNamespaces: true, flags: { "all-namespaces": ["true"], output: ["wide"] } },
  ],
  ["kubectl get pods --all_namespaces", { allNamespaces: true }],
  [
    "kubectl describe pvc data-0 -n shop",
    { verb: "describe", targets: [t("persistentvolumeclaims", "pvc", "data-0")] },
  ],
  [
    "kubectl logs -f postgresql-0 -c postgresql -n shop",
    { verb: "logs", targets: [t("pods", "pods", "postgresql-0")] },
  ],
  ["kubectl logs sts/postgresql --tail=100", { targets: [t("statefulsets", "sts", "postgresql")] }],
  [
    "kubectl exec -it postgresql-0 -n shop -- psql -U postgres",
    {
      verb: "exec",
      targets: [t("pods", "pods", "postgresql-0")],
      args: ["postgresql-0", "psql", "-U", "postgres"],
    },
  ],
  ["kubectl apply -f deploy.yaml --server-side", { verb: "apply", files: ["deploy.yaml"] }],
  [
    "kubectl rollout restart deployment/feed -n shop",
    { verb: "rollout", subcommands: ["restart"], targets: [t("deployments", "deployment", "feed")] },
  ],
  [
    "kubectl auth can-i delete pvc -n shop",
    { verb: "auth", subcommands: ["can-i"], args: ["delete", "pvc"] },
  ],
  ["kubectl config view --minify", { verb: "config", subcommands: ["view"] }],
  ["kubectl config use prod", { verb: "config", subcommands: ["use-context"], args: ["prod"] }],
  [
    "kubectl create secret generic db -n shop",
    { verb: "create", subcommands: ["secret", "generic"], targets: [t("secrets", "secrets", "db")] },
  ],
  [
    "kubectl create cm app --from-file=app.conf",
    { verb: "create", subcommands: ["configmap"], targets: [t("configmaps", "configmaps", "app")] },
  ],
  ["kubectl label pods web-0 tier=db --overwrite", { verb: "label", targets: [t("pods", "pods", "web-0")] }],
  ["kubectl cordon node-a", { verb: "cordon", targets: [t("nodes", "nodes", "node-a")] }],
  ["kubectl top pod -n shop", { verb: "top", subcommands: ["pod"] }],
  ["kubectl version --client", { verb: "version" }],
  ["kubectl api-resources --verbs=delete", { verb: "api-resources" }],
  ["kubectl -v=6 get pods", { verb: "get", flags: { v: ["6"] } }],
  ["kubectl get pods -v 6", { flags: { v: ["6"] } }],
  ["kubectl neat get pod x", { verb: "neat" }],
];

const KR: [string | string[], RegExp][] = [
  [
    "kubectl delete pvc data-0 --dry-run=client -o yaml",
    /unexpected -o output mode: yaml. We only support '-o name'/,
  ],
  ["kubectl delete pvc", /resource\(s\) were provided, but no name was specified/],
  ["kubectl delete", /You must provide one or more resources by argument or filename/],
  [
    "kubectl delete pvc data-0 sts/postgresql",
    /there is no need to specify a resource type as a separate argument/,
  ],
  ["kubectl delete pvc/a/b", /may not have more than one slash/],
  ["kubectl delete pvc, x", /must have a single resource and name/],
  [
    "kubectl delete pvc/data-0 -l app=x",
    /selectors and the all flag cannot be used when passing resource\/name/,
  ],
  ["kubectl delete pvc data-0 -l app=x", /name cannot be provided when a selector is specified/],
  ["kubectl delete pvc data-0 --all", /name cannot be provided when a selector is specified/],
  ["kubectl delete pvc data-0 -A", /a resource cannot be retrieved by name across all namespaces/],
  ["kubectl delete pvc --all -l app=x", /non empty selector/],
  ["kubectl delete -f x.yaml pvc", /you may not specify resource arguments as well/],
  ["kubectl delete -f x.yaml -k dir", /only one of -f or -k can be specified/],
  ["kubectl delete pvc data-0 -n", /flag needs an argument: 'n' in -n/],
  ["kubectl delete pvc data-0 --namespace", /flag needs an argument: --namespace/],
  ["kubectl delete pvc data-0 --bogus", /unknown flag: --bogus/],
  ["kubectl delete pvc data-0 -Z", /unknown shorthand flag: 'Z' in -Z/],
  ["kubectl delete pvc data-0 --all=maybe", /invalid argument "maybe" for "--all" flag/],
  ["kubectl delete pvc data-0 --grace-period=soon", /invalid argument "soon" for "--grace-period" flag/],
  ["kubectl delete pvc data-0 --timeout=30", /missing unit in duration/],
  ["kubectl delete pvc data-0 --dry-run=maybe", /Invalid dry-run value \(maybe\)/],
  ["kubectl delete pvc data-0 --cascade=never", /invalid cascade value \(never\)/],
  ["kubectl delete pod x --grace-period=10 --force", /--force and --grace-period greater than 0/],
  ["kubectl delete pod x --now --grace-period=5", /--now and --grace-period cannot be specified together/],
  ["kubectl delete pvc ''", /resource name may not be empty/],
  ["kubectl delete all x", /you must specify only one resource/],
  ["kubectl --all delete pvc x", /--all is not a global kubectl flag.*"delete"/],
  ["kubectl -n shop", /no kubectl command given/],
  ["kubectl", /no kubectl command given/],
  ["kubectl scale sts x", /--replicas=COUNT flag is required/],
  ["kubectl scale sts x --replicas=abc", /invalid argument "abc" for "--replicas" flag/],
  ["kubectl scale sts --replicas=0", /resource\(s\) were provided, but no name was specified/],
  ["kubectl patch pv pvc-123", /must specify --patch or --patch-file/],
  ["kubectl patch pv pvc-123 -p '{}' --patch-file x.yaml", /-p and --patch-file cannot be used together/],
  [
    "kubectl patch pv pvc-123 -p '{}' --type=yaml",
    /--type must be one of \[json merge strategic\], not "yaml"/,
  ],
  ["kubectl patch pv -l a=b -p '{}'", /unknown shorthand flag: 'l'/],
  ["kubectl drain", /USAGE: drain NODE/],
  ["kubectl drain node-a -l role=db", /cannot specify both a node name and a --selector option/],
  ["kubectl get pvc x sts/y", /there is no need to specify a resource type/],
  ["rm -rf /", /unknown tool "rm"/],
  [[], /empty command/],
];

describe("parseCommand: kubectl command lines", () => {
  for (const [line, expected] of K) {
    it(line, () => expectFields(kubectl(line), expected));
  }
  for (const [line, reason] of KR) {
    it(`rejects ${typeof line === "string" ? line : JSON.stringify(line)}`, () => rejected(line, reason));
  }

  it("keeps argv as given and records the verb for unknown commands", () => {
    const argv = sh("kubectl delete pvc");
    const c = parseCommand(argv);
    assert.ok(isUnknown(c));
    assert.deepEqual(c.argv, argv);
    assert.equal(c.tool, "kubectl");
    assert.equal(c.verb, "delete");
  });

  it("expands the `all` category and marks the targets", () => {
    const c = kubectl("kubectl delete all --all -n shop");
    assert.ok(c.targets.length >= 8);
    assert.ok(c.targets.every((x) => x.category === "all" && x.name === null));
    assert.ok(c.targets.some((x) => x.resource === "statefulsets"));
    assert.ok(c.targets.some((x) => x.resource === null && x.typed === "replicationcontrollers"));
  });
});

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

describe("robustness", () => {
  const vocabulary = fc.constantFrom(
    "kubectl",
    "helm",
    "delete",
    "scale",
    "patch",
    "drain",
    "uninstall",
    "upgrade",
    "rollback",
    "install",
    "get",
    "create",
    "secret",
    "pvc",
    "sts/x",
    "pvc,sts",
    "all",
    "-n",
    "-nshop",
    "--namespace=x",
    "-A",
    "-Aowide",
    "--all",
    "-l",
    "--selector=a=b",
    "-f",
    "-k",
    "-R",
    "--dry-run",
    "--dry-run=server",
    "--cascade",
    "--cascade=orphan",
    "--force",
    "--grace-period=0",
    "--now",
    "--replicas=0",
    "-p",
    "{}",
    "--type=json",
    "--set",
    "a.password=x,b={1,2}",
    "--set-json",
    'a={"b":[1,2]}',
    "-i",
    "--",
    "-",
    "",
    "--raw",
    "/api",
    "=",
    "-=",
    "--=x",
    "---x",
    "\\",
    "--token",
  );
  const argvs = fc.oneof(
    fc.array(fc.string()),
    fc.array(vocabulary, { maxLength: 12 }),
    fc
      .tuple(
        fc.constantFrom("kubectl", "helm", "oc"),
        fc.array(fc.oneof(vocabulary, fc.string()), { maxLength: 10 }),
      )
      .map(([tool, rest]) => [tool, ...rest]),
  );

  it("parseCommand never throws and canonicalCommand is deterministic", () => {
    fc.assert(
      fc.property(argvs, (argv) => {
        const a = parseCommand(argv);
        const b = parseCommand([...argv]);
        assert.deepEqual(a, b);
        assert.equal(canonicalCommand(a), canonicalCommand(b));
        assert.equal(typeof displayCommand(argv), "string");
        assert.equal(redactArgv(argv).length, argv.length);
        if (isUnknown(a)) assert.ok(a.reason.length > 0);
      }),
      { numRuns: 2000 },
    );
  });

  it("rejects values that are not string lists instead of throwing", () => {
    const c = parseCommand([1, 2] as unknown as string[]);
    assert.ok(isUnknown(c));
    assert.ok(isUnknown(parseCommand(null as unknown as string[])));
  });
});

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
