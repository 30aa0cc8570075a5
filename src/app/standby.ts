/**
 * `lifeline standby`: a read-only copy of the newest verified restore point that dependents can read
 * from while the asset is being recovered. Not gated (it creates a copy, or replaces lifeline's own
 * copy), but every attempt that reaches a target is recorded in the audit log (kind "standby").
 */
import { LifelineError, isLifelineError, type ErrorCode } from "../core/errors.js";
import { withoutPassword } from "../core/redact.js";
import type { Manifest } from "../core/restore-point/restore-point.js";
import {
  SYSTEM_DATABASES,
  refuseDatabaseName,
  type StandbyAudit,
  type StandbyResult,
} from "../core/restore/restore.js";
import { recoveryState, type Standby } from "../core/restore/state.js";
import type { ResolvedAsset } from "../config/load.js";
import type { DatabaseState, Recovery, Target } from "../ports/engine.js";
import type { LocalArtifacts } from "../ports/repository.js";
import type { AppContext } from "./context.js";
import { auditInput, type GateDeps } from "./gate.js";
import { recoverDatabase, repairInterruptedSwaps } from "./recover-database.js";
import { isAssetDatabase, withDatabaseName } from "./recovery-target.js";
import { assetPosture, damagedInUse } from "./status.js";

export interface StandbyRequest {
  asset: ResolvedAsset;
  /** --to: where the standby is (or is to be). Null only with refresh: the recorded standby. */
  to: string | null;
  /** --refresh: replace the recorded standby, only with a newer verified restore point. */
  refresh: boolean;
  jobs: number;
}

export interface StandbyOutcome {
  standby: StandbyResult;
  /** The connection URL dependents use: the standby's, its password masked (as restore shows its target). */
  url: string;
  /** Snapshot time of the restore point it serves (its age is the data dependents do not see). */
  snapshotTime: string | null;
  ageSeconds: number | null;
}

export { withoutPassword };

interface Endpoint {
  host: string;
  port: string;
  user: string;
  database: string;
}

