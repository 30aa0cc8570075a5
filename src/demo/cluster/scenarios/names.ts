/**
 * The incident lifeline comes from, as a simulated cluster: its names (for tests and the demo),
 * its nodes and its timeline (all times fixed).
 */
import type { NodeInfo } from "../builders/cluster.js";
import { simulatedVolumeName } from "../builders/meta.js";

export const SHOP = "shop";

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

/** The timeline (all times fixed). */
export const T = {
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

export const NODE_A: NodeInfo = {
  name: "node-a",
  zone: "eu-west-1a",
  ip: "10.0.1.21",
  podCidr: 1,
  instance: "i-0a4c1e2f3b5d67890",
};
export const NODE_B: NodeInfo = {
  name: "node-b",
  zone: "eu-west-1b",
  ip: "10.0.2.37",
  podCidr: 2,
  instance: "i-0b7d2f4a6c8e13579",
};
export const NODES: readonly NodeInfo[] = [NODE_A, NODE_B];
