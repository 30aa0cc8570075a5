import { isLifelineError, restorePointDamaged } from "../core/errors.js";
import {
  computePosture,
  type LiveState,
  type Posture,
  type RestorePointFacts,
  type RestoredTables,
} from "../core/posture/posture.js";
import { activityOf, totalArtifactBytes, type Manifest } from "../core/restore-point/restore-point.js";
import type { LastRestore, RecoveryState } from "../core/restore/state.js";
import { resolveAsset, type LoadedConfig, type ResolvedAsset } from "../config/load.js";
import { parseDuration } from "../core/duration.js";
import type { Engine, RecoveryRemains, StatusReading, StatusRequest, Target } from "../ports/engine.js";
import type { RestorePointInfo } from "../ports/repository.js";
import type { AppContext } from "./context.js";
import { guardRisk } from "./guard-objects.js";

export interface AssetStatusInput {
  name: string;
  /** Null when the asset's config could not be resolved (e.g. a missing environment variable). */
  asset: ResolvedAsset | null;
  tier: string;
  rpoSeconds: number;
  resolveError: string | null;
  /** lifeline's key of the asset's database guard (to tell whether the database's matches). */
  guardKey?: Buffer | null;
  /** Tables restored into its database (from the audit log, see RecoveryState.restoredTables). */
  restored?: Promise<readonly RestoredTables[]>;
}

/** The tables restored (--tables) into one asset's database, from a recovery state being read. */
export function restoredInto(
  state: Promise<Pick<RecoveryState, "restoredTables"> | null>,
  asset: string,
): Promise<RestoredTables[]> {
  return state.then((s) => (s?.restoredTables ?? []).filter((r) => r.asset === asset));
}

export interface AssetPosture {
  posture: Posture;
  /** The manifest of the newest verified restore point that reads (the one posture counts from). */
  verified: Manifest | null;
}

/** What status needs of each asset from lifeline.yaml; an asset whose URL cannot be resolved still shows. */
export function statusInputs(
  loaded: LoadedConfig,
  names: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): AssetStatusInput[] {
  return names.map((name) => {
    const raw = loaded.config.assets[name];
    if (!raw) resolveAsset(loaded, name, env); // throws ASSET_UNKNOWN with the known names
    try {
      const resolved = resolveAsset(loaded, name, env);
      return {
        name,
        asset: resolved,
        tier: resolved.tier,
        rpoSeconds: resolved.rpoSeconds,
        resolveError: null,
      };
    } catch (error) {
      return {
        name,
        asset: null,
        tier: raw?.tier ?? "production",
        rpoSeconds: parseDuration(raw?.rpo ?? "24h") ?? 86400,
        resolveError: error instanceof Error ? error.message : String(error),
      };
    }
  });
}

/**
 * The posture of one asset from the repository's index (no cost per restore point), reading only
 * the manifests it relies on: the newest restore point and the newest verified one. A manifest that
 * turns out damaged is shown as damaged, never skipped in silence.
 *
 * verifiedManifest "when-live" (status): the verified manifest is parsed only when the live
 * database could be read (its activity counts the changes not covered); else, as the newest one,
 * it is only checked to hold the very bytes the index was built from, when the repository can
 * tell (Repository.manifestUnchanged), and `verified` may be null although posture has one.
 */
