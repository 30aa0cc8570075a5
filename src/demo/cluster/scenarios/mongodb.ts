/** MongoDB installed by the Bitnami chart 14.4.0 (architecture replicaset) with a crash-looping arbiter, and snapshots of its claims. */
import type { Json, K8sObject } from "../model.js";
import { boundClaim } from "../builders/cluster.js";
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
import { b64, hexHash, meta, simulatedUid } from "../builders/meta.js";
import { liveStatefulSet, statefulSetPods } from "../builders/workloads.js";
import { NODE_A, NODE_B, SHOP, T } from "./names.js";

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

export function mongoRelease(): HelmReleaseRecord {
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

export function mongoObjects(): K8sObject[] {
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
    { node: NODE_A, ip: 17 },
    { node: NODE_B, ip: 42 },
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
    ...statefulSetPods(arbiter.sts, arbiter.revision, T.mongoPods, [{ node: NODE_A, ip: 23 }], () => ({
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
