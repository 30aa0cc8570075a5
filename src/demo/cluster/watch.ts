/**
 * Watches (`GET …?watch=true`), as the real API server streams them: newline-delimited JSON
 * events `{"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR","object":…}` over a chunked
 * response that stays open.
 *
 * - `resourceVersion` unset or "0": every current object as ADDED first, then the changes.
 * - `resourceVersion` N: the changes after N (replayed from the store's history, then live); an N
 *   older than the history (compacted) or newer than the store gets one ERROR event with a 410
 *   Expired Status and the stream ends, so the client lists again.
 * - `allowWatchBookmarks=true`: a BOOKMARK with the current resourceVersion every `bookmarkMs`.
 * - `timeoutSeconds`: the stream ends after that long.
 * - `labelSelector`, `fieldSelector`, a namespace in the path: only matching objects.
 * - `Accept: …;as=Table`: each event's object is a one-row Table (what `kubectl get -w` asks for).
 *
 * Simplified: an object that stops matching a selector is not sent as DELETED; no
 * `sendInitialEvents`; no server-chosen watch timeout.
 */
import type http from "node:http";
import { badRequest } from "./errors.js";
import { clone, groupVersion, type Json, type K8sObject, type ResourceType } from "./model.js";
import { fieldFilter, matchesLabelRequirements, parseLabelSelector } from "./selectors.js";
import type { ObjectStore, WatchEvent } from "./store.js";
import { asTable } from "./table.js";

interface Watcher {
  type: ResourceType;
  namespace: string | undefined;
  matches: (obj: K8sObject) => boolean;
  /** null: JSON objects; else the Table's includeObject ("None", "Object", default metadata). */
  table: { includeObject: string | null } | null;
  res: http.ServerResponse;
  timers: NodeJS.Timeout[];
}

export interface WatchOptions {
  /** How often a watch that allows bookmarks gets one (the real API server: about a minute). */
  bookmarkMs?: number;
  now: () => Date;
}

export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private readonly bookmarkMs: number;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: WatchOptions,
  ) {
    this.bookmarkMs = options.bookmarkMs ?? 1_000;
  }

  /** How many watches are open. */
  get size(): number {
    return this.watchers.size;
  }

  /**
   * Starts a watch on the response. Bad parameters throw (ApiStatusError) before anything is
   * written, so they are answered like any other bad request.
   */
  open(
    type: ResourceType,
    namespace: string | undefined,
    query: URLSearchParams,
    table: { includeObject: string | null } | null,
    res: http.ServerResponse,
  ): void {
    let labels;
    try {
      labels = parseLabelSelector(query.get("labelSelector") ?? "");
    } catch (e) {
      throw badRequest((e as Error).message);
    }
    const fields = fieldFilter(type, query.get("fieldSelector") ?? "");
    const gv = groupVersion(type);
    const matches = (o: K8sObject) =>
      o.kind === type.kind &&
      o.apiVersion === gv &&
      (namespace === undefined || o.metadata.namespace === namespace) &&
      matchesLabelRequirements(o.metadata.labels, labels) &&
      fields(o);
    const rvText = query.get("resourceVersion") ?? "";
    const from = rvText === "" || rvText === "0" ? null : Number(rvText);
    if (from !== null && (!Number.isInteger(from) || from < 0)) {
      throw badRequest(`resourceVersion: Invalid value: "${rvText}": must be a non-negative integer`);
    }
    const timeout = Number(query.get("timeoutSeconds") ?? "0");
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    res.flushHeaders();
    const watcher: Watcher = { type, namespace, matches, table, res, timers: [] };
    const current = Number(this.store.resourceVersion);
    if (from !== null && (from < this.store.compactedRv || from > current)) {
      this.send(watcher, {
        type: "ERROR",
        object: {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message:
            from < this.store.compactedRv
              ? `too old resource version: ${from} (${this.store.compactedRv + 1})`
              : `too large resource version: ${from}, current: ${current}`,
          reason: "Expired",
          code: 410,
        },
      });
      res.end();
      return;
    }
    if (from === null) {
      const initial = [...this.store.objects.values()]
        .filter(matches)
        .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
      for (const obj of initial) this.event(watcher, "ADDED", clone(obj));
    } else {
      for (const e of this.store.events)
        if (e.rv > from && matches(e.object)) this.event(watcher, e.type, e.object);
    }
    this.watchers.add(watcher);
    if (query.get("allowWatchBookmarks") === "true") {
      const timer = setInterval(
        () =>
          this.send(watcher, {
            type: "BOOKMARK",
            object: {
              kind: type.kind,
              apiVersion: gv,
              metadata: { resourceVersion: this.store.resourceVersion },
            },
          }),
        this.bookmarkMs,
      );
      timer.unref();
      watcher.timers.push(timer);
    }
    if (Number.isFinite(timeout) && timeout > 0) {
      const timer = setTimeout(() => this.end(watcher), timeout * 1000);
      timer.unref();
      watcher.timers.push(timer);
    }
    res.on("close", () => this.forget(watcher));
  }

  /** Streams the events of a write to every watch they match. */
  dispatch(events: readonly WatchEvent[]): void {
    if (this.watchers.size === 0) return;
    for (const e of events) {
      for (const w of this.watchers) if (w.matches(e.object)) this.event(w, e.type, e.object);
    }
  }

  /**
   * Ends every watch with a 410 Expired ERROR event (the store's history was replaced, e.g. by a
   * reset): clients list again.
   */
  expireAll(): void {
    for (const w of [...this.watchers]) {
      this.send(w, {
        type: "ERROR",
        object: {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Failure",
          message: "too old resource version: the history was reset",
          reason: "Expired",
          code: 410,
        },
      });
      this.end(w);
    }
  }

  /** Cuts every watch's connection without a word (a network failure, for tests). */
  dropAll(): number {
    const all = [...this.watchers];
    for (const w of all) {
      this.forget(w);
      w.res.socket?.destroy();
      w.res.destroy();
    }
    return all.length;
  }

  private event(w: Watcher, type: string, object: K8sObject): void {
    const shown: Json = w.table
      ? asTable(w.type.kind, object as unknown as Json, this.options.now(), w.table.includeObject)
      : (object as unknown as Json);
    this.send(w, { type, object: shown });
  }

  private send(w: Watcher, event: Json): void {
    if (!w.res.writableEnded && !w.res.destroyed) w.res.write(`${JSON.stringify(event)}\n`);
  }

  private end(w: Watcher): void {
    this.forget(w);
    if (!w.res.writableEnded) w.res.end();
  }

  private forget(w: Watcher): void {
    for (const t of w.timers) clearTimeout(t);
    w.timers.length = 0;
    this.watchers.delete(w);
  }
}
