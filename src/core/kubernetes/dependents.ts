import type { Dependent } from "../plan/policy.js";
import type { ConfigData, Container, Inventory, Pod, Service, Workload } from "./inventory.js";
import { qualified } from "./inventory.js";
import { subsetOf } from "./selector.js";

/** A place in a workload's definition where text can name a host, and how to say where it was. */
interface Mention {
  text: string;
  where: string;
  /** The env var or config key it came from, if any. */
  key: string | null;
}

function configOf(inv: Inventory, kind: "configMap" | "secret", namespace: string | null, name: string) {
  const k = kind === "configMap" ? "ConfigMap" : "Secret";
  return inv.configs.find((c) => c.kind === k && c.namespace === namespace && c.name === name);
}

function label(kind: "configMap" | "secret"): string {
  return kind === "configMap" ? "ConfigMap" : "Secret";
}

/** Every piece of text in a container that could name a service: env, envFrom data, args, command. */
function mentions(inv: Inventory, namespace: string | null, c: Container): Mention[] {
  const out: Mention[] = [];
  for (const env of c.env) {
    if (env.value !== null) out.push({ text: env.value, where: `env ${env.name}`, key: env.name });
    if (env.from) {
      const value = configOf(inv, env.from.kind, namespace, env.from.name)?.data[env.from.key];
      if (value !== undefined) {
        out.push({
          text: value,
          where: `${label(env.from.kind)} ${namespace}/${env.from.name} key ${env.from.key} (env ${env.name})`,
          key: env.name,
        });
      }
    }
  }
  for (const ref of c.envFrom) {
    const data = configOf(inv, ref.kind, namespace, ref.name)?.data ?? {};
    for (const [key, value] of Object.entries(data)) {
      out.push({
        text: value,
        where: `${label(ref.kind)} ${namespace}/${ref.name} key ${key} (envFrom)`,
        key,
      });
    }
  }
  if (c.args.length > 0) out.push({ text: c.args.join(" "), where: "args", key: null });
  if (c.command.length > 0) out.push({ text: c.command.join(" "), where: "command", key: null });
  return out.map((m) => ({ ...m, where: `container ${c.name} ${m.where}` }));
}

/** Host-like tokens of a text: "postgres://u@db.shop.svc:5432/x" → ["postgres", "u", "db.shop.svc", …]. */
function tokens(text: string): Set<string> {
  return new Set(
    text
      .toLowerCase()
      .split(/[^a-z0-9.-]+/)
      .map((t) => t.replace(/^[.-]+|[.-]+$/g, ""))
      .filter((t) => t.length > 0),
  );
}

const HOSTISH_KEY = /HOST|SERVER|ADDR|URL|URI|DSN|ENDPOINT|SERVICE|PRIMARY|MASTER|REPLICA/i;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Whether a mention names a host. Qualified names (svc.ns…) are specific enough as tokens; a bare
 * service name counts only in a host position: after // or @ in a URL, after --host= style flags,
 * or as the whole value of a host-like key (DB_HOST=postgresql, not DB_DIALECT=postgresql).
 */
function names(m: Mention, words: Set<string>, name: string): boolean {
  if (name.includes(".")) return words.has(name);
  if (!words.has(name)) return false;
  const text = m.text.toLowerCase();
  const n = escapeRegExp(name);
  if (new RegExp(`(?://|@)${n}(?=[:/?,;\\s]|$)`).test(text)) return true;
  if (new RegExp(`(?:host|server|addr|address)[=\\s]+${n}(?=[:/?,;\\s]|$)`).test(text)) return true;
  return text.trim() === name && m.key !== null && HOSTISH_KEY.test(m.key);
}

/** The DNS names of a service as seen from `from`: the bare name only resolves in its own namespace. */
export function serviceNames(
  service: Pick<Service, "name" | "namespace">,
  from: string | null,
  domain: string,
): string[] {
  const ns = service.namespace ?? "default";
  const names = [`${service.name}.${ns}`, `${service.name}.${ns}.svc`, `${service.name}.${ns}.svc.${domain}`];
  return from === ns ? [service.name, ...names] : names;
}

