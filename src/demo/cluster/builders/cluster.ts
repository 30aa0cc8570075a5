/** Builders of cluster-scoped objects (nodes, namespaces, storage classes), claims with their volumes, Secrets and ConfigMaps. */
import type { K8sObject } from "../model.js";
import { b64, hexHash, meta, simulatedUid } from "./meta.js";

/** A node of the simulated cluster: its name, zone, address, pod CIDR (10.244.<podCidr>.0/24) and EC2 instance. */
export interface NodeInfo {
  name: string;
  zone: string;
  ip: string;
  podCidr: number;
  instance: string;
}

/** A Ready node (EKS-like, m6i.large) created at `created`. */
export function nodeObject(n: NodeInfo, created: string): K8sObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: meta("Node", n.name, undefined, created, {
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
        lastTransitionTime: created,
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

export function namespaceObject(name: string, created: string): K8sObject {
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

export function storageClass(
  name: string,
  reclaimPolicy: "Delete" | "Retain",
  isDefault: boolean,
  created: string,
): K8sObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: meta("StorageClass", name, undefined, created, {
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

export interface ClaimSpec {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  storageClass: string;
  size: string;
  node: NodeInfo;
  reclaimPolicy: "Delete" | "Retain";
  created: string;
}

/** A claim bound to a dynamically provisioned EBS volume, and that volume. */
export function boundClaim(c: ClaimSpec): [K8sObject, K8sObject] {
  const claimUid = simulatedUid("PersistentVolumeClaim", c.namespace, c.name);
  const pvName = `pvc-${claimUid}`;
  const zone = c.node.zone;
  const claim: K8sObject = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: meta("PersistentVolumeClaim", c.name, c.namespace, c.created, {
      labels: c.labels,
      annotations: {
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
        "volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
        "volume.kubernetes.io/selected-node": c.node.name,
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

export function opaqueSecret(
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

export function configMap(
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
