/** PostgreSQL installed by the Bitnami chart 12.12.10 (architecture replication), upgraded once: revision 2. */
import type { K8sObject } from "../model.js";
import { boundClaim, type NodeInfo } from "../builders/cluster.js";
import {
  applied,
  chartTemplates,
  helmLabels,
  type HelmReleaseRecord,
  helmReleaseSecret,
  liveService,
  type RenderedResource,
  renderManifest,
  selectorLabels,
} from "../builders/helm.js";
import { b64 } from "../builders/meta.js";
import { liveStatefulSet, statefulSetPods } from "../builders/workloads.js";
import { NODE_A, NODE_B, SHOP, T } from "./names.js";

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

export function pgRelease(revision: 1 | 2): HelmReleaseRecord {
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

export function postgresObjects(): K8sObject[] {
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
  const placement: Record<"primary" | "read", { node: NodeInfo; ip: number }> = {
    primary: { node: NODE_A, ip: 14 },
    read: { node: NODE_B, ip: 31 },
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
