/**
 * Realistic objects for the simulated cluster: the incident lifeline comes from.
 *
 * A PostgreSQL database on Kubernetes installed by a Helm chart (Bitnami postgresql 12.12.10,
 * architecture replication: a primary and a read replica, each a StatefulSet whose
 * volumeClaimTemplates made the PVCs), a MongoDB replica set with a crash-looping arbiter, a
 * StorageClass whose reclaim policy is `Delete`, and workloads elsewhere that depend on the
 * databases: a product feed generator, a marketing CronJob, an analytics report. Plus claims left
 * behind by an uninstalled release.
 *
 * Objects are plain JSON as the API server returns them, with stable uids (derived from kind,
 * namespace and name) so tests can refer to them. Helm release records are encoded exactly as
 * Helm 3 stores them: Secret data `release` = base64(base64(gzip(JSON release))), the outer
 * base64 being the Kubernetes Secret encoding.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { stringify } from "yaml";
import type { K8sObject, ObjectMeta } from "./model.js";

type Json = Record<string, unknown>;

/** A stable uid for a fixture object: the same kind, namespace and name always give the same uid. */
export function simulatedUid(kind: string, namespace: string | undefined, name: string): string {
  const h = createHash("sha256")
    .update(`lifeline-simulated/${kind}/${namespace ?? ""}/${name}`)
    .digest("hex");
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The name of the dynamically provisioned volume of a claim: "pvc-" + the claim's uid. */
export function simulatedVolumeName(namespace: string, claim: string): string {
  return `pvc-${simulatedUid("PersistentVolumeClaim", namespace, claim)}`;
}

const SHOP = "shop";

/** Names in the fixtures, for tests and the demo. */
export const SIMULATED = {
  context: "simulated",
  nodes: ["node-a", "node-b"],
  storageClass: "standard",
  retainStorageClass: "standard-retain",
  snapshotClass: "ebs-csi-snapclass",
  namespace: SHOP,
  namespaces: [
    "analytics",
    "default",
    "feeds",
    "kube-node-lease",
    "kube-public",
    "kube-system",
    "marketing",
    SHOP,
  ],

  postgresRelease: "postgresql",
  postgresChart: "postgresql",
  postgresChartVersion: "12.12.10",
  postgresAppVersion: "15.4.0",
  postgresRevision: 2,
  postgresReleaseSecrets: ["sh.helm.release.v1.postgresql.v1", "sh.helm.release.v1.postgresql.v2"],
  postgresSecret: "postgresql",
  postgresExtendedConfigMap: "postgresql-primary-extended-configuration",
  primaryStatefulSet: "postgresql-primary",
  readStatefulSet: "postgresql-read",
  primaryPod: "postgresql-primary-0",
  readPod: "postgresql-read-0",
  primaryPvc: "data-postgresql-primary-0",
  readPvc: "data-postgresql-read-0",
  primaryPv: simulatedVolumeName(SHOP, "data-postgresql-primary-0"),
  readPv: simulatedVolumeName(SHOP, "data-postgresql-read-0"),
  primaryService: "postgresql-primary",
  primaryHeadlessService: "postgresql-primary-hl",
  readService: "postgresql-read",
  readHeadlessService: "postgresql-read-hl",
  postgresSelector: "app.kubernetes.io/instance=postgresql",

  mongoRelease: "mongodb",
  mongoChart: "mongodb",
  mongoChartVersion: "14.4.0",
  mongoAppVersion: "7.0.5",
  mongoReleaseSecret: "sh.helm.release.v1.mongodb.v1",
  mongoSecret: "mongodb",
  mongoScripts: "mongodb-scripts",
  mongoServiceAccount: "mongodb",
  mongoStatefulSet: "mongodb",
  mongoArbiter: "mongodb-arbiter",
  mongoPods: ["mongodb-0", "mongodb-1"],
  mongoArbiterPod: "mongodb-arbiter-0",
  mongoPvcs: ["datadir-mongodb-0", "datadir-mongodb-1"],
  mongoPvs: [simulatedVolumeName(SHOP, "datadir-mongodb-0"), simulatedVolumeName(SHOP, "datadir-mongodb-1")],
  mongoHeadlessService: "mongodb-headless",
  mongoArbiterHeadlessService: "mongodb-arbiter-headless",
  mongoReadySnapshot: "datadir-mongodb-0-snap-20261125",
  mongoPendingSnapshot: "datadir-mongodb-1-snap-20261125",

  uploadsPvc: "uploads",
  uploadsPv: simulatedVolumeName(SHOP, "uploads"),
  storefront: "storefront",

  legacyRelease: "legacy-redis",
  legacyPvc: "data-legacy-redis-master-0",
  legacyPv: simulatedVolumeName(SHOP, "data-legacy-redis-master-0"),

  feedsNamespace: "feeds",
  feedGenerator: "feed-generator",
  feedSecret: "feed-db",

  marketingNamespace: "marketing",
  exportCronJob: "nightly-export",
  exportJob: "nightly-export-29361780",
  exportConfigMap: "export-db",

  analyticsNamespace: "analytics",
  reports: "reports",
} as const;

// ---------------------------------------------------------------------------------------------
// Times (all fixed)

const T = {
  cluster: "2026-01-05T08:12:44Z",
  shop: "2026-01-05T09:01:13Z",
  legacyRedis: "2026-01-15T11:20:31Z",
  pgInstall: "2026-03-10T10:15:02Z",
  pgInstallNano: "2026-03-10T10:15:02.418912345Z",
  storefront: "2026-03-11T14:02:51Z",
  mongoInstall: "2026-04-02T09:30:11Z",
  mongoInstallNano: "2026-04-02T09:30:11.903311271Z",
  feeds: "2026-05-06T13:44:20Z",
  marketing: "2026-06-01T07:58:02Z",
  analytics: "2026-07-20T15:10:37Z",
  pgUpgrade: "2026-09-14T16:41:27Z",
  pgUpgradeNano: "2026-09-14T16:41:27.120583664Z",
  pgPods: "2026-09-14T16:41:29Z",
  mongoPods: "2026-10-02T06:18:40Z",
  storefrontRollout: "2026-11-20T10:31:09Z",
  arbiterRestart: "2026-11-26T08:47:12Z",
  snapshot: "2026-11-25T02:00:00Z",
  exportRun: "2026-11-26T03:00:00Z",
  exportDone: "2026-11-26T03:02:41Z",
} as const;

// ---------------------------------------------------------------------------------------------
// Building blocks

function meta(
  kind: string,
  name: string,
  namespace: string | undefined,
  created: string,
  extra: Partial<ObjectMeta> = {},
): ObjectMeta {
  return {
    name,
    ...(namespace ? { namespace } : {}),
    uid: simulatedUid(kind, namespace, name),
    creationTimestamp: created,
    ...extra,
  };
}

function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

function shortHash(seed: string, length: number): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const digest = createHash("sha256").update(seed).digest();
  let out = "";
  for (let i = 0; out.length < length; i++) out += alphabet[digest[i]! % alphabet.length];
  return out;
}

function hexHash(seed: string, length: number): string {
  return createHash("sha256").update(seed).digest("hex").slice(0, length);
}

function owner(obj: K8sObject) {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name,
    uid: obj.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Deep merge: objects merge key by key, everything else (arrays, null) replaces. */
function merge<T>(base: T, patch: unknown): T {
  const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(base) || !isObject(patch)) return structuredClone(patch) as T;
  const out: Json = structuredClone(base);
  for (const [key, value] of Object.entries(patch)) out[key] = merge(out[key], value);
  return out as T;
}

const NODES = [
  { name: "node-a", zone: "eu-west-1a", ip: "10.0.1.21", podCidr: 1, instance: "i-0a4c1e2f3b5d67890" },
  { name: "node-b", zone: "eu-west-1b", ip: "10.0.2.37", podCidr: 2, instance: "i-0b7d2f4a6c8e13579" },
] as const;

type NodeName = (typeof NODES)[number]["name"];

function node(name: NodeName) {
  return NODES.find((n) => n.name === name)!;
}

function helmLabels(
  chart: string,
  release: string,
  name: string,
  component?: string,
): Record<string, string> {
  return {
    ...(component ? { "app.kubernetes.io/component": component } : {}),
    "app.kubernetes.io/instance": release,
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/name": name,
    "helm.sh/chart": chart,
  };
}

function selectorLabels(release: string, name: string, component?: string): Record<string, string> {
  return {
    ...(component ? { "app.kubernetes.io/component": component } : {}),
    "app.kubernetes.io/instance": release,
    "app.kubernetes.io/name": name,
  };
}

function helmAnnotations(release: string, namespace: string): Record<string, string> {
  return { "meta.helm.sh/release-name": release, "meta.helm.sh/release-namespace": namespace };
}

/** What the API server adds to a chart-rendered object when Helm creates it. */
function applied(rendered: K8sObject, created: string, release: string, extra: Json = {}): K8sObject {
  const ns = rendered.metadata.namespace;
  const live = merge(rendered, {
    metadata: {
      uid: simulatedUid(rendered.kind, ns, rendered.metadata.name),
      creationTimestamp: created,
      annotations: { ...rendered.metadata.annotations, ...helmAnnotations(release, ns ?? "") },
    },
  });
  return merge(live, extra);
}