export async function assetPosture(
  ctx: AppContext,
  asset: { name: string; tier: string; rpoSeconds: number },
  readLive: (anyVerified: boolean) => Promise<LiveState | { error: string }>,
  options: {
    verifiedManifest?: "always" | "when-live";
    /** Tables restore --tables put back into its database: changes not covered count from the restore. */
    restored?: Promise<readonly RestoredTables[]>;
  } = {},
): Promise<AssetPosture> {
  const overview = await ctx.repository.overview(asset.name);
  // The live database is read while the manifests are.
  const live = readLive(overview.drills.some((d) => d.result === "passed"));
  const points: (RestorePointInfo & RestorePointFacts)[] = overview.restorePoints.map((p) => ({ ...p }));
  const newestFirst = [...points].sort((a, b) => b.snapshotTime.localeCompare(a.snapshotTime));
  const latest = new Map<string, { result: string; finishedAt: string }>();
  for (const d of overview.drills) {
    const current = latest.get(d.restorePointId);
    if (!current || d.finishedAt > current.finishedAt) latest.set(d.restorePointId, d);
  }
  const read = new Map<string, Manifest>();
  const checked = new Set<string>();
  const unchanged = ctx.repository.manifestUnchanged?.bind(ctx.repository);
  const usable = async (p: RestorePointInfo & RestorePointFacts, parse: boolean): Promise<boolean> => {
    if (p.damaged) return false;
    if (read.has(p.id) || (!parse && checked.has(p.id))) return true;
    // The very bytes the index was built from: what the index holds of it is what it says.
    if (!parse && unchanged && (await unchanged(asset.name, p.id))) {
      checked.add(p.id);
      return true;
    }
    try {
      const manifest = await ctx.repository.getRestorePoint(asset.name, p.id);
      if (!manifest) {
        p.damaged = `restore point ${p.id} disappeared while it was read`;
        return false;
      }
      read.set(p.id, manifest);
      // The manifest is the truth; the index only found it.
      p.activity = activityOf(manifest);
      p.snapshotTime = manifest.snapshotTime;
      p.bytes = totalArtifactBytes(manifest);
      return true;
    } catch (error) {
      if (isLifelineError(error) && error.code === "RESTORE_POINT_DAMAGED") {
        p.damaged = error.message.replace(/^restore point \S+ of \S+ is damaged: /, "");
        return false;
      }
      throw error;
    }
  };
  const whenLive = options.verifiedManifest === "when-live";
  for (const p of newestFirst) if (await usable(p, !whenLive)) break;
  const findVerified = async (parse: boolean): Promise<(RestorePointInfo & RestorePointFacts) | null> => {
    for (const p of newestFirst) {
      if (latest.get(p.id)?.result !== "passed") continue;
      if (await usable(p, parse)) return p;
    }
    return null;
  };
  let found = await findVerified(!whenLive);
  const liveState = await live;
  // Its activity is what the live counters are compared with.
  if (whenLive && found && !("error" in liveState)) found = await findVerified(true);
  const verified = found ? (read.get(found.id) ?? null) : null;
  const restored = (await options.restored) ?? [];
  const posture = computePosture({
    asset: { name: asset.name, tier: asset.tier, rpoTargetSeconds: asset.rpoSeconds },
    restorePoints: points,
    drills: overview.drills,
    live: liveState,
    now: ctx.clock.now(),
    ...(restored.length > 0 ? { restored } : {}),
  });
  return { posture, verified };
}

/**
 * The error for a command that would use the newest verified restore point (plan, run) when that
 * one is damaged: it must not quietly count on an older one.
 */
export function damagedInUse(asset: string, posture: Posture): Error | null {
  const verifiedId = posture.newestVerifiedRestorePoint?.id;
  for (const d of posture.damagedRestorePoints) {
    if (!d.verified) continue;
    // Newest first: a damaged verified restore point before the usable verified one was the one in use.
    if (!verifiedId || d.id > verifiedId) return restorePointDamaged(asset, d.id, d.problem);
  }
  return null;
}

/** Posture of each asset: what the repository holds, what drills proved, and how far the live data moved since. */
export async function status(ctx: AppContext, inputs: readonly AssetStatusInput[]): Promise<Posture[]> {
  const readings = liveReadings(ctx, inputs);
  return mapInTurn(inputs, REPOSITORY_READS, async (input, i) => {
    const reading = readings[i] as Promise<StatusReading>;
    const { posture } = await assetPosture(
      ctx,
      { name: input.name, tier: input.tier, rpoSeconds: input.rpoSeconds },
      async () => (await reading).live,
      { verifiedManifest: "when-live", ...(input.restored ? { restored: input.restored } : {}) },
    );
    const { guard, remains } = await reading;
    const risk = guard ? guardRisk(guard) : null;
    const shown = withRemains(posture, remains);
    return risk ? { ...shown, risks: [...shown.risks, risk] } : shown;
  });
}

/**
 * Assets whose repository status reads at once: enough to keep the disk busy, few enough that
 * each asset's index and overview are garbage before the next young-generation collection (1,000
 * at once kept every one alive until all were read: most of status's time went to the collector).
 */
const REPOSITORY_READS = 16;

