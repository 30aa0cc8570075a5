/** Builders of workloads as the API server shows them: pods from templates, StatefulSets and their pods, Deployments with their ReplicaSet and pods. */
import { ownerRef, type Json, type K8sObject } from "../model.js";
import type { NodeInfo } from "./cluster.js";
import { applied } from "./helm.js";
import { hexHash, meta, merge, shortHash, simulatedUid } from "./meta.js";

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

export function withContainerDefaults(podSpec: Json): Json {
  const containers = (podSpec.containers as Json[]).map((c) => ({
    ...c,
    imagePullPolicy: c.imagePullPolicy ?? "IfNotPresent",
    ...CONTAINER_DEFAULTS,
    ...(Array.isArray(c.ports) ? { ports: (c.ports as Json[]).map((p) => ({ protocol: "TCP", ...p })) } : {}),
  }));
  return { ...POD_SPEC_DEFAULTS, securityContext: {}, ...podSpec, containers };
}

// ---------------------------------------------------------------------------------------------
// Pods

export interface PodSpecInput {
  owner: K8sObject;
  name: string;
  template: Json;
  node: NodeInfo;
  ipSuffix: number;
  created: string;
  labels?: Record<string, string>;
  claims?: Array<{ volume: string; claim: string }>;
  stsService?: string;
  status?: Json;
}

export function podFromTemplate(p: PodSpecInput): K8sObject {
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
  const n = p.node;
  const podIP = `10.244.${n.podCidr}.${p.ipSuffix}`;
  const spec: Json = {
    ...tplSpec,
    containers,
    enableServiceLinks: true,
    ...(p.stsService ? { hostname: p.name, subdomain: p.stsService } : {}),
    nodeName: p.node.name,
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
      ownerReferences: [ownerRef(p.owner)],
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
// Live objects of a chart release

/** API-server defaults and status for a StatefulSet created from a rendered manifest. */
export function liveStatefulSet(
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

export function statefulSetPods(
  sts: K8sObject,
  revision: string,
  created: string,
  placement: Array<{ node: NodeInfo; ip: number }>,
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

export interface DeploymentInput {
  name: string;
  namespace: string;
  created: string;
  rolledOut: string;
  revision: number;
  replicas: number;
  labels: Record<string, string>;
  podSpec: Json;
  pods: Array<{ node: NodeInfo; ip: number }>;
}

export function deployment(d: DeploymentInput): K8sObject[] {
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
      ownerReferences: [ownerRef(deploy)],
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