const POD_SPEC_DEFAULTS = {
  dnsPolicy: "ClusterFirst",
  restartPolicy: "Always",
  schedulerName: "default-scheduler",
  terminationGracePeriodSeconds: 30,
};

const CONTAINER_DEFAULTS = {
  terminationMessagePath: "/dev/termination-log",
  terminationMessagePolicy: "File",
};

function withContainerDefaults(podSpec: Json): Json {
  const containers = (podSpec.containers as Json[]).map((c) => ({
    ...c,
    imagePullPolicy: c.imagePullPolicy ?? "IfNotPresent",
    ...CONTAINER_DEFAULTS,
    ...(Array.isArray(c.ports) ? { ports: (c.ports as Json[]).map((p) => ({ protocol: "TCP", ...p })) } : {}),
  }));
  return { ...POD_SPEC_DEFAULTS, securityContext: {}, ...podSpec, containers };
}

// ---------------------------------------------------------------------------------------------
// Cluster-scoped: nodes, namespaces, storage classes, snapshot class

function nodeObject(n: (typeof NODES)[number]): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: meta("Node", n.name, undefined, T.cluster, {
      labels: {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/instance-type": "m6i.large",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": n.name,
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "m6i.large",
        "topology.ebs.csi.aws.com/zone": n.zone,
        "topology.kubernetes.io/region": "eu-west-1",
        "topology.kubernetes.io/zone": n.zone,
      },
      annotations: {
        "csi.volume.kubernetes.io/nodeid": JSON.stringify({ "ebs.csi.aws.com": n.instance }),
        "node.alpha.kubernetes.io/ttl": "0",
        "volumes.kubernetes.io/controller-managed-attach-detach": "true",
      },
    }),
    spec: {
      podCIDR: `10.244.${n.podCidr}.0/24`,
      podCIDRs: [`10.244.${n.podCidr}.0/24`],
      providerID: `aws:///${n.zone}/${n.instance}`,
    },
    status: {
      addresses: [
        { address: n.ip, type: "InternalIP" },
        { address: n.name, type: "Hostname" },
      ],
      allocatable: { cpu: "1930m", "ephemeral-storage": "76224326324", memory: "7220152Ki", pods: "29" },
      capacity: { cpu: "2", "ephemeral-storage": "83873772Ki", memory: "7934904Ki", pods: "29" },
      conditions: [
        ["MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
        ["DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
        ["PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"],
        ["Ready", "True", "KubeletReady", "kubelet is posting ready status"],
      ].map(([type, status, reason, message]) => ({
        type,
        status,
        reason,
        message,
        lastHeartbeatTime: "2026-11-26T09:00:00Z",
        lastTransitionTime: T.cluster,
      })),
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: "amd64",
        bootID: simulatedUid("boot", undefined, n.name),
        containerRuntimeVersion: "containerd://1.7.11",
        kernelVersion: "6.1.112-122.189.amzn2023.x86_64",
        kubeProxyVersion: "v1.30.2",
        kubeletVersion: "v1.30.2",
        machineID: hexHash(`machine/${n.name}`, 32),
        operatingSystem: "linux",
        osImage: "Amazon Linux 2023.6.20241010",
        systemUUID: simulatedUid("system", undefined, n.name),
      },
    },
  };
}

function namespaceObject(name: string, created: string): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: meta("Namespace", name, undefined, created, {
      labels: { "kubernetes.io/metadata.name": name },
    }),
    spec: { finalizers: ["kubernetes"] },
    status: { phase: "Active" },
  };
}

function storageClass(name: string, reclaimPolicy: "Delete" | "Retain", isDefault: boolean): K8sObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: meta("StorageClass", name, undefined, T.cluster, {
      ...(isDefault ? { annotations: { "storageclass.kubernetes.io/is-default-class": "true" } } : {}),
    }),
    provisioner: "ebs.csi.aws.com",
    parameters: { encrypted: "true", type: "gp3" },
    reclaimPolicy,
    volumeBindingMode: "WaitForFirstConsumer",
    allowVolumeExpansion: true,
  };
}

// ---------------------------------------------------------------------------------------------
// Volumes

interface ClaimSpec {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  storageClass: string;
  size: string;
  node: NodeName;
  reclaimPolicy: "Delete" | "Retain";
  created: string;
}

/** A claim bound to a dynamically provisioned EBS volume, and that volume. */
function boundClaim(c: ClaimSpec): [K8sObject, K8sObject] {
  const claimUid = simulatedUid("PersistentVolumeClaim", c.namespace, c.name);
  const pvName = `pvc-${claimUid}`;
  const zone = node(c.node).zone;
  const claim: K8sObject = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: meta("PersistentVolumeClaim", c.name, c.namespace, c.created, {
      labels: c.labels,
      annotations: {
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
        "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
        "volume.kubernetes.io/selected-node": c.node,
        "volume.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
      },
      finalizers: ["kubernetes.io/pvc-protection"],
    }),
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: c.size } },
      storageClassName: c.storageClass,
      volumeMode: "Filesystem",
      volumeName: pvName,
    },
    status: { accessModes: ["ReadWriteOnce"], capacity: { storage: c.size }, phase: "Bound" },
  };
  const pv: K8sObject = {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: meta("PersistentVolume", pvName, undefined, c.created, {
      annotations: {
        "pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com",
        "volume.kubernetes.io/provisioner-deletion-secret-name": "",
        "volume.kubernetes.io/provisioner-deletion-secret-namespace": "",
      },
      finalizers: ["external-provisioner.volume.kubernetes.io/finalizer", "kubernetes.io/pv-protection"],
    }),
    spec: {
      accessModes: ["ReadWriteOnce"],
      capacity: { storage: c.size },
      claimRef: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        name: c.name,
        namespace: c.namespace,
        uid: claimUid,
      },
      csi: {
        driver: "ebs.csi.aws.com",
        fsType: "ext4",
        volumeAttributes: {
          "storage.kubernetes.io/csiProvisionerIdentity": "1767600764120-8081-ebs.csi.aws.com",
        },
        volumeHandle: `vol-${hexHash(`volume/${c.namespace}/${c.name}`, 17)}`,
      },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: "topology.kubernetes.io/zone", operator: "In", values: [zone] }] },
          ],
        },
      },
      persistentVolumeReclaimPolicy: c.reclaimPolicy,
      storageClassName: c.storageClass,
      volumeMode: "Filesystem",
    },
    status: { phase: "Bound", lastPhaseTransitionTime: c.created },
  };
  return [claim, pv];
}

// ---------------------------------------------------------------------------------------------
// Pods

interface PodSpecInput {
  owner: K8sObject;
  name: string;
  template: Json;
  node: NodeName;
  ipSuffix: number;
  created: string;
  labels?: Record<string, string>;
  claims?: Array<{ volume: string; claim: string }>;
  stsService?: string;
  status?: Json;
}

