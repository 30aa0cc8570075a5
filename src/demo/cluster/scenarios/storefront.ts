/** The shop's own workloads: the storefront (a plain Deployment with an uploads claim) and the claim an uninstalled release left behind. */
import type { K8sObject } from "../model.js";
import { boundClaim } from "../builders/cluster.js";
import { meta } from "../builders/meta.js";
import { deployment } from "../builders/workloads.js";
import { NODE_A, SHOP, T } from "./names.js";

export function shopExtras(): K8sObject[] {
  const storefrontLabels = { "app.kubernetes.io/name": "storefront", "app.kubernetes.io/part-of": "shop" };
  return [
    ...boundClaim({
      name: "uploads",
      namespace: SHOP,
      labels: storefrontLabels,
      storageClass: "standard-retain",
      size: "20Gi",
      node: NODE_A,
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
        { node: NODE_A, ip: 51 },
        { node: NODE_A, ip: 52 },
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
      node: NODE_A,
      reclaimPolicy: "Delete",
      created: T.legacyRedis,
    }),
  ];
}
