/**
 * The simulated API server's storage: objects by key (like etcd's), the global resourceVersion
 * counter every write advances, a counter that makes generated names and uids unique, and the
 * history of changes watches replay (like etcd's watch window, compacted past `maxEvents`).
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

/** One change, as a watch streams it (`object` is a snapshot, never the live object). */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: K8sObject;
  /** The object's resourceVersion, as a number. */
  rv: number;
}

/**
 * The objects by key. Every set and delete marks the key as changed, so that {@link ObjectStore.flush}
 * turns what a request (or a controller) did into watch events, whichever code path wrote it.
 */
class TrackedObjects extends Map<string, K8sObject> {
  readonly dirty = new Set<string>();
  /** Objects deleted since the last flush (they may still be touched: a deletion advances the RV). */
  readonly removed = new Map<string, K8sObject>();

  override set(key: string, value: K8sObject): this {
    this.dirty.add(key);
    this.removed.delete(key);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    const obj = super.get(key);
    if (obj === undefined) return false;
    this.dirty.add(key);
    this.removed.set(key, obj);
    return super.delete(key);
  }

  override clear(): void {
    this.dirty.clear();
    this.removed.clear();
    super.clear();
  }
}

export class ObjectStore {
  /** The objects by {@link storeKey}. */
  readonly objects = new TrackedObjects();
  /** The resourceVersion each key's last event (or the load) carried. */
  private readonly emitted = new Map<string, string>();
  /** Changes after {@link compactedRv}, oldest first (what a watch from an older RV replays). */
  readonly events: WatchEvent[] = [];
  /** A watch must start at this RV or later; older ones get 410 Gone (too old resource version). */
  compactedRv = 0;
  /** How many events are kept before the oldest are compacted away. */
  maxEvents = 50_000;
  /** Called with the events of each flush, in resourceVersion order. */
  onEvents: ((events: readonly WatchEvent[]) => void) | null = null;
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
    // A new history: what happened before is compacted, older watches must list again.
    this.objects.dirty.clear();
    this.objects.removed.clear();
    this.emitted.clear();
    for (const [key, obj] of this.objects) this.emitted.set(key, obj.metadata.resourceVersion ?? "");
    this.events.length = 0;
    this.compactedRv = this.rv - 1;
  }

  /**
   * Turns the writes since the last flush into watch events (ADDED, MODIFIED, DELETED: a deleted
   * object gets a new resourceVersion, like the real API server's), records them for watches that
   * start from an older RV, and hands them to {@link onEvents}. Writes that did not change an
   * object's resourceVersion are no events.
   */
  flush(): WatchEvent[] {
    const { dirty, removed } = this.objects;
    if (dirty.size === 0) return [];
    const out: WatchEvent[] = [];
    const deleted: Array<{ obj: K8sObject; previous: string }> = [];
    for (const key of dirty) {
      const current = this.objects.get(key);
      const previous = this.emitted.get(key);
      if (current) {
        const rv = current.metadata.resourceVersion ?? "";
        if (previous === rv) continue;
        this.emitted.set(key, rv);
        out.push({
          type: previous === undefined ? "ADDED" : "MODIFIED",
          object: clone(current),
          rv: Number(rv),
        });
      } else if (previous !== undefined) {
        this.emitted.delete(key);
        const obj = removed.get(key);
        if (obj) deleted.push({ obj, previous });
      }
    }
    dirty.clear();
    removed.clear();
    for (const { obj, previous } of deleted) {
      const snapshot = clone(obj);
      const rv = snapshot.metadata.resourceVersion ?? "";
      // A deletion is a write of its own: the object's RV if the deletion advanced it, else the next.
      const next = rv !== previous && Number.isFinite(Number(rv)) && rv !== "" ? Number(rv) : this.rv++;
      snapshot.metadata.resourceVersion = String(next);
      out.push({ type: "DELETED", object: snapshot, rv: next });
    }
    out.sort((a, b) => a.rv - b.rv);
    if (out.length === 0) return out;
    this.events.push(...out);
    if (this.events.length > this.maxEvents) {
      const dropped = this.events.splice(0, this.events.length - this.maxEvents);
      this.compactedRv = dropped[dropped.length - 1]!.rv;
    }
    this.onEvents?.(out);
    return out;
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
    const type = typeOfObject(obj);
    if (type) {
      this.objects.dirty.add(
        storeKey(type, type.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name),
      );
    }
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