function podFromTemplate(p: PodSpecInput): K8sObject {
  const tplMeta = (p.template.metadata ?? {}) as Json;
  const tplSpec = structuredClone(p.template.spec) as Json;
  const namespace = p.owner.metadata.namespace!;
  const uid = simulatedUid("Pod", namespace, p.name);
  const apiAccess = `kube-api-access-${shortHash(`api/${namespace}/${p.name}`, 5)}`;
  const containers: Json[] = (tplSpec.containers as Json[]).map((c) => ({
    ...c,
    volumeMounts: [
      ...((c.volumeMounts as Json[] | undefined) ?? []),
      { mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", name: apiAccess, readOnly: true },
    ],
  }));
  const n = node(p.node);
  const podIP = `10.244.${n.podCidr}.${p.ipSuffix}`;
  const spec: Json = {
    ...tplSpec,
    containers,
    enableServiceLinks: true,
    ...(p.stsService ? { hostname: p.name, subdomain: p.stsService } : {}),
    nodeName: p.node,
    preemptionPolicy: "PreemptLowerPriority",
    priority: 0,
    serviceAccount: tplSpec.serviceAccountName ?? "default",
    serviceAccountName: tplSpec.serviceAccountName ?? "default",
    tolerations: [
      {
        effect: "NoExecute",
        key: "node.kubernetes.io/not-ready",
        operator: "Exists",
        tolerationSeconds: 300,
      },
      {
        effect: "NoExecute",
        key: "node.kubernetes.io/unreachable",
        operator: "Exists",
        tolerationSeconds: 300,
      },
    ],
    volumes: [
      ...(p.claims ?? []).map((c) => ({ name: c.volume, persistentVolumeClaim: { claimName: c.claim } })),
      ...((tplSpec.volumes as Json[] | undefined) ?? []),
      {
        name: apiAccess,
        projected: {
          defaultMode: 420,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
            { configMap: { items: [{ key: "ca.crt", path: "ca.crt" }], name: "kube-root-ca.crt" } },
            {
              downwardAPI: {
                items: [
                  { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" }, path: "namespace" },
                ],
              },
            },
          ],
        },
      },
    ],
  };
  const started = p.created;
  const status: Json = p.status ?? {
    phase: "Running",
    conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map(
      (type) => ({
        type,
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: started,
      }),
    ),
    containerStatuses: containers.map((c) => ({
      containerID: `containerd://${hexHash(`container/${uid}/${String(c.name)}`, 64)}`,
      image: c.image,
      imageID: `${String(c.image).split(":")[0]}@sha256:${hexHash(`image/${String(c.image)}`, 64)}`,
      lastState: {},
      name: c.name,
      ready: true,
      restartCount: 0,
      started: true,
      state: { running: { startedAt: started } },
    })),
  };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: meta("Pod", p.name, namespace, p.created, {
      generateName: p.stsService ? `${p.owner.metadata.name}-` : `${p.owner.metadata.name}-`,
      labels: { ...(tplMeta.labels as Record<string, string>), ...p.labels },
      ...(tplMeta.annotations ? { annotations: tplMeta.annotations as Record<string, string> } : {}),
      ownerReferences: [owner(p.owner)],
    }),
    spec,
    status: {
      hostIP: n.ip,
      hostIPs: [{ ip: n.ip }],
      podIP,
      podIPs: [{ ip: podIP }],
      qosClass: "Burstable",
      startTime: started,
      ...status,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Helm release records

/** A Helm 3 release as stored in its record (release.Release in Helm's Go code, JSON). */
export interface HelmReleaseRecord {
  name: string;
  namespace: string;
  version: number;
  info: {
    first_deployed: string;
    last_deployed: string;
    deleted: string;
    description: string;
    status:
      | "deployed"
      | "superseded"
      | "failed"
      | "uninstalling"
      | "pending-install"
      | "pending-upgrade"
      | "pending-rollback";
    notes?: string;
  };
  chart: {
    metadata: Json & { name: string; version: string; appVersion: string };
    lock?: Json | null;
    templates: Array<{ name: string; data: string }>;
    values: Json;
    schema: string | null;
    files: Array<{ name: string; data: string }>;
  };
  config: Json;
  manifest: string;
  hooks?: unknown[];
}

/** Helm's own encoding of a release: base64(gzip(JSON)), gzip at best compression like Go's writer. */
export function encodeHelmRelease(release: HelmReleaseRecord): string {
  const gz = gzipSync(Buffer.from(JSON.stringify(release), "utf8"), { level: 9 });
  gz[9] = 0xff; // OS byte "unknown", as Go's compress/gzip writes it
  return gz.toString("base64");
}

/** The Secret in which Helm 3 keeps a release revision (`--storage secret`, the default). */
export function helmReleaseSecret(release: HelmReleaseRecord, created: string, modified?: string): K8sObject {
  const name = `sh.helm.release.v1.${release.name}.v${release.version}`;
  const unix = (t: string): string => String(Math.floor(Date.parse(t) / 1000));
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta("Secret", name, release.namespace, created, {
      labels: {
        createdAt: unix(created),
        ...(modified ? { modifiedAt: unix(modified) } : {}),
        name: release.name,
        owner: "helm",
        status: release.info.status,
        version: String(release.version),
      },
    }),
    type: "helm.sh/release.v1",
    // Kubernetes Secret data is base64 of the bytes; the bytes are Helm's base64 of gzipped JSON.
    data: { release: b64(encodeHelmRelease(release)) },
  };
}

interface RenderedResource {
  source: string;
  object: K8sObject;
}

/** The release manifest as Helm stores it: rendered templates in install order, `---` separated. */
function renderManifest(chart: string, resources: RenderedResource[]): string {
  return resources
    .map((r) => `---\n# Source: ${chart}/templates/${r.source}\n${stringify(r.object, { lineWidth: 0 })}`)
    .join("");
}

function chartTemplates(chart: string, sources: string[]): Array<{ name: string; data: string }> {
  return ["templates/NOTES.txt", "templates/_helpers.tpl", ...sources.map((s) => `templates/${s}`)].map(
    (name) => ({
      name,
      data: b64(`{{- /* ${chart}: ${name} (template body omitted in the simulated record) */}}\n`),
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL (Bitnami chart 12.12.10, architecture replication)

const PG = {
  chart: "postgresql-12.12.10",
  release: "postgresql",
  image: "docker.io/bitnami/postgresql:15.4.0-debian-11-r45",
  passwords: {
    "postgres-password": "Vq8mZt3LpX2w",
    password: "shop-Rk4nD7sQ1e",
    "replication-password": "repl-Jc5hW9yB0u",
  },
};

function pgStatefulSet(component: "primary" | "read", revision: 1 | 2): K8sObject {
  const name = `postgresql-${component}`;
  const primary = component === "primary";
  const extended = primary && revision === 2;
  const labels = helmLabels(PG.chart, PG.release, "postgresql", component);
  const selector = selectorLabels(PG.release, "postgresql", component);
  const pgIsReady = `exec pg_isready -U "shop" -d "dbname=shop" -h 127.0.0.1 -p 5432`;
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: SHOP, labels },
    spec: {
      replicas: 1,
      serviceName: `${name}-hl`,
      updateStrategy: { rollingUpdate: {}, type: "RollingUpdate" },
      selector: { matchLabels: selector },
      template: {
        metadata: { name, labels },
        spec: {
          serviceAccountName: "default",
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  podAffinityTerm: {
                    labelSelector: { matchLabels: selector },
                    topologyKey: "kubernetes.io/hostname",
                  },
                  weight: 1,
                },
              ],
            },
          },
          securityContext: { fsGroup: 1001 },
          hostNetwork: false,
          hostIPC: false,
          containers: [
            {
              name: "postgresql",
              image: PG.image,
              imagePullPolicy: "IfNotPresent",
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ["ALL"] },
                runAsNonRoot: true,
                runAsUser: 1001,
                seccompProfile: { type: "RuntimeDefault" },
              },
              env: [
                { name: "BITNAMI_DEBUG", value: "false" },
                { name: "POSTGRESQL_PORT_NUMBER", value: "5432" },
                { name: "POSTGRESQL_VOLUME_DIR", value: "/bitnami/postgresql" },
                { name: "PGDATA", value: "/bitnami/postgresql/data" },
                { name: "POSTGRES_USER", value: "shop" },
                {
                  name: "POSTGRES_PASSWORD",
                  valueFrom: { secretKeyRef: { name: "postgresql", key: "password" } },
                },
                {
                  name: "POSTGRES_POSTGRES_PASSWORD",
                  valueFrom: { secretKeyRef: { name: "postgresql", key: "postgres-password" } },
                },
                ...(primary ? [{ name: "POSTGRES_DATABASE", value: "shop" }] : []),
                { name: "POSTGRES_REPLICATION_MODE", value: primary ? "master" : "slave" },
                { name: "POSTGRES_REPLICATION_USER", value: "repl_user" },
                {
                  name: "POSTGRES_REPLICATION_PASSWORD",
                  valueFrom: { secretKeyRef: { name: "postgresql", key: "replication-password" } },
                },
                ...(primary
                  ? []
                  : [
                      { name: "POSTGRES_MASTER_HOST", value: "postgresql-primary" },
                      { name: "POSTGRES_MASTER_PORT_NUMBER", value: "5432" },
                    ]),
                { name: "POSTGRESQL_ENABLE_LDAP", value: "no" },
                { name: "POSTGRESQL_ENABLE_TLS", value: "no" },
                { name: "POSTGRESQL_LOG_HOSTNAME", value: "false" },
                { name: "POSTGRESQL_LOG_CONNECTIONS", value: "false" },
                { name: "POSTGRESQL_LOG_DISCONNECTIONS", value: "false" },
                { name: "POSTGRESQL_PGAUDIT_LOG_CATALOG", value: "off" },
                { name: "POSTGRESQL_CLIENT_MIN_MESSAGES", value: "error" },
                { name: "POSTGRESQL_SHARED_PRELOAD_LIBRARIES", value: "pgaudit" },
              ],
              ports: [{ name: "tcp-postgresql", containerPort: 5432 }],
              livenessProbe: {
                failureThreshold: 6,
                initialDelaySeconds: 30,
                periodSeconds: 10,
                successThreshold: 1,
                timeoutSeconds: 5,
                exec: { command: ["/bin/sh", "-c", pgIsReady] },
              },
              readinessProbe: {
                failureThreshold: 6,
                initialDelaySeconds: 5,
                periodSeconds: 10,
                successThreshold: 1,
                timeoutSeconds: 5,
                exec: {
                  command: [
                    "/bin/sh",
                    "-c",
                    "-e",
                    `${pgIsReady}\n[ -f /opt/bitnami/postgresql/tmp/.initialized ] || [ -f /bitnami/postgresql/.initialized ]\n`,
                  ],
                },
              },
              resources: { limits: {}, requests: { cpu: "250m", memory: "256Mi" } },
              volumeMounts: [
                ...(extended
                  ? [{ name: "postgresql-extended-config", mountPath: "/bitnami/postgresql/conf/conf.d/" }]
                  : []),
                { name: "dshm", mountPath: "/dev/shm" },
                { name: "data", mountPath: "/bitnami/postgresql" },
              ],
            },
          ],
          volumes: [
            ...(extended
              ? [
                  {
                    name: "postgresql-extended-config",
                    configMap: { name: "postgresql-primary-extended-configuration" },
                  },
                ]
              : []),
            { name: "dshm", emptyDir: { medium: "Memory" } },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: "data" },
          spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: "8Gi" } },
            storageClassName: "standard",
          },
        },
      ],
    },
  };
}

