/**
 * The simulated API server's storage: objects by key (like etcd's), the global resourceVersion
 * counter every write advances, and a counter that makes generated names and uids unique.
 */
import {
  clone,
  compareObjects,
  deterministicUid,
  resourceTypeFor,
  storeKey,
  timestamp,
  typeOfObject,
  type K8sObject,
  type ResourceType,
} from "./model.js";

export class ObjectStore {
  /** The objects by {@link storeKey}. */
  readonly objects = new Map<string, K8sObject>();
  /** The next resourceVersion. */
  rv = 1;
  /** Advances with every generated name, uid or address. */
  counter = 0;

  constructor(
    /** Clock for timestamps of objects created or deleted at run time. */
    readonly now: () => Date,
  ) {}

  /** Empties the store and loads these objects; resourceVersions continue after the highest one. */
  load(fixtures: readonly K8sObject[]): void {
    this.objects.clear();
    this.counter = 0;
    this.rv = 1;
    for (const obj of fixtures) {
      const n = Number(obj.metadata.resourceVersion);
      if (Number.isFinite(n) && n >= this.rv) this.rv = n + 1;
    }
    for (const obj of fixtures) this.put(obj);
  }

  /**
   * Inserts or replaces an object directly (no controllers run). Missing uid, resourceVersion and
   * creationTimestamp are filled in.
   */
  put(object: K8sObject): K8sObject {
    const type = typeOfObject(object);
    if (!type) throw new Error(`the simulated API server does not serve ${object.apiVersion} ${object.kind}`);
    const obj = clone(object);
    const ns = type.namespaced ? obj.metadata.namespace : undefined;
    if (type.namespaced && !ns) throw new Error(`${object.kind} ${obj.metadata.name} needs a namespace`);
    if (!type.namespaced) delete obj.metadata.namespace;
    obj.metadata.uid ??= deterministicUid(
      `${object.kind}/${ns ?? ""}/${obj.metadata.name}/${this.counter++}`,
    );
    obj.metadata.creationTimestamp ??= timestamp(this.now());
    if (obj.metadata.resourceVersion === undefined) this.touch(obj);
    this.objects.set(storeKey(type, ns, obj.metadata.name), obj);
    return clone(obj);
  }

  /** The current value of the global resourceVersion counter. */
  get resourceVersion(): string {
    return String(this.rv - 1);
  }

  /** A write: the object gets the next resourceVersion. */
  touch(obj: K8sObject): void {
    obj.metadata.resourceVersion = String(this.rv++);
  }

  requireType(kind: string): ResourceType {
    const type = resourceTypeFor(kind);
    if (!type) throw new Error(`unknown kind or resource ${JSON.stringify(kind)}`);
    return type;
  }

  /** The stored objects of a kind (optionally in one namespace), in list order. Not copies. */
  all(kind: string, namespace?: string): K8sObject[] {
    return [...this.objects.values()]
      .filter((o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace))
      .sort(compareObjects);
  }

  /** The stored object (not a copy), or undefined. */
  find(kind: string, name: string, namespace?: string): K8sObject | undefined {
    const type = this.requireType(kind);
    return this.objects.get(storeKey(type, type.namespaced ? namespace : undefined, name));
  }

  findByUid(uid: string): K8sObject | undefined {
    for (const o of this.objects.values()) if (o.metadata.uid === uid) return o;
    return undefined;
  }

  defaultStorageClass(): K8sObject | undefined {
    return this.all("StorageClass").find(
      (sc) =>
        sc.metadata.annotations?.["storageclass.kubernetes.io/is-default-class"] === "true" ||
        sc.metadata.annotations?.["storageclass.beta.kubernetes.io/is-default-class"] === "true",
    );
  }
}
