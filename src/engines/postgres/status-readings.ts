/**
 * status's live reads of many databases (see Engine.statusReadings): what live, guard.status and
 * recovery.remains read, on one session per database and one maintenance session per server.
 */
import type pg from "pg";
import type { Activity } from "../../core/restore-point/restore-point.js";
import type { StatusReading, StatusRequest, Target } from "../../ports/engine.js";
import { connectUnmapped, connectionError, serverOf, serverUnreachable, withDatabase } from "./connection.js";
import { describeSource } from "./inspect.js";
import { readActivity } from "./fingerprint.js";
import { guardStatusOn } from "./guard/index.js";
import { remainsOn } from "./recovery/databases.js";
import { connectMaintenance, databaseOf } from "./recovery/server.js";

/** Sessions open at once (besides one maintenance session per server). */
const CONCURRENCY = 8;

/** Engine.live's reads on a session to the database. */
export async function liveOn(client: pg.Client): Promise<{ databaseBytes: number; activity: Activity }> {
  const source = await describeSource(client);
  return {
    databaseBytes: source.databaseBytes,
    activity: await readActivity(client, source.systemIdentifier),
  };
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function statusReadings(
  requests: readonly StatusRequest[],
  concurrency = CONCURRENCY,
): Promise<StatusReading[]> {
  /** host:port → the driver's error of the one attempt that found the server unreachable. */
  const unreachable = new Map<string, unknown>();
  /** host:port → the first attempt to reach it (the others wait for its outcome). */
  const firstAttempt = new Map<string, Promise<unknown>>();
  /** Maintenance database URL (server and credentials) → one session, null when none could be opened. */
  const maintenance = new Map<string, Promise<pg.Client | null>>();

  const open = async (target: Target): Promise<pg.Client> => {
    const server = serverOf(target);
    const first = firstAttempt.get(server);
    if (first) await first;
    const known = unreachable.get(server);
    if (known !== undefined) throw connectionError(target, known);
    const attempt = connectUnmapped(target, "lifeline status");
    if (!first)
      firstAttempt.set(
        server,
        attempt.catch(() => undefined),
      );
    try {
      return await attempt;
    } catch (error) {
      if (serverUnreachable(error)) unreachable.set(server, error);
      throw connectionError(target, error);
    }
  };

  const remains = async (target: Target) => {
    if (unreachable.has(serverOf(target))) return null;
    const key = withDatabase(target, "postgres").url;
    let session = maintenance.get(key);
    if (!session) {
      session = connectMaintenance(target).catch(() => null);
      maintenance.set(key, session);
    }
    const client = await session;
    return client ? remainsOn(client, databaseOf(target)).catch(() => null) : null;
  };

  /** One database (the requests naming the same URL share its session). */
  const read = async (group: readonly StatusRequest[]): Promise<StatusReading[]> => {
    const target = (group[0] as StatusRequest).target;
    let client: pg.Client | null = null;
    let live: StatusReading["live"];
    try {
      client = await open(target);
      live = await liveOn(client).catch((error: unknown) => ({ error: message(error) }));
    } catch (error) {
      live = { error: message(error) };
    }
    const guards = await Promise.all(
      group.map((r) => (client ? guardStatusOn(client, r.guardKey).catch(() => null) : null)),
    );
    await client?.end().catch(() => undefined);
    const left = await remains(target);
    return group.map((_, i) => ({ live, guard: guards[i] ?? null, remains: left }));
  };

  const groups = new Map<string, number[]>();
  requests.forEach((r, i) => {
    const same = groups.get(r.target.url);
    if (same) same.push(i);
    else groups.set(r.target.url, [i]);
  });
  const queue = [...groups.values()];
  const readings: StatusReading[] = new Array<StatusReading>(requests.length);
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const indexes = next;
      const got = await read(indexes.map((i) => requests[i] as StatusRequest));
      indexes.forEach((i, k) => (readings[i] = got[k] as StatusReading));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  } finally {
    for (const session of maintenance.values()) await session.then((c) => c?.end()).catch(() => undefined);
  }
  return readings;
}