function pgRendered(revision: 1 | 2): RenderedResource[] {
  const svc = (component: "primary" | "read", headless: boolean): RenderedResource => {
    const name = `postgresql-${component}${headless ? "-hl" : ""}`;
    return {
      source: `${component}/${headless ? "svc-headless" : "svc"}.yaml`,
      object: {
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name,
          namespace: SHOP,
          labels: {
            ...helmLabels(PG.chart, PG.release, "postgresql", component),
            ...(headless ? { "app.kubernetes.io/component": component } : {}),
          },
          ...(headless
            ? { annotations: { "service.alpha.kubernetes.io/tolerate-unready-endpoints": "true" } }
            : {}),
        },
        spec: headless
          ? {
              type: "ClusterIP",
              clusterIP: "None",
              publishNotReadyAddresses: true,
              ports: [{ name: "tcp-postgresql", port: 5432, targetPort: "tcp-postgresql" }],
              selector: selectorLabels(PG.release, "postgresql", component),
            }
          : {
              type: "ClusterIP",
              sessionAffinity: "None",
              ports: [{ name: "tcp-postgresql", port: 5432, targetPort: "tcp-postgresql", nodePort: null }],
              selector: selectorLabels(PG.release, "postgresql", component),
            },
      },
    };
  };
  return [
    {
      source: "secrets.yaml",
      object: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: "postgresql",
          namespace: SHOP,
          labels: helmLabels(PG.chart, PG.release, "postgresql"),
        },
        type: "Opaque",
        data: Object.fromEntries(Object.entries(PG.passwords).map(([k, v]) => [k, b64(v)])),
      },
    },
    ...(revision === 2
      ? [
          {
            source: "primary/extended-configmap.yaml",
            object: {
              apiVersion: "v1",
              kind: "ConfigMap",
              metadata: {
                name: "postgresql-primary-extended-configuration",
                namespace: SHOP,
                labels: helmLabels(PG.chart, PG.release, "postgresql", "primary"),
              },
              data: { "override.conf": "max_connections = 200\nshared_buffers = 128MB\n" },
            },
          },
        ]
      : []),
    svc("primary", true),
    svc("primary", false),
    svc("read", true),
    svc("read", false),
    { source: "primary/statefulset.yaml", object: pgStatefulSet("primary", revision) },
    { source: "read/statefulset.yaml", object: pgStatefulSet("read", revision) },
  ];
}

const PG_CONFIG_V1 = {
  architecture: "replication",
  auth: { database: "shop", username: "shop" },
  global: { storageClass: "standard" },
};

const PG_CONFIG_V2 = {
  ...PG_CONFIG_V1,
  primary: { extendedConfiguration: "max_connections = 200\nshared_buffers = 128MB\n" },
};

function pgRelease(revision: 1 | 2): HelmReleaseRecord {
  const rendered = pgRendered(revision);
  return {
    name: PG.release,
    info: {
      first_deployed: T.pgInstallNano,
      last_deployed: revision === 1 ? T.pgInstallNano : T.pgUpgradeNano,
      deleted: "",
      description: revision === 1 ? "Install complete" : "Upgrade complete",
      status: revision === 1 ? "superseded" : "deployed",
      notes:
        "CHART NAME: postgresql\nCHART VERSION: 12.12.10\nAPP VERSION: 15.4.0\n\n** Please be patient while the chart is being deployed **\n\nPostgreSQL can be accessed via port 5432 on the following DNS names from within your cluster:\n\n    postgresql-primary.shop.svc.cluster.local - Read/Write connection\n\n    postgresql-read.shop.svc.cluster.local - Read only connection\n",
    },
    chart: {
      metadata: {
        name: "postgresql",
        home: "https://bitnami.com",
        sources: ["https://github.com/bitnami/charts/tree/main/bitnami/postgresql"],
        version: "12.12.10",
        description:
          "PostgreSQL (Postgres) is an open source object-relational database known for reliability and data integrity. ACID-compliant, it supports foreign keys, joins, views, triggers and stored procedures.",
        keywords: ["postgresql", "postgres", "database", "sql", "replication", "cluster"],
        maintainers: [{ name: "VMware, Inc.", url: "https://github.com/bitnami/charts" }],
        icon: "https://bitnami.com/assets/stacks/postgresql/img/postgresql-stack-220x234.png",
        apiVersion: "v2",
        appVersion: "15.4.0",
        annotations: { category: "Database", images: "", licenses: "Apache-2.0" },
        dependencies: [
          {
            name: "common",
            version: "2.x.x",
            repository: "oci://registry-1.docker.io/bitnamicharts",
            tags: ["bitnami-common"],
            enabled: true,
          },
        ],
      },
      lock: {
        generated: "2023-09-05T11:27:54.441314+02:00",
        digest: "sha256:2a8a3b1d6fd3d3c5b3b1c9ed4a1c4b62e4a0bda2c9f8b9c6a5c4e3d2f1a0b9c8",
        dependencies: [
          { name: "common", repository: "oci://registry-1.docker.io/bitnamicharts", version: "2.10.0" },
        ],
      },
      templates: chartTemplates(
        "postgresql",
        rendered.map((r) => r.source),
      ),
      values: {
        architecture: "standalone",
        auth: { enablePostgresUser: true, database: "", username: "" },
        global: { storageClass: "" },
        primary: { persistence: { enabled: true, size: "8Gi", accessModes: ["ReadWriteOnce"] } },
        readReplicas: { replicaCount: 1, persistence: { enabled: true, size: "8Gi" } },
      },
      schema: null,
      files: [{ name: "README.md", data: b64("# PostgreSQL packaged by Bitnami\n") }],
    },
    config: revision === 1 ? PG_CONFIG_V1 : PG_CONFIG_V2,
    manifest: renderManifest("postgresql", rendered),
    version: revision,
    namespace: SHOP,
  };
}

// ---------------------------------------------------------------------------------------------
// MongoDB (Bitnami chart 14.4.0, architecture replicaset, with arbiter)

const MONGO = {
  chart: "mongodb-14.4.0",
  release: "mongodb",
  image: "docker.io/bitnami/mongodb:7.0.5-debian-11-r6",
  passwords: { "mongodb-root-password": "root-Tn6vK2pQ8z", "mongodb-replica-set-key": "rskey-Hd3LmW7cYx" },
};