/**
 * Each workload's mentions with their words, remembered per workload object while the inventory's
 * configs are the same list: `lifeline serve`'s informer cache shares its (frozen) lists between
 * requests until an event changes them, and tokenizing every workload's environment was half of
 * planning an admission request. A fresh inventory (the list path) is simply read again.
 */
const mentionsByWorkload = new WeakMap<
  Workload,
  {
    configs: readonly ConfigData[];
    count: number;
    containers: readonly Container[];
    list: { mention: Mention; words: Set<string> }[];
  }
>();

function workloadMentions(inv: Inventory, w: Workload): { mention: Mention; words: Set<string> }[] {
  const known = mentionsByWorkload.get(w);
  if (
    known &&
    known.configs === inv.configs &&
    known.count === inv.configs.length &&
    known.containers === w.template.containers
  )
    return known.list;
  const list = w.template.containers.flatMap((c) =>
    mentions(inv, w.namespace, c).map((mention) => ({ mention, words: tokens(mention.text) })),
  );
  mentionsByWorkload.set(w, {
    configs: inv.configs,
    count: inv.configs.length,
    containers: w.template.containers,
    list,
  });
  return list;
}

/** Top-level workloads: a Job created by a CronJob is reported as its CronJob. */
function topLevel(inv: Inventory): Workload[] {
  return inv.workloads.filter(
    (w) => !w.owners.some((o) => o.controller && (o.kind === "CronJob" || o.kind === "Deployment")),
  );
}

interface Target {
  /** The names that reach it. */
  names: (from: string | null) => string[];
  on: string;
}

/**
 * Who depends on what a plan takes away: Services selecting the affected pods, and workloads in
 * any namespace whose definition names those services (or a pod's stable DNS name), with how each
 * was found. `excluded` are objects the plan deletes itself (uids): they are not dependents.
 */
export function findDependents(
  inv: Inventory,
  affected: { pods: readonly Pod[]; services: readonly Service[]; configs: readonly ConfigData[] },
  excluded: ReadonlySet<string>,
): Dependent[] {
  const dependents: Dependent[] = [];
  const seen = new Set<string>();
  // The controllers of the affected pods are part of what is affected, not its dependents.
  const ownersOfAffected = new Set(
    affected.pods.flatMap((p) => p.owners.filter((o) => o.controller).map((o) => o.uid)),
  );
  excluded = new Set([...excluded, ...ownersOfAffected]);
  const add = (d: Dependent) => {
    const key = `${d.kind}|${d.name}|${d.on}`;
    if (!seen.has(key)) {
      seen.add(key);
      dependents.push(d);
    }
  };
  const services = new Map<string, Service>(affected.services.map((s) => [s.uid, s]));
  for (const pod of affected.pods) {
    for (const s of inv.services) {
      if (s.namespace === pod.namespace && s.selector && subsetOf(s.selector, pod.spec.labels)) {
        services.set(s.uid, s);
        if (!excluded.has(s.uid)) {
          add({
            kind: "service",
            name: qualified(s),
            on: `pod ${qualified(pod)}`,
            how: `selector ${Object.entries(s.selector)
              .map(([k, v]) => `${k}=${v}`)
              .join(",")}`,
          });
        }
      }
    }
  }
  const targets: Target[] = [...services.values()].map((s) => ({
    names: (from) => serviceNames(s, from, inv.clusterDomain),
    on: `service ${qualified(s)}`,
  }));
  // A StatefulSet pod's own name through its headless service: pod.svc.ns.svc.cluster.local.
  for (const pod of affected.pods) {
    const owner = inv.workloads.find(
      (w) =>
        w.kind === "StatefulSet" &&
        pod.owners.some(
          (o) =>
            o.uid === w.uid ||
            (o.kind === "StatefulSet" && o.name === w.name && w.namespace === pod.namespace),
        ),
    );
    const headless = inv.services.filter(
      (s) =>
        s.namespace === pod.namespace &&
        s.headless &&
        (s.name === owner?.serviceName || (s.selector !== null && subsetOf(s.selector, pod.spec.labels))),
    );
    for (const hs of headless) {
      targets.push({
        names: (from) =>
          serviceNames({ name: `${pod.name}.${hs.name}`, namespace: hs.namespace }, from, inv.clusterDomain),
        on: `pod ${qualified(pod)}`,
      });
    }
  }
  // Nothing taken away has a name: no workload can name it.
  const workloads = targets.length > 0 || affected.configs.length > 0 ? topLevel(inv) : [];
  if (targets.length > 0) namingDependents(inv, targets, workloads, excluded, add);
  configDependents(affected.configs, workloads, excluded, add);
  return dependents;
}