/** fn over items, `limit` at a time; the results in the order of items. */
async function mapInTurn<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * What status reads of each asset's live database, in the order of inputs: through the engine's
 * statusReadings (one session per database, an unreachable server tried once) when it has one,
 * else live, guard.status and recovery.remains one by one. Never rejects.
 */
function liveReadings(ctx: AppContext, inputs: readonly AssetStatusInput[]): Promise<StatusReading>[] {
  const readings: Promise<StatusReading>[] = new Array<Promise<StatusReading>>(inputs.length);
  // By engine name: ctx.engine may make a new engine each time it is asked.
  const batches = new Map<
    string,
    { engine: Engine; requests: { index: number; request: StatusRequest }[] }
  >();
  inputs.forEach((input, index) => {
    if (!input.asset) {
      readings[index] = Promise.resolve(unread(input.resolveError ?? "not configured"));
      return;
    }
    let engine: Engine;
    let target: Target;
    try {
      engine = ctx.engine(input.asset.engine);
      target = engine.target(input.asset.url);
    } catch (error) {
      readings[index] = Promise.resolve(unread(error instanceof Error ? error.message : String(error)));
      return;
    }
    if (!engine.statusReadings) {
      readings[index] = readOneByOne(engine, target, input.guardKey ?? null);
      return;
    }
    const batch = batches.get(input.asset.engine) ?? { engine, requests: [] };
    batch.requests.push({ index, request: { target, guardKey: input.guardKey ?? null } });
    batches.set(input.asset.engine, batch);
  });
  for (const { engine, requests: batch } of batches.values()) {
    const all = (engine.statusReadings as NonNullable<Engine["statusReadings"]>)(
      batch.map((b) => b.request),
    ).catch((error: unknown) =>
      batch.map(() => unread(error instanceof Error ? error.message : String(error))),
    );
    batch.forEach((b, k) => (readings[b.index] = all.then((r) => r[k] ?? unread("not read"))));
  }
  return readings;
}

const unread = (error: string): StatusReading => ({ live: { error }, guard: null, remains: null });

/** An engine without statusReadings: a session for each read. */
async function readOneByOne(engine: Engine, target: Target, key: Buffer | null): Promise<StatusReading> {
  const [live, guard, remains] = await Promise.all([
    engine.live(target).catch((error: unknown) => ({
      error: error instanceof Error ? error.message : String(error),
    })),
    engine.guard ? engine.guard.status(target, key).catch(() => null) : Promise.resolve(null),
    engine.recovery ? engine.recovery.remains(target).catch(() => null) : Promise.resolve(null),
  ]);
  return { live, guard, remains };
}

/**
 * A database a killed swap left refusing connections is a risk (the asset is down until it is put
 * right); staging databases a killed restore left are notes (space, not data): each with its fix.
 */
function withRemains(posture: Posture, remains: RecoveryRemains | null): Posture {
  if (!remains) return posture;
  const name = posture.name;
  const risks = [...posture.risks];
  const notes: string[] = [];
  const by = (sql: string) =>
    `ALTER DATABASE ${sql} ALLOW_CONNECTIONS true; ALTER DATABASE ${sql} RESET lifeline.swapping`;
  for (const found of remains.interrupted) {
    const quoted = `"${found.database.replace(/"/g, '""')}"`;
    if (found.role === "target" && found.refusing) {
      risks.push(
        `database ${found.database} REFUSES CONNECTIONS: a lifeline restore or standby was killed in the middle of its swap (before the renames; it holds the data it had); fix: run the restore again (lifeline restore ${name} --in-place, or any lifeline restore ${name} …: it gives the connections back first), or as a superuser: ${by(quoted)}`,
      );
    } else if (found.role !== "target") {
      const dropped = found.role === "replaced";
      (found.refusing ? risks : notes).push(
        `${found.database} is ${name}'s database as it was before a restore that was killed right after its swap${dropped ? " (it was to be dropped)" : ", not recorded"}${found.refusing ? "; it refuses connections" : ""}; fix: the next lifeline restore of ${name} ${dropped ? "removes it" : "gives it back its connections"}, or as a superuser: ${found.refusing ? `${by(quoted)}; ` : ""}DROP DATABASE ${quoted} once it is no longer needed`,
      );
    }
  }
  for (const leftover of remains.leftovers) {
    if (remains.interrupted.some((i) => i.database === leftover)) continue;
    notes.push(
      `${leftover} (on ${name}'s server) is a staging copy a killed lifeline restore or standby left; fix: the next lifeline restore or standby into the database it was staged for (its name before _lifeline_staging_) removes it, or as a superuser: DROP DATABASE "${leftover.replace(/"/g, '""')}"`,
    );
  }
  return notes.length > 0 ? { ...posture, risks, notes } : { ...posture, risks };
}