function mongoEnv(arbiter: boolean): Json[] {
  const service = arbiter ? "mongodb-arbiter-headless" : "mongodb-headless";
  return [
    { name: "BITNAMI_DEBUG", value: "false" },
    { name: "MY_POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "MY_POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    { name: "MY_POD_HOST_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
    { name: "K8S_SERVICE_NAME", value: service },
    { name: "MONGODB_REPLICA_SET_MODE", value: arbiter ? "arbiter" : "secondary" },
    {
      name: "MONGODB_INITIAL_PRIMARY_HOST",
      value: "mongodb-0.mongodb-headless.$(MY_POD_NAMESPACE).svc.cluster.local",
    },
    { name: "MONGODB_REPLICA_SET_NAME", value: "rs0" },
    {
      name: "MONGODB_ADVERTISED_HOSTNAME",
      value: "$(MY_POD_NAME).$(K8S_SERVICE_NAME).$(MY_POD_NAMESPACE).svc.cluster.local",
    },
    ...(arbiter
      ? [
          { name: "MONGODB_INITIAL_PRIMARY_ROOT_USER", value: "root" },
          {
            name: "MONGODB_INITIAL_PRIMARY_ROOT_PASSWORD",
            valueFrom: { secretKeyRef: { name: "mongodb", key: "mongodb-root-password" } },
          },
        ]
      : [
          { name: "MONGODB_ROOT_USER", value: "root" },
          {
            name: "MONGODB_ROOT_PASSWORD",
            valueFrom: { secretKeyRef: { name: "mongodb", key: "mongodb-root-password" } },
          },
        ]),
    {
      name: "MONGODB_REPLICA_SET_KEY",
      valueFrom: { secretKeyRef: { name: "mongodb", key: "mongodb-replica-set-key" } },
    },
    { name: "ALLOW_EMPTY_PASSWORD", value: "no" },
    { name: "MONGODB_PORT_NUMBER", value: "27017" },
    { name: "MONGODB_ENABLE_IPV6", value: "no" },
    ...(arbiter
      ? []
      : [
          { name: "MONGODB_SYSTEM_LOG_VERBOSITY", value: "0" },
          { name: "MONGODB_DISABLE_SYSTEM_LOG", value: "no" },
          { name: "MONGODB_DISABLE_JAVASCRIPT", value: "no" },
          { name: "MONGODB_ENABLE_JOURNAL", value: "yes" },
          { name: "MONGODB_ENABLE_DIRECTORY_PER_DB", value: "no" },
        ]),
  ];
}

function mongoStatefulSet(arbiter: boolean): K8sObject {
  const component = arbiter ? "arbiter" : "mongodb";
  const name = arbiter ? "mongodb-arbiter" : "mongodb";
  const labels = helmLabels(MONGO.chart, MONGO.release, "mongodb", component);
  const selector = selectorLabels(MONGO.release, "mongodb", component);
  const probe = (script: string, initialDelaySeconds: number) => ({
    failureThreshold: 6,
    initialDelaySeconds,
    periodSeconds: 20,
    successThreshold: 1,
    timeoutSeconds: 10,
    exec: { command: ["/bitnami/scripts/" + script] },
  });
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: SHOP, labels },
    spec: {
      serviceName: arbiter ? "mongodb-arbiter-headless" : "mongodb-headless",
      podManagementPolicy: "OrderedReady",
      replicas: arbiter ? 1 : 2,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: "mongodb",
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  podAffinityTerm: {
                    labelSelector: { matchLabels: selector },
                    topologyKey: "kubernetes.io/hostname",
                  },
                  weight: 1,
                },
              ],
            },
          },
          securityContext: { fsGroup: 1001, sysctls: [] },
          containers: [
            {
              name: arbiter ? "mongodb-arbiter" : "mongodb",
              image: MONGO.image,
              imagePullPolicy: "IfNotPresent",
              securityContext: { runAsGroup: 0, runAsNonRoot: true, runAsUser: 1001 },
              ...(arbiter ? {} : { command: ["/scripts/setup.sh"] }),
              env: mongoEnv(arbiter),
              ports: [{ containerPort: 27017, name: "mongodb" }],
              livenessProbe: arbiter
                ? {
                    failureThreshold: 6,
                    initialDelaySeconds: 30,
                    periodSeconds: 20,
                    successThreshold: 1,
                    timeoutSeconds: 10,
                    tcpSocket: { port: "mongodb" },
                  }
                : probe("ping-mongodb.sh", 30),
              readinessProbe: arbiter
                ? {
                    failureThreshold: 6,
                    initialDelaySeconds: 5,
                    periodSeconds: 20,
                    successThreshold: 1,
                    timeoutSeconds: 10,
                    tcpSocket: { port: "mongodb" },
                  }
                : probe("readiness-probe.sh", 5),
              resources: { limits: {}, requests: {} },
              volumeMounts: arbiter
                ? []
                : [
                    { name: "datadir", mountPath: "/bitnami/mongodb" },
                    { name: "common-scripts", mountPath: "/bitnami/scripts" },
                    { name: "scripts", mountPath: "/scripts/setup.sh", subPath: "setup.sh" },
                  ],
            },
          ],
          volumes: arbiter
            ? []
            : [
                { name: "common-scripts", configMap: { name: "mongodb-common-scripts", defaultMode: 360 } },
                { name: "scripts", configMap: { name: "mongodb-scripts", defaultMode: 493 } },
              ],
        },
      },
      ...(arbiter
        ? {}
        : {
            volumeClaimTemplates: [
              {
                apiVersion: "v1",
                kind: "PersistentVolumeClaim",
                metadata: { name: "datadir" },
                spec: {
                  accessModes: ["ReadWriteOnce"],
                  resources: { requests: { storage: "8Gi" } },
                  storageClassName: "standard",
                },
              },
            ],
          }),
    },
  };
}

function mongoRendered(): RenderedResource[] {
  const headless = (arbiter: boolean): RenderedResource => ({
    source: arbiter ? "arbiter/headless-svc.yaml" : "replicaset/headless-svc.yaml",
    object: {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: arbiter ? "mongodb-arbiter-headless" : "mongodb-headless",
        namespace: SHOP,
        labels: helmLabels(MONGO.chart, MONGO.release, "mongodb", arbiter ? "arbiter" : "mongodb"),
      },
      spec: {
        type: "ClusterIP",
        clusterIP: "None",
        publishNotReadyAddresses: true,
        ports: [{ name: "tcp-mongodb", port: 27017, targetPort: "mongodb" }],
        selector: selectorLabels(MONGO.release, "mongodb", arbiter ? "arbiter" : "mongodb"),
      },
    },
  });
  return [
    {
      source: "serviceaccount.yaml",
      object: {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: {
          name: "mongodb",
          namespace: SHOP,
          labels: helmLabels(MONGO.chart, MONGO.release, "mongodb"),
        },
        secrets: [{ name: "mongodb" }],
        automountServiceAccountToken: true,
      },
    },
    {
      source: "secrets.yaml",
      object: {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: "mongodb",
          namespace: SHOP,
          labels: helmLabels(MONGO.chart, MONGO.release, "mongodb", "mongodb"),
        },
        type: "Opaque",
        data: Object.fromEntries(Object.entries(MONGO.passwords).map(([k, v]) => [k, b64(v)])),
      },
    },
    {
      source: "common-scripts-cm.yaml",
      object: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: "mongodb-common-scripts",
          namespace: SHOP,
          labels: helmLabels(MONGO.chart, MONGO.release, "mongodb", "mongodb"),
        },
        data: {
          "ping-mongodb.sh":
            "#!/bin/bash\nmongosh  $TLS_OPTIONS --port $MONGODB_PORT_NUMBER --eval \"db.adminCommand('ping')\"\n",
          "readiness-probe.sh":
            "#!/bin/bash\n# Run the proper check depending on the version\nmongosh $TLS_OPTIONS --port $MONGODB_PORT_NUMBER --eval 'db.hello().isWritablePrimary || db.hello().secondary' | grep 'true'\n",
        },
      },
    },
    {
      source: "replicaset/scripts-configmap.yaml",
      object: {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: "mongodb-scripts",
          namespace: SHOP,
          labels: helmLabels(MONGO.chart, MONGO.release, "mongodb", "mongodb"),
        },
        data: {
          "setup.sh":
            '#!/bin/bash\n\n. /opt/bitnami/scripts/mongodb-env.sh\n. /opt/bitnami/scripts/libfs.sh\n. /opt/bitnami/scripts/liblog.sh\n. /opt/bitnami/scripts/libvalidations.sh\n\nif is_empty_value "$MONGODB_ADVERTISED_PORT_NUMBER"; then\n  export MONGODB_ADVERTISED_PORT_NUMBER="$MONGODB_PORT_NUMBER"\nfi\n\ninfo "Advertised Hostname: $MONGODB_ADVERTISED_HOSTNAME"\ninfo "Advertised Port: $MONGODB_ADVERTISED_PORT_NUMBER"\n\n# Check for existing replica set in case there is no data in the PVC\n# This is for cases where the PVC is lost or for MongoDB caches without\n# persistence\ncurrent_primary=""\nif is_dir_empty "${MONGODB_DATA_DIR}/db"; then\n  info "Data dir empty, checking if the replica set already exists"\nfi\n\nexec /opt/bitnami/scripts/mongodb/entrypoint.sh /opt/bitnami/scripts/mongodb/run.sh\n',
        },
      },
    },
    headless(true),
    headless(false),
    { source: "arbiter/statefulset.yaml", object: mongoStatefulSet(true) },
    { source: "replicaset/statefulset.yaml", object: mongoStatefulSet(false) },
  ];
}

function mongoRelease(): HelmReleaseRecord {
  const rendered = mongoRendered();
  return {
    name: MONGO.release,
    info: {
      first_deployed: T.mongoInstallNano,
      last_deployed: T.mongoInstallNano,
      deleted: "",
      description: "Install complete",
      status: "deployed",
      notes:
        "CHART NAME: mongodb\nCHART VERSION: 14.4.0\nAPP VERSION: 7.0.5\n\n** Please be patient while the chart is being deployed **\n\nMongoDB&reg; can be accessed on the following DNS name(s) and ports from within your cluster:\n\n    mongodb-0.mongodb-headless.shop.svc.cluster.local:27017\n    mongodb-1.mongodb-headless.shop.svc.cluster.local:27017\n",
    },
    chart: {
      metadata: {
        name: "mongodb",
        home: "https://bitnami.com",
        sources: ["https://github.com/bitnami/charts/tree/main/bitnami/mongodb"],
        version: "14.4.0",
        description:
          "MongoDB(R) is a relational open source NoSQL database. Easy to use, it stores data in JSON-like documents. Automated scalability and high-performance. Ideal for developing cloud native applications.",
        keywords: ["mongodb", "database", "nosql", "cluster", "replicaset", "replication"],
        maintainers: [{ name: "VMware, Inc.", url: "https://github.com/bitnami/charts" }],
        icon: "https://bitnami.com/assets/stacks/mongodb/img/mongodb-stack-220x234.png",
        apiVersion: "v2",
        appVersion: "7.0.5",
        annotations: { category: "Database", licenses: "Apache-2.0" },
        dependencies: [
          {
            name: "common",
            version: "2.x.x",
            repository: "oci://registry-1.docker.io/bitnamicharts",
            tags: ["bitnami-common"],
            enabled: true,
          },
        ],
      },
      lock: null,
      templates: chartTemplates(
        "mongodb",
        rendered.map((r) => r.source),
      ),
      values: {
        architecture: "standalone",
        replicaCount: 2,
        arbiter: { enabled: true },
        auth: { enabled: true, rootUser: "root" },
        persistence: { enabled: true, size: "8Gi", accessModes: ["ReadWriteOnce"] },
      },
      schema: null,
      files: [{ name: "README.md", data: b64("# MongoDB(R) packaged by Bitnami\n") }],
    },
    config: {
      architecture: "replicaset",
      replicaCount: 2,
      arbiter: { enabled: true },
      global: { storageClass: "standard" },
    },
    manifest: renderManifest("mongodb", rendered),
    version: 1,
    namespace: SHOP,
  };
}

