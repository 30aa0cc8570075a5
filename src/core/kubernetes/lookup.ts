/**
 * Indexed lookups into an inventory's lists (by namespace, name, uid, mounted claim), built on the
 * first lookup and kept as long as the list itself: a list is never changed once an inventory is
 * made, so an index of it stays true. An inventory made per plan (list calls) indexes once per
 * plan; the informer cache of `lifeline serve` hands the same lists to every plan until an event
 * changes them, so its indexes are built once per change instead of scanning 10,000 pods per
 * request. Lookups answer exactly what the linear scans did (the first match, list order).
 */
import type { Meta, PersistentVolume, PersistentVolumeClaim, Pod } from "./inventory.js";

const indexes = new WeakMap<readonly object[], Map<string, unknown>>();

function memo<T>(list: readonly object[], key: string, build: () => T): T {
  let byKey = indexes.get(list);
  if (!byKey) {
    byKey = new Map();
    indexes.set(list, byKey);
  }
  if (!byKey.has(key)) byKey.set(key, build());
  return byKey.get(key) as T;
}

function firstBy<T>(list: readonly T[], key: (item: T) => string): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of list) {
    const k = key(item);
    if (!map.has(k)) map.set(k, item);
  }
  return map;
}

function groupBy<T>(list: readonly T[], keys: (item: T) => Iterable<string>): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of list) {
    for (const k of new Set(keys(item))) {
      const group = map.get(k);
      if (group) group.push(item);
      else map.set(k, [item]);
    }
  }
  return map;
}

const EMPTY: readonly never[] = Object.freeze([]);

/** The items of a list in one namespace, in list order (do not change the array returned). */
export function inNamespace<T extends Pick<Meta, "namespace">>(list: readonly T[], namespace: string): T[] {
  return (memo(list, "ns", () => groupBy(list, (x) => [x.namespace ?? ""])).get(namespace) ?? EMPTY) as T[];
}

/** The first item with this uid. */
export function byUid<T extends Pick<Meta, "uid">>(list: readonly T[], uid: string): T | undefined {
  return memo(list, "uid", () => firstBy(list, (x) => x.uid)).get(uid);
}

/** The first item with this name (cluster-scoped lists: volumes, nodes, namespaces). */
export function byName<T extends Pick<Meta, "name">>(list: readonly T[], name: string): T | undefined {
  return memo(list, "name", () => firstBy(list, (x) => x.name)).get(name);
}

/** The first item with this namespace and name. */
export function byNamespacedName<T extends Pick<Meta, "name" | "namespace">>(
  list: readonly T[],
  namespace: string | null | undefined,
  name: string,
): T | undefined {
  return memo(list, "nsname", () => firstBy(list, (x) => `${x.namespace ?? ""}\u0000${x.name}`)).get(
    `${namespace ?? ""}\u0000${name}`,
  );
}

/** The claim named `namespace/name` (qualified), or a volume's bound claim. */
export function claimNamed(
  claims: readonly PersistentVolumeClaim[],
  namespace: string | null | undefined,
  name: string,
): PersistentVolumeClaim | undefined {
  return byNamespacedName(claims, namespace, name);
}

/** The volume of this name. */
export function volumeNamed(
  volumes: readonly PersistentVolume[],
  name: string,
): PersistentVolume | undefined {
  return byName(volumes, name);
}

/** The pods in a namespace that mount a claim (volumes[].persistentVolumeClaim), in list order. */
export function podsMounting(pods: readonly Pod[], namespace: string | null, claim: string): Pod[] {
  return (memo(pods, "mounts", () =>
    groupBy(pods, (p) => p.spec.claims.map((c) => `${p.namespace ?? ""}\u0000${c}`)),
  ).get(`${namespace ?? ""}\u0000${claim}`) ?? EMPTY) as Pod[];
}