/**
 * Workloads whose definition names a target (kept apart from findDependents: one function with
 * every loop was optimized and deoptimized by V8 again and again, about one call in twelve).
 */
function namingDependents(
  inv: Inventory,
  targets: readonly Target[],
  workloads: readonly Workload[],
  excluded: ReadonlySet<string>,
  add: (d: Dependent) => void,
): void {
  // The targets' names as seen from each namespace, made once per namespace, not per workload.
  const namesFrom = new Map<string | null, string[][]>();
  for (const w of workloads) {
    if (excluded.has(w.uid)) continue;
    let targetNames = namesFrom.get(w.namespace);
    if (targetNames === undefined) {
      targetNames = targets.map((t) => t.names(w.namespace));
      namesFrom.set(w.namespace, targetNames);
    }
    let found: Map<string, string[]> | null = null;
    for (const { mention: m, words } of workloadMentions(inv, w)) {
      for (let i = 0; i < targets.length; i++) {
        const name = firstNamed(m, words, targetNames[i] ?? []);
        if (name === undefined) continue;
        found ??= new Map();
        const on = targets[i]!.on;
        found.set(on, [...(found.get(on) ?? []), `${m.where} names ${name}`]);
      }
    }
    for (const [on, hows] of found ?? []) {
      add({ kind: w.kind.toLowerCase(), name: qualified(w), on, how: [...new Set(hows)].join("; ") });
    }
  }
}

function firstNamed(m: Mention, words: Set<string>, candidates: readonly string[]): string | undefined {
  for (const n of candidates) if (names(m, words, n)) return n;
  return undefined;
}

/** Workloads that mount or read a ConfigMap or Secret the plan deletes. */
function configDependents(
  configs: readonly ConfigData[],
  workloads: readonly Workload[],
  excluded: ReadonlySet<string>,
  add: (d: Dependent) => void,
): void {
  for (const cfg of configs) {
    for (const w of workloads) {
      if (excluded.has(w.uid) || w.namespace !== cfg.namespace) continue;
      const kind = cfg.kind === "ConfigMap" ? "configMap" : "secret";
      const uses: string[] = [];
      if (w.template.volumeRefs.some((v) => v.kind === kind && v.name === cfg.name))
        uses.push("mounted as a volume");
      for (const c of w.template.containers) {
        if (c.envFrom.some((e) => e.kind === kind && e.name === cfg.name))
          uses.push(`container ${c.name} envFrom`);
        for (const e of c.env) {
          if (e.from?.kind === kind && e.from.name === cfg.name)
            uses.push(`container ${c.name} env ${e.name}`);
        }
      }
      if (uses.length > 0) {
        add({
          kind: w.kind.toLowerCase(),
          name: qualified(w),
          on: `${cfg.kind.toLowerCase()} ${qualified(cfg)}`,
          how: uses.join("; "),
        });
      }
    }
  }
}