// ---------------------------------------------------------------------------------------------
// Live objects of a chart release

/** API-server defaults and status for a StatefulSet created from a rendered manifest. */
function liveStatefulSet(
  rendered: K8sObject,
  created: string,
  release: string,
  generation: number,
  replicas: number,
  ready: number,
): { sts: K8sObject; revision: string } {
  const spec = rendered.spec as Json;
  const template = spec.template as Json;
  const revision = `${rendered.metadata.name}-${shortHash(`rev/${rendered.metadata.name}/${generation}`, 10)}`;
  const templates = (spec.volumeClaimTemplates as Json[] | undefined)?.map((t) =>
    merge(t, { spec: { volumeMode: "Filesystem" }, status: { phase: "Pending" } }),
  );
  const sts = applied(rendered, created, release, {
    metadata: { generation },
    spec: {
      podManagementPolicy: spec.podManagementPolicy ?? "OrderedReady",
      revisionHistoryLimit: 10,
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      updateStrategy: { rollingUpdate: { partition: 0 }, type: "RollingUpdate" },
      template: {
        metadata: { creationTimestamp: null },
        spec: withContainerDefaults(template.spec as Json),
      },
      ...(templates ? { volumeClaimTemplates: templates } : {}),
    },
    status: {
      availableReplicas: ready,
      collisionCount: 0,
      currentReplicas: replicas,
      currentRevision: revision,
      observedGeneration: generation,
      ...(ready > 0 ? { readyReplicas: ready } : {}),
      replicas,
      updateRevision: revision,
      updatedReplicas: replicas,
    },
  });
  return { sts, revision };
}

function liveService(rendered: K8sObject, created: string, release: string, clusterIP: string): K8sObject {
  const spec = rendered.spec as Json;
  const headless = spec.clusterIP === "None";
  const ip = headless ? "None" : clusterIP;
  return applied(rendered, created, release, {
    spec: {
      clusterIP: ip,
      clusterIPs: [ip],
      internalTrafficPolicy: "Cluster",
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      ports: (spec.ports as Json[]).map((p) => {
        const { nodePort: _nodePort, ...rest } = p;
        return { ...rest, protocol: "TCP" };
      }),
      sessionAffinity: "None",
    },
    status: { loadBalancer: {} },
  });
}

function statefulSetPods(
  sts: K8sObject,
  revision: string,
  created: string,
  placement: Array<{ node: NodeName; ip: number }>,
  status?: (ordinal: number) => Json | undefined,
): K8sObject[] {
  const spec = sts.spec as Json;
  const templates = (spec.volumeClaimTemplates as Json[] | undefined) ?? [];
  return placement.map((p, ordinal) => {
    const name = `${sts.metadata.name}-${ordinal}`;
    const pod = podFromTemplate({
      owner: sts,
      name,
      template: spec.template as Json,
      node: p.node,
      ipSuffix: p.ip,
      created,
      stsService: spec.serviceName as string,
      labels: {
        "apps.kubernetes.io/pod-index": String(ordinal),
        "controller-revision-hash": revision,
        "statefulset.kubernetes.io/pod-name": name,
      },
      claims: templates.map((t) => {
        const volume = (t.metadata as Json).name as string;
        return { volume, claim: `${volume}-${sts.metadata.name}-${ordinal}` };
      }),
      ...(status?.(ordinal) ? { status: status(ordinal)! } : {}),
    });
    return pod;
  });
}

// ---------------------------------------------------------------------------------------------
// Plain Deployments (not Helm)

interface DeploymentInput {
  name: string;
  namespace: string;
  created: string;
  rolledOut: string;
  revision: number;
  replicas: number;
  labels: Record<string, string>;
  podSpec: Json;
  pods: Array<{ node: NodeName; ip: number }>;
}

function deployment(d: DeploymentInput): K8sObject[] {
  const template = {
    metadata: { creationTimestamp: null, labels: d.labels },
    spec: withContainerDefaults(d.podSpec),
  };
  const hash = shortHash(`template/${d.namespace}/${d.name}/${d.revision}`, 10);
  const deploy: K8sObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta("Deployment", d.name, d.namespace, d.created, {
      generation: d.revision,
      labels: d.labels,
      annotations: { "deployment.kubernetes.io/revision": String(d.revision) },
    }),
    spec: {
      progressDeadlineSeconds: 600,
      replicas: d.replicas,
      revisionHistoryLimit: 10,
      selector: { matchLabels: d.labels },
      strategy: { rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" }, type: "RollingUpdate" },
      template,
    },
    status: {
      availableReplicas: d.replicas,
      conditions: [
        {
          type: "Available",
          status: "True",
          reason: "MinimumReplicasAvailable",
          message: "Deployment has minimum availability.",
          lastTransitionTime: d.rolledOut,
          lastUpdateTime: d.rolledOut,
        },
        {
          type: "Progressing",
          status: "True",
          reason: "NewReplicaSetAvailable",
          message: `ReplicaSet "${d.name}-${hash}" has successfully progressed.`,
          lastTransitionTime: d.created,
          lastUpdateTime: d.rolledOut,
        },
      ],
      observedGeneration: d.revision,
      readyReplicas: d.replicas,
      replicas: d.replicas,
      updatedReplicas: d.replicas,
    },
  };
  const rsName = `${d.name}-${hash}`;
  const rsLabels = { ...d.labels, "pod-template-hash": hash };
  const rs: K8sObject = {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: meta("ReplicaSet", rsName, d.namespace, d.rolledOut, {
      generation: 1,
      labels: rsLabels,
      annotations: {
        "deployment.kubernetes.io/desired-replicas": String(d.replicas),
        "deployment.kubernetes.io/max-replicas": String(d.replicas + Math.ceil(d.replicas * 0.25)),
        "deployment.kubernetes.io/revision": String(d.revision),
      },
      ownerReferences: [owner(deploy)],
    }),
    spec: {
      replicas: d.replicas,
      selector: { matchLabels: rsLabels },
      template: { ...template, metadata: { ...template.metadata, labels: rsLabels } },
    },
    status: {
      availableReplicas: d.replicas,
      fullyLabeledReplicas: d.replicas,
      observedGeneration: 1,
      readyReplicas: d.replicas,
      replicas: d.replicas,
    },
  };
  const pods = d.pods.map((p, i) =>
    podFromTemplate({
      owner: rs,
      name: `${rsName}-${shortHash(`pod/${rsName}/${i}`, 5)}`,
      template: (rs.spec as Json).template as Json,
      node: p.node,
      ipSuffix: p.ip,
      created: d.rolledOut,
    }),
  );
  return [deploy, rs, ...pods];
}

// ---------------------------------------------------------------------------------------------
// Assembly

function opaqueSecret(
  name: string,
  namespace: string,
  created: string,
  data: Record<string, string>,
  labels?: Record<string, string>,
): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta("Secret", name, namespace, created, labels ? { labels } : {}),
    type: "Opaque",
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
}

function configMap(
  name: string,
  namespace: string,
  created: string,
  data: Record<string, string>,
  labels?: Record<string, string>,
): K8sObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta("ConfigMap", name, namespace, created, labels ? { labels } : {}),
    data,
  };
}

function postgresObjects(): K8sObject[] {
  const rendered = pgRendered(2);
  const out: K8sObject[] = [];
  const ips: Record<string, string> = {
    "postgresql-primary": "10.96.143.27",
    "postgresql-read": "10.96.201.118",
  };
  for (const { object } of rendered) {
    const created = object.kind === "ConfigMap" ? T.pgUpgrade : T.pgInstall;
    if (object.kind === "Service")
      out.push(liveService(object, T.pgInstall, PG.release, ips[object.metadata.name] ?? ""));
    else if (object.kind === "StatefulSet") continue;
    else out.push(applied(object, created, PG.release));
  }
  const placement: Record<"primary" | "read", { node: NodeName; ip: number }> = {
    primary: { node: "node-a", ip: 14 },
    read: { node: "node-b", ip: 31 },
  };
  for (const component of ["primary", "read"] as const) {
    const renderedSts = rendered.find(
      (r) => r.object.kind === "StatefulSet" && r.object.metadata.name === `postgresql-${component}`,
    )!;
    const { sts, revision } = liveStatefulSet(
      renderedSts.object,
      T.pgInstall,
      PG.release,
      component === "primary" ? 2 : 1,
      1,
      1,
    );
    out.push(sts);
    const p = placement[component];
    out.push(...statefulSetPods(sts, revision, T.pgPods, [p]));
    out.push(
      ...boundClaim({
        name: `data-postgresql-${component}-0`,
        namespace: SHOP,
        labels: selectorLabels(PG.release, "postgresql", component),
        storageClass: "standard",
        size: "8Gi",
        node: p.node,
        reclaimPolicy: "Delete",
        created: T.pgInstall,
      }),
    );
  }
  out.push(helmReleaseSecret(pgRelease(1), T.pgInstall, T.pgUpgrade));
  out.push(helmReleaseSecret(pgRelease(2), T.pgUpgrade));
  return out;
}

