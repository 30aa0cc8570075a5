import type { Inventory } from "../core/kubernetes/inventory.js";

/** Where a kubectl command would go: the kubeconfig file and context, as kubectl resolves them. */
export interface ClusterSelection {
  kubeconfig: string | null;
  context: string | null;
}

/** A Kubernetes cluster, reached the way kubectl reaches it. */
export interface Cluster {
  /** The context in use and its default namespace. */
  readonly context: string;
  readonly defaultNamespace: string;
  /** The server, for messages (never holds credentials). */
  readonly server: string;
  /**
   * Everything a plan needs, read cluster-wide. Reads that fail become gaps in the inventory;
   * a cluster that cannot be reached at all is an error.
   */
  inventory(signal: AbortSignal): Promise<Inventory>;
  /** Sets a volume's reclaim policy, failing if it is no longer `expected` (someone changed it). */
  setReclaimPolicy(volume: string, expected: string, policy: string, signal: AbortSignal): Promise<void>;
}
