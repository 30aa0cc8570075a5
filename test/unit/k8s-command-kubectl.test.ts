import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isUnknown, parseCommand } from "../../src/core/kubernetes/command/index.js";
import { expectFields, kubectl, rejected, sh, t } from "../support/k8s-command.js";

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