function mongoObjects(): K8sObject[] {
  const out: K8sObject[] = [];
  for (const { object } of mongoRendered()) {
    if (object.kind === "Service") out.push(liveService(object, T.mongoInstall, MONGO.release, ""));
    else if (object.kind !== "StatefulSet") out.push(applied(object, T.mongoInstall, MONGO.release));
  }
  const rendered = mongoRendered();
  const mongo = liveStatefulSet(
    rendered.find((r) => r.object.kind === "StatefulSet" && r.object.metadata.name === "mongodb")!.object,
    T.mongoInstall,
    MONGO.release,
    1,
    2,
    2,
  );
  const arbiter = liveStatefulSet(
    rendered.find((r) => r.object.kind === "StatefulSet" && r.object.metadata.name === "mongodb-arbiter")!
      .object,
    T.mongoInstall,
    MONGO.release,
    1,
    1,
    0,
  );
  out.push(mongo.sts, arbiter.sts);
  const placement = [
    { node: "node-a" as const, ip: 17 },
    { node: "node-b" as const, ip: 42 },
  ];
  out.push(...statefulSetPods(mongo.sts, mongo.revision, T.mongoPods, placement));
  placement.forEach((p, ordinal) =>
    out.push(
      ...boundClaim({
        name: `datadir-mongodb-${ordinal}`,
        namespace: SHOP,
        labels: selectorLabels(MONGO.release, "mongodb", "mongodb"),
        storageClass: "standard",
        size: "8Gi",
        node: p.node,
        reclaimPolicy: "Delete",
        created: T.mongoInstall,
      }),
    ),
  );
  // The arbiter crash-loops: the incident started with an attempt to fix it.
  const arbiterPodUid = simulatedUid("Pod", SHOP, "mongodb-arbiter-0");
  out.push(
    ...statefulSetPods(arbiter.sts, arbiter.revision, T.mongoPods, [{ node: "node-a", ip: 23 }], () => ({
      phase: "Running",
      conditions: [
        {
          type: "PodReadyToStartContainers",
          status: "True",
          lastProbeTime: null,
          lastTransitionTime: T.mongoPods,
        },
        { type: "Initialized", status: "True", lastProbeTime: null, lastTransitionTime: T.mongoPods },
        {
          type: "Ready",
          status: "False",
          reason: "ContainersNotReady",
          message: "containers with unready status: [mongodb-arbiter]",
          lastProbeTime: null,
          lastTransitionTime: T.arbiterRestart,
        },
        {
          type: "ContainersReady",
          status: "False",
          reason: "ContainersNotReady",
          message: "containers with unready status: [mongodb-arbiter]",
          lastProbeTime: null,
          lastTransitionTime: T.arbiterRestart,
        },
        { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: T.mongoPods },
      ],
      containerStatuses: [
        {
          containerID: `containerd://${hexHash(`container/${arbiterPodUid}/crash`, 64)}`,
          image: MONGO.image,
          imageID: `docker.io/bitnami/mongodb@sha256:${hexHash(`image/${MONGO.image}`, 64)}`,
          lastState: {
            terminated: {
              containerID: `containerd://${hexHash(`container/${arbiterPodUid}/crash`, 64)}`,
              exitCode: 1,
              finishedAt: T.arbiterRestart,
              reason: "Error",
              startedAt: "2026-11-26T08:46:58Z",
            },
          },
          name: "mongodb-arbiter",
          ready: false,
          restartCount: 17,
          started: false,
          state: {
            waiting: {
              message: `back-off 5m0s restarting failed container=mongodb-arbiter pod=mongodb-arbiter-0_shop(${arbiterPodUid})`,
              reason: "CrashLoopBackOff",
            },
          },
        },
      ],
    })),
  );
  out.push(helmReleaseSecret(mongoRelease(), T.mongoInstall));

  // Snapshots of the MongoDB claims: one ready, one still being cut.
  out.push({
    apiVersion: "snapshot.storage.k8s.io/v1",
    kind: "VolumeSnapshotClass",
    metadata: meta("VolumeSnapshotClass", "ebs-csi-snapclass", undefined, T.cluster, {
      annotations: { "snapshot.storage.kubernetes.io/is-default-class": "true" },
      generation: 1,
    }),
    driver: "ebs.csi.aws.com",
    deletionPolicy: "Delete",
  });
  for (const [ordinal, ready] of [
    [0, true],
    [1, false],
  ] as const) {
    const claim = `datadir-mongodb-${ordinal}`;
    const name = `${claim}-snap-20261125`;
    const uid = simulatedUid("VolumeSnapshot", SHOP, name);
    const contentName = `snapcontent-${uid}`;
    const created = ordinal === 0 ? T.snapshot : "2026-11-25T02:00:04Z";
    out.push({
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: meta("VolumeSnapshot", name, SHOP, created, {
        generation: 1,
        finalizers: [
          "snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection",
          "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection",
        ],
      }),
      spec: { source: { persistentVolumeClaimName: claim }, volumeSnapshotClassName: "ebs-csi-snapclass" },
      status: {
        boundVolumeSnapshotContentName: contentName,
        creationTime: created,
        readyToUse: ready,
        ...(ready ? { restoreSize: "8Gi" } : {}),
      },
    });
    out.push({
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshotContent",
      metadata: meta("VolumeSnapshotContent", contentName, undefined, created, {
        generation: 1,
        finalizers: ["snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"],
      }),
      spec: {
        deletionPolicy: "Delete",
        driver: "ebs.csi.aws.com",
        source: { volumeHandle: `vol-${hexHash(`volume/${SHOP}/${claim}`, 17)}` },
        volumeSnapshotClassName: "ebs-csi-snapclass",
        volumeSnapshotRef: {
          apiVersion: "snapshot.storage.k8s.io/v1",
          kind: "VolumeSnapshot",
          name,
          namespace: SHOP,
          uid,
        },
      },
      status: {
        creationTime: Date.parse(created) * 1_000_000,
        readyToUse: ready,
        ...(ready ? { restoreSize: 8589934592 } : {}),
        snapshotHandle: `snap-${hexHash(`snapshot/${name}`, 17)}`,
      },
    });
  }
  return out;
}

function shopExtras(): K8sObject[] {
  const storefrontLabels = { "app.kubernetes.io/name": "storefront", "app.kubernetes.io/part-of": "shop" };
  return [
    ...boundClaim({
      name: "uploads",
      namespace: SHOP,
      labels: storefrontLabels,
      storageClass: "standard-retain",
      size: "20Gi",
      node: "node-a",
      reclaimPolicy: "Retain",
      created: T.storefront,
    }),
    ...deployment({
      name: "storefront",
      namespace: SHOP,
      created: T.storefront,
      rolledOut: T.storefrontRollout,
      revision: 7,
      replicas: 2,
      labels: storefrontLabels,
      pods: [
        { node: "node-a", ip: 51 },
        { node: "node-a", ip: 52 },
      ],
      podSpec: {
        containers: [
          {
            name: "storefront",
            image: "ghcr.io/acme/storefront:2.14.1",
            ports: [{ name: "http", containerPort: 8080 }],
            env: [
              { name: "DATABASE_HOST", value: "postgresql-read" },
              { name: "DATABASE_PORT", value: "5432" },
              { name: "DATABASE_NAME", value: "shop" },
              { name: "DATABASE_USER", value: "shop" },
              {
                name: "DATABASE_PASSWORD",
                valueFrom: { secretKeyRef: { name: "postgresql", key: "password" } },
              },
            ],
            resources: { requests: { cpu: "100m", memory: "128Mi" } },
            volumeMounts: [{ name: "uploads", mountPath: "/srv/uploads" }],
          },
        ],
        volumes: [{ name: "uploads", persistentVolumeClaim: { claimName: "uploads" } }],
      },
    }),
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta("Service", "storefront", SHOP, T.storefront, { labels: storefrontLabels }),
      spec: {
        clusterIP: "10.96.88.140",
        clusterIPs: ["10.96.88.140"],
        internalTrafficPolicy: "Cluster",
        ipFamilies: ["IPv4"],
        ipFamilyPolicy: "SingleStack",
        ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: "http" }],
        selector: storefrontLabels,
        sessionAffinity: "None",
        type: "ClusterIP",
      },
      status: { loadBalancer: {} },
    },
    // Left behind by `helm uninstall legacy-redis`: no release record, no pod, still bound to a Delete volume.
    ...boundClaim({
      name: "data-legacy-redis-master-0",
      namespace: SHOP,
      labels: {
        "app.kubernetes.io/component": "master",
        "app.kubernetes.io/instance": "legacy-redis",
        "app.kubernetes.io/name": "redis",
      },
      storageClass: "standard",
      size: "8Gi",
      node: "node-a",
      reclaimPolicy: "Delete",
      created: T.legacyRedis,
    }),
  ];
}