/** A standby as `status` shows it: what it serves, how old that is, where it is. */
export interface StandbyStatus {
  /** URL without password. */
  target: string;
  database: string;
  restorePointId: string;
  /** Snapshot time of the restore point it serves (null when the repository no longer lists it). */
  snapshotTime: string | null;
  /** Age of that snapshot: the data its readers do not see. */
  ageSeconds: number | null;
  /** When it was created or last refreshed. */
  since: string;
  readOnly: true;
}

/** A database an in-place restore kept (until `restore --discard-previous`). */
export interface PreviousDatabaseStatus {
  database: string;
  /** URL without password. */
  target: string;
  /** The restore point the in-place restore brought back (the previous database is what it replaced). */
  restorePointId: string;
  since: string;
  /** The command that removes it (gated). */
  discard: string;
}

/** The newest verified whole-database restore: its duration is a measured RTO. */
export interface LastRestoreStatus {
  at: string;
  mode: LastRestore["mode"];
  /** Restore + verify, comparable with the drill's RTO. */
  seconds: number;
  restoreSeconds: number;
  verifySeconds: number;
}

export interface AssetRecovery {
  standbys: StandbyStatus[];
  previousDatabases: PreviousDatabaseStatus[];
  lastRestore: LastRestoreStatus | null;
}

/**
 * What recoveries left for each asset (from the audit log's recovery state): its standbys with the
 * age of the restore point each serves, the previous databases in-place restores kept, and the last
 * real restore's duration.
 */
export async function recoveryStatus(
  ctx: AppContext,
  names: readonly string[],
  state: RecoveryState,
  /** The configured assets: a previous database dropped by hand (it no longer exists) is not listed. */
  assets: readonly ResolvedAsset[] = [],
): Promise<Map<string, AssetRecovery>> {
  const now = ctx.clock.now();
  const result = new Map<string, AssetRecovery>();
  const gone = new Set<string>();
  await Promise.all(
    state.previous.map(async (p) => {
      const asset = assets.find((a) => a.name === p.asset);
      if (!asset) return;
      const engine = ctx.engine(asset.engine);
      if (!engine.recovery) return;
      try {
        const there = await engine.recovery.inspect(
          engine.withDatabase(engine.target(asset.url), p.database),
        );
        if (!there.exists) gone.add(p.target);
      } catch {
        // Unreachable: listed as recorded.
      }
    }),
  );
  for (const name of names) {
    const standbys = state.standbys.filter((s) => s.asset === name);
    const snapshots = new Map<string, string>();
    if (standbys.length > 0) {
      try {
        for (const p of (await ctx.repository.overview(name)).restorePoints)
          snapshots.set(p.id, p.snapshotTime);
      } catch {
        // The repository's own problems are status's main table; here the age is only unknown.
      }
    }
    const last = state.lastRestores.find((r) => r.asset === name);
    result.set(name, {
      standbys: standbys.map((s) => {
        const snapshotTime = snapshots.get(s.restorePointId) ?? null;
        return {
          target: s.target,
          database: s.database,
          restorePointId: s.restorePointId,
          snapshotTime,
          ageSeconds:
            snapshotTime === null ? null : Math.max(0, (now.getTime() - Date.parse(snapshotTime)) / 1000),
          since: s.at,
          readOnly: true,
        };
      }),
      previousDatabases: state.previous
        .filter((p) => p.asset === name && !gone.has(p.target))
        .map((p) => ({
          database: p.database,
          target: p.target,
          restorePointId: p.restorePointId,
          since: p.at,
          discard: `lifeline restore --discard-previous ${name}`,
        })),
      lastRestore: last
        ? {
            at: last.at,
            mode: last.mode,
            seconds: Math.round((last.restoreSeconds + last.verifySeconds) * 100) / 100,
            restoreSeconds: last.restoreSeconds,
            verifySeconds: last.verifySeconds,
          }
        : null,
    });
  }
  return result;
}