function endpoint(url: string): Endpoint | null {
  try {
    const u = new URL(url);
    const host = u.hostname.toLowerCase();
    return {
      host: host === "localhost" ? "127.0.0.1" : host,
      port: u.port || "5432",
      user: decodeURIComponent(u.username),
      database: decodeURIComponent(u.pathname.replace(/^\//, "")),
    };
  } catch {
    return null;
  }
}

/** Same server and database (user and password aside): the URLs name one database. */
export function sameDatabase(a: string, b: string): boolean {
  const x = endpoint(a);
  const y = endpoint(b);
  return x !== null && y !== null && x.host === y.host && x.port === y.port && x.database === y.database;
}

export function databaseOf(url: string): string {
  return endpoint(url)?.database ?? "";
}

/**
 * The URL to reach a recorded standby (recorded without password): the asset's password when the
 * standby is on the asset's server with the asset's user; otherwise none, and the PostgreSQL client
 * finds it as libpq does (PGPASSWORD, ~/.pgpass) — or the person gives --to again.
 */
export function recordedStandbyUrl(recorded: string, assetUrl: string): string {
  try {
    const target = new URL(withoutPassword(recorded));
    const asset = new URL(assetUrl);
    const r = endpoint(target.toString());
    const a = endpoint(asset.toString());
    if (r && a && r.host === a.host && r.port === a.port && r.user === a.user && asset.password) {
      target.password = asset.password;
    }
    return target.toString();
  } catch {
    return recorded;
  }
}

function standbyError(code: ErrorCode, message: string, fix: string, kind: LifelineError["kind"] = "usage") {
  return new LifelineError({ code, kind, message, fix });
}

/** The asset's recorded standby this request is about, and the target to restore into. */
function chooseTarget(
  request: StandbyRequest,
  recorded: readonly Standby[],
  engineTarget: (url: string) => Target,
): { target: Target; current: Standby | null } {
  const name = request.asset.name;
  const example = `lifeline standby ${name} --to postgres://user@host:5432/${databaseOf(request.asset.url) || name}_standby`;
  if (request.to !== null) {
    const target = engineTarget(request.to);
    const current = recorded.find((s) => sameDatabase(s.target, target.url)) ?? null;
    if (request.refresh && !current) {
      throw standbyError(
        "NO_STANDBY",
        `${target.display} is not a standby of ${name}${recorded.length > 0 ? ` (its standbys: ${recorded.map((s) => s.target).join(", ")})` : ""}`,
        recorded.length > 0
          ? `refresh one of them: lifeline standby ${name} --refresh --to <its URL>`
          : `create one first: ${example}`,
      );
    }
    return { target, current };
  }
  if (!request.refresh) {
    throw standbyError(
      "USAGE",
      "no standby database given",
      `name where the standby goes: ${example} (or refresh the recorded one: lifeline standby ${name} --refresh)`,
    );
  }
  const [only, ...more] = recorded;
  if (!only) {
    throw standbyError("NO_STANDBY", `${name} has no standby to refresh`, `create one first: ${example}`);
  }
  if (more.length > 0) {
    throw standbyError(
      "USAGE",
      `${name} has ${recorded.length} standbys: ${recorded.map((s) => s.target).join(", ")}`,
      `say which one to refresh: lifeline standby ${name} --refresh --to <its URL>`,
    );
  }
  return { target: engineTarget(recordedStandbyUrl(only.target, request.asset.url)), current: only };
}

function ageOf(now: Date, snapshotTime: string | null): number | null {
  return snapshotTime === null ? null : Math.max(0, (now.getTime() - Date.parse(snapshotTime)) / 1000);
}

/** The newest verified restore point, or an error that says how to get one. */
async function newestVerified(ctx: AppContext, asset: ResolvedAsset): Promise<Manifest> {
  const { posture, verified } = await assetPosture(ctx, asset, async () => ({
    error: "not read by standby",
  }));
  // The newest verified restore point is damaged: a standby must not quietly serve an older one.
  const damaged = damagedInUse(asset.name, posture);
  if (damaged) throw damaged;
  if (verified) return verified;
  if (!posture.newestRestorePoint) {
    throw standbyError(
      "NO_RESTORE_POINT",
      `${asset.name} has no restore point for a standby to serve`,
      `take one and prove it restores: lifeline backup ${asset.name} && lifeline drill ${asset.name}`,
      "runtime",
    );
  }
  throw standbyError(
    "RESTORE_UNVERIFIED",
    `${asset.name} has no verified restore point: a standby serves only data a drill proved restorable`,
    `prove the newest one restores: lifeline drill ${asset.name} (then run this again)`,
    // Like restore's RESTORE_UNVERIFIED: a precondition the user meets first (exit 2).
    "usage",
  );
}

/**
 * A refresh drops the standby as it is: only while it is what lifeline left (read-only, nothing
 * written into it, the same objects). Someone who made it writable and wrote into it during an
 * incident keeps those writes: the refresh refuses and names what changed.
 */
function refuseWrittenStandby(asset: string, url: string, current: Standby, state: DatabaseState): void {
  const changed: string[] = [];
  if (!state.readOnly)
    changed.push("it is no longer read-only (someone changed default_transaction_read_only)");
  if (
    current.tableWrites !== undefined &&
    current.tableWrites !== null &&
    state.tableWrites !== undefined &&
    state.tableWrites !== null &&
    BigInt(state.tableWrites) > BigInt(current.tableWrites)
  )
    changed.push(
      `${(BigInt(state.tableWrites) - BigInt(current.tableWrites)).toString()} row(s) were inserted, updated or deleted in it since lifeline created it`,
    );
  if (current.userObjects !== undefined && state.userObjects !== current.userObjects)
    changed.push(
      `it holds ${state.userObjects} user objects, lifeline left ${current.userObjects} (objects were created or dropped)`,
    );
  if (changed.length === 0) return;
  throw new LifelineError({
    code: "STANDBY_WRITTEN",
    kind: "usage",
    message: `${url} is not the standby lifeline left (${current.restorePointId}): ${changed.join("; ")}; a refresh would drop what was written there, which is in no restore point; nothing was touched`,
    details: state.sample.length > 0 ? [`it holds e.g. ${state.sample.join(", ")}`] : [],
    fix: `keep what was written first (pg_dump it, or use it: it is no longer a standby); then replace it through the gate: lifeline restore ${asset} --to ${url} --replace, or drop it yourself (DROP DATABASE) and run lifeline standby ${asset} --to ${url}; if nothing was written and only the setting changed: ALTER DATABASE … SET default_transaction_read_only = on, then refresh`,
  });
}

/** "N object(s) (a, b, …)": what a database that is not empty holds, as the refusals say it. */
function objectsHeld(state: { userObjects: number; sample: readonly string[] }): string {
  const n = state.userObjects;
  return `${n} object${n === 1 ? "" : "s"} (${state.sample.join(", ")}${n > state.sample.length ? ", …" : ""})`;
}

/**
 * Under the recovery lock, right before the swap drops what `url` holds: it must still be the standby
 * lifeline left (`current`), or hold no user object (a new standby into an absent or empty database).
 */
async function stillStandbyOrEmpty(
  recovery: Recovery,
  target: Target,
  asset: string,
  current: Standby | null,
): Promise<void> {
  const url = target.display;
  const now = await recovery.inspect(target);
  if (!now.exists) return;
  if (current) {
    refuseWrittenStandby(asset, url, current, now);
    return;
  }
  if (now.userObjects === 0) return;
  throw new LifelineError({
    code: "RESTORE_TARGET_NOT_EMPTY",
    kind: "usage",
    message: `${url} is no longer empty: it holds ${objectsHeld(now)} put there since it was inspected (another restore or a client); a standby never replaces someone's data: it was not replaced, the restored copy was removed`,
    fix: `give the standby a database that does not exist yet or is empty; keep ${url} for what was put there`,
  });
}

/**
 * Creates or refreshes the asset's standby: the newest verified restore point, its artifacts
 * rechecked, restored beside the standby database, verified, marked read-only and swapped in by
 * rename (readers never see a half-restored database; a refresh that fails leaves the previous
 * standby serving). The target must not exist, hold no user object, or be this asset's recorded
 * standby: a standby never replaces someone's data.
 */
export async function standby(
  ctx: AppContext,
  deps: GateDeps,
  request: StandbyRequest,
): Promise<StandbyOutcome> {
  const { asset } = request;
  const engine = ctx.engine(asset.engine);
  const recovery: Recovery | undefined = engine.recovery;
  if (!recovery) {
    throw standbyError(
      "UNSUPPORTED",
      `the ${engine.name} engine cannot restore into a live server`,
      "standby needs an engine with recovery support (postgres)",
      "runtime",
    );
  }
  const entries = await deps.catalog.audit({ asset: asset.name, kind: "standby" });
  const recorded = recoveryState(entries).standbys.filter((s) => s.asset === asset.name);
  const { target, current } = chooseTarget(request, recorded, (url) => engine.target(url));
  // Shown and recorded as restore shows and records its target: the password masked (redactUrl).
  const url = target.display;
  const database = databaseOf(target.url);
  refuseDatabaseName(database, url, withDatabaseName(url, `${databaseOf(asset.url) || asset.name}_standby`));
  if (sameDatabase(target.url, asset.url)) {
    throw standbyError(
      "RESTORE_TARGET_IS_ASSET",
      `${url} is ${asset.name}'s own database: a standby is a copy beside it`,
      `give the standby a database of its own, e.g. --to ${url.replace(/\/[^/?]*(\?|$)/, `/${database}_standby$1`)}`,
    );
  }

  if (SYSTEM_DATABASES.has(database)) {
    // They hold no user object, but the server and every client rely on them: never swapped away.
    throw standbyError(
      "USAGE",
      `${database} is one of the server's own databases (${[...SYSTEM_DATABASES].join(", ")}): it is never replaced by a standby`,
      `give the standby a database of its own, e.g. --to ${url.replace(/\/[^/?]*(\?|$)/, `/${databaseOf(asset.url) || asset.name}_standby$1`)}`,
    );
  }

  // Before anything connects to it: a swap a killed lifeline left unfinished is put right.
  await repairInterruptedSwaps(ctx, engine, [target]);

  ctx.progress.phase("finding the newest verified restore point");
  const manifest = await newestVerified(ctx, asset);
  const now = ctx.clock.now();

  if (current && current.restorePointId >= manifest.id) {
    const state = await recovery.inspect(target);
    if (state.exists) {
      if (current.restorePointId > manifest.id) {
        ctx.progress.warn(
          `the standby serves restore point ${current.restorePointId}, which is no longer the newest verified one (${manifest.id}): its last drill did not pass`,
        );
      }
      if (!state.readOnly) {
        ctx.progress.warn(`${url} is no longer read-only: someone changed default_transaction_read_only`);
      }
      const served =
        current.restorePointId === manifest.id
          ? manifest
          : await ctx.repository.getRestorePoint(asset.name, current.restorePointId).catch(() => undefined);
      const snapshotTime = served?.snapshotTime ?? null;
      return {
        standby: {
          asset: asset.name,
          restorePointId: current.restorePointId,
          target: url,
          database,
          replaced: null,
          tables: served?.fingerprints.tables.length ?? 0,
          rows: served?.fingerprints.tables.reduce((s, t) => s + t.rows, 0) ?? 0,
          restoreSeconds: 0,
          verifySeconds: 0,
          verified: true,
          unchanged: true,
          swap: null,
        },
        url,
        snapshotTime,
        ageSeconds: ageOf(now, snapshotTime),
      };
    }
    ctx.progress.warn(`the standby database ${url} no longer exists: it is created again`);
  }

  const replaced = current?.restorePointId ?? null;
  const record = async (
    fields: Omit<StandbyAudit, "restorePointId" | "target" | "database" | "replaced">,
  ) => {
    const data: StandbyAudit = { restorePointId: manifest.id, target: url, database, replaced, ...fields };
    await deps.catalog.appendAudit(
      auditInput(deps, "standby", { asset: asset.name, data: data as unknown as Record<string, unknown> }),
    );
  };
  const failed = async (error: unknown, restoreSeconds = 0, verifySeconds = 0): Promise<never> => {
    const message = error instanceof Error ? error.message : String(error);
    try {
      await record({
        result: "failed",
        restoreSeconds,
        verifySeconds,
        verified: false,
        error: isLifelineError(error) ? `${error.code}: ${message}` : message,
      });
    } catch (auditError) {
      ctx.progress.warn(
        `the failed standby could not be recorded in the audit log: ${auditError instanceof Error ? auditError.message : String(auditError)}`,
      );
    }
    throw error;
  };

  const standing = current ? `; the standby at ${url} still serves ${current.restorePointId}` : "";
  // The artifacts as local files (downloaded from an object store), checked; released once restored.
  let local: LocalArtifacts | undefined;
  let writes: string | null = null;
  try {
    ctx.progress.phase(`checking the checksums of ${manifest.artifacts.length} artifacts`);
    local = await ctx.repository.localArtifacts(manifest, { signal: ctx.signal, progress: ctx.progress });
    const findings = local.findings;
    if (findings.length > 0) {
      throw new LifelineError({
        code: "ARTIFACT_CORRUPT",
        kind: "verification",
        message: `restore point ${manifest.id} of ${asset.name} is corrupt: nothing was restored${standing}`,
        details: findings.map((f) => f.message),
        fix: `run \`lifeline check\`; take a new restore point (lifeline backup ${asset.name} && lifeline drill ${asset.name}) and run this again`,
      });
    }

    ctx.progress.phase(`reading ${url}`);
    const state = await recovery.inspect(target);
    // The asset's own database under another URL (localhost for 127.0.0.1, ?sslmode=…).
    if (await isAssetDatabase(recovery, { state, sameUrl: false }, engine.target(asset.url))) {
      throw standbyError(
        "RESTORE_TARGET_IS_ASSET",
        `${url} is ${asset.name}'s own database (the same server and database as the asset's URL, spelt another way): a standby is a copy beside it; nothing was touched`,
        `give the standby a database of its own, e.g. --to ${withDatabaseName(url, `${database}_standby`)}; to replace ${asset.name}'s database from a restore point: lifeline restore ${asset.name} --in-place`,
      );
    }
    if (current && state.exists) refuseWrittenStandby(asset.name, url, current, state);
    if (state.exists && state.userObjects > 0 && !current) {
      throw new LifelineError({
        code: "RESTORE_TARGET_NOT_EMPTY",
        kind: "usage",
        message: `${url} holds ${objectsHeld(state)}: a standby never replaces someone's data`,
        fix: `give a database that does not exist yet or is empty, e.g. --to ${url.replace(/\/[^/?]*(\?|$)/, `/${databaseOf(asset.url) || asset.name}_standby$1`)}`,
      });
    }
    // Compared again inside the swap, once the target's sessions have ended (what is written now).
    writes = state.exists ? await recovery.writes(target).catch(() => null) : null;
  } catch (error) {
    await local?.release();
    return failed(error);
  }

  ctx.progress.phase(
    current
      ? `refreshing the standby from ${current.restorePointId} to ${manifest.id}`
      : `restoring ${manifest.id} beside ${url}`,
  );
  let recovered;
  try {
    recovered = await recoverDatabase(ctx, {
      asset,
      manifest,
      artifacts: local.directory,
      target,
      previous: "drop",
      readOnly: true,
      jobs: request.jobs,
      // The swap drops what the target holds: it must still be what was inspected above (another
      // restore, e.g. --tables --to the same database, may have put tables there since).
      unchanged: {
        writes,
        async check() {
          // Read again: another standby run may have replaced the standby (and recorded it) since.
          const again = await deps.catalog.audit({ asset: asset.name, kind: "standby" });
          const now =
            recoveryState(again).standbys.find(
              (s) => s.asset === asset.name && sameDatabase(s.target, target.url),
            ) ?? null;
          await stillStandbyOrEmpty(recovery, target, asset.name, now);
          // The database checked just now (it may be another refresh's since the reading above) is
          // the one the swap compares with, once its sessions have ended.
          if (JSON.stringify(now) !== JSON.stringify(current))
            this.writes = await recovery.writes(target).catch(() => null);
        },
      },
    });
  } catch (error) {
    if (isLifelineError(error) && current) {
      return failed(
        new LifelineError({
          code: error.code,
          kind: error.kind,
          message: `${error.message}${standing}`,
          details: error.details,
          ...(error.fix === undefined ? {} : { fix: error.fix }),
        }),
      );
    }
    return failed(error);
  } finally {
    await local.release();
  }
  if (!recovered.verified) {
    return failed(
      new LifelineError({
        code: "RESTORE_VERIFY_FAILED",
        kind: "verification",
        message: `the restored copy of ${manifest.id} does not match its manifest: it was dropped${standing || `; ${url} was not created`}`,
        details: recovered.mismatches.slice(0, 20).map((m) => m.message),
        fix: `run \`lifeline drill ${asset.name}\` to see whether the restore point still restores`,
      }),
      recovered.restoreSeconds,
      recovered.verifySeconds,
    );
  }
  // What lifeline leaves: a refresh replaces it only while it is still that (nobody wrote into it).
  const left = await recovery.inspect(target).catch(() => null);
  await record({
    result: "succeeded",
    ...(left?.exists ? { tableWrites: left.tableWrites ?? null, userObjects: left.userObjects } : {}),
    restoreSeconds: recovered.restoreSeconds,
    verifySeconds: recovered.verifySeconds,
    verified: true,
    error: null,
  });
  const done = ctx.clock.now();
  return {
    standby: {
      asset: asset.name,
      restorePointId: manifest.id,
      target: url,
      database,
      replaced,
      tables: recovered.tables.length,
      rows: recovered.rows,
      restoreSeconds: recovered.restoreSeconds,
      verifySeconds: recovered.verifySeconds,
      verified: true,
      unchanged: false,
      swap: recovered.swap,
    },
    url,
    snapshotTime: manifest.snapshotTime,
    ageSeconds: ageOf(done, manifest.snapshotTime),
  };
}

// ───────────────────────────── sending dependents to it ─────────────────────────────

/** The `kubectl patch` that would send an asset's dependents to its standby (printed, never applied). */
export interface ServiceRedirect {
  namespace: string;
  service: string;
  argv: string[];
  /** The command that sends them back to the asset's own pods. */
  undo: string[];
  notes: string[];
}

const IP_ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;

/**
 * The Service dependents reach the asset through: `kubernetes.service` in lifeline.yaml, else the
 * asset URL's host when it is a Service name of the binding's namespace (`<svc>.<ns>`,
 * `<svc>.<ns>.svc`, `<svc>.<ns>.svc.<cluster domain>`).
 */
export function dependentsService(asset: ResolvedAsset, clusterDomain: string): string | null {
  const binding = asset.kubernetes;
  if (!binding) return null;
  if (binding.service) return binding.service;
  let host: string;
  try {
    host = new URL(asset.url).hostname.toLowerCase();
  } catch {
    return null;
  }
  const [service, namespace, ...rest] = host.split(".");
  if (!service || namespace !== binding.namespace) return null;
  const tail = rest.join(".");
  return tail === "" || tail === "svc" || tail === `svc.${clusterDomain}` ? service : null;
}

/**
 * For an asset bound to Kubernetes: the patch that turns the Service its dependents use into an
 * ExternalName pointing at the standby's host. Why ExternalName and not a selector change: the
 * standby is a database reached by URL, not pods of the cluster, so no selector can pick it; an
 * ExternalName Service makes the Service's DNS name a CNAME to the standby's host, and dependents
 * that connect by that name reach the standby without being redeployed or reconfigured. The
 * selector is left in place (an ExternalName Service ignores it), so that sending them back is only
 * `type: ClusterIP` again. Null when the asset is not bound; a reason when no patch can do it.
 */
export function serviceRedirect(
  asset: ResolvedAsset,
  standbyUrl: string,
  clusterDomain: string,
): ServiceRedirect | { unavailable: string } | null {
  const binding = asset.kubernetes;
  if (!binding) return null;
  const service = dependentsService(asset, clusterDomain);
  if (!service) {
    return {
      unavailable: `lifeline.yaml does not say which Service ${asset.name}'s dependents connect through: add \`service: <name>\` under assets.${asset.name}.kubernetes`,
    };
  }
  const standby = endpoint(standbyUrl);
  const own = endpoint(asset.url);
  if (!standby) return { unavailable: "the standby's URL has no host" };
  const host = new URL(standbyUrl).hostname.toLowerCase();
  if (IP_ADDRESS.test(host) || host === "localhost") {
    return {
      unavailable: `the standby is reached at ${host === "localhost" ? "localhost" : `an IP address (${host})`}; an ExternalName Service needs a DNS name the cluster resolves: give the standby's server one, or point Service ${service} at it with a selector-less Service and an EndpointSlice`,
    };
  }
  const context = binding.context ? ["--context", binding.context] : [];
  const patch = JSON.stringify({ spec: { type: "ExternalName", externalName: host } });
  const undo = JSON.stringify({ spec: { type: "ClusterIP", externalName: null } });
  const base = [
    "kubectl",
    "patch",
    "service",
    service,
    "-n",
    binding.namespace,
    ...context,
    "--type",
    "merge",
  ];
  const notes = [
    `dependents keep the port they connect to; the standby listens on ${standby.port}`,
    "the standby is read-only: dependents that write get errors (SQLSTATE 25006) instead of lost writes",
  ];
  if (own && own.database !== standby.database) {
    notes.push(
      `dependents ask for database ${own.database}; the standby's is ${standby.database}: they reach it only if they are told its name too (or the standby is given the name ${own.database} on its server)`,
    );
  }
  return {
    namespace: binding.namespace,
    service,
    argv: [...base, "-p", patch],
    undo: [...base, "-p", undo],
    notes,
  };
}
