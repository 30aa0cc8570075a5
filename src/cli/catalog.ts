import { existsSync, rmdirSync, rmSync } from "node:fs";
import path from "node:path";
import { countingGrants, recordPlan, type GateDeps } from "../app/gate.js";
import { currentIdentity } from "../app/identity.js";
import type { Plan } from "../core/plan/plan.js";
import type { BreakGlass } from "../core/approval/approval.js";
import { redactUrl, secrets } from "../core/redact.js";
import { interpolate, type LoadedConfig } from "../config/load.js";
import { notify } from "../notify/webhook.js";
import type { Catalog } from "../ports/catalog.js";
import type { AuditEntry } from "../core/audit/chain.js";
import type { RestoredTables } from "../core/posture/posture.js";
import { recoveryState, type RecoveryState } from "../core/restore/state.js";
import { unfinishedExecutions, type UnfinishedExecution } from "../core/audit/runs.js";
import { restoredInto } from "../app/status.js";
import { systemClock } from "../ports/clock.js";
import { err } from "./io.js";
import { planJson } from "./render/plan.js";
import { installationKey, keyedDigest } from "./wiring.js";

/**
 * A keyed digest of exactly what runs, kept with the run: it binds the record to the very argv or
 * SQL without storing secrets that the display masks. The key is private to this installation.
 */
export function digestOf(loaded: LoadedConfig, text: string): string {
  return `hmac-sha256:${keyedDigest(installationKey(loaded), text)}`;
}

/** The catalog location from lifeline.yaml: a postgres:// URL (interpolated) or a path beside the file. */
export function catalogLocation(loaded: LoadedConfig): string {
  const raw = loaded.config.catalog;
  if (/^postgres(ql)?:\/\//.test(raw) || raw.startsWith("${")) {
    return interpolate(raw, "catalog", process.env);
  }
  return path.resolve(loaded.dir, raw);
}

export async function openCatalogFor(
  loaded: LoadedConfig,
  options: { longRunning?: boolean } = {},
): Promise<Catalog> {
  const { openCatalog } = await import("../catalog/index.js");
  return openCatalog(catalogLocation(loaded), { backgroundCheckpoints: options.longRunning === true });
}

export async function gateDeps(loaded: LoadedConfig, catalog: Catalog): Promise<GateDeps> {
  const webhooks = loaded.config.notifications.webhooks.map((w, i) =>
    interpolate(w, `notifications.webhooks[${i}]`, process.env),
  );
  for (const w of webhooks) secrets.add(w);
  return {
    catalog,
    identity: await currentIdentity(),
    clock: systemClock,
    notify: (message) => notify(webhooks, message),
    warn: (message) => err(`lifeline: warning: ${message}`),
  };
}

/**
 * Runs `fn` on the catalog. A command that fails before recording anything leaves no catalog it
 * created behind (a failed run leaves the repository as it was): a SQLite file that did not exist
 * and holds no audit entry is removed, with its folder if that was made for it.
 */
export async function withCatalog<T>(loaded: LoadedConfig, fn: (catalog: Catalog) => Promise<T>): Promise<T> {
  const location = catalogLocation(loaded);
  const local = !/^postgres(ql)?:\/\//.test(location);
  const dir = path.dirname(location);
  const dirCreated = local && !existsSync(dir);
  const created = local && !existsSync(location);
  const catalog = await openCatalogFor(loaded);
  let succeeded = false;
  try {
    const result = await fn(catalog);
    succeeded = true;
    return result;
  } finally {
    const unused =
      created &&
      !succeeded &&
      (await catalog.auditHead().then(
        (head) => head === null,
        () => false,
      ));
    await catalog.close();
    if (unused) {
      for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(location + suffix, { force: true });
      if (dirCreated) {
        try {
          rmdirSync(dir);
        } catch {
          // not empty: something else is there now
        }
      }
    }
  }
}

/** Active break-glass grants for `status`; silent when there is no catalog yet. */
export async function activeGrants(loaded: LoadedConfig): Promise<BreakGlass[]> {
  const location = catalogLocation(loaded);
  if (!/^postgres/.test(location) && !existsSync(location)) return [];
  try {
    // Only what `run` honours: a grant the audit log does not vouch for is not shown as active.
    return await withCatalog(loaded, (c) => countingGrants(c, new Date()));
  } catch (error) {
    err(
      `lifeline: warning: the catalog ${redactUrl(location)} could not be read: ${error instanceof Error ? error.message : String(error)}`,
    );
    return [];
  }
}

/**
 * `plan` records the plan it shows when it asks for an approval, so that the approver's path from
 * its output works (plan → approve → run); read-only for the database, one catalog row and its
 * audit entry. Without a lifeline.yaml there is no catalog: the plan then says how to get one
 * instead of naming an approve command that cannot work. Returns the plan to print.
 */