function dependentObjects(): K8sObject[] {
  const feedLabels = {
    "app.kubernetes.io/name": "feed-generator",
    "app.kubernetes.io/part-of": "merchant-feeds",
  };
  const reportLabels = { "app.kubernetes.io/name": "reports", "app.kubernetes.io/part-of": "analytics" };
  const exportLabels = {
    "app.kubernetes.io/name": "nightly-export",
    "app.kubernetes.io/part-of": "marketing",
  };

  const cronJob: K8sObject = {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: meta("CronJob", "nightly-export", "marketing", T.marketing, {
      generation: 1,
      labels: exportLabels,
    }),
    spec: {
      concurrencyPolicy: "Forbid",
      failedJobsHistoryLimit: 1,
      jobTemplate: {
        metadata: { creationTimestamp: null, labels: exportLabels },
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { creationTimestamp: null, labels: exportLabels },
            spec: withContainerDefaults({
              restartPolicy: "OnFailure",
              containers: [
                {
                  name: "export",
                  image: "ghcr.io/acme/nightly-export:0.9.2",
                  args: ["--format", "csv", "--to", "s3://acme-marketing-exports/nightly/"],
                  envFrom: [{ configMapRef: { name: "export-db" } }],
                  env: [
                    {
                      name: "PGPASSWORD",
                      valueFrom: { secretKeyRef: { name: "export-db", key: "password" } },
                    },
                  ],
                },
              ],
            }),
          },
        },
      },
      schedule: "0 3 * * *",
      successfulJobsHistoryLimit: 3,
      suspend: false,
    },
    status: { lastScheduleTime: T.exportRun, lastSuccessfulTime: T.exportDone },
  };
  const jobName = "nightly-export-29361780";
  const jobUid = simulatedUid("Job", "marketing", jobName);
  const jobLabels = {
    ...exportLabels,
    "batch.kubernetes.io/controller-uid": jobUid,
    "batch.kubernetes.io/job-name": jobName,
    "controller-uid": jobUid,
    "job-name": jobName,
  };
  const jobTemplate = ((cronJob.spec as Json).jobTemplate as Json).spec as Json;
  const podTemplate = jobTemplate.template as Json;
  const job: K8sObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: meta("Job", jobName, "marketing", T.exportRun, {
      generation: 1,
      labels: jobLabels,
      annotations: { "batch.kubernetes.io/cronjob-scheduled-timestamp": T.exportRun },
      ownerReferences: [owner(cronJob)],
    }),
    spec: {
      backoffLimit: 2,
      completionMode: "NonIndexed",
      completions: 1,
      manualSelector: false,
      parallelism: 1,
      podReplacementPolicy: "TerminatingOrFailed",
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": jobUid } },
      suspend: false,
      template: { metadata: { creationTimestamp: null, labels: jobLabels }, spec: podTemplate.spec },
    },
    status: {
      completionTime: T.exportDone,
      conditions: [
        { type: "Complete", status: "True", lastProbeTime: T.exportDone, lastTransitionTime: T.exportDone },
      ],
      ready: 0,
      startTime: T.exportRun,
      succeeded: 1,
      terminating: 0,
      uncountedTerminatedPods: {},
    },
  };
  const jobPodName = `${jobName}-${shortHash(`pod/${jobName}`, 5)}`;
  const jobPodUid = simulatedUid("Pod", "marketing", jobPodName);
  const jobPod = podFromTemplate({
    owner: job,
    name: jobPodName,
    template: (job.spec as Json).template as Json,
    node: "node-a",
    ipSuffix: 88,
    created: T.exportRun,
    status: {
      phase: "Succeeded",
      conditions: [
        {
          type: "PodReadyToStartContainers",
          status: "False",
          lastProbeTime: null,
          lastTransitionTime: T.exportDone,
        },
        { type: "Initialized", status: "True", lastProbeTime: null, lastTransitionTime: T.exportRun },
        {
          type: "Ready",
          status: "False",
          reason: "PodCompleted",
          lastProbeTime: null,
          lastTransitionTime: T.exportDone,
        },
        {
          type: "ContainersReady",
          status: "False",
          reason: "PodCompleted",
          lastProbeTime: null,
          lastTransitionTime: T.exportDone,
        },
        { type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: T.exportRun },
      ],
      containerStatuses: [
        {
          containerID: `containerd://${hexHash(`container/${jobPodUid}/export`, 64)}`,
          image: "ghcr.io/acme/nightly-export:0.9.2",
          imageID: `ghcr.io/acme/nightly-export@sha256:${hexHash("image/nightly-export", 64)}`,
          lastState: {},
          name: "export",
          ready: false,
          restartCount: 0,
          started: false,
          state: {
            terminated: {
              exitCode: 0,
              reason: "Completed",
              startedAt: "2026-11-26T03:00:04Z",
              finishedAt: "2026-11-26T03:02:39Z",
            },
          },
        },
      ],
    },
  });
  // The job's pod is owned by the Job, not the CronJob.
  jobPod.metadata.generateName = `${jobName}-`;

  return [
    opaqueSecret("feed-db", "feeds", T.feeds, { password: "feed-Pw2xN8kR5t" }, feedLabels),
    ...deployment({
      name: "feed-generator",
      namespace: "feeds",
      created: T.feeds,
      rolledOut: "2026-11-02T09:12:40Z",
      revision: 4,
      replicas: 1,
      labels: feedLabels,
      pods: [{ node: "node-b", ip: 63 }],
      podSpec: {
        containers: [
          {
            name: "feed-generator",
            image: "ghcr.io/acme/feed-generator:1.8.3",
            args: ["--merchant-platform", "https://merchants.example.com/api/v2/feeds", "--interval", "15m"],
            env: [
              { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "feed-db", key: "password" } } },
              {
                name: "DATABASE_URL",
                value:
                  "postgres://feed:$(DB_PASSWORD)@postgresql-primary.shop.svc.cluster.local:5432/shop?sslmode=disable",
              },
              { name: "FEED_FORMAT", value: "google-merchant-xml" },
            ],
            resources: { requests: { cpu: "50m", memory: "96Mi" } },
          },
        ],
      },
    }),
    configMap(
      "export-db",
      "marketing",
      T.marketing,
      {
        PGHOST: "postgresql-primary.shop.svc",
        PGDATABASE: "shop",
        PGPORT: "5432",
        PGUSER: "marketing_export",
      },
      exportLabels,
    ),
    opaqueSecret("export-db", "marketing", T.marketing, { password: "mkt-Zu4cV1gH7n" }, exportLabels),
    cronJob,
    job,
    jobPod,
    ...deployment({
      name: "reports",
      namespace: "analytics",
      created: T.analytics,
      rolledOut: "2026-10-14T11:05:22Z",
      revision: 2,
      replicas: 1,
      labels: reportLabels,
      pods: [{ node: "node-b", ip: 71 }],
      podSpec: {
        containers: [
          {
            name: "reports",
            image: "ghcr.io/acme/reports:3.2.0",
            args: [
              "--mongo",
              "mongodb://mongodb-0.mongodb-headless.shop.svc.cluster.local:27017,mongodb-1.mongodb-headless.shop.svc.cluster.local:27017/?replicaSet=rs0",
            ],
            resources: { requests: { cpu: "100m", memory: "256Mi" } },
          },
        ],
      },
    }),
  ];
}

function buildFixtures(): K8sObject[] {
  const objects: K8sObject[] = [
    ...NODES.map(nodeObject),
    namespaceObject("default", T.cluster),
    namespaceObject("kube-node-lease", T.cluster),
    namespaceObject("kube-public", T.cluster),
    namespaceObject("kube-system", T.cluster),
    namespaceObject(SHOP, T.shop),
    namespaceObject("feeds", T.feeds),
    namespaceObject("marketing", T.marketing),
    namespaceObject("analytics", T.analytics),
    storageClass("standard", "Delete", true),
    storageClass("standard-retain", "Retain", false),
    ...shopExtras(),
    ...postgresObjects(),
    ...mongoObjects(),
    ...dependentObjects(),
  ];
  // resourceVersions in creation order, like etcd revisions.
  const ordered = [...objects].sort((a, b) =>
    (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? ""),
  );
  ordered.forEach((o, i) => {
    o.metadata.resourceVersion = String(41_000 + i * 7);
  });
  for (const pv of objects.filter((o) => o.kind === "PersistentVolume")) {
    const ref = (pv.spec as Json).claimRef as Json;
    const claim = objects.find(
      (o) =>
        o.kind === "PersistentVolumeClaim" &&
        o.metadata.name === ref.name &&
        o.metadata.namespace === ref.namespace,
    );
    if (claim) ref.resourceVersion = String(Number(claim.metadata.resourceVersion) - 2);
  }
  return objects;
}

const FIXTURES: readonly K8sObject[] = buildFixtures();

/** A fresh deep copy of the simulated cluster's objects. */
export function simulatedFixtures(): K8sObject[] {
  return structuredClone(FIXTURES as K8sObject[]);
}

/** The decoded Helm release records in the fixtures (for assertions; the cluster only holds the encoded secrets). */
export function simulatedHelmRelease(
  name: "postgresql" | "mongodb",
  version: number,
): HelmReleaseRecord | undefined {
  if (name === "postgresql" && (version === 1 || version === 2)) return pgRelease(version);
  if (name === "mongodb" && version === 1) return mongoRelease();
  return undefined;
}