export async function recordShownPlan(loaded: LoadedConfig | null, plan: Plan): Promise<Plan> {
  const approvals = plan.requirements.find((r) => r.kind === "approvals" && !r.met);
  if (!approvals) return plan;
  const instead = (why: string, fix: string): Plan => ({
    ...plan,
    requirements: plan.requirements.map((r) =>
      r === approvals ? { ...r, detail: `${r.detail}; ${why}`, fix } : r,
    ),
  });
  if (!loaded) {
    return instead(
      "there is no lifeline.yaml, so no catalog to record the plan and its approvals in",
      "write a lifeline.yaml (lifeline init, or a catalog: and the assets' kubernetes: bindings), then plan again: the plan is recorded and another person runs lifeline approve <plan id>",
    );
  }
  try {
    const identity = await currentIdentity();
    await withCatalog(loaded, (catalog) =>
      recordPlan(
        { catalog, identity, clock: systemClock, notify: async () => [], warn: () => undefined },
        plan,
        planJson(plan),
      ),
    );
    return plan;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    err(`lifeline: warning: the plan could not be recorded for approval: ${message}`);
    return instead(
      "the plan could not be recorded in the catalog",
      "make the catalog reachable and plan again, or use lifeline run (it records the plan too); then another person runs lifeline approve <plan id>",
    );
  }
}

const NO_RECOVERY: RecoveryState = { previous: [], standbys: [], lastRestores: [] };

/**
 * What recoveries left (standbys, previous databases, last restores, tables restored) from the
 * audit log; empty when there is no catalog yet. Throws when the catalog cannot be read.
 */
export async function recordedRecoveryState(loaded: LoadedConfig): Promise<RecoveryState> {
  const location = catalogLocation(loaded);
  if (!/^postgres/.test(location) && !existsSync(location)) return NO_RECOVERY;
  const entries = await withCatalog(loaded, async (catalog) => {
    const kinds = await Promise.all(
      (["restore", "standby", "discard"] as const).map((kind) => catalog.audit({ kind })),
    );
    return kinds.flat().sort((a: AuditEntry, b: AuditEntry) => a.seq - b.seq);
  });
  return recoveryState(entries);
}

/**
 * AppContext.restored for a one-shot command: the recovery state is read once, when a plan first
 * asks. A catalog that cannot be read gives none, with a warning (the changes not covered then
 * count a table restored with restore --tables as dropped and created again).
 */
export function recordedRestores(
  loaded: LoadedConfig,
): (asset: string) => Promise<readonly RestoredTables[]> {
  let state: Promise<RecoveryState | null> | undefined;
  return (asset) => {
    state ??= recordedRecoveryState(loaded).catch((error: unknown) => {
      err(
        `lifeline: warning: the catalog ${redactUrl(catalogLocation(loaded))} could not be read, so tables put back with restore --tables count as changed since the restore point: ${error instanceof Error ? error.message : String(error)}`,
      );
      return null;
    });
    return restoredInto(state, asset);
  };
}

/** How far back `status` looks for executions that started and never recorded an outcome. */
export const UNFINISHED_WINDOW_DAYS = 7;

/** An execution that started and never recorded an outcome, with what it ran and on what. */
export interface UnfinishedRun extends UnfinishedExecution {
  planId: string;
  asset: string | null;
  /** The command or SQL as its plan shows it (secrets masked). */
  command: string;
}

/**
 * The executions started in the last UNFINISHED_WINDOW_DAYS days that recorded no outcome (a
 * `lifeline run` or `k8s protect --undo` killed, or still running), in chain order; none without a
 * catalog. Only the `run` entries of the window are read, not the whole log. Throws when the
 * catalog cannot be read.
 */
export async function recordedUnfinishedRuns(loaded: LoadedConfig, now: Date): Promise<UnfinishedRun[]> {
  const location = catalogLocation(loaded);
  if (!/^postgres/.test(location) && !existsSync(location)) return [];
  const since = new Date(now.getTime() - UNFINISHED_WINDOW_DAYS * 24 * 3600 * 1000).toISOString();
  const runs = await withCatalog(loaded, (catalog) => catalog.audit({ kind: "run", since }));
  const byPlan = new Map<string, AuditEntry[]>();
  for (const entry of runs) {
    if (entry.planId === null) continue;
    byPlan.set(entry.planId, [...(byPlan.get(entry.planId) ?? []), entry]);
  }
  const bySeq = new Map(runs.map((e) => [e.seq, e]));
  return [...byPlan.values()]
    .flatMap((entries) => unfinishedExecutions(entries))
    .sort((a, b) => a.seq - b.seq)
    .map((u) => {
      const entry = bySeq.get(u.seq) as AuditEntry;
      const command = entry.data.command;
      return {
        ...u,
        planId: entry.planId ?? "",
        asset: entry.asset,
        command: typeof command === "string" ? command : "",
      };
    });
}
